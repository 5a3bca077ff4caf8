/**
 * The restored-backup cache's scripts on the docker target (docs/cache.md),
 * rendered here so the program (ondemand/docker.ts) and the API
 * (api/cache/dockerVolumes.ts) run the same text: the fetch step's hit
 * decision, the clone (golden volume → the new database's volume, then its
 * own name and password) and the fill (a stopped, restored database → a
 * golden volume without passwords, under a neutral name). The kubernetes
 * target (a PVC made from a golden VolumeSnapshot) runs the same clone and
 * fetch scripts, rendered for a golden copy on the clone's own volume, after
 * snapshotPrepareScript() moved the snapshot's data aside. No Pulumi imports.
 */
import { CLONE_FLAG, FETCH_REPORT_PREFIX, GOLDEN_DATABASE, GOLDEN_MOUNT, GOLDEN_READY_FILE, type CloneFrom } from "./cache";
import { DATA_MOUNT, FETCH_PRELUDE, FETCH_SCRIPT_FILE, SCRIPT_DIR } from "./restore";

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

/**
 * The statements that make a data directory nobody's: the database named "$name"
 * becomes GOLDEN_DATABASE and no login keeps a password (the fill's, and on
 * kubernetes the clone's first step, since a snapshot of a live volume keeps both).
 */
const NEUTRALISE = [
    `ALTER DATABASE "$source" RENAME TO ${GOLDEN_DATABASE};`,
    "DO \\$\\$ DECLARE r record; BEGIN FOR r IN SELECT rolname FROM pg_authid WHERE rolpassword IS NOT NULL LOOP EXECUTE format('ALTER ROLE %I PASSWORD NULL', r.rolname); END LOOP; END \\$\\$;",
];

/** Where the kubernetes clone's init steps keep the snapshot's data (on the clone's own volume) until the clone step takes it. */
export const GOLDEN_IN_VOLUME = `${DATA_MOUNT}/dbaas-golden`;
/** The file beside PGDATA on a kubernetes volume that says which database it belongs to (written when the snapshot's data is moved aside). */
export const VOLUME_OWNER_NAME = "dbaas-volume-of";

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
export function cloneScript(o: { readonly goldenInVolume?: boolean } = {}): string {
    // On kubernetes the golden copy is this volume's own (moved aside by snapshotPrepareScript):
    // it is renamed into place, not copied, and removed on a miss; it still holds the snapshotted
    // database's name (GOLDEN_SOURCE_DATABASE) and passwords, which go first.
    const own = o.goldenInVolume === true;
    const dropGolden = own ? ' rm -rf "${GOLDEN_PGDATA%/*}";' : "";
    return [
        ...PRELUDE,
        "STEP=clone",
        ...SINGLE_USER,
        'if [ ! -e "$RESTORE_MARKER_DIR/' + CLONE_FLAG + '" ]; then echo "clone: not a cache hit, nothing to do";' + dropGolden + " exit 0; fi",
        'if [ -e "$PGDATA/PG_VERSION" ]; then echo "clone: the database already exists, nothing to do"; exit 0; fi',
        '[ -f "$GOLDEN_PGDATA/PG_VERSION" ] || fail "no golden copy" "$GOLDEN_PGDATA has no PG_VERSION" "evict the cache entry (DELETE /cache/{id}) and create again"',
        '[ -r "$PASSWORD_FILE" ] || fail "no password" "$PASSWORD_FILE is not readable" "check the upload of the password file"',
        'rm -rf "$PGDATA.part"',
        own
            ? 'mv "$GOLDEN_PGDATA" "$PGDATA.part" || fail "move failed" "mv of $GOLDEN_PGDATA failed" "check the data volume"'
            : 'copy_tree "$GOLDEN_PGDATA" "$PGDATA.part" || fail "copy failed" "cp of $GOLDEN_PGDATA failed" "check the free space of the data volume"',
        'chmod 0700 "$PGDATA.part"',
        'mv "$PGDATA.part" "$PGDATA"',
        // The new name and password go in on stdin, never on a command line.
        'password=$(sed "s/\'/\'\'/g" "$PASSWORD_FILE")',
        'name=$(printf \'%s\' "$DATABASE_NAME" | sed \'s/"/""/g\')',
        'user=$(printf \'%s\' "$DATABASE_USER" | sed \'s/"/""/g\')',
        ...(own ? ['source=$(printf \'%s\' "$GOLDEN_SOURCE_DATABASE" | sed \'s/"/""/g\')'] : []),
        "single_user <<EOF",
        ...(own ? NEUTRALISE : []),
        `ALTER DATABASE ${GOLDEN_DATABASE} RENAME TO "$name";`,
        "ALTER ROLE \"$user\" PASSWORD '$password';",
        "EOF",
        'marker="$RESTORE_MARKER_DIR/$RESTORE_MARKER"',
        'printf \'completed_at=%s\\nformat=clone\\n\' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$marker.part"',
        'mv "$marker.part" "$marker"',
        'rm -f "$RESTORE_MARKER_DIR/' + CLONE_FLAG + '"',
        ...(own ? ['rm -rf "${GOLDEN_PGDATA%/*}"'] : []),
        'echo "clone: cloned from the cached restore into $PGDATA"',
        "",
    ].join("\n");
}

