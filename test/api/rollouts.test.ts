/**
 * Rolling patches through the HTTP API, on a real admin database with the
 * engine test double: databases created on one catalog, the API restarted
 * with the label's image moved on (what `pulumi up` of the platform does),
 * then a rollout: one database at a time, stopping at the first failure,
 * resumed, surviving an API restart; refusals (major change, nothing to
 * patch, unknown label, a running rollout, bad input, non-admins).
 */
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument -- assertions read JSON response bodies (typed any in test/support/testApi.ts) */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { sharedPostgres, type PostgresServer } from "../support/postgres";
import { FAKE_SECRET, FakeStackEngine } from "../support/fakeEngine";
import { CATALOG, createBody, freshDatabaseUrl, sqlIn, startTestApi, waitFor, waitForState, type Reply, type TestApi } from "../support/testApi";

const LABEL = "PostgreSQL 17";
const ROLLOUT_PATH = `/versions/${encodeURIComponent(LABEL)}/rollout`;
const PATCHED_CATALOG = JSON.stringify([{ label: LABEL, image: "postgres:17.3" }, { label: "PostgreSQL 16", image: "postgres:16.6" }]);
const NAMES = ["ro-a", "ro-b", "ro-c"];

let pg: PostgresServer;
const open: TestApi[] = [];
beforeAll(async () => {
    pg = await sharedPostgres();
});
afterEach(async () => {
    for (const a of open.splice(0)) await a.close(200);
});
afterAll(async () => {
    await pg?.stop();
});

async function startOn(url: string, engine: FakeStackEngine, catalog?: string): Promise<TestApi> {
    const a = await startTestApi(pg, { engine, databaseUrl: url, ...(catalog === undefined ? {} : { env: { DBAAS_CATALOG: catalog } }) });
    open.push(a);
    return a;
}

/**
 * Three databases of PostgreSQL 17 (postgres:17.2) and one of PostgreSQL 16,
 * made on the test catalog; then the API again with `catalog` (by default 17 → 17.3).
 */
async function fleet(catalog = PATCHED_CATALOG): Promise<{ api: TestApi; engine: FakeStackEngine; url: string }> {
    const engine = new FakeStackEngine();
    const url = await freshDatabaseUrl(pg);
    const first = await startOn(url, engine);
    for (const name of NAMES) expect((await first.call("alice", "POST", "/databases", { body: createBody(name) })).status).toBe(202);
    expect((await first.call("bob", "POST", "/databases", { body: createBody("ro-sixteen", { version: "PostgreSQL 16" }, "bob") })).status).toBe(202);
    for (const name of [...NAMES, "ro-sixteen"]) await waitForState(first, name, "ready");
    await first.close(200);
    open.splice(open.indexOf(first), 1);
    const api = await startOn(url, engine, catalog);
    return { api, engine, url };
}

async function imageOf(api: TestApi, name: string): Promise<string> {
    const rows = await sqlIn<{ image: string }>(pg, api.databaseUrl, "SELECT spec->>'image' AS image FROM databases WHERE name = $1", [name]);
    return rows[0]?.image ?? "";
}

async function waitForRollout(api: TestApi, id: number, state: string, timeoutMs = 15_000): Promise<Reply["body"]> {
    return waitFor(`rollout ${id} to be ${state}`, async () => {
        const r = await api.call("admin", "GET", `/rollouts/${id}`);
        return r.body?.state === state ? r.body : undefined;
    }, timeoutMs);
}

function expectProblem(r: Reply, status: number, field: string): void {
    expect(r.status, r.text).toBe(status);
    expect(r.headers.get("content-type")).toContain("application/problem+json");
    expect(r.body.errors.map((e: { field: string }) => e.field)).toContain(field);
}

/** The up calls made for `names` after `since`, in order. */
function upsSince(engine: FakeStackEngine, since: number, names: readonly string[] = NAMES): string[] {
    return engine.callsOf("up").filter((c) => c.at >= since && names.includes(c.name)).map((c) => c.name);
}

