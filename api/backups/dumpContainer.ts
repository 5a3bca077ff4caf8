/**
 * The in-target dump's pure parts (docker target): the one-shot container
 * that runs `pg_dump --format=custom` from the database's own image, the
 * script it runs, and how its output is read. No I/O, no Pulumi.
 *
 * Where it connects: the container joins the database container's network
 * namespace (`NetworkMode: container:<server>`) and reaches the server at
 * 127.0.0.1:5432 there. No published port, no network of its own, nothing
 * about DBAAS_PUBLISH_IP or whether the API can reach it matters; it can reach
 * exactly what the server itself can.
 *
 * The password: written to the container's stdin (one line) over the attach
 * connection, read by the script into PGPASSWORD of the script's own
 * processes. It is never in the container's Cmd or Env (both are kept in the
 * engine's container config and shown by `docker inspect`), never on a
 * command line, never logged.
 */
import { POSTGRES_UID } from "../../contracts/catalog";
import { dockerObjectName, LABELS, MANAGED_BY } from "../../contracts/labels";
import { POSTGRES_PORT } from "../../contracts/ports";

/** The label that marks a dump container (with the managed-by label). */
export const BACKUP_LABEL = "dbaas.io/backup";
/** The line the script writes to stderr before the dump: `<server_version_num> <pg_database_size>`. */
export const DUMP_INFO_PREFIX = "dbaas-dump-info ";
/** Exit code of the script when no password line arrived on stdin. */
export const EXIT_NO_PASSWORD = 64;
/** Exit code of the script when psql could not read the server's version and size (connection, authentication). */
export const EXIT_PROBE_FAILED = 65;
/** At most this many processes in the dump container (sh, psql, pg_dump). */
export const DUMP_PIDS_LIMIT = 32;

/**
 * The script of the dump container (sh -c; dash in the Debian-based catalog
 * images, busybox ash in alpine ones). stdout carries the dump and nothing
 * else; every message goes to stderr, the last line saying what failed.
 */
export const DUMP_SCRIPT = [
    "set -eu",
    `IFS= read -r PGPASSWORD || { echo "dump: no password line arrived on stdin" >&2; exit ${EXIT_NO_PASSWORD}; }`,
    "export PGPASSWORD",
    `info=$(psql -X -w -A -t -q -v ON_ERROR_STOP=1 -c "SELECT current_setting('server_version_num') || ' ' || pg_database_size(current_database())") || exit ${EXIT_PROBE_FAILED}`,
    `echo "${DUMP_INFO_PREFIX}$info" >&2`,
    "exec pg_dump --format=custom --no-password",
].join("\n");

export interface DumpContainerArgs {
    /** The on-demand database (its server container is `dockerObjectName(database)`). */
    readonly database: string;
    /** The image the server container runs (its id), so the dump's pg_dump is the server's own. */
    readonly image: string;
    /** The PostgreSQL database to dump and the user to dump it as (the engine's outputs). */
    readonly dbName: string;
    readonly user: string;
    /** Memory limit of the dump container (swap included), in MiB. */
    readonly memoryMb: number;
}

/** The name of a dump container of `database` (a random suffix: a backup id is not the runner's to know). */
export function dumpContainerName(database: string, suffix: string): string {
    return `${dockerObjectName(database, "backup")}-${suffix}`;
}

/**
 * The dump container: the server's image as its postgres user (uid 999), a
 * read-only root (pg_dump writes only to stdout), every capability dropped,
 * no privilege gain, a memory and process limit, in the server's network
 * namespace. stdin is open for the password line only. No TTY: a TTY would
 * turn the binary dump's LF bytes into CRLF. Logging is off: the dump passes
 * through the attach connection only and never lands in the engine's log
 * files (json-file would keep a second copy of the whole database on the host).
 * AutoRemove: a dump whose API went away still leaves no container behind.
 */
export function dumpContainerSpec(a: DumpContainerArgs) {
    return {
        Image: a.image,
        User: `${POSTGRES_UID}:${POSTGRES_UID}`,
        Entrypoint: ["sh", "-c"],
        Cmd: [DUMP_SCRIPT],
        Env: [
            "PGHOST=127.0.0.1", `PGPORT=${POSTGRES_PORT}`, `PGDATABASE=${a.dbName}`, `PGUSER=${a.user}`,
            "PGAPPNAME=dbaas-backup", "PGCONNECT_TIMEOUT=10", "LC_ALL=C",
        ],
        WorkingDir: "/",
        AttachStdin: true,
        OpenStdin: true,
        StdinOnce: true,
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
        Labels: { [LABELS.managedBy]: MANAGED_BY, [BACKUP_LABEL]: "dump" },
        HostConfig: {
            NetworkMode: `container:${dockerObjectName(a.database)}`,
            ReadonlyRootfs: true,
            CapDrop: ["ALL"],
            SecurityOpt: ["no-new-privileges:true"],
            Memory: a.memoryMb * 1024 * 1024,
            MemorySwap: a.memoryMb * 1024 * 1024,
            PidsLimit: DUMP_PIDS_LIMIT,
            AutoRemove: true,
            LogConfig: { Type: "none", Config: {} },
        },
    };
}

/** What POST /containers/create gets (the Engine API's field names). */
export type DumpContainerSpec = ReturnType<typeof dumpContainerSpec>;

/** What the password may not contain: the script reads one line of stdin. */
export function passwordProblem(password: string): string | undefined {
    if (/[\r\n]/.test(password)) return "the database's password contains a line break, which the in-target runner cannot pass as its one stdin line; set DBAAS_BACKUP_RUNNER=host";
    if (password === "") return "the engine reported an empty password for the database; the in-target runner passes none";
    return undefined;
}

/** The server's major and the database's size from the script's info line in `stderr`, or undefined before it came. */
export function parseDumpInfo(stderr: string): { serverMajor: number; dbSizeBytes: number } | undefined {
    const m = new RegExp(`^${DUMP_INFO_PREFIX}(\\d+) (\\d+)$`, "m").exec(stderr);
    if (m === null) return undefined;
    return { serverMajor: Math.floor(Number(m[1]) / 10_000), dbSizeBytes: Number(m[2]) };
}

/** stderr without the script's info line (what a failure reason is taken from). */
export function withoutDumpInfo(stderr: string): string {
    return stderr.split("\n").filter((l) => !l.startsWith(DUMP_INFO_PREFIX)).join("\n");
}

/** Keeps the last `max` characters of a growing text (a failure's reason is its last line). */
export function keepTail(text: string, more: string, max = 16_384): string {
    const all = text + more;
    return all.length <= max ? all : all.slice(all.length - max);
}
