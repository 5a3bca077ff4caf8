/**
 * Secrets rule: a secret never sits in plain text where `docker inspect`,
 * `kubectl describe` or anyone who can read a ConfigMap sees it. Containers
 * get secrets as files (`*_FILE`) or `secretKeyRef`; ConfigMaps hold none.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { z } from "zod";
import { configOf, configSchemaOf, forTypes } from "../lib/policyKit";
import { looksLikeSecretName, secretValueReason } from "../lib/secretNames";
import { asArray, asRecord, asString, type Props } from "../lib/values";
import { describeContainer, DOCKER_CONTAINER, dockerEnv, K8S_CONFIG_MAP, K8S_WORKLOAD_TYPES, podContainers, podSpecOf } from "../lib/workloads";

const secretsConfig = z.object({
    allowedNames: z.array(z.string()).default([])
        .describe("Env var / ConfigMap key names that look like secrets but are not (exact names)."),
});

/** Why a plain name=value pair leaks a secret, or undefined. The message never contains the value. */
export function plainSecretProblem(name: string, value: string, allowed: readonly string[]): string | undefined {
    if (allowed.includes(name)) return undefined;
    const shape = secretValueReason(value);
    if (shape) return `"${name}" holds ${shape} in plain text`;
    if (looksLikeSecretName(name)) return `"${name}" looks like a secret and holds a plain value`;
    return undefined;
}

/** The env of a Kubernetes container as plain name/value pairs (valueFrom entries are references, not values). */
function plainK8sEnv(container: Props): [string, string][] {
    return asArray(container.env).flatMap((e) => {
        const entry = asRecord(e);
        const name = asString(entry?.name);
        const value = asString(entry?.value);
        return name === undefined || value === undefined ? [] : [[name, value] as [string, string]];
    });
}

export const noPlaintextSecrets: ResourceValidationPolicy = {
    name: "no-plaintext-secrets",
    description: "No password, secret, token or key in plain container env or in a ConfigMap; use *_FILE, secretKeyRef or a Secret.",
    enforcementLevel: "mandatory",
    configSchema: configSchemaOf(secretsConfig),
    validateResource: forTypes([DOCKER_CONTAINER, K8S_CONFIG_MAP, ...K8S_WORKLOAD_TYPES], (props, args, report) => {
        const { allowedNames } = configOf(noPlaintextSecrets.name, secretsConfig, args.getConfig());
        if (args.type === DOCKER_CONTAINER) {
            for (const [name, value] of dockerEnv(props)) {
                const problem = plainSecretProblem(name, value, allowedNames);
                if (problem) report(`env ${problem}: pass it as a file (${name}_FILE pointing at an uploaded file or secret mount).`);
            }
            return;
        }
        if (args.type === K8S_CONFIG_MAP) {
            for (const field of ["data", "binaryData"]) {
                for (const [key, value] of Object.entries(asRecord(props[field]) ?? {})) {
                    const problem = plainSecretProblem(key, typeof value === "string" ? value : "", allowedNames);
                    if (problem) report(`${field} key ${problem}: put it in a Secret.`);
                }
            }
            return;
        }
        const podSpec = podSpecOf(args.type, props);
        for (const c of podSpec ? podContainers(podSpec) : []) {
            for (const [name, value] of plainK8sEnv(c.spec)) {
                const problem = plainSecretProblem(name, value, allowedNames);
                if (problem) report(`${describeContainer(c)} env ${problem}: use valueFrom.secretKeyRef.`);
            }
        }
    }),
};

export const secretPolicies = [noPlaintextSecrets];
