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
import { FETCH_SCRIPT_FILE, SCRIPT_DIR } from "./restore";

/** The name a golden copy's database has: nothing of the first owner's name stays in it. */
export const GOLDEN_DATABASE = "dbaas_golden";
/** Where the clone step and the fill helper mount a golden volume (read-only for the clone). */
export const GOLDEN_MOUNT = "/var/lib/dbaas-cache";
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

/**
 * The shell function both scripts use to run statements in single-user mode:
 * one statement per line on stdin, no statement text in the log even on error.
 */
const SINGLE_USER = [
    "single_user() {",
    '    postgres --single -D "$PGDATA" -c log_min_error_statement=panic -c log_min_messages=warning -c listen_addresses= postgres >"$TMPDIR_/single.out" 2>&1 ||',
    '        fail "single-user mode failed" "$(tail -n 3 "$TMPDIR_/single.out")" "check the data directory $PGDATA and the image"',
    '    if grep -q "ERROR:" "$TMPDIR_/single.out"; then',
    '        fail "a statement failed in single-user mode" "$(grep "ERROR:" "$TMPDIR_/single.out" | head -n 1)" "check the golden copy holds the database it should"',
    "    fi",
    "}",
];

const PRELUDE = [
    "#!/bin/sh",
    "set -eu",
    "fail() { printf '%s: %s: %s (%s)\\n' \"$STEP\" \"$1\" \"$2\" \"$3\" >&2; exit 1; }",
    'TMPDIR_=$(mktemp -d)',
    "trap 'rm -rf \"$TMPDIR_\"' EXIT",
    // GNU cp (the Debian images) shares blocks where the file system can (btrfs, XFS); busybox cp (Alpine) has no --reflink.
    "copy_tree() {",
    '    if cp --help 2>&1 | grep -q reflink; then cp -a --reflink=auto "$1" "$2"; else cp -a "$1" "$2"; fi',
    "}",
];

/**
 * The docker clone step, run as the Postgres uid with no network in a
 * container of the database's own image, before the server starts. Does
 * nothing unless the fetch step left CLONE_FLAG (a hit). Copies the golden
 * PGDATA, renames the neutral database to DATABASE_NAME and sets the
 * superuser's password from PASSWORD_FILE, then writes the restore marker so
 * the server's healthcheck is the restore's.
 * Env: PGDATA, GOLDEN_PGDATA, RESTORE_MARKER_DIR, RESTORE_MARKER, DATABASE_NAME, DATABASE_USER, PASSWORD_FILE.
 */
export function cloneScript(): string {
    return [
        ...PRELUDE,
        "STEP=clone",
        ...SINGLE_USER,
        'if [ ! -e "$RESTORE_MARKER_DIR/' + CLONE_FLAG + '" ]; then echo "clone: not a cache hit, nothing to do"; exit 0; fi',
        'if [ -e "$PGDATA/PG_VERSION" ]; then echo "clone: the database already exists, nothing to do"; exit 0; fi',
        '[ -f "$GOLDEN_PGDATA/PG_VERSION" ] || fail "no golden copy" "$GOLDEN_PGDATA has no PG_VERSION" "evict the cache entry (DELETE /cache/{id}) and create again"',
        '[ -r "$PASSWORD_FILE" ] || fail "no password" "$PASSWORD_FILE is not readable" "check the upload of the password file"',
        'rm -rf "$PGDATA.part"',
        'copy_tree "$GOLDEN_PGDATA" "$PGDATA.part" || fail "copy failed" "cp of $GOLDEN_PGDATA failed" "check the free space of the data volume"',
        'chmod 0700 "$PGDATA.part"',
        'mv "$PGDATA.part" "$PGDATA"',
        // The new name and password go in on stdin, never on a command line.
        'password=$(sed "s/\'/\'\'/g" "$PASSWORD_FILE")',
        'name=$(printf \'%s\' "$DATABASE_NAME" | sed \'s/"/""/g\')',
        'user=$(printf \'%s\' "$DATABASE_USER" | sed \'s/"/""/g\')',
        "single_user <<EOF",
        `ALTER DATABASE ${GOLDEN_DATABASE} RENAME TO "$name";`,
        "ALTER ROLE \"$user\" PASSWORD '$password';",
        "EOF",
        'marker="$RESTORE_MARKER_DIR/$RESTORE_MARKER"',
        'printf \'completed_at=%s\\nformat=clone\\n\' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$marker.part"',
        'mv "$marker.part" "$marker"',
        'rm -f "$RESTORE_MARKER_DIR/' + CLONE_FLAG + '"',
        'echo "clone: cloned from the cached restore into $PGDATA"',
        "",
    ].join("\n");
}

/**
 * The docker fill helper, run as the Postgres uid with no network while the
 * source database's server is stopped: copies its PGDATA into the golden
 * volume, then takes every login password away (PASSWORD NULL) and renames the
 * database to GOLDEN_DATABASE, so no clone can learn the first database's
 * password or name. Writes `bytes=` of the golden copy last.
 * Env: SOURCE_PGDATA, PGDATA (the golden copy), DATABASE_NAME.
 */
