/**
 * Advisory rules: recommendations that harden a container further but that
 * some images cannot meet yet (the official postgres image starts as root and
 * steps down to uid 999). They warn in preview and never block.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { forTypes } from "../lib/policyKit";
import { asRecord, asString, get, strings } from "../lib/values";
import { describeContainer, DOCKER_CONTAINER, K8S_NAMESPACE, K8S_WORKLOAD_TYPES, podContainers, podSpecOf } from "../lib/workloads";

/** Workloads whose containers serve (and so need a readiness probe); Jobs run to completion. */
const SERVING_TYPES = K8S_WORKLOAD_TYPES.filter((t) => !t.startsWith("kubernetes:batch/"));
const RESTARTING = new Set(["always", "unless-stopped", "on-failure"]);
const POD_SECURITY_ENFORCE = "pod-security.kubernetes.io/enforce";

export const readOnlyRootFilesystem: ResourceValidationPolicy = {
    name: "read-only-root-filesystem",
    description: "Containers run with a read-only root filesystem; writable paths are volumes or tmpfs/emptyDir.",
    enforcementLevel: "advisory",
    validateResource: forTypes([DOCKER_CONTAINER, ...K8S_WORKLOAD_TYPES], (props, args, report) => {
        if (args.type === DOCKER_CONTAINER) {
            if (props.readOnly !== true) report("the root filesystem is writable: set readOnly: true and mount tmpfs where the process writes.");
            return;
        }
        const podSpec = podSpecOf(args.type, props);
        for (const c of podSpec ? podContainers(podSpec) : []) {
            if (get(c.spec, "securityContext", "readOnlyRootFilesystem") !== true) {
                report(`${describeContainer(c)} has a writable root filesystem: set securityContext.readOnlyRootFilesystem: true with emptyDirs where it writes.`);
            }
        }
    }),
};

/** A container Pulumi runs to completion (`attach: true`), like a one-shot fetch: it neither restarts nor serves. */
const isOneShot = (props: Readonly<Record<string, unknown>>): boolean => props.attach === true;

export const restartPolicySet: ResourceValidationPolicy = {
    name: "restart-policy-set",
    description: "Long-running Docker containers restart on failure or reboot (restart: unless-stopped, always or on-failure).",
    enforcementLevel: "advisory",
    validateResource: forTypes([DOCKER_CONTAINER], (props, args, report) => {
        if (isOneShot(props)) args.notApplicable("a one-shot container (attach: true)");
        const restart = asString(props.restart) ?? "no";
        if (!RESTARTING.has(restart)) report(`restart is "${restart}": a crashed or rebooted container stays down; set restart: "unless-stopped".`);
    }),
};

export const healthcheckPresent: ResourceValidationPolicy = {
    name: "healthcheck-present",
    description: "Long-running Docker containers declare a healthcheck; serving Kubernetes containers a readinessProbe.",
    enforcementLevel: "advisory",
    validateResource: forTypes([DOCKER_CONTAINER, ...SERVING_TYPES], (props, args, report) => {
        if (args.type === DOCKER_CONTAINER) {
            if (isOneShot(props)) args.notApplicable("a one-shot container (attach: true)");
            const tests = strings(get(props, "healthcheck", "tests"));
            if (tests.length === 0 || tests[0] === "NONE") report("the container has no healthcheck: add healthcheck.tests (pg_isready, curl /healthz).");
            return;
        }
        const podSpec = podSpecOf(args.type, props);
        for (const c of podSpec ? podContainers(podSpec).filter((x) => x.kind === "container") : []) {
            if (asRecord(c.spec.readinessProbe) === undefined) report(`${describeContainer(c)} has no readinessProbe: traffic reaches it before it is ready.`);
        }
    }),
};

export const dockerNonRootUser: ResourceValidationPolicy = {
    name: "docker-non-root-user",
    description: "Docker containers run as a non-root user (`user`).",
    enforcementLevel: "advisory",
    validateResource: forTypes([DOCKER_CONTAINER], (props, _args, report) => {
        const user = asString(props.user);
        const name = user?.split(":")[0];
        if (name === undefined || name === "" || name === "0" || name === "root") {
            report(`the container runs as ${user ? `"${user}"` : "the image's default user (often root)"}: set user to an unprivileged uid:gid (the postgres image's user is 999:999).`);
        }
    }),
};

export const dockerNoNewPrivileges: ResourceValidationPolicy = {
    name: "docker-no-new-privileges",
    description: "Docker containers set the no-new-privileges security option (no setuid gains).",
    enforcementLevel: "advisory",
    validateResource: forTypes([DOCKER_CONTAINER], (props, _args, report) => {
        if (!strings(props.securityOpts).some((o) => /^no-new-privileges(?:[:=]true)?$/.test(o))) {
            report('securityOpts lacks "no-new-privileges": add it so setuid binaries cannot raise privileges.');
        }
    }),
};

export const seccompRuntimeDefault: ResourceValidationPolicy = {
    name: "seccomp-runtime-default",
    description: "Kubernetes pods use the RuntimeDefault (or a Localhost) seccomp profile.",
    enforcementLevel: "advisory",
    validateResource: forTypes(K8S_WORKLOAD_TYPES, (props, args, report) => {
        const podSpec = podSpecOf(args.type, props);
        if (!podSpec) return;
        const podProfile = asString(get(podSpec, "securityContext", "seccompProfile", "type"));
        for (const c of podContainers(podSpec)) {
            const profile = asString(get(c.spec, "securityContext", "seccompProfile", "type")) ?? podProfile;
            if (profile !== "RuntimeDefault" && profile !== "Localhost") {
                report(`${describeContainer(c)} has seccomp profile ${profile ?? "unset (Unconfined on many nodes)"}: set securityContext.seccompProfile.type: RuntimeDefault.`);
            }
        }
    }),
};

export const namespacePodSecurity: ResourceValidationPolicy = {
    name: "namespace-pod-security-restricted",
    description: `Namespaces enforce the "restricted" Pod Security Standard (${POD_SECURITY_ENFORCE}: restricted).`,
    enforcementLevel: "advisory",
    validateResource: forTypes([K8S_NAMESPACE], (props, args, report) => {
        const level = asString(get(props, "metadata", "labels", POD_SECURITY_ENFORCE));
        if (level !== "restricted") {
            report(`namespace "${asString(get(props, "metadata", "name")) ?? args.name}" enforces ${level ?? "no"} Pod Security level: label it ${POD_SECURITY_ENFORCE}: restricted.`);
        }
    }),
};

export const advisoryPolicies = [
    readOnlyRootFilesystem, restartPolicySet, healthcheckPresent, dockerNonRootUser, dockerNoNewPrivileges,
    seccompRuntimeDefault, namespacePodSecurity,
];
