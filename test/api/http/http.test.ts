/**
 * The HTTP surface against a real admin database with the engine test
 * double: health/readiness/OpenAPI, authentication and roles (and /me), validation
 * problems, owner scoping, credentials on request only, the audit entries
 * each action writes (and that the log is append-only), SSE, request ids,
 * body and rate limits.
 */
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-return -- assertions read JSON response bodies (typed any in test/support/testApi.ts) */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sharedPostgres, type PostgresServer } from "../../support/postgres";
import { FakeStackEngine } from "../../support/fakeEngine";
import { hashToken } from "../../../api/http/auth";
import { createBody, readSse, sqlIn, startTestApi, testConfig, TOKENS, waitFor, waitForState, type Reply, type TestApi } from "../../support/testApi";
import { type AuditEntryView } from "../../../contracts/api";

let pg: PostgresServer;
let api: TestApi;
beforeAll(async () => {
    pg = await sharedPostgres();
    api = await startTestApi(pg, { engine: new FakeStackEngine({ delayMs: 40, resources: 2 }) });
});
afterAll(async () => {
    await api?.close(200);
    await pg?.stop();
});

function expectProblem(r: { status: number; headers: Headers; body: Reply["body"] }, status: number, field?: string | RegExp): void {
    expect(r.status).toBe(status);
    expect(r.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(r.body).toMatchObject({ status, type: expect.stringMatching(/^https:\/\//), title: expect.any(String), detail: expect.any(String), instance: r.headers.get("x-request-id") });
    if (field !== undefined) {
        const fields = (r.body.errors as { field: string }[]).map((e) => e.field);
        expect(fields.some((f) => (typeof field === "string" ? f === field : field.test(f))), `${JSON.stringify(fields)} names ${String(field)}`).toBe(true);
        expect(r.body.detail).toContain(typeof field === "string" ? field : "");
    }
}

async function ready(name: string, owner: "alice" | "bob" = "alice", extra: Record<string, unknown> = {}) {
    const r = await api.call(owner, "POST", "/databases", { body: createBody(name, extra, owner) });
    expect(r.status, r.text).toBe(202);
    return waitForState(api, name, "ready");
}

describe("service routes", () => {
    it("/healthz and /readyz need no token", async () => {
        expect((await api.call(null, "GET", "/healthz")).body).toEqual({ status: "ok" });
        expect((await api.call(null, "GET", "/readyz")).body).toEqual({ status: "ready" });
    });

    it("/readyz answers 503 with the engine's reasons", async () => {
        api.engine.readiness_ = { ok: false, reasons: ["pulumi CLI not found"] };
        try {
            const r = await api.call(null, "GET", "/readyz");
            expectProblem(r, 503);
            expect(r.body.reasons).toEqual(["engine: pulumi CLI not found"]);
        } finally {
            api.engine.readiness_ = { ok: true, reasons: [] };
        }
    });

    it("/openapi.json documents every route from the same schemas", async () => {
        const r = await api.call(null, "GET", "/openapi.json");
        expect(r.status).toBe(200);
        const doc = r.body;
        expect(doc.openapi).toBe("3.1.0");
        expect(Object.keys(doc.paths).sort()).toEqual([
            "/audit", "/backups/{id}/content", "/cache", "/cache/{id}", "/databases", "/databases/{name}", "/databases/{name}/activities", "/databases/{name}/activities/{id}/notes",
            "/databases/{name}/backups", "/databases/{name}/backups/{id}", "/databases/{name}/cancel", "/databases/{name}/events",
            "/databases/{name}/restart", "/databases/{name}/retry", "/healthz", "/me", "/metrics",
            "/projects/{project}/contacts", "/projects/{project}/contacts/{id}", "/projects/{project}/deliveries", "/readyz", "/reports",
            "/rollouts", "/rollouts/{id}", "/rollouts/{id}/resume", "/versions", "/versions/{label}/rollout",
        ]);
        expect(doc.paths["/me"].get.security).toBeUndefined();
        expect(JSON.stringify(doc.paths["/me"].get.responses["200"])).toContain("#/components/schemas/Me");
        expect(Object.keys(doc.components.schemas.Me.properties).sort()).toEqual(["rate_limit_per_minute", "role", "subject"]);
        expect(Object.keys(doc.paths["/databases/{name}"]).sort()).toEqual(["delete", "get", "patch"]);
        const create = JSON.stringify(doc.paths["/databases"].post) + JSON.stringify(doc.components.schemas);
        expect(create).toContain("^[a-z]([-a-z0-9]*[a-z0-9])?$");
        expect(create).toContain('"maxLength":40');
        expect(doc.paths["/healthz"].get.security).toEqual([]);
        expect(doc.components.securitySchemes.bearerAuth).toEqual({ type: "http", scheme: "bearer" });
    });

    it("/versions lists the catalog, default first", async () => {
        const r = await api.call("bob", "GET", "/versions");
        expect(r.body).toEqual({
            default: "PostgreSQL 17",
            versions: [{ label: "PostgreSQL 17", image: "postgres:17.2", default: true }, { label: "PostgreSQL 16", image: "postgres:16.6", default: false }],
        });
    });

    it("unknown routes, bad JSON and other media types are problems too", async () => {
        expectProblem(await api.call("alice", "GET", "/nope"), 404, "url");
        expectProblem(await api.call("alice", "POST", "/databases", { rawBody: "{not json", headers: { "content-type": "application/json" } }), 400, "body");
        expectProblem(await api.call("alice", "POST", "/databases", { rawBody: "name=x", headers: { "content-type": "text/plain" } }), 415, "header.content-type");
        expectProblem(await api.call("alice", "POST", "/databases", { rawBody: "", headers: { "content-type": "application/json" } }), 400, "body");
    });
});

describe("authentication and roles", () => {
    it.each([
        ["no token", {}],
        ["a bad token", { authorization: `Bearer ${TOKENS.alice}x` }],
        ["a malformed header", { authorization: `Token ${TOKENS.alice}` }],
        ["a hash instead of the token", { authorization: "Bearer 0000000000000000000000000000000000000000000000000000000000000000" }],
    ])("%s answers 401 on every protected route", async (_what, headers) => {
        for (const [method, path] of [["GET", "/databases"], ["POST", "/databases"], ["GET", "/databases/x"], ["DELETE", "/databases/x"], ["GET", "/versions"], ["GET", "/audit"], ["GET", "/databases/x/events"], ["GET", "/me"]] as const) {
            const r = await api.call(null, method, path, { headers });
            expectProblem(r, 401, "header.authorization");
        }
    });

    it.each([
        ["admin", "admin"],
        ["alice", "user"],
        ["bob", "user"],
    ] as const)("/me tells %s its subject, role and rate limit, and nothing secret", async (who, role) => {
        const r = await api.call(who, "GET", "/me");
        expect(r.status).toBe(200);
        expect(r.headers.get("content-type")).toMatch(/^application\/json/);
        expect(r.body).toEqual({ subject: who, role, rate_limit_per_minute: testConfig().rateLimitPerMinute });
        expect(r.text).not.toContain(TOKENS[who]);
        expect(r.text).not.toContain(hashToken(TOKENS[who]));
    });

    it("/me answers 401 without a token or with a bad one, and is not audited", async () => {
        expectProblem(await api.call(null, "GET", "/me"), 401, "header.authorization");
        expectProblem(await api.call(null, "GET", "/me", { headers: { authorization: `Bearer ${TOKENS.admin}x` } }), 401, "header.authorization");
        expect((await api.call("alice", "GET", "/me", { headers: { "x-request-id": "req-me" } })).status).toBe(200);
        const log = await api.call("admin", "GET", "/audit?limit=1000");
        expect((log.body.entries as AuditEntryView[]).filter((e) => e.request_id === "req-me")).toEqual([]);
    });

    it("/audit is for admins: a user gets 403", async () => {
        expectProblem(await api.call("alice", "GET", "/audit"), 403, "header.authorization");
        expect((await api.call("admin", "GET", "/audit")).status).toBe(200);
    });

    it("a user creates databases for itself only; an admin for anyone", async () => {
        expectProblem(await api.call("alice", "POST", "/databases", { body: createBody("db-not-mine", {}, "bob") }), 403, "body.owner");
        const r = await api.call("admin", "POST", "/databases", { body: createBody("db-for-bob", {}, "bob") });
        expect(r.status).toBe(202);
        expect(r.body.database).toMatchObject({ owner: "bob", created_by: "admin" });
        expect((await api.call("bob", "GET", "/databases/db-for-bob")).status).toBe(200);
    });
});

describe("validation of POST /databases", () => {
    it.each([
        ["upper case name", { name: "MyDb" }, 400, "body.name"],
        ["name ending in a hyphen", { name: "db-" }, 400, "body.name"],
        ["name starting with a digit", { name: "1db" }, 400, "body.name"],
        ["name of 41 characters", { name: `a${"b".repeat(40)}` }, 400, "body.name"],
        ["db_type mysql", { db_type: "mysql" }, 400, "body.db_type"],
        ["missing project_id", { project_id: undefined }, 400, "body.project_id"],
        ["an unknown field", { colour: "blue" }, 400, "body"],
        ["ttl_hours 0", { ttl_hours: 0 }, 400, "body.ttl_hours"],
        ["ttl_hours 1.5", { ttl_hours: 1.5 }, 400, "body.ttl_hours"],
        ["ttl_hours above the maximum", { ttl_hours: 73 }, 422, "body.ttl_hours"],
        ["a version not in the catalog", { version: "PostgreSQL 9" }, 422, "body.version"],
        ["a bad CIDR", { source_ranges: ["10.0.0.0/33"] }, 400, "body.source_ranges[0]"],
        ["0.0.0.0/0", { source_ranges: ["10.0.0.0/8", "0.0.0.0/0"] }, 422, "body.source_ranges[1]"],
        ["::/0", { source_ranges: ["::/0"] }, 422, "body.source_ranges[0]"],
        ["an http backup URL", { backup_location: "http://backups.example.com/x.dump" }, 422, "body.backup_location"],
        ["a backup host resolving to a private address", { backup_location: "https://rebind.example.com/x.dump" }, 422, "body.backup_location"],
        ["a metadata backup URL", { backup_location: "https://169.254.169.254/latest/meta-data" }, 422, "body.backup_location"],
    ])("refuses %s naming the field", async (_what, change, status, field) => {
        const name = `db-v-${Math.random().toString(36).slice(2, 8)}`;
        const body = { ...createBody(name), ...change };
        const r = await api.call("alice", "POST", "/databases", { body: JSON.parse(JSON.stringify(body)) });
        expectProblem(r, status, field);
        expect((await api.call("alice", "GET", `/databases/${name}`)).status).toBe(404);
    });

    it("accepts a version by label, ttl_hours, source ranges and an allowed backup URL, and hands the engine the spec", async () => {
        const body = createBody("db-full", { version: "PostgreSQL 16", ttl_hours: 2, source_ranges: ["203.0.113.0/24", "2001:db8::/48"], backup_location: "https://backups.example.com/2026/full.dump" });
        const r = await api.call("alice", "POST", "/databases", { body });
        expect(r.status, r.text).toBe(202);
        expect(r.body.database).toMatchObject({ version: "PostgreSQL 16", ttl_hours: 2, source_ranges: ["203.0.113.0/24", "2001:db8::/48"], backup_location: "https://backups.example.com/2026/full.dump" });
        await waitForState(api, "db-full", "ready");
        const spec = api.engine.callsOf("up", "db-full")[0]?.spec;
        expect(spec).toMatchObject({ name: "db-full", owner: "alice", project_id: "proj-1", db_type: "postgres", version: "PostgreSQL 16", image: "postgres:16.6", source_ranges: ["203.0.113.0/24", "2001:db8::/48"], target: { kind: "docker" } });
        expect(Math.abs(Date.parse(spec?.expires_at ?? "") - Date.now() - 2 * 3600_000)).toBeLessThan(60_000);
    });
});

describe("owner scoping", () => {
    it("another user's database answers 404 on every route; admins see it", async () => {
        await ready("db-alice-only");
        for (const [method, path, body] of [
            ["GET", "/databases/db-alice-only", undefined], ["GET", "/databases/db-alice-only?include=password", undefined],
            ["DELETE", "/databases/db-alice-only", undefined], ["POST", "/databases/db-alice-only/restart", undefined],
            ["POST", "/databases/db-alice-only/retry", undefined], ["POST", "/databases/db-alice-only/cancel", undefined],
            ["PATCH", "/databases/db-alice-only", { ttl_hours: 3 }], ["GET", "/databases/db-alice-only/events", undefined],
        ] as const) {
            expectProblem(await api.call("bob", method, path, body === undefined ? {} : { body }), 404, "params.name");
        }
        expect((await api.call("admin", "GET", "/databases/db-alice-only")).body.owner).toBe("alice");
        expect((await api.call("alice", "GET", "/databases/db-alice-only")).body.state).toBe("ready");
    });

    it("lists own databases for users, all for admins, with filters and pages", async () => {
        await ready("db-list-a1");
        await ready("db-list-a2", "alice", { project_id: "proj-2" });
        await ready("db-list-b1", "bob");
        const names = (r: Pick<Reply, "body">) => (r.body.databases as { name: string }[]).map((d) => d.name);
        const bobs = await api.call("bob", "GET", "/databases?limit=500");
        expect(names(bobs)).toContain("db-list-b1");
        expect((bobs.body.databases as { owner: string }[]).every((d) => d.owner === "bob")).toBe(true);
        expect(names(await api.call("bob", "GET", "/databases?owner=alice"))).toEqual([]);
        expect(names(await api.call("alice", "GET", "/databases?project_id=proj-2"))).toEqual(["db-list-a2"]);
        const all = names(await api.call("admin", "GET", "/databases?limit=500"));
        expect(all).toEqual(expect.arrayContaining(["db-list-a1", "db-list-a2", "db-list-b1"]));
        expect(all).toEqual([...all].sort());
        expect(names(await api.call("admin", "GET", "/databases?owner=bob&state=ready"))).toContain("db-list-b1");
        // A listed database looks exactly as GET /databases/:name shows it.
        const listed = (await api.call("alice", "GET", "/databases?project_id=proj-2")).body.databases[0];
        expect(listed).toEqual((await api.call("alice", "GET", "/databases/db-list-a2")).body);

        const seen: string[] = [];
        let next: string | null = null;
        do {
            const page: Pick<Reply, "body"> = await api.call("admin", "GET", `/databases?limit=2${next ? `&after=${next}` : ""}`);
            expect(page.body.databases.length).toBeLessThanOrEqual(2);
            seen.push(...names(page));
            next = page.body.next as string | null;
        } while (next !== null);
        expect(seen).toEqual(all);
    });
});

describe("credentials", () => {
    it("are shown only to the owner, only on request, never stored or logged", async () => {
        const view = await ready("db-secret");
        const password = api.engine.stacks.get("db-secret")?.password ?? "";
        expect(password).not.toBe("");
        expect(view.credentials).toBeUndefined();
        expect(JSON.stringify(view)).not.toContain(password);

        const r = await api.call("alice", "GET", "/databases/db-secret?include=password");
        expect(r.status).toBe(200);
        expect(r.body.credentials).toEqual({ password, uri: expect.stringContaining(password) });
        expect(r.headers.get("cache-control")).toBe("no-store");

        expectProblem(await api.call("admin", "GET", "/databases/db-secret?include=password"), 403, "query.include");
        expectProblem(await api.call("alice", "GET", "/databases/db-secret?include=everything"), 400, "query.include");

        const stored = await sqlIn(pg, api.databaseUrl, "SELECT (SELECT string_agg(t::text, '') FROM databases t) || (SELECT string_agg(a::text, '') FROM audit_log a) || (SELECT string_agg(e::text, '') FROM operation_events e) AS everything");
        expect(String(stored[0]?.everything)).not.toContain(password);
        expect(api.logs.text).not.toContain(password);
        const audit = await api.call("admin", "GET", "/audit?database=db-secret&action=database.credentials");
        expect(audit.body.entries).toMatchObject([{ actor: "alice", outcome: "revealed", request_id: r.headers.get("x-request-id") }]);
    });

    it("are refused with 409 while the database is not ready", async () => {
        api.engine.script("up", "db-not-yet", { hang: true });
        await api.call("alice", "POST", "/databases", { body: createBody("db-not-yet") });
        const r = await api.call("alice", "GET", "/databases/db-not-yet?include=password");
        expectProblem(r, 409, "query.include");
        expect(r.body.state).toBe("creating");
        await api.call("alice", "DELETE", "/databases/db-not-yet");
    });
});

describe("audit log", () => {
    it("records each action with actor, database, operation, outcome and request id", async () => {
        const rid = (n: string) => ({ headers: { "x-request-id": `req-${n}` } });
        await api.call("alice", "POST", "/databases", { body: createBody("db-audit"), ...rid("create") });
        await waitForState(api, "db-audit", "ready");
        await api.call("alice", "PATCH", "/databases/db-audit", { body: { ttl_hours: 5 }, ...rid("extend") });
        await api.call("alice", "POST", "/databases/db-audit/restart", rid("restart"));
        await waitForState(api, "db-audit", "ready");
        await api.call("alice", "POST", "/databases/db-audit/retry", rid("refused"));
        await api.call("alice", "DELETE", "/databases/db-audit", rid("delete"));
        await waitForState(api, "db-audit", "deleted");

        const r = await api.call("admin", "GET", "/audit?database=db-audit");
        const entries = [...(r.body.entries as AuditEntryView[])].reverse().map((e) => [e.actor, e.action, e.outcome, e.request_id]);
        expect(entries).toEqual([
            ["alice", "database.create", "accepted", "req-create"],
            ["system", "operation.create", "succeeded", "req-create"],
            ["alice", "database.extend", "accepted", "req-extend"],
            ["alice", "database.restart", "accepted", "req-restart"],
            ["system", "operation.restart", "succeeded", "req-restart"],
            ["alice", "database.retry", "refused", "req-refused"],
            ["alice", "database.delete", "accepted", "req-delete"],
            ["system", "operation.delete", "succeeded", "req-delete"],
        ]);
        const all = r.body.entries as AuditEntryView[];
        expect(all.every((e) => typeof e.at === "string" && e.database === "db-audit")).toBe(true);
        expect(all.filter((e) => e.action.startsWith("operation.")).every((e) => Number.isInteger(e.operation_id))).toBe(true);
        expect(all.find((e) => e.action === "database.extend")?.detail).toMatchObject({ ttl_hours: 5, from: "ready", to: "ready" });

        const page = await api.call("admin", "GET", "/audit?database=db-audit&limit=3");
        expect(page.body.entries).toHaveLength(3);
        const rest = await api.call("admin", "GET", `/audit?database=db-audit&before=${page.body.next}`);
        expect(rest.body.entries).toHaveLength(5);
    });

    it.each([
        ["UPDATE audit_log SET outcome = 'x'"],
        ["DELETE FROM audit_log"],
        ["TRUNCATE audit_log"],
    ])("is append-only: %s is refused", async (sql) => {
        await expect(sqlIn(pg, api.databaseUrl, sql)).rejects.toThrow(/append-only/);
    });
});

describe("server-sent events", () => {
    it("streams the operation's events in order, then `end`, then closes", async () => {
        api.engine.script("up", "db-sse", { delayMs: 300, resources: 3 });
        await api.call("alice", "POST", "/databases", { body: createBody("db-sse") });
        const s = await readSse(`${api.url}/databases/db-sse/events`, TOKENS.alice);
        expect(s.status).toBe(200);
        expect(s.contentType).toMatch(/^text\/event-stream/);
        const kinds = s.frames.map((f) => f.event);
        expect(kinds[0]).toBe("status");
        expect(kinds.at(-1)).toBe("end");
        expect(kinds.filter((k) => k === "resource-start")).toHaveLength(3);
        expect(kinds.filter((k) => k === "resource-done")).toHaveLength(3);
        expect(kinds).toContain("summary");
        const ids = s.frames.map((f) => Number(f.id));
        expect(ids).toEqual([...ids].sort((a, b) => a - b));
        expect(new Set(ids).size).toBe(ids.length);
        const starts = s.frames.filter((f) => f.event?.startsWith("resource-")).map((f) => `${f.event}:${JSON.parse(f.data ?? "{}").name}`);
        expect(starts).toEqual(["resource-start:db-sse-r0", "resource-done:db-sse-r0", "resource-start:db-sse-r1", "resource-done:db-sse-r1", "resource-start:db-sse-r2", "resource-done:db-sse-r2"]);
        expect(JSON.parse(s.frames.at(-1)?.data ?? "{}")).toMatchObject({ status: "succeeded", state: "ready" });
        expect(s.raw).toContain(": heartbeat");
    });

    it("replays after Last-Event-ID, and serves an earlier operation by ?operation=", async () => {
        const first = await ready("db-sse2");
        const full = await readSse(`${api.url}/databases/db-sse2/events`, TOKENS.alice);
        const cut = full.frames[2];
        const resumed = await readSse(`${api.url}/databases/db-sse2/events`, TOKENS.alice, { "last-event-id": cut?.id ?? "" });
        expect(resumed.frames).toEqual(full.frames.slice(3));

        await api.call("alice", "POST", "/databases/db-sse2/restart");
        await waitForState(api, "db-sse2", "ready");
        const restart = await readSse(`${api.url}/databases/db-sse2/events`, TOKENS.alice);
        expect(restart.frames[0]?.data).toContain("restart");
        const old = await readSse(`${api.url}/databases/db-sse2/events?operation=${first.last_operation.id}`, TOKENS.alice);
        expect(old.frames).toEqual(full.frames);
        expectProblem(await api.call("alice", "GET", "/databases/db-sse2/events?operation=999999"), 404, "query.operation");
    });

    it("a failed operation's stream ends with its reason", async () => {
        api.engine.script("up", "db-sse-fail", { failTimes: Infinity, failWith: "program" });
        await api.call("alice", "POST", "/databases", { body: createBody("db-sse-fail") });
        const s = await readSse(`${api.url}/databases/db-sse-fail/events`, TOKENS.alice);
        expect(s.frames.map((f) => f.event)).toContain("diagnostic");
        expect(JSON.parse(s.frames.at(-1)?.data ?? "{}")).toMatchObject({ status: "failed", state: "failed", reason: "the container did not become healthy (scripted)" });
    });
});

describe("request ids and limits", () => {
    it("honours a sane X-Request-ID and replaces an unsafe one", async () => {
        const sane = await api.call("alice", "GET", "/versions", { headers: { "x-request-id": "nginx-abc.123" } });
        expect(sane.headers.get("x-request-id")).toBe("nginx-abc.123");
        const unsafe = await api.call(null, "GET", "/databases", { headers: { "x-request-id": "bad id with spaces" } });
        expect(unsafe.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
        expect(unsafe.body.instance).toBe(unsafe.headers.get("x-request-id"));
    });

    it("refuses a body over the limit with 413", async () => {
        const r = await api.call("alice", "POST", "/databases", { body: createBody("db-big", { owner: "alice", backup_location: `https://backups.example.com/${"x".repeat(70_000)}` }) });
        expectProblem(r, 413, "body");
    });

    it("limits requests per token subject with 429", async () => {
        const limited = await startTestApi(pg, { env: { DBAAS_RATE_LIMIT_PER_MINUTE: "3" } });
        try {
            // /me reports the limit, and counts against it like any other call.
            expect((await limited.call("alice", "GET", "/me")).body).toMatchObject({ subject: "alice", rate_limit_per_minute: 3 });
            for (let i = 0; i < 2; i++) expect((await limited.call("alice", "GET", "/versions")).status).toBe(200);
            const r = await limited.call("alice", "GET", "/versions");
            expectProblem(r, 429, "header.authorization");
            expect(r.headers.get("retry-after")).not.toBeNull();
            expect((await limited.call("bob", "GET", "/versions")).status).toBe(200);
            expect((await limited.call(null, "GET", "/healthz")).status).toBe(200);
        } finally {
            await limited.close(100);
        }
    });

    it("keeps the one-operation-per-database rule under concurrent requests", async () => {
        await ready("db-race");
        // Long enough that the first restart is still running when the last request arrives.
        api.engine.script("restart", "db-race", { delayMs: 3000 });
        const results = await Promise.all(Array.from({ length: 8 }, () => api.call("alice", "POST", "/databases/db-race/restart")));
        expect(results.filter((r) => r.status === 202)).toHaveLength(1);
        expect(results.filter((r) => r.status === 409)).toHaveLength(7);
        await waitForState(api, "db-race", "ready");
        const creates = await Promise.all(Array.from({ length: 6 }, () => api.call("alice", "POST", "/databases", { body: createBody("db-race2") })));
        expect(creates.filter((r) => r.status === 202)).toHaveLength(1);
        expect(creates.filter((r) => r.status === 409)).toHaveLength(5);
        await waitFor("no overlap", () => Promise.resolve(api.engine.active.size === 0 || api.engine.overlaps > 0 ? true : undefined));
        expect(api.engine.overlaps).toBe(0);
    });
});
