/** Container/volume name on the shared Docker host: prefixed, so `docker ps` shows what dbaas owns. */
export function dockerObjectName(database: string, part?: string): string {
    return part === undefined ? `dbaas-db-${database}` : `dbaas-db-${database}-${part}`;
}

/** The labels every on-demand database carries (namespace, container, pod), and how values are made to fit. */
export const LABELS = {
    managedBy: "app.kubernetes.io/managed-by",
    owner: "dbaas.io/owner",
    project: "dbaas.io/project",
    database: "dbaas.io/database",
    expiresAt: "dbaas.io/expires-at",
} as const;

export const MANAGED_BY = "dbaas";

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
