#!/bin/sh
# Restores one PostgreSQL backup from a local file (BACKUP_FILE: plain SQL,
# gzip-compressed SQL or pg_dump custom format; fetch.sh downloads one) into
# PGDATABASE before the database is handed out, then ANALYZE, then the marker
# readiness checks wait for. No arguments; inputs: docs/ondemand.md. Every
# failure ends with one line on stderr, a non-zero exit and no marker.

# bash and busybox ash have pipefail; dash (Debian's sh) does not, so it hands over to bash.
# shellcheck disable=SC3040
if ! (set -o pipefail) 2>/dev/null; then
    if command -v bash >/dev/null 2>&1; then exec bash "$0" "$@"; fi
    printf 'restore: unsupported shell: this sh has no pipefail — run the script with bash or busybox sh\n' >&2
    exit 1
fi
# shellcheck disable=SC3040
set -euo pipefail

DEFAULT_MARKER=dbaas-restore.done
HEAD_BYTES=512

work='' nondurable=0 failure_reported=0 marker_tmp='' reset_error='' data_dir=''

say() { printf 'restore: %s\n' "$*"; }
# Newlines, tabs and runs of spaces collapse so a failure stays on one line.
one_line() { printf '%s' "$1" | tr '\n\r\t' '   ' | sed 's/   */ /g; s/^ //; s/ $//' | cut -c1-600; }

fail() {
    detail=$(one_line "$2")
    if [ "$nondurable" = 1 ] && ! reset_durable_settings; then
        detail="$detail (and fsync/full_page_writes could not be reset: $(one_line "$reset_error"); run ALTER SYSTEM RESET fsync; ALTER SYSTEM RESET full_page_writes; SELECT pg_reload_conf())"
    fi
    [ -z "$marker_tmp" ] || rm -f "$marker_tmp"
    failure_reported=1
    printf 'restore: %s: %s — %s\n' "$1" "$detail" "$3" >&2
    exit 1
}

cleanup() {
    rc=$?
    trap - EXIT
    if [ "$rc" -ne 0 ] && [ "$failure_reported" = 0 ]; then
        if [ "$nondurable" = 1 ]; then reset_durable_settings || true; fi
        [ -z "$marker_tmp" ] || rm -f "$marker_tmp"
        printf 'restore: interrupted or unexpected failure: exit status %s — see the output above; no completion marker was written\n' "$rc" >&2
    fi
    [ -z "$work" ] || rm -rf "$work" || true
    exit "$rc"
}

is_uint() { case $1 in '' | *[!0-9]*) return 1 ;; esac; [ "${#1}" -le 18 ]; }
check_flag() { case $2 in 0 | 1) ;; *) fail "invalid input" "$1=$2 is neither 0 nor 1" "set $1 to 0 or 1" ;; esac; }

