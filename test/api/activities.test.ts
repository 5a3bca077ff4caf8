/**
 * Activities, notes, contacts and notification deliveries through the HTTP
 * API, against a real admin database with the engine test double: the
 * activity rows a lifecycle produces, in order; notes with ticket links and
 * their refusals; ownership; contacts' checks and secrets; a signed webhook
 * to a receiver on 127.0.0.1; a failing receiver retried on the backoff
 * schedule with every attempt listed; the expiry warning received by an SMTP
 * sink on 127.0.0.1.
 *
 * The egress check refuses loopback, as it must. The webhooks reach the local
 * receiver through the TEST SEAM `testOnlyWebhookSender` of startApi: the
 * worker still resolves the contact's host (fake DNS: a public address) and
 * checks it; only the final connection goes to 127.0.0.1 instead of the
 * checked address. That seam is code, not configuration: no environment
 * variable or stack setting can turn it on.
 */
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call -- assertions read JSON response bodies (typed any in test/support/testApi.ts) */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as tls from "node:tls";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordPatchOutcome } from "../../api/domain/activityLog";
import { enqueueNotification } from "../../api/store/contacts";
import { httpsWebhookSender, type WebhookRequest, type WebhookSender } from "../../api/notify/channels";
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyWebhook } from "../../api/notify/signature";
import { sharedPostgres, type PostgresServer } from "../support/postgres";
import { selfSignedCertificate } from "../support/tls";
import { createBody, DEFAULT_DNS, fakeResolver, sqlIn, startTestApi, waitFor, waitForState, type Reply, type TestApi } from "../support/testApi";

interface AttemptJson { attempt: number; at: string; outcome: string; http_status: number | null }
interface AuditJson { actor: string; detail: Record<string, unknown> }

interface Received {
    readonly path: string;
    readonly headers: http.IncomingHttpHeaders;
    readonly body: string;
    readonly at: number;
}

let pg: PostgresServer;
let api: TestApi;
let receiver: http.Server;
let smtp: SMTPServer;
const received: Received[] = [];
const sentTo: WebhookRequest[] = [];
const mails: { to: string; raw: string }[] = [];

beforeAll(async () => {
    pg = await sharedPostgres();
    // The local receiver: /fail answers 500, everything else 204.
    receiver = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            received.push({ path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), at: Date.now() });
            res.writeHead(req.url === "/fail" ? 500 : 204).end();
        });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    const port = (receiver.address() as AddressInfo).port;
    // The SMTP sink: no TLS, no auth, keeps every message.
    smtp = new SMTPServer({
        disabledCommands: ["STARTTLS", "AUTH"], authOptional: true, logger: false,
        onData(stream, session, cb) {
            const chunks: Buffer[] = [];
            stream.on("data", (c: Buffer) => chunks.push(c));
            stream.on("end", () => {
                mails.push({ to: session.envelope.rcptTo.map((r) => r.address).join(","), raw: Buffer.concat(chunks).toString("utf8") });
                cb();
            });
        },
    });
    await new Promise<void>((r) => smtp.listen(0, "127.0.0.1", r));
    const smtpPort = (smtp.server.address() as AddressInfo).port;
    // TEST SEAM (see the file comment): the checked request, sent to the local receiver over plain HTTP.
    const sender: WebhookSender = async (r) => {
        sentTo.push(r);
        const res = await fetch(`http://127.0.0.1:${port}${new URL(r.url).pathname}`, { method: "POST", headers: { ...r.headers }, body: r.body });
        return { status: res.status };
    };
    const started = await startTestApi(pg, {
        resolver: fakeResolver({ ...DEFAULT_DNS, "hooks.example.com": ["93.184.216.34"], "inside.example.com": ["10.1.2.3"] }),
        env: {
            DBAAS_REAPER_INTERVAL_SECONDS: "0.1", DBAAS_NOTIFY_POLL_MS: "50", DBAAS_NOTIFY_MAX_ATTEMPTS: "3",
            DBAAS_NOTIFY_RETRY_BASE_SECONDS: "0.1", DBAAS_NOTIFY_RETRY_MAX_SECONDS: "0.15",
            DBAAS_SMTP_URL: `smtp://127.0.0.1:${smtpPort}`, DBAAS_SMTP_FROM: "dbaas@test.example",
            DBAAS_MAX_CONCURRENT_OPERATIONS: "16",
            // Two days: only a database created with a shorter TTL is within the day of the expiry warning.
            DBAAS_TTL_HOURS_DEFAULT: "48",
        },
        testOnlyWebhookSender: sender,
    });
    api = started;
});

