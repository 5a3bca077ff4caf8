/**
 * GET /metrics, the size sampler and its retention, and GET /reports against
 * a real admin database (the shared PostgreSQL) with the engine test double:
 * a scrape shows a created database's gauge and its operation's histogram;
 * request durations are labelled by route template, never by a name; the
 * sampler samples ready databases only and its retention deletes old samples
 * (with an audit entry); a user's report covers its own databases only; a bad
 * window is a problem naming query.window.
 */
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call -- assertions read JSON response bodies (typed any in test/support/testApi.ts) */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readDatabaseSize } from "../../../api/engine/size";
import { reportView } from "../../../contracts/reports";
import { FakeStackEngine } from "../../support/fakeEngine";
import { sharedPostgres, type PostgresServer } from "../../support/postgres";
import { createBody, sqlIn, startTestApi, waitForState, type TestApi } from "../../support/testApi";

const GIB = 2 ** 30;
let pg: PostgresServer;
let api: TestApi;

beforeAll(async () => {
    pg = await sharedPostgres();
    api = await startTestApi(pg, {
        engine: new FakeStackEngine({ delayMs: 30, resources: 1 }),
        env: { DBAAS_PRICE_GB_HOUR: "0.5", DBAAS_PRICE_CORE_HOUR: "0" },
    });
    // alice-a is ready with a size, bob-b is ready without one, alice-broken failed.
    api.engine.script("up", "alice-broken", { failTimes: Infinity, failWith: "program" });
    for (const [name, owner] of [["alice-a", "alice"], ["bob-b", "bob"], ["alice-broken", "alice"]] as const) {
        const r = await api.call(owner, "POST", "/databases", { body: createBody(name, { project_id: owner === "alice" ? "proj-a" : "proj-b" }, owner) });
        expect(r.status, r.text).toBe(202);
    }
    await waitForState(api, "alice-a", "ready");
    await waitForState(api, "bob-b", "ready");
    await waitForState(api, "alice-broken", "failed");
    api.engine.sizes.set("alice-a", { databaseBytes: 1.5 * GIB, volumeBytes: 2 * GIB });
    api.engine.sizes.set("alice-broken", { databaseBytes: 1, volumeBytes: 1 });
});
afterAll(async () => {
    await api?.close(200);
});

