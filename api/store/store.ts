/**
 * The admin database: databases, audit log and the pool/transaction helpers.
 * SQL only; the rules live in domain/databases.ts and the job runner.
 */
import pg from "pg";
import type { DatabaseSpec } from "../../contracts/database";
import { migrate } from "./migrations";
import { notifyAll, type Notification } from "./queue";
import { Batcher } from "./batch";
import { coalesced } from "../coalesce";
import { named, transaction } from "./sql";
import type { DatabaseState, Endpoint, RuntimeView } from "../../contracts/api";
import type { MadeNote } from "../../contracts/cache";
import type { OperationRow, Queryable } from "./rows";

export type { OperationRow, OperationStatus, Queryable } from "./rows";

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
    /** The runtime watcher's last observation (jobs/watcher.ts); null until it has looked. */
    readonly runtime: RuntimeView | null;
    /** How its data got there (api/cache/, migration 40); null without a backup or until ready. */
    readonly made: MadeNote | null;
}

/** A ready database the runtime watcher looks at: its last observation, and whether an operation runs on it. */
export interface WatchedDatabase {
    readonly id: number;
    readonly name: string;
    readonly runtime: RuntimeView | null;
    readonly busy: boolean;
}

/** A database with the operation a request just started on it (what a 202 answers). */
export interface Accepted {
    readonly database: DatabaseRow;
    readonly operation: OperationRow;
}

/** One row of a listing: what GET /databases shows, timestamps as ISO-8601 text. */
export interface ListedDatabase extends Pick<DatabaseRow,
    "id" | "name" | "owner" | "project_id" | "db_type" | "version" | "state" | "ttl_hours" | "endpoint" | "failure_reason" | "created_by" | "runtime" | "made"> {
    readonly source_ranges: string[];
    readonly backup_location: string | null;
    readonly backup_id: string | null;
    readonly expires_at: string;
    readonly created_at: string;
    readonly updated_at: string;
    readonly operation: (Pick<OperationRow, "id" | "kind" | "status" | "attempts" | "error" | "requested_by"> & {
        readonly created_at: string; readonly started_at: string | null; readonly finished_at: string | null;
    }) | null;
}

/** SQL rendering a timestamptz exactly as Date#toISOString does (UTC, milliseconds). */
function iso(column: string): string {
    return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}

/** What POST /databases writes: the database, and the audit entry and first event of its create operation. */
export interface NewDatabase {
    readonly name: string;
    readonly owner: string;
    readonly projectId: string;
    readonly dbType: string;
    readonly version: string;
    readonly spec: DatabaseSpec;
    readonly ttlHours: number;
    readonly expiresAt: Date;
    readonly createdBy: string;
    readonly requestId: string;
    readonly auditDetail: Record<string, unknown>;
    readonly event: Record<string, unknown>;
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

/**
 * The URL with `extra` added to its `options` startup parameter (server
 * settings for every session), keeping any options it already has (node-postgres
 * lets the URL's own `options` win over a separate one).
 */
export function withServerOptions(connectionString: string, extra: string): string {
    const url = new URL(connectionString);
    const current = url.searchParams.get("options");
    url.searchParams.set("options", current === null || current.trim() === "" ? extra : `${current} ${extra}`);
    return url.toString();
}

export class AdminStore {
    readonly pool: pg.Pool;
    /**
     * For progress only (operation events, lease renewals): its commits do not
     * wait for the disk. A crash can lose the last fraction of a second of
     * progress lines or a lease renewal (the lease then expires and recovery
     * runs, as after any crash), never a state change, an operation or an
     * audit entry, which go through `pool` and commit durably. Running jobs
     * write several progress rows each; waiting for a WAL flush for every one
     * of them slowed every create queued meanwhile (bench/api.ts).
     */
    readonly progressPool: pg.Pool;

    constructor(readonly connectionString: string, poolSize = 10) {
        this.pool = new pg.Pool({ connectionString, max: poolSize, types, application_name: "dbaas-api" });
        // Half the pool at most, so reads and the job runner always find a connection.
        this.#creates = new Batcher((rows) => this.#insertDatabases(rows), { maxBatch: 64, maxInFlight: Math.max(1, Math.floor(poolSize / 2)) });
        // An idle client losing its server must not crash the process; the next query reports it.
        this.pool.on("error", () => undefined);
        this.progressPool = new pg.Pool({ connectionString: withServerOptions(connectionString, "-c synchronous_commit=off"), max: 2, types, application_name: "dbaas-api-progress" });
        this.progressPool.on("error", () => undefined);
    }

