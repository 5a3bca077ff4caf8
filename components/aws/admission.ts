/**
 * The admission policy that confines the `devdb` ServiceAccount: it may only
 * create, change or delete namespaces named with the on-demand prefix that
 * carry the owner, expiry and Pod Security labels, and may only write objects
 * inside such namespaces. RBAC cannot express "names starting with", so a
 * ValidatingAdmissionPolicy (CEL, evaluated by the API server) does.
 *
 * The CEL strings are built here from the shared constants; the tests
 * evaluate them (with a CEL interpreter) over a table of requests. No Pulumi
 * imports.
 */
import { WRITE_VERBS, type PolicyRule } from "./rbac";
import { LABELS } from "../../contracts/labels";
import { DEVDB_DATABASE_ROLE, DEVDB_NAMESPACE, DEVDB_SERVICE_ACCOUNT } from "../../contracts/devdb";
import { NAMESPACE_PREFIX_PATTERN } from "../../contracts/stackConfig";

/** Pod Security admission label every on-demand namespace must carry, and its value. */
export const POD_SECURITY_ENFORCE_LABEL = "pod-security.kubernetes.io/enforce";
export const POD_SECURITY_LEVEL = "restricted";

/** Labels (keys from contracts/labels.ts) a namespace needs, non-empty, to be created or changed by devdb. */
export const REQUIRED_NAMESPACE_LABELS = [LABELS.owner, LABELS.expiresAt] as const;

/** Shape of `expiryLabelValue()` in contracts/labels.ts: `2026-11-23T16-00-00Z` (RE2 and JS alike). */
export const EXPIRY_LABEL_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}-[0-9]{2}-[0-9]{2}Z$";

/** Object names of the policy and its binding (cluster-scoped). */
export const DEVDB_ADMISSION_POLICY = `${DEVDB_NAMESPACE}-scope`;

/** The user name Kubernetes gives a ServiceAccount's requests. */
export function serviceAccountUsername(namespace: string, serviceAccount: string): string {
    return `system:serviceaccount:${namespace}:${serviceAccount}`;
}
export const DEVDB_USERNAME = serviceAccountUsername(DEVDB_NAMESPACE, DEVDB_SERVICE_ACCOUNT);

/** Namespaces that must never fall under the prefix (Kubernetes, EKS add-ons, the API's own). */
export const PROTECTED_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease", "amazon-cloudwatch", "aws-observability", DEVDB_NAMESPACE] as const;

/**
 * Why a namespace prefix would be unsafe, or undefined when it is fine. A
 * prefix like `kube-` would let the API delete `kube-system`.
 */
export function namespacePrefixProblem(prefix: string): string | undefined {
    if (!NAMESPACE_PREFIX_PATTERN.test(prefix)) return `namespace prefix "${prefix}" must be lowercase letters, digits and hyphens, starting with a letter and ending in "-" (e.g. devdb-)`;
    if (prefix.startsWith("kube-")) return `namespace prefix "${prefix}" starts with "kube-", which Kubernetes reserves`;
    const hit = PROTECTED_NAMESPACES.find((ns) => ns.startsWith(prefix));
    if (hit) return `namespace prefix "${prefix}" would let the devdb ServiceAccount create or delete namespace "${hit}"; choose a prefix no system namespace starts with`;
    return undefined;
}

/** A CEL string literal (CEL accepts JSON's escapes for these plain strings). */
function lit(text: string): string {
    return JSON.stringify(text);
}

/** One `validations` entry of the policy. */
export interface CelValidation {
    readonly expression: string;
    readonly message: string;
    readonly reason: "Forbidden";
}

/** The `matchConditions` entry: the policy looks at requests of the devdb ServiceAccount only. */
export function devDbMatchCondition(): { name: string; expression: string } {
    return { name: "devdb-service-account", expression: `request.userInfo.username == ${lit(DEVDB_USERNAME)}` };
}

/**
 * The four validations, for a prefix. Kubernetes admits a request only when
 * all are true; an evaluation error (e.g. a missing key) fails closed
 * (failurePolicy Fail).
 */
