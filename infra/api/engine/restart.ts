/**
 * Which resources a restart replaces. Pulumi cannot "restart" a container,
 * but replacing the resource that runs the database server does exactly that
 * while its data stays in the volume (Docker) or the PersistentVolumeClaim
 * (a StatefulSet's claims outlive it). The engine runs `up --replace <urn>
 * --target <urn> --target-dependents`, so nothing else in the stack changes.
 * Pure; no Pulumi imports.
 */

/** The part of an exported state resource this module reads. */
export interface StateResource {
    readonly urn: string;
    readonly type: string;
    readonly inputs?: Readonly<Record<string, unknown>>;
}

/** Workload types whose replacement restarts the server of a Kubernetes database. */
const KUBERNETES_WORKLOADS = new Set(["kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:Deployment"]);
const DOCKER_CONTAINER = "docker:index/container:Container";

/**
 * The URNs to replace: Docker containers running the database image (a
 * one-shot download container runs another image and is left alone), or the
 * Kubernetes workloads. Empty when the stack has none.
 */
export function restartTargets(resources: readonly StateResource[], databaseImage: string): string[] {
    return resources
        .filter((r) => (r.type === DOCKER_CONTAINER && r.inputs?.image === databaseImage) || KUBERNETES_WORKLOADS.has(r.type))
        .map((r) => r.urn);
}
