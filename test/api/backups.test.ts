/**
 * Backups through the HTTP API against real servers: the admin store on the
 * shared PostgreSQL 17, and a PostgreSQL 15 as "the on-demand database" (the
 * test engine's outputs point at it), dumped by the host's pg_dump. A dump's
 * rows come back when it is restored into a fresh database; failures (bad
 * credentials, a dump that fails half-way, no pg_dump new enough) end failed
 * with a reason and leave no file; retention, recovery of a dead process's
 * backup, ownership, and POST /databases with backup_id down to the signed
 * content URL the restore fetches.
 */
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-call -- assertions read JSON response bodies (typed any in test/support/testApi.ts) */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PgDumpBinary } from "../../api/backups/pgDump";
import { LocalPgDumpRunner } from "../../api/backups/runner";
import { signBackupContent } from "../../api/backups/signedUrl";
import { oldestPgDumpOnly, seedOrders } from "../support/backupSource";
import { sharedPostgres, startPostgres, type PostgresServer } from "../support/postgres";
import { requireBinaries } from "../support/requirements";
import { createBody, sqlIn, startTestApi, waitFor, waitForState, type TestApi, type Who } from "../support/testApi";

const run = promisify(execFile);
const missing = requireBinaries(["pg_dump", "pg_restore"], "apt-get install postgresql-client (see .ci/run)");
const ROWS = 250;
const FETCH_BASE = "https://dbaas.example.com";

let admin: PostgresServer;
let pg15: PostgresServer;
let api: TestApi;
/** The pg_dump the runner may use: the oldest major on this host, alone in a directory of its own. */
let only: PgDumpBinary;
let binDir: string;

