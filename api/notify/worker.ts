/**
 * The notification worker: claims due deliveries from the admin database
 * (FOR UPDATE SKIP LOCKED with a lease, so replicas share the queue and a
 * delivery whose worker died is picked up again), sends each one, and
 * records every attempt. Webhooks are checked against the egress table
 * again at send time (DNS may have changed since the contact was saved) and
 * sent only to the checked address, signed (signature.ts); a 2xx answer
 * delivers, anything else is retried on the backoff schedule (retry.ts) up
 * to its last attempt. Email goes through the mailer when SMTP is
 * configured, and is marked skipped otherwise. Nothing secret is logged: a
 * log line names the delivery, the contact and the outcome.
 */
import type { FastifyBaseLogger } from "fastify";
import { coalesced } from "../coalesce";
import { checkEgressUrl, type Resolver } from "../domain/ssrf";
import { claimDeliveries, finishAttempt, type AttemptResult, type ClaimedDelivery } from "../store/contacts";
import type { AdminStore } from "../store/store";
import { attemptError, httpsWebhookSender, type Mailer, type WebhookSender } from "./channels";
import { nextDeliveryDelayMs, type DeliveryRetryPolicy } from "./retry";
import { DELIVERY_HEADER, SIGNATURE_HEADER, signWebhook, TIMESTAMP_HEADER } from "./signature";

export interface NotificationWorkerOptions {
    readonly store: AdminStore;
    readonly log: FastifyBaseLogger;
    readonly resolve: Resolver;
    /** Hosts webhooks may go to; undefined: any host name whose addresses are all public. */
    readonly webhookHosts: readonly string[] | undefined;
    readonly retry: DeliveryRetryPolicy;
    readonly pollMs: number;
    /** Per attempt (connect to answer). */
    readonly timeoutMs: number;
    /** Undefined: email is off (DBAAS_SMTP_URL unset). */
    readonly mailer: Mailer | undefined;
    /**
     * TEST SEAM, not configuration: how a checked webhook is sent. Only code
     * passes it (startApi's `testOnlyWebhookSender`); no environment variable
     * or stack config reaches it. The tests use it to reach a receiver on
     * 127.0.0.1 after the egress check has approved the public address their
     * fake DNS gave. Default: HTTPS to the checked address.
     */
    readonly sender?: WebhookSender;
    /** Deliveries sent at once. */
    readonly batch?: number;
}

