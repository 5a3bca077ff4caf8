/**
 * The two restore-step scripts without a database: shellcheck, their size,
 * the address rules against ipaddr.js (the table's own agreement with the API
 * and the NetworkPolicy is test/contracts/egress.test.ts), input validation,
 * the shared format detection, and the constants in contracts/restore.ts.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import ipaddr from "ipaddr.js";
import { afterAll, describe, expect, it } from "vitest";
import { FETCH_SCRIPT_PATH, RESTORE_SCRIPT_PATH, readFetchScript, readRestoreScript } from "../../../ondemand/restore";
import { findBinary, requireBinaries } from "../../support/requirements";
import { failureLine, runFetch, runRestore, SCRIPT_TOOLS } from "../../support/restore";
import { FETCH_ENV_NAMES, LOAD_ENV_NAMES, RESTORE_DEFAULTS, RESTORE_ENV_NAMES, RESTORE_MARKER, RESTORE_TEST_ONLY_ENV } from "../../../contracts/restore";

const fetchScript = readFetchScript();
const restoreScript = readRestoreScript();
const SCRIPTS = [["fetch.sh", FETCH_SCRIPT_PATH, fetchScript, FETCH_ENV_NAMES], ["restore.sh", RESTORE_SCRIPT_PATH, restoreScript, LOAD_ENV_NAMES]] as const;

describe.skipIf(requireBinaries(["shellcheck"], "apt-get install shellcheck"))("shellcheck", () => {
    it.each(SCRIPTS)("finds nothing in %s as POSIX sh", (_name, file) => {
        // Throws with shellcheck's findings when there are any.
        const out = execFileSync("shellcheck", ["-s", "sh", "-f", "gcc", file], { encoding: "utf8" });
        expect(out).toBe("");
    });
});

describe("the scripts' contract in index.ts and contracts/restore.ts", () => {
    it.each(SCRIPTS)("points at %s by absolute path, a #!/bin/sh script of at most 300 lines of code", (_name, file, text) => {
        expect(path.isAbsolute(file)).toBe(true);
        expect(text.startsWith("#!/bin/sh\n")).toBe(true);
        // Not counted: comments, blank lines and fetch.sh's table rendered from contracts/egress.ts.
        const code = text.replace(/^BLOCKED_EGRESS='\n[^']*'$/m, "").split("\n").filter((l) => l.trim() !== "" && !l.trim().startsWith("#"));
        expect(code.length).toBeLessThanOrEqual(300);
    });

    it.each(SCRIPTS)("lists exactly the environment variables %s reads", (_name, _file, text, names) => {
        const read = new Set([...text.matchAll(/\$\{?((?:RESTORE|BACKUP|PG)[A-Z_]*)/g)].map((m) => m[1]));
        // libpq reads PGHOST and friends itself; the script only passes them through.
        const listed = new Set<string>(names.filter((n) => !["PGPORT", "PGUSER", "PGPASSWORD"].includes(n)));
        expect([...read].sort()).toEqual([...listed].sort());
    });

    it("RESTORE_ENV_NAMES is both scripts' names", () => {
        expect([...RESTORE_ENV_NAMES].sort()).toEqual([...new Set([...FETCH_ENV_NAMES, ...LOAD_ENV_NAMES])].sort());
    });

    it.each(Object.entries(RESTORE_DEFAULTS))("documents the scripts' default %s=%s", (name, value) => {
        const found = SCRIPTS.flatMap(([, , script]) => {
            const literal = new RegExp(`${name}=\\$\\{${name}:-([^}]*)\\}`).exec(script)?.[1];
            if (literal === undefined) return [];
            // A default may be spelled through a DEFAULT_ constant at the top of the script.
            return [literal.startsWith("$") ? new RegExp(`^${literal.slice(1)}=(.*)$`, "m").exec(script)?.[1] : literal];
        });
        expect(found.length).toBeGreaterThan(0);
        for (const resolved of found) expect(resolved).toBe(value);
    });

    it("names the test-only loopback switch and the marker as the scripts do", () => {
        expect(RESTORE_TEST_ONLY_ENV).toBe("RESTORE_ALLOW_LOOPBACK");
        expect(FETCH_ENV_NAMES).toContain(RESTORE_TEST_ONLY_ENV);
        expect(restoreScript).toContain(`DEFAULT_MARKER=${RESTORE_MARKER}\n`);
    });

    it("detects formats with the same code in both scripts (the same failure line for the same bytes)", () => {
        const fn = (text: string, name: string) => new RegExp(`^${name}\\(\\) \\{\\n[\\s\\S]*?^\\}$`, "m").exec(text)?.[0];
        for (const name of ["detect_format", "describe_head"]) {
            expect(fn(fetchScript, name), name).toBeDefined();
            expect(fn(fetchScript, name), name).toBe(fn(restoreScript, name));
        }
    });
});

describe.skipIf(requireBinaries(["getent"], "glibc's libc-bin"))("addresses: the script refuses what ipaddr.js does not call unicast", { concurrent: true }, () => {
    // Both sides of every range boundary that matters, and each special range once.
    const addresses = [
        "8.8.8.8", "52.216.8.1", "9.255.255.255", "11.0.0.1", "172.15.255.255", "172.32.0.1", "100.63.255.255", "100.128.0.1", "169.253.255.255", "192.169.0.1", "223.255.255.255",
        "0.1.2.3", "10.0.0.1", "127.255.255.254", "100.64.0.1", "169.254.169.254", "172.31.255.255", "192.0.0.8", "192.0.2.1", "192.88.99.1", "192.168.0.1",
        "198.19.255.255", "198.51.100.7", "203.0.113.9", "224.0.0.1", "240.0.0.1", "192.175.48.1", "192.52.193.1",
        "2606:4700:4700::1111", "2a00:1450:4001:82a::200e", "2600::1",
        "::", "::ffff:8.8.8.8", "::8.8.8.8", "64:ff9b::808:808", "100::1", "febf::1", "fec0::1", "fdff::1", "ff02::1",
        "2001::1", "2001:db8::1", "2001:20::1", "2002:808:808::1", "3fff::1", "2620:4f:8000::1",
    ];

    it.for(addresses)("%s", async (address, { expect }) => {
        const parsed = ipaddr.parse(address);
        const url = parsed.kind() === "ipv6" ? `https://[${address}]/backup.sql` : `https://${address}/backup.sql`;
        const r = await runFetch({ BACKUP_URL: url }, ["check"]);
        const publicByIpaddr = parsed.range() === "unicast";
        if (publicByIpaddr) {
            expect(r.stderr).toBe("");
            expect(r.stdout).toMatch(/^restore: ok: /);
        } else {
            expect(failureLine(r)).toMatch(/^restore: refused BACKUP_URL: address /);
        }
    });
});

describe("input validation fails on one line before anything runs", { concurrent: true }, () => {
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-restore-input-"));
    afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));
    const file = path.join(scratch, "backup.sql");
    fs.writeFileSync(file, "SELECT 1;\n");

    it.for([
        ["BACKUP_URL given to restore.sh", { BACKUP_URL: "https://example.com/b.sql", BACKUP_FILE: file, PGDATABASE: "x" }, /BACKUP_URL is set, but restore.sh reads a local file only — download it first with fetch.sh FILE/],
        ["no source", { PGDATABASE: "x" }, /BACKUP_FILE is not set/],
        ["a missing file", { BACKUP_FILE: path.join(scratch, "nope.sql"), PGDATABASE: "x" }, /BACKUP_FILE=.*nope\.sql is not a readable file/],
        ["no PGDATABASE", { BACKUP_FILE: file }, /PGDATABASE is not set/],
        ["RESTORE_JOBS=0", { BACKUP_FILE: file, PGDATABASE: "x", RESTORE_JOBS: "0" }, /RESTORE_JOBS=0 is not a whole number from 1 to 64/],
        ["a path as marker name", { BACKUP_FILE: file, PGDATABASE: "x", RESTORE_MARKER: "../done" }, /RESTORE_MARKER=\.\.\/done is not a plain file name/],
        ["a missing marker dir", { BACKUP_FILE: file, PGDATABASE: "x", RESTORE_MARKER_DIR: path.join(scratch, "nope") }, /RESTORE_MARKER_DIR=.* is not a writable directory/],
        ["a flag that is not 0/1", { BACKUP_FILE: file, PGDATABASE: "x", RESTORE_FSYNC_OFF: "yes" }, /RESTORE_FSYNC_OFF=yes is neither 0 nor 1/],
        ["an unknown mode", { BACKUP_FILE: file }, /^restore: usage: unknown mode frobnicate/, ["frobnicate"]],
    ] as const)("restore.sh: %s", async ([_label, env, expected, args = []], { expect }) => {
        const line = failureLine(await runRestore(env, [...args]));
        expect(line).toMatch(/^restore: (invalid input|usage): /);
        expect(line).toMatch(expected);
    });

    it.for([
        ["fetch without BACKUP_URL", { BACKUP_FILE: file }, /fetch needs BACKUP_URL/, [path.join(scratch, "out")]],
        ["RESTORE_MAX_BYTES=10k", { BACKUP_URL: "https://example.com/b.sql", RESTORE_MAX_BYTES: "10k" }, /RESTORE_MAX_BYTES=10k is not a positive number of bytes/, [path.join(scratch, "out")]],
        ["a flag that is not 0/1", { BACKUP_URL: "https://example.com/b.sql", RESTORE_ALLOW_LOOPBACK: "yes" }, /RESTORE_ALLOW_LOOPBACK=yes is neither 0 nor 1/, ["check"]],
        ["no output file", { BACKUP_URL: "https://example.com/b.sql" }, /^restore: usage: no output file given/, []],
    ] as const)("fetch.sh: %s", async ([_label, env, expected, args], { expect }) => {
        const line = failureLine(await runFetch(env, [...args]));
        expect(line).toMatch(/^restore: (invalid input|usage): /);
        expect(line).toMatch(expected);
    });

    it("names a missing tool", async ({ expect }) => {
        // A PATH with every tool the script needs except curl.
        const bin = path.join(scratch, "bin");
        fs.mkdirSync(bin);
        for (const tool of [...SCRIPT_TOOLS, "getent", "psql", "pg_restore", "vacuumdb"]) {
            const found = findBinary(tool);
            if (found) fs.symlinkSync(found, path.join(bin, tool));
        }
        const line = failureLine(await runFetch({ PATH: bin, BACKUP_URL: "https://example.com/b.sql" }, ["check"], findBinary("bash")));
        expect(line).toBe("restore: missing tool: curl is not on PATH — run this script in an image that has curl");
        const psqlMissing = path.join(scratch, "bin-no-psql");
        fs.mkdirSync(psqlMissing);
        for (const tool of [...SCRIPT_TOOLS, "pg_restore", "vacuumdb"]) {
            const found = findBinary(tool);
            if (found) fs.symlinkSync(found, path.join(psqlMissing, tool));
        }
        const restoreLine = failureLine(await runRestore({ PATH: psqlMissing, BACKUP_FILE: file, PGDATABASE: "x" }, [], undefined, findBinary("bash")));
        expect(restoreLine).toBe("restore: missing tool: psql is not on PATH — run this script in an image that has psql");
    });
});
