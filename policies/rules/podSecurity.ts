/**
 * Pod security rules (Kubernetes "restricted" profile, and the Docker
 * equivalents): no privileged containers, non-root, no privilege escalation,
 * capabilities dropped, no access to the host's namespaces, paths or devices.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { z } from "zod";
import { configOf, configSchemaOf, forTypes } from "../lib/policyKit";
import { acmeChallengeDirsOfStackConfig, REPO_ROOT, resolveFromStacks, stackEnvironment, type Resolution } from "../lib/stackSource";
import { asArray, asNumber, asRecord, asString, get, strings, type Props } from "../lib/values";
import { describeContainer, DOCKER_CONTAINER, K8S_WORKLOAD_TYPES, podContainers, podSpecOf, type PodContainer } from "../lib/workloads";

/** The pod spec of a Kubernetes workload and all its containers. */
function pod(type: string, props: Props): { spec: Props; containers: PodContainer[] } | undefined {
    const spec = podSpecOf(type, props);
    return spec ? { spec, containers: podContainers(spec) } : undefined;
}

const securityContext = (c: PodContainer): Props => asRecord(c.spec.securityContext) ?? {};

export const noPrivilegedContainers: ResourceValidationPolicy = {
    name: "no-privileged-containers",
    description: "No container runs privileged (full access to the host's devices and kernel).",
    enforcementLevel: "mandatory",
    validateResource: forTypes([DOCKER_CONTAINER, ...K8S_WORKLOAD_TYPES], (props, args, report) => {
        if (args.type === DOCKER_CONTAINER) {
            if (props.privileged === true) report("the container is privileged: remove `privileged: true`.");
            return;
        }
        for (const c of pod(args.type, props)?.containers ?? []) {
            if (securityContext(c).privileged === true) report(`${describeContainer(c)} is privileged: remove securityContext.privileged.`);
        }
    }),
};

export const runAsNonRoot: ResourceValidationPolicy = {
    name: "run-as-non-root",
    description: "Kubernetes containers set runAsNonRoot and never run as uid 0.",
    enforcementLevel: "mandatory",
    validateResource: forTypes(K8S_WORKLOAD_TYPES, (props, args, report) => {
        const p = pod(args.type, props);
        if (!p) return;
        const podContext = asRecord(p.spec.securityContext) ?? {};
        for (const c of p.containers) {
            const own = securityContext(c);
            const nonRoot = own.runAsNonRoot ?? podContext.runAsNonRoot;
            const uid = asNumber(own.runAsUser ?? podContext.runAsUser);
            if (nonRoot !== true) report(`${describeContainer(c)} may run as root: set securityContext.runAsNonRoot: true (pod or container).`);
            if (uid === 0) report(`${describeContainer(c)} runs as uid 0: set runAsUser to an unprivileged uid (postgres: 999).`);
        }
    }),
};

export const noPrivilegeEscalation: ResourceValidationPolicy = {
    name: "no-privilege-escalation",
    description: "Kubernetes containers set allowPrivilegeEscalation: false (no setuid gains).",
    enforcementLevel: "mandatory",
    validateResource: forTypes(K8S_WORKLOAD_TYPES, (props, args, report) => {
        for (const c of pod(args.type, props)?.containers ?? []) {
            if (securityContext(c).allowPrivilegeEscalation !== false) {
                report(`${describeContainer(c)} allows privilege escalation: set securityContext.allowPrivilegeEscalation: false.`);
            }
        }
    }),
};

/** Capabilities Docker grants by default: adding one back after dropping ALL is no escalation. */
export const DOCKER_DEFAULT_CAPABILITIES: ReadonlySet<string> = new Set([
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
    "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
]);
/** The only capability the Kubernetes "restricted" profile lets a container add. */
const K8S_ALLOWED_ADDS: ReadonlySet<string> = new Set(["NET_BIND_SERVICE"]);
const capability = (name: string): string => name.toUpperCase().replace(/^CAP_/, "");

export const dropAllCapabilities: ResourceValidationPolicy = {
    name: "drop-all-capabilities",
    description: "Kubernetes containers drop ALL capabilities (adding back only NET_BIND_SERVICE); Docker containers add none beyond Docker's defaults.",
    enforcementLevel: "mandatory",
    validateResource: forTypes([DOCKER_CONTAINER, ...K8S_WORKLOAD_TYPES], (props, args, report) => {
        if (args.type === DOCKER_CONTAINER) {
            const extra = strings(get(props, "capabilities", "adds")).map(capability).filter((c) => !DOCKER_DEFAULT_CAPABILITIES.has(c));
            if (extra.length > 0) report(`the container adds capabilities beyond Docker's defaults: ${extra.join(", ")}. Remove them from capabilities.adds.`);
            return;
        }
        for (const c of pod(args.type, props)?.containers ?? []) {
            const caps = asRecord(securityContext(c).capabilities) ?? {};
            if (!strings(caps.drop).map(capability).includes("ALL")) {
                report(`${describeContainer(c)} does not drop all capabilities: set securityContext.capabilities.drop: ["ALL"].`);
            }
            const extra = strings(caps.add).map(capability).filter((a) => !K8S_ALLOWED_ADDS.has(a));
            if (extra.length > 0) report(`${describeContainer(c)} adds capabilities ${extra.join(", ")}: only NET_BIND_SERVICE may be added back.`);
        }
    }),
};

