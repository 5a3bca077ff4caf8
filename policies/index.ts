/**
 * The dbaas CrossGuard policy pack, served to the Pulumi CLI:
 *   pulumi preview --stack dev --policy-pack policies
 * The policies themselves are in rules.ts.
 */
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./rules";

new PolicyPack("dbaas", {
    description: "Guardrails for the dbaas platform and on-demand database programs: catalog images, memory limits, pod security, closed load balancers, least-privilege RBAC, ECR hygiene, no plain-text secrets, owner/expiry labels.",
    displayName: "dbaas guardrails",
    // A policy without its own level warns; every guardrail above names "mandatory" itself.
    enforcementLevel: "advisory",
    policies,
});