read_inputs() {
    BACKUP_FILE=${BACKUP_FILE:-}
    RESTORE_JOBS=${RESTORE_JOBS:-2}
    RESTORE_MARKER_DIR=${RESTORE_MARKER_DIR:-}
    RESTORE_MARKER=${RESTORE_MARKER:-$DEFAULT_MARKER}
    RESTORE_WORK_DIR=${RESTORE_WORK_DIR:-${TMPDIR:-/tmp}}
    RESTORE_SINGLE_TRANSACTION=${RESTORE_SINGLE_TRANSACTION:-1}
    RESTORE_FSYNC_OFF=${RESTORE_FSYNC_OFF:-0}
    RESTORE_MAINTENANCE_WORK_MEM=${RESTORE_MAINTENANCE_WORK_MEM:-256MB}

    bad='invalid input'
    if [ -n "${BACKUP_URL:-}" ]; then
        fail "$bad" "BACKUP_URL is set, but restore.sh reads a local file only" "download it first with fetch.sh FILE, then set BACKUP_FILE=FILE and unset BACKUP_URL"
    fi
    [ -n "$BACKUP_FILE" ] || fail "$bad" "BACKUP_FILE is not set" "set BACKUP_FILE to a local backup file (fetch.sh downloads a BACKUP_URL into one)"
    if ! is_uint "$RESTORE_JOBS" || [ "$RESTORE_JOBS" -lt 1 ] || [ "$RESTORE_JOBS" -gt 64 ]; then
        fail "$bad" "RESTORE_JOBS=$RESTORE_JOBS is not a whole number from 1 to 64" "set RESTORE_JOBS to the number of parallel pg_restore jobs (about the CPU count)"
    fi
    case $RESTORE_MARKER in
        *[!A-Za-z0-9._-]* | . | ..) fail "$bad" "RESTORE_MARKER=$RESTORE_MARKER is not a plain file name" "use letters, digits, '.', '_' and '-' only, or unset it for $DEFAULT_MARKER" ;;
    esac
    case $RESTORE_MAINTENANCE_WORK_MEM in
        *[!0-9A-Za-z]* | '' | [!0-9]*) fail "$bad" "RESTORE_MAINTENANCE_WORK_MEM=$RESTORE_MAINTENANCE_WORK_MEM is not a memory size" "use a size such as 256MB or 1GB" ;;
    esac
    check_flag RESTORE_SINGLE_TRANSACTION "$RESTORE_SINGLE_TRANSACTION"
    check_flag RESTORE_FSYNC_OFF "$RESTORE_FSYNC_OFF"
    if [ ! -f "$BACKUP_FILE" ] || [ ! -r "$BACKUP_FILE" ]; then
        fail "$bad" "BACKUP_FILE=$BACKUP_FILE is not a readable file" "check the path and the volume it is on"
    fi
    if [ -z "${PGDATABASE:-}" ]; then
        fail "$bad" "PGDATABASE is not set" "set PGDATABASE (and PGHOST, PGPORT, PGUSER, PGPASSWORD) to the database to restore into"
    fi
    if [ -z "$RESTORE_MARKER_DIR" ] || [ ! -d "$RESTORE_MARKER_DIR" ] || [ ! -w "$RESTORE_MARKER_DIR" ]; then
        fail "$bad" "RESTORE_MARKER_DIR='$RESTORE_MARKER_DIR' is not a writable directory" "set RESTORE_MARKER_DIR to the directory the readiness check looks in"
    fi
    if [ ! -d "$RESTORE_WORK_DIR" ] || [ ! -w "$RESTORE_WORK_DIR" ]; then
        fail "$bad" "RESTORE_WORK_DIR=$RESTORE_WORK_DIR is not a writable directory" "set RESTORE_WORK_DIR (or TMPDIR) to a writable directory with room for an unpacked custom-format dump"
    fi
}

require_tools() {
    tools='cat cut date grep gzip head mktemp mv od rm sed tr wc psql pg_restore vacuumdb'
    [ "$RESTORE_FSYNC_OFF" = 0 ] || tools="$tools sleep sync"
    for tool in $tools; do
        command -v "$tool" >/dev/null 2>&1 || fail "missing tool" "$tool is not on PATH" "run this script in an image that has $tool"
    done
}

# --- format (the same detect_format and describe_head as fetch.sh; a test keeps them equal) ---

# Sets detected to gzip, custom, plain, or what the bytes are instead. One od
# call; the rest matches " xx" byte pairs, so no byte is read twice.
detect_format() {
    bytes=$(od -An -tx1 -v "$1" | tr -s ' \n' '  ')
    rest=$bytes
    while :; do case $rest in ' 20'* | ' 09'* | ' 0a'* | ' 0d'*) rest=${rest#???} ;; *) break ;; esac; done
    case $bytes in
        '' | ' ') detected='empty: the backup has no content' ;;
        ' 1f 8b'*) detected=gzip ;;
        ' 50 47 44 4d 50'*) detected=custom ;;
        ' 50 4b 03 04'*) detected='a zip archive' ;;
        ' 42 5a 68'*) detected='bzip2-compressed data' ;;
        ' fd 37 7a 58 5a 00'*) detected='xz-compressed data' ;;
        ' 28 b5 2f fd'*) detected='zstd-compressed data' ;;
        *' 0'[0-8]* | *' 0'[bcef]* | *' 1'[0-9a-f]* | *' 7f'*)
            # Control bytes: not SQL text. A tar header has "ustar" at 257.
            detected='binary data'
            [ "$(printf '%s' "$bytes" | cut -c772-786)" != ' 75 73 74 61 72' ] || detected='a tar archive (pg_dump -Ft, or files packed with tar)'
            ;;
        *)
            case $rest in
                ' 3c'*) detected='an HTML or XML page, maybe an error or login page' ;;
                ' 7b'* | ' 5b'*) detected='a JSON document, maybe an error response' ;;
                *) detected=plain ;;
            esac
            ;;
    esac
}

