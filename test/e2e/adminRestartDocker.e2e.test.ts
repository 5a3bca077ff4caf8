/**
 * The admin database's container is restarted while two creates run, every
 * part real: the admin PostgreSQL is the stand-in dbaas-e2e/postgres:17 as a
 * container on the private Docker engine of `e2e:up` (password file, PGDATA on
 * a named volume, published on 127.0.0.1), the API runs in this process with
 * the Automation API engine on the docker target (as ondemandDocker.e2e), and
 * each create restores a small dump from a backup server container over HTTPS
 * through the real fetch and restore steps. While both operations are inside
 * the engine, `docker restart` stops the admin server (fast shutdown: every
 * connection of the API's pools and its LISTEN client is cut) and starts it
 * again on the same volume and port. The API is not restarted: /readyz comes
 * back by itself, the LISTEN connection is there again, both creates end ready
 * (on the attempt they were on, or resumed), and the audit log holds both
 * accepted requests and both outcomes. The databases answer with the returned
 * credentials and DELETE removes their containers and volumes.
 * SIMULATED: the API's DNS answer for the backup host (as ondemandDocker.e2e).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import pgClient from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../api/freePort";
import { dockerObjectName } from "../../components/ondemand";
import { createBody, waitFor, type TestApi } from "../support/testApi";
import { engineMissing, requirePulumi } from "./engine";
import { containerExists, docker, dockerProblem, startBackupServer, volumeExists, type BackupServer } from "./dockerTarget";
import { setUpDockerE2e, startDockerEngineApi, waitDeleted, type DockerE2e } from "./ondemandApi";

/** The stand-in of postgres:17 that `e2e:up` builds: the admin database and the databases created. */
const IMAGE = "dbaas-e2e/postgres:17";
const NAMES = ["adminrestart-a", "adminrestart-b"] as const;
const suffix = `${process.pid}`;
const ADMIN = `adminrestart-admin-${suffix}`;
const ADMIN_VOLUME = `adminrestart-admin-data-${suffix}`;
const ADMIN_PASSWORD = "adminrestart-e2e-password";

const missing = requirePulumi() ?? engineMissing("the Docker engine and provider", dockerProblem([IMAGE, "dbaas-e2e/node:20", "dbaas-e2e/curl:7"]));


/** Whether a fresh TCP client gets an answer from the admin server (the init step's server listens on the socket only). */
async function adminAnswers(url: string): Promise<boolean> {
    const c = new pgClient.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    c.on("error", () => undefined);
    try {
        await c.connect();
        await c.query("SELECT 1");
        return true;
    } catch {
        return false;
    } finally {
        await c.end().catch(() => undefined);
    }
}

async function adminRows<T extends pgClient.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
    const c = new pgClient.Client({ connectionString: url });
    await c.connect();
    try {
        return (await c.query<T>(sql, params)).rows;
    } finally {
        await c.end();
    }
}

interface DbView {
    state: string; failure_reason: string | null;
    endpoint: { host: string; port: number } | null;
    last_operation: { id: number; kind: string; status: string; attempts: number } | null;
    credentials?: { password: string };
}

