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

/** The logical name at the end of a URN (`urn:pulumi:stack::project::type::name`). */
function urnName(urn: string): string {
    return urn.slice(urn.lastIndexOf("::") + 2);
}

/**
 * The URNs to replace: the Docker container the on-demand program names after
 * the database (its image input is an image id, so the name is what identifies
 * it; the one-shot `<name>-fetch` container is left alone), or the Kubernetes
 * workloads. Empty when the stack has none.
 */
export function restartTargets(resources: readonly StateResource[], databaseName: string): string[] {
    return resources
        .filter((r) => (r.type === DOCKER_CONTAINER && urnName(r.urn) === databaseName) || KUBERNETES_WORKLOADS.has(r.type))
        .map((r) => r.urn);
}
