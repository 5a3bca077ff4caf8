/**
 * Where the superuser password of one database's stack comes from before an
 * `up`: the program reads it from the secret stack config key
 * `dbaas-db:password` and never makes one. Pure apart from
 * `generatePassword` drawing random bytes; no Pulumi imports.
 */
import { randomBytes } from "node:crypto";

/** What to do about the password config before an `up`. */
export type PasswordPlan =
    /** The stack settings already hold the key: leave it alone (it may have been rotated). */
    | { readonly action: "keep" }
    /** No config, but the stack already runs with this password (its work dir was lost): set it back. */
    | { readonly action: "reuse"; readonly password: string }
    /** A new stack: set a freshly generated password. */
    | { readonly action: "generate"; readonly password: string };

/**
 * Decides keep / reuse / generate. `previousPassword` is the stack's
 * `password` output (read only when `configured` is false); anything but a
 * non-empty string counts as none. `generate` is called only when needed.
 */
export function planPassword(configured: boolean, previousPassword: unknown, generate: () => string = generatePassword): PasswordPlan {
    if (configured) return { action: "keep" };
    if (typeof previousPassword === "string" && previousPassword.length > 0) return { action: "reuse", password: previousPassword };
    return { action: "generate", password: generate() };
}

/** 32 url-safe characters (A-Z a-z 0-9 - _) from 24 random bytes: nothing to quote in a URI, a shell or YAML. */
export function generatePassword(bytes: (n: number) => Buffer = randomBytes): string {
    return bytes(24).toString("base64url");
}

/**
 * The error of a failed `pulumi config set` with the password cut out: the
 * SDK's error text repeats the command line, which carries the value. The
 * original error is dropped (not kept as `cause`), so no logger can reach it.
 */
export function withoutSecret(error: unknown, secret: string): Error {
    const text = error instanceof Error ? error.message : String(error);
    const scrubbed = new Error(secret.length === 0 ? text : text.split(secret).join("***"));
    scrubbed.name = error instanceof Error ? error.name : "Error";
    return scrubbed;
}
