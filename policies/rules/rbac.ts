/**
 * RBAC rule: roles grant named verbs on named resources. A wildcard grants
 * whatever the API server adds later; escalate, impersonate and an unnamed
 * bind let the holder grant itself more than the role says (a bind on named
 * roles grants no more than those roles).
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { forTypes } from "../lib/policyKit";
import { asArray, asRecord, strings } from "../lib/values";
import { K8S_RBAC_ROLE_TYPES } from "../lib/workloads";

export const ESCALATION_VERBS: ReadonlySet<string> = new Set(["bind", "escalate", "impersonate"]);
/** What `bind` applies to. */
const ROLE_RESOURCES: ReadonlySet<string> = new Set(["roles", "clusterroles"]);
const RULE_FIELDS = ["verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs"] as const;

/** Problems of one PolicyRule, each a sentence. */
export function ruleProblems(rule: unknown, index: number): string[] {
    const r = asRecord(rule) ?? {};
    const problems: string[] = [];
    for (const field of RULE_FIELDS) {
        const wild = strings(r[field]).filter((v) => v.includes("*"));
        if (wild.length > 0) problems.push(`rules[${index}].${field} contains ${wild.map((w) => `"${w}"`).join(", ")}: name each ${field === "verbs" ? "verb" : "value"} instead.`);
    }
    // bind limited to named roles only lets the holder bind what those roles grant (the devdb namespaced grant).
    const namedBind = strings(r.resourceNames).length > 0 && strings(r.resources).every((res) => ROLE_RESOURCES.has(res));
    const escalating = strings(r.verbs).filter((v) => ESCALATION_VERBS.has(v.toLowerCase()) && !(namedBind && v.toLowerCase() === "bind"));
    if (escalating.length > 0) problems.push(`rules[${index}].verbs contains ${escalating.join(", ")}, which lets the holder grant itself more: remove it.`);
    return problems;
}

export const rbacLeastPrivilege: ResourceValidationPolicy = {
    name: "rbac-no-wildcards-or-escalation",
    description: "No ClusterRole or Role has * in verbs, apiGroups, resources or URLs, or the verbs escalate, impersonate, or bind on roles it does not name (resourceNames).",
    enforcementLevel: "mandatory",
    validateResource: forTypes(K8S_RBAC_ROLE_TYPES, (props, _args, report) => {
        asArray(props.rules).forEach((rule, i) => ruleProblems(rule, i).forEach((p) => report(p)));
    }),
};

export const rbacPolicies = [rbacLeastPrivilege];