export function fillScript(): string {
    return [
        ...PRELUDE,
        "STEP=fill",
        ...SINGLE_USER,
        '[ -f "$SOURCE_PGDATA/PG_VERSION" ] || fail "no data directory" "$SOURCE_PGDATA has no PG_VERSION" "fill only from a restored database"',
        '[ ! -e "$SOURCE_PGDATA/postmaster.pid" ] || fail "server still running" "$SOURCE_PGDATA/postmaster.pid exists" "stop the server cleanly first"',
        'rm -rf "$PGDATA"',
        'copy_tree "$SOURCE_PGDATA" "$PGDATA" || fail "copy failed" "cp of $SOURCE_PGDATA failed" "check the free space of the cache volume"',
        'name=$(printf \'%s\' "$DATABASE_NAME" | sed \'s/"/""/g\')',
        "single_user <<EOF",
        `ALTER DATABASE "$name" RENAME TO ${GOLDEN_DATABASE};`,
        "DO \\$\\$ DECLARE r record; BEGIN FOR r IN SELECT rolname FROM pg_authid WHERE rolpassword IS NOT NULL LOOP EXECUTE format('ALTER ROLE %I PASSWORD NULL', r.rolname); END LOOP; END \\$\\$;",
        "EOF",
        'echo "bytes=$(($(du -sk "$PGDATA" | cut -f1) * 1024))"',
        'echo "fill: golden copy ready in $PGDATA"',
        "",
    ].join("\n");
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

/** Environment of the docker fetch step's cache check (empty values: no candidate). */
export function cacheFetchEnv(clone: CloneFrom | undefined): Record<string, string> {
    const id = clone?.identity ?? {};
    return {
        CACHE_GOLDEN_PGDATA: clone === undefined ? "" : `${GOLDEN_MOUNT}/pgdata`,
        CACHE_ETAG: id.etag ?? "",
        CACHE_LAST_MODIFIED: id.last_modified ?? "",
        CACHE_CONTENT_LENGTH: id.content_length === undefined ? "" : String(id.content_length),
        CACHE_SHA256: id.sha256 ?? "",
    };
}

/**
 * The docker fetch step's program (`sh -c`) with the cache: as fetchScript(),
 * plus the hit decision against the live backup. With a golden copy and
 * validators (a strong ETag, else Last-Modified and length) one HEAD decides:
 * equal → CLONE_FLAG, no download. Otherwise the backup is downloaded, and
 * without validators an equal SHA-256 is a hit (the download is dropped). A
 * missing or empty golden copy is a miss. Prints `made=cloned|restored` after
 * fetch.sh's identity lines (parseFetchReport). The rule is identityMatches().
 */
export function cacheFetchScript(chownTo: number): string {
    if (!Number.isInteger(chownTo)) throw new Error(`chownTo must be a uid, got ${chownTo}`);
    const fetch = `sh ${SCRIPT_DIR}/${FETCH_SCRIPT_FILE}`;
    const report = FETCH_REPORT_PREFIX;
    return [
        "set -eu",
        'if [ -e "$RESTORE_MARKER_DIR/$RESTORE_MARKER" ] || [ -e "$PGDATA/PG_VERSION" ]; then',
        '  echo "fetch: database already initialised, nothing to download"; exit 0',
        "fi",
        'mkdir -p "$RESTORE_MARKER_DIR"',
        'out="$RESTORE_WORK_DIR/dbaas-fetch.out"',
        // Runs fetch.sh, shows its output, and keeps its exit status (its last line is the reason).
        `run() { rc=0; ${fetch} "$1" >"$out" 2>&1 || rc=$?; cat "$out"; [ "$rc" -eq 0 ] || exit "$rc"; }`,
        `seen() { sed -n "s/^${report}$1=//p" "$out" | tail -n 1; }`,
        "made=restored validators=0",
        'if [ -n "$CACHE_ETAG" ] || { [ -n "$CACHE_LAST_MODIFIED" ] && [ -n "$CACHE_CONTENT_LENGTH" ]; }; then validators=1; fi',
        'if [ -z "$CACHE_GOLDEN_PGDATA" ]; then :',
        'elif [ ! -f "$CACHE_GOLDEN_PGDATA/PG_VERSION" ]; then echo "fetch: the cached restore is missing or empty; restoring"',
        'elif [ "$validators" = 1 ]; then',
        '  rc=0; ' + fetch + ' head >"$out" 2>&1 || rc=$?; cat "$out"',
        '  if [ "$rc" -ne 0 ]; then echo "fetch: the HEAD request failed; downloading"',
        '  elif [ -n "$CACHE_ETAG" ]; then [ "$(seen etag)" != "$CACHE_ETAG" ] || made=cloned',
        '  elif [ "$(seen last-modified)" = "$CACHE_LAST_MODIFIED" ] && [ "$(seen content-length)" = "$CACHE_CONTENT_LENGTH" ]; then made=cloned',
        "  fi",
        '  [ "$made" = cloned ] || [ "$rc" -ne 0 ] || echo "fetch: the backup changed since it was cached; restoring"',
        "fi",
        'if [ "$made" = restored ]; then',
        '  run "$FETCH_TO"',
        '  if [ -n "$CACHE_GOLDEN_PGDATA" ] && [ "$validators" = 0 ] && [ -n "$CACHE_SHA256" ] && [ -f "$CACHE_GOLDEN_PGDATA/PG_VERSION" ] && [ "$(seen sha256)" = "$CACHE_SHA256" ]; then',
        '    made=cloned; rm -f "$FETCH_TO"',
        "  fi",
        "fi",
        // The clone step runs as the Postgres uid and writes PGDATA beside the restore directory:
        // the volume's root (root-owned when Docker made it) is handed to that uid too.
        `if [ "$made" = cloned ]; then : >"$RESTORE_MARKER_DIR/${CLONE_FLAG}"; chown ${chownTo}:${chownTo} "\${PGDATA%/*}"; echo "fetch: the cached restore matches the backup; cloning it"; fi`,
        `echo "${report}made=$made"`,
        `chown -R ${chownTo}:${chownTo} "$RESTORE_MARKER_DIR"`,
        "",
    ].join("\n");
}
