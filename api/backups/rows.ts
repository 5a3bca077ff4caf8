/**
 * SQL of the backups table (migration 20) and of the content URL key. SQL
 * only; the rules are in backups.ts.
 */
import { randomBytes } from "node:crypto";
import type { BackupStatus, BackupType } from "../../contracts/backup";
import { named } from "../store/sql";
import type { Queryable } from "../store/rows";

export interface BackupRow {
    readonly id: string;
    readonly database_id: number;
    readonly database_name: string;
    readonly owner: string;
    readonly type: BackupType;
    readonly status: BackupStatus;
    readonly db_size_bytes: number | null;
    readonly backup_size_bytes: number | null;
    readonly server_major: number | null;
    readonly error: string | null;
    readonly requested_by: string;
    readonly request_id: string | null;
    readonly worker_id: string | null;
    readonly lease_until: Date | null;
    readonly started_at: Date;
    readonly finished_at: Date | null;
    readonly rolled_off_at: Date | null;
}

export interface NewBackup {
    readonly id: string;
    readonly databaseId: number;
    readonly databaseName: string;
    readonly owner: string;
    readonly type: BackupType;
    readonly requestedBy: string;
    readonly requestId: string;
    readonly workerId: string;
    readonly leaseMs: number;
}

export async function insertBackup(q: Queryable, b: NewBackup): Promise<BackupRow> {
    const r = await q.query<BackupRow>(named(
        `INSERT INTO backups (id, database_id, database_name, owner, type, status, requested_by, request_id, worker_id, lease_until)
         VALUES ($1, $2, $3, $4, $5, 'running', $6, $7, $8, clock_timestamp() + $9 * interval '1 millisecond') RETURNING *`,
        [b.id, b.databaseId, b.databaseName, b.owner, b.type, b.requestedBy, b.requestId, b.workerId, b.leaseMs]));
    return r.rows[0] as BackupRow;
}

/** The running backup of a database, if any. */
export async function runningBackupOf(q: Queryable, databaseId: number): Promise<BackupRow | undefined> {
    const r = await q.query<BackupRow>(named(`SELECT * FROM backups WHERE database_id = $1 AND status = 'running'`, [databaseId]));
    return r.rows[0];
}

export async function backupById(q: Queryable, id: string): Promise<BackupRow | undefined> {
    const r = await q.query<BackupRow>(named(`SELECT * FROM backups WHERE id = $1`, [id]));
    return r.rows[0];
}

/** Backups of every database of that name not rolled off, newest first; only `owner`'s when given. */
export async function listBackups(q: Queryable, databaseName: string, owner: string | undefined, limit = 500): Promise<BackupRow[]> {
    const r = await q.query<BackupRow>(named(
        `SELECT * FROM backups WHERE database_name = $1 AND rolled_off_at IS NULL AND ($2::text IS NULL OR owner = $2)
         ORDER BY started_at DESC, id DESC LIMIT ${Math.trunc(limit)}`, [databaseName, owner ?? null]));
    return r.rows;
}

export async function setBackupInfo(q: Queryable, id: string, dbSizeBytes: number, serverMajor: number): Promise<void> {
    await q.query(named(`UPDATE backups SET db_size_bytes = $2, server_major = $3 WHERE id = $1 AND status = 'running'`, [id, dbSizeBytes, serverMajor]));
}

/** Ends a running backup; undefined when it was no longer running under `workerId` (null: recovery, any worker). */
export async function finishBackup(q: Queryable, id: string, workerId: string | null, end: { status: "succeeded" | "failed"; backupSizeBytes?: number; error?: string }): Promise<BackupRow | undefined> {
    const r = await q.query<BackupRow>(named(
        `UPDATE backups SET status = $3, backup_size_bytes = $4, error = $5, finished_at = clock_timestamp(), worker_id = NULL, lease_until = NULL
         WHERE id = $1 AND status = 'running' AND ($2::text IS NULL OR worker_id = $2) RETURNING *`,
        [id, workerId, end.status, end.backupSizeBytes ?? null, end.error ?? null]));
    return r.rows[0];
}

export async function renewBackupLeases(q: Queryable, workerId: string, ids: readonly string[], leaseMs: number): Promise<void> {
    if (ids.length === 0) return;
    await q.query(named(
        `UPDATE backups SET lease_until = clock_timestamp() + $3 * interval '1 millisecond' WHERE id = ANY($2::uuid[]) AND worker_id = $1 AND status = 'running'`,
        [workerId, ids, leaseMs]));
}

/** Running backups whose process stopped renewing their lease, locked for this transaction. */
export async function expiredBackupLeases(q: Queryable): Promise<BackupRow[]> {
    const r = await q.query<BackupRow>(named(
        `SELECT * FROM backups WHERE status = 'running' AND lease_until < clock_timestamp() ORDER BY lease_until LIMIT 100 FOR UPDATE SKIP LOCKED`, []));
    return r.rows;
}

/** Every backup not rolled off, locked for this transaction (another replica's roll-off skips them). */
export async function retentionCandidates(q: Queryable): Promise<BackupRow[]> {
    const r = await q.query<BackupRow>(named(`SELECT * FROM backups WHERE rolled_off_at IS NULL FOR UPDATE SKIP LOCKED`, []));
    return r.rows;
}

/** Backups that databases being created are restored from (their create still has to fetch them). */
export async function backupsInUse(q: Queryable): Promise<Set<string>> {
    const r = await q.query<{ id: string }>(named(`SELECT DISTINCT spec->>'backup_id' AS id FROM databases WHERE state = 'creating' AND spec ? 'backup_id'`, []));
    return new Set(r.rows.map((x) => x.id));
}

export async function markRolledOff(q: Queryable, id: string): Promise<void> {
    await q.query(named(`UPDATE backups SET rolled_off_at = clock_timestamp() WHERE id = $1`, [id]));
}

/** The HMAC key of signed content URLs: made by the first API process to start, then shared by all. */
export async function contentUrlKey(q: Queryable): Promise<Buffer> {
    await q.query(named(`INSERT INTO backup_url_key (id, key) VALUES (1, $1) ON CONFLICT (id) DO NOTHING`, [randomBytes(32)]));
    const r = await q.query<{ key: Buffer }>(named(`SELECT key FROM backup_url_key WHERE id = 1`, []));
    const key = r.rows[0]?.key;
    if (key === undefined) throw new Error("backup_url_key has no row");
    return key;
}