    /**
     * Queues notifications to send after the current event-loop turn, as one
     * statement for everything announced meanwhile (see notifyAll for why they
     * are never sent inside the announcing transaction). Fire and forget: a lost
     * notification only delays, since the runner and SSE streams also poll.
     */
    announce(notes: readonly Notification[]): void {
        for (const n of notes) this.#pendingNotes.set(`${n[0]}\u0000${n[1]}`, n);
        if (this.#pendingNotes.size > 0) this.#sendNotes();
    }

    readonly #pendingNotes = new Map<string, Notification>();
    readonly #sendNotes = coalesced(() => {
        const batch = [...this.#pendingNotes.values()];
        this.#pendingNotes.clear();
        notifyAll(this.pool, batch).catch(() => undefined);
    }, { nextTurn: true });

    async migrate(): Promise<number[]> {
        return migrate(this.pool);
    }

    async ping(): Promise<void> {
        await this.pool.query("SELECT 1");
    }

    async close(): Promise<void> {
        await Promise.all([this.pool.end(), this.progressPool.end()]);
    }

    /** Runs `fn` in a transaction; rolls back on error. */
    tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
        return transaction(this.pool, fn);
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
                    d.spec->>'backup_id' AS backup_id,
                    d.ttl_hours, ${iso("d.expires_at")} AS expires_at, d.endpoint, d.failure_reason, d.created_by, d.runtime, d.made,
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
     * and the first progress event; undefined when the name is taken by a
     * live database. Creates that arrive together share one statement and one
     * commit (see Batcher and #insertDatabases).
     */
    createDatabase(row: NewDatabase): Promise<Accepted | undefined> {
        return this.#creates.submit(row);
    }

    readonly #creates: Batcher<NewDatabase, Accepted | undefined>;

    /**
     * Inserts every row of `rows` with its operation, audit entry and event in
     * ONE statement; ids come from the sequences first so the rows can point at
     * each other. A name taken by a live database (before or earlier in the
     * same batch) is skipped by ON CONFLICT and answers undefined.
     */
    async #insertDatabases(rows: readonly NewDatabase[]): Promise<(Accepted | undefined)[]> {
        const input = rows.map((row, i) => ({
            i, name: row.name, owner: row.owner, project_id: row.projectId, db_type: row.dbType, version: row.version, spec: row.spec,
            ttl_hours: row.ttlHours, expires_at: row.expiresAt.toISOString(), created_by: row.createdBy, request_id: row.requestId,
            audit_detail: row.auditDetail, event: row.event,
        }));
        // Only what the database made up comes back (ids, timestamps): the rest is what was sent.
        const r = await this.pool.query<{ batch_index: number; id: number | null; created_at: Date | null; updated_at: Date | null; op_id: number | null; op_created_at: Date | null }>(named(
            `WITH input AS (
                 SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(i int, name text, owner text, project_id text, db_type text, version text, spec jsonb,
                     ttl_hours int, expires_at timestamptz, created_by text, request_id text, audit_detail jsonb, event jsonb)),
             ids AS MATERIALIZED (SELECT input.*, nextval(pg_get_serial_sequence('databases', 'id')) AS db_id,
                     nextval(pg_get_serial_sequence('operations', 'id')) AS op_id FROM input ORDER BY i),
             d AS (INSERT INTO databases (id, name, owner, project_id, db_type, version, state, spec, ttl_hours, expires_at, created_by, current_operation_id)
                   SELECT db_id, name, owner, project_id, db_type, version, 'creating', spec, ttl_hours, expires_at, created_by, op_id FROM ids
                   -- name order: two batches that share names lock them in the same order (no deadlock)
                   ORDER BY name, i
                   ON CONFLICT (name) WHERE state <> 'deleted' DO NOTHING
                   RETURNING id, created_at, updated_at),
             o AS (INSERT INTO operations (id, database_id, kind, status, requested_by, request_id)
                   SELECT ids.op_id, ids.db_id, 'create', 'queued', ids.created_by, ids.request_id FROM ids JOIN d ON d.id = ids.db_id
                   RETURNING id, created_at),
             a AS (INSERT INTO audit_log (actor, action, database, operation_id, outcome, request_id, detail)
                   SELECT ids.created_by, 'database.create', ids.name, ids.op_id, 'accepted', ids.request_id, ids.audit_detail
                   FROM ids JOIN d ON d.id = ids.db_id ORDER BY ids.i),
             e AS (INSERT INTO operation_events (operation_id, kind, data)
                   SELECT ids.op_id, 'status', ids.event FROM ids JOIN d ON d.id = ids.db_id ORDER BY ids.i),
             act AS (INSERT INTO activities (database_id, database_name, kind, planned, operation_id, actor, detail)
                   SELECT ids.db_id, ids.name, 'created', true, ids.op_id, ids.created_by, jsonb_build_object('version', ids.version)
                   FROM ids JOIN d ON d.id = ids.db_id ORDER BY ids.i)
             SELECT ids.i AS batch_index, d.id, d.created_at, d.updated_at, o.id AS op_id, o.created_at AS op_created_at
             FROM ids LEFT JOIN d ON d.id = ids.db_id LEFT JOIN o ON o.id = ids.op_id`,
            [JSON.stringify(input)]));
        const out: (Accepted | undefined)[] = rows.map(() => undefined);
        for (const { batch_index, id, created_at, updated_at, op_id, op_created_at } of r.rows) {
            const row = rows[batch_index];
            if (id === null || created_at === null || updated_at === null || op_id === null || op_created_at === null || row === undefined) continue;
            const database: DatabaseRow = {
                id, name: row.name, owner: row.owner, project_id: row.projectId, db_type: row.dbType, version: row.version, state: "creating",
                spec: row.spec, ttl_hours: row.ttlHours, expires_at: row.expiresAt, endpoint: null, failure_reason: null, current_operation_id: op_id,
                created_by: row.createdBy, created_at, updated_at, deleted_at: null, runtime: null, made: null,
            };
            out[batch_index] = {
                database,
                operation: {
                    id: op_id, database_id: id, kind: "create", status: "queued", attempts: 0, run_after: op_created_at,
                    lease_owner: null, lease_until: null, cancel_requested: false, cancel_reason: null, error: null,
                    requested_by: row.createdBy, request_id: row.requestId, created_at: op_created_at, started_at: null, finished_at: null,
                },
            };
        }
        return out;
    }

