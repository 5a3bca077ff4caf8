/**
 * The admin database: databases, audit log and the pool/transaction helpers.
 * SQL only; the rules live in the service and the job runner.
 */
import pg from "pg";
import type { DatabaseSpec } from "../../ondemand/spec";
import type { DatabaseState, OperationKind } from "../stateMachine";
import { migrate } from "./migrations";
import { notifyAll, type Notification } from "./queue";
import { named } from "./sql";

export type Queryable = pg.Pool | pg.PoolClient;

export interface Endpoint {
    readonly host: string;
    readonly port: number;
    readonly database: string;
    readonly user: string;
}

export interface DatabaseRow {
    readonly id: number;
    readonly name: string;
    readonly owner: string;
    readonly project_id: string;
    readonly db_type: string;
    readonly version: string;
    readonly state: DatabaseState;
    readonly spec: DatabaseSpec;
    readonly ttl_hours: number;
    readonly expires_at: Date;
    readonly endpoint: Endpoint | null;
    readonly failure_reason: string | null;
    readonly current_operation_id: number | null;
    readonly created_by: string;
    readonly created_at: Date;
    readonly updated_at: Date;
    readonly deleted_at: Date | null;
}

export type OperationStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled";

export interface OperationRow {
    readonly id: number;
    readonly database_id: number;
    readonly kind: OperationKind;
    readonly status: OperationStatus;
    readonly attempts: number;
    readonly run_after: Date;
    readonly lease_owner: string | null;
    readonly lease_until: Date | null;
    readonly cancel_requested: boolean;
    readonly cancel_reason: string | null;
    readonly error: string | null;
    readonly requested_by: string;
    readonly request_id: string | null;
    readonly created_at: Date;
    readonly started_at: Date | null;
    readonly finished_at: Date | null;
}

/** One row of a listing: what GET /databases shows, timestamps as ISO-8601 text. */
export interface ListedDatabase {
    readonly id: number;
    readonly name: string;
    readonly owner: string;
    readonly project_id: string;
    readonly db_type: string;
    readonly version: string;
    readonly state: DatabaseState;
    readonly source_ranges: string[];
    readonly backup_location: string | null;
    readonly ttl_hours: number;
    readonly expires_at: string;
    readonly endpoint: Endpoint | null;
    readonly failure_reason: string | null;
    readonly created_by: string;
    readonly created_at: string;
    readonly updated_at: string;
    readonly operation: {
        readonly id: number; readonly kind: OperationKind; readonly status: OperationStatus; readonly attempts: number; readonly error: string | null;
        readonly requested_by: string; readonly created_at: string; readonly started_at: string | null; readonly finished_at: string | null;
    } | null;
}

/** SQL rendering a timestamptz exactly as Date#toISOString does (UTC, milliseconds). */
function iso(column: string): string {
    return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}

export interface AuditEntry {
    readonly actor: string;
    readonly action: string;
    readonly database?: string | null;
    readonly operationId?: number | null;
    readonly outcome: string;
    readonly requestId?: string | null;
    readonly detail?: Readonly<Record<string, unknown>>;
}

export interface AuditRow {
    readonly id: number;
    readonly at: Date;
    readonly actor: string;
    readonly action: string;
    readonly database: string | null;
    readonly operation_id: number | null;
    readonly outcome: string;
    readonly request_id: string | null;
    readonly detail: Record<string, unknown>;
}

// bigint ids fit in a double for the life of any deployment; parsing them as
// numbers keeps the JSON types simple. Scoped to this pool, not global.
const parseInt8 = (v: string): number => Number(v);
const types = {
    // pg-types declares its parsers as returning `any`; the cast restores that signature.
    getTypeParser: ((oid: number, format?: "text"): unknown => (oid === 20 ? parseInt8 : (pg.types.getTypeParser(oid, format) as unknown))) as typeof pg.types.getTypeParser,
};

export class AdminStore {
    readonly pool: pg.Pool;

    constructor(readonly connectionString: string, poolSize = 10) {
        this.pool = new pg.Pool({ connectionString, max: poolSize, types, application_name: "dbaas-api" });
        // An idle client losing its server must not crash the process; the next query reports it.
        this.pool.on("error", () => undefined);
    }

