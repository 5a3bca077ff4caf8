/**
 * The restore script's contract for the code that ships and runs it (the
 * on-demand program's ConfigMap / upload, its readiness check, the API's
 * tests): where the script is, the marker it writes on success, and the
 * environment it reads. The script itself is `restore.sh` beside this file;
 * docs/ondemand.md describes it. No Pulumi imports.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** Absolute path of the POSIX sh restore script in this checkout. */
export const RESTORE_SCRIPT_PATH = path.join(__dirname, "restore.sh");

/**
 * File the script writes into `RESTORE_MARKER_DIR` only after the load,
 * ANALYZE and the reset of durable settings all succeeded (written to a
 * temporary name, then renamed). Readiness checks test for it.
 * Content: `completed_at=`, `format=`, `source_bytes=`, `seconds=` lines.
 */
export const RESTORE_MARKER = "dbaas-restore.done";

/** Every environment variable the script reads, in the order docs/ondemand.md lists them. */
export const RESTORE_ENV_NAMES = [
    // The backup: exactly one of these.
    "BACKUP_URL",
    "BACKUP_FILE",
    // libpq: where to restore (PGDATABASE is required; the rest default as in libpq).
    "PGHOST",
    "PGPORT",
    "PGUSER",
    "PGPASSWORD",
    "PGDATABASE",
    "PGOPTIONS",
    // Knobs.
    "RESTORE_JOBS",
    "RESTORE_MARKER_DIR",
    "RESTORE_MARKER",
    "RESTORE_WORK_DIR",
    "RESTORE_MAX_BYTES",
    "RESTORE_MAX_SECONDS",
    "RESTORE_ALLOW_HOSTS",
    "RESTORE_CA_FILE",
    "RESTORE_SINGLE_TRANSACTION",
    "RESTORE_MAINTENANCE_WORK_MEM",
    "RESTORE_FSYNC_OFF",
    "RESTORE_ALLOW_LOOPBACK",
] as const;
export type RestoreEnvName = (typeof RESTORE_ENV_NAMES)[number];

/**
 * Test-only: lets the script fetch from 127.0.0.0/8 and ::1 so tests can
 * serve backups locally. Production never sets it; a policy or the API can
 * refuse any workload that does.
 */
export const RESTORE_TEST_ONLY_ENV = "RESTORE_ALLOW_LOOPBACK" satisfies RestoreEnvName;

/** The script's defaults for the knobs that have one (as strings, like the environment). */
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

/** The script's text, e.g. for a ConfigMap or a file upload into a container. */
export function readRestoreScript(): string {
    return fs.readFileSync(RESTORE_SCRIPT_PATH, "utf8");
}
