import { evaluate } from "@marcbachmann/cel-js";
import { describe, expect, it } from "vitest";
import {
    admissionResourceRules,
    DEVDB_USERNAME,
    devDbMatchCondition,
    devDbValidations,
    EXPIRY_LABEL_PATTERN,
    namespacePrefixProblem,
    POD_SECURITY_ENFORCE_LABEL,
    POD_SECURITY_LEVEL,
    type AdmissionResourceRule,
} from "../../../components/aws/admission";
import { DEVDB_ROLE_RULES, grants, qualified, WRITE_VERBS } from "../../../components/aws/rbac";
import { expiryLabelValue, LABELS } from "../../../contracts/labels";
import { DEVDB_DATABASE_ROLE, DEVDB_NAMESPACE, DEVDB_SERVICE_ACCOUNT } from "../../../contracts/devdb";

const PREFIX = "devdb-";
const EXPIRY = expiryLabelValue(new Date("2026-11-23T16:00:00.000Z"));
const GOOD: Record<string, string> = { [LABELS.owner]: "alice", [LABELS.expiresAt]: EXPIRY, [POD_SECURITY_ENFORCE_LABEL]: POD_SECURITY_LEVEL };
const without = (key: string): Record<string, string> => Object.fromEntries(Object.entries(GOOD).filter(([k]) => k !== key));

type Operation = "CREATE" | "UPDATE" | "DELETE";

/** Every string literal a CEL expression contains: which constants it depends on. */
function celStringLiterals(expression: string): string[] {
    return [...expression.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => JSON.parse(`"${m[1] ?? ""}"`) as string);
}

/** The (group, resource) pairs a list of admission rules covers for an operation, as `resource.group`. */
function coveredResources(rules: readonly AdmissionResourceRule[], operation: string): Set<string> {
    return new Set(rules.filter((r) => r.operations.includes(operation)).flatMap((r) => r.apiGroups.flatMap((g) => r.resources.map((res) => qualified(g, res)))));
}

/** The AdmissionRequest variables Kubernetes hands a ValidatingAdmissionPolicy, for one namespace request. */
function namespaceContext(operation: Operation, name: string, labels: Record<string, string> | undefined) {
    const ns = { apiVersion: "v1", kind: "Namespace", metadata: { name, ...(labels ? { labels } : {}) } };
    return {
        request: { operation, name, namespace: "", userInfo: { username: DEVDB_USERNAME }, resource: { group: "", version: "v1", resource: "namespaces" } },
        object: operation === "DELETE" ? null : ns,
        oldObject: operation === "CREATE" ? null : ns,
    };
}

/** The messages of the validations that refuse a request; an evaluation error fails closed (failurePolicy Fail). */
function celRefusals(context: Record<string, unknown>, prefix = PREFIX): string[] {
    return devDbValidations(prefix).filter((v) => {
        try {
            return evaluate(v.expression, context) !== true;
        } catch {
            return true;
        }
    }).map((v) => v.message);
}

/** What the API server decides: every validation true. */
function celAdmits(context: Record<string, unknown>, prefix = PREFIX): boolean {
    return celRefusals(context, prefix).length === 0;
}

describe("namespace requests by the devdb ServiceAccount", () => {
    it.each<[string, Operation, string, Record<string, string> | undefined, boolean]>([
        ["create with prefix and all labels", "CREATE", "devdb-orders", GOOD, true],
        ["update with prefix and all labels", "UPDATE", "devdb-orders", GOOD, true],
        ["delete with prefix (labels not needed)", "DELETE", "devdb-orders", undefined, true],
        ["delete with prefix, labels already stripped", "DELETE", "devdb-x1", {}, true],
        ["create without the prefix", "CREATE", "orders", GOOD, false],
        ["create of the devdb namespace itself", "CREATE", DEVDB_NAMESPACE, GOOD, false],
        ["create with the prefix only inside the name", "CREATE", "team-devdb-orders", GOOD, false],
        ["create with a near-miss prefix", "CREATE", "devdborders", GOOD, false],
        ["delete kube-system", "DELETE", "kube-system", undefined, false],
        ["delete default", "DELETE", "default", undefined, false],
        ["delete the devdb namespace", "DELETE", DEVDB_NAMESPACE, undefined, false],
        ["update kube-public", "UPDATE", "kube-public", GOOD, false],
        ["create without any labels", "CREATE", "devdb-orders", undefined, false],
        ["create without the owner label", "CREATE", "devdb-orders", without(LABELS.owner), false],
        ["create with an empty owner label", "CREATE", "devdb-orders", { ...GOOD, [LABELS.owner]: "" }, false],
        ["create without the expiry label", "CREATE", "devdb-orders", without(LABELS.expiresAt), false],
        ["create with an expiry that is not a timestamp", "CREATE", "devdb-orders", { ...GOOD, [LABELS.expiresAt]: "never" }, false],
        ["create with a colon-free date only", "CREATE", "devdb-orders", { ...GOOD, [LABELS.expiresAt]: "2026-11-23" }, false],
        ["create without Pod Security", "CREATE", "devdb-orders", without(POD_SECURITY_ENFORCE_LABEL), false],
        ["create with Pod Security privileged", "CREATE", "devdb-orders", { ...GOOD, [POD_SECURITY_ENFORCE_LABEL]: "privileged" }, false],
        ["create with Pod Security baseline", "CREATE", "devdb-orders", { ...GOOD, [POD_SECURITY_ENFORCE_LABEL]: "baseline" }, false],
        ["update that removes the owner label", "UPDATE", "devdb-orders", without(LABELS.owner), false],
        ["update that relaxes Pod Security", "UPDATE", "devdb-orders", { ...GOOD, [POD_SECURITY_ENFORCE_LABEL]: "privileged" }, false],
    ])("%s", (_what, operation, name, labels, admitted) => {
        expect(celAdmits(namespaceContext(operation, name, labels))).toBe(admitted);
    });

    it("refusals name the rule that was broken", () => {
        expect(celRefusals(namespaceContext("DELETE", "kube-system", undefined)).join()).toContain(`starts with "${PREFIX}"`);
        expect(celRefusals(namespaceContext("CREATE", "devdb-a", without(LABELS.expiresAt))).join()).toContain(LABELS.expiresAt);
    });

    it("follows the configured prefix, not a hard-coded one", () => {
        const ctx = namespaceContext("CREATE", "db-orders", GOOD);
        expect(celAdmits(ctx, "db-")).toBe(true);
        expect(celAdmits(ctx, PREFIX)).toBe(false);
    });
});

