/**
 * The kubernetes target under mocks: every guarantee of issue 6 point 3 as
 * the resource graph shows it, and a graph that lets independent resources be
 * created in parallel.
 */
import type * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { isSecretOutput, promiseOf, type RecordedResource, type Recorder } from "../support/harness";
import { BACKUP_URL, CONFIGURED_PASSWORD, kubernetesSpec, LB_HOSTNAME, runProgram, unwrapSecret } from "./fixtures";
import { POSTGRES_UID } from "../../contracts/catalog";
import { LABELS } from "../../contracts/labels";
import { RESTORE_MARKER } from "../../contracts/restore";
import { renderBlockedEgress } from "../../ondemand/restore";

interface Container {
    name: string;
    image: string;
    command?: string[];
    env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
    securityContext: Record<string, unknown>;
    resources: { requests: Record<string, string>; limits: Record<string, string> };
    volumeMounts: { name: string; mountPath: string }[];
    readinessProbe?: { exec: { command: string[] } };
    startupProbe?: { exec: { command: string[] }; failureThreshold: number };
}
interface PodSpec {
    securityContext: Record<string, unknown>;
    initContainers: Container[];
    containers: Container[];
    volumes: { name: string; emptyDir?: object; configMap?: object }[];
}

const T = {
    ns: "kubernetes:core/v1:Namespace",
    secret: "kubernetes:core/v1:Secret",
    configMap: "kubernetes:core/v1:ConfigMap",
    sts: "kubernetes:apps/v1:StatefulSet",
    service: "kubernetes:core/v1:Service",
    netpol: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    quota: "kubernetes:core/v1:ResourceQuota",
    limits: "kubernetes:core/v1:LimitRange",
} as const;

function podSpec(rec: Recorder): PodSpec {
    const sts = rec.one(T.sts).inputs as { spec: { template: { spec: PodSpec } } };
    return sts.spec.template.spec;
}
const allContainers = (pod: PodSpec): Container[] => [...pod.initContainers, ...pod.containers];

