import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { bearerToken, generateToken, hashToken, parseTokensFile, tokenLine, TokensFile, verifyToken } from "../../../api/http/auth";
import { REPO_ROOT } from "../../../api/config";

describe("bearer tokens", () => {
    const alice = generateToken();
    const admin = generateToken();
    const entries = parseTokensFile(`# comment\n\n${tokenLine("alice", "user", alice)}\n  ${tokenLine("root", "admin", admin)}  \n`);

    it("stores only the SHA-256 of a token", () => {
        const line = tokenLine("alice", "user", alice);
        expect(line).toBe(`alice user ${hashToken(alice)}`);
        expect(line).not.toContain(alice);
        expect(hashToken(alice)).toMatch(/^[0-9a-f]{64}$/);
    });

    it("generates distinct 256-bit tokens", () => {
        const a = generateToken();
        expect(a).toMatch(/^dbaas_[A-Za-z0-9_-]{43}$/);
        expect(generateToken()).not.toBe(a);
    });

    it("finds the principal of a valid token and nothing for others", () => {
        expect(verifyToken(entries, alice)).toEqual({ subject: "alice", role: "user" });
        expect(verifyToken(entries, admin)).toEqual({ subject: "root", role: "admin" });
        expect(verifyToken(entries, `${alice}x`)).toBeUndefined();
        expect(verifyToken(entries, hashToken(alice))).toBeUndefined();
        expect(verifyToken(entries, "")).toBeUndefined();
    });

    it.each([
        ["alice user", /3 fields/],
        ["alice user abc", /64-digit/],
        [`alice root ${"a".repeat(64)}`, /role/],
        [`-alice user ${"a".repeat(64)}`, /subject/],
        [`alice user ${"A".repeat(64)}`, /64-digit lowercase/],
        [`alice user ${"a".repeat(64)} extra`, /3 fields/],
    ])("refuses the line %j naming the line and rule", (line, rule) => {
        expect(() => parseTokensFile(`# first\n${line}`)).toThrow(/line 2/);
        expect(() => parseTokensFile(line)).toThrow(rule);
    });

    it.each([
        [undefined, /no Authorization header/],
        ["", /no Authorization header/],
        ["Basic YWxpY2U6eA==", /Bearer <token>/],
        ["Bearer", /Bearer <token>/],
        ["Bearer a b", /Bearer <token>/],
        ["bearer abc", /Bearer <token>/],
    ])("refuses the header %j", (header, why) => {
        const r = bearerToken(header);
        expect("error" in r && r.error).toMatch(why);
    });

    it("reads a bearer token", () => {
        expect(bearerToken("Bearer dbaas_abc-DEF_123")).toEqual({ token: "dbaas_abc-DEF_123" });
    });

    it("npm run token prints a token and the tokens-file line that accepts it", () => {
        const run = (...args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "scripts/token.ts", ...args], { cwd: REPO_ROOT, encoding: "utf8" });
        const ok = run("alice", "user");
        expect(ok.status).toBe(0);
        const token = /^\s+(dbaas_\S+)$/m.exec(ok.stdout)?.[1] ?? "";
        const line = /^\s+(alice user [0-9a-f]{64})$/m.exec(ok.stdout)?.[1] ?? "";
        expect(verifyToken(parseTokensFile(line), token)).toEqual({ subject: "alice", role: "user" });
        const bad = run("alice", "root");
        expect(bad.status).toBe(2);
        expect(bad.stderr).toMatch(/role "root": expected admin or user/);
    });

    it("re-reads the tokens file when it changes and keeps the old tokens when the new file is broken", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-tokens-"));
        const file = path.join(dir, "tokens");
        const problems: string[] = [];
        const missing = new TokensFile(file, (m) => problems.push(m));
        expect(missing.verify(alice)).toBeUndefined();
        expect(problems.join()).toMatch(/does not exist/);

        fs.writeFileSync(file, tokenLine("alice", "user", alice));
        const tokens = new TokensFile(file, (m) => problems.push(m));
        expect(tokens.verify(alice)?.subject).toBe("alice");
        await new Promise((r) => setTimeout(r, 1100));
        fs.writeFileSync(file, `${tokenLine("alice", "user", alice)}\n${tokenLine("root", "admin", admin)}\n`);
        fs.utimesSync(file, new Date(), new Date(Date.now() + 5000));
        expect(tokens.verify(admin)?.role).toBe("admin");
        await new Promise((r) => setTimeout(r, 1100));
        fs.writeFileSync(file, "broken line");
        fs.utimesSync(file, new Date(), new Date(Date.now() + 10000));
        expect(tokens.verify(admin)?.role).toBe("admin");
        expect(problems.at(-1)).toMatch(/keeping the previous 2 token/);
        fs.rmSync(dir, { recursive: true, force: true });
    });
});
