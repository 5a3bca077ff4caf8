/**
 * The SQL behind GET /reports: read-only statements over databases,
 * operations and the size samples, each scoped to an owner (a user's report)
 * and optionally a project. The arithmetic is domain/reports.ts.
 */
import type { DatabaseSpec } from "../../contracts/database";
import type { OperationSpan, Window } from "../domain/reports";
import type { Queryable } from "./rows";

export interface ReportScope {
    /** Only this owner's databases (a user's report); undefined = all (admin). */
    readonly owner?: string;
    readonly projectId?: string;
}

/** One database that existed at some point of the window, with what the report needs. */
export interface ReportDatabase {
    readonly id: number;
    readonly name: string;
    readonly owner: string;
    readonly project_id: string;
    readonly version: string;
    readonly state: string;
    readonly spec: DatabaseSpec;
    readonly created_at: Date;
    readonly deleted_at: Date | null;
    readonly database_bytes: number | null;
    readonly volume_bytes: number | null;
    readonly sampled_at: Date | null;
    readonly operations: OperationSpan[];
}

export interface SizePoint {
    readonly at: Date;
    readonly database_bytes: number;
    readonly volume_bytes: number;
}

export interface FailedOperation {
    readonly database: string;
    readonly kind: string;
    readonly error: string | null;
    readonly finished_at: Date;
}

/** `WHERE` conditions on `d` (databases) for a scope, with their parameters after `first - 1` others. */
function scoped(scope: ReportScope, params: unknown[]): string {
    const where: string[] = [];
    if (scope.owner !== undefined) {
        params.push(scope.owner);
        where.push(`d.owner = $${params.length}`);
    }
    if (scope.projectId !== undefined) {
        params.push(scope.projectId);
        where.push(`d.project_id = $${params.length}`);
    }
    return where.length === 0 ? "true" : where.join(" AND ");
}

/** Databases alive at some time in the window: their newest size sample and their operations (JSON, one round trip). */
export async function reportDatabases(q: Queryable, scope: ReportScope, w: Window): Promise<ReportDatabase[]> {
    const params: unknown[] = [w.from, w.to];
    const where = scoped(scope, params);
    const r = await q.query<Omit<ReportDatabase, "operations"> & { operations: { kind: string; status: string; started_at: string | null; finished_at: string | null }[] }>(
        `SELECT d.id, d.name, d.owner, d.project_id, d.version, d.state, d.spec, d.created_at, d.deleted_at,
                s.database_bytes, s.volume_bytes, s.at AS sampled_at,
                coalesce((SELECT json_agg(json_build_object('kind', o.kind, 'status', o.status, 'started_at', o.started_at, 'finished_at', o.finished_at) ORDER BY o.id)
                          FROM operations o WHERE o.database_id = d.id), '[]'::json) AS operations
         FROM databases d
         LEFT JOIN LATERAL (SELECT database_bytes, volume_bytes, at FROM database_size_samples WHERE database_id = d.id ORDER BY at DESC LIMIT 1) s ON true
         WHERE d.created_at <= $2 AND (d.deleted_at IS NULL OR d.deleted_at >= $1) AND ${where}
         ORDER BY d.name, d.id`, params);
    const date = (s: string | null) => (s === null ? null : new Date(s));
    return r.rows.map((row) => ({ ...row, operations: row.operations.map((o) => ({ kind: o.kind, status: o.status, started_at: date(o.started_at), finished_at: date(o.finished_at) })) }));
}

/** Total sizes per bucket over the window: for each database its largest sample in the bucket, summed. */
export async function sizeSeries(q: Queryable, scope: ReportScope, w: Window, bucketSeconds: number): Promise<SizePoint[]> {
    const params: unknown[] = [w.from, w.to, bucketSeconds];
    const where = scoped(scope, params);
    const r = await q.query<SizePoint>(
        `WITH per_db AS (
             SELECT s.database_id, date_bin(make_interval(secs => $3), s.at, $1) AS bucket,
                    max(s.database_bytes) AS database_bytes, max(s.volume_bytes) AS volume_bytes
             FROM database_size_samples s JOIN databases d ON d.id = s.database_id
             WHERE s.at >= $1 AND s.at <= $2 AND ${where}
             GROUP BY 1, 2)
         SELECT bucket AS at, coalesce(sum(database_bytes), 0)::float8 AS database_bytes, coalesce(sum(volume_bytes), 0)::float8 AS volume_bytes
         FROM per_db GROUP BY bucket ORDER BY bucket`, params);
    return r.rows;
}

/** Operations that ended failed in the window, newest first (at most `limit`), and their count by kind. */
export async function failedOperations(q: Queryable, scope: ReportScope, w: Window, limit: number): Promise<{ byKind: { key: string; count: number }[]; recent: FailedOperation[] }> {
    const params: unknown[] = [w.from, w.to];
    const where = scoped(scope, params);
    const base = `FROM operations o JOIN databases d ON d.id = o.database_id
                  WHERE o.status = 'failed' AND o.finished_at >= $1 AND o.finished_at <= $2 AND ${where}`;
    const [byKind, recent] = await Promise.all([
        q.query<{ key: string; count: number }>(`SELECT o.kind AS key, count(*)::int AS count ${base} GROUP BY 1 ORDER BY 1`, params),
        q.query<FailedOperation>(`SELECT d.name AS database, o.kind, o.error, o.finished_at ${base} ORDER BY o.finished_at DESC, o.id DESC LIMIT ${Math.trunc(limit)}`, params),
    ]);
    return { byKind: byKind.rows, recent: recent.rows };
}
