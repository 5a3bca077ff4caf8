/**
 * Contacts per project, notifications and their deliveries (the queue the
 * notification worker drains), in the contacts, notifications, deliveries
 * and delivery_attempts tables. SQL only. The signing secret is read by
 * exactly one query, the worker's claim; every other query names its
 * columns and leaves it out.
 */
import type { NotificationKind } from "../../contracts/activities";
import type { Queryable } from "./rows";
import { named } from "./sql";

export interface ContactRow {
    readonly id: number;
    readonly project_id: string;
    readonly name: string | null;
    readonly email: string | null;
    readonly webhook_url: string | null;
    readonly expires_at: Date | null;
    readonly created_by: string;
    readonly created_at: Date;
    readonly updated_at: Date;
}

/** Every column but the secret. */
const CONTACT_COLUMNS = "id, project_id, name, email, webhook_url, expires_at, created_by, created_at, updated_at";

export async function insertContact(c: Queryable, x: { projectId: string; name: string | null; email: string | null; webhookUrl: string | null; secret: string; expiresAt: Date | null; createdBy: string }): Promise<ContactRow> {
    const r = await c.query<ContactRow>(named(
        `INSERT INTO contacts (project_id, name, email, webhook_url, secret, expires_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)
         RETURNING ${CONTACT_COLUMNS}`,
        [x.projectId, x.name, x.email, x.webhookUrl, x.secret, x.expiresAt, x.createdBy]));
    return r.rows[0] as ContactRow;
}

export async function listContacts(q: Queryable, projectId: string): Promise<ContactRow[]> {
    return (await q.query<ContactRow>(named(
        `SELECT ${CONTACT_COLUMNS} FROM contacts WHERE project_id = $1 AND deleted_at IS NULL ORDER BY id`, [projectId]))).rows;
}

export async function contactById(q: Queryable, projectId: string, id: number, forUpdate = false): Promise<ContactRow | undefined> {
    return (await q.query<ContactRow>(named(
        `SELECT ${CONTACT_COLUMNS} FROM contacts WHERE id = $1 AND project_id = $2 AND deleted_at IS NULL${forUpdate ? " FOR UPDATE" : ""}`, [id, projectId]))).rows[0];
}

export async function updateContact(c: Queryable, id: number, set: { name?: string | null; email?: string | null; webhookUrl?: string | null; expiresAt?: Date | null; secret?: string }): Promise<ContactRow> {
    const cols = ["updated_at = now()"];
    const params: unknown[] = [];
    const put = (col: string, v: unknown) => {
        params.push(v);
        cols.push(`${col} = $${params.length}`);
    };
    if (set.name !== undefined) put("name", set.name);
    if (set.email !== undefined) put("email", set.email);
    if (set.webhookUrl !== undefined) put("webhook_url", set.webhookUrl);
    if (set.expiresAt !== undefined) put("expires_at", set.expiresAt);
    if (set.secret !== undefined) put("secret", set.secret);
    params.push(id);
    const r = await c.query<ContactRow>(named(`UPDATE contacts SET ${cols.join(", ")} WHERE id = $${params.length} RETURNING ${CONTACT_COLUMNS}`, params));
    return r.rows[0] as ContactRow;
}

export async function deleteContact(c: Queryable, id: number): Promise<void> {
    await c.query(named(`UPDATE contacts SET deleted_at = now(), updated_at = now() WHERE id = $1`, [id]));
}

export interface NewNotification {
    readonly projectId: string;
    readonly database: string | null;
    readonly kind: NotificationKind;
    /** One line for people (the email subject, the listing). */
    readonly summary: string;
    /** What the webhook body's `data` carries; nothing secret. */
    readonly data: Readonly<Record<string, unknown>>;
}

/**
 * Stores a notification and queues one delivery per channel of every live,
 * unexpired contact of its project (nothing at all when it has none), in the caller's transaction (so a
 * notification exists exactly when the change it tells about committed).
 * Returns the number of deliveries queued.
 */
