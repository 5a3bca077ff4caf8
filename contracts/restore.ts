/**
 * How a backup reaches a new database, on both targets, in two steps:
 *
 * 1. fetch: a one-shot container of a small image with curl (the Postgres
 *    images have no curl) runs `fetch.sh`, which downloads `backup_location`
 *    into the data volume, beside (not inside) PGDATA, connecting only to an
 *    address it checked against contracts/egress.ts. It does nothing once the
 *    database exists, so a restarted pod does not download again.
 * 2. restore: the official image runs `/docker-entrypoint-initdb.d/` scripts
 *    once, on first initialisation, against a temporary server listening only
 *    on the unix socket. Our init script there runs `restore.sh` on the
 *    downloaded file; the script writes its marker only on success.
 *
 * The server is handed out (Kubernetes readiness, Docker health) only when the
 * marker exists and `pg_isready` answers over TCP — which the temporary server
 * never does. No Pulumi imports.
 */
import { POSTGRES_PORT } from "./ports";

/** Where the data volume is mounted (the images' declared VOLUME). */
export const DATA_MOUNT = "/var/lib/postgresql/data";
/** initdb wants an empty directory; a subdirectory also keeps lost+found and the backup out of it. */
export const PGDATA = `${DATA_MOUNT}/pgdata`;
/** Downloaded backup and completion marker live on the volume, outside PGDATA. */
export const RESTORE_DIR = `${DATA_MOUNT}/restore`;
export const BACKUP_FILE = `${RESTORE_DIR}/backup`;
/** Where the scripts (ConfigMap / upload) are mounted: fetch.sh in the fetch step, restore.sh in the Postgres container. */
export const SCRIPT_DIR = "/opt/dbaas/restore";
export const SCRIPT_FILE = "restore.sh";
export const FETCH_SCRIPT_FILE = "fetch.sh";
/** The entrypoint's init directory and our script in it. */
export const INITDB_DIR = "/docker-entrypoint-initdb.d";
export const INITDB_FILE = "50-dbaas-restore.sh";
/** Where Postgres writes besides PGDATA (socket, lock file) and scratch space; emptyDir/tmpfs. */
export const WRITABLE_DIRS = { socket: "/var/run/postgresql", tmp: "/tmp" } as const;

/** Where the fetch step finds `restore_ca_pem` (a file upload / ConfigMap key), when the target has one. */
export const RESTORE_CA_FILE = `${SCRIPT_DIR}/backup-ca.pem`;
export const RESTORE_CA_KEY = "backup-ca.pem";

export interface RestoreLimits {
    readonly restore_jobs: number;
    readonly restore_max_bytes: number;
    readonly restore_max_seconds: number;
    /** PEM certificates the download trusts instead of the system CAs (a private CA's backup server). */
    readonly restore_ca_pem?: string | undefined;
}

/** Environment of the fetch step: the URL travels as a variable, never inside the command text. */
export function fetchEnv(backupUrl: string, markerName: string, limits: RestoreLimits): Record<string, string> {
    return {
        ...(limits.restore_ca_pem === undefined ? {} : { RESTORE_CA_FILE }),
        BACKUP_URL: backupUrl,
        // The output file travels as FETCH_TO: BACKUP_FILE is restore.sh's input, not the fetch's.
        FETCH_TO: BACKUP_FILE,
        PGDATA,
        RESTORE_MARKER_DIR: RESTORE_DIR,
        RESTORE_MARKER: markerName,
        RESTORE_MAX_BYTES: String(limits.restore_max_bytes),
        RESTORE_MAX_SECONDS: String(limits.restore_max_seconds),
        RESTORE_WORK_DIR: WRITABLE_DIRS.tmp,
    };
}

/**
 * How every fetch step's program starts (this one's and the cache's,
 * cacheFetchScript): nothing to do once the database exists (a restarted pod
 * or container does not download again), else the restore directory.
 */
export const FETCH_PRELUDE: readonly string[] = [
    "set -eu",
    'if [ -e "$RESTORE_MARKER_DIR/$RESTORE_MARKER" ] || [ -e "$PGDATA/PG_VERSION" ]; then',
    '  echo "fetch: database already initialised, nothing to download"; exit 0',
    "fi",
    'mkdir -p "$RESTORE_MARKER_DIR"',
];

/**
 * The fetch step's program (`sh -c`): `fetch.sh` (https only, host resolved,
 * refused when any address is in the blocked-egress table, connected to
 * exactly the checked address, size and time capped, format checked, written
 * via a `.part` file). Skipped once the database exists, so a restarted pod
 * does not download again.
 *
 * `chownTo`: a fresh Docker volume belongs to root, so the Docker fetch step
 * runs as root (all capabilities dropped but CHOWN) and hands the restore
 * directory to the Postgres uid afterwards. On Kubernetes `fsGroup` does that.
 */
export function fetchScript(chownTo?: number): string {
    if (chownTo !== undefined && !Number.isInteger(chownTo)) throw new Error(`chownTo must be a uid, got ${chownTo}`);
    const run = `sh ${SCRIPT_DIR}/${FETCH_SCRIPT_FILE} "$FETCH_TO"`;
    return [
        ...FETCH_PRELUDE,
        ...(chownTo === undefined ? [`exec ${run}`] : [run, `chown -R ${chownTo}:${chownTo} "$RESTORE_MARKER_DIR"`]),
        "",
    ].join("\n");
}