    async updateDatabase(c: Queryable, id: number, set: { state?: DatabaseState; currentOperationId?: number; failureReason?: string | null; endpoint?: Endpoint | null; spec?: DatabaseSpec; expiresAt?: Date; ttlHours?: number; deleted?: boolean; runtime?: null }): Promise<DatabaseRow> {
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
        if (set.runtime === null) cols.push("runtime = NULL");
        params.push(id);
        const r = await c.query<DatabaseRow>(named(`UPDATE databases SET ${cols.join(", ")} WHERE id = $${params.length} RETURNING *`, params));
        return r.rows[0] as DatabaseRow;
    }

    /** Ready databases for the runtime watcher, with whether an operation is queued or running on them. */
    async watchedDatabases(): Promise<WatchedDatabase[]> {
        const r = await this.pool.query<WatchedDatabase>(named(
            `SELECT d.id, d.name, d.runtime, (o.id IS NOT NULL AND o.status IN ('queued', 'running')) AS busy
             FROM databases d LEFT JOIN operations o ON o.id = d.current_operation_id
             WHERE d.state = 'ready' ORDER BY d.id`, []));
        return r.rows;
    }

    /** Stores an observation and its audit entries together; only while the row is still `ready`. */
    async recordRuntime(id: number, runtime: RuntimeView, audits: readonly AuditEntry[]): Promise<void> {
        await this.tx(async (c) => {
            const r = await c.query(named(`UPDATE databases SET runtime = $2 WHERE id = $1 AND state = 'ready'`, [id, JSON.stringify(runtime)]));
            if (r.rowCount === 0) return;
            for (const a of audits) await this.appendAudit(c, a);
        });
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
