/**
 * Property: whatever bodies, names, URLs, query strings and headers are
 * thrown at any route, the API never answers 5xx and never crashes, and every
 * refusal is application/problem+json whose detail names the field at fault.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sharedPostgres, type PostgresServer } from "../support/postgres";
import { createBody, startTestApi, TOKENS, type TestApi } from "../support/testApi";

let pg: PostgresServer;
let api: TestApi;
beforeAll(async () => {
    pg = await sharedPostgres();
    api = await startTestApi(pg, { env: { DBAAS_RATE_LIMIT_PER_MINUTE: "100000" } });
    // A database to aim the per-name routes at, so they get past the 404.
    await api.call("alice", "POST", "/databases", { body: createBody("db-target") });
});
afterAll(async () => {
    await api?.close(200);
    await pg?.stop();
});

const printable = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));
const asciiString = (maxLength: number) => fc.string({ unit: printable, maxLength });
const anyString = fc.oneof(fc.string({ maxLength: 60 }), fc.string({ unit: "grapheme", maxLength: 20 }), asciiString(300));

const badName = fc.oneof(
    anyString,
    fc.constantFrom("UPPER", "-lead", "trail-", "1digit", "a".repeat(41), "a_b", "a.b", "ä", "a%2Fb", "..", "null", "db-target", "x".repeat(500), "no-such-db"),
);

const badUrl = fc.oneof(
    fc.webUrl({ withQueryParameters: true, withFragments: true }),
    fc.constantFrom(
        "http://backups.example.com/x", "file:///etc/passwd", "gopher://backups.example.com/", "https://127.0.0.1/", "https://2130706433/",
        "https://0x7f.1/", "https://[::1]/", "https://[fd00:ec2::254]/", "https://user:pw@backups.example.com/", "https://backups.example.com@evil.example/",
        "https://metadata.example.com/", "https://rebind.example.com/", "https://backups.example.com:8443/", "javascript:alert(1)", "", " ",
    ),
    anyString,
);

const jsonValue = fc.jsonValue({ maxDepth: 3 });

/** A create body with one or two fields spoiled. */
const badCreateBody = fc.record({
    field: fc.constantFrom("project_id", "owner", "name", "db_type", "backup_location", "version", "ttl_hours", "source_ranges", "extra"),
    value: fc.oneof(jsonValue, badName, badUrl, fc.integer(), fc.double(), fc.array(anyString, { maxLength: 40 }), fc.constant(null)),
    second: fc.option(fc.tuple(fc.constantFrom("ttl_hours", "source_ranges", "backup_location"), fc.oneof(jsonValue, badUrl)), { nil: undefined }),
}).map(({ field, value, second }) => {
    const body: Record<string, unknown> = { ...createBody(`db-p${Math.random().toString(36).slice(2, 8)}`), [field]: value };
    if (second) body[second[0]] = second[1];
    return body;
});

const body = fc.oneof(
    badCreateBody.map((b) => ({ json: b })),
    jsonValue.map((j) => ({ json: j })),
    asciiString(200).map((raw) => ({ raw })),
    fc.constant({ raw: "{\"name\": " }),
    fc.constant({ none: true as const }),
);

const token = fc.oneof(
    fc.constantFrom(TOKENS.alice, TOKENS.bob, TOKENS.admin).map((t) => `Bearer ${t}`),
    fc.constantFrom(TOKENS.alice).map((t) => `Bearer ${t}`),
    asciiString(80),
    asciiString(60).map((t) => `Bearer ${t}`),
    fc.constant(undefined),
);

const headers = fc.record({
    authorization: token,
    "content-type": fc.oneof(fc.constantFrom("application/json", "application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded", "application/problem+json", "multipart/form-data"), asciiString(40), fc.constant(undefined)),
    "x-request-id": fc.option(asciiString(200), { nil: undefined }),
    "last-event-id": fc.option(asciiString(30), { nil: undefined }),
    accept: fc.option(asciiString(40), { nil: undefined }),
}, { requiredKeys: [] });

const query = fc.dictionary(fc.oneof(fc.constantFrom("limit", "after", "owner", "state", "project_id", "include", "operation", "before", "action", "database", "expires", "sig"), asciiString(10)), anyString, { maxKeys: 3 })
    .map((q) => (Object.keys(q).length === 0 ? "" : `?${new URLSearchParams(q).toString()}`));

const ROUTES: readonly [string, string][] = [
    ["POST", "/databases"], ["GET", "/databases"], ["GET", "/databases/:name"], ["PATCH", "/databases/:name"], ["DELETE", "/databases/:name"],
    ["POST", "/databases/:name/restart"], ["POST", "/databases/:name/retry"], ["POST", "/databases/:name/cancel"], ["GET", "/databases/:name/events"],
    ["GET", "/versions"], ["GET", "/audit"], ["GET", "/me"], ["GET", "/healthz"], ["GET", "/readyz"], ["GET", "/openapi.json"],
    ["GET", "/metrics"], ["GET", "/reports"],
    ["GET", "/databases/:name/activities"], ["POST", "/databases/:name/activities/:id/notes"],
    ["POST", "/projects/:project/contacts"], ["GET", "/projects/:project/contacts"], ["PATCH", "/projects/:project/contacts/:id"],
    ["DELETE", "/projects/:project/contacts/:id"], ["GET", "/projects/:project/deliveries"],
    ["POST", "/databases/:name/backups"], ["GET", "/databases/:name/backups"], ["GET", "/databases/:name/backups/:id"], ["GET", "/backups/:id/content"],
    ["POST", "/versions/:label/rollout"], ["GET", "/rollouts"], ["GET", "/rollouts/:id"], ["POST", "/rollouts/:id/resume"],
    ["GET", "/cache"], ["DELETE", "/cache/:id"],
];