/** Environment of the Postgres container that the init script hands to the restore script (the size and time caps are the fetch's). */
export function restoreEnv(markerName: string, limits: Pick<RestoreLimits, "restore_jobs">): Record<string, string> {
    return {
        BACKUP_FILE,
        RESTORE_MARKER_DIR: RESTORE_DIR,
        RESTORE_MARKER: markerName,
        RESTORE_JOBS: String(limits.restore_jobs),
        // gzip-compressed custom dumps are unpacked here first: the volume, not the small /tmp.
        RESTORE_WORK_DIR: RESTORE_DIR,
    };
}

/**
 * The `/docker-entrypoint-initdb.d/` script: runs the restore script against
 * the entrypoint's temporary server (unix socket; the entrypoint exports
 * PGPASSWORD), then frees the downloaded file. Any failure aborts the
 * entrypoint, and no marker is written.
 */
export function initdbScript(): string {
    return [
        "#!/bin/sh",
        "set -eu",
        `export PGHOST=${WRITABLE_DIRS.socket} PGPORT=${POSTGRES_PORT}`,
        'export PGUSER="${POSTGRES_USER:-postgres}" PGDATABASE="${POSTGRES_DB:-${POSTGRES_USER:-postgres}}"',
        `sh ${SCRIPT_DIR}/${SCRIPT_FILE}`,
        'rm -f "$BACKUP_FILE"',
        "",
    ].join("\n");
}

/**
 * The readiness/health command: `pg_isready` over TCP (the temporary init
 * server listens on the socket only), and, when a backup is restored, the
 * script's marker.
 */
export function readinessCommand(markerName: string | undefined): string[] {
    if (markerName !== undefined && !/^[A-Za-z0-9._-]+$/.test(markerName)) {
        throw new Error(`restore marker name ${JSON.stringify(markerName)} must be a plain file name ([A-Za-z0-9._-])`);
    }
    const ready = `pg_isready -q -h 127.0.0.1 -p ${POSTGRES_PORT} -U "$POSTGRES_USER" -d "$POSTGRES_DB"`;
    const check = markerName === undefined ? ready : `test -f "${RESTORE_DIR}/${markerName}" && ${ready}`;
    return ["sh", "-c", check];
}

/**
 * File the script writes into `RESTORE_MARKER_DIR` only after the load,
 * ANALYZE and the reset of durable settings all succeeded (written to a
 * temporary name, then renamed). Readiness checks test for it.
 * Content: `completed_at=`, `format=`, `source_bytes=`, `seconds=` lines.
 */
export const RESTORE_MARKER = "dbaas-restore.done";

/** Every environment variable fetch.sh reads, in the order docs/ondemand.md lists them. */
export const FETCH_ENV_NAMES = [
    "BACKUP_URL",
    "RESTORE_WORK_DIR",
    "RESTORE_MAX_BYTES",
    "RESTORE_MAX_SECONDS",
    "RESTORE_ALLOW_HOSTS",
    "RESTORE_CA_FILE",
    "RESTORE_ALLOW_LOOPBACK",
] as const;

/** Every environment variable restore.sh reads, in the order docs/ondemand.md lists them. */
export const LOAD_ENV_NAMES = [
    "BACKUP_FILE",
    // Read only to refuse it: restore.sh loads a local file, fetch.sh downloads.
    "BACKUP_URL",
    // libpq: where to restore (PGDATABASE is required; the rest default as in libpq).
    "PGHOST",
    "PGPORT",
    "PGUSER",
    "PGPASSWORD",
    "PGDATABASE",
    "PGOPTIONS",
    "RESTORE_JOBS",
    "RESTORE_MARKER_DIR",
    "RESTORE_MARKER",
    "RESTORE_WORK_DIR",
    "RESTORE_SINGLE_TRANSACTION",
    "RESTORE_MAINTENANCE_WORK_MEM",
    "RESTORE_FSYNC_OFF",
] as const;

/** Every environment variable of the restore step (both scripts). */
export const RESTORE_ENV_NAMES = [...new Set([...FETCH_ENV_NAMES, ...LOAD_ENV_NAMES])] as readonly (typeof FETCH_ENV_NAMES[number] | typeof LOAD_ENV_NAMES[number])[];

export type RestoreEnvName = (typeof RESTORE_ENV_NAMES)[number];

/**
 * Test-only: lets fetch.sh fetch from 127.0.0.0/8 and ::1 so tests can
 * serve backups locally. Production never sets it; a policy or the API can
 * refuse any workload that does.
 */
export const RESTORE_TEST_ONLY_ENV = "RESTORE_ALLOW_LOOPBACK" satisfies RestoreEnvName;

/** The scripts' defaults for the knobs that have one (as strings, like the environment). */
export const RESTORE_DEFAULTS = {
    RESTORE_JOBS: "2",
    RESTORE_MARKER: RESTORE_MARKER,
    RESTORE_MAX_BYTES: String(10 * 1024 ** 3),
    RESTORE_MAX_SECONDS: "3600",
    RESTORE_SINGLE_TRANSACTION: "1",
    RESTORE_MAINTENANCE_WORK_MEM: "256MB",
    RESTORE_FSYNC_OFF: "0",
    RESTORE_ALLOW_LOOPBACK: "0",
} as const satisfies Partial<Record<RestoreEnvName, string>>;
