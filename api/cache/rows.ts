/**
 * SQL of the restored-backup cache (migration 40): the golden copies and the
 * `made` note on a database. SQL only; the rules are in cache.ts.
 */
import type { BackupIdentity, MadeNote } from "../../contracts/cache";
import { named } from "../store/sql";
import type { Queryable } from "../store/rows";

export interface CacheRow {
    readonly id: number;
    readonly url: string;
    readonly docker_host: string;
    readonly image: string;
    readonly etag: string | null;
    readonly last_modified: string | null;
    readonly content_length: number | null;
    readonly sha256: string | null;
    readonly volume: string;
    readonly bytes: number;
    readonly state: "ready" | "evicted";
    readonly source_database: string;
    readonly filled_at: Date;
    readonly last_used_at: Date;
    readonly hits: number;
    readonly evicted_at: Date | null;
    readonly evict_reason: string | null;
    readonly removal_pending: boolean;
}

export function identityOf(r: Pick<CacheRow, "etag" | "last_modified" | "content_length" | "sha256">): BackupIdentity {
    return {
        ...(r.etag === null ? {} : { etag: r.etag }),
        ...(r.last_modified === null ? {} : { last_modified: r.last_modified }),
        ...(r.content_length === null ? {} : { content_length: r.content_length }),
        ...(r.sha256 === null ? {} : { sha256: r.sha256 }),
    };
}

/** The next entry id: its golden volume is named for it before the row exists (the fill writes the volume first). */
export async function nextCacheId(q: Queryable): Promise<number> {
    const r = await q.query<{ id: number }>(named(`SELECT nextval(pg_get_serial_sequence('restore_cache', 'id')) AS id`, []));
    const id = r.rows[0]?.id;
    if (id === undefined) throw new Error("restore_cache has no id sequence");
    return id;
}

export interface NewCacheEntry {
    readonly id: number;
    readonly url: string;
    readonly dockerHost: string;
    readonly image: string;
    readonly identity: BackupIdentity;
    readonly volume: string;
    readonly bytes: number;
    readonly sourceDatabase: string;
}

export async function insertCacheEntry(q: Queryable, e: NewCacheEntry): Promise<CacheRow> {
    const r = await q.query<CacheRow>(named(
        `INSERT INTO restore_cache (id, url, docker_host, image, etag, last_modified, content_length, sha256, volume, bytes, state, source_database)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'ready', $11) RETURNING *`,
        [e.id, e.url, e.dockerHost, e.image, e.identity.etag ?? null, e.identity.last_modified ?? null, e.identity.content_length ?? null,
            e.identity.sha256 ?? null, e.volume, e.bytes, e.sourceDatabase]));
    return r.rows[0] as CacheRow;
}

/** Ready entries of one URL (without query), host and image. */
export async function readyEntriesFor(q: Queryable, url: string, dockerHost: string, image: string): Promise<CacheRow[]> {
    const r = await q.query<CacheRow>(named(
        `SELECT * FROM restore_cache WHERE state = 'ready' AND url = $1 AND docker_host = $2 AND image = $3`, [url, dockerHost, image]));
    return r.rows;
}

/** Every entry, newest first: ready ones, and evicted ones still listed for history. */
export async function listCacheEntries(q: Queryable, limit = 500): Promise<CacheRow[]> {
    const r = await q.query<CacheRow>(named(`SELECT * FROM restore_cache ORDER BY id DESC LIMIT ${Math.trunc(limit)}`, []));
    return r.rows;
}

export async function cacheEntryById(q: Queryable, id: number, forUpdate = false): Promise<CacheRow | undefined> {
    const r = await q.query<CacheRow>(named(`SELECT * FROM restore_cache WHERE id = $1${forUpdate ? " FOR UPDATE" : ""}`, [id]));
    return r.rows[0];
}

/** A clone was made from `id`. */
export async function recordHit(q: Queryable, id: number): Promise<void> {
    await q.query(named(`UPDATE restore_cache SET hits = hits + 1, last_used_at = clock_timestamp() WHERE id = $1`, [id]));
}

/** Ready entries, locked for this transaction (another replica's eviction skips them). */
export async function readyEntriesLocked(q: Queryable): Promise<CacheRow[]> {
    const r = await q.query<CacheRow>(named(`SELECT * FROM restore_cache WHERE state = 'ready' FOR UPDATE SKIP LOCKED`, []));
    return r.rows;
}

/** Marks an entry evicted with its volume still to be removed; undefined when it was not ready. */
export async function markEvicted(q: Queryable, id: number, reason: string): Promise<CacheRow | undefined> {
    const r = await q.query<CacheRow>(named(
        `UPDATE restore_cache SET state = 'evicted', evicted_at = clock_timestamp(), evict_reason = $2, removal_pending = true
         WHERE id = $1 AND state = 'ready' RETURNING *`, [id, reason]));
    return r.rows[0];
}

export async function pendingRemovals(q: Queryable): Promise<CacheRow[]> {
    const r = await q.query<CacheRow>(named(`SELECT * FROM restore_cache WHERE removal_pending ORDER BY id LIMIT 100`, []));
    return r.rows;
}

export async function markRemoved(q: Queryable, id: number): Promise<void> {
    await q.query(named(`UPDATE restore_cache SET removal_pending = false WHERE id = $1`, [id]));
}

export async function setMade(q: Queryable, databaseName: string, made: MadeNote): Promise<void> {
    await q.query(named(`UPDATE databases SET made = $2 WHERE name = $1 AND state <> 'deleted'`, [databaseName, JSON.stringify(made)]));
}
