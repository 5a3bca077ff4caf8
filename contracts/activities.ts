/**
 * The wire contract of activities (the life of one database as events),
 * notes with ticket links, per-project contacts and notification deliveries.
 * The same zod schemas validate requests, shape responses and produce
 * /openapi.json. Pure: no I/O (the WHATWG URL parser is a global, not a Node
 * module).
 */
import { z } from "zod";
import { createDatabaseFields } from "./database";

/** Every lifecycle event of a database; `planned` tells requested ones from noticed ones. */
export const ACTIVITY_KINDS = ["created", "ready", "restarted", "down", "up", "patched", "failed", "expired", "deleted"] as const;
export type ActivityKind = (typeof ACTIVITY_KINDS)[number];

/** What an engine-side watcher may report when it notices something nobody asked for. */
export const UNPLANNED_KINDS = ["down", "up", "restarted"] as const;
export type UnplannedKind = (typeof UNPLANNED_KINDS)[number];

/** Longest ticket link and note text accepted. */
export const TICKET_URL_MAX = 2048;
export const NOTE_TEXT_MAX = 2000;

/**
 * Why `raw` is not an acceptable ticket link (phrased to follow "expected"),
 * or undefined when it is: an absolute https URL with a host and no
 * user/password, parsed by the WHATWG URL parser, at most TICKET_URL_MAX
 * characters. Nobody fetches it (the dashboard shows it as a link), so no
 * address check is needed, but `javascript:`, `data:` and plain http are refused.
 */
export function ticketLinkProblem(raw: string): string | undefined {
    if (raw.length > TICKET_URL_MAX) return `a link of at most ${TICKET_URL_MAX} characters`;
    let url: URL;
    try {
        url = new URL(raw);
    } catch {
        return "an absolute https:// URL such as https://tickets.example.com/T-123";
    }
    if (url.protocol !== "https:") return `an https:// URL (got ${url.protocol.replace(/:$/, "")})`;
    if (url.hostname === "") return "an https:// URL with a host";
    if (url.username !== "" || url.password !== "") return "a link without user or password";
    return undefined;
}

export const activityParams = z.object({
    name: createDatabaseFields.name,
    id: z.coerce.number().int("a whole number").min(1, "an activity id").max(Number.MAX_SAFE_INTEGER),
}).strict();

export const activitiesQuery = z.object({
    limit: z.coerce.number().int("a whole number").min(1, "at least 1").max(500, "at most 500").default(50),
    /** The `next` of the previous page: activities older than this id. */
    before: z.coerce.number().int("a whole number").min(1).max(Number.MAX_SAFE_INTEGER).optional(),
}).strict();

export const noteBody = z.object({
    text: z.string().trim().min(1, "a note of at least one character").max(NOTE_TEXT_MAX, `at most ${NOTE_TEXT_MAX} characters`),
    ticket_url: z.string().superRefine((v, ctx) => {
        const why = ticketLinkProblem(v);
        if (why !== undefined) ctx.addIssue({ code: "custom", message: why });
    }).optional(),
}).strict().meta({ id: "ActivityNote" });
export type NoteBody = z.output<typeof noteBody>;

export const noteView = z.object({
    id: z.number().int(),
    activity_id: z.number().int(),
    at: z.string(),
    author: z.string(),
    text: z.string(),
    ticket_url: z.string().nullable(),
}).meta({ id: "Note" });

export const activityView = z.object({
    id: z.number().int(),
    database: z.string(),
    kind: z.enum(ACTIVITY_KINDS),
    /** False for what nobody requested (a container that died or restarted by itself). */
    planned: z.boolean(),
    at: z.string(),
    actor: z.string(),
    operation_id: z.number().int().nullable(),
    detail: z.record(z.string(), z.unknown()),
    notes: z.array(noteView),
}).meta({ id: "Activity" });

export const activityListView = z.object({
    activities: z.array(activityView),
    /** Pass as ?before= for the next (older) page; null on the last page. */
    next: z.number().int().nullable(),
}).meta({ id: "ActivityList" });

