/**
 * Resources that pass every mandatory policy, and helpers to break one field
 * at a time. Each builder returns a fresh object; `patch` deep-merges a change.
 */
import type { TestResource } from "./policyHarness";
import { POSTGRES_PORT } from "../../contracts/ports";
import { POSTGRES_UID } from "../../contracts/catalog";
import { LABELS } from "../../contracts/labels";

type Json = Record<string, unknown>;

/** Deep merge: objects merge, everything else (arrays included) replaces; `undefined` deletes. */
export function patch<T extends Json>(base: T, change: Json): T {
    const out: Json = { ...base };
    for (const [k, v] of Object.entries(change)) {
        const current = out[k];
        if (v === undefined) delete out[k];
        else if (isObject(v) && isObject(current)) out[k] = patch(current, v);
        else out[k] = v;
    }
    return out as T;
}
const isObject = (v: unknown): v is Json => v !== null && typeof v === "object" && !Array.isArray(v);

export const resource = (type: string, name: string, props: Json): TestResource => ({ type, name, props });

export const CATALOG = ["postgres:17.2", "postgres:16.6", "postgres:15.10"];

export function dockerPostgres(change: Json = {}): TestResource {
    return resource("docker:index/container:Container", "pg", patch({
        image: "postgres:17.2",
        memory: 512,
        shmSize: 128,
        envs: ["POSTGRES_PASSWORD_FILE=/run/secrets/postgres-password", "PGDATA=/var/lib/postgresql/data/pgdata", "POSTGRES_USER=admin"],
        ports: [{ internal: POSTGRES_PORT, external: 15432, ip: "127.0.0.1", protocol: "tcp" }],
        restart: "unless-stopped",
        healthcheck: { tests: ["CMD", "pg_isready", "-U", "admin"], interval: "5s" },
        user: `${POSTGRES_UID}:${POSTGRES_UID}`,
        securityOpts: ["no-new-privileges"],
        readOnly: true,
        capabilities: { drops: ["ALL"], adds: ["CHOWN", "SETUID", "SETGID", "DAC_OVERRIDE", "FOWNER"] },
        volumes: [{ volumeName: "pg-data", containerPath: "/var/lib/postgresql/data" }],
    }, change));
}

export function dockerNginx(change: Json = {}): TestResource {
    return resource("docker:index/container:Container", "nginx", patch({
        image: "nginx:1.27.3-alpine",
        memory: 128,
        ports: [{ internal: 80, external: 80 }, { internal: 443, external: 443 }],
        restart: "unless-stopped",
        healthcheck: { tests: ["CMD", "wget", "-q", "-O-", "http://127.0.0.1/healthz"] },
        user: "101:101",
        securityOpts: ["no-new-privileges"],
        readOnly: true,
        uploads: [{ file: "/etc/nginx/nginx.conf", content: "events {}" }],
    }, change));
}

export function dockerApi(change: Json = {}): TestResource {
    return resource("docker:index/container:Container", "api-0", patch({
        image: "dbaas-api:3f2a9c1",
        memory: 512,
        envs: ["DBAAS_ADMIN_PASSWORD_FILE=/run/secrets/admin-password", "PORT=5000", "PULUMI_CONFIG_PASSPHRASE_FILE=/run/secrets/passphrase"],
        restart: "unless-stopped",
        healthcheck: { tests: ["CMD", "curl", "-fsS", "http://127.0.0.1:5000/healthz"] },
        user: "10001:10001",
        securityOpts: ["no-new-privileges"],
        readOnly: true,
    }, change));
}

/** A restricted, Guaranteed-QoS Postgres container spec. */
export function pgContainer(change: Json = {}): Json {
    return patch({
        name: "postgres",
        image: "postgres:17.2",
        ports: [{ containerPort: POSTGRES_PORT, name: "postgres" }],
        env: [
            { name: "PGDATA", value: "/var/lib/postgresql/data/pgdata" },
            { name: "POSTGRES_PASSWORD", valueFrom: { secretKeyRef: { name: "pg-password", key: "password" } } },
        ],
        resources: { requests: { cpu: "1", memory: "1Gi" }, limits: { cpu: "1000m", memory: "1024Mi" } },
        securityContext: {
            runAsNonRoot: true,
            runAsUser: POSTGRES_UID,
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ["ALL"] },
        },
        readinessProbe: { exec: { command: ["pg_isready"] } },
    }, change);
}