/** The one RoleBinding devdb may write: devdb-database bound to itself (what the on-demand program declares). */
const GOOD_BINDING = {
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: DEVDB_DATABASE_ROLE },
    subjects: [{ kind: "ServiceAccount", name: DEVDB_SERVICE_ACCOUNT, namespace: DEVDB_NAMESPACE }],
};

function roleBindingContext(operation: Operation, namespace: string, binding: Record<string, unknown> | undefined) {
    const object = { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: { name: DEVDB_DATABASE_ROLE, namespace }, ...binding };
    return {
        request: { operation, name: DEVDB_DATABASE_ROLE, namespace, userInfo: { username: DEVDB_USERNAME }, resource: { group: "rbac.authorization.k8s.io", version: "v1", resource: "rolebindings" } },
        object: operation === "DELETE" ? null : object,
        oldObject: operation === "CREATE" ? null : object,
    };
}

describe("RoleBindings by the devdb ServiceAccount (the namespaced grant)", () => {
    const subject = GOOD_BINDING.subjects[0] as Record<string, string>;
    it.each<[string, Operation, string, Record<string, unknown> | undefined, boolean]>([
        ["devdb-database to devdb in a database namespace", "CREATE", "devdb-orders", GOOD_BINDING, true],
        ["the same, patched", "UPDATE", "devdb-orders", GOOD_BINDING, true],
        ["deleted with its namespace's database", "DELETE", "devdb-orders", undefined, true],
        ["outside the prefix", "CREATE", "kube-system", GOOD_BINDING, false],
        ["in the API's own namespace", "CREATE", DEVDB_NAMESPACE, GOOD_BINDING, false],
        ["deleted outside the prefix", "DELETE", "kube-system", undefined, false],
        ["another ClusterRole", "CREATE", "devdb-orders", { ...GOOD_BINDING, roleRef: { ...GOOD_BINDING.roleRef, name: "cluster-admin" } }, false],
        ["a Role of the namespace", "CREATE", "devdb-orders", { ...GOOD_BINDING, roleRef: { ...GOOD_BINDING.roleRef, kind: "Role" } }, false],
        ["to another ServiceAccount", "CREATE", "devdb-orders", { ...GOOD_BINDING, subjects: [{ ...subject, name: "default" }] }, false],
        ["to devdb of another namespace", "CREATE", "devdb-orders", { ...GOOD_BINDING, subjects: [{ ...subject, namespace: "devdb-orders" }] }, false],
        ["to a user", "CREATE", "devdb-orders", { ...GOOD_BINDING, subjects: [{ kind: "User", name: "devdb", apiGroup: "rbac.authorization.k8s.io" }] }, false],
        ["to devdb and someone else", "CREATE", "devdb-orders", { ...GOOD_BINDING, subjects: [subject, { ...subject, name: "default" }] }, false],
        ["without subjects", "CREATE", "devdb-orders", { roleRef: GOOD_BINDING.roleRef }, false],
        ["without a roleRef", "CREATE", "devdb-orders", { subjects: GOOD_BINDING.subjects }, false],
    ])("%s", (_what, operation, namespace, binding, admitted) => {
        expect(celAdmits(roleBindingContext(operation, namespace, binding))).toBe(admitted);
    });

    it("names the rule that was broken", () => {
        expect(celRefusals(roleBindingContext("CREATE", "devdb-orders", { ...GOOD_BINDING, roleRef: { ...GOOD_BINDING.roleRef, name: "admin" } })).join()).toContain(`must bind ClusterRole ${DEVDB_DATABASE_ROLE}`);
    });
});

