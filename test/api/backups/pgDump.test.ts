/** Choosing a pg_dump for a server, the reason when none fits, and how the password reaches the child. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { choosePgDump, missingPgDumpReason, parsePgDumpMajor, searchDirs } from "../../../api/backups/pgDump";
import { passfileLine, pgDumpEnv, pgDumpFailureLine } from "../../../api/backups/runner";

describe("pg_dump selection", () => {
    it.each([
        ["pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n", 15],
        ["pg_dump (PostgreSQL) 18.1\n", 18],
        ["pg_dump (PostgreSQL) 17devel\n", 17],
        ["pg_dump (PostgreSQL) 9.6.24\n", undefined],
        ["something else", undefined],
    ])("reads the major of %j", (text, major) => {
        expect(parsePgDumpMajor(text)).toBe(major);
    });

    const found = [{ path: "/a/pg_dump", major: 18 }, { path: "/b/pg_dump", major: 15 }, { path: "/c/pg_dump", major: 16 }, { path: "/d/pg_dump", major: 16 }];
    it.each([
        [14, "/b/pg_dump"], [15, "/b/pg_dump"], [16, "/c/pg_dump"], [17, "/a/pg_dump"], [18, "/a/pg_dump"], [19, undefined],
    ])("for a server of major %i takes the oldest major at least as new (the first found of it): %s", (server, chosen) => {
        expect(choosePgDump(found, server)?.path).toBe(chosen);
    });

    it("says what it found, where it looked and how to fix it, in under 300 characters", () => {
        const reason = missingPgDumpReason(17, [{ path: "/usr/bin/pg_dump", major: 15 }, { path: "/usr/lib/postgresql/15/bin/pg_dump", major: 15 }]);
        expect(reason).toContain("no pg_dump of major 17 or newer");
        expect(reason).toContain("found only pg_dump 15 in");
        expect(reason).toContain("install postgresql-client-17 or newer, or set DBAAS_PG_DUMP_DIRS");
        expect(reason.length).toBeLessThan(300);
        expect(missingPgDumpReason(16, [])).toContain("none found");
    });

    it("searches the configured directories, then Debian's per-major ones, then PATH, without repeats", () => {
        const debian = fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-debian-pg-"));
        try {
            for (const v of ["17", "15"]) fs.mkdirSync(path.join(debian, v, "bin"), { recursive: true });
            const dirs = searchDirs(["/opt/pg/bin"], ["/usr/bin", "/opt/pg/bin", "/bin"].join(path.delimiter), "/nonexistent/node_modules", debian);
            expect(dirs).toEqual(["/opt/pg/bin", path.join(debian, "15", "bin"), path.join(debian, "17", "bin"), "/usr/bin", "/bin"]);
        } finally {
            fs.rmSync(debian, { recursive: true, force: true });
        }
    });
});

describe("the pg_dump child", () => {
    const source = { host: "db.example.com", port: 5432, database: "orders", user: "owner", password: "p:a\\ss" };

    it("gets the password in a passfile line with : and \\ escaped", () => {
        expect(passfileLine(source)).toBe("db.example.com:5432:orders:owner:p\\:a\\\\ss\n");
    });

    it("gets the connection as libpq variables and nothing of the API's environment, and no password variable", () => {
        const env = pgDumpEnv(source, "/tmp/x/pgpass");
        expect(env).toMatchObject({ PGHOST: "db.example.com", PGPORT: "5432", PGDATABASE: "orders", PGUSER: "owner", PGPASSFILE: "/tmp/x/pgpass" });
        expect(Object.keys(env)).not.toContain("PGPASSWORD");
        expect(Object.keys(env)).not.toContain("PATH");
        expect(JSON.stringify(env)).not.toContain(source.password);
    });

    it("reports pg_dump's error line, without the password should it appear", () => {
        const stderr = "pg_dump: error: query failed: ERROR:  permission denied for table secrets\npg_dump: detail: Query was: LOCK TABLE public.secrets\n";
        expect(pgDumpFailureLine(stderr, "pw")).toBe("pg_dump: error: query failed: ERROR:  permission denied for table secrets");
        expect(pgDumpFailureLine("pg_dump: error: bad hunter2 thing\n", "hunter2")).toBe("pg_dump: error: bad [redacted] thing");
        expect(pgDumpFailureLine("", "x")).toBe("no output");
    });
});