export function restoreInitContainer(change: Json = {}): Json {
    return patch(pgContainer({ name: "restore", readinessProbe: undefined, ports: undefined, env: [{ name: "BACKUP_URL", value: "https://backups.example.com/a.dump" }] }), change);
}

export function statefulSet(podSpecChange: Json = {}, containers: Json[] = [pgContainer()], initContainers: Json[] = [restoreInitContainer()]): TestResource {
    return resource("kubernetes:apps/v1:StatefulSet", "db", {
        apiVersion: "apps/v1",
        kind: "StatefulSet",
        metadata: { name: "postgres", namespace: "devdb-orders" },
        spec: {
            replicas: 1,
            serviceName: "postgres",
            selector: { matchLabels: { app: "postgres" } },
            template: {
                metadata: { labels: { app: "postgres" } },
                spec: patch({
                    securityContext: { runAsNonRoot: true, runAsUser: POSTGRES_UID, fsGroup: POSTGRES_UID, seccompProfile: { type: "RuntimeDefault" } },
                    containers,
                    initContainers,
                    volumes: [{ name: "run", emptyDir: {} }],
                }, podSpecChange),
            },
        },
    });
}

export function loadBalancer(spec: Json = {}, annotations?: Json): TestResource {
    return resource("kubernetes:core/v1:Service", "pg-lb", {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "postgres", ...(annotations ? { annotations } : {}) },
        spec: patch({ type: "LoadBalancer", ports: [{ port: POSTGRES_PORT }], loadBalancerSourceRanges: ["203.0.113.0/24"] }, spec),
    });
}

export function role(rules: Json[], kind: "ClusterRole" | "Role" = "ClusterRole"): TestResource {
    return resource(`kubernetes:rbac.authorization.k8s.io/v1:${kind}`, "devdb-role", {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind,
        metadata: { name: "devdb-role" },
        rules,
    });
}

export const LEAST_RULES: Json[] = [
    { apiGroups: [""], resources: ["namespaces"], verbs: ["get", "list", "create", "delete"] },
    { apiGroups: ["apps"], resources: ["statefulsets"], verbs: ["get", "list", "create", "update", "patch", "delete"] },
];

export function ecrRepository(change: Json = {}, name = "api"): TestResource {
    return resource("aws:ecr/repository:Repository", name, patch({
        name: "database-migration-anonymized-api",
        imageTagMutability: "IMMUTABLE",
        imageScanningConfiguration: { scanOnPush: true },
        encryptionConfigurations: [{ encryptionType: "AES256" }],
    }, change));
}

export const LIFECYCLE_DOCUMENT = JSON.stringify({
    rules: [
        { rulePriority: 1, selection: { tagStatus: "untagged", countType: "sinceImagePushed", countUnit: "days", countNumber: 7 }, action: { type: "expire" } },
        { rulePriority: 2, selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: 20 }, action: { type: "expire" } },
    ],
});

export function ecrLifecycle(repository = "database-migration-anonymized-api", policy: string = LIFECYCLE_DOCUMENT): TestResource {
    return resource("aws:ecr/lifecyclePolicy:LifecyclePolicy", "api-lifecycle", { repository, policy });
}

export function namespace(name: string, labels: Json): TestResource {
    return resource("kubernetes:core/v1:Namespace", name, { apiVersion: "v1", kind: "Namespace", metadata: { name, labels } });
}

export const ONDEMAND_LABELS = {
    [LABELS.owner]: "alice",
    [LABELS.expiresAt]: "2026-11-24T16-00-00Z",
    [LABELS.managedBy]: "dbaas",
    "pod-security.kubernetes.io/enforce": "restricted",
};

export function configMap(data: Json): TestResource {
    return resource("kubernetes:core/v1:ConfigMap", "restore-script", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "restore" }, data });
}

export function remoteImage(name: string, id: string): TestResource {
    return resource("docker:index/remoteImage:RemoteImage", `img-${name.replace(/[^a-z0-9]/g, "-")}`, {
        name,
        keepLocally: true,
        imageId: id,
        repoDigest: `${name}@sha256:${"0".repeat(64)}`,
    });
}

export const ID_A = `sha256:${"a".repeat(64)}`;
export const ID_B = `sha256:${"b".repeat(64)}`;