export const projectParams = z.object({ project: createDatabaseFields.project_id }).strict();
export const contactParams = z.object({
    project: createDatabaseFields.project_id,
    id: z.coerce.number().int("a whole number").min(1, "a contact id").max(Number.MAX_SAFE_INTEGER),
}).strict();

const email = z.email("an email address such as ops@example.com").max(254, "at most 254 characters");
const webhookUrl = z.string().min(1).max(2048, "at most 2048 characters");
const expiresAt = z.iso.datetime({ offset: true, message: "an ISO-8601 time such as 2030-01-31T00:00:00Z" });
const label = z.string().trim().min(1).max(100, "at most 100 characters");

export const createContactBody = z.object({
    name: label.optional(),
    email: email.optional(),
    webhook_url: webhookUrl.optional(),
    /** After this time the contact is no longer told anything (it stays listed). */
    expires_at: expiresAt.optional(),
}).strict().meta({ id: "CreateContact" });
export type CreateContactBody = z.output<typeof createContactBody>;

/** null clears a field; rotate_secret issues a new signing secret, shown once in the answer. */
export const patchContactBody = z.object({
    name: label.nullable().optional(),
    email: email.nullable().optional(),
    webhook_url: webhookUrl.nullable().optional(),
    expires_at: expiresAt.nullable().optional(),
    rotate_secret: z.literal(true, { message: "true (or leave it out)" }).optional(),
}).strict().meta({ id: "PatchContact" });
export type PatchContactBody = z.output<typeof patchContactBody>;

export const contactView = z.object({
    id: z.number().int(),
    project_id: z.string(),
    name: z.string().nullable(),
    email: z.string().nullable(),
    webhook_url: z.string().nullable(),
    expires_at: z.string().nullable(),
    /** False once expired. */
    active: z.boolean(),
    created_by: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
}).meta({ id: "Contact" });

/** Only the answers of POST and of PATCH with rotate_secret carry the secret; it cannot be read again. */
export const contactWithSecretView = z.object({
    contact: contactView,
    secret: z.string().optional(),
}).meta({ id: "ContactWithSecret" });

export const contactListView = z.object({ contacts: z.array(contactView) }).meta({ id: "ContactList" });

export const NOTIFICATION_KINDS = ["expiry", "failure", "unplanned", "patch"] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];
export const DELIVERY_STATUSES = ["pending", "sending", "delivered", "failed", "skipped"] as const;

export const deliveriesQuery = z.object({
    limit: z.coerce.number().int("a whole number").min(1, "at least 1").max(200, "at most 200").default(50),
    before: z.coerce.number().int("a whole number").min(1).max(Number.MAX_SAFE_INTEGER).optional(),
}).strict();

export const deliveryAttemptView = z.object({
    attempt: z.number().int(),
    at: z.string(),
    outcome: z.enum(["delivered", "failed"]),
    http_status: z.number().int().nullable(),
    error: z.string().nullable(),
    duration_ms: z.number().int(),
}).meta({ id: "DeliveryAttempt" });

export const deliveryView = z.object({
    id: z.number().int(),
    contact_id: z.number().int(),
    channel: z.enum(["webhook", "email"]),
    status: z.enum(DELIVERY_STATUSES),
    attempts: z.number().int(),
    next_attempt_at: z.string().nullable(),
    last_error: z.string().nullable(),
    created_at: z.string(),
    delivered_at: z.string().nullable(),
    notification: z.object({
        id: z.number().int(),
        kind: z.enum(NOTIFICATION_KINDS),
        database: z.string().nullable(),
        summary: z.string(),
    }),
    attempt_log: z.array(deliveryAttemptView),
}).meta({ id: "Delivery" });

export const deliveryListView = z.object({
    deliveries: z.array(deliveryView),
    next: z.number().int().nullable(),
}).meta({ id: "DeliveryList" });