describe.skipIf(missing)("the admin database's container restarted while two creates run (docker target, real engine)", () => {
    let e2e: DockerE2e;
    let api: TestApi | undefined;
    let close: (() => Promise<void>) | undefined;
    let adminUrl = "";
    let dir = "";
    let backups: BackupServer | undefined;

    const view = async (name: string) => (await api!.call("alice", "GET", `/databases/${name}`)).body as DbView;

    beforeAll(async () => {
        e2e = await setUpDockerE2e("adminrestart-e2e", IMAGE);

        // The admin database: the official image's contract (password file, PGDATA on the volume, uid 999).
        dir = path.join(e2e.tmp, "admin");
        fs.mkdirSync(dir, { mode: 0o755 });
        fs.writeFileSync(path.join(dir, "password"), ADMIN_PASSWORD, { mode: 0o644 });
        const port = await freePort();
        const run = docker(["run", "-d", "--name", ADMIN, "--label", "dbaas.io/e2e=adminrestart", "--memory", "256m",
            "-e", "POSTGRES_PASSWORD_FILE=/run/admin/password", "-e", "PGDATA=/var/lib/postgresql/data/pgdata",
            "-v", `${dir}:/run/admin:ro`, "-v", `${ADMIN_VOLUME}:/var/lib/postgresql/data`,
            "-p", `127.0.0.1:${port}:5432`, IMAGE]);
        expect(run.status, run.stderr).toBe(0);
        expect(docker(["exec", ADMIN, "id", "-u", "postgres"]).stdout.trim()).toBe("999");
        adminUrl = `postgresql://postgres:${ADMIN_PASSWORD}@127.0.0.1:${port}/postgres`;
        await waitFor("the admin container to accept TCP connections", async () => ((await adminAnswers(adminUrl)) ? true : undefined), 120_000, 500);

        // The backup server: the stand-in Node image serving two small dumps over HTTPS on a network of its own.
        backups = await startBackupServer({
            tmp: e2e.tmp, prefix: `adminrestart-backups-${suffix}`, label: "dbaas.io/e2e=adminrestart",
            thirds: [120, 140, 160, 180, 200].map((b) => b + (process.pid % 20)),
            files: Object.fromEntries(NAMES.map((name) => [`${name}.sql`, [
                "CREATE TABLE kept (id integer PRIMARY KEY, note text NOT NULL);",
                `INSERT INTO kept SELECT g, '${name} row ' || g FROM generate_series(1, 1000) AS g;`,
                "",
            ].join("\n")])),
        });
        ({ api, close } = await startDockerEngineApi(e2e, backups.env, backups.resolver, adminUrl));
    }, 600_000);

    afterAll(async () => {
        await close?.();
        for (const name of NAMES) {
            docker(["rm", "-f", dockerObjectName(name), dockerObjectName(name, "fetch")]);
            docker(["volume", "rm", "-f", dockerObjectName(name, "data")]);
        }
        backups?.stop();
        docker(["rm", "-f", ADMIN]);
        docker(["volume", "rm", "-f", ADMIN_VOLUME]);
        await e2e?.tearDown();
    }, 600_000);

    it("the API reconnects by itself; both creates end ready and every audit entry is kept", async () => {
        expect((await api!.call(null, "GET", "/readyz")).body, "ready before").toEqual({ status: "ready" });
        const started = Date.now();
        const ops = new Map<string, number>();
        for (const name of NAMES) {
            const r = await api!.call("alice", "POST", "/databases", { body: createBody(name, { backup_location: `https://${backups?.host}/${name}.sql` }) });
            expect(r.status, JSON.stringify(r.body)).toBe(202);
            ops.set(name, (r.body as { operation: { id: number } }).operation.id);
        }

        // Both inside the engine: each operation running and its fetch step's container made by the provider.
        await waitFor("both creates to be inside the engine", async () => {
            const views = await Promise.all(NAMES.map(view));
            return views.every((v) => v.state === "creating" && v.last_operation?.status === "running") && NAMES.every((n) => containerExists(dockerObjectName(n, "fetch"))) ? true : undefined;
        }, 300_000, 200);
        console.log(`both creates inside the engine ${Math.round((Date.now() - started) / 1000)} s after the first POST`);

        // The restart, and how long the server did not answer: polled from here while `docker restart` runs.
        const restartAt = Date.now();
        let lastDown = restartAt;
        let down = true;
        const watching = (async () => {
            while (down) {
                if (await adminAnswers(adminUrl)) down = false;
                else lastDown = Date.now();
                await new Promise((r) => setTimeout(r, 100));
            }
        })();
        let readyzFailed = false;
        const readyzWatch = (async () => {
            while (down) {
                if ((await api!.call(null, "GET", "/readyz")).status === 503) readyzFailed = true;
                await new Promise((r) => setTimeout(r, 100));
            }
        })();
        const restarted = docker(["restart", "-t", "10", ADMIN]);
        expect(restarted.status, restarted.stderr).toBe(0);
        const restartCommandMs = Date.now() - restartAt;
        await waitFor("the admin container to answer again", () => (down ? undefined : true), 120_000, 100);
        await Promise.all([watching, readyzWatch]);
        const upAt = Date.now();
        const outageMs = lastDown - restartAt;
        const stillCreating = (await Promise.all(NAMES.map((n) => adminRows<{ state: string }>(adminUrl, "SELECT state FROM databases WHERE name = $1", [n]))))
            .map((rows) => rows[0]?.state);

        await waitFor("/readyz ready again", async () => ((await api!.call(null, "GET", "/readyz")).status === 200 ? true : undefined), 60_000, 100);
        const readyAfterMs = Date.now() - upAt;
        const listen = await waitFor("the LISTEN connection to be back", async () => {
            const rows = await adminRows<{ backend_start: Date }>(adminUrl, "SELECT backend_start FROM pg_stat_activity WHERE application_name = 'dbaas-api-listen'");
            return rows.length > 0 ? rows : undefined;
        }, 30_000, 200);
        const listenAfterMs = Math.max(0, Math.max(...listen.map((r) => r.backend_start.getTime())) - upAt);
        console.log(`admin container: docker restart took ${restartCommandMs} ms, no answer for ~${outageMs} ms; /readyz ${readyzFailed ? "was 503 during the outage, " : ""}ready ${readyAfterMs} ms after the server answered; LISTEN back ${listenAfterMs} ms after; states at restart end: ${stillCreating.join(", ")}`);
        expect(stillCreating, "the outage fell inside both creates").toEqual(NAMES.map(() => "creating"));

        const views = await waitFor("both creates to end", async () => {
            const all = await Promise.all(NAMES.map(view));
            return all.every((v) => v.state === "ready" || v.state === "failed") ? all : undefined;
        }, 600_000, 1000);
        console.log(`both creates ended ${Math.round((Date.now() - restartAt) / 1000)} s after the restart began (${Math.round((Date.now() - started) / 1000)} s after the first POST)`);
        expect(views.map((v) => [v.state, v.failure_reason]), "each accepted create ends ready").toEqual(NAMES.map(() => ["ready", null]));
        // The same operation each request was answered with, finished: none lost, none replaced.
        expect(views.map((v) => [v.last_operation?.id, v.last_operation?.kind, v.last_operation?.status])).toEqual(NAMES.map((n) => [ops.get(n), "create", "succeeded"]));
        console.log(`attempts: ${views.map((v, i) => `${NAMES[i]} ${v.last_operation?.attempts}`).join(", ")}`);

        for (const name of NAMES) {
            const entries = ((await api!.call("admin", "GET", `/audit?database=${name}&limit=100`)).body as { entries: { action: string; outcome: string; operation_id: number | null }[] }).entries.reverse();
            const trail = entries.map((e) => `${e.action} ${e.outcome}`);
            console.log(`${name} audit: ${trail.join(" → ")}`);
            expect(trail[0], `${name}: the accepted request`).toBe("database.create accepted");
            expect(trail.at(-1), `${name}: the outcome`).toBe("operation.create succeeded");
            // Between the two only a resume may stand (the design's recovery), never a failure or a retry of a lost write.
            expect(trail.slice(1, -1).every((t) => t === "operation.create resumed"), trail.join(", ")).toBe(true);
            expect(entries.every((e) => e.operation_id === ops.get(name))).toBe(true);
        }
        // The stream of each create ends with its end event.
        for (const name of NAMES) {
            const events = await adminRows<{ kind: string }>(adminUrl, "SELECT kind FROM operation_events WHERE operation_id = $1 ORDER BY id", [ops.get(name)]);
            expect(events.at(-1)?.kind, name).toBe("end");
        }

        for (const name of NAMES) {
            const secret = (await api!.call("alice", "GET", `/databases/${name}?include=password`)).body as DbView;
            const c = new pgClient.Client({ host: secret.endpoint?.host, port: secret.endpoint?.port, user: "postgres", password: secret.credentials?.password, database: name, ssl: false });
            await c.connect();
            try {
                expect((await c.query<{ n: number; first: string }>("SELECT count(*)::int AS n, min(note) FILTER (WHERE id = 1) AS first FROM kept")).rows).toEqual([{ n: 1000, first: `${name} row 1` }]);
            } finally {
                await c.end();
            }
        }
    }, 1_200_000);

    it("DELETE removes both databases' containers and volumes", async () => {
        for (const name of NAMES) expect((await api!.call("alice", "DELETE", `/databases/${name}`)).status).toBe(202);
        for (const name of NAMES) await waitDeleted(api!, name, 300_000);
        for (const name of NAMES) {
            expect(containerExists(dockerObjectName(name)), `${name}: the server container`).toBe(false);
            expect(containerExists(dockerObjectName(name, "fetch")), `${name}: the fetch container`).toBe(false);
            expect(volumeExists(dockerObjectName(name, "data")), `${name}: the volume`).toBe(false);
        }
    }, 600_000);
});