export async function enqueueNotification(c: Queryable, n: NewNotification): Promise<number> {
    const r = await c.query(named(
        `WITH n AS (INSERT INTO notifications (project_id, database_name, kind, summary, payload)
                    SELECT $1::text, $2::text, $3::text, $4::text, $5::jsonb
                    -- Nobody to tell: no row (every database within a day of its expiry would leave one).
                    WHERE EXISTS (SELECT 1 FROM contacts k WHERE k.project_id = $1::text AND k.deleted_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now()))
                    RETURNING id)
         INSERT INTO deliveries (notification_id, contact_id, project_id, channel, status)
         SELECT n.id, k.id, k.project_id, ch.channel, 'pending'
         FROM n, contacts k CROSS JOIN LATERAL (VALUES ('webhook', k.webhook_url IS NOT NULL), ('email', k.email IS NOT NULL)) AS ch(channel, present)
         WHERE k.project_id = $1 AND k.deleted_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now()) AND ch.present
         ORDER BY k.id, ch.channel`,
        [n.projectId, n.database, n.kind, n.summary, JSON.stringify(n.data)]));
    return r.rowCount ?? 0;
}

/** A delivery the worker holds: what to send, where, and the key to sign it with. */
export interface ClaimedDelivery {
    readonly id: number;
    readonly channel: "webhook" | "email";
    /** This attempt's number, from 1. */
    readonly attempts: number;
    readonly notification_id: number;
    readonly kind: NotificationKind;
    readonly project_id: string;
    readonly database_name: string | null;
    readonly summary: string;
    readonly payload: Record<string, unknown>;
    readonly notified_at: Date;
    readonly email: string | null;
    readonly webhook_url: string | null;
    readonly secret: string;
    /** The contact was deleted or expired after the delivery was queued. */
    readonly contact_gone: boolean;
}

/**
 * Claims up to `limit` due deliveries (pending and due, or sending with an
 * expired lease: their worker stopped), counting the attempt.
 */
export async function claimDeliveries(q: Queryable, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    const r = await q.query<ClaimedDelivery>(named(
        `WITH due AS (
             SELECT id FROM deliveries
             WHERE (status = 'pending' AND next_attempt_at <= now()) OR (status = 'sending' AND lease_until < now())
             ORDER BY next_attempt_at, id LIMIT $1 FOR UPDATE SKIP LOCKED)
         UPDATE deliveries d SET status = 'sending', attempts = d.attempts + 1,
             lease_until = now() + ($2::double precision * interval '1 millisecond')
         FROM due, notifications n, contacts k
         WHERE d.id = due.id AND n.id = d.notification_id AND k.id = d.contact_id
         RETURNING d.id, d.channel, d.attempts, n.id AS notification_id, n.kind, n.project_id, n.database_name, n.summary, n.payload,
             n.created_at AS notified_at, k.email, k.webhook_url, k.secret,
             (k.deleted_at IS NOT NULL OR (k.expires_at IS NOT NULL AND k.expires_at <= now())) AS contact_gone`,
        [limit, leaseMs]));
    return r.rows;
}

export interface AttemptResult {
    readonly outcome: "delivered" | "failed";
    readonly httpStatus: number | null;
    readonly error: string | null;
    readonly durationMs: number;
}

/**
 * Records one attempt and the delivery's next state: delivered, failed for
 * good, or pending again after `retryInMs`. Only while the delivery is still
 * this claim's (status sending, same attempt number).
 */
