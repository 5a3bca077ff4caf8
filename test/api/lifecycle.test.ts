/**
 * Every state transition of a database through the HTTP API, every illegal
 * one (409 naming the current state), the job runner's retries, timeouts,
 * cancellation, concurrency cap, one-operation-per-database rule, the expiry
 * reaper and the hand-back at shutdown; against a real admin database with
 * the engine test double.
 */
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-return -- assertions read JSON response bodies (typed any in test/support/testApi.ts) */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { sharedPostgres, type PostgresServer } from "../support/postgres";
import { FAKE_SECRET, FakeStackEngine } from "../support/fakeEngine";
import { createBody, readSse, sqlIn, startTestApi, TOKENS, waitFor, waitForState, type TestApi } from "../support/testApi";

let pg: PostgresServer;
/** One API for the tests that need no special settings (names are unique per test). */
let shared: TestApi;
let api: TestApi | undefined;
beforeAll(async () => {
    pg = await sharedPostgres();
    // Tests leave hanging operations behind (held in creating/restarting/deleting); a high cap keeps them from starving the rest.
    shared = await startTestApi(pg, { env: { DBAAS_MAX_CONCURRENT_OPERATIONS: "32" } });
});
afterEach(async () => {
    await api?.close(200);
    api = undefined;
});
afterAll(async () => {
    await shared?.close(200);
    await pg?.stop();
});

async function start(engine?: FakeStackEngine, env?: Record<string, string>): Promise<TestApi> {
    if (engine === undefined && env === undefined) return shared;
    api = await startTestApi(pg, { engine: engine ?? new FakeStackEngine(), env: env ?? {} });
    return api;
}

async function create(a: TestApi, name: string, extra: Record<string, unknown> = {}) {
    const r = await a.call("alice", "POST", "/databases", { body: createBody(name, extra) });
    expect(r.status, r.text).toBe(202);
    return r;
}

/** Brings a database into `state` (creating and restarting are held by a hanging engine). */
async function bringTo(a: TestApi, name: string, state: string): Promise<void> {
    const e = a.engine;
    if (state === "creating") e.script("up", name, { hang: true });
    if (state === "failed") e.script("up", name, { failTimes: Infinity, failWith: "program" });
    if (state === "deleting") e.script("destroy", name, { hang: true });
    await create(a, name);
    if (state === "creating") return void (await waitFor("up to start", () => Promise.resolve(e.active.has(name) ? true : undefined)));
    if (state === "failed") return void (await waitForState(a, name, "failed"));
    await waitForState(a, name, "ready");
    if (state === "ready") return;
    if (state === "restarting") {
        e.script("restart", name, { hang: true });
        const r = await a.call("alice", "POST", `/databases/${name}/restart`);
        expect(r.status, r.text).toBe(202);
        return void (await waitFor("restart to start", () => Promise.resolve(e.active.has(name) ? true : undefined)));
    }
    expect((await a.call("alice", "DELETE", `/databases/${name}`)).status).toBe(202);
    if (state === "deleted") await waitForState(a, name, "deleted");
}

const ACTION_REQUESTS = {
    restart: ["POST", "restart"],
    retry: ["POST", "retry"],
    cancel: ["POST", "cancel"],
    delete: ["DELETE", ""],
    extend: ["PATCH", ""],
} as const;

describe("illegal transitions answer 409 with the current state", () => {
    const cases: [string, (keyof typeof ACTION_REQUESTS)[]][] = [
        ["creating", ["restart", "retry"]],
        ["ready", ["retry", "cancel"]],
        ["restarting", ["restart", "retry"]],
        ["failed", ["restart", "cancel"]],
        ["deleting", ["restart", "retry", "cancel", "delete", "extend"]],
        ["deleted", ["restart", "retry", "cancel", "delete", "extend"]],
    ];
    it.each(cases)("in %s: %j are refused and audited", async (state, actions) => {
        const a = await start();
        const name = `db-${state}`;
        await bringTo(a, name, state);
        for (const action of actions) {
            const [method, suffix] = ACTION_REQUESTS[action];
            const r = await a.call("alice", method, `/databases/${name}${suffix ? `/${suffix}` : ""}`, action === "extend" ? { body: { ttl_hours: 2 } } : {});
            expect(r.status, `${action} in ${state}: ${r.text}`).toBe(409);
            expect(r.headers.get("content-type")).toMatch(/^application\/problem\+json/);
            expect(r.body).toMatchObject({ status: 409, state, errors: [{ field: "params.name" }] });
            expect(r.body.detail).toContain(`it is ${state}`);
        }
        const got = await a.call("alice", "GET", `/databases/${name}`);
        expect(got.body.state).toBe(state);
        const audit = await a.call("admin", "GET", `/audit?database=${name}`);
        const refused = (audit.body.entries as { outcome: string }[]).filter((e) => e.outcome === "refused");
        expect(refused).toHaveLength(actions.length);
    });

    it("a taken name answers 409 whatever its state, with the state for the owner only", async () => {
        const a = await start();
        await bringTo(a, "db-taken", "failed");
        const again = await a.call("alice", "POST", "/databases", { body: createBody("db-taken") });
        expect(again.status).toBe(409);
        expect(again.body).toMatchObject({ state: "failed", errors: [{ field: "body.name" }] });
        const other = await a.call("bob", "POST", "/databases", { body: createBody("db-taken", {}, "bob") });
        expect(other.status).toBe(409);
        expect(other.body.state).toBeUndefined();
        expect(other.text).not.toContain("failed");
    });
});

