/**
 * Every policy of the dbaas pack, in one array. Separate from index.ts (which
 * serves them to the Pulumi CLI) so tests and other tools can run them
 * without starting a policy server.
 */
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { advisoryPolicies } from "./rules/advisory";
import { ecrPolicies } from "./rules/ecr";
import { exposurePolicies } from "./rules/exposure";
import { imagePolicies } from "./rules/images";
import { labelPolicies } from "./rules/labels";
import { platformKubernetesPolicies } from "./rules/platformKubernetes";
import { podSecurityPolicies } from "./rules/podSecurity";
import { rbacPolicies } from "./rules/rbac";
import { resourcePolicies } from "./rules/resources";
import { secretPolicies } from "./rules/secrets";

export const policies: (ResourceValidationPolicy | StackValidationPolicy)[] = [
    ...imagePolicies,
    ...resourcePolicies,
    ...podSecurityPolicies,
    ...exposurePolicies,
    ...rbacPolicies,
    ...ecrPolicies,
    ...secretPolicies,
    ...labelPolicies,
    ...platformKubernetesPolicies,
    ...advisoryPolicies,
];
