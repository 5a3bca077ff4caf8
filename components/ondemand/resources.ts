/**
 * Compute and storage sizes of one database: requests equal limits (the pod is
 * `Guaranteed`, never evicted before best-effort neighbours), and the
 * namespace's quota admits exactly that pod and its volume. No Pulumi imports.
 */

export interface DatabaseSize {
    readonly memory_mb: number;
    readonly cpu_millicores: number;
    readonly storage_gb: number;
}

/** Size of the download init container: curl streams to disk, so it needs little. */
export const FETCH_RESOURCES = { memory_mb: 128, cpu_millicores: 250 } as const;

/** The fetch step's size, never above the database's own (the LimitRange maximum). */
export function fetchResources(size: { memory_mb: number; cpu_millicores: number }): { memory_mb: number; cpu_millicores: number } {
    return {
        memory_mb: Math.min(FETCH_RESOURCES.memory_mb, size.memory_mb),
        cpu_millicores: Math.min(FETCH_RESOURCES.cpu_millicores, size.cpu_millicores),
    };
}

export interface ResourceRequirements {
    requests: Record<string, string>;
    limits: Record<string, string>;
}

/** requests = limits = the given memory and CPU. */
export function guaranteedResources(size: { memory_mb: number; cpu_millicores: number }): ResourceRequirements {
    const amounts = { cpu: `${size.cpu_millicores}m`, memory: `${size.memory_mb}Mi` };
    return { requests: { ...amounts }, limits: { ...amounts } };
}

/**
 * The namespace's ResourceQuota: one pod of the database's size (the init
 * container runs before, never beside, the server and is no larger, so the
 * pod's effective size is the server's), one PVC, and one load balancer only
 * when the database is exposed.
 */
export function quotaHard(size: DatabaseSize, exposed: boolean): Record<string, string> {
    const cpu = `${size.cpu_millicores}m`;
    const memory = `${size.memory_mb}Mi`;
    return {
        pods: "1",
        "requests.cpu": cpu,
        "limits.cpu": cpu,
        "requests.memory": memory,
        "limits.memory": memory,
        persistentvolumeclaims: "1",
        "requests.storage": `${size.storage_gb}Gi`,
        services: "1",
        "services.loadbalancers": exposed ? "1" : "0",
        "services.nodeports": exposed ? "1" : "0",
    };
}

/** LimitRange items: containers default to the small fetch size and may not exceed the database's size. */
export function limitRangeItems(size: DatabaseSize) {
    const small = guaranteedResources(fetchResources(size)).limits;
    return [
        {
            type: "Container",
            default: small,
            defaultRequest: small,
            max: guaranteedResources(size).limits,
        },
        { type: "PersistentVolumeClaim", max: { storage: `${size.storage_gb}Gi` } },
    ];
}
