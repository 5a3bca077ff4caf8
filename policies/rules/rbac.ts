/**
 * RBAC rule: roles grant named verbs on named resources. A wildcard grants
 * whatever the API server adds later; bind, escalate and impersonate let the
 * holder grant itself more than the role says.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { forTypes } from "../lib/policyKit";
import { asArray, asRecord, strings } from "../lib/values";
import { K8S_RBAC_ROLE_TYPES } from "../lib/workloads";

export const ESCALATION_VERBS: ReadonlySet<string> = new Set(["bind", "escalate", "impersonate"]);
const RULE_FIELDS = ["verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs"] as const;

/** Problems of one PolicyRule, each a sentence. */
export function ruleProblems(rule: unknown, index: number): string[] {
    const r = asRecord(rule) ?? {};
    const problems: string[] = [];
    for (const field of RULE_FIELDS) {
        const wild = strings(r[field]).filter((v) => v.includes("*"));
        if (wild.length > 0) problems.push(`rules[${index}].${field} contains ${wild.map((w) => `"${w}"`).join(", ")}: name each ${field === "verbs" ? "verb" : "value"} instead.`);
    }
    const escalating = strings(r.verbs).filter((v) => ESCALATION_VERBS.has(v.toLowerCase()));
    if (escalating.length > 0) problems.push(`rules[${index}].verbs contains ${escalating.join(", ")}, which lets the holder grant itself more: remove it.`);
    return problems;
}

export const rbacLeastPrivilege: ResourceValidationPolicy = {
    name: "rbac-no-wildcards-or-escalation",
    description: "No ClusterRole or Role has * in verbs, apiGroups, resources or URLs, or the verbs bind, escalate or impersonate.",
    enforcementLevel: "mandatory",
    validateResource: forTypes(K8S_RBAC_ROLE_TYPES, (props, _args, report) => {
        asArray(props.rules).forEach((rule, i) => ruleProblems(rule, i).forEach((p) => report(p)));
    }),
};

export const rbacPolicies = [rbacLeastPrivilege];
