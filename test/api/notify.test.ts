/**
 * The pure parts of activities and notifications: ticket-link validation,
 * webhook signatures and their replay window, the delivery backoff
 * schedule, which activity an operation's end means, how attempt errors are
 * stored, and the notification settings of the API's config.
 */
import { describe, expect, it } from "vitest";
import { noteBody, ticketLinkProblem, TICKET_URL_MAX } from "../../contracts/activities";
import { loadApiConfig } from "../../api/config";
import { outcomeActivity } from "../../api/jobs/complete";
import { attemptError } from "../../api/notify/channels";
import { deliverySchedule, nextDeliveryDelayMs } from "../../api/notify/retry";
import { generateContactSecret, REPLAY_WINDOW_SECONDS, signWebhook, verifyWebhook } from "../../api/notify/signature";
import { webhookBody } from "../../api/notify/worker";

describe("ticket links", () => {
    it.each([
        "https://tickets.example.com/T-123",
        "https://jira.example.com/browse/OPS-1?focus=comments#c2",
        "https://[2001:db8::1]/t/1",
        `https://t.example.com/${"a".repeat(TICKET_URL_MAX - 22)}`,
    ])("accepts %s", (link) => {
        expect(ticketLinkProblem(link)).toBeUndefined();
    });

    it.each([
        ["http://tickets.example.com/T-1", "an https:// URL (got http)"],
        ["javascript:alert(1)", "an https:// URL (got javascript)"],
        ["data:text/html,<b>x</b>", "an https:// URL (got data)"],
        ["tickets.example.com/T-1", "an absolute https:// URL such as https://tickets.example.com/T-123"],
        ["https://", "an absolute https:// URL such as https://tickets.example.com/T-123"],
        ["https://me:pw@t.example.com/1", "a link without user or password"],
        [`https://t.example.com/${"a".repeat(TICKET_URL_MAX)}`, `a link of at most ${TICKET_URL_MAX} characters`],
    ])("refuses %s", (link, rule) => {
        expect(ticketLinkProblem(link)).toBe(rule);
    });

    it("the note body schema names ticket_url with the rule", () => {
        const r = noteBody.safeParse({ text: "x", ticket_url: "http://t.example.com/" });
        expect(r.success).toBe(false);
        expect(r.error?.issues.map((i) => [i.path.join("."), i.message])).toEqual([["ticket_url", "an https:// URL (got http)"]]);
        expect(noteBody.safeParse({ text: "   " }).success).toBe(false);
        expect(noteBody.safeParse({ text: "ok", extra: 1 }).success).toBe(false);
    });
});

describe("webhook signatures", () => {
    const secret = "whsec_test-secret";
    const body = JSON.stringify({ kind: "failure", database: "db1" });

    it("is HMAC-SHA256 over timestamp.body, hex, with a version prefix", () => {
        // Computed independently: printf '1700000000.%s' "$body" | openssl dgst -sha256 -hmac whsec_test-secret
        expect(signWebhook(secret, 1_700_000_000, '{"a":1}')).toBe("v1=f7c40776aa58d1eee88648e741f2488ecc8e2cc810cd3801942f335e82a1da57");
        expect(signWebhook(secret, 1_700_000_000, body)).toMatch(/^v1=[0-9a-f]{64}$/);
        expect(signWebhook(secret, 1_700_000_000, body)).not.toBe(signWebhook(secret, 1_700_000_001, body));
        expect(signWebhook(secret, 1_700_000_000, body)).not.toBe(signWebhook(`${secret}x`, 1_700_000_000, body));
    });

    it("verifies a fresh, untouched request and refuses tampering, other secrets and replays", () => {
        const now = 1_700_000_000;
        const sig = signWebhook(secret, now, body);
        expect(verifyWebhook(secret, { timestamp: String(now), signature: sig }, body, now + 10)).toEqual({ ok: true });
        expect(verifyWebhook(secret, { timestamp: String(now), signature: sig }, body.replace("db1", "db2"), now)).toEqual({ ok: false, reason: "signature does not match" });
        expect(verifyWebhook("whsec_other", { timestamp: String(now), signature: sig }, body, now).ok).toBe(false);
        // The timestamp is signed: moving it forward to pass the window breaks the signature.
        expect(verifyWebhook(secret, { timestamp: String(now + 1000), signature: sig }, body, now + 1000).ok).toBe(false);
        expect(verifyWebhook(secret, { timestamp: String(now), signature: sig }, body, now + REPLAY_WINDOW_SECONDS + 1)).toEqual({ ok: false, reason: `timestamp outside the ${REPLAY_WINDOW_SECONDS} s replay window` });
        expect(verifyWebhook(secret, { timestamp: String(now), signature: sig }, body, now - REPLAY_WINDOW_SECONDS - 1).ok).toBe(false);
        expect(verifyWebhook(secret, { timestamp: undefined, signature: sig }, body, now).ok).toBe(false);
        expect(verifyWebhook(secret, { timestamp: "12abc", signature: sig }, body, now).ok).toBe(false);
        expect(verifyWebhook(secret, { timestamp: String(now), signature: undefined }, body, now).ok).toBe(false);
    });

    it("secrets are 256 random bits, new each time", () => {
        const a = generateContactSecret();
        expect(a).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
        expect(generateContactSecret()).not.toBe(a);
    });

    it("the body carries what happened and no secret", () => {
        const text = webhookBody({ id: 7, notification_id: 3, kind: "expiry", project_id: "p", database_name: "db1", summary: "db1 expires", payload: { owner: "alice" }, notified_at: new Date("2030-01-01T00:00:00Z") });
        expect(JSON.parse(text)).toEqual({ notification: 3, delivery: 7, kind: "expiry", project_id: "p", database: "db1", summary: "db1 expires", at: "2030-01-01T00:00:00.000Z", data: { owner: "alice" } });
    });
});

