/**
 * The restored-backup cache's scripts on the docker target (docs/cache.md),
 * rendered here so the program (ondemand/docker.ts) and the API
 * (api/cache/dockerVolumes.ts) run the same text: the fetch step's hit
 * decision, the clone (golden volume → the new database's volume, then its
 * own name and password) and the fill (a stopped, restored database → a
 * golden volume without passwords, under a neutral name). No Pulumi imports.
 */
import { CLONE_FLAG, FETCH_REPORT_PREFIX, GOLDEN_DATABASE, GOLDEN_MOUNT, GOLDEN_READY_FILE, type CloneFrom } from "./cache";
import { FETCH_PRELUDE, FETCH_SCRIPT_FILE, SCRIPT_DIR } from "./restore";

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
        `ready="\${PGDATA%/*}/${GOLDEN_READY_FILE}"`,
        'rm -f "$ready"',
        'rm -rf "$PGDATA"',
        'copy_tree "$SOURCE_PGDATA" "$PGDATA" || fail "copy failed" "cp of $SOURCE_PGDATA failed" "check the free space of the cache volume"',
        'name=$(printf \'%s\' "$DATABASE_NAME" | sed \'s/"/""/g\')',
        "single_user <<EOF",
        `ALTER DATABASE "$name" RENAME TO ${GOLDEN_DATABASE};`,
        "DO \\$\\$ DECLARE r record; BEGIN FOR r IN SELECT rolname FROM pg_authid WHERE rolpassword IS NOT NULL LOOP EXECUTE format('ALTER ROLE %I PASSWORD NULL', r.rolname); END LOOP; END \\$\\$;",
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
export function cacheFetchEnv(clone: CloneFrom | undefined): Record<string, string> {
    const id = clone?.identity ?? {};
    return {
        CACHE_GOLDEN_READY: clone === undefined ? "" : `${GOLDEN_MOUNT}/${GOLDEN_READY_FILE}`,
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
export function cacheFetchScript(chownTo: number): string {
    if (!Number.isInteger(chownTo)) throw new Error(`chownTo must be a uid, got ${chownTo}`);
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
        `if [ "$made" = cloned ]; then : >"$RESTORE_MARKER_DIR/${CLONE_FLAG}"; chown ${chownTo}:${chownTo} "\${PGDATA%/*}"; echo "fetch: the cached restore matches the backup; cloning it"; fi`,
        `echo "${report}made=$made"`,
        `chown -R ${chownTo}:${chownTo} "$RESTORE_MARKER_DIR"`,
        "",
    ].join("\n");
}
