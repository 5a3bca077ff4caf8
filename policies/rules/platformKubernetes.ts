/**
 * Rules for the kinds the platform declares on its `kubernetes` target: the
 * admin database on RDS is encrypted at rest and never reachable from the
 * Internet, and every Deployment runs pods that meet the Pod Security
 * "restricted" profile in full (the namespace enforces it too; this catches it
 * at preview, before the API server would refuse the pods one by one).
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { forTypes } from "../lib/policyKit";
import { asRecord, asString, get, strings, type Props } from "../lib/values";
import { describeContainer, podContainers, podSpecOf } from "../lib/workloads";

export const RDS_INSTANCE = "aws:rds/instance:Instance";
export const RDS_CLUSTER = "aws:rds/cluster:Cluster";
export const K8S_DEPLOYMENT = "kubernetes:apps/v1:Deployment";

export const rdsEncryptedAndPrivate: ResourceValidationPolicy = {
    name: "rds-encrypted-and-private",
    description: "RDS instances and clusters encrypt their storage and are not publicly accessible.",
    enforcementLevel: "mandatory",
    validateResource: forTypes([RDS_INSTANCE, RDS_CLUSTER], (props, args, report) => {
        if (props.storageEncrypted !== true) report("storage is not encrypted: set storageEncrypted: true (it cannot be turned on later without a snapshot restore).");
        if (args.type === RDS_INSTANCE && props.publiclyAccessible === true) report("the instance is publicly accessible: set publiclyAccessible: false and reach it from the cluster's VPC.");
    }),
};

/** The problems of one pod spec against the restricted profile, each a sentence naming the field to set. */
export function restrictedPodProblems(podSpec: Props): string[] {
    const problems: string[] = [];
    const podContext = asRecord(podSpec.securityContext) ?? {};
    for (const key of ["hostNetwork", "hostPID", "hostIPC"]) {
        if (podSpec[key] === true) problems.push(`the pod sets ${key}: true; remove it.`);
    }
    const podSeccomp = asString(get(podContext, "seccompProfile", "type"));
    for (const c of podContainers(podSpec)) {
        const own = asRecord(c.spec.securityContext) ?? {};
        const at = describeContainer(c);
        if ((own.runAsNonRoot ?? podContext.runAsNonRoot) !== true) problems.push(`${at}: set securityContext.runAsNonRoot: true.`);
        if (own.privileged === true) problems.push(`${at}: remove securityContext.privileged.`);
        if (own.allowPrivilegeEscalation !== false) problems.push(`${at}: set securityContext.allowPrivilegeEscalation: false.`);
        if (!strings(get(own, "capabilities", "drop")).map((x) => x.toUpperCase()).includes("ALL")) problems.push(`${at}: set securityContext.capabilities.drop: ["ALL"].`);
        const seccomp = asString(get(own, "seccompProfile", "type")) ?? podSeccomp;
        if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost") problems.push(`${at}: set seccompProfile.type: RuntimeDefault (pod or container).`);
        if (c.kind !== "ephemeralContainer" && own.readOnlyRootFilesystem !== true) problems.push(`${at}: set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where it writes.`);
    }
    return problems;
}

export const deploymentRestrictedPods: ResourceValidationPolicy = {
    name: "deployment-restricted-pods",
    description: "Deployments run restricted pods: non-root, no privilege escalation, ALL capabilities dropped, seccomp RuntimeDefault, read-only root filesystem, no host namespaces.",
    enforcementLevel: "mandatory",
    validateResource: forTypes([K8S_DEPLOYMENT], (props, args, report) => {
        const podSpec = podSpecOf(args.type, props);
        if (!podSpec) {
            report("the Deployment has no spec.template.spec.");
            return;
        }
        restrictedPodProblems(podSpec).forEach((p) => report(p));
    }),
};

export const platformKubernetesPolicies = [rdsEncryptedAndPrivate, deploymentRestrictedPods];
