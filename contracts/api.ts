/**
 * The HTTP API's wire contract: request and response schemas, roles and
 * database states. The same zod schemas validate requests, serialise
 * responses and produce /openapi.json, and the dashboard types its fetches
 * with them. Request fields come from the database spec (./database) so the
 * API and the on-demand program agree on them. Pure: no I/O.
 */
import { z } from "zod";
import { createDatabaseFields, databaseNameSchema } from "./database";
import { madeView } from "./cache";

/** Who a token speaks for: an admin sees and manages everything, a user its own databases. */
export const ROLES = ["admin", "user"] as const;
export type Role = (typeof ROLES)[number];

/** The states of a database (the life cycle is api/domain/stateMachine.ts). */
export const DATABASE_STATES = ["creating", "ready", "restarting", "failed", "deleting", "deleted"] as const;
export type DatabaseState = (typeof DATABASE_STATES)[number];

/** States in which an operation is in flight (the only ones that can be cancelled or superseded by delete). */
export function isBusy(state: DatabaseState): boolean {
    return state === "creating" || state === "restarting" || state === "deleting";
}

export const createDatabaseBody = z.object(createDatabaseFields).strict().meta({ id: "CreateDatabase" });
export type CreateDatabaseBody = z.output<typeof createDatabaseBody>;

export const nameParams = z.object({ name: databaseNameSchema }).strict();

export const patchDatabaseBody = z.object({
    ttl_hours: createDatabaseFields.ttl_hours.unwrap(),
}).strict().meta({ id: "PatchDatabase" });

const cursor = z.string().regex(/^[a-z][-a-z0-9]{0,39}\.\d{1,15}$/, "a cursor from a previous page's next field");
const limit = (max: number, dflt: number) => z.coerce.number().int("a whole number").min(1, "at least 1").max(max, `at most ${max}`).default(dflt);

export const listQuery = z.object({
    owner: createDatabaseFields.owner.optional(),
    project_id: createDatabaseFields.project_id.optional(),
    state: z.enum(DATABASE_STATES, { message: `one of ${DATABASE_STATES.join(", ")}` }).optional(),
    limit: limit(500, 20),
    after: cursor.optional(),
}).strict();

export const getQuery = z.object({
    include: z.literal("password", { message: '"password" (the only value)' }).optional(),
}).strict();

export const eventsQuery = z.object({
    operation: z.coerce.number().int("a whole number").min(1, "an operation id").max(Number.MAX_SAFE_INTEGER).optional(),
}).strict();

export const auditQuery = z.object({
    database: databaseNameSchema.optional(),
    actor: z.string().min(1).max(128).optional(),
    action: z.string().regex(/^[a-z]+\.[a-z]+$/, "an action such as database.create").optional(),
    before: z.coerce.number().int("a whole number").min(1).max(Number.MAX_SAFE_INTEGER).optional(),
    limit: limit(1000, 100),
}).strict();

export const operationView = z.object({
    id: z.number().int(),
    kind: z.enum(["create", "restart", "delete", "patch"]),
    status: z.enum(["queued", "running", "succeeded", "failed", "cancelled"]),
    attempts: z.number().int(),
    error: z.string().nullable(),
    requested_by: z.string(),
    created_at: z.string(),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
}).meta({ id: "Operation" });

export const endpointView = z.object({
    host: z.string(),
    port: z.number().int(),
    database: z.string(),
    user: z.string(),
}).meta({ id: "Endpoint" });

/** What the server of a database is doing as last seen by the runtime watcher (docker target). */
export const RUNTIME_STATUSES = ["running", "paused", "restarting", "exited", "dead", "missing"] as const;
export const runtimeView = z.object({
    status: z.enum(RUNTIME_STATUSES),
    /** The container's health check: null when it has none or is not running. */
    health: z.enum(["starting", "healthy", "unhealthy"]).nullable(),
    /** Restarts the engine made by itself (restart policy) since the container was created. */
    restarts: z.number().int(),
    started_at: z.string().nullable(),
    /** Exit code of the last stop, when not running. */
    exit_code: z.number().int().nullable(),
    /** When the watcher first saw this observation (it writes only changes). */
    since: z.string(),
}).meta({ id: "Runtime" });

export const databaseView = z.object({
    name: z.string(),
    owner: z.string(),
    project_id: z.string(),
    db_type: z.string(),
    version: z.string(),
    state: z.enum(DATABASE_STATES),
    endpoint: endpointView.nullable(),
    source_ranges: z.array(z.string()),
    backup_location: z.string().nullable(),
    /** The stored backup it was restored from (POST /databases with backup_id), else null. */
    backup_id: z.string().nullable(),
    ttl_hours: z.number().int(),
    expires_at: z.string(),
    failure_reason: z.string().nullable(),
    created_by: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
    last_operation: operationView.nullable(),
    /** The server as the runtime watcher last saw it; null when not watched (kubernetes target, watcher off) or not seen yet. */
    runtime: runtimeView.nullable(),
    /** How the data got there: restored from the backup, or cloned from a cached restore (docs/cache.md); null without a backup or before it is ready. */
    made: madeView.nullable(),
    /** Only with ?include=password, only for the owner. */
    credentials: z.object({ password: z.string(), uri: z.string() }).optional(),
    links: z.object({ self: z.string(), events: z.string() }),
}).meta({ id: "Database" });

export const acceptedView = z.object({
    database: databaseView,
    operation: operationView,
}).meta({ id: "Accepted" });

export const databaseListView = z.object({
    databases: z.array(databaseView),
    /** Pass as ?after= to get the next page; null on the last page. */
    next: z.string().nullable(),
}).meta({ id: "DatabaseList" });

export const versionsView = z.object({
    default: z.string(),
    versions: z.array(z.object({ label: z.string(), image: z.string(), default: z.boolean() })),
}).meta({ id: "Versions" });

export const auditEntryView = z.object({
    id: z.number().int(),
    at: z.string(),
    actor: z.string(),
    action: z.string(),
    database: z.string().nullable(),
    operation_id: z.number().int().nullable(),
    outcome: z.string(),
    request_id: z.string().nullable(),
    detail: z.record(z.string(), z.unknown()),
}).meta({ id: "AuditEntry" });

export const auditListView = z.object({
    entries: z.array(auditEntryView),
    next: z.number().int().nullable(),
}).meta({ id: "AuditList" });

/** Who the presented token belongs to; never the token or its hash. */
export const meView = z.object({
    subject: z.string(),
    role: z.enum(ROLES),
    /** Requests per minute this token's subject may make (all routes but health, readiness and the OpenAPI document). */
    rate_limit_per_minute: z.number().int(),
}).meta({ id: "Me" });
export type MeView = z.output<typeof meView>;

export const healthView = z.object({ status: z.literal("ok") });
export const readyView = z.object({ status: z.literal("ready") });

/** What the API's responses carry, as TypeScript types (the dashboard's view of the wire). */
export type DatabaseView = z.output<typeof databaseView>;
export type RuntimeView = z.output<typeof runtimeView>;
export type OperationView = z.output<typeof operationView>;
export type AuditEntryView = z.output<typeof auditEntryView>;
/**
 * Where a database is reached, without secrets: the one connection-info type.
 * The admin database stores it, the engine's outputs extend it with the secrets,
 * and the on-demand program's `DatabaseEndpoint` is its deploy-time form.
 */
export type Endpoint = Readonly<z.output<typeof endpointView>>;