export class NotificationWorker {
    #timer: NodeJS.Timeout | undefined;
    #stopping = false;
    readonly #tick = coalesced(async () => {
        try {
            await this.#drain();
        } catch (e) {
            this.o.log.error({ err: (e as Error).message.slice(0, 300) }, "notification worker: claiming deliveries failed");
        }
    });

    constructor(private readonly o: NotificationWorkerOptions) {}

    start(): void {
        this.#timer = setInterval(() => this.kick(), this.o.pollMs);
        this.kick();
    }

    kick(): void {
        if (!this.#stopping) this.#tick();
    }

    /** Stops claiming and waits for the attempts in flight (each is bounded by the timeout). */
    async stop(): Promise<void> {
        this.#stopping = true;
        if (this.#timer) clearInterval(this.#timer);
        await this.#tick.idle();
        this.o.mailer?.close();
    }

    async #drain(): Promise<void> {
        const batch = this.o.batch ?? 8;
        // The lease outlives one attempt's timeout, so a live worker never loses a delivery to another.
        const leaseMs = this.o.timeoutMs * 2 + 5000;
        while (!this.#stopping) {
            const claimed = await claimDeliveries(this.o.store.pool, batch, leaseMs);
            await Promise.all(claimed.map((d) => this.#deliver(d)));
            if (claimed.length < batch) return;
        }
    }

    async #deliver(d: ClaimedDelivery): Promise<void> {
        const started = Date.now();
        const skip = (why: string) => finishAttempt(this.o.store.pool, d, { outcome: "failed", httpStatus: null, error: why, durationMs: 0 }, { status: "skipped" });
        if (d.contact_gone) return skip("the contact was deleted or has expired");
        let result: AttemptResult;
        let permanent = false;
        if (d.channel === "email") {
            if (this.o.mailer === undefined) return skip("email is off on this server (DBAAS_SMTP_URL is not set)");
            if (d.email === null) return skip("the contact has no email address any more");
            try {
                await this.o.mailer.send({ to: d.email, subject: `[dbaas] ${d.summary}`, text: mailText(d) });
                result = { outcome: "delivered", httpStatus: null, error: null, durationMs: Date.now() - started };
            } catch (e) {
                result = { outcome: "failed", httpStatus: null, error: attemptError(e), durationMs: Date.now() - started };
            }
        } else {
            if (d.webhook_url === null) return skip("the contact has no webhook any more");
            const check = await checkEgressUrl(d.webhook_url, this.o.resolve, this.o.webhookHosts === undefined ? {} : { allowedHosts: this.o.webhookHosts });
            if (!check.ok) {
                permanent = check.blocked === true;
                result = { outcome: "failed", httpStatus: null, error: `refused before sending: expected ${check.rule}`, durationMs: Date.now() - started };
            } else {
                const body = webhookBody(d);
                const ts = Math.floor(Date.now() / 1000);
                const address = check.addresses[0] ?? { address: "", family: 4 };
                try {
                    const res = await (this.o.sender ?? httpsWebhookSender)({
                        url: check.url, address, body, timeoutMs: this.o.timeoutMs,
                        headers: {
                            "content-type": "application/json", "user-agent": "dbaas-notifications/1",
                            [TIMESTAMP_HEADER]: String(ts), [SIGNATURE_HEADER]: signWebhook(d.secret, ts, body), [DELIVERY_HEADER]: String(d.id),
                        },
                    });
                    const ok = res.status >= 200 && res.status < 300;
                    result = { outcome: ok ? "delivered" : "failed", httpStatus: res.status, error: ok ? null : `the receiver answered HTTP ${res.status}`, durationMs: Date.now() - started };
                } catch (e) {
                    result = { outcome: "failed", httpStatus: null, error: attemptError(e), durationMs: Date.now() - started };
                }
            }
        }
        if (result.outcome === "delivered") {
            await finishAttempt(this.o.store.pool, d, result, { status: "delivered" });
            this.o.log.info({ delivery: d.id, contact_channel: d.channel, attempt: d.attempts }, "notification delivered");
            return;
        }
        const delay = permanent ? undefined : nextDeliveryDelayMs(d.attempts, this.o.retry);
        await finishAttempt(this.o.store.pool, d, result, delay === undefined ? { status: "failed" } : { status: "pending", retryInMs: delay });
        this.o.log.warn({ delivery: d.id, contact_channel: d.channel, attempt: d.attempts, error: result.error, retryInMs: delay ?? null }, delay === undefined ? "notification failed for good" : "notification attempt failed; retrying");
        if (delay !== undefined) setTimeout(() => this.kick(), delay + 10).unref();
    }
}

/** The webhook's JSON body: what happened, to which database of which project. Nothing secret. */
export function webhookBody(d: Pick<ClaimedDelivery, "id" | "notification_id" | "kind" | "project_id" | "database_name" | "summary" | "payload" | "notified_at">): string {
    return JSON.stringify({
        notification: d.notification_id, delivery: d.id, kind: d.kind, project_id: d.project_id, database: d.database_name,
        summary: d.summary, at: d.notified_at.toISOString(), data: d.payload,
    });
}

function mailText(d: ClaimedDelivery): string {
    const lines = [d.summary, "", `project: ${d.project_id}`, ...(d.database_name === null ? [] : [`database: ${d.database_name}`]), `kind: ${d.kind}`, `at: ${d.notified_at.toISOString()}`];
    for (const [k, v] of Object.entries(d.payload)) lines.push(`${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`);
    return `${lines.join("\n")}\n`;
}
