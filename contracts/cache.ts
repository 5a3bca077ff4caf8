/**
 * The restored-backup cache (issue 19), the facts the API, the per-database
 * program and the scripts share: what identifies a backup (its URL without
 * the query, plus the validators its server sends, or the SHA-256 of its
 * bytes), how the fetch step reports what it saw, when a cache entry serves a
 * new database, which entries are evicted, and the two scripts of the docker
 * target: the clone (golden volume → the new database's volume, then its own
 * name and password) and the fill (a stopped, restored database → a golden
 * volume without passwords, under a neutral name). No Pulumi imports, no I/O.
 */
import { z } from "zod";

/** The name a golden copy's database has: nothing of the first owner's name stays in it. */
export const GOLDEN_DATABASE = "dbaas_golden";
/** Where the clone step and the fill helper mount a golden volume (read-only for the clone). */
export const GOLDEN_MOUNT = "/var/lib/dbaas-cache";
/**
 * The file a finished fill leaves at the golden volume's root (world-readable, the root
 * 0755): the docker fetch step runs as root without DAC capabilities and cannot look
 * into the 0700 data directory of uid 999, so this file, not pgdata/PG_VERSION, says
 * the golden copy is complete.
 */
export const GOLDEN_READY_FILE = "golden-ready";
/** The fetch step's note to the clone step: "the golden copy matches, clone it" (in RESTORE_DIR). */
export const CLONE_FLAG = "dbaas-clone";
/** Docker volume name of cache entry `id`. */
export const goldenVolumeName = (id: number): string => `dbaas-cache-${id}`;

/** What identifies one backup's bytes, as the fetch step saw them. */
export const backupIdentitySchema = z.object({
    /** A strong ETag as the server sent it, quotes included (weak ETags do not promise equal bytes). */
    etag: z.string().min(1).max(512).optional(),
    last_modified: z.string().min(1).max(128).optional(),
    content_length: z.number().int().nonnegative().optional(),
    /** Hex SHA-256 of the downloaded file (absent when a clone skipped the download). */
    sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
}).strict();
export type BackupIdentity = z.infer<typeof backupIdentitySchema>;

/** What the program reports in its optional `restore` stack output. */
export const restoreReportSchema = z.object({
    made: z.enum(["restored", "cloned"]),
    identity: backupIdentitySchema,
}).strict();
export type RestoreReport = z.infer<typeof restoreReportSchema>;

/** `target.clone_from` of a docker spec: the golden volume a hit would copy and what it must still match. */
export const cloneFromSchema = z.object({
    cache_id: z.number().int().positive(),
    volume: z.string().regex(/^dbaas-cache-[0-9]+$/, "a golden volume name dbaas-cache-<id>"),
    identity: backupIdentitySchema,
}).strict();
export type CloneFrom = z.infer<typeof cloneFromSchema>;

/** A Kubernetes object name (DNS-1123 subdomain), as VolumeSnapshot, VolumeSnapshotContent and VolumeSnapshotClass names are. */
export const K8S_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const k8sName = z.string().regex(K8S_NAME, "a Kubernetes object name (lowercase letters, digits, '-', '.')");

/** The golden VolumeSnapshot's name in a restored database's namespace (kubernetes target). */
export const GOLDEN_SNAPSHOT = "dbaas-golden";

/**
 * `target.clone_from` of a kubernetes spec: the CSI snapshot a hit clones (its driver and
 * handle, which a pre-provisioned VolumeSnapshotContent in the new namespace points at),
 * the database it was taken of (its name and passwords are still in it: the clone's init
 * step resets them) and what the backup must still match.
 */
export const snapshotCloneFromSchema = z.object({
    cache_id: z.number().int().positive(),
    driver: k8sName,
    snapshot_handle: z.string().min(1).max(1024).regex(/^[\x21-\x7e]+$/, "a CSI snapshot handle (printable, no spaces)"),
    source_database: z.string().regex(/^[a-z]([-a-z0-9]*[a-z0-9])?$/, "the database name the snapshot was taken of").max(63),
    identity: backupIdentitySchema,
}).strict();
export type SnapshotCloneFrom = z.infer<typeof snapshotCloneFromSchema>;

/**
 * The golden snapshot a restored kubernetes database reports (stack output `cache_snapshot`):
 * the VolumeSnapshot in its namespace and the bound VolumeSnapshotContent's driver and handle.
 */