describe("legal transitions", () => {
    it("creating → ready → restarting → ready → deleting → deleted, then the name is free again", async () => {
        const a = await start();
        const created = await create(a, "db-life");
        expect(created.body).toMatchObject({ database: { name: "db-life", state: "creating" }, operation: { kind: "create", status: "queued" } });
        expect(created.headers.get("location")).toBe("/databases/db-life");
        const ready = await waitForState(a, "db-life", "ready");
        expect(ready).toMatchObject({ endpoint: { host: "127.0.0.1", port: 15432, user: "owner" }, last_operation: { kind: "create", status: "succeeded", attempts: 1 } });
        expect(JSON.stringify(ready)).not.toContain(a.engine.stacks.get("db-life")?.password ?? "no password");

        a.engine.script("restart", "db-life", { delayMs: 150 });
        const restart = await a.call("alice", "POST", "/databases/db-life/restart");
        expect(restart.status).toBe(202);
        expect(restart.body.database.state).toBe("restarting");
        expect((await a.call("alice", "GET", "/databases/db-life")).body.state).toBe("restarting");
        const restarted = await waitForState(a, "db-life", "ready");
        expect(a.engine.callsOf("restart", "db-life")).toHaveLength(1);
        // The replaced server is published on another port (the test engine moves it, as Docker does): the endpoint follows.
        expect(restarted).toMatchObject({ endpoint: { host: "127.0.0.1", port: 15433, user: "owner" }, last_operation: { kind: "restart", status: "succeeded" } });

        const del = await a.call("alice", "DELETE", "/databases/db-life");
        expect(del.status).toBe(202);
        expect(del.body).toMatchObject({ database: { state: "deleting" }, operation: { kind: "delete" } });
        const gone = await waitForState(a, "db-life", "deleted");
        expect(gone.endpoint).toBeNull();
        expect(a.engine.stacks.has("db-life")).toBe(false);
        const listed = (await a.call("alice", "GET", "/databases?limit=500")).body.databases as { name: string }[];
        expect(listed.map((d) => d.name)).not.toContain("db-life");

        await create(a, "db-life");
        await waitForState(a, "db-life", "ready");
        expect(a.engine.overlaps).toBe(0);
    });

    it("creating → failed (program error) → creating (retry) → ready", async () => {
        const a = await start();
        a.engine.script("up", "db-retry", { failTimes: 1, failWith: "program" });
        await create(a, "db-retry");
        const failed = await waitForState(a, "db-retry", "failed");
        expect(failed.failure_reason).toBe("the container did not become healthy (scripted)");
        expect(failed.last_operation).toMatchObject({ status: "failed", attempts: 1 });
        const retry = await a.call("alice", "POST", "/databases/db-retry/retry");
        expect(retry.status).toBe(202);
        expect(retry.body.database).toMatchObject({ state: "creating", failure_reason: null });
        await waitForState(a, "db-retry", "ready");
        expect(a.engine.callsOf("up", "db-retry")).toHaveLength(2);
    });

    it("creating → failed by cancel; the running up is aborted", async () => {
        const a = await start();
        await bringTo(a, "db-cancel", "creating");
        const r = await a.call("alice", "POST", "/databases/db-cancel/cancel");
        expect(r.status).toBe(202);
        expect(r.body.database).toMatchObject({ state: "failed", failure_reason: "cancelled by alice" });
        await waitFor("the up to stop", () => Promise.resolve(a.engine.active.has("db-cancel") ? undefined : true));
        const op = await waitFor("operation cancelled", async () => {
            const g = await a.call("alice", "GET", "/databases/db-cancel");
            return g.body.last_operation.status === "cancelled" ? g.body.last_operation : undefined;
        });
        expect(op.error).toBe("cancelled by alice");
        expect((await a.call("alice", "GET", "/databases/db-cancel")).body.state).toBe("failed");
    });

    it("creating → deleting: the delete cancels the create and runs after it, never alongside", async () => {
        const a = await start();
        await bringTo(a, "db-supersede", "creating");
        const del = await a.call("alice", "DELETE", "/databases/db-supersede");
        expect(del.status).toBe(202);
        await waitForState(a, "db-supersede", "deleted");
        const up = a.engine.callsOf("up", "db-supersede")[0];
        const destroy = a.engine.callsOf("destroy", "db-supersede")[0];
        expect(up && destroy && destroy.at >= up.at).toBe(true);
        expect(a.engine.overlaps).toBe(0);
    });

    it("restarting → failed (restart fails) → deleting → deleted", async () => {
        const a = await start();
        await bringTo(a, "db-rfail", "ready");
        a.engine.script("restart", "db-rfail", { failTimes: Infinity, failWith: "program" });
        expect((await a.call("alice", "POST", "/databases/db-rfail/restart")).status).toBe(202);
        await waitForState(a, "db-rfail", "failed");
        expect((await a.call("alice", "DELETE", "/databases/db-rfail")).status).toBe(202);
        await waitForState(a, "db-rfail", "deleted");
    });

    it("restarting → failed by cancel; restarting → deleting", async () => {
        const a = await start();
        await bringTo(a, "db-rcancel", "restarting");
        expect((await a.call("alice", "POST", "/databases/db-rcancel/cancel")).body.database.state).toBe("failed");
        await bringTo(a, "db-rdel", "restarting");
        expect((await a.call("alice", "DELETE", "/databases/db-rdel")).body.database.state).toBe("deleting");
        await waitForState(a, "db-rdel", "deleted");
        expect(a.engine.overlaps).toBe(0);
    });

    it("deleting → failed (destroy fails) → deleting again → deleted", async () => {
        const a = await start();
        await bringTo(a, "db-dfail", "ready");
        a.engine.script("destroy", "db-dfail", { failTimes: 1, failWith: "program" });
        await a.call("alice", "DELETE", "/databases/db-dfail");
        await waitForState(a, "db-dfail", "failed");
        expect((await a.call("alice", "DELETE", "/databases/db-dfail")).status).toBe(202);
        await waitForState(a, "db-dfail", "deleted");
    });

    it("failed → deleting → deleted (a failed create can be deleted)", async () => {
        const a = await start();
        await bringTo(a, "db-fdel", "failed");
        expect((await a.call("alice", "DELETE", "/databases/db-fdel")).status).toBe(202);
        await waitForState(a, "db-fdel", "deleted");
    });

    it.each(["creating", "ready", "restarting", "failed"])("extend (PATCH ttl_hours) in %s keeps the state and moves the expiry", async (state) => {
        const a = await start();
        const name = `db-x-${state}`;
        await bringTo(a, name, state);
        const before = Date.now();
        const r = await a.call("alice", "PATCH", `/databases/${name}`, { body: { ttl_hours: 48 } });
        expect(r.status, r.text).toBe(200);
        expect(r.body).toMatchObject({ state, ttl_hours: 48 });
        const expires = Date.parse(r.body.expires_at as string);
        expect(expires).toBeGreaterThanOrEqual(before + 48 * 3600_000 - 1000);
        expect(expires).toBeLessThanOrEqual(Date.now() + 48 * 3600_000 + 1000);
    });
});