describe_head() {
    text=$(head -c 40 "$1" | LC_ALL=C tr -c ' -~' '.')
    printf 'starts with "%s" (hex %s)' "$text" "$(od -An -tx1 -N12 "$1" | tr -s ' \n' '  ' | sed 's/^ //; s/ $//')"
}

fail_gzip() { fail "gzip data is corrupt or truncated" "$(cat "$work/gzip.err")" "check the backup file is complete (gzip -t) and was uploaded completely"; }

# Sets format (plain, gzip+plain, custom, gzip+custom) from the file's first bytes, looking inside gzip.
detect_source() {
    source_bytes=$(wc -c <"$BACKUP_FILE" | tr -d ' ')
    say "reading $BACKUP_FILE ($source_bytes bytes)"
    head -c "$HEAD_BYTES" "$BACKUP_FILE" >"$work/head.raw"
    detect_format "$work/head.raw"
    case $detected in
        plain | custom) format=$detected ;;
        gzip)
            { gzip -dc "$BACKUP_FILE" 2>/dev/null || true; } | head -c "$HEAD_BYTES" >"$work/head.sql"
            detect_format "$work/head.sql"
            case $detected in
                plain | custom) format=gzip+$detected ;;
                *)
                    # A corrupt gzip also yields no recognisable content: name the real cause.
                    gzip -t "$BACKUP_FILE" 2>"$work/gzip.err" || fail_gzip
                    fail "format not recognised" "gzip-compressed $detected, $(describe_head "$work/head.sql")" "BACKUP_URL/BACKUP_FILE must be a plain SQL dump, a gzip-compressed SQL dump or a pg_dump custom-format (-Fc) file"
                    ;;
            esac
            ;;
        *) fail "format not recognised" "$detected, $(describe_head "$work/head.raw")" "BACKUP_URL/BACKUP_FILE must be a plain SQL dump, a gzip-compressed SQL dump or a pg_dump custom-format (-Fc) file" ;;
    esac
    say "format: $format"
}

# --- Postgres ---------------------------------------------------------------------

psql_q() { psql -X -q -w -v ON_ERROR_STOP=1 "$@"; }
first_error() { grep -m 1 -E '(ERROR|FATAL|PANIC|error):' "$1" || head -n 1 "$1"; }

check_database() {
    db_state=$(psql_q -tA -c "SELECT rolsuper::text || ' ' || current_setting('fsync') FROM pg_roles WHERE rolname = current_user" 2>&1) ||
        fail "cannot connect to PostgreSQL" "$db_state" "check PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE and that the server accepts connections"
    # Session settings only: they end with each connection, so nothing
    # durable is left behind. Each pg_restore worker inherits PGOPTIONS.
    PGOPTIONS="${PGOPTIONS:-} -c synchronous_commit=off -c maintenance_work_mem=$RESTORE_MAINTENANCE_WORK_MEM"
    export PGOPTIONS
}