describe.skipIf(missing)("backups", () => {
    beforeAll(async () => {
        const [a, b] = await Promise.all([sharedPostgres(), startPostgres(15, { initdbFlags: ["--no-sync"], postgresFlags: ["-c", "fsync=off"] })]);
        admin = a;
        pg15 = b;
        await seedOrders(pg15, ROWS);
        ({ binDir, pgDump: only } = await oldestPgDumpOnly());
        api = await startTestApi(admin, {
            env: { DBAAS_BACKUP_FETCH_BASE_URL: FETCH_BASE, DBAAS_BACKUP_KEEP_COUNT: "2", DBAAS_BACKUP_ROLLOFF_INTERVAL_SECONDS: "0" },
            backupRunner: new LocalPgDumpRunner({ searchDirs: [binDir] }),
            backupLeaseMs: 1000,
        });
    });
    afterAll(async () => {
        await api?.close(200);
        await pg15?.stop();
        await admin?.stop();
        if (binDir !== undefined) fs.rmSync(binDir, { recursive: true, force: true });
    });

    /** A ready database of alice's whose endpoint is `server`'s database `database` as `user`. */
    async function readyDatabase(name: string, o: { server?: PostgresServer; database?: string; user?: string; password?: string } = {}): Promise<void> {
        const r = await api.call("alice", "POST", "/databases", { body: createBody(name) });
        expect(r.status, r.text).toBe(202);
        await waitForState(api, name, "ready");
        const server = o.server ?? pg15;
        const out = api.engine.stacks.get(name);
        if (out === undefined) throw new Error(`the test engine has no outputs for ${name}`);
        api.engine.stacks.set(name, { ...out, host: "127.0.0.1", port: server.port, database: o.database ?? "orders", user: o.user ?? "postgres", password: o.password ?? server.password });
    }

    async function backUp(name: string, who: Who = "alice"): Promise<{ id: string; status: string; [k: string]: unknown }> {
        const r = await api.call(who, "POST", `/databases/${name}/backups`);
        expect(r.status, r.text).toBe(202);
        expect(r.body.status).toBe("running");
        expect(r.headers.get("location")).toBe(`/databases/${name}/backups/${r.body.id}`);
        return waitFor(`backup ${r.body.id} to finish`, async () => {
            const g = await api.call(who, "GET", `/databases/${name}/backups/${r.body.id}`);
            return g.body?.status === "running" ? undefined : g.body;
        });
    }

    const dir = () => {
        const store = api.config.backups.store;
        if (store.kind !== "directory") throw new Error(`these tests read the directory store's files; the store is ${store.kind}`);
        return store.dir;
    };
    const filesIn = (d: string) => (fs.existsSync(d) ? fs.readdirSync(d).filter((f) => f !== ".partial") : []);
    const partials = () => filesIn(path.join(dir(), ".partial"));

    it("dumps a ready database into a 0600 file whose rows a restore brings back, sizes filled, start and finish audited", async () => {
        await readyDatabase("orders-dev");
        const b = await backUp("orders-dev");
        expect(b.status, JSON.stringify(b)).toBe("succeeded");
        expect(b).toMatchObject({ database: "orders-dev", owner: "alice", type: "manual", requested_by: "alice", server_major: 15, error: null });
        expect(b.db_size_bytes).toBeGreaterThan(1_000_000);
        expect(Date.parse(b.finished_at as string)).toBeGreaterThanOrEqual(Date.parse(b.started_at as string));
        const file = path.join(dir(), `${b.id}.dump`);
        const st = fs.statSync(file);
        expect(st.mode & 0o777).toBe(0o600);
        expect(b.backup_size_bytes).toBe(st.size);
        expect(fs.readFileSync(file).subarray(0, 5).toString("latin1")).toBe("PGDMP");
        expect(partials()).toEqual([]);

        const list = await run("pg_restore", ["--list", file]);
        expect(list.stdout).toMatch(/TABLE DATA public items/);
        await pg15.query("CREATE DATABASE restored");
        await run("pg_restore", ["--no-owner", "-h", "127.0.0.1", "-p", String(pg15.port), "-U", "postgres", "-d", "restored", file], { env: { ...process.env, PGPASSWORD: pg15.password } });
        const rows = await pg15.query<{ n: string; last: string }>("SELECT count(*) AS n, max(label) FILTER (WHERE id = $1) AS last FROM items", [ROWS], "restored");
        expect(rows[0]).toEqual({ n: String(ROWS), last: `item ${ROWS}` });

        const listed = await api.call("alice", "GET", "/databases/orders-dev/backups");
        expect(listed.status).toBe(200);
        expect(listed.body.backups.map((x: { id: string }) => x.id)).toEqual([b.id]);
        const audit = await api.call("admin", "GET", "/audit?database=orders-dev");
        const mine = audit.body.entries.filter((e: { detail: { backup_id?: string } }) => e.detail.backup_id === b.id);
        expect(mine.map((e: { action: string; outcome: string; actor: string }) => `${e.action} ${e.outcome} ${e.actor}`).reverse()).toEqual(["backup.start accepted alice", "backup.finish succeeded system"]);
        // The password reached pg_dump through a passfile only: nothing the API logged or answered carries it.
        expect(api.logs.text).not.toContain(pg15.password);
        expect(JSON.stringify(listed.body)).not.toContain(pg15.password);
    });

    it("shows a backup only to its owner and admins (404 for everyone else), and a second one at once is refused while one runs", async () => {
        const b = await backUp("orders-dev");
        expect(b.status).toBe("succeeded");
        for (const [method, url] of [["GET", "/databases/orders-dev/backups"], ["GET", `/databases/orders-dev/backups/${b.id}`], ["POST", "/databases/orders-dev/backups"]] as const) {
            const r = await api.call("bob", method, url);
            expect(r.status, `${method} ${url}: ${r.text}`).toBe(404);
            expect(r.headers.get("content-type")).toMatch(/application\/problem\+json/);
        }
        expect((await api.call("admin", "GET", "/databases/orders-dev/backups")).body.backups.map((x: { id: string }) => x.id)).toContain(b.id);
        // A backup of another database is not found under this one's name.
        await readyDatabase("other-db");
        expect((await api.call("alice", "GET", `/databases/other-db/backups/${b.id}`)).status).toBe(404);
        expect((await api.call("alice", "GET", "/databases/orders-dev/backups/not-a-uuid")).status).toBe(400);
        const upper = await api.call("alice", "GET", `/databases/orders-dev/backups/${b.id.toUpperCase()}`);
        expect(upper.status, upper.text).toBe(200);
        expect(upper.body.id).toBe(b.id);
        // One backup of a database at a time: another process's backup of other-db is running.
        const [db] = await sqlIn<{ id: number }>(admin, api.databaseUrl, "SELECT id FROM databases WHERE name = 'other-db'");
        const runningId = "00000000-0000-4000-8000-0000000000bb";
        await sqlIn(admin, api.databaseUrl, `INSERT INTO backups (id, database_id, database_name, owner, type, status, requested_by, worker_id, lease_until)
            VALUES ($1, $2, 'other-db', 'alice', 'manual', 'running', 'alice', 'backups-elsewhere', now() + interval '1 hour')`, [runningId, db?.id]);
        const again = await api.call("alice", "POST", "/databases/other-db/backups");
        expect(again.status, again.text).toBe(409);
        expect(again.body.detail).toContain(`backup ${runningId} is running`);
        await sqlIn(admin, api.databaseUrl, "DELETE FROM backups WHERE id = $1", [runningId]);
    });

    it("refuses a backup of a database that is not ready with 409 naming its state, audited", async () => {
        api.engine.script("up", "broken-db", { failTimes: Infinity, failWith: "program" });
        expect((await api.call("alice", "POST", "/databases", { body: createBody("broken-db") })).status).toBe(202);
        await waitForState(api, "broken-db", "failed");
        const r = await api.call("alice", "POST", "/databases/broken-db/backups");
        expect(r.status, r.text).toBe(409);
        expect(r.body).toMatchObject({ state: "failed", errors: [{ field: "params.name" }] });
        expect(r.body.detail).toMatch(/state ready .*it is failed/);
        const audit = await api.call("admin", "GET", "/audit?database=broken-db&action=backup.start");
        expect(audit.body.entries[0]).toMatchObject({ outcome: "refused", actor: "alice" });
    });

    it("fails with the reason on bad credentials, and a dump that fails half-way leaves no file", async () => {
        await readyDatabase("bad-creds", { password: "wrong-password" });
        const bad = await backUp("bad-creds");
        expect(bad.status).toBe("failed");
        expect(bad.error).toMatch(/could not connect .*password authentication failed/);
        expect(bad.error).not.toContain("wrong-password");
        expect(bad.backup_size_bytes).toBeNull();
        expect(fs.existsSync(path.join(dir(), `${bad.id}.dump`))).toBe(false);

        // `limited` may connect and read items but not secrets: pg_dump has written its header when it fails.
        await readyDatabase("half-way", { user: "limited", password: "limited-pw" });
        const half = await backUp("half-way");
        expect(half.status).toBe("failed");
        expect(half.error).toMatch(new RegExp(`^pg_dump ${only.major} failed \\(exit 1\\): .*permission denied`));
        expect(half.db_size_bytes).toBeGreaterThan(0);
        expect(fs.existsSync(path.join(dir(), `${half.id}.dump`))).toBe(false);
        expect(partials()).toEqual([]);
        const audit = await api.call("admin", "GET", "/audit?database=half-way&action=backup.finish");
        expect(audit.body.entries[0]).toMatchObject({ outcome: "failed", detail: { backup_id: half.id, reason: half.error } });
    });

    it("fails with the write error when the dump cannot be written (a full disk)", async (ctx) => {
        if (!fs.existsSync("/dev/full")) ctx.skip("no /dev/full on this host");
        const runner = new LocalPgDumpRunner({ searchDirs: [binDir] });
        const source = { host: "127.0.0.1", port: pg15.port, database: "orders", user: "postgres", password: pg15.password };
        await expect(runner.dump(source, "/dev/full", { signal: AbortSignal.timeout(20_000) })).rejects.toThrow(/writing the dump failed: .*ENOSPC/);
    });

    it("fails naming what is missing when no pg_dump is new enough for the server", async (ctx) => {
        if (only.major >= admin.major) ctx.skip(`this host's oldest pg_dump is ${only.major}, new enough for PostgreSQL ${admin.major}: nothing is missing`);
        await readyDatabase("too-new", { server: admin, database: "postgres" });
        const b = await backUp("too-new");
        expect(b.status).toBe("failed");
        expect(b.server_major).toBe(admin.major);
        expect(b.error).toContain(`no pg_dump of major ${admin.major} or newer`);
        expect(b.error).toContain(`found only pg_dump ${only.major}`);
        expect(b.error).toContain(`install postgresql-client-${admin.major}`);
    });

    it("rolls off beyond the count and past the age, removing the files, each audited, but not a backup a create is restoring", async () => {
        await readyDatabase("retained");
        const ids: string[] = [];
        for (let i = 0; i < 3; i++) ids.push((await backUp("retained")).id);
        const [oldest, middle, newest] = ids;
        const removed = await api.backups.rollOff();
        expect(removed.filter((r) => ids.includes(r.id))).toEqual([{ id: oldest, reason: "count" }]);
        expect(fs.existsSync(path.join(dir(), `${oldest}.dump`))).toBe(false);
        expect(fs.existsSync(path.join(dir(), `${newest}.dump`))).toBe(true);
        expect((await api.call("alice", "GET", "/databases/retained/backups")).body.backups.map((b: { id: string }) => b.id)).toEqual([newest, middle]);
        expect((await api.call("alice", "GET", `/databases/retained/backups/${oldest}`)).status).toBe(404);

        // A database being created from the newest one keeps it, however old.
        api.engine.script("up", "from-retained", { hang: true });
        expect((await api.call("alice", "POST", "/databases", { body: createBody("from-retained", { backup_id: newest }) })).status).toBe(202);
        const later = new Date(Date.now() + 31 * 86_400_000);
        const aged = await api.backups.rollOff(later);
        expect(aged.filter((r) => ids.includes(r.id)).map((r) => `${r.id} ${r.reason}`)).toEqual([`${middle} age`]);
        expect(filesIn(dir()).filter((f) => ids.some((id) => f.startsWith(id)))).toEqual([`${newest}.dump`]);
        const audit = await api.call("admin", "GET", "/audit?database=retained&action=backup.rolloff");
        expect(audit.body.entries.map((e: { detail: { backup_id: string; reason: string } }) => `${e.detail.backup_id} ${e.detail.reason}`).sort())
            .toEqual([`${oldest} count`, `${middle} age`].sort());
        expect(audit.body.entries.every((e: { actor: string }) => e.actor === "retention")).toBe(true);
    });

    it("fails a backup whose process died (lease expired) and removes its partial file", async () => {
        const [db] = await sqlIn<{ id: number }>(admin, api.databaseUrl, "SELECT id FROM databases WHERE name = 'orders-dev' AND state = 'ready'");
        const id = "00000000-0000-4000-8000-0000000000aa";
        await sqlIn(admin, api.databaseUrl, `INSERT INTO backups (id, database_id, database_name, owner, type, status, requested_by, worker_id, lease_until)
            VALUES ($1, $2, 'orders-dev', 'alice', 'manual', 'running', 'alice', 'backups-dead', now() - interval '1 minute')`, [id, db?.id]);
        fs.writeFileSync(path.join(dir(), ".partial", `${id}.dump`), "PGDMP half", { mode: 0o600 });
        await api.backups.recover();
        const b = await api.call("alice", "GET", `/databases/orders-dev/backups/${id}`);
        expect(b.body).toMatchObject({ status: "failed", error: expect.stringMatching(/process taking the backup stopped/) });
        expect(partials()).toEqual([]);
    });

    describe("POST /databases with backup_id", () => {
        let good: string;
        let failed: string;
        beforeAll(async () => {
            await readyDatabase("source-db");
            good = (await backUp("source-db")).id;
            await readyDatabase("source-bad", { password: "nope" });
            failed = (await backUp("source-bad")).id;
        });

        it("refuses both sources, a malformed id, an unknown or foreign id (alike: 404), and a backup that did not succeed", async () => {
            const both = await api.call("alice", "POST", "/databases", { body: createBody("from-both", { backup_id: good, backup_location: "https://backups.example.com/x.dump" }) });
            expect(both.status, both.text).toBe(400);
            expect(both.body.errors).toEqual([{ field: "body.backup_id", rule: "either backup_id or backup_location, not both" }]);
            const malformed = await api.call("alice", "POST", "/databases", { body: createBody("from-bad", { backup_id: "../../etc/passwd" }) });
            expect(malformed.status).toBe(400);
            expect(malformed.body.errors[0].field).toBe("body.backup_id");
            const unknown = await api.call("alice", "POST", "/databases", { body: createBody("from-unknown", { backup_id: "00000000-0000-4000-8000-000000000001" }) });
            const foreign = await api.call("bob", "POST", "/databases", { body: createBody("from-foreign", { backup_id: good }, "bob") });
            for (const r of [unknown, foreign]) {
                expect(r.status, r.text).toBe(404);
                expect(r.headers.get("content-type")).toMatch(/application\/problem\+json/);
                expect(r.body.errors).toEqual([{ field: "body.backup_id", rule: "a backup of yours (GET /databases/{name}/backups)" }]);
            }
            expect(foreign.body.detail.replace(good, "ID")).toBe(unknown.body.detail.replace("00000000-0000-4000-8000-000000000001", "ID"));
            const notDone = await api.call("alice", "POST", "/databases", { body: createBody("from-failed", { backup_id: failed }) });
            expect(notDone.status, notDone.text).toBe(409);
            expect(notDone.body.detail).toContain("is failed");
            expect((await api.call("alice", "GET", "/databases/from-foreign")).status).toBe(404);
        });

        it("stores the id, hands the engine a signed URL of the API that serves the dump, and refuses a tampered or expired one", async () => {
            const r = await api.call("alice", "POST", "/databases", { body: createBody("from-backup", { backup_id: good }) });
            expect(r.status, r.text).toBe(202);
            expect(r.body.database).toMatchObject({ backup_id: good, backup_location: null });
            await waitForState(api, "from-backup", "ready");
            const [stored] = await sqlIn<{ spec: { backup_id?: string; backup_location?: string } }>(admin, api.databaseUrl, "SELECT spec FROM databases WHERE name = 'from-backup'");
            expect(stored?.spec.backup_id).toBe(good);
            expect(stored?.spec.backup_location).toBeUndefined();
            const up = api.engine.callsOf("up", "from-backup")[0];
            const url = new URL(up?.spec?.backup_location ?? "");
            expect(`${url.origin}${url.pathname}`).toBe(`${FETCH_BASE}/backups/${good}/content`);
            expect(up?.spec?.backup_id).toBe(good);
            const expires = Number(url.searchParams.get("expires"));
            expect(expires * 1000).toBeGreaterThan(Date.now());

            // The restore's fetch, against this API (the base URL would be its public address).
            const res = await fetch(`${api.url}${url.pathname}${url.search}`);
            expect(res.status).toBe(200);
            expect(res.headers.get("content-type")).toBe("application/octet-stream");
            expect(Buffer.from(await res.arrayBuffer()).equals(fs.readFileSync(path.join(dir(), `${good}.dump`)))).toBe(true);
            const upperCase = await fetch(`${api.url}${url.pathname.replace(good, good.toUpperCase())}${url.search}`);
            expect(upperCase.status).toBe(200);
            await upperCase.body?.cancel();
            const served = await api.call("admin", "GET", "/audit?database=source-db&action=backup.content");
            expect(served.body.entries[0]).toMatchObject({ outcome: "served", detail: { backup_id: good } });

            const sig = url.searchParams.get("sig") ?? "";
            const tampered = await fetch(`${api.url}${url.pathname}?expires=${expires + 1}&sig=${sig}`);
            expect(tampered.status).toBe(403);
            expect(((await tampered.json()) as { errors: { field: string }[] }).errors[0]?.field).toBe("query.sig");
            const [key] = await sqlIn<{ key: Buffer }>(admin, api.databaseUrl, "SELECT key FROM backup_url_key");
            const past = Math.floor(Date.now() / 1000) - 60;
            const expired = await fetch(`${api.url}${url.pathname}?expires=${past}&sig=${signBackupContent(key?.key ?? Buffer.alloc(0), good, past)}`);
            expect(expired.status).toBe(403);
            expect(((await expired.json()) as { detail: string }).detail).toMatch(/not expired/);
            // A valid signature of one backup opens no other.
            expect((await fetch(`${api.url}/backups/${failed}/content?expires=${expires}&sig=${sig}`)).status).toBe(403);
        });

        it("lets an admin restore from anyone's backup; a server without DBAAS_BACKUP_FETCH_BASE_URL refuses backup_id (422)", async () => {
            const r = await api.call("admin", "POST", "/databases", { body: createBody("admin-restore", { backup_id: good }, "carol") });
            expect(r.status, r.text).toBe(202);
            const plain = await startTestApi(admin, { runJobs: false });
            try {
                const refused = await plain.call("alice", "POST", "/databases", { body: createBody("no-base", { backup_id: good }) });
                expect(refused.status, refused.text).toBe(422);
                expect(refused.body.detail).toMatch(/DBAAS_BACKUP_FETCH_BASE_URL/);
            } finally {
                await plain.close(100);
            }
        });
    });

    it("documents the backup routes in the OpenAPI document", async () => {
        const doc = await api.call(null, "GET", "/openapi.json");
        const paths = Object.keys(doc.body.paths as Record<string, unknown>);
        expect(paths).toEqual(expect.arrayContaining(["/databases/{name}/backups", "/databases/{name}/backups/{id}", "/backups/{id}/content"]));
        expect(doc.body.paths["/databases/{name}/backups"].post.responses["202"]).toBeDefined();
    });
});