describe("job runner", () => {
    it("retries transient engine errors with backoff, then succeeds; the audit log shows each retry", async () => {
        const a = await start();
        a.engine.script("up", "db-flaky", { failTimes: 2, failWith: "transient" });
        await create(a, "db-flaky");
        const ready = await waitForState(a, "db-flaky", "ready");
        expect(ready.last_operation.attempts).toBe(3);
        const audit = await a.call("admin", "GET", "/audit?database=db-flaky&action=operation.create");
        expect((audit.body.entries as { outcome: string }[]).map((e) => e.outcome)).toEqual(["succeeded", "retrying", "retrying"]);
        const calls = a.engine.callsOf("up", "db-flaky").map((c) => c.at);
        expect(calls).toHaveLength(3);
        expect((calls[1] ?? 0) - (calls[0] ?? 0)).toBeGreaterThanOrEqual(25);
    });

    it("does not retry a permanent error; the unknown error's text stays out of every response", async () => {
        const a = await start();
        a.engine.script("up", "db-crash", { failTimes: Infinity, failWith: "crash" });
        await create(a, "db-crash");
        const failed = await waitForState(a, "db-crash", "failed");
        expect(failed.failure_reason).toBe("the provisioning engine failed (details are in the server log)");
        expect(a.engine.callsOf("up", "db-crash")).toHaveLength(1);
        const texts = [
            JSON.stringify(failed),
            (await a.call("admin", "GET", "/audit?database=db-crash")).text,
            (await a.call("alice", "GET", "/databases?state=failed")).text,
        ];
        for (const t of texts) expect(t).not.toContain(FAKE_SECRET);
        expect(a.logs.text).toContain("engine call failed");
    });

    it("gives up on transient errors after DBAAS_OPERATION_MAX_ATTEMPTS", async () => {
        const a = await start(new FakeStackEngine(), { DBAAS_OPERATION_MAX_ATTEMPTS: "2" });
        a.engine.script("up", "db-down", { failTimes: Infinity, failWith: "concurrent" });
        await create(a, "db-down");
        const failed = await waitForState(a, "db-down", "failed");
        expect(failed.failure_reason).toBe("the stack is locked by another update (gave up after 2 attempts)");
    });

    it("fails an operation that exceeds its timeout, aborting the engine", async () => {
        const a = await start(new FakeStackEngine(), { DBAAS_OPERATION_TIMEOUT_SECONDS: "1" });
        a.engine.script("up", "db-slow", { hang: true });
        await create(a, "db-slow");
        const failed = await waitForState(a, "db-slow", "failed", 5000);
        expect(failed.failure_reason).toBe("timed out after 1 s");
        expect(a.engine.active.has("db-slow")).toBe(false);
    });

    it("never runs more than DBAAS_MAX_CONCURRENT_OPERATIONS operations at once", async () => {
        const a = await start(new FakeStackEngine({ delayMs: 200 }), { DBAAS_MAX_CONCURRENT_OPERATIONS: "2" });
        const names = ["db-c1", "db-c2", "db-c3", "db-c4", "db-c5"];
        await Promise.all(names.map((n) => create(a, n)));
        for (const n of names) await waitForState(a, n, "ready");
        expect(a.engine.maxActive).toBe(2);
    });

    it("the reaper deletes expired databases and audits it as the reaper", async () => {
        const a = await start(new FakeStackEngine(), { DBAAS_REAPER_INTERVAL_SECONDS: "0.2" });
        await bringTo(a, "db-old", "ready");
        await bringTo(a, "db-young", "ready");
        await sqlIn(pg, a.databaseUrl, "UPDATE databases SET expires_at = now() - interval '1 minute' WHERE name = 'db-old'");
        await waitForState(a, "db-old", "deleted");
        expect((await a.call("alice", "GET", "/databases/db-young")).body.state).toBe("ready");
        const audit = await a.call("admin", "GET", "/audit?database=db-old&action=database.expire");
        expect(audit.body.entries).toMatchObject([{ actor: "reaper", outcome: "accepted" }]);
    });

    it("an operation cancelled while still queued ends its event stream", async () => {
        // No job runner: operations stay queued.
        const a = (api = await startTestApi(pg, { runJobs: false }));
        for (const [name, act] of [["db-q-cancel", "cancel"], ["db-q-delete", "delete"]] as const) {
            const created = await create(a, name);
            const stream = readSse(`${a.url}/databases/${name}/events?operation=${created.body.operation.id}`, TOKENS.alice, {}, 10_000);
            await new Promise((r) => setTimeout(r, 300));
            const r = act === "cancel" ? await a.call("alice", "POST", `/databases/${name}/cancel`) : await a.call("alice", "DELETE", `/databases/${name}`);
            expect(r.status).toBe(202);
            const frames = (await stream).frames;
            expect(frames.at(-1)?.event).toBe("end");
            expect(JSON.parse(frames.at(-1)?.data ?? "{}")).toMatchObject({ status: "cancelled" });
        }
        expect((await a.call("alice", "GET", "/databases/db-q-cancel")).body).toMatchObject({ state: "failed", last_operation: { status: "cancelled" } });
        expect((await a.call("alice", "GET", "/databases/db-q-delete")).body).toMatchObject({ state: "deleting", last_operation: { kind: "delete", status: "queued" } });
    });

    it("at shutdown hands a running operation back; the next start resumes it", async () => {
        const engine = new FakeStackEngine();
        engine.script("up", "db-handback", { hang: true });
        const first = await start(engine);
        await create(first, "db-handback");
        await waitFor("up to start", () => Promise.resolve(engine.active.has("db-handback") ? true : undefined));
        // A watcher's open event stream must not hold the shutdown open.
        const watching = readSse(`${first.url}/databases/db-handback/events`, TOKENS.alice, {}, 20_000);
        await new Promise((r) => setTimeout(r, 300));
        const t0 = Date.now();
        await first.close(100);
        const stream = await watching;
        expect(Date.now() - t0).toBeLessThan(5000);
        expect(stream.frames.map((f) => f.event)).toContain("status");
        api = undefined;
        const rows = await sqlIn<{ status: string; attempts: number }>(pg, first.databaseUrl, "SELECT status, attempts FROM operations");
        expect(rows).toEqual([{ status: "queued", attempts: 0 }]);

        const engine2 = new FakeStackEngine();
        api = await startTestApi(pg, { engine: engine2, databaseUrl: first.databaseUrl });
        const ready = await waitForState(api, "db-handback", "ready");
        expect(ready.last_operation.attempts).toBe(1);
    });
});