/**
 * The kubernetes clone's first init step (the fetch image, uid 999): a PVC made
 * from a golden VolumeSnapshot holds the snapshotted database's whole volume.
 * Unless this volume is already DATABASE_NAME's (VOLUME_OWNER_FILE), its PGDATA
 * moves to GOLDEN_IN_VOLUME (a stale postmaster.pid dropped: no server runs on
 * a new volume; the snapshot of a live volume is crash-consistent and the
 * clone step's single-user start replays the WAL), its restore directory
 * (the first database's marker) goes, and the golden ready file is written, so
 * the fetch step decides hit or miss exactly as on docker. Idempotent.
 * Env: PGDATA, RESTORE_MARKER_DIR, GOLDEN_DIR (GOLDEN_IN_VOLUME), DATABASE_NAME.
 */
export function snapshotPrepareScript(): string {
    return [
        "set -eu",
        'golden="$GOLDEN_DIR/pgdata"',
        `owner="\${PGDATA%/*}/${VOLUME_OWNER_NAME}"`,
        'if [ -f "$owner" ] && [ "$(cat "$owner")" = "$DATABASE_NAME" ]; then echo "prepare: this volume is already $DATABASE_NAME\'s"; exit 0; fi',
        'mkdir -p "$GOLDEN_DIR"',
        'if [ -f "$PGDATA/PG_VERSION" ]; then rm -rf "$golden"; mv "$PGDATA" "$golden"; rm -f "$golden/postmaster.pid"; fi',
        'rm -rf "$RESTORE_MARKER_DIR"',
        `if [ -f "$golden/PG_VERSION" ]; then cp "$golden/PG_VERSION" "$GOLDEN_DIR/${GOLDEN_READY_FILE}"; echo "prepare: the snapshot's data directory is kept aside for the cache check"; else echo "prepare: the volume holds no data directory (an empty snapshot?); restoring"; fi`,
        'printf \'%s\' "$DATABASE_NAME" >"$owner.part"',
        'mv "$owner.part" "$owner"',
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
        `ready="\${PGDATA%/*}/${GOLDEN_READY_FILE}"`,
        'rm -f "$ready"',
        'rm -rf "$PGDATA"',
        'copy_tree "$SOURCE_PGDATA" "$PGDATA" || fail "copy failed" "cp of $SOURCE_PGDATA failed" "check the free space of the cache volume"',
        'name=$(printf \'%s\' "$DATABASE_NAME" | sed \'s/"/""/g\')',
        "source=$name",
        "single_user <<EOF",
        ...NEUTRALISE,
        "EOF",
        // Last: the ready file the fetch step (root without DAC capabilities) can see.
        'chmod 0755 "${PGDATA%/*}"',
        'cp "$PGDATA/PG_VERSION" "$ready.part" && chmod 0444 "$ready.part" && mv "$ready.part" "$ready"',
        'echo "bytes=$(($(du -sk "$PGDATA" | cut -f1) * 1024))"',
        'echo "fill: golden copy ready in $PGDATA"',
        "",
    ].join("\n");
}

