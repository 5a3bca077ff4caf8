/**
 * Bearer tokens. Tokens are never stored: the tokens file holds one line per
 * token, `<subject> <role> <sha256-hex of the token>`, and a presented token
 * is hashed and compared in constant time against every line. The file is
 * re-read when it changes, so adding a token needs no restart.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import * as fs from "node:fs";
import { ROLES, type Role } from "../../contracts/api";

export interface Principal {
    readonly subject: string;
    readonly role: Role;
}

interface TokenEntry extends Principal {
    readonly digest: Buffer;
}

const SUBJECT = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$/;
const HEX_DIGEST = /^[0-9a-f]{64}$/;

/** Hex SHA-256 of a token, as written in the tokens file. */
export function hashToken(token: string): string {
    return createHash("sha256").update(token, "utf8").digest("hex");
}

/** A new random token (256 bits) with a recognisable prefix. */
export function generateToken(): string {
    return `dbaas_${randomBytes(32).toString("base64url")}`;
}

/** The tokens-file line for a token. */
export function tokenLine(subject: string, role: Role, token: string): string {
    if (!SUBJECT.test(subject)) throw new Error(`subject ${JSON.stringify(subject)}: expected letters, digits, '_', '.', '@', '-' (at most 128, starting with a letter or digit)`);
    return `${subject} ${role} ${hashToken(token)}`;
}

/** Parses the tokens file; blank lines and `#` comments are ignored. Throws naming the line. */
export function parseTokensFile(text: string): TokenEntry[] {
    const entries: TokenEntry[] = [];
    text.split(/\r?\n/).forEach((raw, i) => {
        const line = raw.trim();
        if (line === "" || line.startsWith("#")) return;
        const parts = line.split(/\s+/);
        const [subject = "", role = "", digest = ""] = parts;
        const where = `tokens file line ${i + 1}`;
        if (parts.length !== 3) throw new Error(`${where}: expected "<subject> <role> <sha256-hex>" (3 fields), got ${parts.length}`);
        if (!SUBJECT.test(subject)) throw new Error(`${where}: subject expected letters, digits, '_', '.', '@', '-'`);
        if (!(ROLES as readonly string[]).includes(role)) throw new Error(`${where}: role expected "admin" or "user"`);
        if (!HEX_DIGEST.test(digest)) throw new Error(`${where}: expected a 64-digit lowercase hex SHA-256 (npm run token -- <subject> <role> prints one)`);
        entries.push({ subject, role: role as Role, digest: Buffer.from(digest, "hex") });
    });
    return entries;
}

/** Finds the principal of a token; every entry is compared, so timing does not reveal which one matched. */
export function verifyToken(entries: readonly TokenEntry[], token: string): Principal | undefined {
    const presented = createHash("sha256").update(token, "utf8").digest();
    let found: Principal | undefined;
    for (const e of entries) {
        // Both are 32-byte digests, so timingSafeEqual's equal-length rule always holds.
        if (timingSafeEqual(presented, e.digest) && found === undefined) found = { subject: e.subject, role: e.role };
    }
    return found;
}

/** The token of an `Authorization: Bearer <token>` header, or why there is none. */
export function bearerToken(header: string | undefined): { token: string } | { error: string } {
    if (header === undefined || header === "") return { error: "no Authorization header; send Authorization: Bearer <token>" };
    const m = /^Bearer ([A-Za-z0-9._~+/=-]{1,512})$/.exec(header);
    if (!m?.[1]) return { error: "the Authorization header is not of the form Bearer <token>" };
    return { token: m[1] };
}

export interface TokenSource {
    verify(token: string): Principal | undefined;
}

/** Tokens read from a file, re-read at most once per second when its mtime changes. */
export class TokensFile implements TokenSource {
    #entries: TokenEntry[] = [];
    #mtimeMs = -1;
    #checkedAt = 0;

    constructor(readonly path: string, private readonly onProblem: (message: string) => void = () => undefined) {
        this.#reload();
    }

    verify(token: string): Principal | undefined {
        const now = Date.now();
        if (now - this.#checkedAt > 1000) this.#reload();
        return verifyToken(this.#entries, token);
    }

    get size(): number {
        return this.#entries.length;
    }

    #reload(): void {
        this.#checkedAt = Date.now();
        let stat: fs.Stats;
        try {
            stat = fs.statSync(this.path);
        } catch {
            if (this.#mtimeMs !== 0) this.onProblem(`tokens file ${this.path} does not exist: every request needing a token answers 401 (create one with npm run token -- <subject> <role>)`);
            this.#entries = [];
            this.#mtimeMs = 0;
            return;
        }
        if (stat.mtimeMs === this.#mtimeMs) return;
        this.#mtimeMs = stat.mtimeMs;
        try {
            this.#entries = parseTokensFile(fs.readFileSync(this.path, "utf8"));
        } catch (e) {
            // Keep the previous tokens: a half-edited file must not lock everyone out.
            this.onProblem(`${this.path}: ${(e as Error).message}; keeping the previous ${this.#entries.length} token(s)`);
        }
    }
}

/** Fixed tokens, for tests and the benchmark. */
export class StaticTokens implements TokenSource {
    readonly #entries: TokenEntry[];
    constructor(lines: string) {
        this.#entries = parseTokensFile(lines);
    }
    verify(token: string): Principal | undefined {
        return verifyToken(this.#entries, token);
    }
}
