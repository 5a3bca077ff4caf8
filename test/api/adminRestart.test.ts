/**
 * The admin database restarts while creates run: a real PostgreSQL 17 of this
 * test's own (not the shared one) is stopped — a fast shutdown that cuts every
 * connection of the API's pool, its LISTEN client and the job runner — kept
 * down for a few seconds and started again on the same port and data, while
 * three creates are inside the engine (the test double, 1.5 s each, so
 * each finishes while the database is down). The API
 * reconnects by itself: /readyz fails while the database is down and is ready
 * again after; every accepted create ends ready; no operation, event or audit
 * entry written before or after the outage is lost. The second test runs with
 * one attempt: an outcome the engine reached during the outage is stored by the
 * runner's retried write on that attempt, not recovered by a re-run (before
 * api/store/connectionLoss.ts both creates failed "no attempts left"). (On the dev platform the
 * admin database is a container: restarting it is this, with Docker starting
 * the server.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeStackEngine } from "../support/fakeEngine";
import { startPostgres, type PostgresServer } from "../support/postgres";
import { createBody, sqlIn, startTestApi, waitFor, type TestApi } from "../support/testApi";

const NAMES = ["db-outage-1", "db-outage-2", "db-outage-3"];
let pg: PostgresServer;
let api: TestApi;
let engine: FakeStackEngine;

beforeAll(async () => {
    pg = await startPostgres(17, { restartable: true, initdbFlags: ["--no-sync"], postgresFlags: ["-c", "fsync=off"] });
    engine = new FakeStackEngine({ delayMs: 1500 });
    api = await startTestApi(pg, { engine, env: { DBAAS_JOB_LEASE_SECONDS: "2", DBAAS_JOB_POLL_MS: "100", DBAAS_RETRY_BASE_SECONDS: "0.2", DBAAS_RETRY_MAX_SECONDS: "1" } });
});
afterAll(async () => {
    await api?.close(1000);
    await pg?.stop();
});

describe("the admin database restarted during creates", () => {
    it("the API reconnects by itself and every accepted create ends ready, nothing lost", async () => {
        for (const name of NAMES) {
            const r = await api.call("alice", "POST", "/databases", { body: createBody(name) });
            expect(r.status, JSON.stringify(r.body)).toBe(202);
        }
        await waitFor("the creates inside the engine", () => (engine.active.size === NAMES.length ? true : undefined), 10_000);

        // Down for 5 s: the engine finishes all three (1.5 s each) while the API cannot write their outcome.
        const restarted = pg.restart(5000);
        await waitFor("/readyz to fail while the admin database is down", async () => ((await api.call(null, "GET", "/readyz")).status === 503 ? true : undefined), 10_000, 100);
        await restarted;
        await waitFor("/readyz ready again", async () => ((await api.call(null, "GET", "/readyz")).status === 200 ? true : undefined), 30_000, 200);

        const views = await waitFor("every create to end", async () => {
            const all = await Promise.all(NAMES.map(async (n) => (await api.call("alice", "GET", `/databases/${n}`)).body as { state: string; failure_reason: string | null }));
            return all.every((v) => v.state === "ready" || v.state === "failed") ? all : undefined;
        }, 60_000, 200);
        expect(views.map((v) => [v.state, v.failure_reason]), "every create ends ready").toEqual(NAMES.map(() => ["ready", null]));
        expect(engine.overlaps, "never two operations on one stack").toBe(0);

        const ops = await sqlIn<{ name: string; status: string }>(pg, api.databaseUrl,
            "SELECT d.name, o.status FROM operations o JOIN databases d ON d.id = o.database_id WHERE o.kind = 'create' ORDER BY d.name");
        expect(ops).toEqual(NAMES.map((name) => ({ name, status: "succeeded" })));
        const audit = await sqlIn<{ database: string; action: string; outcome: string }>(pg, api.databaseUrl,
            "SELECT database, action, outcome FROM audit_log ORDER BY id");
        for (const name of NAMES) {
            const mine = audit.filter((a) => a.database === name).map((a) => `${a.action} ${a.outcome}`);
            expect(mine[0], `${name}: the accepted request`).toBe("database.create accepted");
            expect(mine.at(-1), `${name}: the outcome`).toBe("operation.create succeeded");
        }
        // The stream of each create ends with its end event, written after the outage.
        for (const name of NAMES) {
            const events = await sqlIn<{ kind: string }>(pg, api.databaseUrl,
                "SELECT e.kind FROM operation_events e JOIN operations o ON o.id = e.operation_id JOIN databases d ON d.id = o.database_id WHERE d.name = $1 ORDER BY e.id", [name]);
            expect(events.at(-1)?.kind, name).toBe("end");
        }
    }, 120_000);

    it("an outcome the engine reached while the database was down is stored once it is back, on the same attempt (no re-run)", async () => {
        // One attempt, as the e2e tier runs: recovery of the operation could not save it, only the runner's own write.
        const one = await startTestApi(pg, { engine: new FakeStackEngine({ delayMs: 1500 }), env: { DBAAS_OPERATION_MAX_ATTEMPTS: "1", DBAAS_JOB_LEASE_SECONDS: "2", DBAAS_JOB_POLL_MS: "100" } });
        try {
            const names = ["db-outage-once-1", "db-outage-once-2"];
            for (const name of names) expect((await one.call("alice", "POST", "/databases", { body: createBody(name) })).status).toBe(202);
            await waitFor("the creates inside the engine", () => (one.engine.active.size === names.length ? true : undefined), 10_000);
            // Down for 4 s: both `up`s end (1.5 s) while their outcome cannot be written.
            await pg.restart(4000);
            const views = await waitFor("every create to end", async () => {
                const all = await Promise.all(names.map(async (n) => (await one.call("alice", "GET", `/databases/${n}`)).body as { state: string; failure_reason: string | null; last_operation: { attempts: number } }));
                return all.every((v) => v.state === "ready" || v.state === "failed") ? all : undefined;
            }, 60_000, 200);
            expect(views.map((v) => [v.state, v.failure_reason, v.last_operation.attempts])).toEqual(names.map(() => ["ready", null, 1]));
            for (const name of names) expect(one.engine.callsOf("up", name), `${name}: one up`).toHaveLength(1);
            const audit = await sqlIn<{ database: string; action: string; outcome: string }>(pg, one.databaseUrl, "SELECT database, action, outcome FROM audit_log ORDER BY id");
            for (const name of names) {
                expect(audit.filter((a) => a.database === name).map((a) => `${a.action} ${a.outcome}`)).toEqual(["database.create accepted", "operation.create succeeded"]);
            }
        } finally {
            await one.close(1000);
        }
    }, 120_000);
});
