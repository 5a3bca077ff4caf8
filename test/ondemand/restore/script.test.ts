/**
 * The restore script without a database: shellcheck, the address rules
 * against ipaddr.js (the library the API judges backup hosts with), input
 * validation, and the constants in ondemand/restore/index.ts.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import ipaddr from "ipaddr.js";
import { afterAll, describe, expect, it } from "vitest";
import { RESTORE_SCRIPT_PATH, readRestoreScript } from "../../../ondemand/restore";
import { findBinary, requireBinaries } from "../../support/requirements";
import { failureLine, runRestore, SCRIPT_TOOLS } from "../../support/restore";
import { RESTORE_DEFAULTS, RESTORE_ENV_NAMES, RESTORE_MARKER, RESTORE_TEST_ONLY_ENV } from "../../../contracts/restore";

const script = readRestoreScript();

describe.skipIf(requireBinaries(["shellcheck"], "apt-get install shellcheck"))("shellcheck", () => {
    it("finds nothing in the script as POSIX sh", () => {
        // Throws with shellcheck's findings when there are any.
        const out = execFileSync("shellcheck", ["-s", "sh", "-f", "gcc", RESTORE_SCRIPT_PATH], { encoding: "utf8" });
        expect(out).toBe("");
    });
});

describe("the script's contract in index.ts", () => {
    it("points at the script by absolute path", () => {
        expect(path.isAbsolute(RESTORE_SCRIPT_PATH)).toBe(true);
        expect(script.startsWith("#!/bin/sh\n")).toBe(true);
    });

    it("lists exactly the environment variables the script reads", () => {
        const read = new Set([...script.matchAll(/\$\{?((?:RESTORE|BACKUP|PG)[A-Z_]*)/g)].map((m) => m[1]));
        // libpq reads PGHOST and friends itself; the script only passes them through.
        const listed = new Set<string>(RESTORE_ENV_NAMES.filter((n) => !["PGPORT", "PGUSER", "PGPASSWORD"].includes(n)));
        expect([...read].sort()).toEqual([...listed].sort());
    });

    it.each(Object.entries(RESTORE_DEFAULTS))("documents the script's default %s=%s", (name, value) => {
        const literal = new RegExp(`${name}=\\$\\{${name}:-([^}]*)\\}`).exec(script)?.[1];
        expect(literal).toBeDefined();
        // A default may be spelled through a DEFAULT_ constant at the top of the script.
        const resolved = literal?.startsWith("$") ? new RegExp(`^${literal.slice(1)}=(.*)$`, "m").exec(script)?.[1] : literal;
        expect(resolved).toBe(value);
    });

    it("names the test-only loopback switch and the marker as the script does", () => {
        expect(RESTORE_TEST_ONLY_ENV).toBe("RESTORE_ALLOW_LOOPBACK");
        expect(script).toContain(`DEFAULT_MARKER=${RESTORE_MARKER}\n`);
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
        const r = await runRestore({ BACKUP_URL: url }, ["check"]);
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
        ["both sources", { BACKUP_URL: "https://example.com/b.sql", BACKUP_FILE: file, PGDATABASE: "x" }, /both BACKUP_URL and BACKUP_FILE are set — set exactly one/],
        ["no source", { PGDATABASE: "x" }, /neither BACKUP_URL nor BACKUP_FILE is set/],
        ["a missing file", { BACKUP_FILE: path.join(scratch, "nope.sql"), PGDATABASE: "x" }, /BACKUP_FILE=.*nope\.sql is not a readable file/],
        ["no PGDATABASE", { BACKUP_FILE: file }, /PGDATABASE is not set/],
        ["RESTORE_JOBS=0", { BACKUP_FILE: file, PGDATABASE: "x", RESTORE_JOBS: "0" }, /RESTORE_JOBS=0 is not a whole number from 1 to 64/],
        ["RESTORE_MAX_BYTES=10k", { BACKUP_FILE: file, PGDATABASE: "x", RESTORE_MAX_BYTES: "10k" }, /RESTORE_MAX_BYTES=10k is not a positive number of bytes/],
        ["a path as marker name", { BACKUP_FILE: file, PGDATABASE: "x", RESTORE_MARKER: "../done" }, /RESTORE_MARKER=\.\.\/done is not a plain file name/],
        ["a missing marker dir", { BACKUP_FILE: file, PGDATABASE: "x", RESTORE_MARKER_DIR: path.join(scratch, "nope") }, /RESTORE_MARKER_DIR=.* is not a writable directory/],
        ["a flag that is not 0/1", { BACKUP_FILE: file, PGDATABASE: "x", RESTORE_ALLOW_LOOPBACK: "yes" }, /RESTORE_ALLOW_LOOPBACK=yes is neither 0 nor 1/],
        ["fetch without BACKUP_URL", { BACKUP_FILE: file }, /fetch needs BACKUP_URL/, ["fetch", path.join(scratch, "out")]],
        ["an unknown mode", { BACKUP_FILE: file }, /^restore: usage: unknown mode frobnicate/, ["frobnicate"]],
    ] as const)("%s", async ([_label, env, expected, args = []], { expect }) => {
        const line = failureLine(await runRestore(env, [...args]));
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
        const line = failureLine(await runRestore({ PATH: bin, BACKUP_URL: "https://example.com/b.sql", PGDATABASE: "x" }));
        expect(line).toBe("restore: missing tool: curl is not on PATH — run this script in an image that has curl");
    });
});
