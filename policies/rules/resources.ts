/**
 * Resource rules: every container has a memory limit, so one runaway process
 * cannot take the host or node down; PostgreSQL pods run with requests equal
 * to limits (Guaranteed QoS), so the node never overcommits a database.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { forTypes } from "../lib/policyKit";
import { parseQuantity, sameQuantity } from "../lib/quantity";
import { asNumber, get } from "../lib/values";
import { describeContainer, DOCKER_CONTAINER, isPostgresPodContainer, K8S_WORKLOAD_TYPES, podContainers, podSpecOf } from "../lib/workloads";

/** A quantity as written (`512Mi`, 2), or undefined when absent or not a scalar. */
function quantityText(value: unknown): string | undefined {
    return typeof value === "string" || typeof value === "number" ? String(value) : undefined;
}

export const memoryLimits: ResourceValidationPolicy = {
    name: "memory-limits",
    description: "Every container has a memory limit (Docker `memory`, Kubernetes `resources.limits.memory`).",
    enforcementLevel: "mandatory",
    validateResource: forTypes([DOCKER_CONTAINER, ...K8S_WORKLOAD_TYPES], (props, args, report) => {
        if (args.type === DOCKER_CONTAINER) {
            const mb = asNumber(props.memory);
            if (mb === undefined || mb <= 0) report("the container has no memory limit: set `memory` (MiB) from the stack config.");
            return;
        }
        const podSpec = podSpecOf(args.type, props);
        if (!podSpec) return;
        for (const c of podContainers(podSpec)) {
            if (c.kind === "ephemeralContainer") continue; // ephemeral containers cannot have resources
            const limit = parseQuantity(get(c.spec, "resources", "limits", "memory"));
            if (limit === undefined || limit <= 0) report(`${describeContainer(c)} has no memory limit: set resources.limits.memory.`);
        }
    }),
};

export const postgresGuaranteedResources: ResourceValidationPolicy = {
    name: "postgres-requests-equal-limits",
    description: "Kubernetes PostgreSQL pods set cpu and memory requests equal to their limits (Guaranteed QoS).",
    enforcementLevel: "mandatory",
    validateResource: forTypes(K8S_WORKLOAD_TYPES, (props, args, report) => {
        const podSpec = podSpecOf(args.type, props);
        const containers = podSpec ? podContainers(podSpec).filter((c) => c.kind !== "ephemeralContainer") : [];
        if (!containers.some(isPostgresPodContainer)) args.notApplicable("not a PostgreSQL pod");
        // Guaranteed QoS needs every container of the pod, init containers included, to match.
        for (const c of containers) {
            for (const resource of ["cpu", "memory"]) {
                const limit = quantityText(get(c.spec, "resources", "limits", resource));
                const request = quantityText(get(c.spec, "resources", "requests", resource));
                if (limit === undefined) {
                    report(`${describeContainer(c)} has no ${resource} limit: set resources.limits.${resource} and the same resources.requests.${resource}.`);
                } else if (request === undefined) {
                    report(`${describeContainer(c)} has no ${resource} request: set resources.requests.${resource} to the limit (${limit}).`);
                } else if (!sameQuantity(request, limit)) {
                    report(`${describeContainer(c)} requests ${request} ${resource} but is limited to ${limit}: make them equal.`);
                }
            }
        }
    }),
};

export const resourcePolicies = [memoryLimits, postgresGuaranteedResources];
