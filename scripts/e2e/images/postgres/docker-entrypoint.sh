#!/usr/bin/env bash
# Entrypoint of the dbaas-e2e/postgres stand-in images: the subset of the
# official postgres image's docker-entrypoint.sh that dbaas relies on, in the
# same order and with the same environment variables (see docs/e2e-docker.md):
#   POSTGRES_PASSWORD / POSTGRES_PASSWORD_FILE, POSTGRES_USER(_FILE),
#   POSTGRES_DB(_FILE), POSTGRES_INITDB_ARGS(_FILE), POSTGRES_INITDB_WALDIR,
#   POSTGRES_HOST_AUTH_METHOD, PGDATA; /docker-entrypoint-initdb.d/ scripts
#   (*.sh run or sourced, *.sql, *.sql.gz, *.sql.xz, *.sql.zst) run once
#   against a temporary server that listens on the unix socket only; started
#   as root it prepares the directories and re-executes itself as postgres
#   (uid 999); `postgres` (or a first argument starting with "-") starts the
#   server, anything else is executed as given.
# Differences: no nss_wrapper (an arbitrary --user uid without a passwd entry
# is not supported), and the server gets `-c unix_socket_directories=` the
# official image's compiled-in /var/run/postgresql (the embedded build's own
# default is /tmp) unless the command line names one itself.
set -Eeo pipefail

SOCKET_DIR=/var/run/postgresql

# usage: file_env VAR [DEFAULT]: VAR from $VAR or the file named by $VAR_FILE.
file_env() {
    local var="$1" file_var="${1}_FILE" def="${2:-}"
    if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
        printf >&2 'error: both %s and %s are set (but are exclusive)\n' "$var" "$file_var"
        exit 1
    fi
    local val="$def"
    if [ -n "${!var:-}" ]; then
        val="${!var}"
    elif [ -n "${!file_var:-}" ]; then
        val="$(<"${!file_var}")"
    fi
    export "$var"="$val"
    unset "$file_var"
}

docker_setup_env() {
    file_env POSTGRES_PASSWORD
    file_env POSTGRES_USER postgres
    file_env POSTGRES_DB "$POSTGRES_USER"
    file_env POSTGRES_INITDB_ARGS
    : "${POSTGRES_HOST_AUTH_METHOD:=}"
    DATABASE_ALREADY_EXISTS=
    if [ -s "$PGDATA/PG_VERSION" ]; then DATABASE_ALREADY_EXISTS=true; fi
}

docker_create_db_directories() {
    local user
    user="$(id -u)"
    mkdir -p "$PGDATA"
    chmod 00700 "$PGDATA" || :
    mkdir -p "$SOCKET_DIR" || :
    chmod 03775 "$SOCKET_DIR" || :
    if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then
        mkdir -p "$POSTGRES_INITDB_WALDIR"
        if [ "$user" = 0 ]; then find "$POSTGRES_INITDB_WALDIR" \! -user postgres -exec chown postgres '{}' +; fi
        chmod 700 "$POSTGRES_INITDB_WALDIR"
    fi
    if [ "$user" = 0 ]; then
        find "$PGDATA" \! -user postgres -exec chown postgres '{}' +
        find "$SOCKET_DIR" \! -user postgres -exec chown postgres '{}' +
    fi
}

docker_verify_minimum_env() {
    if [ "${#POSTGRES_PASSWORD}" -ge 100 ]; then
        printf >&2 'WARNING: the POSTGRES_PASSWORD is 100+ characters; it may not work with every client\n'
    fi
    if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
        cat >&2 <<'EOE'
Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".
       (POSTGRES_PASSWORD_FILE names a file that holds it.)
EOE
        exit 1
    fi
}

docker_init_database_dir() {
    if ! getent passwd "$(id -u)" >/dev/null; then
        printf >&2 'error: uid %s has no passwd entry; this stand-in has no nss_wrapper: run as root or as postgres (999)\n' "$(id -u)"
        exit 1
    fi
    if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then set -- --waldir "$POSTGRES_INITDB_WALDIR" "$@"; fi
    # POSTGRES_INITDB_ARGS is word-split on purpose, as in the official image.
    eval 'initdb --username="$POSTGRES_USER" --pwfile=<(printf "%s\n" "$POSTGRES_PASSWORD") '"$POSTGRES_INITDB_ARGS"' "$@"'
}