describe("the delivery backoff schedule", () => {
    it("doubles from the base, is capped, and stops at the last attempt", () => {
        const p = { baseMs: 30_000, maxMs: 3_600_000, maxAttempts: 8 };
        expect(deliverySchedule(p)).toEqual([30_000, 60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000]);
        expect(nextDeliveryDelayMs(8, p)).toBeUndefined();
        expect(deliverySchedule({ baseMs: 100, maxMs: 150, maxAttempts: 4 })).toEqual([100, 150, 150]);
        expect(deliverySchedule({ baseMs: 100, maxMs: 150, maxAttempts: 1 })).toEqual([]);
    });
});

describe("the activity an operation's end means", () => {
    it.each([
        ["create", "ready", "ready"],
        ["restart", "ready", "restarted"],
        ["delete", "deleted", "deleted"],
        ["create", "failed", "failed"],
        ["restart", "failed", "failed"],
        ["delete", "failed", "failed"],
        ["create", "creating", undefined],
    ] as const)("%s ending in %s is %s", (kind, state, activity) => {
        expect(outcomeActivity(kind, state)).toBe(activity);
    });
});

describe("attempt errors", () => {
    it("keep the code or the SMTP answer, never the message (it may hold a URL with a token)", () => {
        expect(attemptError(Object.assign(new Error("connect ECONNREFUSED https://hooks.example.com/T0K3N"), { code: "ECONNREFUSED" }))).toBe("connection failed (ECONNREFUSED)");
        expect(attemptError(Object.assign(new Error("550 no such user"), { responseCode: 550 }))).toBe("SMTP server answered 550");
        expect(attemptError(new Error("https://hooks.example.com/T0K3N broke"))).toBe("connection failed");
    });
});

describe("notification settings", () => {
    const base = { DBAAS_CATALOG: JSON.stringify([{ label: "PostgreSQL 17", image: "postgres:17.2" }]) };

    it("defaults: email off, any public webhook host, a day of warning, 8 attempts from 30 s", () => {
        const n = loadApiConfig(base).notifications;
        expect(n).toEqual({
            webhookHosts: undefined, smtpUrl: undefined, smtpFrom: "dbaas@localhost", pollMs: 1000, timeoutMs: 10_000,
            maxAttempts: 8, retryBaseMs: 30_000, retryMaxMs: 3_600_000, expiryWarningMs: 86_400_000,
        });
    });

    it("reads the SMTP URL and the webhook allow-list", () => {
        const n = loadApiConfig({ ...base, DBAAS_SMTP_URL: "smtp://mail.example.com:587", DBAAS_WEBHOOK_HOSTS: "hooks.example.com, chat.example.com" }).notifications;
        expect(n.smtpUrl).toBe("smtp://mail.example.com:587");
        expect(n.webhookHosts).toEqual(["hooks.example.com", "chat.example.com"]);
    });

    it("a bad SMTP URL is refused without repeating it (it may hold a password)", () => {
        expect(() => loadApiConfig({ ...base, DBAAS_SMTP_URL: "mail://user:hunter2@mail.example.com" })).toThrow(/DBAAS_SMTP_URL = \(value hidden\): expected an smtp:\/\/ or smtps:\/\/ URL/);
        try {
            loadApiConfig({ ...base, DBAAS_SMTP_URL: "mail://user:hunter2@mail.example.com" });
        } catch (e) {
            expect((e as Error).message).not.toContain("hunter2");
        }
        expect(() => loadApiConfig({ ...base, DBAAS_SMTP_URL: "smtp://a", DBAAS_SMTP_URL_FILE: "/x" })).toThrow(/both set/);
    });
});
