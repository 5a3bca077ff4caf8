/**
 * The reviewed lists of what the `devdb` ServiceAccount may do in the
 * cluster (ClusterRole `devdb-role`, bound cluster-wide) and in each database
 * namespace (ClusterRole `devdb-database`, bound there), and the checks that
 * keep them least privilege. No Pulumi imports: tested directly, read by the docs/platform.md test and
 * by the admission policy (which confines every write it grants).
 */

import { DEVDB_DATABASE_ROLE } from "../../contracts/devdb";

/** One RBAC PolicyRule, as Kubernetes spells it. */
export interface PolicyRule {
    readonly apiGroups: readonly string[];
    readonly resources: readonly string[];
    readonly verbs: readonly string[];
    readonly resourceNames?: readonly string[];
    readonly nonResourceURLs?: readonly string[];
}

/**
 * What the Pulumi Kubernetes provider needs to manage one kind of object for
 * the on-demand program: `create`/`patch` (server-side apply), `get`
 * (refresh), `delete`, and `list`/`watch` because its await logic (creation
 * and deletion) runs an informer on the object's type. No `update`: apply
 * never uses it.
 */
const MANAGE = ["get", "list", "watch", "create", "patch", "delete"] as const;
/** Read only: objects the program waits on but never writes. */
const OBSERVE = ["get", "list", "watch"] as const;

/**
 * ClusterRole `devdb-database`, reviewed: what devdb may do inside one
 * database namespace only. Never bound cluster-wide; the on-demand program's
 * RoleBinding binds it in each database namespace (see NAMESPACED_GRANT_RULES).
 */
export const DEVDB_DATABASE_RULES = [
    // The database's password Secret: the only Secrets devdb ever touches or reads.
    { apiGroups: [""], resources: ["secrets"], verbs: MANAGE },
] as const satisfies readonly PolicyRule[];

/**
 * The namespaced grant: devdb may create, in a database namespace, the one
 * RoleBinding that binds `devdb-database` to itself. `bind` on exactly that
 * ClusterRole (resourceNames) is what lets it bind a role whose permissions it
 * does not hold cluster-wide; the admission policy confines the binding to the
 * prefix's namespaces, that roleRef and devdb as the only subject. These two
 * rules are the only RBAC access the role has, exempted from
 * findRbacViolations by identity (a copy is still refused).
 */
export const NAMESPACED_GRANT_RULES = [
    { apiGroups: ["rbac.authorization.k8s.io"], resources: ["rolebindings"], verbs: MANAGE },
    { apiGroups: ["rbac.authorization.k8s.io"], resources: ["clusterroles"], verbs: ["bind"], resourceNames: [DEVDB_DATABASE_ROLE] },
] as const satisfies readonly PolicyRule[];

/**
 * ClusterRole `devdb-role`, reviewed. Bound cluster-wide because the on-demand
 * program creates a new namespace per database; the ValidatingAdmissionPolicy
 * confines every write below to namespaces with the configured prefix. Reads
 * are cluster-wide, so Secrets are not here: devdb reaches them only through
 * `devdb-database`, bound per database namespace.
 */
