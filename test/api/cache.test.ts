/**
 * The restored-backup cache through the HTTP API on a real admin store (the
 * shared PostgreSQL 17), with the engine test double standing in for the
 * per-database program (its fetch step clones when clone_from still matches
 * what the "backup server" sends, as fetch.sh does) and a test double of the
 * golden volumes. Covers the fill after the first restore, the clone of the
 * second create, misses on a changed backup (checksum and ETag), fresh, a
 * failed fill, eviction by size with an in-use volume retried, and the
 * admin routes (OpenAPI, problem+json, admin only, audit).
 */
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-explicit-any -- assertions read JSON response bodies (typed any in test/support/testApi.ts) */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GoldenVolumes } from "../../api/cache/cache";
import { sharedPostgres, type PostgresServer } from "../support/postgres";
import { createBody, sqlIn, startTestApi, waitForState, type TestApi } from "../support/testApi";

const URL_BASE = "https://backups.example.com/orders.dump";
const at = (sig: string) => `${URL_BASE}?X-Amz-Signature=${sig}`;

class FakeVolumes implements GoldenVolumes {
    readonly fills: { database: string; volume: string; image: string }[] = [];
    readonly removals: string[] = [];
    failNextFill: string | undefined;
    inUse = new Set<string>();
    fill(o: { dockerHost: string; database: string; image: string; volume: string }): Promise<{ bytes: number }> {
        this.fills.push({ database: o.database, volume: o.volume, image: o.image });
        const failure = this.failNextFill;
        this.failNextFill = undefined;
        return failure === undefined ? Promise.resolve({ bytes: 400 }) : Promise.reject(new Error(failure));
    }
    remove(_host: string, volume: string): Promise<void> {
        if (this.inUse.has(volume)) return Promise.reject(new Error(`Docker answered DELETE /volumes/${volume} with HTTP 409: volume is in use`));
        this.removals.push(volume);
        return Promise.resolve();
    }
}

let admin: PostgresServer;
let api: TestApi;
const volumes = new FakeVolumes();

async function create(name: string, extra: Record<string, unknown>): Promise<any> {
    const r = await api.call("alice", "POST", "/databases", { body: createBody(name, extra) });
    expect(r.status, r.text).toBe(202);
    return waitForState(api, name, "ready");
}
const lastUpSpec = (name: string) => api.engine.callsOf("up", name).at(-1)?.spec;
async function eventsOf(name: string): Promise<string[]> {
    const rows = await sqlIn<{ message: string | null }>(admin, api.databaseUrl,
        `SELECT e.data->>'message' AS message FROM operation_events e JOIN operations o ON o.id = e.operation_id JOIN databases d ON d.id = o.database_id
         WHERE d.name = $1 ORDER BY e.id`, [name]);
    return rows.map((r) => r.message ?? "");
}
async function auditOf(action: string): Promise<{ actor: string; outcome: string; database: string | null; detail: Record<string, unknown> }[]> {
    return sqlIn(admin, api.databaseUrl, `SELECT actor, outcome, database, detail FROM audit_log WHERE action = $1 ORDER BY id`, [action]);
}
async function entries(): Promise<any[]> {
    const r = await api.call("admin", "GET", "/cache");
    expect(r.status, r.text).toBe(200);
    return r.body.entries;
}