const hostAccessConfig = z.object({
    allowedDockerHostPaths: z.array(z.string()).default(["/var/run/docker.sock"])
        .describe("Host paths a Docker container may bind-mount. The default admits the Docker socket, which the API needs to create databases on the docker target."),
    readOnlyDockerHostPaths: z.array(z.string()).default([])
        .describe("Host paths a Docker container may bind-mount read-only. Empty: the platform stack's tls.acmeChallengeDir (the ACME http-01 web root nginx serves)."),
});

/** A host path a Docker container binds (`volumes[].hostPath`, `mounts[type=bind].source`) and whether read-only. */
export interface HostBind {
    readonly hostPath: string;
    readonly readOnly: boolean;
}

export function dockerHostBinds(props: Props): HostBind[] {
    const fromVolumes = asArray(props.volumes).flatMap((v) => {
        const volume = asRecord(v);
        const hostPath = asString(volume?.hostPath);
        return hostPath === undefined ? [] : [{ hostPath, readOnly: volume?.readOnly === true }];
    });
    const fromMounts = asArray(props.mounts).flatMap((m) => {
        const mount = asRecord(m);
        const source = asString(mount?.source);
        return mount && asString(mount.type) === "bind" && source !== undefined ? [{ hostPath: source, readOnly: mount.readOnly === true }] : [];
    });
    return [...fromVolumes, ...fromMounts];
}

/** Paths that may be bound read-only: the policy config's, else the platform stacks' ACME directory. */
function readOnlyPaths(configured: readonly string[]): Resolution<string> {
    if (configured.length > 0) return { values: configured, source: "the policy config (readOnlyDockerHostPaths)" };
    return resolveFromStacks(stackEnvironment(), REPO_ROOT, acmeChallengeDirsOfStackConfig);
}

export const noHostAccess: ResourceValidationPolicy = {
    name: "no-host-access",
    description: "No container shares the host's network, PID, IPC or user namespace, mounts host paths (hostPath, bind mounts) or devices, or binds host ports.",
    enforcementLevel: "mandatory",
    configSchema: configSchemaOf(hostAccessConfig),
    validateResource: forTypes([DOCKER_CONTAINER, ...K8S_WORKLOAD_TYPES], (props, args, report) => {
        if (args.type === DOCKER_CONTAINER) {
            const { allowedDockerHostPaths, readOnlyDockerHostPaths } = configOf(noHostAccess.name, hostAccessConfig, args.getConfig());
            for (const key of ["networkMode", "pidMode", "ipcMode", "usernsMode", "cgroupnsMode"]) {
                if (asString(props[key]) === "host") report(`${key} is "host": the container shares the host's namespace. Use a Docker network / the default mode.`);
            }
            const binds = dockerHostBinds(props).filter((b) => !allowedDockerHostPaths.includes(b.hostPath));
            const readOnly = binds.length > 0 ? readOnlyPaths(readOnlyDockerHostPaths) : { values: [], source: "" };
            for (const { hostPath, readOnly: isReadOnly } of binds) {
                if (!readOnly.values.includes(hostPath)) {
                    report(`the container bind-mounts the host path ${hostPath}: use a named volume or upload the file instead.`);
                } else if (!isReadOnly) {
                    report(`the container bind-mounts ${hostPath} (allowed read-only by ${readOnly.source}) read-write: set readOnly: true.`);
                }
            }
            if (asArray(props.devices).length > 0) report("the container maps host devices: remove `devices`.");
            return;
        }
        const p = pod(args.type, props);
        if (!p) return;
        for (const key of ["hostNetwork", "hostPID", "hostIPC"]) {
            if (p.spec[key] === true) report(`the pod sets ${key}: true and shares the node's namespace; remove it.`);
        }
        for (const v of asArray(p.spec.volumes)) {
            const volume = asRecord(v);
            if (volume?.hostPath !== undefined) report(`volume "${asString(volume.name) ?? "?"}" is a hostPath: use a PersistentVolumeClaim, emptyDir, Secret or ConfigMap.`);
        }
        for (const c of p.containers) {
            for (const port of asArray(c.spec.ports)) {
                const hostPort = asNumber(asRecord(port)?.hostPort);
                if (hostPort !== undefined && hostPort > 0) report(`${describeContainer(c)} binds hostPort ${hostPort}: expose it through a Service instead.`);
            }
        }
    }),
};

export const podSecurityPolicies = [noPrivilegedContainers, runAsNonRoot, noPrivilegeEscalation, dropAllCapabilities, noHostAccess];
