/**
 * The defaults of a local `npm start` (no DATABASE_URL: the admin database is
 * the embedded one), created on first start under the data directory and
 * reused afterwards, so a fresh clone runs with nothing else set:
 * - the data directory itself, private (0700; 0711 when running as root, so
 *   the embedded server's `postgres` user can reach its own folder);
 * - a generated passphrase file for the engine's secrets (0600), unless
 *   DBAAS_PULUMI_PASSPHRASE_FILE or DBAAS_SECRETS_PROVIDER names another;
 * - the engine's work directories and file state backend (`stacks/`, 0700);
 * - a tokens file with one admin token, printed once (only its hash is kept).
 * A deployed API (DATABASE_URL set) gets none of this: there a missing secret
 * must stop it or show in /readyz, never be replaced by a new one.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { generateToken, tokenLine } from "./http/auth";

export interface LocalDefaults {
    /** Variables to add to the environment the engine is configured from. */
    readonly env: Readonly<Record<string, string>>;
    /** The admin token created on this start (print it once); undefined when the tokens file existed. */
    readonly createdToken?: string;
    /** Files and folders created on this start, for the log. */
    readonly created: readonly string[];
}

export const LOCAL_ADMIN_SUBJECT = "admin";

/** Creates `dir` with `mode`, or tightens an existing one to it. */
function privateDir(dir: string, mode: number, created: string[]): void {
    if (!fs.existsSync(dir)) {
        fs.mkdirSync(dir, { recursive: true, mode });
        created.push(dir);
    }
    fs.chmodSync(dir, mode);
}

/** Writes `content` to a new file readable by its owner only; false when the file already exists (it is kept as it is). */
function createPrivateFile(file: string, content: string): boolean {
    try {
        fs.writeFileSync(file, content, { mode: 0o600, flag: "wx" });
        return true;
    } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
        throw e;
    }
}

/**
 * Creates what is missing (never overwrites a file) and returns the engine
 * settings that point at it. `tokensFile` is the API config's (DBAAS_TOKENS_FILE
 * or `<dataDir>/tokens`).
 */
export function ensureLocalDefaults(
    env: Readonly<Record<string, string | undefined>>,
    dataDir: string,
    tokensFile: string,
    isRoot: boolean = process.getuid?.() === 0,
): LocalDefaults {
    const created: string[] = [];
    const set = (k: string) => env[k] !== undefined && env[k] !== "";
    privateDir(dataDir, isRoot ? 0o711 : 0o700, created);
    const extra: Record<string, string> = {};
    if (!set("DBAAS_DATA_DIR")) extra.DBAAS_DATA_DIR = dataDir;
    if (!set("DBAAS_STATE_ROOT")) privateDir(path.join(dataDir, "stacks"), 0o700, created);
    if (!set("DBAAS_PULUMI_PASSPHRASE_FILE") && !set("DBAAS_SECRETS_PROVIDER")) {
        const file = path.join(dataDir, "pulumi-passphrase");
        if (createPrivateFile(file, `${randomBytes(32).toString("base64url")}\n`)) created.push(file);
        extra.DBAAS_PULUMI_PASSPHRASE_FILE = file;
    }
    let createdToken: string | undefined;
    const token = generateToken();
    fs.mkdirSync(path.dirname(tokensFile), { recursive: true, mode: 0o700 });
    const header = "# dbaas API tokens, one per line: <subject> <role> <sha256 of the token>; add lines with `npm run token -- <subject> <role>`\n";
    if (createPrivateFile(tokensFile, `${header}${tokenLine(LOCAL_ADMIN_SUBJECT, "admin", token)}\n`)) {
        created.push(tokensFile);
        createdToken = token;
    }
    return { env: extra, created, ...(createdToken === undefined ? {} : { createdToken }) };
}

/** What the first start prints to the terminal, once: the token and how to make more. */
export function firstStartBanner(token: string, url: string, tokensFile: string): string {
    return [
        "",
        "  dbaas: first start; an admin token was created (it is shown only now, the tokens file keeps its hash):",
        "",
        `      ${token}`,
        "",
        `  Open ${url}/ and sign in with it, or: curl -H "Authorization: Bearer <token>" ${url}/databases`,
        `  More tokens: npm run token -- <subject> <admin|user>   (then add the printed line to ${tokensFile})`,
        "",
    ].join("\n");
}