pg_setup_hba_conf() {
    if [ "$1" = postgres ]; then shift; fi
    local auth
    auth="$(postgres -C password_encryption "$@")"
    : "${POSTGRES_HOST_AUTH_METHOD:=$auth}"
    {
        printf '\n'
        if [ "$POSTGRES_HOST_AUTH_METHOD" = trust ]; then printf '# warning trust is enabled for all connections\n'; fi
        printf 'host all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD"
    } >>"$PGDATA/pg_hba.conf"
}

docker_process_sql() {
    local query_runner=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
    if [ -n "$POSTGRES_DB" ]; then query_runner+=(--dbname "$POSTGRES_DB"); fi
    PGHOST="$SOCKET_DIR" PGHOSTADDR='' "${query_runner[@]}" "$@"
}

docker_setup_db() {
    local exists db="$POSTGRES_DB"
    exists="$(POSTGRES_DB='' docker_process_sql --dbname postgres --set db="$db" --tuples-only <<'EOSQL'
SELECT 1 FROM pg_database WHERE datname = :'db' ;
EOSQL
)"
    if [ -z "$exists" ]; then
        POSTGRES_DB='' docker_process_sql --dbname postgres --set db="$db" <<'EOSQL'
CREATE DATABASE :"db" ;
EOSQL
        printf '\n'
    fi
}

docker_process_init_files() {
    printf '\n'
    local f
    for f; do
        case "$f" in
            *.sh)
                if [ -x "$f" ]; then
                    printf '%s: running %s\n' "$0" "$f"
                    "$f"
                else
                    printf '%s: sourcing %s\n' "$0" "$f"
                    # shellcheck disable=SC1090
                    . "$f"
                fi
                ;;
            *.sql) printf '%s: running %s\n' "$0" "$f"; docker_process_sql -f "$f"; printf '\n' ;;
            *.sql.gz) printf '%s: running %s\n' "$0" "$f"; gunzip -c "$f" | docker_process_sql; printf '\n' ;;
            *.sql.xz) printf '%s: running %s\n' "$0" "$f"; xzcat "$f" | docker_process_sql; printf '\n' ;;
            *.sql.zst) printf '%s: running %s\n' "$0" "$f"; zstd -dc "$f" | docker_process_sql; printf '\n' ;;
            *) printf '%s: ignoring %s\n' "$0" "$f" ;;
        esac
        printf '\n'
    done
}

docker_temp_server_start() {
    if [ "$1" = postgres ]; then shift; fi
    set -- "$@" -c listen_addresses='' -p "${PGPORT:-5432}"
    NOTIFY_SOCKET='' PGUSER="${PGUSER:-$POSTGRES_USER}" PGHOST="$SOCKET_DIR" \
        pg_ctl -D "$PGDATA" -o "$(printf '%q ' "$@")" -w start
}

docker_temp_server_stop() {
    PGUSER="${PGUSER:-postgres}" PGHOST="$SOCKET_DIR" pg_ctl -D "$PGDATA" -m fast -w stop
}

pg_want_help() {
    local arg
    for arg; do
        case "$arg" in
            -'?' | --help | --describe-config | -V | --version) return 0 ;;
        esac
    done
    return 1
}

# The official build's compiled-in socket directory, unless the command names one.
with_socket_dir() {
    local arg
    for arg; do
        case "$arg" in *unix_socket_directories*) printf '%s\0' "$@"; return ;; esac
    done
    printf '%s\0' "$1" -c "unix_socket_directories=$SOCKET_DIR" "${@:2}"
}

main() {
    if [ "${1:0:1}" = - ]; then set -- postgres "$@"; fi
    if [ "$1" = postgres ] && ! pg_want_help "$@"; then
        local args=()
        mapfile -d '' args < <(with_socket_dir "$@")
        set -- "${args[@]}"
        docker_setup_env
        docker_create_db_directories
        if [ "$(id -u)" = 0 ]; then
            # gosu's job in the official image: drop to postgres, keep the environment.
            exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
        fi
        if [ -z "$DATABASE_ALREADY_EXISTS" ]; then
            docker_verify_minimum_env
            ls /docker-entrypoint-initdb.d/ >/dev/null
            docker_init_database_dir
            pg_setup_hba_conf "$@"
            export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"
            docker_temp_server_start "$@"
            docker_setup_db
            docker_process_init_files /docker-entrypoint-initdb.d/*
            docker_temp_server_stop
            unset PGPASSWORD
            printf '\nPostgreSQL init process complete; ready for start up.\n\n'
        else
            printf '\nPostgreSQL Database directory appears to contain a database; Skipping initialization\n\n'
        fi
    fi
    exec "$@"
}

main "$@"