export const goldenSnapshotSchema = z.object({
    namespace: k8sName,
    name: k8sName,
    content: k8sName,
    driver: k8sName,
    snapshot_handle: snapshotCloneFromSchema.shape.snapshot_handle,
}).strict();
export type GoldenSnapshot = z.infer<typeof goldenSnapshotSchema>;

/**
 * The cache key's URL: scheme, host, port and path. A presigned URL's query is
 * a signature that changes on every request and is a secret; it is never stored.
 */
export function cacheKeyUrl(url: string): string {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
}

/** The validators that make a HEAD enough: a strong ETag, or Last-Modified with the length. */
export function hasValidators(id: BackupIdentity): boolean {
    return id.etag !== undefined || (id.last_modified !== undefined && id.content_length !== undefined);
}

/** Whether a backup seen now (`seen`) is the one a golden copy was filled from (`expected`). */
export function identityMatches(expected: BackupIdentity, seen: BackupIdentity): boolean {
    if (expected.etag !== undefined) return seen.etag === expected.etag;
    if (expected.last_modified !== undefined && expected.content_length !== undefined) {
        return seen.last_modified === expected.last_modified && seen.content_length === expected.content_length;
    }
    return expected.sha256 !== undefined && seen.sha256 === expected.sha256;
}

/** The identity in HTTP response headers (names in any case); a weak ETag is not kept. */
export function identityFromHeaders(headers: Readonly<Record<string, string>>): BackupIdentity {
    const h = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v.trim()]));
    const etag = h["etag"];
    const length = h["content-length"];
    return {
        ...(etag !== undefined && etag !== "" && !etag.startsWith("W/") ? { etag } : {}),
        ...(h["last-modified"] ? { last_modified: h["last-modified"] } : {}),
        ...(length !== undefined && /^[0-9]+$/.test(length) ? { content_length: Number(length) } : {}),
    };
}

/** Line prefix of fetch.sh's report, one `key=value` per line (parsed by `parseFetchReport`). */
export const FETCH_REPORT_PREFIX = "fetch: cache-report ";

/**
 * What the fetch step reported in its log: `made=cloned|restored` and the
 * identity. Undefined when it printed no report (a spec without a backup, an
 * older script, a database that already existed).
 */
