/**
 * Names, ports and labels used by more than one part of dbaas. One source per
 * fact: the platform program, the on-demand program, the API and the policies
 * import these instead of repeating literals.
 */

/** Port the API listens on inside its container; nginx proxies to it. */
export const API_PORT = 5000;
/** PostgreSQL's port inside every container and pod. */
export const POSTGRES_PORT = 5432;
/** Unprivileged uid/gid of the `postgres` user in the official images. */
export const POSTGRES_UID = 999;

/** Pulumi project of the on-demand database program (one stack per database). */
export const ONDEMAND_PROJECT = "dbaas-db";
/** Stack config key holding the whole spec of one on-demand database. */
export const ONDEMAND_SPEC_KEY = `${ONDEMAND_PROJECT}:database`;
/**
 * Secret stack config key holding the superuser password of one on-demand
 * database. The API sets it (encrypted by the stack's secrets provider) before
 * the first `up`; the program only reads it, so the API can rotate it later.
 */
export const ONDEMAND_PASSWORD_KEY = `${ONDEMAND_PROJECT}:password`;

/** EKS objects the API runs as and creates databases through. */
export const DEVDB_NAMESPACE = "devdb";
export const DEVDB_SERVICE_ACCOUNT = "devdb";
export const DEVDB_CLUSTER_ROLE = "devdb-role";

/** Labels carried by every on-demand database (namespace, container, pod). */
export const LABELS = {
    managedBy: "app.kubernetes.io/managed-by",
    owner: "dbaas.io/owner",
    project: "dbaas.io/project",
    database: "dbaas.io/database",
    expiresAt: "dbaas.io/expires-at",
} as const;
export const MANAGED_BY = "dbaas";

/**
 * A database name becomes a stack, a namespace, a Service and a database name,
 * so it must be a DNS-1035 label: a lowercase letter first, then lowercase
 * letters, digits and hyphens, ending in a letter or digit. 40 characters leave
 * room for the namespace prefix within the 63 allowed by Kubernetes.
 */
export const DATABASE_NAME_MAX_LENGTH = 40;
export const DATABASE_NAME_PATTERN = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Label values are at most 63 characters of [A-Za-z0-9_.-], starting and
 * ending alphanumeric. Owner ids and timestamps are mapped into that alphabet.
 */
export function toLabelValue(value: string): string {
    const cleaned = value.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 63);
    return cleaned.replace(/^[^A-Za-z0-9]+/, "").replace(/[^A-Za-z0-9]+$/, "");
}

/** An expiry instant as a label value: `2026-11-23T16-00-00Z` (no colons allowed). */
export function expiryLabelValue(expiresAt: Date): string {
    return expiresAt.toISOString().replace(/\.\d{3}Z$/, "Z").replace(/:/g, "-");
}
