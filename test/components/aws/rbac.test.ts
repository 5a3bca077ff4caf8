import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { DEVDB_DATABASE_RULES, DEVDB_ROLE_RULES, findRbacViolations, grants, NAMESPACED_GRANT_RULES, renderGrantsTable, type PolicyRule } from "../../../components/aws/rbac";
import { DEVDB_DATABASE_ROLE } from "../../../contracts/devdb";
import { ROOT } from "../../support/harness";

const rule = (apiGroups: string[], resources: string[], verbs: string[], extra: Partial<PolicyRule> = {}): PolicyRule => ({ apiGroups, resources, verbs, ...extra });

describe("the reviewed devdb-role rules", () => {
    it("have no least-privilege violations", () => {
        expect(findRbacViolations(DEVDB_ROLE_RULES)).toEqual([]);
    });

    it("grant exactly what the on-demand program needs, by resource", () => {
        const byResource = Object.fromEntries(grants(DEVDB_ROLE_RULES).map((g) => [g.group === "" ? g.resource : `${g.resource}.${g.group}`, g.verbs.join(",")]));
        const manage = "get,list,watch,create,patch,delete";
        expect(byResource).toEqual({
            namespaces: manage,
            "statefulsets.apps": manage,
            configmaps: manage,
            persistentvolumeclaims: manage,
            services: manage,
            resourcequotas: manage,
            limitranges: manage,
            "networkpolicies.networking.k8s.io": manage,
            pods: "get,list,watch,delete",
            "pods/log": "get",
            endpoints: "get,list,watch",
            events: "list",
            // The namespaced grant: the RoleBinding of devdb-database in each database namespace.
            "rolebindings.rbac.authorization.k8s.io": manage,
            "clusterroles.rbac.authorization.k8s.io": "bind",
        });
    });

    it("read no Secret cluster-wide: Secrets only through devdb-database, bound per database namespace", () => {
        expect(grants(DEVDB_ROLE_RULES).map((g) => g.resource)).not.toContain("secrets");
        expect(grants(DEVDB_DATABASE_RULES).map((g) => [g.resource, g.verbs.join(",")])).toEqual([["secrets", "get,list,watch,create,patch,delete"]]);
        expect(findRbacViolations(DEVDB_DATABASE_RULES)).toEqual([]);
    });

    it("never grant update, deletecollection or any special verb but bind on exactly devdb-database", () => {
        const verbs = new Set<string>(DEVDB_ROLE_RULES.flatMap((r) => [...r.verbs]));
        for (const v of ["update", "deletecollection", "escalate", "impersonate", "use", "approve", "*"]) expect(verbs.has(v)).toBe(false);
        const binding = DEVDB_ROLE_RULES.filter((r) => (r.verbs as readonly string[]).includes("bind"));
        expect(binding).toEqual([{ apiGroups: ["rbac.authorization.k8s.io"], resources: ["clusterroles"], verbs: ["bind"], resourceNames: [DEVDB_DATABASE_ROLE] }]);
        expect(DEVDB_ROLE_RULES.filter((r) => (r.apiGroups as readonly string[]).includes("rbac.authorization.k8s.io"))).toEqual([...NAMESPACED_GRANT_RULES]);
    });

    it("exempt the reviewed grant by identity only: the same rules written anywhere else are refused", () => {
        const copies = NAMESPACED_GRANT_RULES.map((r) => ({ ...r }));
        const problems = findRbacViolations(copies);
        expect(problems.join("\n")).toMatch(/rule 0 .*rbac.authorization.k8s.io" is forbidden/);
        expect(problems.join("\n")).toMatch(/rule 1 .*escalation verb "bind"/);
    });
});

describe("findRbacViolations refuses", () => {
    it.each<[string, PolicyRule, RegExp]>([
        ["a wildcard verb", rule([""], ["pods"], ["*"]), /wildcard "\*" in verbs/],
        ["a wildcard resource", rule([""], ["*"], ["get"]), /wildcard "\*" in resources/],
        ["a wildcard subresource", rule([""], ["pods/*"], ["get"]), /wildcard "\*" in resources/],
        ["a wildcard API group", rule(["*"], ["pods"], ["get"]), /wildcard "\*" in apiGroups/],
        ["a wildcard resource name", rule([""], ["pods"], ["get"], { resourceNames: ["*"] }), /wildcard "\*" in resourceNames/],
        ["bind", rule(["rbac.authorization.k8s.io"], ["clusterroles"], ["bind"]), /escalation verb "bind"/],
        ["escalate", rule(["rbac.authorization.k8s.io"], ["roles"], ["escalate"]), /escalation verb "escalate"/],
        ["impersonate", rule([""], ["users"], ["impersonate"]), /escalation verb "impersonate"/],
        ["a special verb", rule(["policy"], ["poddisruptionbudgets"], ["use"]), /special verb "use"/],
        ["roles", rule(["rbac.authorization.k8s.io"], ["roles"], ["get"]), /API group "rbac.authorization.k8s.io" is forbidden/],
        ["rolebindings", rule(["rbac.authorization.k8s.io"], ["rolebindings"], ["create"]), /rbac.authorization.k8s.io" is forbidden/],
        ["clusterroles", rule(["rbac.authorization.k8s.io"], ["clusterroles"], ["list"]), /rbac.authorization.k8s.io" is forbidden/],
        ["admission policies", rule(["admissionregistration.k8s.io"], ["validatingadmissionpolicies"], ["delete"]), /admissionregistration.k8s.io" is forbidden/],
        ["nodes", rule([""], ["nodes"], ["get"]), /resource "nodes" is forbidden/],
        ["nodes/proxy", rule([""], ["nodes/proxy"], ["get"]), /resource "nodes\/proxy" is forbidden/],
        ["persistentvolumes", rule([""], ["persistentvolumes"], ["list"]), /resource "persistentvolumes" is forbidden/],
        ["serviceaccount tokens", rule([""], ["serviceaccounts/token"], ["create"]), /serviceaccounts\/token" is forbidden/],
        ["serviceaccounts", rule([""], ["serviceaccounts"], ["get"]), /resource "serviceaccounts" is forbidden/],
        ["pods/exec", rule([""], ["pods/exec"], ["create"]), /pods\/exec" is forbidden/],
        ["pods/portforward", rule([""], ["pods/portforward"], ["create"]), /pods\/portforward" is forbidden/],
        ["namespaces/finalize", rule([""], ["namespaces/finalize"], ["update"]), /namespaces\/finalize" is forbidden/],
        ["storage classes (cluster-scoped)", rule(["storage.k8s.io"], ["storageclasses"], ["get"]), /storageclasses.storage.k8s.io" is cluster-scoped or unknown/],
        ["CRDs", rule(["apiextensions.k8s.io"], ["customresourcedefinitions"], ["get"]), /apiextensions.k8s.io" is forbidden/],
        ["an unknown group", rule(["example.com"], ["widgets"], ["get"]), /widgets.example.com" is cluster-scoped or unknown/],
        ["non-resource URLs", rule([], [], ["get"], { nonResourceURLs: ["/metrics"] }), /nonResourceURLs are not needed/],
        ["a rule without verbs", rule([""], ["pods"], []), /no verbs/],
    ])("%s", (_what, bad, message) => {
        const problems = findRbacViolations([...DEVDB_ROLE_RULES, bad]);
        expect(problems.length).toBeGreaterThan(0);
        expect(problems.join("\n")).toMatch(message);
        expect(problems.every((p) => p.startsWith(`rule ${DEVDB_ROLE_RULES.length} `))).toBe(true);
    });
});

describe("the table of what the ServiceAccount can do (docs/platform.md)", () => {
    it("is rendered from the reviewed rules", () => {
        const readme = fs.readFileSync(path.join(ROOT, "docs/platform.md"), "utf8");
        expect(readme).toContain(renderGrantsTable(DEVDB_ROLE_RULES));
        expect(readme).toContain(renderGrantsTable(DEVDB_DATABASE_RULES));
    });

    it("has one row per granted resource, yes exactly where a verb is granted", () => {
        const table = renderGrantsTable([rule([""], ["pods"], ["get", "delete"]), rule(["apps"], ["statefulsets"], ["list"])]);
        const rows = table.split("\n");
        expect(rows).toHaveLength(4);
        expect(rows[2]).toBe("| `pods` | yes | no | no | no | no | no | yes | no |");
        expect(rows[3]).toBe("| `statefulsets.apps` | no | yes | no | no | no | no | no | no |");
    });
});