const request = fc.record({
    route: fc.constantFrom(...ROUTES),
    name: fc.oneof(badName, fc.constant("db-target")),
    /** For :id (an activity, a contact or a cache entry) and :project. */
    id: fc.oneof(fc.constantFrom("1", "2", "0", "-1", "1e3", "99999999999999999999"), anyString),
    project: fc.oneof(badName, fc.constant("proj-1")),
    body,
    headers,
    query,
});

type Request = typeof request extends fc.Arbitrary<infer T> ? T : never;

async function send(r: { route: readonly [string, string]; name: string; id?: string; project?: string; body: Request["body"]; headers: Record<string, string | undefined>; query: string }) {
    const [method, template] = r.route;
    const path = template.replace(":name", encodeURIComponent(r.name)).replace(":id", encodeURIComponent(r.id ?? "1")).replace(":project", encodeURIComponent(r.project ?? "proj-1")).replace(":label", encodeURIComponent(r.name)) + r.query;
    const h: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.headers)) if (typeof v === "string") h[k] = v;
    let payload: string | undefined;
    if ("json" in r.body) payload = JSON.stringify(r.body.json);
    else if ("raw" in r.body) payload = r.body.raw;
    const withBody = method !== "GET" && payload !== undefined;
    const ac = new AbortController();
    // SSE streams of a live operation stay open; a short read is enough to judge the status.
    const timer = setTimeout(() => ac.abort(), 3000);
    try {
        const res = await fetch(api.url + path, { method, headers: h, ...(withBody ? { body: payload } : {}), signal: ac.signal });
        const ct = res.headers.get("content-type") ?? "";
        const text = ct.startsWith("text/event-stream") ? "" : await res.text();
        if (ct.startsWith("text/event-stream")) await res.body?.cancel();
        return { status: res.status, ct, text, path, method };
    } finally {
        clearTimeout(timer);
    }
}

function checkRefusal(res: Awaited<ReturnType<typeof send>>): void {
    const where = `${res.method} ${res.path} -> ${res.status} ${res.text.slice(0, 300)}`;
    expect(res.status, where).toBeLessThan(500);
    if (res.status < 400) return;
    expect(res.ct, where).toMatch(/^application\/problem\+json/);
    const p = JSON.parse(res.text) as { status: number; title: string; detail: string; errors?: { field: string; rule: string }[] };
    expect(p.status, where).toBe(res.status);
    expect(p.title, where).toEqual(expect.any(String));
    expect(p.errors?.length ?? 0, where).toBeGreaterThan(0);
    const fields = (p.errors ?? []).map((e) => e.field);
    expect(fields.some((f) => p.detail.includes(f)), where).toBe(true);
    expect(p.detail, where).not.toMatch(/\n\s+at /);
}

describe("property: bad input never gets a 5xx, and every refusal is a problem naming the field", () => {
    it("the route list covers every route the OpenAPI document lists", async () => {
        const doc = (await api.call(null, "GET", "/openapi.json")).body as { paths: Record<string, Record<string, unknown>> };
        const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ":$1")}`));
        expect(ROUTES.map(([m, p]) => `${m} ${p}`)).toEqual(expect.arrayContaining(documented));
    });

    it("any route, any body, name, query and headers", async () => {
        const seen = new Map<number, number>();
        await fc.assert(fc.asyncProperty(request, async (r) => {
            const res = await send(r);
            seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
            checkRefusal(res);
        }), { numRuns: 120 });
        expect((await api.call(null, "GET", "/healthz")).status).toBe(200);
        // The generators must get past authentication to the validation and routing layers, not only bounce at 401.
        expect([...seen.keys()]).toEqual(expect.arrayContaining([400, 401]));
    });

    it("create bodies with spoiled fields name that field", async () => {
        await fc.assert(fc.asyncProperty(badCreateBody, async (b) => {
            const res = await send({ route: ["POST", "/databases"], name: "", body: { json: b }, headers: { authorization: `Bearer ${TOKENS.admin}`, "content-type": "application/json" }, query: "" });
            checkRefusal(res);
        }), { numRuns: 40 });
    });

    it("backup_location: only allow-listed https URLs resolving to public addresses are accepted", async () => {
        await fc.assert(fc.asyncProperty(badUrl, async (url) => {
            const name = `db-u${Math.random().toString(36).slice(2, 8)}`;
            const res = await send({ route: ["POST", "/databases"], name: "", body: { json: createBody(name, { backup_location: url }) }, headers: { authorization: `Bearer ${TOKENS.alice}`, "content-type": "application/json" }, query: "" });
            checkRefusal(res);
            if (res.status === 202) expect(new URL(url).hostname).toBe("backups.example.com");
            else expect(res.text).toContain("body.backup_location");
        }), { numRuns: 40 });
    });
});