# RESTORE_FSYNC_OFF=1: fsync and full_page_writes off server-wide for the load.
# Only for a server that exists for this restore: a crash meanwhile can
# corrupt it, which is acceptable only because no marker is written then.
set_nondurable_settings() {
    [ "$RESTORE_FSYNC_OFF" = 1 ] || return 0
    case ${PGHOST:-} in
        '' | /* | localhost | 127.0.0.1 | ::1) ;;
        *) fail "RESTORE_FSYNC_OFF refused" "PGHOST=$PGHOST is not this host, so the script cannot sync its disks afterwards" "run the script beside the server (socket, localhost) or unset RESTORE_FSYNC_OFF" ;;
    esac
    case $db_state in
        'true on') ;;
        'true off') say "fsync is already off on this server; leaving it as it is"; return 0 ;;
        *) fail "RESTORE_FSYNC_OFF refused" "PGUSER is not a superuser (ALTER SYSTEM needs one)" "unset RESTORE_FSYNC_OFF or run as a superuser" ;;
    esac
    nondurable=1
    # shellcheck disable=SC2016 # $$ is an SQL dollar quote
    out=$(psql_q -tA -c 'SHOW data_directory' -c 'ALTER SYSTEM SET fsync = off' -c 'ALTER SYSTEM SET full_page_writes = off' \
        -c 'DO $$BEGIN PERFORM pg_reload_conf(); END$$' 2>&1) || fail "RESTORE_FSYNC_OFF failed" "$out" "check the server log"
    data_dir=$out
    say "fsync and full_page_writes are off until the load ends"
}

# Resets what set_nondurable_settings changed, waits until new sessions see
# fsync on, then CHECKPOINT and sync: writes made while fsync was off are only
# durable once the kernel has flushed them.
reset_durable_settings() {
    [ "$nondurable" = 1 ] || return 0
    # shellcheck disable=SC2016 # $$ is an SQL dollar quote
    reset_error=$(psql_q -c 'ALTER SYSTEM RESET fsync' -c 'ALTER SYSTEM RESET full_page_writes' -c 'DO $$BEGIN PERFORM pg_reload_conf(); END$$' 2>&1) || return 1
    tries=0
    until [ "$(psql_q -tA -c 'SHOW fsync' 2>/dev/null)" = on ]; do
        tries=$((tries + 1))
        [ "$tries" -lt 20 ] || { reset_error='fsync still reads off 10 seconds after pg_reload_conf()'; return 1; }
        sleep 0.5 2>/dev/null || sleep 1
    done
    reset_error=$(psql_q -c CHECKPOINT 2>&1) || return 1
    # syncfs of the data directory's filesystem when it is visible here, else every filesystem.
    sync -f "$data_dir" 2>/dev/null || sync
    nondurable=0
    reset_error=''
}

# The SQL text, then (in one transaction) the COMMIT: only when the whole file
# was read and unpacked, so a truncated gzip rolls back instead of committing half a dump.
feed_sql() {
    if [ "$format" = gzip+plain ]; then
        gzip -dc "$BACKUP_FILE" 2>"$work/gzip.err" || { echo "$?" >"$work/gzip.status"; return 1; }
    else
        cat "$BACKUP_FILE" 2>"$work/read.err" || { echo "$?" >"$work/read.status"; return 1; }
    fi
    [ "$RESTORE_SINGLE_TRANSACTION" = 0 ] || printf '\nCOMMIT;\n'
}

load_plain() {
    set -- -f - -c ANALYZE
    if [ "$RESTORE_SINGLE_TRANSACTION" = 1 ]; then
        # The DO block fails if the dump swallowed the COMMIT (an unterminated
        # COPY reads it as data): in a fresh transaction now() equals
        # statement_timestamp(), in one left open it does not.
        # shellcheck disable=SC2016 # $$ and $m$ are SQL dollar quotes
        set -- -c BEGIN -f - -c 'DO $$BEGIN IF now() <> statement_timestamp() THEN RAISE EXCEPTION $m$the SQL ended inside an unterminated COPY or transaction, so nothing was committed$m$; END IF; END$$' -c ANALYZE
    fi
    say "psql, plain SQL (RESTORE_SINGLE_TRANSACTION=$RESTORE_SINGLE_TRANSACTION), then ANALYZE"
    st=0
    feed_sql | psql_q "$@" >"$work/psql.out" 2>"$work/psql.err" || st=$?
    # gzip killed by SIGPIPE (141) or told "Broken pipe" only means psql stopped reading: psql's error is the real one.
    if [ -f "$work/gzip.status" ] && [ "$(cat "$work/gzip.status")" != 141 ] && ! grep -q 'Broken pipe' "$work/gzip.err"; then fail_gzip; fi
    if [ -f "$work/read.status" ]; then fail "cannot read BACKUP_FILE" "$(cat "$work/read.err")" "check the file and the volume it is on"; fi
    [ "$st" != 0 ] || return 0
    err=$(first_error "$work/psql.err")
    line=$(printf '%s' "$err" | sed -n 's/^psql:<stdin>:\([0-9][0-9]*\): .*/\1/p')
    msg=$(printf '%s' "$err" | sed 's/^psql:<stdin>:[0-9][0-9]*: //')
    hint='fix the dump (psql -f shows the context); nothing was committed'
    [ "$RESTORE_SINGLE_TRANSACTION" = 1 ] || hint='fix the dump; the database holds a partial restore, recreate it before retrying'
    case $msg in
        *'cannot run inside a transaction block'* | *'cannot be executed from a function'*)
            hint='this looks like a pg_dumpall or pg_dump --create dump: give a dump of one database, or set RESTORE_SINGLE_TRANSACTION=0'
            ;;
    esac
    if [ -n "$line" ]; then fail "SQL error at line $line" "$msg" "$hint"; fi
    fail "SQL error" "${msg:-psql exited with status $st}" "$hint"
}

