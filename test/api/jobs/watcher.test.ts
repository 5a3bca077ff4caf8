/**
 * The runtime watcher against the real admin database, and its inspector
 * against a stand-in of the Docker Engine API on a unix socket (the real
 * engine: test/e2e/ondemandDocker.e2e.test.ts kills a real container).
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dockerInspector, type RuntimeObservation } from "../../../api/engine/dockerRuntime";
import { RuntimeWatcher } from "../../../api/jobs/watcher";
import { sharedPostgres, type PostgresServer } from "../../support/postgres";
import { createBody, startTestApi, waitFor, type TestApi } from "../../support/testApi";

let pg: PostgresServer;
let api: TestApi;
let seen: Record<string, RuntimeObservation> = {};
let watcher: RuntimeWatcher;

beforeAll(async () => {
    pg = await sharedPostgres();
    api = await startTestApi(pg);
    watcher = new RuntimeWatcher({
        store: api.store, intervalMs: 60_000, log: pino({ level: "silent" }),
        inspect: (name) => {
            const o = seen[name];
            return o === undefined ? Promise.reject(new Error("engine unreachable")) : Promise.resolve(o);
        },
    });
});
afterAll(async () => {
    await api?.close(1000);
    await pg?.stop();
});

const up: RuntimeObservation = { status: "running", health: "healthy", restarts: 0, started_at: "2026-12-02T05:00:00.000Z", exit_code: null };
const view = async (name: string) => (await api.call("alice", "GET", `/databases/${name}`)).body as { state: string; runtime: { status: string; restarts: number; since: string } | null };
const audit = async (name: string) => ((await api.call("admin", "GET", `/audit?database=${name}`)).body as { entries: { action: string; outcome: string; actor: string }[] }).entries
    .filter((e) => e.outcome === "noticed").map((e) => e.action).reverse();
const ready = (name: string) => waitFor(`${name} ready`, async () => ((await view(name)).state === "ready" ? true : undefined));

describe("the runtime watcher", () => {
    it("shows what it saw in the view and the list, and audits only what happened outside an operation", async () => {
        expect((await api.call("alice", "POST", "/databases", { body: createBody("db-watched") })).status).toBe(202);
        await ready("db-watched");
        expect((await view("db-watched")).runtime, "not seen yet").toBeNull();

        seen = { "db-watched": up };
        expect(await watcher.tick()).toBe(1);
        expect((await view("db-watched")).runtime).toMatchObject({ status: "running", health: "healthy", restarts: 0 });
        expect(await watcher.tick(), "an unchanged server writes nothing").toBe(0);

        seen = { "db-watched": { ...up, restarts: 1, started_at: "2026-12-02T05:10:00.000Z" } };
        await watcher.tick();
        seen = { "db-watched": { ...up, status: "exited", health: null, restarts: 1, exit_code: 137 } };
        await watcher.tick();
        const list = (await api.call("alice", "GET", "/databases")).body as { databases: { name: string; runtime: { status: string } | null }[] };
        expect(list.databases.find((d) => d.name === "db-watched")?.runtime?.status, "the list shows it too").toBe("exited");
        seen = { "db-watched": { ...up, restarts: 1 } };
        await watcher.tick();
        expect(await audit("db-watched")).toEqual(["database.unplanned_restart", "database.down", "database.up"]);

        // A planned restart: the operation forgets the observation, the watcher skips the busy database.
        api.engine.script("restart", "db-watched", { delayMs: 400 });
        expect((await api.call("alice", "POST", "/databases/db-watched/restart")).status).toBe(202);
        expect((await view("db-watched")).runtime).toBeNull();
        seen = { "db-watched": { ...up, restarts: 0, started_at: "2026-12-02T05:20:00.000Z" } };
        expect(await watcher.tick(), "skipped while the restart runs").toBe(0);
        await ready("db-watched");
        await watcher.tick();
        expect((await view("db-watched")).runtime).toMatchObject({ status: "running", restarts: 0 });
        expect(await audit("db-watched"), "the planned restart is not reported").toEqual(["database.unplanned_restart", "database.down", "database.up"]);
    });

    it("logs and skips a server it cannot inspect, and looks at the others", async () => {
        expect((await api.call("alice", "POST", "/databases", { body: createBody("db-watched-2") })).status).toBe(202);
        await ready("db-watched-2");
        seen = { "db-watched-2": up };
        expect(await watcher.tick()).toBe(1);
        expect((await view("db-watched-2")).runtime?.status).toBe("running");
    });
});

describe("dockerInspector", () => {
    let dir: string;
    let server: http.Server;
    beforeAll(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-docker-api-"));
        server = http.createServer((req, res) => {
            if (req.url === "/containers/dbaas-db-orders/json") {
                res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ RestartCount: 3, State: { Status: "running", StartedAt: "2026-12-02T05:00:00Z", ExitCode: 0 } }));
            } else if (req.url === "/containers/dbaas-db-broken/json") {
                res.writeHead(500).end("{}");
            } else {
                res.writeHead(404).end('{"message":"No such container"}');
            }
        });
        await new Promise<void>((resolve) => server.listen(path.join(dir, "docker.sock"), resolve));
    });
    afterAll(async () => {
        await new Promise((resolve) => server.close(resolve));
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("reads the database's container from the engine's socket; 404 is missing; other answers reject naming the call", async () => {
        const inspect = dockerInspector(`unix://${path.join(dir, "docker.sock")}`);
        expect(inspect).toBeDefined();
        expect(await inspect?.("orders")).toEqual({ status: "running", health: null, restarts: 3, started_at: "2026-12-02T05:00:00.000Z", exit_code: null });
        expect(await inspect?.("gone")).toMatchObject({ status: "missing" });
        await expect(inspect?.("broken")).rejects.toThrow(/GET \/containers\/dbaas-db-broken\/json with HTTP 500/);
        expect(dockerInspector("ssh://docker.example.com")).toBeUndefined();
    });
});
