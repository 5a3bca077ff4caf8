/**
 * ECR rules: a pushed tag always means the same image, every image is
 * scanned when pushed, and old images expire under a lifecycle policy.
 */
import type { PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { forTypes } from "../lib/policyKit";
import { asArray, asRecord, asString, get } from "../lib/values";
import { ECR_LIFECYCLE_POLICY, ECR_REPOSITORY } from "../lib/workloads";

export const ecrImmutableTags: ResourceValidationPolicy = {
    name: "ecr-immutable-tags",
    description: "ECR repositories have immutable tags, so a tag cannot be re-pointed at another image.",
    enforcementLevel: "mandatory",
    validateResource: forTypes([ECR_REPOSITORY], (props, _args, report) => {
        const mutability = asString(props.imageTagMutability) ?? "MUTABLE (the default)";
        if (mutability !== "IMMUTABLE") report(`imageTagMutability is ${mutability}: set it to "IMMUTABLE".`);
    }),
};

export const ecrScanOnPush: ResourceValidationPolicy = {
    name: "ecr-scan-on-push",
    description: "ECR repositories scan every image on push.",
    enforcementLevel: "mandatory",
    validateResource: forTypes([ECR_REPOSITORY], (props, _args, report) => {
        if (get(props, "imageScanningConfiguration", "scanOnPush") !== true) {
            report("images are not scanned on push: set imageScanningConfiguration: { scanOnPush: true }.");
        }
    }),
};

/** The number of rules in a lifecycle policy document, or undefined when it is not valid JSON. */
export function lifecycleRuleCount(policy: unknown): number | undefined {
    let doc: unknown = policy;
    if (typeof policy === "string") {
        try {
            doc = JSON.parse(policy) as unknown;
        } catch {
            return undefined;
        }
    }
    const rules = asRecord(doc)?.rules;
    return Array.isArray(rules) ? asArray(rules).length : undefined;
}

/** True when the lifecycle policy targets the repository: by name, or by depending on it. */
function targets(lifecycle: PolicyResource, repository: PolicyResource): boolean {
    const name = asString(repository.props.name);
    if (name !== undefined && asString(lifecycle.props.repository) === name) return true;
    const deps = [...lifecycle.dependencies, ...(lifecycle.propertyDependencies.repository ?? [])];
    return deps.some((d) => d.urn === repository.urn);
}

export const ecrLifecyclePolicy: StackValidationPolicy = {
    name: "ecr-lifecycle-policy",
    description: "Every ECR repository has a lifecycle policy with at least one rule, so old images expire.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
        const repositories = args.resources.filter((r) => r.type === ECR_REPOSITORY);
        if (repositories.length === 0) args.notApplicable("no ECR repository");
        const lifecycles = args.resources.filter((r) => r.type === ECR_LIFECYCLE_POLICY);
        for (const repo of repositories) {
            const own = lifecycles.filter((l) => targets(l, repo));
            if (own.length === 0) {
                report(`ECR repository "${repo.name}" has no aws.ecr.LifecyclePolicy: add one (keep the last N tagged images, expire untagged ones).`, repo.urn);
            }
        }
        for (const l of lifecycles) {
            const count = lifecycleRuleCount(l.props.policy);
            if (count === undefined || count === 0) {
                report(`lifecycle policy "${l.name}" ${count === undefined ? "is not a JSON document with rules" : "has no rules"}: add at least one rule.`, l.urn);
            }
        }
    },
};

export const ecrPolicies = [ecrImmutableTags, ecrScanOnPush, ecrLifecyclePolicy];
