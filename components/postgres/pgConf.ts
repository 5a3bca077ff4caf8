/**
 * What a dbaas PostgreSQL server runs with: `postgresql.conf` and
 * `pg_hba.conf` rendered from options, memory settings derived from the
 * container's memory limit, and where data and files live in the image.
 * No Pulumi imports: the same renderers configure the containers and the
 * real servers in the tests.
 */
import { POSTGRES_PORT } from "../../contracts/ports";

/** Where the instance's own files are uploaded inside the container. */
export const CONTAINER_PATHS = {
    postgresqlConf: "/etc/postgresql/dbaas/postgresql.conf",
    pgHba: "/etc/postgresql/dbaas/pg_hba.conf",
    certFile: "/etc/postgresql/dbaas/tls/server.crt",
    keyFile: "/etc/postgresql/dbaas/tls/server.key",
    passwordFile: "/run/secrets/postgres-password",
} as const;

/** Memory settings of one server, in MiB. */
export interface MemorySettings {
    sharedBuffersMb: number;
    effectiveCacheSizeMb: number;
    maintenanceWorkMemMb: number;
    workMemMb: number;
}

/** Connections a dbaas instance accepts; work_mem is sized so they fit the limit. */
export const MAX_CONNECTIONS = 100;

/**
 * Memory settings for a container limited to `memoryMb`: shared_buffers 25 %,
 * effective_cache_size 75 % (the page cache the planner may assume), one
 * sixteenth for maintenance (at most 1 GiB), and work_mem so that a quarter
 * of the connections sorting at once stay inside the remaining half.
 */
export function memorySettings(memoryMb: number): MemorySettings {
    if (!Number.isInteger(memoryMb) || memoryMb < 128) {
        throw new Error(`memoryMb must be a whole number of MiB, at least 128 (got ${memoryMb}); set dbaas:postgres.memoryMb`);
    }
    return {
        sharedBuffersMb: Math.floor(memoryMb / 4),
        effectiveCacheSizeMb: Math.floor((memoryMb * 3) / 4),
        maintenanceWorkMemMb: Math.min(1024, Math.max(16, Math.floor(memoryMb / 16))),
        workMemMb: Math.max(1, Math.floor(memoryMb / 2 / (MAX_CONNECTIONS / 4))),
    };
}

export interface PostgresqlConfOptions {
    /** Container memory limit in MiB; drives the memory settings. */
    memoryMb: number;
    /** Server certificate (PEM) path. Default: CONTAINER_PATHS.certFile. Relative paths are relative to PGDATA. */
    certFile?: string;
    /** Server key path. Default: CONTAINER_PATHS.keyFile. */
    keyFile?: string;
    /** Port. Default: POSTGRES_PORT (5432). */
    port?: number;
}

const quote = (value: string): string => `'${value.replace(/'/g, "''")}'`;

/** The `postgresql.conf` of a dbaas instance: TLS on (1.2+), scram passwords, memory from the limit. */
export function renderPostgresqlConf(opts: PostgresqlConfOptions): string {
    const mem = memorySettings(opts.memoryMb);
    const lines: [string, string][] = [
        ["listen_addresses", quote("*")],
        ["port", String(opts.port ?? POSTGRES_PORT)],
        ["max_connections", String(MAX_CONNECTIONS)],
        ["password_encryption", quote("scram-sha-256")],
        ["ssl", "on"],
        ["ssl_cert_file", quote(opts.certFile ?? CONTAINER_PATHS.certFile)],
        ["ssl_key_file", quote(opts.keyFile ?? CONTAINER_PATHS.keyFile)],
        ["ssl_min_protocol_version", quote("TLSv1.2")],
        ["shared_buffers", quote(`${mem.sharedBuffersMb}MB`)],
        ["effective_cache_size", quote(`${mem.effectiveCacheSizeMb}MB`)],
        ["maintenance_work_mem", quote(`${mem.maintenanceWorkMemMb}MB`)],
        ["work_mem", quote(`${mem.workMemMb}MB`)],
        ["log_connections", "on"],
        ["log_disconnections", "on"],
        ["log_timezone", quote("UTC")],
        ["timezone", quote("UTC")],
    ];
    return `# Rendered by dbaas (components/postgres/pgConf.ts); edits are overwritten by pulumi up.\n${lines.map(([k, v]) => `${k} = ${v}`).join("\n")}\n`;
}