describe("a rollout over three databases", () => {
    it("patches them one at a time, in name order, each recorded with previous and new image, activity, notification and audit", async () => {
        const { api, engine } = await fleet();
        expect((await api.call("admin", "POST", "/projects/proj-1/contacts", { body: { email: "ops@example.com" } })).status).toBe(201);
        // Each patch's up must start with no other operation running: one at a time, the previous one ready.
        const overlapping: string[] = [];
        engine.onCall = (c) => {
            if (c.method === "up" && engine.active.size > 0) overlapping.push(`${c.name} while ${[...engine.active].join(",")}`);
        };
        engine.script("up", "*", { delayMs: 60 });
        const since = Date.now();
        const r = await api.call("admin", "POST", ROLLOUT_PATH);
        expect(r.status, r.text).toBe(202);
        expect(r.headers.get("location")).toBe(`/rollouts/${r.body.id}`);
        expect(r.body).toMatchObject({ label: LABEL, from_images: ["postgres:17.2"], to_image: "postgres:17.3", state: "running", started_by: "admin" });
        expect(r.body.steps.map((s: { database: string }) => s.database)).toEqual(NAMES);

        const done = await waitForRollout(api, r.body.id, "succeeded");
        expect(done.counts).toEqual({ pending: 0, running: 0, succeeded: 3, failed: 0, skipped: 0 });
        for (const step of done.steps) {
            expect(step).toMatchObject({ previous_image: "postgres:17.2", new_image: "postgres:17.3", patch_type: "database", state: "succeeded", attempts: 1, reason: null });
            expect(step.operation_id).toEqual(expect.any(Number));
            expect(step.output_excerpt).toMatch(/up done: 3 resources/);
        }
        expect(overlapping).toEqual([]);
        expect(upsSince(engine, since)).toEqual(NAMES);
        expect(upsSince(engine, since).length).toBe(3);
        for (const c of engine.callsOf("up").filter((x) => x.at >= since)) expect(c.spec?.image).toBe("postgres:17.3");
        for (const name of NAMES) {
            expect(await imageOf(api, name)).toBe("postgres:17.3");
            expect((await api.call("alice", "GET", `/databases/${name}`)).body.state).toBe("ready");
        }
        // Another label is not touched.
        expect(await imageOf(api, "ro-sixteen")).toBe("postgres:16.6");
        expect(upsSince(engine, since, ["ro-sixteen"])).toEqual([]);

        const acts = (await api.call("alice", "GET", "/databases/ro-b/activities")).body.activities;
        const patched = acts.find((a: { kind: string }) => a.kind === "patched");
        expect(patched?.detail).toMatchObject({ outcome: "succeeded", previous_image: "postgres:17.2", new_image: "postgres:17.3", patch_type: "database", rollout_id: r.body.id });
        const notes = await sqlIn<{ database_name: string; summary: string }>(pg, api.databaseUrl, "SELECT database_name, summary FROM notifications WHERE kind = 'patch' ORDER BY id");
        expect(notes.map((n) => n.database_name)).toEqual(NAMES);
        expect(notes[0]?.summary).toBe("ro-a: patch postgres:17.2 → postgres:17.3 succeeded");
        const audit = await sqlIn<{ action: string; outcome: string }>(pg, api.databaseUrl, "SELECT action, outcome FROM audit_log WHERE action LIKE 'rollout.%' ORDER BY id");
        expect(audit).toEqual([
            { action: "rollout.start", outcome: "accepted" },
            ...NAMES.flatMap(() => [{ action: "rollout.step", outcome: "started" }, { action: "rollout.step", outcome: "succeeded" }]),
            { action: "rollout.finish", outcome: "succeeded" },
        ]);
        const listed = await api.call("admin", "GET", `/rollouts?label=${encodeURIComponent(LABEL)}`);
        expect(listed.status).toBe(200);
        expect(listed.body.rollouts.map((x: { id: number }) => x.id)).toEqual([r.body.id]);
        const metrics = await api.call("admin", "GET", "/metrics");
        expect(metrics.text).toMatch(/dbaas_rollout_steps_total\{outcome="succeeded"\} 3/);
        expect(metrics.text).toMatch(/dbaas_rollouts_ended_total\{state="succeeded"\} 1/);

        // Everything is on the catalog's image now: a second rollout has nothing to do.
        const again = await api.call("admin", "POST", ROLLOUT_PATH);
        expectProblem(again, 409, "params.label");
        expect(again.body.refusal).toBe("nothing_to_patch");
    });

    it("stops at the first failure (the third untouched), and resume finishes it", async () => {
        const { api, engine } = await fleet();
        expect((await api.call("admin", "POST", "/projects/proj-1/contacts", { body: { email: "ops@example.com" } })).status).toBe(201);
        engine.script("up", "ro-b", { failTimes: Infinity, failWith: "program" });
        const since = Date.now();
        const r = await api.call("admin", "POST", ROLLOUT_PATH, { body: { image: "postgres:17.3" } });
        expect(r.status, r.text).toBe(202);
        const stopped = await waitForRollout(api, r.body.id, "stopped_on_failure");
        expect(stopped.steps.map((s: { state: string }) => s.state)).toEqual(["succeeded", "failed", "pending"]);
        const failed = stopped.steps[1];
        expect(failed.reason).toMatch(/patch failed: the container did not become healthy \(scripted\)/);
        expect(failed.output_excerpt).toMatch(/up failed \(scripted/);
        expect(JSON.stringify(stopped)).not.toContain(FAKE_SECRET);
        expect(upsSince(engine, since)).toEqual(["ro-a", "ro-b"]);
        expect(await imageOf(api, "ro-c")).toBe("postgres:17.2");
        expect((await api.call("alice", "GET", "/databases/ro-b")).body.state).toBe("failed");
        const acts = (await api.call("alice", "GET", "/databases/ro-b/activities")).body.activities;
        expect(acts.find((a: { kind: string }) => a.kind === "failed")?.detail).toMatchObject({ outcome: "failed", previous_image: "postgres:17.2", new_image: "postgres:17.3" });
        const notes = await sqlIn<{ summary: string }>(pg, api.databaseUrl, "SELECT summary FROM notifications WHERE kind = 'patch' AND database_name = 'ro-b'");
        expect(notes.map((n) => n.summary)).toEqual(["ro-b: patch postgres:17.2 → postgres:17.3 failed"]);
        // Stopped: nothing more happens until someone resumes it.
        await new Promise((res) => setTimeout(res, 300));
        expect(upsSince(engine, since)).toEqual(["ro-a", "ro-b"]);

        engine.script("up", "ro-b", {});
        const resumed = await api.call("admin", "POST", `/rollouts/${r.body.id}/resume`);
        expect(resumed.status, resumed.text).toBe(202);
        expect(resumed.body.state).toBe("running");
        const done = await waitForRollout(api, r.body.id, "succeeded");
        expect(done.steps.map((s: { state: string }) => s.state)).toEqual(["succeeded", "succeeded", "succeeded"]);
        expect(done.steps[1]).toMatchObject({ attempts: 2, previous_image: "postgres:17.2", reason: null });
        expect(upsSince(engine, since)).toEqual(["ro-a", "ro-b", "ro-b", "ro-c"]);
        for (const name of NAMES) expect((await api.call("alice", "GET", `/databases/${name}`)).body.state).toBe("ready");
        const audit = await sqlIn<{ outcome: string }>(pg, api.databaseUrl, "SELECT outcome FROM audit_log WHERE action IN ('rollout.finish', 'rollout.resume') ORDER BY id");
        expect(audit.map((a) => a.outcome)).toEqual(["stopped_on_failure", "accepted", "succeeded"]);
        // Only a stopped rollout can be resumed.
        const twice = await api.call("admin", "POST", `/rollouts/${r.body.id}/resume`);
        expectProblem(twice, 409, "params.id");
    });

    it("rolls a rebuilt image of the same tag out as an os patch, and lists a database on a newer image as skipped with the reason", async () => {
        const digest = `sha256:${"c".repeat(64)}`;
        const { api, engine } = await fleet(JSON.stringify([{ label: LABEL, image: `postgres:17.2@${digest}` }, { label: "PostgreSQL 16", image: "postgres:16.6" }]));
        await sqlIn(pg, api.databaseUrl, "UPDATE databases SET spec = jsonb_set(spec, '{image}', '\"postgres:17.4\"') WHERE name = 'ro-c'");
        const since = Date.now();
        const r = await api.call("admin", "POST", ROLLOUT_PATH);
        expect(r.status, r.text).toBe(202);
        expect(r.body.from_images).toEqual(["postgres:17.2"]);
        const done = await waitForRollout(api, r.body.id, "succeeded");
        expect(done.steps.map((s: { database: string; state: string; patch_type: string | null }) => [s.database, s.state, s.patch_type])).toEqual([["ro-a", "succeeded", "os"], ["ro-b", "succeeded", "os"], ["ro-c", "skipped", null]]);
        expect(done.steps[2].reason).toMatch(/^older_image: postgres:17\.2@sha256:c+ is older than postgres:17\.4/);
        expect(upsSince(engine, since)).toEqual(["ro-a", "ro-b"]);
        expect(await imageOf(api, "ro-a")).toBe(`postgres:17.2@${digest}`);
        expect(await imageOf(api, "ro-c")).toBe("postgres:17.4");
    });

    it("survives an API restart mid-rollout without losing or doubling a step", async () => {
        const { api, engine, url } = await fleet();
        engine.script("up", "ro-b", { hang: true });
        const r = await api.call("admin", "POST", ROLLOUT_PATH);
        expect(r.status, r.text).toBe(202);
        await waitFor("ro-b's patch to run", () => (engine.active.has("ro-b") ? true : undefined));
        // A second rollout of the label while this one runs is refused.
        const second = await api.call("admin", "POST", ROLLOUT_PATH);
        expectProblem(second, 409, "params.label");
        expect(second.body.refusal).toBe("already_running");
        await api.close(100);
        open.splice(open.indexOf(api), 1);

        engine.script("up", "ro-b", {});
        const next = await startOn(url, engine, PATCHED_CATALOG);
        const done = await waitForRollout(next, r.body.id, "succeeded");
        expect(done.steps.map((s: { database: string; state: string; attempts: number }) => [s.database, s.state, s.attempts])).toEqual([["ro-a", "succeeded", 1], ["ro-b", "succeeded", 1], ["ro-c", "succeeded", 1]]);
        const ops = await sqlIn<{ name: string; n: number }>(pg, url, "SELECT d.name, count(*)::int AS n FROM operations o JOIN databases d ON d.id = o.database_id WHERE o.kind = 'patch' GROUP BY d.name ORDER BY d.name");
        expect(ops).toEqual(NAMES.map((name) => ({ name, n: 1 })));
        const patched = await sqlIn<{ n: number }>(pg, url, "SELECT count(*)::int AS n FROM activities WHERE kind = 'patched'");
        expect(patched[0]?.n).toBe(3);
    });

    it("waits while a database is busy with another operation, then patches it", async () => {
        const { api, engine } = await fleet();
        engine.script("restart", "ro-a", { hang: true });
        expect((await api.call("alice", "POST", "/databases/ro-a/restart")).status).toBe(202);
        await waitFor("ro-a's restart to run", () => (engine.active.has("ro-a") ? true : undefined));
        const since = Date.now();
        const r = await api.call("admin", "POST", ROLLOUT_PATH);
        expect(r.status, r.text).toBe(202);
        await new Promise((res) => setTimeout(res, 300));
        expect(upsSince(engine, since)).toEqual([]);
        expect((await api.call("admin", "GET", `/rollouts/${r.body.id}`)).body.steps[0].state).toBe("pending");
        expect((await api.call("alice", "POST", "/databases/ro-a/cancel")).status).toBe(202);
        // The cancel leaves ro-a failed: not the rollout's failure, so it is skipped with the reason and the rest go on.
        const done = await waitForRollout(api, r.body.id, "succeeded");
        expect(done.steps.map((s: { state: string }) => s.state)).toEqual(["skipped", "succeeded", "succeeded"]);
        expect(done.steps[0].reason).toMatch(/failed before its turn/);
        expect(upsSince(engine, since)).toEqual(["ro-b", "ro-c"]);
    });
});

describe("refusals", () => {
    let api: TestApi;
    beforeAll(async () => {
        api = await startTestApi(pg, {});
        for (const name of ["rf-a"]) expect((await api.call("alice", "POST", "/databases", { body: createBody(name) })).status).toBe(202);
        await waitForState(api, "rf-a", "ready");
    });
    afterAll(async () => {
        await api?.close(200);
    });

    it("refuses a major version change with the reason: it needs an upgrade, not a patch", async () => {
        const { api: major } = await fleet(JSON.stringify([{ label: LABEL, image: "postgres:18.1" }, { label: "PostgreSQL 16", image: "postgres:16.6" }]));
        const r = await major.call("admin", "POST", ROLLOUT_PATH);
        expectProblem(r, 422, "params.label");
        expect(r.body.refusal).toBe("major_change");
        expect(r.body.detail).toMatch(/postgres:17\.2 → postgres:18\.1 changes the major version \(17 → 18\); that needs an upgrade, not a patch/);
        expect((await major.call("admin", "GET", "/rollouts")).body.rollouts).toEqual([]);
        const audit = await sqlIn<{ outcome: string; detail: { refusal: string } }>(pg, major.databaseUrl, "SELECT outcome, detail FROM audit_log WHERE action = 'rollout.start'");
        expect(audit).toEqual([expect.objectContaining({ outcome: "refused", detail: expect.objectContaining({ refusal: "major_change" }) })]);
    });

    it("refuses non-admins with 403 problem+json on every route", async () => {
        for (const [method, path] of [["POST", ROLLOUT_PATH], ["GET", "/rollouts"], ["GET", "/rollouts/1"], ["POST", "/rollouts/1/resume"]] as const) {
            expectProblem(await api.call("alice", method, path), 403, "header.authorization");
        }
        expectProblem(await api.call(null, "GET", "/rollouts"), 401, "header.authorization");
    });

    it("names the field of bad input", async () => {
        const unknown = await api.call("admin", "POST", `/versions/${encodeURIComponent("PostgreSQL 99")}/rollout`);
        expectProblem(unknown, 422, "params.label");
        expect(unknown.body.detail).toContain(`"${CATALOG[0]?.label}"`);
        expectProblem(await api.call("admin", "POST", ROLLOUT_PATH, { body: { bogus: 1 } }), 400, "body");
        expectProblem(await api.call("admin", "POST", ROLLOUT_PATH, { body: { image: "postgres:latest" } }), 400, "body.image");
        const mismatch = await api.call("admin", "POST", ROLLOUT_PATH, { body: { image: "postgres:17.9" } });
        expectProblem(mismatch, 409, "body.image");
        expect(mismatch.body.refusal).toBe("catalog_mismatch");
        expectProblem(await api.call("admin", "GET", "/rollouts/abc"), 400, "params.id");
        expectProblem(await api.call("admin", "GET", "/rollouts?limit=0"), 400, "query.limit");
        expectProblem(await api.call("admin", "GET", "/rollouts/999"), 404, "params.id");
        expectProblem(await api.call("admin", "POST", "/rollouts/999/resume"), 404, "params.id");
    });

    it("has nothing to patch when every database runs the catalog's image", async () => {
        const r = await api.call("admin", "POST", ROLLOUT_PATH);
        expectProblem(r, 409, "params.label");
        expect(r.body.refusal).toBe("nothing_to_patch");
    });

    it("lists the routes in the OpenAPI document with their schemas", async () => {
        const doc = (await api.call(null, "GET", "/openapi.json")).body;
        expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/versions/{label}/rollout", "/rollouts", "/rollouts/{id}", "/rollouts/{id}/resume"]));
        expect(doc.paths["/versions/{label}/rollout"].post.responses["202"]).toBeDefined();
        expect(doc.paths["/rollouts/{id}"].get.responses["200"]).toBeDefined();
    });
});