    /**
     * Queues notifications to send after the current event-loop turn, as one
     * statement for everything announced meanwhile (see notifyAll for why they
     * are never sent inside the announcing transaction). Fire and forget: a lost
     * notification only delays, since the runner and SSE streams also poll.
     */
    announce(notes: readonly Notification[]): void {
        for (const n of notes) this.#pendingNotes.set(`${n[0]}\u0000${n[1]}`, n);
        if (this.#flushScheduled || this.#pendingNotes.size === 0) return;
        this.#flushScheduled = true;
        setImmediate(() => {
            this.#flushScheduled = false;
            const batch = [...this.#pendingNotes.values()];
            this.#pendingNotes.clear();
            notifyAll(this.pool, batch).catch(() => undefined);
        });
    }

    readonly #pendingNotes = new Map<string, Notification>();
    #flushScheduled = false;

    async migrate(): Promise<number[]> {
        return migrate(this.pool);
    }

    async ping(): Promise<void> {
        await this.pool.query("SELECT 1");
    }

    async close(): Promise<void> {
        await this.pool.end();
    }

    /** Runs `fn` in a transaction; rolls back on error. */
    async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
        const c = await this.pool.connect();
        try {
            await c.query("BEGIN");
            const result = await fn(c);
            await c.query("COMMIT");
            return result;
        } catch (e) {
            await c.query("ROLLBACK").catch(() => undefined);
            throw e;
        } finally {
            c.release();
        }
    }

    /** The newest row with this name (a live one, or the last deleted one). */
    async findDatabase(name: string, q: Queryable = this.pool, forUpdate = false): Promise<DatabaseRow | undefined> {
        const r = await q.query<DatabaseRow>(named(
            `SELECT * FROM databases WHERE name = $1 ORDER BY id DESC LIMIT 1${forUpdate ? " FOR UPDATE" : ""}`, [name]));
        return r.rows[0];
    }

    async databaseById(id: number, q: Queryable = this.pool, forUpdate = false): Promise<DatabaseRow | undefined> {
        const r = await q.query<DatabaseRow>(named(`SELECT * FROM databases WHERE id = $1${forUpdate ? " FOR UPDATE" : ""}`, [id]));
        return r.rows[0];
    }

    /**
     * Keyset page ordered by (name, id), deleted databases only when asked for
     * by state. A listing is the API's hottest read, so it selects only what the
     * list shows, with timestamps already as ISO-8601 text and the current
     * operation as JSON, in one round trip (see ListedDatabase).
     */
    async listDatabases(filter: { owner?: string; projectId?: string; state?: DatabaseState; after?: { name: string; id: number }; limit: number }): Promise<ListedDatabase[]> {
        const where: string[] = [];
        const params: unknown[] = [];
        const add = (sql: string, v: unknown) => {
            params.push(v);
            where.push(sql.replace("?", `$${params.length}`));
        };
        if (filter.owner !== undefined) add("d.owner = ?", filter.owner);
        if (filter.projectId !== undefined) add("d.project_id = ?", filter.projectId);
        if (filter.state !== undefined) add("d.state = ?", filter.state);
        if (filter.state !== "deleted") where.push("d.state <> 'deleted'");
        if (filter.after !== undefined) {
            params.push(filter.after.name, filter.after.id);
            where.push(`(d.name, d.id) > ($${params.length - 1}, $${params.length})`);
        }
        // The limit is written into the text, not bound: a prepared statement's generic plan
        // cannot see a bound LIMIT and then sorts every live row instead of reading the first few.
        const limit = Math.trunc(filter.limit);
        const r = await this.pool.query<ListedDatabase>(named(
            `SELECT d.id, d.name, d.owner, d.project_id, d.db_type, d.version, d.state,
                    coalesce(d.spec->'source_ranges', '[]'::jsonb) AS source_ranges, d.spec->>'backup_location' AS backup_location,
                    d.ttl_hours, ${iso("d.expires_at")} AS expires_at, d.endpoint, d.failure_reason, d.created_by,
                    ${iso("d.created_at")} AS created_at, ${iso("d.updated_at")} AS updated_at,
                    CASE WHEN o.id IS NULL THEN NULL ELSE json_build_object(
                        'id', o.id, 'kind', o.kind, 'status', o.status, 'attempts', o.attempts, 'error', o.error, 'requested_by', o.requested_by,
                        'created_at', ${iso("o.created_at")}, 'started_at', ${iso("o.started_at")}, 'finished_at', ${iso("o.finished_at")}) END AS operation
             FROM databases d LEFT JOIN operations o ON o.id = d.current_operation_id
             WHERE ${where.join(" AND ")} ORDER BY d.name, d.id LIMIT ${limit}`, params));
        return r.rows;
    }

    /**
     * A new database (state creating), its create operation, the audit entry
     * and the first progress event, in ONE statement (so one round trip and
     * one commit); ids come from the sequences first so the rows can point at
     * each other. A taken name fails with unique_violation (23505).
     */
    async createDatabase(row: { name: string; owner: string; projectId: string; dbType: string; version: string; spec: DatabaseSpec; ttlHours: number; expiresAt: Date; createdBy: string; requestId: string; auditDetail: Record<string, unknown>; event: Record<string, unknown> }): Promise<{ database: DatabaseRow; operation: OperationRow }> {
        const r = await this.pool.query<DatabaseRow & { op_id: number; op_created_at: Date }>(named(
            `WITH ids AS (SELECT nextval(pg_get_serial_sequence('databases', 'id')) AS db_id, nextval(pg_get_serial_sequence('operations', 'id')) AS op_id),
             d AS (INSERT INTO databases (id, name, owner, project_id, db_type, version, state, spec, ttl_hours, expires_at, created_by, current_operation_id)
                   SELECT db_id, $1, $2, $3, $4, $5, 'creating', $6, $7, $8, $9, op_id FROM ids RETURNING *),
             o AS (INSERT INTO operations (id, database_id, kind, status, requested_by, request_id)
                   SELECT op_id, db_id, 'create', 'queued', $9, $10 FROM ids RETURNING id, created_at),
             a AS (INSERT INTO audit_log (actor, action, database, operation_id, outcome, request_id, detail)
                   SELECT $9, 'database.create', $1, op_id, 'accepted', $10, $11 FROM ids),
             e AS (INSERT INTO operation_events (operation_id, kind, data) SELECT op_id, 'status', $12 FROM ids)
             SELECT d.*, o.id AS op_id, o.created_at AS op_created_at FROM d, o`,
            [row.name, row.owner, row.projectId, row.dbType, row.version, JSON.stringify(row.spec), row.ttlHours, row.expiresAt, row.createdBy,
                row.requestId, JSON.stringify(row.auditDetail), JSON.stringify(row.event)]));
        const { op_id, op_created_at, ...database } = r.rows[0] as DatabaseRow & { op_id: number; op_created_at: Date };
        const operation: OperationRow = {
            id: op_id, database_id: database.id, kind: "create", status: "queued", attempts: 0, run_after: op_created_at,
            lease_owner: null, lease_until: null, cancel_requested: false, cancel_reason: null, error: null,
            requested_by: row.createdBy, request_id: row.requestId, created_at: op_created_at, started_at: null, finished_at: null,
        };
        return { database, operation };
    }

    async updateDatabase(c: Queryable, id: number, set: { state?: DatabaseState; currentOperationId?: number; failureReason?: string | null; endpoint?: Endpoint | null; spec?: DatabaseSpec; expiresAt?: Date; ttlHours?: number; deleted?: boolean }): Promise<DatabaseRow> {
        const cols: string[] = ["updated_at = now()"];
        const params: unknown[] = [];
        const put = (col: string, v: unknown) => {
            params.push(v);
            cols.push(`${col} = $${params.length}`);
        };
        if (set.state !== undefined) put("state", set.state);
        if (set.currentOperationId !== undefined) put("current_operation_id", set.currentOperationId);
        if (set.failureReason !== undefined) put("failure_reason", set.failureReason);
        if (set.endpoint !== undefined) put("endpoint", set.endpoint === null ? null : JSON.stringify(set.endpoint));
        if (set.spec !== undefined) put("spec", JSON.stringify(set.spec));
        if (set.expiresAt !== undefined) put("expires_at", set.expiresAt);
        if (set.ttlHours !== undefined) put("ttl_hours", set.ttlHours);
        if (set.deleted === true) cols.push("deleted_at = now()");
        params.push(id);
        const r = await c.query<DatabaseRow>(named(`UPDATE databases SET ${cols.join(", ")} WHERE id = $${params.length} RETURNING *`, params));
        return r.rows[0] as DatabaseRow;
    }

    async appendAudit(c: Queryable, e: AuditEntry): Promise<void> {
        await c.query(named(
            `INSERT INTO audit_log (actor, action, database, operation_id, outcome, request_id, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
            [e.actor, e.action, e.database ?? null, e.operationId ?? null, e.outcome, e.requestId ?? null, JSON.stringify(e.detail ?? {})]));
    }

    /** Newest first; `before` is the id of the last entry of the previous page. */
    async listAudit(filter: { database?: string; actor?: string; action?: string; before?: number; limit: number }): Promise<AuditRow[]> {
        const where: string[] = ["true"];
        const params: unknown[] = [];
        for (const [col, v] of [["database", filter.database], ["actor", filter.actor], ["action", filter.action]] as const) {
            if (v === undefined) continue;
            params.push(v);
            where.push(`${col} = $${params.length}`);
        }
        if (filter.before !== undefined) {
            params.push(filter.before);
            where.push(`id < $${params.length}`);
        }
        // Limit in the text for the same reason as in listDatabases.
        const r = await this.pool.query<AuditRow>(named(`SELECT * FROM audit_log WHERE ${where.join(" AND ")} ORDER BY id DESC LIMIT ${Math.trunc(filter.limit)}`, params));
        return r.rows;
    }

    /** Databases past their expiry that no operation is working on, locked for this transaction. */
    async expiredDatabases(c: Queryable, limit: number): Promise<DatabaseRow[]> {
        const r = await c.query<DatabaseRow>(named(
            `SELECT * FROM databases WHERE state IN ('ready', 'failed') AND expires_at <= now()
             ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED`, [limit]));
        return r.rows;
    }
}