/** One pg_hba.conf line. */
export interface HbaRule {
    type: "local" | "host" | "hostssl" | "hostnossl";
    database: string;
    user: string;
    /** Absent for `local`. */
    address?: string;
    method: "peer" | "scram-sha-256" | "reject";
    /** Why the line is there; rendered as a comment above it. */
    why: string;
}

/**
 * The access rules, first match wins: the local socket by OS identity (the
 * image's entrypoint runs psql as OS user postgres for database user
 * postgres, so `peer` works and no password or trust is needed), every
 * network connection without TLS refused, TLS connections with
 * scram-sha-256 only, anything else refused. No md5, no trust.
 */
export function hbaRules(): HbaRule[] {
    return [
        { type: "local", database: "all", user: "all", method: "peer", why: "local socket: OS user = database user (the image's init scripts run as postgres)" },
        { type: "hostnossl", database: "all", user: "all", address: "all", method: "reject", why: "no network access without TLS" },
        { type: "hostssl", database: "all", user: "all", address: "0.0.0.0/0", method: "scram-sha-256", why: "IPv4 over TLS with a scram-sha-256 password" },
        { type: "hostssl", database: "all", user: "all", address: "::/0", method: "scram-sha-256", why: "IPv6 over TLS with a scram-sha-256 password" },
        { type: "host", database: "all", user: "all", address: "all", method: "reject", why: "anything else is refused" },
    ];
}

/** Renders rules as `pg_hba.conf`. */
export function renderPgHba(rules: readonly HbaRule[] = hbaRules()): string {
    const body = rules.map((r) => `# ${r.why}\n${[r.type, r.database, r.user, ...(r.address === undefined ? [] : [r.address]), r.method].join("\t")}`);
    return `# Rendered by dbaas (components/postgres/pgConf.ts); edits are overwritten by pulumi up.\n${body.join("\n")}\n`;
}

/** Where the data volume is mounted and where PGDATA lives inside it. */
export interface DataLayout {
    mountPath: string;
    pgdata: string;
}

/**
 * Up to 17 the official image declares VOLUME /var/lib/postgresql/data; PGDATA
 * goes one level below it so initdb finds an empty directory it owns. From 18
 * the image mounts /var/lib/postgresql and keeps PGDATA in `<major>/docker`
 * (mounting .../data fails there). An image pinned by digest only has no
 * major in its tag and gets the pre-18 layout.
 */
export function dataLayout(major: number | undefined): DataLayout {
    if (major !== undefined && major >= 18) {
        return { mountPath: "/var/lib/postgresql", pgdata: `/var/lib/postgresql/${major}/docker` };
    }
    return { mountPath: "/var/lib/postgresql/data", pgdata: "/var/lib/postgresql/data/pgdata" };
}

/** The container's command: the image's `postgres` with our config files. */
export function postgresCommand(paths: { postgresqlConf: string; pgHba: string } = CONTAINER_PATHS): string[] {
    return ["postgres", "-c", `config_file=${paths.postgresqlConf}`, "-c", `hba_file=${paths.pgHba}`];
}

/** The health check: accepting connections on TCP (pg_isready does not log in). */
export function healthcheckCommand(port: number = POSTGRES_PORT): string[] {
    return ["CMD", "pg_isready", "-U", "postgres", "-h", "127.0.0.1", "-p", String(port)];
}

/** A `postgresql://` URL; user and password are percent-encoded. */
export function connectionUrl(opts: { user: string; password: string; host: string; port: number; database: string; sslmode: "require" | "verify-full" }): string {
    const auth = `${encodeURIComponent(opts.user)}:${encodeURIComponent(opts.password)}`;
    return `postgresql://${auth}@${opts.host}:${opts.port}/${encodeURIComponent(opts.database)}?sslmode=${opts.sslmode}`;
}