describe("the restored-backup cache", () => {
    beforeAll(async () => {
        admin = await sharedPostgres();
        api = await startTestApi(admin, { env: { DBAAS_CACHE: "true", DBAAS_CACHE_MAX_BYTES: "1000", DBAAS_CACHE_MAX_AGE_HOURS: "24" }, goldenVolumes: volumes });
    });
    afterAll(async () => {
        await api?.close(200);
        await admin?.stop();
    });

    it("fills the cache after the first restore, keyed by the URL without its query", async () => {
        const db = await create("first", { backup_location: at("one") });
        expect(lastUpSpec("first")?.target).not.toHaveProperty("clone_from");
        expect(db.made).toMatchObject({ how: "restored", description: `restored from ${URL_BASE}`, url: URL_BASE, cache_id: null });
        expect(volumes.fills).toEqual([{ database: "first", volume: "dbaas-cache-1", image: "postgres:17.2" }]);
        const [entry] = await entries();
        expect(entry).toMatchObject({ id: 1, url: URL_BASE, volume: "dbaas-cache-1", bytes: 400, state: "ready", source_database: "first", hits: 0 });
        expect(entry.identity.sha256).toMatch(/^[0-9a-f]{64}$/);
        expect(JSON.stringify(await entries())).not.toContain("Signature");
        expect(await auditOf("cache.filled")).toEqual([expect.objectContaining({ actor: "system", outcome: "succeeded", database: "first", detail: expect.objectContaining({ id: 1, volume: "dbaas-cache-1", bytes: 400 }) })]);
        expect((await eventsOf("first")).join("\n")).toContain("the cache holds this restore now (dbaas-cache-1");
    });

    it("starts the server the fill stopped through the engine, and hands out the port it is published on now", async () => {
        // The double's up publishes on 15432, its restart (a replaced container) on the next port.
        expect(api.engine.callsOf("restart", "first")).toHaveLength(1);
        const r = await api.call("alice", "GET", "/databases/first");
        expect(r.status, r.text).toBe(200);
        expect(r.body.endpoint).toMatchObject({ port: 15433 });
    });

    it("clones the second database from the same backup (another signature) and counts the hit", async () => {
        const db = await create("second", { backup_location: at("two") });
        const target = lastUpSpec("second")?.target;
        expect(target?.kind === "docker" ? target.clone_from : undefined).toMatchObject({ cache_id: 1, volume: "dbaas-cache-1" });
        const [entry] = await entries();
        expect(db.made).toEqual({ how: "cloned", description: `cloned from a cached restore of ${URL_BASE} at ${entry.filled_at}`, url: URL_BASE, cache_id: 1, filled_at: entry.filled_at });
        expect(entry.hits).toBe(1);
        expect(volumes.fills).toHaveLength(1);
        // A clone's server was never stopped: no restart after its up.
        expect(api.engine.callsOf("restart", "second")).toHaveLength(0);
        expect(await eventsOf("second")).toContain(db.made.description);
        // The list view says it too.
        const list = await api.call("alice", "GET", "/databases");
        expect(list.body.databases.find((d: { name: string }) => d.name === "second").made.how).toBe("cloned");
    });

    it("misses when the backup changed (checksum), evicts the stale copy and fills a new one", async () => {
        api.engine.backupIdentities.set(URL_BASE, { etag: '"v2"', content_length: 10 });
        const db = await create("third", { backup_location: at("three") });
        expect(db.made.how).toBe("restored");
        const all = await entries();
        expect(all.find((e) => e.id === 1)).toMatchObject({ state: "evicted", evict_reason: "the backup changed since the golden copy was filled", removal_pending: false });
        expect(all.find((e) => e.state === "ready")).toMatchObject({ id: 2, identity: { etag: '"v2"', content_length: 10 } });
        expect(volumes.removals).toContain("dbaas-cache-1");
        expect(await auditOf("cache.evicted")).toEqual([expect.objectContaining({ actor: "cache-eviction", detail: expect.objectContaining({ id: 1 }) })]);
    });

    it("clones while the ETag stays, and misses when it changes", async () => {
        expect((await create("fourth", { backup_location: at("four") })).made).toMatchObject({ how: "cloned", cache_id: 2 });
        api.engine.backupIdentities.set(URL_BASE, { etag: '"v3"' });
        expect((await create("fifth", { backup_location: at("five") })).made.how).toBe("restored");
        expect((await entries()).filter((e) => e.state === "ready").map((e) => e.identity.etag)).toEqual(['"v3"']);
    });

    it("fresh: true restores and does not fill", async () => {
        const fills = volumes.fills.length;
        const db = await create("fresh-one", { backup_location: at("six"), fresh: true });
        expect(lastUpSpec("fresh-one")).toMatchObject({ fresh: true });
        expect(lastUpSpec("fresh-one")?.target).not.toHaveProperty("clone_from");
        expect(db.made.how).toBe("restored");
        expect(volumes.fills).toHaveLength(fills);
        expect(api.engine.callsOf("restart", "fresh-one")).toHaveLength(0);
    });

    it("refuses a fresh that is not a boolean, naming the field", async () => {
        const r = await api.call("alice", "POST", "/databases", { body: createBody("bad-fresh", { backup_location: at("x"), fresh: "yes" }) });
        expect(r.status).toBe(400);
        expect(r.headers.get("content-type")).toContain("application/problem+json");
        expect(r.text).toContain("body.fresh");
    });

    it("a failed fill is audited and the database is ready anyway", async () => {
        volumes.failNextFill = "Docker answered POST /volumes/create with HTTP 500: no space left";
        const db = await create("unfilled", { backup_location: "https://backups.example.com/other.dump" });
        expect(db.state).toBe("ready");
        expect(db.made.how).toBe("restored");
        // The fill stopped the server before it failed: it is started again all the same.
        expect(api.engine.callsOf("restart", "unfilled")).toHaveLength(1);
        const failed = (await auditOf("cache.filled")).filter((a) => a.outcome === "failed");
        expect(failed).toEqual([expect.objectContaining({ database: "unfilled", detail: expect.objectContaining({ reason: expect.stringContaining("no space left") }) })]);
        expect((await eventsOf("unfilled")).join("\n")).toMatch(/the cache was not filled .*no space left.*the database is ready/);
        expect((await entries()).some((e) => e.source_database === "unfilled")).toBe(false);
    });

    it("evicts by size, least recently used first, and retries a volume that is in use", async () => {
        // Ready now: the "v3" copy (400 bytes). Two more backups fill two more: 1200 > 1000.
        await create("size-a", { backup_location: "https://backups.example.com/a.dump" });
        await create("size-b", { backup_location: "https://backups.example.com/b.dump" });
        const ready = (await entries()).filter((e) => e.state === "ready").sort((x, y) => x.id - y.id);
        expect(ready).toHaveLength(3);
        const oldest = ready[0];
        volumes.inUse.add(oldest.volume);
        expect(await api.cache.evictOnce()).toEqual([oldest.id]);
        expect((await entries()).find((e) => e.id === oldest.id)).toMatchObject({ state: "evicted", removal_pending: true });
        volumes.inUse.clear();
        expect(await api.cache.evictOnce()).toEqual([]);
        expect((await entries()).find((e) => e.id === oldest.id)).toMatchObject({ removal_pending: false });
        expect(volumes.removals).toContain(oldest.volume);
    });

    it("GET /cache and DELETE /cache/{id} are for admins, with problem+json and audit", async () => {
        for (const [method, path] of [["GET", "/cache"], ["DELETE", "/cache/1"]] as const) {
            const r = await api.call("alice", method, path);
            expect(r.status).toBe(403);
            expect(r.headers.get("content-type")).toContain("application/problem+json");
            expect(r.body.detail).toContain("an admin token");
        }
        const bad = await api.call("admin", "DELETE", "/cache/abc");
        expect(bad.status).toBe(400);
        expect(bad.text).toContain("params.id");
        const missing = await api.call("admin", "DELETE", "/cache/9999");
        expect(missing.status).toBe(404);
        expect(missing.body.detail).toContain("GET /cache");
        const target = (await entries()).find((e) => e.state === "ready");
        const r = await api.call("admin", "DELETE", `/cache/${target.id}`);
        expect(r.status, r.text).toBe(200);
        expect(r.body).toMatchObject({ id: target.id, state: "evicted", evict_reason: "evicted by admin", removal_pending: false });
        expect((await auditOf("cache.evicted")).at(-1)).toMatchObject({ actor: "admin", detail: expect.objectContaining({ id: target.id }) });
        const list = await api.call("admin", "GET", "/cache");
        expect(list.body).toMatchObject({ max_bytes: 1000, max_age_hours: 24, enabled: true });
        expect(list.body.ready_bytes).toBe(list.body.entries.filter((e: { state: string }) => e.state === "ready").length * 400);
    });

    it("is in the OpenAPI document", async () => {
        const doc = (await api.call(null, "GET", "/openapi.json")).body;
        expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/cache", "/cache/{id}"]));
        expect(doc.paths["/cache/{id}"].delete.responses["200"]).toBeDefined();
        expect(doc.components.schemas.Database.properties.made).toBeDefined();
    });
});
