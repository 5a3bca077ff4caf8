/**
 * First start on a fresh machine (pure file work, no servers): the local
 * defaults are created private, the admin token is returned once, and a second
 * start reuses every file as it is.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseTokensFile, verifyToken } from "../../api/http/auth";
import { ensureLocalDefaults, firstStartBanner } from "../../api/localDefaults";

const dirs: string[] = [];
function tmpDir(): string {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-local-"));
    dirs.push(d);
    return d;
}
afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
const mode = (p: string) => fs.statSync(p).mode & 0o777;

describe("ensureLocalDefaults", () => {
    it.each([[false, 0o700], [true, 0o711]])("creates private files on first start (root: %s) and returns the admin token once", (isRoot, dirMode) => {
        const data = path.join(tmpDir(), "data");
        const tokens = path.join(data, "tokens");
        const first = ensureLocalDefaults({}, data, tokens, isRoot);
        expect(mode(data)).toBe(dirMode);
        expect(mode(path.join(data, "stacks"))).toBe(0o700);
        expect(mode(path.join(data, "pulumi-passphrase"))).toBe(0o600);
        expect(mode(tokens)).toBe(0o600);
        expect(first.env).toEqual({ DBAAS_DATA_DIR: data, DBAAS_PULUMI_PASSPHRASE_FILE: path.join(data, "pulumi-passphrase") });
        expect(fs.readFileSync(path.join(data, "pulumi-passphrase"), "utf8").trim()).toMatch(/^[A-Za-z0-9_-]{43}$/);
        expect(first.createdToken).toMatch(/^dbaas_/);
        // Only the hash is kept, and it is an admin's.
        const text = fs.readFileSync(tokens, "utf8");
        expect(text).not.toContain(first.createdToken);
        expect(verifyToken(parseTokensFile(text), first.createdToken!)).toEqual({ subject: "admin", role: "admin" });

        const passphrase = fs.readFileSync(path.join(data, "pulumi-passphrase"), "utf8");
        const second = ensureLocalDefaults({}, data, tokens, isRoot);
        expect(second.createdToken).toBeUndefined();
        expect(second.created).toEqual([]);
        expect(fs.readFileSync(path.join(data, "pulumi-passphrase"), "utf8")).toBe(passphrase);
        expect(fs.readFileSync(tokens, "utf8")).toBe(text);
    });

    it("tightens a data directory that exists with wider permissions", () => {
        const data = tmpDir();
        fs.chmodSync(data, 0o777);
        ensureLocalDefaults({}, data, path.join(data, "tokens"), false);
        expect(mode(data)).toBe(0o700);
    });

    it("keeps a tokens file the user made and creates no token", () => {
        const data = tmpDir();
        const tokens = path.join(data, "my-tokens");
        fs.writeFileSync(tokens, "# mine\n");
        const r = ensureLocalDefaults({}, data, tokens, false);
        expect(r.createdToken).toBeUndefined();
        expect(fs.readFileSync(tokens, "utf8")).toBe("# mine\n");
    });

    it("generates no passphrase when the engine's secrets are configured otherwise", () => {
        for (const env of [{ DBAAS_PULUMI_PASSPHRASE_FILE: "/run/secrets/p" }, { DBAAS_SECRETS_PROVIDER: "awskms://alias/dbaas" }]) {
            const data = tmpDir();
            const r = ensureLocalDefaults(env, data, path.join(data, "tokens"), false);
            expect(fs.existsSync(path.join(data, "pulumi-passphrase"))).toBe(false);
            expect(r.env.DBAAS_PULUMI_PASSPHRASE_FILE).toBeUndefined();
        }
    });

    it("the banner shows the token, where to use it and how to make more", () => {
        const text = firstStartBanner("dbaas_x", "http://127.0.0.1:5000", "/d/tokens");
        expect(text).toContain("dbaas_x");
        expect(text).toContain("http://127.0.0.1:5000/");
        expect(text).toContain("npm run token -- <subject> <admin|user>");
        expect(text).toContain("/d/tokens");
    });
});