describe("writes to namespaced objects by the devdb ServiceAccount", () => {
    const writes = grants(DEVDB_ROLE_RULES).filter((g) => g.resource !== "namespaces" && g.verbs.some((v) => WRITE_VERBS.has(v)));

    it.each<[string, string, boolean]>([
        ["in a database namespace", "devdb-orders", true],
        ["in kube-system", "kube-system", false],
        ["in default", "default", false],
        ["in the API's own namespace", DEVDB_NAMESPACE, false],
        ["in a namespace merely containing the prefix", "x-devdb-orders", false],
    ])("%s", (_what, namespace, admitted) => {
        expect(writes.length).toBeGreaterThan(0);
        for (const g of writes) {
            const ctx = {
                request: { operation: "CREATE", name: "x", namespace, userInfo: { username: DEVDB_USERNAME }, resource: { group: g.group, version: "v1", resource: g.resource } },
                // A RoleBinding must also have the reviewed shape (tested above); here only its namespace varies.
                object: { metadata: { name: "x", namespace }, ...(g.resource === "rolebindings" ? GOOD_BINDING : {}) },
                oldObject: null,
            };
            expect(celAdmits(ctx), `${qualified(g.group, g.resource)} in ${namespace}`).toBe(admitted);
        }
    });
});

describe("the policy's scope", () => {
    it("applies to the devdb ServiceAccount's requests only", () => {
        const { expression } = devDbMatchCondition();
        expect(DEVDB_USERNAME).toBe(`system:serviceaccount:${DEVDB_NAMESPACE}:${DEVDB_SERVICE_ACCOUNT}`);
        expect(evaluate(expression, { request: { userInfo: { username: DEVDB_USERNAME } } })).toBe(true);
        expect(evaluate(expression, { request: { userInfo: { username: "system:serviceaccount:kube-system:namespace-controller" } } })).toBe(false);
        expect(evaluate(expression, { request: { userInfo: { username: "arn:aws:iam::123456789012:role/admin" } } })).toBe(false);
    });

    it("sees every write the role grants, with the operations those verbs cause", () => {
        const rules = admissionResourceRules(DEVDB_ROLE_RULES);
        const opOf: Record<string, string> = { create: "CREATE", patch: "UPDATE", update: "UPDATE", delete: "DELETE", deletecollection: "DELETE" };
        for (const g of grants(DEVDB_ROLE_RULES)) {
            for (const verb of g.verbs.filter((v) => WRITE_VERBS.has(v))) {
                expect(coveredResources(rules, opOf[verb] ?? "?").has(qualified(g.group, g.resource)), `${verb} ${qualified(g.group, g.resource)}`).toBe(true);
            }
        }
        // Read-only grants stay out of the policy.
        expect(coveredResources(rules, "CREATE").has("endpoints")).toBe(false);
        expect(coveredResources(rules, "DELETE").has("pods")).toBe(true);
        expect(coveredResources(rules, "CREATE").has("pods")).toBe(false);
    });

    it("CEL strings mention exactly the prefix, the label keys and values, and the expiry pattern", () => {
        const literals = new Set(devDbValidations(PREFIX).flatMap((v) => celStringLiterals(v.expression)));
        expect(literals).toEqual(new Set([
            "", "namespaces", "DELETE", PREFIX,
            LABELS.owner, LABELS.expiresAt, EXPIRY_LABEL_PATTERN, POD_SECURITY_ENFORCE_LABEL, POD_SECURITY_LEVEL,
            "rbac.authorization.k8s.io", "rolebindings", "ClusterRole", DEVDB_DATABASE_ROLE, "ServiceAccount", DEVDB_SERVICE_ACCOUNT, DEVDB_NAMESPACE,
        ]));
        expect(celStringLiterals(devDbMatchCondition().expression)).toEqual([DEVDB_USERNAME]);
    });

    it("the expiry pattern accepts what expiryLabelValue produces", () => {
        for (const d of ["2026-01-01T00:00:00.000Z", "2030-12-31T23:59:59.999Z"]) expect(new RegExp(EXPIRY_LABEL_PATTERN).test(expiryLabelValue(new Date(d)))).toBe(true);
    });
});

describe("namespacePrefixProblem", () => {
    it.each<[string, RegExp | undefined]>([
        ["devdb-", undefined],
        ["db-", undefined],
        ["pg-team1-", undefined],
        ["kube-", /reserves/],
        ["kube-sys-", /reserves/],
        ["aws-", /namespace "aws-observability"/],
        ["dev-", undefined],
        ["amazon-", /amazon-cloudwatch/],
        ["devdb", /ending in "-"/],
        ["Devdb-", /lowercase/],
    ])("%s", (prefix, problem) => {
        const found = namespacePrefixProblem(prefix);
        if (problem === undefined) expect(found).toBeUndefined();
        else expect(found).toMatch(problem);
    });
});
