/**
 * Every policy of the pack, table-driven: resources that violate it (the
 * violation is reported, at the policy's level, with the message checked) and
 * resources that comply (no violation). Runs through the policy harness, i.e.
 * the same argument building and not-applicable handling as the policy server.
 */
import { describe, expect, it } from "vitest";
import type { PolicyPackConfig } from "@pulumi/policy";
import { policies } from "../../policies/rules";
import {
    CATALOG, configMap, dockerApi, dockerNginx, dockerPostgres, ecrLifecycle, ecrRepository, ID_A, ID_B, LEAST_RULES,
    loadBalancer, namespace, ONDEMAND_LABELS, pgContainer, remoteImage, resource, restoreInitContainer, role, statefulSet,
} from "./fixtures";
import { runPolicy, type TestResource } from "./policyHarness";
import { LABELS } from "../../contracts/labels";
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from "../../components/kubernetes/restricted";

interface Row {
    /** The policy's name. */
    readonly policy: string;
    readonly title: string;
    readonly resources: TestResource[];
    /** A violation message that must be reported; undefined = the resources comply. */
    readonly violation?: RegExp;
    readonly config?: PolicyPackConfig;
}

const catalogConfig: PolicyPackConfig = {
    "postgres-image-from-catalog": { allowedImages: CATALOG },
    "postgres-image-id-from-catalog": { allowedImages: CATALOG },
};
const deployment = (containers: Record<string, unknown>[]): TestResource =>
    resource("kubernetes:apps/v1:Deployment", "api", {
        spec: { template: { spec: { securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } }, containers } } },
    });

/** An RDS instance as AdminDatabaseRds declares it. */
const rdsInstance = (change: Record<string, unknown> = {}): TestResource =>
    resource("aws:rds/instance:Instance", "admin-db", { engine: "postgres", engineVersion: "17", storageEncrypted: true, publiclyAccessible: false, deletionProtection: true, ...change });
/** A Deployment whose pod and container use the contexts the platform's components use (components/kubernetes/restricted.ts), changed. */
function restrictedDeployment(container: Record<string, unknown> = {}, pod: Record<string, unknown> = {}, podSpec: Record<string, unknown> = {}): TestResource {
    return resource("kubernetes:apps/v1:Deployment", "app", {
        spec: { template: { spec: {
            securityContext: { ...restrictedPodSecurityContext(1000), ...pod },
            containers: [{ name: "app", image: `app@sha256:${"a".repeat(64)}`, securityContext: { ...restrictedContainerSecurityContext(), ...container } }],
            ...podSpec,
        } } },
    });
}