describe("kubernetes target, with backup and source ranges", async () => {
    const { rec, mod } = await runProgram(kubernetesSpec());
    const pod = podSpec(rec);

    it("declares one of each object in the database's namespace", () => {
        for (const type of Object.values(T)) expect(rec.ofType(type), type).toHaveLength(1);
        for (const type of [T.secret, T.configMap, T.sts, T.service, T.netpol, T.quota, T.limits]) {
            expect((rec.one(type).inputs.metadata as { namespace: string }).namespace, type).toBe("devdb-orders");
        }
    });

    it("applies every object as the one fixed field manager, so a create resumed after a crash adopts what the dead process made", () => {
        for (const type of Object.values(T)) {
            const annotations = (rec.one(type).inputs.metadata as { annotations?: Record<string, string> }).annotations;
            expect(annotations?.["pulumi.com/patchFieldManager"], type).toBe("dbaas-ondemand");
        }
        // The Service keeps its load-balancer annotations beside it.
        expect(Object.keys((rec.one(T.service).inputs.metadata as { annotations: Record<string, string> }).annotations))
            .toContain("service.beta.kubernetes.io/aws-load-balancer-type");
    });
    it("names the namespace with the prefix and labels it for owner, project, expiry and Pod Security restricted", () => {
        const meta = rec.one(T.ns).inputs.metadata as { name: string; labels: Record<string, string> };
        expect(meta.name).toBe("devdb-orders");
        expect(meta.labels).toMatchObject({
            [LABELS.owner]: "alice_example.com",
            [LABELS.project]: "proj-42",
            [LABELS.expiresAt]: "2026-11-24T16-00-00Z",
            [LABELS.managedBy]: "dbaas",
            "pod-security.kubernetes.io/enforce": "restricted",
        });
    });

    it("runs one replica of the catalog image with PGDATA in a subdirectory of the PVC", () => {
        const sts = rec.one(T.sts).inputs as { spec: { replicas: number; volumeClaimTemplates: { metadata: { name: string }; spec: { storageClassName: string; resources: { requests: { storage: string } } } }[] } };
        expect(sts.spec.replicas).toBe(1);
        const [postgres] = pod.containers;
        expect(postgres?.image).toBe("postgres:17.2");
        expect(postgres?.env).toContainEqual({ name: "PGDATA", value: "/var/lib/postgresql/data/pgdata" });
        expect(sts.spec.volumeClaimTemplates).toHaveLength(1);
        expect(sts.spec.volumeClaimTemplates[0]?.spec.resources.requests.storage).toBe("20Gi");
        expect(sts.spec.volumeClaimTemplates[0]?.spec.storageClassName).toBe("gp3");
        expect(postgres?.volumeMounts).toContainEqual({ name: "data", mountPath: "/var/lib/postgresql/data" });
    });

    it("gives the pod and every container, init included, the restricted security context", () => {
        expect(pod.securityContext).toMatchObject({ runAsUser: POSTGRES_UID, runAsGroup: POSTGRES_UID, fsGroup: POSTGRES_UID, runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
        expect(pod.initContainers).toHaveLength(1);
        for (const c of allContainers(pod)) {
            expect(c.securityContext, c.name).toMatchObject({
                runAsUser: POSTGRES_UID,
                runAsGroup: POSTGRES_UID,
                runAsNonRoot: true,
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ["ALL"] },
                seccompProfile: { type: "RuntimeDefault" },
            });
        }
    });

    it("mounts emptyDirs where Postgres writes besides its volume", () => {
        const mounts = pod.containers[0]?.volumeMounts.map((m) => m.mountPath) ?? [];
        expect(mounts).toEqual(expect.arrayContaining(["/var/run/postgresql", "/tmp"]));
        const emptyDirs = pod.volumes.filter((v) => v.emptyDir).map((v) => v.name);
        expect(emptyDirs).toEqual(expect.arrayContaining(["socket", "tmp"]));
    });

    it("sets requests equal to limits on every container, the server at the spec's size", () => {
        for (const c of allContainers(pod)) expect(c.resources.requests, c.name).toEqual(c.resources.limits);
        expect(pod.containers[0]?.resources.limits).toEqual({ cpu: "1500m", memory: "2048Mi" });
    });

    it("fetches the backup in an init container and gates readiness on the restore marker and pg_isready", () => {
        const fetch = pod.initContainers[0];
        expect(fetch?.env).toContainEqual({ name: "BACKUP_URL", value: BACKUP_URL });
        expect(fetch?.env?.some((e) => e.name === "BACKUP_FILE")).toBe(false);
        const check = pod.containers[0]?.readinessProbe?.exec.command.join(" ") ?? "";
        expect(check).toContain(`/var/lib/postgresql/data/restore/${RESTORE_MARKER}`);
        expect(check).toContain("pg_isready");
        expect(pod.containers[0]?.startupProbe?.exec.command).toEqual(pod.containers[0]?.readinessProbe?.exec.command);
        // Covers fetch + restore at their one-hour caps.
        expect(pod.containers[0]?.startupProbe?.failureThreshold).toBeGreaterThanOrEqual(720);
    });

    it("ships the fetch and restore scripts and the init hook in the ConfigMap", () => {
        const data = rec.one(T.configMap).inputs.data as Record<string, string>;
        expect(Object.keys(data).sort()).toEqual(["50-dbaas-restore.sh", "fetch.sh", "restore.sh"]);
        expect(data["restore.sh"]).toMatch(/^#!\/bin\/sh/);
        expect(data["fetch.sh"]).toMatch(/^#!\/bin\/sh/);
        expect(data["fetch.sh"]).toContain(renderBlockedEgress());
        expect(data["50-dbaas-restore.sh"]).toContain("/opt/dbaas/restore/restore.sh");
    });

    it("mounts fetch.sh in the fetch step and restore.sh in the server, each only where it runs", () => {
        const scriptMounts = (c: Container | undefined) => (c?.volumeMounts ?? []).filter((m) => m.name === "restore").map((m) => m.mountPath).sort();
        expect(scriptMounts(pod.initContainers[0])).toEqual(["/opt/dbaas/restore/fetch.sh"]);
        expect(pod.initContainers[0]?.command?.join(" ")).toContain("sh /opt/dbaas/restore/fetch.sh \"$FETCH_TO\"");
        expect(scriptMounts(pod.containers[0])).toEqual(["/docker-entrypoint-initdb.d/50-dbaas-restore.sh", "/opt/dbaas/restore/restore.sh"]);
    });

    it("keeps the password only in the Secret: env uses secretKeyRef, no plain value anywhere else", async () => {
        const secret = rec.one(T.secret);
        expect(secret.secretInputs.has("stringData")).toBe(true);
        const pw = unwrapSecret<{ password: string }>(secret.inputs.stringData).password;
        expect(pw).toBe(CONFIGURED_PASSWORD);
        const env = pod.containers[0]?.env ?? [];
        expect(env.find((e) => e.name === "POSTGRES_PASSWORD")?.valueFrom?.secretKeyRef).toEqual({ name: "postgres-password", key: "password" });
        for (const r of rec.resources.filter((x) => x !== secret)) {
            expect(JSON.stringify(r.inputs), `${r.type} ${r.name}`).not.toContain(pw);
        }
        expect(await isSecretOutput(mod.password as pulumi.Output<string>)).toBe(true);
    });

    it("takes the password from the secret config dbaas-db:password: no random resource, the Secret and the outputs carry exactly it", async () => {
        expect(rec.resources.filter((r) => r.type.startsWith("random:") || r.type === "pulumi:providers:random")).toEqual([]);
        expect(unwrapSecret<{ password: string }>(rec.one(T.secret).inputs.stringData)).toEqual({ password: CONFIGURED_PASSWORD });
        const password = mod.password as pulumi.Output<string>;
        expect(await isSecretOutput(password)).toBe(true);
        expect(await promiseOf(password)).toBe(CONFIGURED_PASSWORD);
        expect(await promiseOf(mod.uri as pulumi.Output<string>)).toContain(`postgres:${CONFIGURED_PASSWORD}@`);
    });

    it("exposes a LoadBalancer limited to exactly the spec's source ranges", async () => {
        const spec = rec.one(T.service).inputs.spec as { type: string; loadBalancerSourceRanges: string[] };
        expect(spec.type).toBe("LoadBalancer");
        expect(spec.loadBalancerSourceRanges).toEqual(["203.0.113.0/24", "2001:db8::/48"]);
        expect(await promiseOf(mod.host as pulumi.Output<string>)).toBe(LB_HOSTNAME);
    });

    it("lets in only the source ranges on 5432 and lets out only DNS and HTTPS", () => {
        const spec = rec.one(T.netpol).inputs.spec as {
            policyTypes: string[];
            ingress: { from: { ipBlock: { cidr: string } }[]; ports: { port: number }[] }[];
            egress: { ports: { protocol: string; port: number }[] }[];
        };
        expect(spec.policyTypes).toEqual(["Ingress", "Egress"]);
        expect(spec.ingress).toHaveLength(1);
        expect(spec.ingress[0]?.from.map((f) => f.ipBlock.cidr)).toEqual(["203.0.113.0/24", "2001:db8::/48"]);
        expect(spec.ingress[0]?.ports.map((p) => p.port)).toEqual([5432]);
        const ports = spec.egress.flatMap((e) => e.ports.map((p) => `${p.protocol}/${p.port}`)).sort();
        expect(ports).toEqual(["TCP/443", "TCP/53", "UDP/53"]);
    });

    it("caps the namespace with a quota and a LimitRange sized to the database", () => {
        const hard = (rec.one(T.quota).inputs.spec as { hard: Record<string, string> }).hard;
        expect(hard).toMatchObject({ pods: "1", "limits.memory": "2048Mi", "limits.cpu": "1500m", "requests.storage": "20Gi", "services.loadbalancers": "1" });
        const limits = (rec.one(T.limits).inputs.spec as { limits: { type: string; max: Record<string, string> }[] }).limits;
        expect(limits.find((l) => l.type === "Container")?.max).toEqual({ cpu: "1500m", memory: "2048Mi" });
    });

    it("makes independent objects depend on the namespace only, so they are created in parallel", () => {
        const ns = rec.one(T.ns).urn;
        const customDeps = (r: RecordedResource) => r.dependencies.filter((u) => rec.byUrn(u)?.custom);
        for (const type of [T.configMap, T.netpol, T.quota, T.limits, T.service]) {
            expect(customDeps(rec.one(type)), type).toEqual([ns]);
        }
        // The password is config, not a resource: the Secret waits for the namespace and for devdb's
        // grant on this namespace's Secrets (the RoleBinding of devdb-database), nothing else.
        const grant = rec.one("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding").urn;
        expect(customDeps(rec.one(T.secret)).sort()).toEqual([ns, grant].sort());
        expect(customDeps(rec.one("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"))).toEqual([ns]);
        // No component or resource chains through another component's dependsOn.
        for (const r of rec.resources) {
            expect(r.dependencies.filter((u) => rec.byUrn(u)?.custom === false), `${r.type} ${r.name}`).toEqual([]);
        }
    });

    it("binds devdb-database to the devdb ServiceAccount in the database's namespace only (the namespaced grant)", () => {
        const binding = rec.one("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding");
        const ns = (rec.one(T.ns).inputs.metadata as { name: string }).name;
        expect(binding.inputs.metadata).toMatchObject({ name: "devdb-database", namespace: ns });
        expect(binding.inputs.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "devdb-database" });
        expect(binding.inputs.subjects).toEqual([{ kind: "ServiceAccount", name: "devdb", namespace: "devdb" }]);
        expect(rec.ofType("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding")).toEqual([]);
    });

    it("exports the connection details, with password and uri secret", async () => {
        expect(await promiseOf(mod.port as pulumi.Output<number>)).toBe(5432);
        expect(mod.database).toBe("orders");
        expect(mod.user).toBe("postgres");
        expect(mod.version).toBe("PostgreSQL 17");
        expect(mod.expiresAt).toBe("2026-11-24T16:00:00Z");
        const uri = mod.uri as pulumi.Output<string>;
        expect(await isSecretOutput(uri)).toBe(true);
        expect(await promiseOf(uri)).toMatch(new RegExp(`^postgresql://postgres:${CONFIGURED_PASSWORD}@${LB_HOSTNAME.replace(/\./g, "\\.")}:5432/orders$`));
    });
});

describe("kubernetes target, a backup server with a private CA", async () => {
    const CA = "-----BEGIN CERTIFICATE-----\nMIIBfake0123456789abcdefghijklmnopqrstuvwxyzABCD\n-----END CERTIFICATE-----\n";
    const spec = kubernetesSpec();
    const { rec } = await runProgram({ ...spec, target: { kind: "kubernetes", namespace_prefix: "devdb-", memory_mb: 2048, cpu_millicores: 1500, storage_gb: 20, restore_ca_pem: CA } });
    const pod = podSpec(rec);
    const fetch = pod.initContainers[0];

    it("ships the bundle in the restore ConfigMap and mounts it in the fetch step only, with RESTORE_CA_FILE", () => {
        expect((rec.one(T.configMap).inputs as { data: Record<string, string> }).data["backup-ca.pem"]).toBe(CA);
        expect(fetch?.volumeMounts).toContainEqual(expect.objectContaining({ name: "restore", mountPath: "/opt/dbaas/restore/backup-ca.pem", subPath: "backup-ca.pem" }));
        expect(fetch?.env).toContainEqual({ name: "RESTORE_CA_FILE", value: "/opt/dbaas/restore/backup-ca.pem" });
        expect(pod.containers[0]?.volumeMounts.some((m) => m.mountPath.endsWith("backup-ca.pem"))).toBe(false);
    });
});

describe("kubernetes target, no source ranges and no backup", async () => {
    const { rec, mod } = await runProgram(kubernetesSpec({ source_ranges: [], backup_location: undefined }));

    it("creates no LoadBalancer: a ClusterIP Service, reachable only inside the cluster", async () => {
        const spec = rec.one(T.service).inputs.spec as { type: string; loadBalancerSourceRanges?: string[] };
        expect(spec.type).toBe("ClusterIP");
        expect(spec.loadBalancerSourceRanges).toBeUndefined();
        expect(JSON.stringify(rec.resources.map((r) => r.inputs))).not.toContain("0.0.0.0/0\"]");
        expect(await promiseOf(mod.host as pulumi.Output<string>)).toBe("postgres.devdb-orders.svc.cluster.local");
        expect((rec.one(T.quota).inputs.spec as { hard: Record<string, string> }).hard["services.loadbalancers"]).toBe("0");
    });

    it("allows no ingress and no HTTPS egress", () => {
        const spec = rec.one(T.netpol).inputs.spec as { ingress: unknown[]; egress: { ports: { port: number }[] }[] };
        expect(spec.ingress).toEqual([]);
        expect(spec.egress.flatMap((e) => e.ports.map((p) => p.port))).not.toContain(443);
    });

    it("has no fetch step or restore ConfigMap, and readiness is pg_isready alone", () => {
        const pod = podSpec(rec);
        expect(pod.initContainers).toEqual([]);
        expect(rec.ofType(T.configMap)).toEqual([]);
        const check = pod.containers[0]?.readinessProbe?.exec.command.join(" ") ?? "";
        expect(check).toContain("pg_isready");
        expect(check).not.toContain(RESTORE_MARKER);
    });
});