/** Environment of the docker fetch step's cache check (empty values: no candidate). */
export function cacheFetchEnv(clone: Pick<CloneFrom, "identity"> | undefined, goldenDir: string = GOLDEN_MOUNT): Record<string, string> {
    const id = clone?.identity ?? {};
    return {
        CACHE_GOLDEN_READY: clone === undefined ? "" : `${goldenDir}/${GOLDEN_READY_FILE}`,
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
 * missing or unfinished golden copy (no GOLDEN_READY_FILE) is a miss. Prints `made=cloned|restored` after
 * fetch.sh's identity lines (parseFetchReport). The rule is identityMatches().
 */
export function cacheFetchScript(chownTo: number | undefined, o: { readonly reportFile?: string } = {}): string {
    if (chownTo !== undefined && !Number.isInteger(chownTo)) throw new Error(`chownTo must be a uid, got ${chownTo}`);
    // Kubernetes: fsGroup gives the volume to the Postgres gid (no chown), and Pulumi reads no
    // init container's log, so the report also goes to the termination message (reportFile).
    const owner = chownTo === undefined ? undefined : `${chownTo}:${chownTo}`;
    const fetch = `sh ${SCRIPT_DIR}/${FETCH_SCRIPT_FILE}`;
    const report = FETCH_REPORT_PREFIX;
    return [
        ...FETCH_PRELUDE,
        'out="$RESTORE_WORK_DIR/dbaas-fetch.out"',
        // Runs fetch.sh, shows its output, and keeps its exit status (its last line is the reason).
        `run() { rc=0; ${fetch} "$1" >"$out" 2>&1 || rc=$?; cat "$out"; [ "$rc" -eq 0 ] || exit "$rc"; }`,
        `seen() { sed -n "s/^${report}$1=//p" "$out" | tail -n 1; }`,
        "made=restored validators=0",
        'if [ -n "$CACHE_ETAG" ] || { [ -n "$CACHE_LAST_MODIFIED" ] && [ -n "$CACHE_CONTENT_LENGTH" ]; }; then validators=1; fi',
        'if [ -z "$CACHE_GOLDEN_READY" ]; then :',
        'elif [ ! -f "$CACHE_GOLDEN_READY" ]; then echo "fetch: the cached restore is missing or unfinished; restoring"',
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
        '  if [ -n "$CACHE_GOLDEN_READY" ] && [ "$validators" = 0 ] && [ -n "$CACHE_SHA256" ] && [ -f "$CACHE_GOLDEN_READY" ] && [ "$(seen sha256)" = "$CACHE_SHA256" ]; then',
        '    made=cloned; rm -f "$FETCH_TO"',
        "  fi",
        "fi",
        // The clone step runs as the Postgres uid and writes PGDATA beside the restore directory:
        // the volume's root (root-owned when Docker made it) is handed to that uid too.
        `if [ "$made" = cloned ]; then : >"$RESTORE_MARKER_DIR/${CLONE_FLAG}";${owner === undefined ? "" : ` chown ${owner} "\${PGDATA%/*}";`} echo "fetch: the cached restore matches the backup; cloning it"; fi`,
        `echo "${report}made=$made"`,
        ...(o.reportFile === undefined ? [] : [`{ grep -F "${report}" "$out" || true; echo "${report}made=$made"; } >${o.reportFile}`]),
        ...(owner === undefined ? [] : [`chown -R ${owner} "$RESTORE_MARKER_DIR"`]),
        "",
    ].join("\n");
}
