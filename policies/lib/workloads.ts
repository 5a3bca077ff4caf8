/**
 * Where containers live in the resources the programs declare: the pod spec
 * inside each Kubernetes workload kind, and the fields of a Docker container.
 * Rules ask "which containers does this resource run" here, so a new
 * workload kind is added in one place. No Pulumi imports.
 */
import { isPostgresImage } from "./imageRef";
import { asArray, asNumber, asRecord, asString, get, type Props } from "./values";
import { POSTGRES_PORT } from "../../contracts/ports";

export const DOCKER_CONTAINER = "docker:index/container:Container";
export const DOCKER_REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage";
export const DOCKER_IMAGE = "docker:index/image:Image";

/** Path from a workload's props to its pod spec, by Pulumi type token. */
const POD_SPEC_PATH: Readonly<Record<string, readonly string[]>> = {
    "kubernetes:core/v1:Pod": ["spec"],
    "kubernetes:core/v1:ReplicationController": ["spec", "template", "spec"],
    "kubernetes:apps/v1:Deployment": ["spec", "template", "spec"],
    "kubernetes:apps/v1:StatefulSet": ["spec", "template", "spec"],
    "kubernetes:apps/v1:DaemonSet": ["spec", "template", "spec"],
    "kubernetes:apps/v1:ReplicaSet": ["spec", "template", "spec"],
    "kubernetes:batch/v1:Job": ["spec", "template", "spec"],
    "kubernetes:batch/v1:CronJob": ["spec", "jobTemplate", "spec", "template", "spec"],
};

/** Kubernetes types that run pods. */
export const K8S_WORKLOAD_TYPES: readonly string[] = Object.keys(POD_SPEC_PATH);

export const K8S_SERVICE = "kubernetes:core/v1:Service";
export const K8S_CONFIG_MAP = "kubernetes:core/v1:ConfigMap";
export const K8S_NAMESPACE = "kubernetes:core/v1:Namespace";
export const K8S_RBAC_ROLE_TYPES: readonly string[] = [
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
    "kubernetes:rbac.authorization.k8s.io/v1:Role",
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRolePatch",
    "kubernetes:rbac.authorization.k8s.io/v1:RolePatch",
];
export const ECR_REPOSITORY = "aws:ecr/repository:Repository";
export const ECR_LIFECYCLE_POLICY = "aws:ecr/lifecyclePolicy:LifecyclePolicy";

/** The pod spec of a Kubernetes workload, or undefined for other types. */
export function podSpecOf(type: string, props: Props): Props | undefined {
    const path = POD_SPEC_PATH[type];
    return path ? asRecord(get(props, ...path)) : undefined;
}

export type ContainerKind = "container" | "initContainer" | "ephemeralContainer";

/** One container of a pod spec, with what the rules read. */
export interface PodContainer {
    readonly kind: ContainerKind;
    readonly name: string;
    readonly image: string | undefined;
    readonly spec: Props;
}

/** Every container of a pod spec: containers, initContainers and ephemeralContainers. */
export function podContainers(podSpec: Props): PodContainer[] {
    const groups: readonly [ContainerKind, string][] = [
        ["container", "containers"],
        ["initContainer", "initContainers"],
        ["ephemeralContainer", "ephemeralContainers"],
    ];
    return groups.flatMap(([kind, key]) =>
        asArray(podSpec[key]).flatMap((c, i) => {
            const spec = asRecord(c);
            if (!spec) return [];
            return [{ kind, name: asString(spec.name) ?? `${key}[${i}]`, image: asString(spec.image), spec }];
        }),
    );
}

/** `container "postgres"`, `initContainer "restore"`: how messages name a container. */
export function describeContainer(c: PodContainer): string {
    return `${c.kind} "${c.name}"`;
}

const POSTGRES_ENV = /^(?:PGDATA|POSTGRES_(?:USER|DB|PASSWORD|PASSWORD_FILE|INITDB_ARGS|HOST_AUTH_METHOD))$/;

/** Env var names of a Kubernetes container. */
export function k8sEnvNames(container: Props): string[] {
    return asArray(container.env).flatMap((e) => {
        const name = asString(asRecord(e)?.name);
        return name === undefined ? [] : [name];
    });
}

/**
 * A PostgreSQL server container: a Postgres image, or a container that
 * listens on 5432 or is configured through the image's PG/POSTGRES_ variables.
 */
export function isPostgresPodContainer(c: PodContainer): boolean {
    if (c.image !== undefined && isPostgresImage(c.image)) return true;
    if (asArray(c.spec.ports).some((p) => asNumber(asRecord(p)?.containerPort) === POSTGRES_PORT)) return true;
    return c.kind === "container" && k8sEnvNames(c.spec).some((n) => POSTGRES_ENV.test(n));
}

/** A Docker container's env as [name, value] pairs (`envs` holds "NAME=value" strings). */
export function dockerEnv(props: Props): [string, string][] {
    return asArray(props.envs).flatMap((e) => {
        if (typeof e !== "string") return [];
        const eq = e.indexOf("=");
        return [eq === -1 ? [e, ""] : [e.slice(0, eq), e.slice(eq + 1)]] as [string, string][];
    });
}

/** One published port of a Docker container. */
export interface PublishedPort {
    readonly internal: number | undefined;
    readonly external: number | undefined;
    /** Host address; Docker's default when absent is every interface. */
    readonly ip: string | undefined;
    readonly protocol: string;
}

export function dockerPorts(props: Props): PublishedPort[] {
    return asArray(props.ports).flatMap((p) => {
        const port = asRecord(p);
        if (!port) return [];
        return [{
            internal: asNumber(port.internal),
            external: asNumber(port.external),
            ip: asString(port.ip),
            protocol: asString(port.protocol) ?? "tcp",
        }];
    });
}

/** A PostgreSQL server container on Docker (see `isPostgresPodContainer`). */
export function isPostgresDockerContainer(props: Props): boolean {
    const image = asString(props.image);
    if (image !== undefined && isPostgresImage(image)) return true;
    if (dockerPorts(props).some((p) => p.internal === POSTGRES_PORT)) return true;
    return dockerEnv(props).some(([n]) => POSTGRES_ENV.test(n));
}