export function parseFetchReport(logs: string | undefined): RestoreReport | undefined {
    const fields: Record<string, string> = {};
    for (const raw of (logs ?? "").split("\n")) {
        const line = raw.replace(/\r$/, "");
        const at = line.indexOf(FETCH_REPORT_PREFIX);
        if (at < 0) continue;
        const pair = line.slice(at + FETCH_REPORT_PREFIX.length);
        const eq = pair.indexOf("=");
        if (eq > 0) fields[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    const made = fields["made"];
    if (made !== "cloned" && made !== "restored") return undefined;
    const identity = identityFromHeaders({
        ...(fields["etag"] === undefined ? {} : { etag: fields["etag"] }),
        ...(fields["last-modified"] === undefined ? {} : { "last-modified": fields["last-modified"] }),
        ...(fields["content-length"] === undefined ? {} : { "content-length": fields["content-length"] }),
    });
    const sha = fields["sha256"];
    return restoreReportSchema.parse({ made, identity: { ...identity, ...(sha !== undefined && /^[0-9a-f]{64}$/.test(sha) ? { sha256: sha } : {}) } });
}

/** One cache entry as the decisions below need it. */
export interface CacheCandidate {
    readonly id: number;
    readonly url: string;
    readonly docker_host: string;
    readonly image: string;
    readonly state: "ready" | "evicted";
    readonly identity: BackupIdentity;
    readonly bytes: number;
    readonly last_used_at: Date;
}

/**
 * The entry a new database could be cloned from: ready, same URL (without its
 * query), same Docker host and the exact image (a data directory belongs to one
 * major version and build); the newest use first. Whether the backup is still
 * the same is decided where the backup is reachable: in the fetch step.
 */
export function chooseCandidate<T extends CacheCandidate>(entries: readonly T[], want: { url: string; docker_host: string; image: string; fresh: boolean }): T | undefined {
    if (want.fresh) return undefined;
    const url = cacheKeyUrl(want.url);
    return entries
        .filter((e) => e.state === "ready" && e.url === url && e.docker_host === want.docker_host && e.image === want.image)
        .filter((e) => hasValidators(e.identity) || e.identity.sha256 !== undefined)
        .sort((a, b) => b.last_used_at.getTime() - a.last_used_at.getTime() || b.id - a.id)[0];
}

export interface EvictionLimits {
    /** Total bytes of ready golden volumes kept (DBAAS_CACHE_MAX_BYTES). */
    readonly maxBytes: number;
    /** An entry unused this long goes (DBAAS_CACHE_MAX_AGE_HOURS). */
    readonly maxAgeHours: number;
}

export interface Eviction {
    readonly id: number;
    readonly reason: string;
}

/** Which ready entries to evict: every one unused for maxAgeHours, then the least recently used until the rest fit maxBytes. */
export function chooseEvictions(entries: readonly CacheCandidate[], now: Date, limits: EvictionLimits): Eviction[] {
    const ready = entries.filter((e) => e.state === "ready");
    const cutoff = now.getTime() - limits.maxAgeHours * 3_600_000;
    const out: Eviction[] = [];
    const kept: CacheCandidate[] = [];
    for (const e of ready) {
        if (e.last_used_at.getTime() < cutoff) out.push({ id: e.id, reason: `unused for more than ${limits.maxAgeHours} h` });
        else kept.push(e);
    }
    let total = kept.reduce((sum, e) => sum + e.bytes, 0);
    for (const e of [...kept].sort((a, b) => a.last_used_at.getTime() - b.last_used_at.getTime() || a.id - b.id)) {
        if (total <= limits.maxBytes) break;
        out.push({ id: e.id, reason: `least recently used while the cache held ${total} bytes (limit ${limits.maxBytes})` });
        total -= e.bytes;
    }
    return out;
}

/** How a database was made, as its row keeps it (`databases.made`). */
export interface MadeNote {
    readonly how: "restored" | "cloned";
    /** The backup URL without its query. */
    readonly url: string;
    readonly cache_id?: number;
    /** When the golden copy a clone came from was filled (ISO-8601). */
    readonly filled_at?: string;
}

/** The database view's `made`: how its data got there, in words and as fields. */
export const madeView = z.object({
    how: z.enum(["restored", "cloned"]),
    /** "restored from <url>" or "cloned from a cached restore of <url> at <filled_at>". */
    description: z.string(),
    url: z.string(),
    cache_id: z.number().int().nullable(),
    filled_at: z.string().nullable(),
}).meta({ id: "Made" });
export type MadeView = z.output<typeof madeView>;

export function describeMade(m: MadeNote): string {
    return m.how === "cloned" ? `cloned from a cached restore of ${m.url} at ${m.filled_at ?? "an unknown time"}` : `restored from ${m.url}`;
}

export function toMadeView(m: MadeNote | null | undefined): MadeView | null {
    if (m === null || m === undefined) return null;
    return { how: m.how, description: describeMade(m), url: m.url, cache_id: m.cache_id ?? null, filled_at: m.filled_at ?? null };
}

/** GET /cache: one golden copy. */
export const cacheEntryView = z.object({
    id: z.number().int(),
    url: z.string(),
    docker_host: z.string(),
    image: z.string(),
    identity: backupIdentitySchema,
    volume: z.string(),
    bytes: z.number().int(),
    state: z.enum(["ready", "evicted"]),
    source_database: z.string(),
    filled_at: z.string(),
    last_used_at: z.string(),
    hits: z.number().int(),
    evicted_at: z.string().nullable(),
    evict_reason: z.string().nullable(),
    /** Evicted, but its volume is still to be removed (retried by the eviction job). */
    removal_pending: z.boolean(),
}).meta({ id: "CacheEntry" });
export type CacheEntryView = z.output<typeof cacheEntryView>;

export const cacheListView = z.object({
    entries: z.array(cacheEntryView),
    /** Sum of the ready entries' bytes, and the limits they are evicted by. */
    ready_bytes: z.number().int(),
    max_bytes: z.number().int(),
    max_age_hours: z.number(),
    enabled: z.boolean(),
}).meta({ id: "CacheList" });

export const cacheIdParams = z.object({
    id: z.coerce.number().int("a cache entry id (GET /cache)").positive("a cache entry id (GET /cache)").max(Number.MAX_SAFE_INTEGER, "a cache entry id (GET /cache)"),
}).strict();