export function devDbValidations(prefix: string): CelValidation[] {
    const isNamespace = `request.resource.group == "" && request.resource.resource == "namespaces"`;
    // DELETE carries no `object`; the namespace being deleted is `oldObject`.
    const subject = `(request.operation == "DELETE" ? oldObject : object)`;
    const labels = "object.metadata.labels";
    const labelChecks = [
        ...REQUIRED_NAMESPACE_LABELS.map((k) => `${lit(k)} in ${labels} && ${labels}[${lit(k)}] != ""`),
        `${labels}[${lit(LABELS.expiresAt)}].matches(${lit(EXPIRY_LABEL_PATTERN)})`,
        `${lit(POD_SECURITY_ENFORCE_LABEL)} in ${labels} && ${labels}[${lit(POD_SECURITY_ENFORCE_LABEL)}] == ${lit(POD_SECURITY_LEVEL)}`,
    ];
    // The namespaced grant (rbac.ts NAMESPACED_GRANT_RULES): exactly one binding shape.
    const isRoleBinding = `request.resource.group == "rbac.authorization.k8s.io" && request.resource.resource == "rolebindings"`;
    const roleBindingChecks = [
        `object.roleRef.apiGroup == "rbac.authorization.k8s.io"`,
        `object.roleRef.kind == "ClusterRole"`,
        `object.roleRef.name == ${lit(DEVDB_DATABASE_ROLE)}`,
        `has(object.subjects) && object.subjects.size() == 1`,
        `object.subjects[0].kind == "ServiceAccount"`,
        `object.subjects[0].name == ${lit(DEVDB_SERVICE_ACCOUNT)}`,
        // A subject without a namespace is an evaluation error, refused (failurePolicy Fail).
        `object.subjects[0].namespace == ${lit(DEVDB_NAMESPACE)}`,
    ];
    return [
        {
            expression: `!(${isNamespace}) || ${subject}.metadata.name.startsWith(${lit(prefix)})`,
            message: `the devdb ServiceAccount may only create, change or delete namespaces whose name starts with "${prefix}"`,
            reason: "Forbidden",
        },
        {
            expression: `!(${isNamespace}) || request.operation == "DELETE" || (has(${labels}) && ${labelChecks.join(" && ")})`,
            message: `namespaces created or changed by the devdb ServiceAccount must carry labels ${REQUIRED_NAMESPACE_LABELS.join(", ")} (non-empty; expiry as YYYY-MM-DDTHH-MM-SSZ) and ${POD_SECURITY_ENFORCE_LABEL}=${POD_SECURITY_LEVEL}`,
            reason: "Forbidden",
        },
        {
            expression: `(${isNamespace}) || request.namespace.startsWith(${lit(prefix)})`,
            message: `the devdb ServiceAccount may only write objects in namespaces whose name starts with "${prefix}"`,
            reason: "Forbidden",
        },
        {
            expression: `!(${isRoleBinding}) || request.operation == "DELETE" || (${roleBindingChecks.join(" && ")})`,
            message: `RoleBindings written by the devdb ServiceAccount must bind ClusterRole ${DEVDB_DATABASE_ROLE} to ServiceAccount ${DEVDB_NAMESPACE}/${DEVDB_SERVICE_ACCOUNT} only`,
            reason: "Forbidden",
        },
    ];
}

/** One `matchConstraints.resourceRules` entry. */
export interface AdmissionResourceRule {
    readonly apiGroups: string[];
    readonly apiVersions: string[];
    readonly operations: string[];
    readonly resources: string[];
}

const OPERATION_OF_VERB: Readonly<Record<string, string>> = {
    create: "CREATE",
    update: "UPDATE",
    patch: "UPDATE",
    delete: "DELETE",
    deletecollection: "DELETE",
};

/**
 * The requests the policy must see: every (group, resource) the role can
 * write, with the admission operations its write verbs cause. Derived from
 * the RBAC rules so a write granted later is confined automatically.
 */
export function admissionResourceRules(rules: readonly PolicyRule[]): AdmissionResourceRule[] {
    const out: AdmissionResourceRule[] = [];
    for (const rule of rules) {
        const operations = [...new Set(rule.verbs.filter((v) => WRITE_VERBS.has(v)).map((v) => OPERATION_OF_VERB[v] ?? v.toUpperCase()))].sort();
        if (operations.length === 0) continue;
        // Subresources (pods/log) are reads only in the role; a write on one would need "pods/x" here too.
        out.push({ apiGroups: [...rule.apiGroups], apiVersions: ["*"], operations, resources: [...rule.resources] });
    }
    return out;
}