afterAll(async () => {
    await api?.close(200);
    await new Promise((r) => receiver?.close(r));
    await new Promise((r) => smtp?.close(() => r(undefined)));
    await pg?.stop();
});

interface ActivityJson {
    id: number;
    kind: string;
    planned: boolean;
    actor: string;
    database: string;
    operation_id: number | null;
    detail: Record<string, unknown>;
    notes: { author: string; text: string; ticket_url: string | null }[];
}

/** The `i`-th row, failing the test when there is none. */
function nth<T>(rows: readonly T[], i: number): T {
    const row = rows[i];
    if (row === undefined) throw new Error(`expected at least ${i + 1} rows, got ${rows.length}`);
    return row;
}

async function activities(name: string, who: "alice" | "admin" = "alice"): Promise<ActivityJson[]> {
    const r = await api.call(who, "GET", `/databases/${name}/activities`);
    expect(r.status, r.text).toBe(200);
    return r.body.activities;
}

async function createContact(project: string, body: Record<string, unknown>): Promise<{ id: number; secret: string }> {
    const r = await api.call("admin", "POST", `/projects/${project}/contacts`, { body });
    expect(r.status, r.text).toBe(201);
    return { id: r.body.contact.id, secret: r.body.secret };
}

function expectProblem(r: Reply, status: number, field: string): void {
    expect(r.status).toBe(status);
    expect(r.headers.get("content-type")).toContain("application/problem+json");
    expect(r.body.errors.map((e: { field: string }) => e.field)).toContain(field);
}