export async function finishAttempt(q: Queryable, d: Pick<ClaimedDelivery, "id" | "attempts">, result: AttemptResult, next: { status: "delivered" | "failed" | "pending" | "skipped"; retryInMs?: number }): Promise<void> {
    await q.query(named(
        `WITH upd AS (
             UPDATE deliveries SET status = $3, lease_until = NULL, last_error = $5,
                 next_attempt_at = CASE WHEN $3 = 'pending' THEN now() + ($7::double precision * interval '1 millisecond') ELSE next_attempt_at END,
                 delivered_at = CASE WHEN $3 = 'delivered' THEN now() ELSE delivered_at END
             WHERE id = $1 AND attempts = $2 AND status = 'sending' RETURNING id)
         INSERT INTO delivery_attempts (delivery_id, attempt, outcome, http_status, error, duration_ms)
         SELECT upd.id, $2, $4, $6, $5, $8 FROM upd WHERE $3 <> 'skipped'`,
        [d.id, d.attempts, next.status, result.outcome, result.error, result.httpStatus, next.retryInMs ?? 0, Math.round(result.durationMs)]));
}

export interface DeliveryListRow {
    readonly id: number;
    readonly contact_id: number;
    readonly channel: "webhook" | "email";
    readonly status: "pending" | "sending" | "delivered" | "failed" | "skipped";
    readonly attempts: number;
    readonly next_attempt_at: Date;
    readonly last_error: string | null;
    readonly created_at: Date;
    readonly delivered_at: Date | null;
    readonly notification_id: number;
    readonly kind: NotificationKind;
    readonly database_name: string | null;
    readonly summary: string;
    readonly attempt_log: { attempt: number; at: string; outcome: "delivered" | "failed"; http_status: number | null; error: string | null; duration_ms: number }[];
}

/** A project's deliveries, newest first, each with every attempt (oldest first). */
export async function listDeliveries(q: Queryable, projectId: string, page: { before?: number; limit: number }): Promise<DeliveryListRow[]> {
    const r = await q.query<DeliveryListRow>(named(
        `SELECT d.id, d.contact_id, d.channel, d.status, d.attempts, d.next_attempt_at, d.last_error, d.created_at, d.delivered_at,
                n.id AS notification_id, n.kind, n.database_name, n.summary,
                coalesce((SELECT json_agg(json_build_object('attempt', a.attempt, 'at', a.at, 'outcome', a.outcome, 'http_status', a.http_status,
                    'error', a.error, 'duration_ms', a.duration_ms) ORDER BY a.id) FROM delivery_attempts a WHERE a.delivery_id = d.id), '[]'::json) AS attempt_log
         FROM deliveries d JOIN notifications n ON n.id = d.notification_id
         WHERE d.project_id = $1 AND ($2::bigint IS NULL OR d.id < $2)
         ORDER BY d.id DESC LIMIT ${Math.trunc(page.limit)}`,
        [projectId, page.before ?? null]));
    return r.rows;
}

/** Databases that expire within `withinMs` and were not warned for this expiry time yet; marks them warned (caller's transaction). */
export async function takeExpiryWarnings(c: Queryable, withinMs: number, limit: number): Promise<{ id: number; name: string; project_id: string; owner: string; expires_at: Date }[]> {
    const r = await c.query<{ id: number; name: string; project_id: string; owner: string; expires_at: Date }>(named(
        `WITH due AS (
             SELECT d.id, d.name, d.project_id, d.owner, d.expires_at FROM databases d
             WHERE d.state IN ('creating', 'ready', 'restarting', 'failed') AND d.expires_at > now()
               AND d.expires_at <= now() + ($1::double precision * interval '1 millisecond')
               AND NOT EXISTS (SELECT 1 FROM expiry_warnings w WHERE w.database_id = d.id AND w.expires_at = d.expires_at)
             ORDER BY d.expires_at LIMIT $2 FOR UPDATE OF d SKIP LOCKED),
         marked AS (INSERT INTO expiry_warnings (database_id, expires_at) SELECT id, expires_at FROM due ON CONFLICT DO NOTHING RETURNING database_id)
         SELECT due.* FROM due JOIN marked ON marked.database_id = due.id`,
        [withinMs, limit]));
    return r.rows;
}