/** The value of one sample line `name{labels} value` of a scrape, or undefined. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
    const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
    for (const line of text.split("\n")) {
        if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
        const inner = /\{(.*)\}/.exec(line)?.[1] ?? "";
        const have = inner === "" ? [] : inner.split(",");
        if (want.every((w) => have.includes(w)) && have.length === want.length) return Number(line.split(" ").pop());
    }
    return undefined;
}

describe("GET /metrics", () => {
    it("is for admins: 401 without a token, 403 problem for a user", async () => {
        expect((await api.call(null, "GET", "/metrics")).status).toBe(401);
        const r = await api.call("alice", "GET", "/metrics");
        expect(r.status).toBe(403);
        expect(r.headers.get("content-type")).toMatch(/^application\/problem\+json/);
        expect(r.body.errors[0].field).toBe("header.authorization");
    });

    it("shows the created databases' gauges, the create operations' histogram, the queue and the request durations by route template", async () => {
        await api.call("alice", "GET", "/databases/alice-a");
        const r = await api.call("admin", "GET", "/metrics");
        expect(r.status, api.logs.text.split("\n").filter((l) => l.includes("request failed")).join("\n")).toBe(200);
        expect(r.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
        const t = r.text;
        expect(sample(t, "dbaas_databases", { state: "ready", version: "PostgreSQL 17", target: "docker" })).toBe(2);
        expect(sample(t, "dbaas_databases", { state: "failed", version: "PostgreSQL 17", target: "docker" })).toBe(1);
        expect(sample(t, "dbaas_operation_duration_seconds_count", { kind: "create", outcome: "succeeded" })).toBe(2);
        expect(sample(t, "dbaas_operations_total", { kind: "create", outcome: "succeeded" })).toBe(2);
        expect(sample(t, "dbaas_operations_total", { kind: "create", outcome: "failed" })).toBe(1);
        expect(sample(t, "dbaas_oldest_queued_operation_age_seconds", {})).toBe(0);
        expect(sample(t, "dbaas_http_request_duration_seconds_count", { method: "GET", route: "/databases/:name", status: "200" })).toBeGreaterThanOrEqual(1);
        // No database name in a route label, ever.
        const routes = [...t.matchAll(/route="([^"]*)"/g)].map((m) => m[1]);
        expect(routes.length).toBeGreaterThan(0);
        expect(routes.filter((x) => x?.includes("alice") === true)).toEqual([]);
    });
});

describe("the size sampler", () => {
    it("samples ready databases whose size the engine knows, skips the others, and does not double a sample within half an interval", async () => {
        const sampler = api.sampler;
        expect(sampler).toBeDefined();
        const round = await sampler?.tick();
        // alice-a sampled; bob-b has no known size; alice-broken is failed, so its size is never asked for.
        expect(round).toMatchObject({ sampled: 1, skipped: 1, failed: 0 });
        expect(api.engine.callsOf("size", "alice-broken")).toEqual([]);
        const rows = await sqlIn<{ name: string; database_bytes: string; volume_bytes: string }>(pg, api.databaseUrl,
            "SELECT d.name, s.database_bytes, s.volume_bytes FROM database_size_samples s JOIN databases d ON d.id = s.database_id");
        expect(rows).toEqual([{ name: "alice-a", database_bytes: String(1.5 * GIB), volume_bytes: String(2 * GIB) }]);
        expect((await sampler?.tick())?.sampled).toBe(0);

        const t = (await api.call("admin", "GET", "/metrics")).text;
        expect(sample(t, "dbaas_database_size_bytes", { database: "alice-a", kind: "volume" })).toBe(2 * GIB);
        expect(sample(t, "dbaas_database_size_bytes", { database: "bob-b", kind: "volume" })).toBeUndefined();
    });

    it("an engine error on one database skips it this round", async () => {
        api.engine.sizes.set("bob-b", new Error("docker unreachable"));
        await sqlIn(pg, api.databaseUrl, "DELETE FROM database_size_samples");
        const round = await api.sampler?.tick();
        expect(round).toMatchObject({ sampled: 1, failed: 1 });
        api.engine.sizes.delete("bob-b");
    });

    it("retention deletes samples older than DBAAS_SIZE_RETENTION_DAYS (30 by default) and audits it", async () => {
        await sqlIn(pg, api.databaseUrl, `INSERT INTO database_size_samples (database_id, at, database_bytes, volume_bytes)
            SELECT id, now() - interval '31 days', 1, 1 FROM databases WHERE name = 'alice-a'
            UNION ALL SELECT id, now() - interval '29 days', 1, 1 FROM databases WHERE name = 'alice-a'`);
        const round = await api.sampler?.tick();
        expect(round?.pruned).toBe(1);
        const left = await sqlIn<{ n: number }>(pg, api.databaseUrl, "SELECT count(*)::int AS n FROM database_size_samples WHERE at < now() - interval '1 day'");
        expect(left).toEqual([{ n: 1 }]);
        const audit = await api.call("admin", "GET", "/audit?action=samples.prune");
        expect(audit.body.entries[0]).toMatchObject({ actor: "system", outcome: "succeeded", detail: { deleted: 1, retention_days: 30 } });
    });
});

describe("the real engine's size reader (api/engine/size.ts)", () => {
    it("reads pg_database_size as the database's owner; a wrong password fails without the password in the message", async () => {
        const endpoint = { host: "127.0.0.1", port: pg.port, database: "postgres", user: pg.user, password: pg.password };
        const [row] = await pg.query<{ bytes: string }>("SELECT pg_database_size('postgres')::text AS bytes");
        expect(await readDatabaseSize(endpoint, AbortSignal.timeout(10_000))).toBe(Number(row?.bytes));
        const wrong = "not-the-password-7f3a";
        const err = await readDatabaseSize({ ...endpoint, password: wrong }, AbortSignal.timeout(10_000)).then(() => undefined, (e: Error) => e);
        expect(err?.message).toMatch(/^reading the size of postgres at 127\.0\.0\.1:\d+ failed \(28P01\)$/);
        expect(err?.message).not.toContain(wrong);
    });
});

describe("GET /reports", () => {
    it("a user sees its own databases only; an admin sees all", async () => {
        const alice = await api.call("alice", "GET", "/reports?window=24h");
        expect(alice.status, alice.text).toBe(200);
        expect(reportView.safeParse(alice.body).success).toBe(true);
        expect(alice.body.scope).toBe("own");
        expect(alice.body.counts.total).toBe(2);
        const names = (x: { database: string }[]) => x.map((d) => d.database).sort();
        expect(names(alice.body.sizes.now)).toEqual(["alice-a", "alice-broken"]);
        expect(names(alice.body.downtime.databases)).toEqual(["alice-a", "alice-broken"]);
        expect(alice.body.failures).toMatchObject({ count: 1, by_kind: [{ key: "create", count: 1 }] });
        expect(alice.body.failures.recent[0].database).toBe("alice-broken");

        const bob = await api.call("bob", "GET", "/reports");
        expect(bob.body.counts).toMatchObject({ total: 1, by_project: [{ key: "proj-b", count: 1 }] });
        expect(bob.body.failures.count).toBe(0);
        expect(bob.body.window.hours).toBe(7 * 24);

        const admin = await api.call("admin", "GET", "/reports?window=2d");
        expect(admin.body.scope).toBe("all");
        expect(admin.body.counts).toMatchObject({ total: 3, by_state: [{ key: "failed", count: 1 }, { key: "ready", count: 2 }] });
        expect((await api.call("admin", "GET", "/reports?project_id=proj-b")).body.counts.total).toBe(1);
    });

    it("reports sizes over time, downtime of a restart, an unpatched image, the cost from the unit prices, and the missing sources as such", async () => {
        const restart = await api.call("alice", "POST", "/databases/alice-a/restart");
        expect(restart.status, restart.text).toBe(202);
        await waitForState(api, "alice-a", "ready");
        await sqlIn(pg, api.databaseUrl, `UPDATE databases SET spec = jsonb_set(spec, '{image}', '"postgres:17.1"') WHERE name = 'bob-b'`);
        const r = await api.call("admin", "GET", "/reports?window=24h");
        expect(r.status, r.text).toBe(200);
        const b = r.body;
        expect(b.sizes.series.length).toBeGreaterThanOrEqual(1);
        expect(b.sizes.series.at(-1).volume_bytes).toBe(2 * GIB);
        expect(b.sizes.total_now.volume_bytes).toBe(2 * GIB);
        const a = b.downtime.databases.find((d: { database: string }) => d.database === "alice-a");
        expect(a.down_seconds).toBeGreaterThan(0);
        expect(a.downtime_percent).toBeGreaterThan(0);
        expect(a.downtime_percent).toBeLessThan(100);
        const broken = b.downtime.databases.find((d: { database: string }) => d.database === "alice-broken");
        expect(broken).toMatchObject({ service_seconds: 0, downtime_percent: null });
        expect(b.unpatched).toEqual({ count: 1, databases: [{ database: "bob-b", version: "PostgreSQL 17", image: "postgres:17.1", current_image: "postgres:17.2", reason: "older_image" }] });
        expect(b.unplanned_restarts).toMatchObject({ count: 0, source_available: false });
        expect(b.backups.source_available).toBe(false);
        // Docker targets: storage is the sampled volume (2 GiB for alice-a), cores are unknown.
        expect(b.cost.configured).toBe(true);
        const projA = b.cost.projects.find((p: { project_id: string }) => p.project_id === "proj-a");
        expect(projA.gb_hours).toBeGreaterThan(0);
        expect(projA.cost).toBeCloseTo(projA.gb_hours * 0.5, 3);
        // alice-broken never was ready, so it has no sampled size.
        expect(projA).toMatchObject({ unknown_cores: 2, unknown_storage: 1 });
        expect(b.cost.projects.find((p: { project_id: string }) => p.project_id === "proj-b")).toMatchObject({ unknown_storage: 1, gb_hours: 0 });
    });

    it("refuses a bad window or an unknown parameter with a problem naming the field", async () => {
        for (const q of ["window=0h", "window=91d", "window=week", "window=7d&extra=1"]) {
            const r = await api.call("alice", "GET", `/reports?${q}`);
            expect(r.status, q).toBe(400);
            expect(r.headers.get("content-type")).toMatch(/^application\/problem\+json/);
            expect(r.body.errors[0].field, q).toBe(q.includes("extra") ? "query" : "query.window");
        }
        const bad = await api.call("alice", "GET", "/reports?window=91d");
        expect(bad.body.detail).toContain("at most 90d");
    });

    it("is in the OpenAPI document with its schema, and so is /metrics", async () => {
        const doc = (await api.call(null, "GET", "/openapi.json")).body;
        expect(doc.paths["/reports"].get.parameters.map((p: { name: string }) => p.name).sort()).toEqual(["project_id", "window"]);
        expect(doc.paths["/reports"].get.responses["200"]).toBeDefined();
        expect(doc.paths["/metrics"].get.summary).toMatch(/Prometheus/);
    });
});