describe("activities", () => {
    it("a lifecycle through the test engine writes created, ready, restarted, deleted, newest first", async () => {
        expect((await api.call("alice", "POST", "/databases", { body: createBody("act-life", { project_id: "p-life" }) })).status).toBe(202);
        await waitForState(api, "act-life", "ready");
        expect((await api.call("alice", "POST", "/databases/act-life/restart")).status).toBe(202);
        await waitFor("restart done", async () => ((await activities("act-life"))[0]?.kind === "restarted" ? true : undefined));
        expect((await api.call("alice", "DELETE", "/databases/act-life")).status).toBe(202);
        await waitForState(api, "act-life", "deleted");
        const rows = await activities("act-life");
        expect(rows.map((a) => a.kind)).toEqual(["deleted", "restarted", "ready", "created"]);
        expect(rows.every((a) => a.planned === true && a.database === "act-life")).toBe(true);
        expect(rows[3]).toMatchObject({ actor: "alice", detail: { version: "PostgreSQL 17" } });
        expect(rows[2]).toMatchObject({ actor: "system", detail: { operation: "create" } });
        // Each names the operation it came from; ids grow with time.
        const ops = rows.map((a) => a.operation_id as number);
        expect(ops.every((id) => Number.isInteger(id))).toBe(true);
        expect(new Set(ops).size).toBe(3);
        expect([...rows].reverse().map((a) => a.id)).toEqual([...rows.map((a) => a.id)].sort((x, y) => x - y));
        // Paging: two at a time, `next` leads to the older ones.
        const first = await api.call("alice", "GET", "/databases/act-life/activities?limit=2");
        expect(first.body.activities.map((a: ActivityJson) => a.kind)).toEqual(["deleted", "restarted"]);
        const second = await api.call("alice", "GET", `/databases/act-life/activities?limit=2&before=${first.body.next}`);
        expect(second.body.activities.map((a: ActivityJson) => a.kind)).toEqual(["ready", "created"]);
        expect(second.body.next).toBeNull();
    });

    it("a failed create is a failed activity and notifies the project's webhook", async () => {
        const hook = await createContact("p-fail", { webhook_url: "https://hooks.example.com/failures" });
        api.engine.script("up", "act-fail", { failTimes: Infinity, failWith: "program" });
        expect((await api.call("alice", "POST", "/databases", { body: createBody("act-fail", { project_id: "p-fail" }) })).status).toBe(202);
        await waitForState(api, "act-fail", "failed");
        const rows = await activities("act-fail");
        expect(rows.map((a) => a.kind)).toEqual(["failed", "created"]);
        expect(typeof nth(rows, 0).detail.reason).toBe("string");
        const got = await waitFor("the failure webhook", () => received.find((r) => r.path === "/failures"));
        const body = JSON.parse(got.body);
        expect(body).toMatchObject({ kind: "failure", project_id: "p-fail", database: "act-fail", data: { activity: "failed", activity_id: nth(rows, 0).id } });
        expect(verifyWebhook(hook.secret, { timestamp: got.headers[TIMESTAMP_HEADER] as string, signature: got.headers[SIGNATURE_HEADER] as string }, got.body, Math.floor(Date.now() / 1000))).toEqual({ ok: true });
    });

    it("the reaper's expiry is an expired activity before the deleted one", async () => {
        expect((await api.call("alice", "POST", "/databases", { body: createBody("act-exp", { project_id: "p-exp" }) })).status).toBe(202);
        await waitForState(api, "act-exp", "ready");
        await sqlIn(pg, api.databaseUrl, "UPDATE databases SET expires_at = now() - interval '1 minute' WHERE name = 'act-exp'");
        await waitForState(api, "act-exp", "deleted");
        const rows = await activities("act-exp");
        expect(rows.map((a) => a.kind)).toEqual(["deleted", "expired", "ready", "created"]);
        expect(nth(rows, 1).actor).toBe("reaper");
    });

    it("notes: the owner adds one with a ticket link; it shows on the activity and in the audit view", async () => {
        expect((await api.call("alice", "POST", "/databases", { body: createBody("act-note", { project_id: "p-note" }) })).status).toBe(202);
        await waitForState(api, "act-note", "ready");
        const ready = nth(await activities("act-note"), 0);
        const r = await api.call("alice", "POST", `/databases/act-note/activities/${ready.id}/notes`, { body: { text: "slow start, see ticket", ticket_url: "https://tickets.example.com/T-42" } });
        expect(r.status, r.text).toBe(201);
        expect(r.body).toMatchObject({ activity_id: ready.id, author: "alice", ticket_url: "https://tickets.example.com/T-42" });
        expect((await api.call("admin", "POST", `/databases/act-note/activities/${ready.id}/notes`, { body: { text: "admin was here" } })).status).toBe(201);
        const withNotes = nth(await activities("act-note"), 0);
        expect(withNotes.notes.map((n) => [n.author, n.text, n.ticket_url])).toEqual([
            ["alice", "slow start, see ticket", "https://tickets.example.com/T-42"], ["admin", "admin was here", null],
        ]);
        const audit = await api.call("admin", "GET", "/audit?database=act-note&action=activity.note");
        expect(audit.body.entries.map((e: { actor: string }) => e.actor)).toEqual(["admin", "alice"]);
        expect(audit.body.entries[1].detail).toMatchObject({ activity_id: ready.id, ticket_url: "https://tickets.example.com/T-42", text: "slow start, see ticket" });
    });

    it("a note with a bad ticket link, or an activity of another database, is refused naming the field", async () => {
        expect((await api.call("alice", "POST", "/databases", { body: createBody("act-bad", { project_id: "p-note" }) })).status).toBe(202);
        const created = nth(await activities("act-bad"), 0);
        for (const link of ["http://tickets.example.com/T-1", "javascript:alert(1)", "tickets.example.com/T-1", `https://t.example.com/${"x".repeat(2100)}`, "https://user:pw@t.example.com/"]) {
            expectProblem(await api.call("alice", "POST", `/databases/act-bad/activities/${created.id}/notes`, { body: { text: "x", ticket_url: link } }), 400, "body.ticket_url");
        }
        expectProblem(await api.call("alice", "POST", `/databases/act-bad/activities/${created.id}/notes`, { body: { text: "" } }), 400, "body.text");
        const other = nth(await activities("act-note"), 0);
        expectProblem(await api.call("alice", "POST", `/databases/act-bad/activities/${other.id}/notes`, { body: { text: "x" } }), 404, "params.id");
        const audit = await api.call("admin", "GET", "/audit?database=act-bad&action=activity.note");
        expect(audit.body.entries).toEqual([]);
    });

    it("ownership: another user sees neither the activities nor may add notes", async () => {
        expect((await api.call("alice", "POST", "/databases", { body: createBody("act-own", { project_id: "p-own" }) })).status).toBe(202);
        const created = nth(await activities("act-own"), 0);
        expectProblem(await api.call("bob", "GET", "/databases/act-own/activities"), 404, "params.name");
        expectProblem(await api.call("bob", "POST", `/databases/act-own/activities/${created.id}/notes`, { body: { text: "mine now" } }), 404, "params.name");
        expect((await api.call("admin", "GET", "/databases/act-own/activities")).status).toBe(200);
        expectProblem(await api.call(null, "GET", "/databases/act-own/activities"), 401, "header.authorization");
    });

    it("an unplanned down (the watcher's call) is recorded as not planned, audited and sent signed to the webhook", async () => {
        const hook = await createContact("p-watch", { name: "on-call", webhook_url: "https://hooks.example.com/watch" });
        expect((await api.call("alice", "POST", "/databases", { body: createBody("act-watch", { project_id: "p-watch" }) })).status).toBe(202);
        await waitForState(api, "act-watch", "ready");
        const row = await api.activities.recordUnplanned("act-watch", "down", { container: "exited 137" });
        expect(row).toMatchObject({ kind: "down", planned: false });
        expect(await api.activities.recordUnplanned("no-such-db", "down")).toBeUndefined();
        expect((await activities("act-watch"))[0]).toMatchObject({ kind: "down", planned: false, actor: "watcher", detail: { container: "exited 137" } });
        const got = await waitFor("the unplanned webhook", () => received.find((r) => r.path === "/watch"));
        // The worker checked the contact's host and handed over the public address it resolved to.
        expect(sentTo.find((r) => r.url === "https://hooks.example.com/watch")?.address.address).toBe("93.184.216.34");
        const ts = got.headers[TIMESTAMP_HEADER] as string;
        const sig = got.headers[SIGNATURE_HEADER] as string;
        const now = Math.floor(Date.now() / 1000);
        expect(verifyWebhook(hook.secret, { timestamp: ts, signature: sig }, got.body, now)).toEqual({ ok: true });
        expect(verifyWebhook(hook.secret, { timestamp: ts, signature: sig }, got.body.replace("act-watch", "act-other"), now).ok).toBe(false);
        expect(verifyWebhook("whsec_wrong", { timestamp: ts, signature: sig }, got.body, now).ok).toBe(false);
        expect(JSON.parse(got.body)).toMatchObject({ kind: "unplanned", database: "act-watch", data: { activity: "down", planned: false } });
        const audit = await api.call("admin", "GET", "/audit?database=act-watch&action=activity.unplanned");
        expect(audit.body.entries).toMatchObject([{ actor: "watcher", outcome: "down" }]);
        // The secret went into the signature only: not into logs, listings or deliveries.
        const listed = await api.call("admin", "GET", "/projects/p-watch/contacts");
        const deliveries = await api.call("admin", "GET", "/projects/p-watch/deliveries");
        for (const text of [api.logs.text, listed.text, deliveries.text]) expect(text).not.toContain(hook.secret);
        expect(deliveries.body.deliveries[0]).toMatchObject({ channel: "webhook", status: "delivered", attempts: 1, notification: { kind: "unplanned", database: "act-watch" } });
    });

    it("a failing receiver is retried with backoff until the last attempt, every attempt listed", async () => {
        await createContact("p-retry", { webhook_url: "https://hooks.example.com/fail" });
        expect((await api.call("alice", "POST", "/databases", { body: createBody("act-retry", { project_id: "p-retry" }) })).status).toBe(202);
        await waitForState(api, "act-retry", "ready");
        await api.activities.recordUnplanned("act-retry", "restarted");
        const failed = await waitFor("the delivery to fail for good", async () => {
            const r = await api.call("admin", "GET", "/projects/p-retry/deliveries");
            const d = r.body.deliveries.find((x: { notification: { kind: string } }) => x.notification.kind === "unplanned");
            return d?.status === "failed" ? d : undefined;
        });
        expect(failed.attempts).toBe(3);
        expect(failed.next_attempt_at).toBeNull();
        expect(failed.last_error).toBe("the receiver answered HTTP 500");
        expect(failed.attempt_log.map((a: AttemptJson) => [a.attempt, a.outcome, a.http_status])).toEqual([[1, "failed", 500], [2, "failed", 500], [3, "failed", 500]]);
        // The waits follow the schedule: 100 ms after the first, 150 ms (the cap) after the second.
        const at = failed.attempt_log.map((a: AttemptJson) => Date.parse(a.at));
        expect(at[1] - at[0]).toBeGreaterThanOrEqual(100 - 5);
        expect(at[2] - at[1]).toBeGreaterThanOrEqual(150 - 5);
        expect(received.filter((r) => r.path === "/fail")).toHaveLength(3);
    });

    it("a patch outcome from the rollout is a patched activity and a patch notification", async () => {
        await createContact("p-patch", { webhook_url: "https://hooks.example.com/patch" });
        expect((await api.call("alice", "POST", "/databases", { body: createBody("act-patch", { project_id: "p-patch" }) })).status).toBe(202);
        await waitForState(api, "act-patch", "ready");
        const db = await api.store.findDatabase("act-patch");
        if (db === undefined) throw new Error("act-patch is missing");
        await api.store.tx((c) => recordPatchOutcome(c, db, { outcome: "succeeded", previousImage: "postgres:17.2", newImage: "postgres:17.3", patchType: "database", outputExcerpt: "replaced container" }));
        expect((await activities("act-patch"))[0]).toMatchObject({ kind: "patched", actor: "rollout", detail: { previous_image: "postgres:17.2", new_image: "postgres:17.3", patch_type: "database", outcome: "succeeded" } });
        const got = await waitFor("the patch webhook", () => received.find((r) => r.path === "/patch"));
        expect(JSON.parse(got.body)).toMatchObject({ kind: "patch", summary: "act-patch: patch postgres:17.2 → postgres:17.3 succeeded" });
    });

    it("the SMTP sink receives the expiry warning a day before", async () => {
        await createContact("p-mail", { email: "ops@example.com" });
        // 8 hours: within the day of warning at once.
        expect((await api.call("alice", "POST", "/databases", { body: createBody("act-mail", { project_id: "p-mail", ttl_hours: 8 }) })).status).toBe(202);
        const mail = await waitFor("the expiry mail", () => mails.find((m) => m.raw.includes("act-mail")));
        expect(mail.to).toBe("ops@example.com");
        expect(mail.raw).toMatch(/Subject: \[dbaas\] act-mail expires at /);
        expect(mail.raw).toContain("From: dbaas@test.example");
        const deliveries = await api.call("admin", "GET", "/projects/p-mail/deliveries");
        expect(deliveries.body.deliveries).toMatchObject([{ channel: "email", status: "delivered", notification: { kind: "expiry", database: "act-mail" } }]);
        // Once per expiry time: later sweeps send no second warning.
        await new Promise((r) => setTimeout(r, 300));
        expect(mails.filter((m) => m.raw.includes("act-mail"))).toHaveLength(1);
    });
});

