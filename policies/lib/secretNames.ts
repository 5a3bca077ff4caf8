/**
 * Recognising secrets in plain values by their names and shapes. Pulumi
 * secrets reach a policy already decrypted, so a policy cannot tell a secret
 * by its wrapper: a name like POSTGRES_PASSWORD, or a value that carries a
 * password in a URL or a private key, is what gives it away. No Pulumi imports.
 */

/** Words that name a secret wherever they appear in a name (PGPASSWORD, DB_PASSWORD, jwtSecret). */
const SECRET_WORDS = /PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|CREDENTIAL|APIKEY|PRIVATEKEY/;
/** `KEY` is a secret as the last word (API_KEY, SIGNING_KEY, tls.key), not as a prefix (KEYCLOAK_URL). */
const KEY_WORD = "KEY";
/**
 * A name ending in one of these points at a secret or describes it without
 * holding it: POSTGRES_PASSWORD_FILE, TOKEN_TTL_SECONDS, SECRET_NAME,
 * AWS_ACCESS_KEY_ID (an identifier, not the secret half).
 */
const NON_SECRET_LAST_WORDS = new Set([
    "FILE", "FILES", "PATH", "DIR", "ARN", "ID", "NAME", "REF", "URL", "URI", "ENDPOINT", "HOST",
    "TTL", "SECONDS", "HOURS", "MINUTES", "EXPIRY", "LENGTH", "HEADER", "TYPE", "KIND", "ISSUER", "AUDIENCE",
    // DBAAS_SECRETS_PROVIDER=awskms://alias/...: which service keeps the secrets, not one of them.
    "PROVIDER",
]);

/** Upper-case words of a name: `jwtSecret_FILE` -> ["JWT", "SECRET", "FILE"], `tls.key` -> ["TLS", "KEY"]. */
export function nameWords(name: string): string[] {
    return name
        .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
        .split(/[^A-Za-z0-9]+/)
        .filter((w) => w !== "")
        .map((w) => w.toUpperCase());
}

/** True when a variable or key of this name would hold a secret value. */
export function looksLikeSecretName(name: string): boolean {
    const words = nameWords(name);
    const last = words[words.length - 1];
    if (last === undefined || NON_SECRET_LAST_WORDS.has(last)) return false;
    if (last === KEY_WORD) return true;
    return words.some((w) => SECRET_WORDS.test(w)) || SECRET_WORDS.test(words.join(""));
}

/** `scheme://user:password@host`: a URL that carries a password. */
const URL_WITH_PASSWORD = /\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@]*:[^\s/@]+@/i;
const PRIVATE_KEY_PEM = /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/;

/** Why a value is itself a secret regardless of its name, or undefined. Never repeats the value. */
export function secretValueReason(value: string): string | undefined {
    if (URL_WITH_PASSWORD.test(value)) return "a URL with a password in it";
    if (PRIVATE_KEY_PEM.test(value)) return "a PEM private key";
    return undefined;
}