# pg_restore -j needs a seekable file: a plain custom dump is used in place, a gzip-compressed one unpacked first.
load_custom() {
    dump=$BACKUP_FILE
    if [ "$format" = gzip+custom ]; then
        dump=$work/backup.dump
        if ! gzip -dc "$BACKUP_FILE" >"$dump" 2>"$work/gzip.err"; then
            gzip -t "$BACKUP_FILE" 2>"$work/gzip.err" || fail_gzip
            fail "cannot store the custom-format dump" "$(cat "$work/gzip.err")" "check the free space in RESTORE_WORK_DIR=$RESTORE_WORK_DIR (parallel pg_restore needs the dump as a file)"
        fi
    fi
    say "pg_restore --jobs=$RESTORE_JOBS"
    pg_restore -w --jobs="$RESTORE_JOBS" --no-owner --no-privileges --no-tablespaces --no-subscriptions \
        --exit-on-error --dbname="$PGDATABASE" "$dump" >"$work/pg_restore.out" 2>"$work/pg_restore.err" ||
        fail "pg_restore failed" "$(first_error "$work/pg_restore.err")" "fix the dump or the target database (pg_restore must be at least as new as the pg_dump that wrote the dump)"
}

# ANALYZE of a custom-format restore, table by table on RESTORE_JOBS connections.
analyze() {
    out=$(vacuumdb --analyze-only --quiet --jobs="$RESTORE_JOBS" --dbname="$PGDATABASE" 2>&1) || fail "ANALYZE failed" "$out" "check the server log"
}

write_marker() {
    marker_tmp="$marker.tmp.$$"
    if ! {
        printf 'completed_at=%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
        printf 'format=%s\n' "$format"
        printf 'source_bytes=%s\n' "$source_bytes"
        printf 'seconds=%s\n' "$(($(date +%s) - started))"
    } >"$marker_tmp" || ! mv "$marker_tmp" "$marker"; then
        fail "cannot write the completion marker" "$marker" "check RESTORE_MARKER_DIR is writable"
    fi
    marker_tmp=''
}

main() {
    [ "$#" -eq 0 ] || fail "usage" "unknown mode $1" "run restore.sh without arguments (fetch.sh downloads a BACKUP_URL)"
    trap cleanup EXIT
    trap 'exit 143' TERM; trap 'exit 130' INT; trap 'exit 129' HUP
    started=$(date +%s)
    read_inputs
    require_tools
    marker="$RESTORE_MARKER_DIR/$RESTORE_MARKER"
    if [ -f "$marker" ]; then
        say "already restored ($(tr '\n' ' ' <"$marker")); nothing to do"
        return 0
    fi
    check_database
    work=$(mktemp -d "$RESTORE_WORK_DIR/dbaas-restore.XXXXXX") || fail "cannot create a work directory" "mktemp failed in $RESTORE_WORK_DIR" "check RESTORE_WORK_DIR is writable and has free space"
    detect_source
    set_nondurable_settings
    case $format in
        *plain) load_plain ;;
        *custom) load_custom ;;
    esac
    reset_durable_settings || fail "cannot restore the durable settings" "$reset_error" "run ALTER SYSTEM RESET fsync; ALTER SYSTEM RESET full_page_writes; SELECT pg_reload_conf() as a superuser"
    # The plain load ran ANALYZE in its own session already.
    case $format in *custom) analyze ;; esac
    write_marker
    say "done: $format, $source_bytes bytes in $(($(date +%s) - started)) s; marker $marker"
}

main "$@"