describe("contacts", () => {
    it("only admins manage contacts and see deliveries", async () => {
        expectProblem(await api.call("alice", "POST", "/projects/p-own/contacts", { body: { email: "a@example.com" } }), 403, "header.authorization");
        expectProblem(await api.call("alice", "GET", "/projects/p-own/contacts"), 403, "header.authorization");
        expectProblem(await api.call("alice", "GET", "/projects/p-own/deliveries"), 403, "header.authorization");
        expectProblem(await api.call("bob", "DELETE", "/projects/p-own/contacts/1"), 403, "header.authorization");
    });

    it("webhook URLs are checked like backup URLs; a contact needs an email or a webhook", async () => {
        const cases: [unknown, string][] = [
            [{ webhook_url: "http://hooks.example.com/x" }, "body.webhook_url"],
            [{ webhook_url: "https://127.0.0.1/x" }, "body.webhook_url"],
            [{ webhook_url: "https://inside.example.com/x" }, "body.webhook_url"],
            [{ webhook_url: "https://metadata.example.com/x" }, "body.webhook_url"],
            [{ webhook_url: "https://hooks.example.com:8443/x" }, "body.webhook_url"],
            [{ webhook_url: "https://nowhere.example.com/x" }, "body.webhook_url"],
            [{ name: "nobody" }, "body.email"],
            [{ email: "not-an-address" }, "body.email"],
            [{ email: "a@example.com", expires_at: "2001-01-01T00:00:00Z" }, "body.expires_at"],
            [{ email: "a@example.com", expires_at: "tomorrow" }, "body.expires_at"],
            [{ email: "a@example.com", secret: "mine" }, "body"],
        ];
        for (const [body, field] of cases) {
            const r = await api.call("admin", "POST", "/projects/p-check/contacts", { body });
            expect(r.status, JSON.stringify(body)).toBeGreaterThanOrEqual(400);
            expectProblem(r, r.status, field);
        }
        const inside = await api.call("admin", "POST", "/projects/p-check/contacts", { body: { webhook_url: "https://inside.example.com/x" } });
        expect(inside.body.detail).toContain("10.1.2.3, which is private");
        expect((await api.call("admin", "GET", "/projects/p-check/contacts")).body.contacts).toEqual([]);
    });

    it("create, update, rotate, expire and delete; the secret is answered once and never listed", async () => {
        const created = await api.call("admin", "POST", "/projects/p-crud/contacts", { body: { name: "team", email: "team@example.com", webhook_url: "https://hooks.example.com/team" } });
        expect(created.status).toBe(201);
        expect(created.headers.get("cache-control")).toBe("no-store");
        expect(created.body.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
        const id = created.body.contact.id as number;
        const listed = await api.call("admin", "GET", "/projects/p-crud/contacts");
        expect(listed.body.contacts).toMatchObject([{ id, name: "team", email: "team@example.com", webhook_url: "https://hooks.example.com/team", active: true, created_by: "admin" }]);
        expect(listed.text).not.toContain(created.body.secret);
        expect(Object.keys(listed.body.contacts[0])).not.toContain("secret");

        const patched = await api.call("admin", "PATCH", `/projects/p-crud/contacts/${id}`, { body: { email: null, expires_at: "2099-01-01T00:00:00Z" } });
        expect(patched.status, patched.text).toBe(200);
        expect(patched.body).toEqual({ contact: expect.objectContaining({ email: null, expires_at: "2099-01-01T00:00:00.000Z" }) });
        expectProblem(await api.call("admin", "PATCH", `/projects/p-crud/contacts/${id}`, { body: { webhook_url: null } }), 422, "body.email");
        expectProblem(await api.call("admin", "PATCH", `/projects/p-crud/contacts/${id}`, { body: { webhook_url: "https://inside.example.com/x" } }), 422, "body.webhook_url");
        const rotated = await api.call("admin", "PATCH", `/projects/p-crud/contacts/${id}`, { body: { rotate_secret: true } });
        expect(rotated.body.secret).toMatch(/^whsec_/);
        expect(rotated.body.secret).not.toBe(created.body.secret);
        // The wrong project does not find it.
        expectProblem(await api.call("admin", "PATCH", `/projects/p-other/contacts/${id}`, { body: { name: "x" } }), 404, "params.id");

        expect((await api.call("admin", "DELETE", `/projects/p-crud/contacts/${id}`)).status).toBe(204);
        expect((await api.call("admin", "GET", "/projects/p-crud/contacts")).body.contacts).toEqual([]);
        expectProblem(await api.call("admin", "DELETE", `/projects/p-crud/contacts/${id}`), 404, "params.id");
        const audit = await api.call("admin", "GET", "/audit?action=contact.update");
        expect(audit.body.entries.filter((e: AuditJson) => e.detail.contact_id === id).map((e: AuditJson) => e.detail.secret_rotated)).toEqual([true, false]);
        const all = await api.call("admin", "GET", "/audit?limit=1000");
        for (const s of [created.body.secret, rotated.body.secret]) {
            expect(all.text).not.toContain(s);
            expect(api.logs.text).not.toContain(s);
        }
    });

    it("an expired contact is told nothing", async () => {
        const c = await createContact("p-expired", { webhook_url: "https://hooks.example.com/expired", expires_at: new Date(Date.now() + 60_000).toISOString() });
        await sqlIn(pg, api.databaseUrl, "UPDATE contacts SET expires_at = now() - interval '1 second' WHERE id = $1", [c.id]);
        expect((await api.call("admin", "GET", "/projects/p-expired/contacts")).body.contacts).toMatchObject([{ id: c.id, active: false }]);
        expect((await api.call("alice", "POST", "/databases", { body: createBody("act-expired-contact", { project_id: "p-expired" }) })).status).toBe(202);
        await waitForState(api, "act-expired-contact", "ready");
        await api.activities.recordUnplanned("act-expired-contact", "down");
        await new Promise((r) => setTimeout(r, 200));
        expect((await api.call("admin", "GET", "/projects/p-expired/deliveries")).body.deliveries).toEqual([]);
        expect(received.some((r) => r.path === "/expired")).toBe(false);
    });
});

describe("without SMTP", () => {
    it("email is off: an email delivery is listed as skipped with the reason, and a deleted contact's delivery is skipped", async () => {
        // A sender that only records: nothing here may leave the machine, even if the skip failed.
        const off = await startTestApi(pg, { env: { DBAAS_NOTIFY_POLL_MS: "50" }, testOnlyWebhookSender: (r) => {
            sentTo.push(r);
            return Promise.resolve({ status: 204 });
        } });
        try {
            const c = await off.call("admin", "POST", "/projects/p-off/contacts", { body: { email: "ops@example.com" } });
            expect(c.status, c.text).toBe(201);
            expect((await off.call("alice", "POST", "/databases", { body: createBody("act-off", { project_id: "p-off" }) })).status).toBe(202);
            await waitForState(off, "act-off", "ready");
            await off.activities.recordUnplanned("act-off", "down");
            const skipped = await waitFor("the delivery to be skipped", async () => {
                const d = (await off.call("admin", "GET", "/projects/p-off/deliveries")).body.deliveries[0];
                return d?.status === "skipped" ? d : undefined;
            });
            expect(skipped).toMatchObject({ channel: "email", last_error: "email is off on this server (DBAAS_SMTP_URL is not set)", attempt_log: [] });
            // Queued, then the contact deleted before the worker got to it (one transaction, so the worker cannot come first).
            const gone = await off.call("admin", "POST", "/projects/p-gone/contacts", { body: { webhook_url: "https://backups.example.com/gone" } });
            expect(gone.status, gone.text).toBe(201);
            await off.store.tx(async (tx) => {
                expect(await enqueueNotification(tx, { projectId: "p-gone", database: null, kind: "failure", summary: "x", data: {} })).toBe(1);
                await tx.query("UPDATE contacts SET deleted_at = now() WHERE id = $1", [gone.body.contact.id]);
            });
            const goneDelivery = await waitFor("the deleted contact's delivery to be skipped", async () => {
                const d = (await off.call("admin", "GET", "/projects/p-gone/deliveries")).body.deliveries[0];
                return d?.status === "skipped" ? d : undefined;
            });
            expect(goneDelivery.last_error).toBe("the contact was deleted or has expired");
            expect(sentTo.some((r) => r.url.endsWith("/gone"))).toBe(false);
        } finally {
            await off.close(200);
        }
    });
});

describe("the production webhook sender", () => {
    it("connects to the checked address only, with the URL's host as TLS name, and verifies the certificate", async () => {
        // A host name that resolves nowhere: only the pinned address can be reached. The certificate is
        // self-signed, so a verifying client must refuse it after the server saw its SNI.
        const cert = selfSignedCertificate("hooks.example.com");
        const names: string[] = [];
        const server = tls.createServer({
            key: cert.keyPem, cert: cert.certPem,
            SNICallback: (name, cb) => {
                names.push(name);
                cb(null, tls.createSecureContext({ key: cert.keyPem, cert: cert.certPem }));
            },
        });
        server.on("tlsClientError", () => undefined);
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        try {
            const port = (server.address() as AddressInfo).port;
            const sent = httpsWebhookSender({ url: `https://hooks.invalid-name.example:${port}/x`, address: { address: "127.0.0.1", family: 4 }, headers: {}, body: "{}", timeoutMs: 2000 });
            await expect(sent).rejects.toMatchObject({ code: expect.stringMatching(/SELF_SIGNED|UNABLE_TO_VERIFY/) });
            expect(names).toEqual(["hooks.invalid-name.example"]);
        } finally {
            await new Promise((r) => server.close(r));
        }
    });
});
