/**
 * The pod-level decisions every platform Deployment on Kubernetes shares: the
 * Pod Security "restricted" contexts, Guaranteed resources (requests =
 * limits), spreading over zones and nodes, and the disruption budget. Plain
 * objects in the Kubernetes API's shape; no Pulumi imports, tested directly
 * and checked again by the policy pack on the graph.
 */

/** One topologySpreadConstraints entry, as the pod spec takes it. */
export interface SpreadConstraint {
    readonly maxSkew: number;
    readonly topologyKey: string;
    readonly whenUnsatisfiable: "ScheduleAnyway" | "DoNotSchedule";
    readonly labelSelector: { readonly matchLabels: Record<string, string> };
}

/** The pod's securityContext: non-root with a fixed uid/gid, the runtime's default seccomp profile. */
export function restrictedPodSecurityContext(uid: number): Record<string, unknown> {
    return {
        runAsNonRoot: true,
        runAsUser: uid,
        runAsGroup: uid,
        fsGroup: uid,
        seccompProfile: { type: "RuntimeDefault" },
    };
}

/** Every container's securityContext: no privilege escalation, read-only root filesystem, no capabilities. */
export function restrictedContainerSecurityContext(): Record<string, unknown> {
    return {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        privileged: false,
        capabilities: { drop: ["ALL"] },
        seccompProfile: { type: "RuntimeDefault" },
    };
}

/** Requests equal to limits, so the pod is in the Guaranteed QoS class and never overcommits its node. */
export function guaranteedResources(cpuMillicores: number, memoryMb: number): { requests: Record<string, string>; limits: Record<string, string> } {
    if (!Number.isInteger(cpuMillicores) || cpuMillicores < 1) throw new Error(`cpuMillicores must be a whole number >= 1, got ${cpuMillicores}`);
    if (!Number.isInteger(memoryMb) || memoryMb < 1) throw new Error(`memoryMb must be a whole number >= 1, got ${memoryMb}`);
    const amounts = { cpu: `${cpuMillicores}m`, memory: `${memoryMb}Mi` };
    return { requests: { ...amounts }, limits: { ...amounts } };
}

/**
 * Replicas spread over zones (a zone outage leaves the others serving) and
 * over nodes. Zones: best effort (ScheduleAnyway), since a small cluster may
 * have fewer zones than replicas; nodes: required, so two replicas never share
 * one node's fate.
 */
export function zoneAndNodeSpread(matchLabels: Readonly<Record<string, string>>): SpreadConstraint[] {
    return [
        { maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: { ...matchLabels } } },
        { maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: { ...matchLabels } } },
    ];
}

/**
 * The PodDisruptionBudget's spec: a drain may take one replica at a time.
 * With one replica the budget still allows the eviction (maxUnavailable 1),
 * or a node drain would hang forever on a single-replica stack.
 */
export function disruptionBudgetSpec(matchLabels: Readonly<Record<string, string>>): Record<string, unknown> {
    return { maxUnavailable: 1, selector: { matchLabels: { ...matchLabels } } };
}

/** Rolling update that never drops below the wanted replica count (one extra pod at a time). */
export const ROLLING_UPDATE = { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } as const;
