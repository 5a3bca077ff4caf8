/**
 * Backups of on-demand databases: the wire schemas of the backup routes, and
 * how a stored backup is handed to the restore of a new database. Pure: no I/O.
 *
 * The hand-off: `POST /databases` with `backup_id` stores the id in the spec
 * (`DatabaseSpec.backup_id`, never a URL). For every attempt of the create, the
 * API's job runner sets the spec's `backup_location` to a short-lived signed URL
 * of the API itself, `<DBAAS_BACKUP_FETCH_BASE_URL>/backups/<id>/content?expires=<unix>&sig=<hex>`
 * (`backupContentPath`, `BACKUP_CONTENT_QUERY`), and the per-database program
 * fetches it like any other backup_location (fetch.sh: https, public address,
 * size and time caps). The signature is HMAC-SHA256 over `backupContentMessage`
 * with a key only the API holds; the URL is good until `expires` (the end of
 * that attempt's operation timeout) and for that one backup only.
 */
import { z } from "zod";

/** How a backup was started; schedules are not built, so every backup is manual. */
export const BACKUP_TYPES = ["manual"] as const;
export type BackupType = (typeof BACKUP_TYPES)[number];

export const BACKUP_STATUSES = ["running", "succeeded", "failed"] as const;
export type BackupStatus = (typeof BACKUP_STATUSES)[number];

/** A backup id: a random UUID chosen by the API (file and object names derive from it, never from user input). */
export const backupIdSchema = z.uuid({ message: "a backup id (a UUID from GET /databases/{name}/backups)" });

/** The path of a backup's content (the API answers it only with a valid signature). */
export function backupContentPath(id: string): string {
    return `/backups/${id}/content`;
}

/** The query parameters of a signed content URL. */
export const BACKUP_CONTENT_QUERY = { expires: "expires", signature: "sig" } as const;

/** What the signature covers: a fixed purpose, the backup id and the expiry (Unix seconds). */
export function backupContentMessage(id: string, expiresUnix: number): string {
    return `dbaas-backup-content\n${id}\n${expiresUnix}`;
}

export const backupContentQuery = z.object({
    [BACKUP_CONTENT_QUERY.expires]: z.coerce.number().int("a whole number of seconds").min(0).max(Number.MAX_SAFE_INTEGER),
    [BACKUP_CONTENT_QUERY.signature]: z.string().regex(/^[0-9a-f]{64}$/, "the hex signature of a signed URL"),
}).strict();

export const backupView = z.object({
    id: z.string(),
    database: z.string(),
    owner: z.string(),
    type: z.enum(BACKUP_TYPES),
    status: z.enum(BACKUP_STATUSES),
    /** Size of the database when the dump started (pg_database_size); null until known. */
    db_size_bytes: z.number().int().nullable(),
    /** Size of the stored dump (pg_dump -Fc); null unless succeeded. */
    backup_size_bytes: z.number().int().nullable(),
    /** Major version of the dumped server, e.g. 17; null until known. */
    server_major: z.number().int().nullable(),
    requested_by: z.string(),
    started_at: z.string(),
    finished_at: z.string().nullable(),
    /** Why it failed: short, free of credentials and of pg_dump's full output. */
    error: z.string().nullable(),
    links: z.object({ self: z.string() }),
}).meta({ id: "Backup" });
export type BackupView = z.output<typeof backupView>;

export const backupListView = z.object({
    backups: z.array(backupView),
}).meta({ id: "BackupList" });
