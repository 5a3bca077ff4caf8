/**
 * Decisions about the admin database on Amazon RDS: the parameter group
 * family and its settings, the engine version from the catalog, the
 * connection URL the API gets. No Pulumi imports: tested directly.
 */

/** The parameter group family of a PostgreSQL major (`postgres17`). */
export function rdsParameterFamily(major: number): string {
    if (!Number.isInteger(major) || major < 11) throw new Error(`RDS PostgreSQL major ${major} is not supported; use 11 or later`);
    return `postgres${major}`;
}

/** Parameters of the admin database: TLS required for every connection, connections logged. */
export const RDS_PARAMETERS: readonly { name: string; value: string; applyMethod: "immediate" | "pending-reboot" }[] = [
    { name: "rds.force_ssl", value: "1", applyMethod: "pending-reboot" },
    { name: "log_connections", value: "1", applyMethod: "immediate" },
];

/** The database, user and port the API uses on RDS. */
export const RDS_ADMIN = { database: "dbaas", user: "dbaas_admin", port: 5432 } as const;

/**
 * The API's connection URL: TLS always (the server refuses plain connections);
 * verified against `NODE_EXTRA_CA_CERTS` (`verify-full`) when the RDS CA bundle
 * is configured, else encrypted without verification (libpq's `require`).
 */
export function rdsConnectionUrl(o: { host: string; port: number; password: string; verify: boolean }): string {
    const mode = o.verify ? "sslmode=verify-full" : "sslmode=require&uselibpqcompat=true";
    return `postgresql://${RDS_ADMIN.user}:${encodeURIComponent(o.password)}@${o.host}:${o.port}/${RDS_ADMIN.database}?${mode}`;
}
