/**
 * Names and labels of one on-demand database. The namespace, the Service and
 * the labels are derived here once, so the components, the API (which lists
 * namespaces by label) and the reaper agree on them. No Pulumi imports.
 */
import { expiryLabelValue, LABELS, MANAGED_BY, toLabelValue } from "../../contracts/labels";

/** The fields of a database spec that names and labels depend on. */
export interface DatabaseIdentity {
    readonly name: string;
    readonly owner: string;
    readonly project_id: string;
    /** ISO-8601 instant. */
    readonly expires_at: string;
}

/**
 * The server-side-apply field manager of every object the program declares
 * (the provider's default is `pulumi-kubernetes-<random>`, new for each
 * create). When the API dies during a create, the object it was making exists
 * but is not in the stack; the resumed `up` creates it again, which under a new
 * random manager failed with "Server-Side Apply field conflict detected". Under
 * this one manager the re-create is the same manager's apply and adopts the
 * object. (For objects made before this annotation the provider relinquishes
 * the old manager's fields on the next update.)
 */
export const FIELD_MANAGER = "dbaas-ondemand";

/** The annotation that sets FIELD_MANAGER, for every object's metadata. */
export const FIELD_MANAGER_ANNOTATIONS: Readonly<Record<string, string>> = { "pulumi.com/patchFieldManager": FIELD_MANAGER };

/** Superuser the workload is initialised with and that the outputs hand out. */
export const DATABASE_USER = "postgres";

/** The Service in each database's namespace (also the StatefulSet's governing service). */
export const SERVICE_NAME = "postgres";

/** Kubernetes caps namespace names at 63 characters (a DNS-1123 label). */
const MAX_NAMESPACE_LENGTH = 63;

/** `<prefix><name>`, e.g. `devdb-orders`; throws when the result is no valid namespace name. */
export function namespaceName(prefix: string, name: string): string {
    const ns = `${prefix}${name}`;
    if (ns.length > MAX_NAMESPACE_LENGTH || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(ns)) {
        throw new Error(`namespace "${ns}" (namespace_prefix + name) must be a DNS-1123 label of at most ${MAX_NAMESPACE_LENGTH} characters; shorten the prefix or the name`);
    }
    return ns;
}

/** Labels on the namespace, the workload's pods and the Docker container. */
export function databaseLabels(db: DatabaseIdentity): Record<string, string> {
    return {
        [LABELS.managedBy]: MANAGED_BY,
        [LABELS.database]: toLabelValue(db.name),
        [LABELS.owner]: toLabelValue(db.owner),
        [LABELS.project]: toLabelValue(db.project_id),
        [LABELS.expiresAt]: expiryLabelValue(new Date(db.expires_at)),
    };
}

/**
 * The labels without the expiry, for objects where a label change restarts or
 * is refused (pod template, claim template): extending a database's life must
 * not restart it.
 */
export function stableLabels(db: DatabaseIdentity): Record<string, string> {
    const { [LABELS.expiresAt]: _expiry, ...rest } = databaseLabels(db);
    return rest;
}

/** The subset that selects the database's pods (stable for the workload's lifetime: no expiry). */
export function selectorLabels(name: string): Record<string, string> {
    return { [LABELS.database]: toLabelValue(name), "app.kubernetes.io/name": "postgres" };
}

/** Pod Security Admission at `restricted`, enforced and also reported (audit, warn). */
export function podSecurityLabels(): Record<string, string> {
    const labels: Record<string, string> = {};
    for (const mode of ["enforce", "audit", "warn"]) {
        labels[`pod-security.kubernetes.io/${mode}`] = "restricted";
        labels[`pod-security.kubernetes.io/${mode}-version`] = "latest";
    }
    return labels;
}

/** `postgresql://user:password@host:port/database`, every part percent-encoded. */
export function connectionUri(parts: { user: string; password: string; host: string; port: number; database: string }): string {
    const host = parts.host.includes(":") ? `[${parts.host}]` : parts.host;
    return `postgresql://${encodeURIComponent(parts.user)}:${encodeURIComponent(parts.password)}@${host}:${parts.port}/${encodeURIComponent(parts.database)}`;
}