const rows: Row[] = [
    // images-pinned
    { policy: "images-pinned", title: "docker container on :latest", resources: [dockerApi({ image: "dbaas-api:latest" })], violation: /uses the tag "latest"/ },
    { policy: "images-pinned", title: "untagged pulled image", resources: [remoteImage("nginx", ID_A)], violation: /"nginx" has no tag or digest/ },
    { policy: "images-pinned", title: "untagged init container", resources: [statefulSet({}, [pgContainer()], [restoreInitContainer({ image: "curlimages/curl" })])], violation: /initContainer "restore": "curlimages\/curl" has no tag/ },
    { policy: "images-pinned", title: "latest next to a digest", resources: [dockerApi({ image: `dbaas-api:latest@sha256:${"c".repeat(64)}` })], violation: /latest/ },
    { policy: "images-pinned", title: "built image tagged latest", resources: [resource("docker:index/image:Image", "api-image", { imageName: "123.dkr.ecr.eu-west-1.amazonaws.com/api:latest" })], violation: /imageName/ },
    { policy: "images-pinned", title: "tags, digests and IDs", resources: [dockerPostgres(), dockerNginx({ image: ID_A }), statefulSet(), remoteImage("postgres:17.2", ID_A), dockerApi({ image: `registry.example.com:5000/team/api@sha256:${"d".repeat(64)}` })] },

    // postgres-image-from-catalog
    { policy: "postgres-image-from-catalog", title: "docker postgres off the catalog", resources: [dockerPostgres({ image: "postgres:14.1" })], config: catalogConfig, violation: /"postgres:14.1" is not in the version catalog from the policy config/ },
    { policy: "postgres-image-from-catalog", title: "pod recognised by port, foreign image", resources: [statefulSet({}, [pgContainer({ image: "bitnami/postgresql:17.2.0" })])], config: catalogConfig, violation: /container "postgres": "bitnami\/postgresql:17.2.0" is not in the version catalog/ },
    { policy: "postgres-image-from-catalog", title: "pulled postgres image off the catalog", resources: [remoteImage("postgres:13.4", ID_A)], config: catalogConfig, violation: /name: "postgres:13.4"/ },
    { policy: "postgres-image-from-catalog", title: "catalog images, also digest-pinned and via docker.io/library", resources: [dockerPostgres({ image: `docker.io/library/postgres:16.6@sha256:${"e".repeat(64)}` }), statefulSet(), remoteImage("postgres:15.10", ID_A), dockerNginx()], config: catalogConfig },

    // postgres-image-id-from-catalog (stack)
    { policy: "postgres-image-id-from-catalog", title: "image ID of an off-catalog pull", resources: [remoteImage("postgres:12.0", ID_A), dockerPostgres({ image: ID_A })], config: catalogConfig, violation: /container "pg" runs postgres:12.0: "postgres:12.0" is not in the version catalog/ },
    { policy: "postgres-image-id-from-catalog", title: "postgres on an image ID nobody pulled", resources: [remoteImage("postgres:17.2", ID_A), dockerPostgres({ image: ID_B })], config: catalogConfig, violation: /runs image ID sha256:b+, which no docker.RemoteImage of this stack pulled/ },
    { policy: "postgres-image-id-from-catalog", title: "image IDs of catalog pulls", resources: [remoteImage("postgres:17.2", ID_A), remoteImage("nginx:1.27.3-alpine", ID_B), dockerPostgres({ image: ID_A }), dockerNginx({ image: ID_B })], config: catalogConfig },

    // images-pinned-by-digest (advisory)
    { policy: "images-pinned-by-digest", title: "tag only", resources: [dockerNginx()], violation: /pinned by tag only/ },
    { policy: "images-pinned-by-digest", title: "digest and image ID", resources: [dockerNginx({ image: `nginx:1.27.3-alpine@sha256:${"f".repeat(64)}` }), dockerPostgres({ image: ID_A })] },

    // memory-limits
    { policy: "memory-limits", title: "docker container without memory", resources: [dockerApi({ memory: undefined })], violation: /no memory limit: set `memory`/ },
    { policy: "memory-limits", title: "init container without memory limit", resources: [statefulSet({}, [pgContainer()], [restoreInitContainer({ resources: { limits: { memory: undefined } } })])], violation: /initContainer "restore" has no memory limit/ },
    { policy: "memory-limits", title: "all limited", resources: [dockerApi(), dockerNginx(), dockerPostgres(), statefulSet()] },

    // postgres-requests-equal-limits
    { policy: "postgres-requests-equal-limits", title: "memory request below limit", resources: [statefulSet({}, [pgContainer({ resources: { requests: { memory: "512Mi" } } })])], violation: /container "postgres" requests 512Mi memory but is limited to 1024Mi/ },
    { policy: "postgres-requests-equal-limits", title: "no cpu limit", resources: [statefulSet({}, [pgContainer({ resources: { limits: { cpu: undefined } } })])], violation: /has no cpu limit/ },
    { policy: "postgres-requests-equal-limits", title: "no cpu request on the init container", resources: [statefulSet({}, [pgContainer()], [restoreInitContainer({ resources: { requests: { cpu: undefined } } })])], violation: /initContainer "restore" has no cpu request/ },
    { policy: "postgres-requests-equal-limits", title: "1Gi == 1024Mi, 1 == 1000m", resources: [statefulSet()] },

    // no-privileged-containers
    { policy: "no-privileged-containers", title: "privileged docker container", resources: [dockerPostgres({ privileged: true })], violation: /privileged/ },
    { policy: "no-privileged-containers", title: "privileged k8s container", resources: [statefulSet({}, [pgContainer({ securityContext: { privileged: true } })])], violation: /container "postgres" is privileged/ },
    { policy: "no-privileged-containers", title: "unprivileged", resources: [dockerPostgres({ privileged: false }), statefulSet()] },

    // run-as-non-root
    { policy: "run-as-non-root", title: "no runAsNonRoot anywhere", resources: [statefulSet({ securityContext: { runAsNonRoot: undefined } }, [pgContainer({ securityContext: { runAsNonRoot: undefined } })], [])], violation: /may run as root/ },
    { policy: "run-as-non-root", title: "uid 0 on the container", resources: [statefulSet({}, [pgContainer({ securityContext: { runAsUser: 0 } })])], violation: /runs as uid 0/ },
    { policy: "run-as-non-root", title: "inherited from the pod", resources: [statefulSet({}, [pgContainer({ securityContext: { runAsNonRoot: undefined, runAsUser: undefined } })])] },

    // no-privilege-escalation
    { policy: "no-privilege-escalation", title: "allowPrivilegeEscalation unset", resources: [statefulSet({}, [pgContainer({ securityContext: { allowPrivilegeEscalation: undefined } })])], violation: /allows privilege escalation/ },
    { policy: "no-privilege-escalation", title: "false everywhere", resources: [statefulSet()] },

    // drop-all-capabilities
    { policy: "drop-all-capabilities", title: "k8s container keeps capabilities", resources: [statefulSet({}, [pgContainer({ securityContext: { capabilities: { drop: ["NET_RAW"] } } })])], violation: /does not drop all capabilities/ },
    { policy: "drop-all-capabilities", title: "k8s container adds SYS_ADMIN", resources: [statefulSet({}, [pgContainer({ securityContext: { capabilities: { drop: ["ALL"], add: ["SYS_ADMIN"] } } })])], violation: /adds capabilities SYS_ADMIN/ },
    { policy: "drop-all-capabilities", title: "docker container adds NET_ADMIN", resources: [dockerPostgres({ capabilities: { adds: ["CAP_NET_ADMIN", "CHOWN"] } })], violation: /beyond Docker's defaults: NET_ADMIN/ },
    { policy: "drop-all-capabilities", title: "drop ALL, add back defaults / NET_BIND_SERVICE", resources: [dockerPostgres(), statefulSet({}, [pgContainer({ securityContext: { capabilities: { drop: ["all"], add: ["NET_BIND_SERVICE"] } } })])] },

    // no-host-access
    { policy: "no-host-access", title: "host network on docker", resources: [dockerApi({ networkMode: "host" })], violation: /networkMode is "host"/ },
    { policy: "no-host-access", title: "docker bind mount of /etc", resources: [dockerApi({ volumes: [{ hostPath: "/etc", containerPath: "/host-etc" }] })], violation: /bind-mounts the host path \/etc/ },
    { policy: "no-host-access", title: "docker bind mount via mounts", resources: [dockerApi({ mounts: [{ type: "bind", source: "/root/.ssh", target: "/ssh" }] })], violation: /\/root\/.ssh/ },
    { policy: "no-host-access", title: "hostPID pod", resources: [statefulSet({ hostPID: true })], violation: /hostPID: true/ },
    { policy: "no-host-access", title: "hostPath volume", resources: [statefulSet({ volumes: [{ name: "data", hostPath: { path: "/data" } }] })], violation: /volume "data" is a hostPath/ },
    { policy: "no-host-access", title: "hostPort", resources: [statefulSet({}, [pgContainer({ ports: [{ containerPort: 5432, hostPort: 5432 }] })])], violation: /binds hostPort 5432/ },
    { policy: "no-host-access", title: "named volumes, the Docker socket (allowed by default), emptyDir", resources: [dockerPostgres(), dockerApi({ volumes: [{ hostPath: "/var/run/docker.sock", containerPath: "/var/run/docker.sock" }] }), statefulSet()] },
    { policy: "no-host-access", title: "the ACME web root mounted read-write", resources: [dockerNginx({ volumes: [{ hostPath: "/var/www/acme", containerPath: "/var/www/acme" }] })], violation: /bind-mounts \/var\/www\/acme \(allowed read-only by the stack files Pulumi.dev.yaml, Pulumi.e2e.yaml, Pulumi.prod.yaml, Pulumi.staging.yaml\) read-write/ },
    { policy: "no-host-access", title: "the ACME web root read-only (the stack files' tls.acmeChallengeDir)", resources: [dockerNginx({ volumes: [{ hostPath: "/var/www/acme", containerPath: "/var/www/acme", readOnly: true }] })] },
    { policy: "no-host-access", title: "a read-only path from the policy config", resources: [dockerNginx({ mounts: [{ type: "bind", source: "/srv/acme", target: "/var/www/acme", readOnly: true }] })], config: { "no-host-access": { readOnlyDockerHostPaths: ["/srv/acme"] } } },
    { policy: "no-host-access", title: "the Docker socket once the allowance is removed", resources: [dockerApi({ volumes: [{ hostPath: "/var/run/docker.sock", containerPath: "/var/run/docker.sock" }] })], config: { "no-host-access": { allowedDockerHostPaths: [] } }, violation: /docker.sock/ },

    // loadbalancer-source-ranges
    { policy: "loadbalancer-source-ranges", title: "no source ranges", resources: [loadBalancer({ loadBalancerSourceRanges: [] })], violation: /no loadBalancerSourceRanges/ },
    { policy: "loadbalancer-source-ranges", title: "0.0.0.0/0", resources: [loadBalancer({ loadBalancerSourceRanges: ["10.0.0.0/8", "0.0.0.0/0"] })], violation: /contains 0.0.0.0\/0/ },
    { policy: "loadbalancer-source-ranges", title: "::/0 in the annotation", resources: [loadBalancer({ loadBalancerSourceRanges: undefined }, { "service.beta.kubernetes.io/load-balancer-source-ranges": "203.0.113.0/24, ::/0" })], violation: /contains ::\/0/ },
    { policy: "loadbalancer-source-ranges", title: "named ranges; ClusterIP untouched", resources: [loadBalancer({ loadBalancerSourceRanges: ["203.0.113.0/24", "2001:db8::/48"] }), loadBalancer({ type: "ClusterIP", loadBalancerSourceRanges: undefined })] },

    // docker-published-ports
    { policy: "docker-published-ports", title: "postgres on every interface", resources: [dockerPostgres({ ports: [{ internal: 5432, external: 5432 }] })], violation: /published on every host interface/ },
    { policy: "docker-published-ports", title: "postgres on a public address", resources: [dockerPostgres({ ports: [{ internal: 5432, external: 5432, ip: "203.0.113.7" }] })], violation: /neither loopback nor a configured address/ },
    { policy: "docker-published-ports", title: "postgres publishes 22", resources: [dockerPostgres({ ports: [{ internal: 5432, ip: "127.0.0.1" }, { internal: 22, ip: "127.0.0.1" }] })], violation: /port 22\/tcp is published but PostgreSQL declares only 5432/ },
    { policy: "docker-published-ports", title: "API publishes 5000", resources: [dockerApi({ ports: [{ internal: 5000, external: 5000 }] })], violation: /declares no published ports/ },
    { policy: "docker-published-ports", title: "nginx publishes 8080", resources: [dockerNginx({ ports: [{ internal: 8080 }] })], violation: /nginx declares only 80, 443/ },
    { policy: "docker-published-ports", title: "publishAllPorts", resources: [dockerApi({ publishAllPorts: true })], violation: /publishAllPorts/ },
    { policy: "docker-published-ports", title: "declared ports; nginx known by its uploaded config; configured address", resources: [dockerNginx(), dockerNginx({ image: ID_A }), dockerApi(), dockerPostgres(), dockerPostgres({ ports: [{ internal: 5432, ip: "10.1.2.3" }] })], config: { "docker-published-ports": { postgresPublishAddresses: ["10.1.2.3"] } } },

    // rbac-no-wildcards-or-escalation
    { policy: "rbac-no-wildcards-or-escalation", title: "* verbs", resources: [role([{ apiGroups: [""], resources: ["pods"], verbs: ["*"] }])], violation: /rules\[0\]\.verbs contains "\*"/ },
    { policy: "rbac-no-wildcards-or-escalation", title: "pods/* resources in a Role", resources: [role([...LEAST_RULES, { apiGroups: [""], resources: ["pods/*"], verbs: ["get"] }], "Role")], violation: /rules\[2\]\.resources contains "pods\/\*"/ },
    { policy: "rbac-no-wildcards-or-escalation", title: "* apiGroups", resources: [role([{ apiGroups: ["*"], resources: ["pods"], verbs: ["get"] }])], violation: /apiGroups contains/ },
    { policy: "rbac-no-wildcards-or-escalation", title: "escalate", resources: [role([{ apiGroups: ["rbac.authorization.k8s.io"], resources: ["clusterroles"], verbs: ["get", "escalate", "bind"] }])], violation: /verbs contains escalate, bind/ },
    { policy: "rbac-no-wildcards-or-escalation", title: "impersonate", resources: [role([{ apiGroups: [""], resources: ["serviceaccounts"], verbs: ["impersonate"] }], "Role")], violation: /impersonate/ },
    { policy: "rbac-no-wildcards-or-escalation", title: "bind on every ClusterRole", resources: [role([{ apiGroups: ["rbac.authorization.k8s.io"], resources: ["clusterroles"], verbs: ["bind"] }])], violation: /verbs contains bind/ },
    { policy: "rbac-no-wildcards-or-escalation", title: "bind on named roles, but also on another kind", resources: [role([{ apiGroups: ["rbac.authorization.k8s.io"], resources: ["clusterroles", "clusterrolebindings"], verbs: ["bind"], resourceNames: ["devdb-database"] }])], violation: /verbs contains bind/ },
    { policy: "rbac-no-wildcards-or-escalation", title: "named verbs and resources", resources: [role(LEAST_RULES), role(LEAST_RULES, "Role")] },
    { policy: "rbac-no-wildcards-or-escalation", title: "bind on exactly one named ClusterRole (the devdb namespaced grant)", resources: [role([...LEAST_RULES, { apiGroups: ["rbac.authorization.k8s.io"], resources: ["clusterroles"], verbs: ["bind"], resourceNames: ["devdb-database"] }])] },

    // ECR
    { policy: "ecr-immutable-tags", title: "mutable by default", resources: [ecrRepository({ imageTagMutability: undefined })], violation: /MUTABLE \(the default\)/ },
    { policy: "ecr-immutable-tags", title: "immutable", resources: [ecrRepository()] },
    { policy: "ecr-scan-on-push", title: "scan off", resources: [ecrRepository({ imageScanningConfiguration: { scanOnPush: false } })], violation: /not scanned on push/ },
    { policy: "ecr-scan-on-push", title: "scan on", resources: [ecrRepository()] },
    { policy: "ecr-lifecycle-policy", title: "repository without lifecycle", resources: [ecrRepository(), ecrRepository({ name: "mirror/postgres" }, "mirror"), ecrLifecycle()], violation: /ECR repository "mirror" has no aws.ecr.LifecyclePolicy/ },
    { policy: "ecr-lifecycle-policy", title: "lifecycle without rules", resources: [ecrRepository(), ecrLifecycle(undefined, JSON.stringify({ rules: [] }))], violation: /has no rules/ },
    { policy: "ecr-lifecycle-policy", title: "by name, and by dependency when autonamed", resources: [
        ecrRepository(), ecrRepository({ name: undefined }, "mirror"),
        ecrLifecycle(),
        { ...ecrLifecycle("mirror-4f1c2a"), name: "mirror-lifecycle", dependencies: ["urn:pulumi:test::dbaas::aws:ecr/repository:Repository::mirror"] },
    ] },

    // no-plaintext-secrets
    { policy: "no-plaintext-secrets", title: "POSTGRES_PASSWORD in docker env", resources: [dockerPostgres({ envs: ["POSTGRES_PASSWORD=hunter2"] })], violation: /env "POSTGRES_PASSWORD" looks like a secret and holds a plain value/ },
    { policy: "no-plaintext-secrets", title: "URL with a password", resources: [dockerApi({ envs: ["DATABASE_URL=postgres://app:s3cret@db:5432/app"] })], violation: /"DATABASE_URL" holds a URL with a password/ },
    { policy: "no-plaintext-secrets", title: "k8s env token value", resources: [deployment([{ name: "api", image: "dbaas-api:1", env: [{ name: "API_TOKEN", value: "abc" }] }])], violation: /container "api" env "API_TOKEN"/ },
    { policy: "no-plaintext-secrets", title: "ConfigMap with a password key", resources: [configMap({ "restore.sh": "#!/bin/sh", "db.password": "x" })], violation: /data key "db.password"/ },
    { policy: "no-plaintext-secrets", title: "ConfigMap with a private key", resources: [configMap({ "server.pem": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n" })], violation: /a PEM private key/ },
    { policy: "no-plaintext-secrets", title: "_FILE, secretKeyRef, harmless names", resources: [dockerPostgres(), dockerApi(), statefulSet(), configMap({ "restore.sh": "#!/bin/sh\nexit 0\n", "token-ttl-seconds": "3600" })] },
    { policy: "no-plaintext-secrets", title: "an allow-listed name", resources: [dockerApi({ envs: ["TOKEN_AUDIENCE_KEY=dbaas"] })], config: { "no-plaintext-secrets": { allowedNames: ["TOKEN_AUDIENCE_KEY"] } } },

    // ondemand-namespace-labels
    { policy: "ondemand-namespace-labels", title: "no owner", resources: [namespace("devdb-orders", { [LABELS.expiresAt]: "2026-11-24T16-00-00Z" })], violation: /has no dbaas.io\/owner label/ },
    { policy: "ondemand-namespace-labels", title: "no expiry", resources: [namespace("devdb-orders", { [LABELS.owner]: "alice" })], violation: /has no dbaas.io\/expires-at label/ },
    { policy: "ondemand-namespace-labels", title: "expiry not an instant", resources: [namespace("devdb-orders", { [LABELS.owner]: "alice", [LABELS.expiresAt]: "tomorrow" })], violation: /not an instant/ },
    { policy: "ondemand-namespace-labels", title: "custom prefix from config", resources: [namespace("db-orders", {})], config: { "ondemand-namespace-labels": { namespacePrefix: "db-" } }, violation: /"db-orders" has no dbaas.io\/owner/ },
    { policy: "ondemand-namespace-labels", title: "labelled; other namespaces untouched", resources: [namespace("devdb-orders", ONDEMAND_LABELS), namespace("devdb", {}), namespace("kube-system", {})] },

    // rds-encrypted-and-private
    { policy: "rds-encrypted-and-private", title: "unencrypted instance", resources: [rdsInstance({ storageEncrypted: false })], violation: /storage is not encrypted/ },
    { policy: "rds-encrypted-and-private", title: "encryption left out", resources: [rdsInstance({ storageEncrypted: undefined })], violation: /storage is not encrypted/ },
    { policy: "rds-encrypted-and-private", title: "public instance", resources: [rdsInstance({ publiclyAccessible: true })], violation: /publicly accessible/ },
    { policy: "rds-encrypted-and-private", title: "unencrypted Aurora cluster", resources: [resource("aws:rds/cluster:Cluster", "aurora", { engine: "aurora-postgresql" })], violation: /storage is not encrypted/ },
    { policy: "rds-encrypted-and-private", title: "encrypted and private (instance and cluster)", resources: [rdsInstance(), resource("aws:rds/cluster:Cluster", "aurora", { storageEncrypted: true })] },

    // deployment-restricted-pods
    { policy: "deployment-restricted-pods", title: "writable root filesystem", resources: [restrictedDeployment({ readOnlyRootFilesystem: false })], violation: /container "app": set securityContext.readOnlyRootFilesystem: true/ },
    { policy: "deployment-restricted-pods", title: "no seccomp profile anywhere", resources: [restrictedDeployment({ seccompProfile: undefined }, { seccompProfile: undefined })], violation: /seccompProfile.type: RuntimeDefault/ },
    { policy: "deployment-restricted-pods", title: "Unconfined seccomp on the container", resources: [restrictedDeployment({ seccompProfile: { type: "Unconfined" } })], violation: /seccompProfile.type: RuntimeDefault/ },
    { policy: "deployment-restricted-pods", title: "may run as root", resources: [restrictedDeployment({ runAsNonRoot: undefined }, { runAsNonRoot: undefined })], violation: /runAsNonRoot: true/ },
    { policy: "deployment-restricted-pods", title: "privilege escalation", resources: [restrictedDeployment({ allowPrivilegeEscalation: true })], violation: /allowPrivilegeEscalation: false/ },
    { policy: "deployment-restricted-pods", title: "capabilities kept", resources: [restrictedDeployment({ capabilities: { drop: ["NET_RAW"] } })], violation: /capabilities.drop: \["ALL"\]/ },
    { policy: "deployment-restricted-pods", title: "privileged", resources: [restrictedDeployment({ privileged: true })], violation: /remove securityContext.privileged/ },
    { policy: "deployment-restricted-pods", title: "host network", resources: [restrictedDeployment({}, {}, { hostNetwork: true })], violation: /hostNetwork: true/ },
    { policy: "deployment-restricted-pods", title: "the platform components' own contexts (the pod's seccomp inherited)", resources: [restrictedDeployment({ seccompProfile: undefined })] },

    // advisory
    { policy: "read-only-root-filesystem", title: "writable docker root", resources: [dockerApi({ readOnly: false })], violation: /root filesystem is writable/ },
    { policy: "read-only-root-filesystem", title: "read-only", resources: [dockerApi(), statefulSet()] },
    { policy: "restart-policy-set", title: "no restart", resources: [dockerApi({ restart: undefined })], violation: /restart is "no"/ },
    { policy: "restart-policy-set", title: "unless-stopped; a one-shot container needs none", resources: [dockerApi(), dockerApi({ restart: undefined, attach: true })] },
    { policy: "healthcheck-present", title: "no healthcheck", resources: [dockerApi({ healthcheck: undefined })], violation: /no healthcheck/ },
    { policy: "healthcheck-present", title: "no readinessProbe", resources: [statefulSet({}, [pgContainer({ readinessProbe: undefined })])], violation: /no readinessProbe/ },
    { policy: "healthcheck-present", title: "probes present (init and one-shot containers need none)", resources: [dockerApi(), dockerApi({ healthcheck: undefined, attach: true }), statefulSet()] },
    { policy: "docker-non-root-user", title: "root", resources: [dockerApi({ user: "0:0" })], violation: /runs as "0:0"/ },
    { policy: "docker-non-root-user", title: "default user", resources: [dockerApi({ user: undefined })], violation: /image's default user/ },
    { policy: "docker-non-root-user", title: "uid 999", resources: [dockerPostgres()] },
    { policy: "docker-no-new-privileges", title: "missing", resources: [dockerApi({ securityOpts: [] })], violation: /no-new-privileges/ },
    { policy: "docker-no-new-privileges", title: "set", resources: [dockerApi({ securityOpts: ["no-new-privileges:true"] })] },
    { policy: "seccomp-runtime-default", title: "unconfined", resources: [statefulSet({ securityContext: { seccompProfile: { type: "Unconfined" } } })], violation: /seccomp profile Unconfined/ },
    { policy: "seccomp-runtime-default", title: "RuntimeDefault on the pod", resources: [statefulSet()] },
    { policy: "namespace-pod-security-restricted", title: "baseline", resources: [namespace("devdb", { "pod-security.kubernetes.io/enforce": "baseline" })], violation: /enforces baseline Pod Security level/ },
    { policy: "namespace-pod-security-restricted", title: "restricted", resources: [namespace("devdb-orders", ONDEMAND_LABELS)] },
];

const byName = new Map(policies.map((p) => [p.name, p]));

describe("policy table", () => {
    it("has a violating and a compliant row for every policy of the pack", () => {
        for (const p of policies) {
            const own = rows.filter((r) => r.policy === p.name);
            expect(own.some((r) => r.violation), `${p.name}: violating row`).toBe(true);
            expect(own.some((r) => !r.violation), `${p.name}: compliant row`).toBe(true);
        }
        expect(rows.every((r) => byName.has(r.policy))).toBe(true);
    });
});

describe.each(rows)("$policy: $title", (row) => {
    const policy = byName.get(row.policy);
    if (!policy) throw new Error(`unknown policy ${row.policy}`);
    if (row.violation) {
        it(`reports ${String(row.violation)} at level ${policy.enforcementLevel ?? "advisory"}`, async () => {
            const { violations } = await runPolicy(policy, row.resources, { ...(row.config ? { config: row.config } : {}) });
            expect(violations.map((v) => v.message)).toContainEqual(expect.stringMatching(row.violation as RegExp));
            expect(new Set(violations.map((v) => v.enforcementLevel))).toEqual(new Set([policy.enforcementLevel]));
            expect(violations.every((v) => v.fullMessage.startsWith(policy.description))).toBe(true);
        });
    } else {
        it("reports nothing", async () => {
            const { violations } = await runPolicy(policy, row.resources, { ...(row.config ? { config: row.config } : {}) });
            expect(violations).toEqual([]);
        });
    }
});