export const DEVDB_ROLE_RULES = [
    // One namespace per database; create/patch/delete only for the prefix and with the required labels (admission policy).
    { apiGroups: [""], resources: ["namespaces"], verbs: MANAGE },
    // The Postgres workload; its PVCs come from volumeClaimTemplates or are declared beside it.
    { apiGroups: ["apps"], resources: ["statefulsets"], verbs: MANAGE },
    // Restore script ConfigMap, data volume, LoadBalancer Service, quota and limits (the password Secret: DEVDB_DATABASE_RULES).
    { apiGroups: [""], resources: ["configmaps", "persistentvolumeclaims", "services", "resourcequotas", "limitranges"], verbs: MANAGE },
    { apiGroups: ["networking.k8s.io"], resources: ["networkpolicies"], verbs: MANAGE },
    // Readiness of the StatefulSet's pod (await), and restart = delete the pod (the StatefulSet recreates it).
    { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch", "delete"] },
    // Diagnostics of a failed restore or start.
    { apiGroups: [""], resources: ["pods/log"], verbs: ["get"] },
    // The provider's Service await watches the Service's Endpoints.
    { apiGroups: [""], resources: ["endpoints"], verbs: OBSERVE },
    // Progress and failure reasons of a database being created.
    { apiGroups: [""], resources: ["events"], verbs: ["list"] },
    // The per-namespace binding of devdb-database (the Secrets of that namespace only).
    ...NAMESPACED_GRANT_RULES,
] as const satisfies readonly PolicyRule[];

/** The reviewed exceptions to the RBAC-group refusal, by identity. */
const REVIEWED_GRANTS: ReadonlySet<PolicyRule> = new Set<PolicyRule>(NAMESPACED_GRANT_RULES);

/** Verbs that grant more than their resource: creating bindings, raising a role, acting as someone else. */
export const ESCALATION_VERBS: ReadonlySet<string> = new Set(["bind", "escalate", "impersonate"]);

/** The verbs of resource requests (Kubernetes API concepts); anything else is a special verb. */
export const RESOURCE_VERBS: ReadonlySet<string> = new Set(["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]);

/** API groups whose objects grant or change access: never in the devdb role. */
const FORBIDDEN_GROUPS: ReadonlyMap<string, string> = new Map([
    ["rbac.authorization.k8s.io", "RBAC objects (roles and bindings) grant access"],
    ["admissionregistration.k8s.io", "admission policies and webhooks guard the cluster"],
    ["apiextensions.k8s.io", "CustomResourceDefinitions are cluster-scoped"],
    ["certificates.k8s.io", "certificate signing requests can mint credentials"],
    ["authentication.k8s.io", "token reviews and requests mint or inspect credentials"],
]);

/** Resources (core group unless named) that reach other identities, nodes or a shell. */
const FORBIDDEN_RESOURCES: ReadonlyMap<string, string> = new Map([
    ["nodes", "nodes are cluster-scoped"],
    ["nodes/proxy", "nodes/proxy reaches the kubelet"],
    ["persistentvolumes", "persistent volumes are cluster-scoped"],
    ["serviceaccounts", "ServiceAccounts carry other identities"],
    ["serviceaccounts/token", "minting ServiceAccount tokens is impersonation"],
    ["pods/exec", "exec is a shell in the database pod"],
    ["pods/attach", "attach is a shell in the database pod"],
    ["pods/portforward", "port-forward bypasses the NetworkPolicy"],
    ["pods/proxy", "the pod proxy bypasses the NetworkPolicy"],
    ["pods/ephemeralcontainers", "ephemeral containers run arbitrary images in the pod"],
    ["services/proxy", "the service proxy bypasses the NetworkPolicy"],
    ["namespaces/finalize", "finalize strips a namespace's finalizers"],
    ["namespaces/status", "namespace status belongs to the control plane"],
]);

/**
 * Namespaced resources (by API group) the role may name. Everything else is
 * refused as cluster-scoped or unknown, except core `namespaces` itself.
 */
const NAMESPACED_RESOURCES: ReadonlyMap<string, ReadonlySet<string>> = new Map([
    ["", new Set(["pods", "pods/log", "services", "endpoints", "secrets", "configmaps", "persistentvolumeclaims", "resourcequotas", "limitranges", "events", "replicationcontrollers"])],
    ["apps", new Set(["statefulsets", "deployments", "replicasets", "daemonsets"])],
    ["batch", new Set(["jobs", "cronjobs"])],
    ["networking.k8s.io", new Set(["networkpolicies", "ingresses"])],
    ["policy", new Set(["poddisruptionbudgets"])],
    ["discovery.k8s.io", new Set(["endpointslices"])],
    ["events.k8s.io", new Set(["events"])],
]);

/** The one cluster-scoped resource the role may touch. */
const CLUSTER_SCOPED_ALLOWED = { group: "", resource: "namespaces" } as const;

/**
 * Every least-privilege problem of a list of rules, one readable line each
 * (empty = acceptable): wildcards, escalation or special verbs, non-resource
 * URLs, RBAC/admission/node/identity resources, and cluster-scoped or unknown
 * resources other than namespaces.
 */
export function findRbacViolations(rules: readonly PolicyRule[]): string[] {
    const problems: string[] = [];
    rules.forEach((rule, i) => {
        if (REVIEWED_GRANTS.has(rule)) return;
        const at = `rule ${i} (${describeRule(rule)})`;
        for (const field of ["apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs"] as const) {
            if ((rule[field] ?? []).some((v) => v.includes("*"))) problems.push(`${at}: wildcard "*" in ${field}`);
        }
        if ((rule.nonResourceURLs ?? []).length > 0) problems.push(`${at}: nonResourceURLs are not needed by the on-demand program`);
        if (rule.verbs.length === 0) problems.push(`${at}: no verbs`);
        for (const verb of rule.verbs) {
            if (ESCALATION_VERBS.has(verb)) problems.push(`${at}: escalation verb "${verb}"`);
            else if (!RESOURCE_VERBS.has(verb) && verb !== "*") problems.push(`${at}: special verb "${verb}" (only ${[...RESOURCE_VERBS].join(", ")})`);
        }
        for (const group of rule.apiGroups) {
            const why = FORBIDDEN_GROUPS.get(group);
            if (why) problems.push(`${at}: API group "${group}" is forbidden: ${why}`);
            for (const resource of rule.resources) {
                if (resource.includes("*") || why) continue;
                const forbidden = group === "" ? FORBIDDEN_RESOURCES.get(resource) : undefined;
                if (forbidden) {
                    problems.push(`${at}: resource "${resource}" is forbidden: ${forbidden}`);
                } else if (!(group === CLUSTER_SCOPED_ALLOWED.group && resource === CLUSTER_SCOPED_ALLOWED.resource) && !NAMESPACED_RESOURCES.get(group)?.has(resource)) {
                    problems.push(`${at}: resource "${qualified(group, resource)}" is cluster-scoped or unknown; only namespaces and known namespaced resources are allowed`);
                }
            }
        }
    });
    return problems;
}

/** `resource` or `resource.group`, as kubectl prints it. */
export function qualified(group: string, resource: string): string {
    return group === "" ? resource : `${resource}.${group}`;
}

function describeRule(rule: PolicyRule): string {
    return rule.apiGroups.flatMap((g) => rule.resources.map((r) => qualified(g, r))).join(", ");
}

/** Verbs that change objects; admission sees them, reads it does not. */
export const WRITE_VERBS: ReadonlySet<string> = new Set(["create", "update", "patch", "delete", "deletecollection"]);

/** One (group, resource) pair with the verbs granted on it, merged over all rules. */
export interface Grant {
    readonly group: string;
    readonly resource: string;
    readonly verbs: readonly string[];
}

/** The rules flattened to one entry per (group, resource), verbs in RESOURCE_VERBS order. */
export function grants(rules: readonly PolicyRule[]): Grant[] {
    const byKey = new Map<string, { group: string; resource: string; verbs: Set<string> }>();
    for (const rule of rules) {
        for (const group of rule.apiGroups) {
            for (const resource of rule.resources) {
                const key = `${group}/${resource}`;
                const entry = byKey.get(key) ?? { group, resource, verbs: new Set<string>() };
                rule.verbs.forEach((v) => entry.verbs.add(v));
                byKey.set(key, entry);
            }
        }
    }
    const order = [...RESOURCE_VERBS];
    return [...byKey.values()].map((g) => ({
        group: g.group,
        resource: g.resource,
        verbs: [...g.verbs].sort((a, b) => order.indexOf(a) - order.indexOf(b)),
    }));
}

/**
 * The table (docs/platform.md) of what the ServiceAccount can and cannot do, one row
 * per resource, rendered from the rules so the documentation cannot drift.
 */
export function renderGrantsTable(rules: readonly PolicyRule[]): string {
    const verbs = [...RESOURCE_VERBS];
    const header = `| resource | ${verbs.join(" | ")} |`;
    const line = `| --- | ${verbs.map(() => ":-:").join(" | ")} |`;
    const rows = grants(rules).map((g) => {
        // Special verbs (bind) have no column; they follow the resource's name.
        const special = g.verbs.filter((v) => !RESOURCE_VERBS.has(v));
        const label = `\`${qualified(g.group, g.resource)}\`${special.length > 0 ? ` + ${special.join(", ")}` : ""}`;
        return `| ${label} | ${verbs.map((v) => (g.verbs.includes(v) ? "yes" : "no")).join(" | ")} |`;
    });
    return [header, line, ...rows].join("\n");
}
