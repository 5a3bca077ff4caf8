/**
 * The kubernetes part of the platform (infra/clusterWorkloads.ts, what the
 * staging and prod stacks put on EKS) applied by a REAL `pulumi up` (built
 * CLI, our Node.js language host, the kubernetes provider) with the staging
 * stack's config to the local control plane: REAL etcd, API server (RBAC,
 * PodSecurity and ValidatingAdmissionPolicy admission), controllers and
 * scheduler. SIMULATED: the kubelets (kwok marks pods Ready; nothing runs) and
 * the cloud load balancer's address. STAND-INS, not declared: every AWS part
 * (the IRSA role's ARN, the RDS URL, the S3 state backend, the KMS key, the
 * ECR image digest; test/e2e/programs/platform-kubernetes says which).
 * What the API server then holds is checked as prod needs it: the API as the
 * devdb ServiceAccount with a projected token and no token Secret, admitted
 * under the restricted pod security level, ready, by digest, with a disruption
 * budget; nginx behind a LoadBalancer open only to the configured ranges.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IRSA_ROLE_ANNOTATION } from "../../components/aws";
import { DEVDB_NAMESPACE, DEVDB_SERVICE_ACCOUNT } from "../../contracts/devdb";
import { selfSignedCertificate } from "../support/tls";
import { fixturePulumi, fixturePulumiAsync, kubectlJson, simulateCloud } from "./cluster";
import { requireKubernetes, requirePulumi } from "./engine";

const missing = requirePulumi() ?? requireKubernetes();

interface Meta { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
interface PodSpec {
    serviceAccountName?: string;
    automountServiceAccountToken?: boolean;
    securityContext?: { runAsNonRoot?: boolean };
    containers: { image: string; env?: { name: string; value?: string }[] }[];
    volumes?: { name: string; projected?: { sources: { serviceAccountToken?: unknown }[] } }[];
}

describe.skipIf(missing)("the platform's kubernetes part on a real API server, applied by the real CLI (AWS parts are stand-ins)", () => {
    let tmp: string;
    let cloud: { stop(): void } | undefined;
    let upSeconds = 0;
    const admin = process.env.KUBECONFIG;
    const get = <T>(args: string[]) => kubectlJson<T>(args, admin);

    beforeAll(async () => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-platform-k8s-"));
        const cert = selfSignedCertificate("dbaas.staging.example.com");
        fs.writeFileSync(path.join(tmp, "chain.pem"), cert.certPem);
        fs.writeFileSync(path.join(tmp, "key.pem"), cert.keyPem, { mode: 0o600 });
        // The devdb namespace's LoadBalancer gets its SIMULATED address (the prefix matches "devdb" too).
        cloud = simulateCloud(DEVDB_NAMESPACE, admin ?? "");
        const env = { DBAAS_E2E_TLS_CHAIN: path.join(tmp, "chain.pem"), DBAAS_E2E_TLS_KEY: path.join(tmp, "key.pem") };
        fixturePulumi("platform-kubernetes", tmp, ["stack", "init", "e2e"], env);
        const started = Date.now();
        // Not blocking: the SIMULATED load balancer must get its address while the up waits for it.
        await fixturePulumiAsync("platform-kubernetes", tmp, ["up", "--yes", "--skip-preview", "--stack", "e2e", "--color", "never"], env);
        upSeconds = (Date.now() - started) / 1000;
        console.log(`platform kubernetes part: pulumi up ${upSeconds.toFixed(1)} s`);
    }, 900_000);

    afterAll(async () => {
        try {
            if (tmp !== undefined) {
                await fixturePulumiAsync("platform-kubernetes", tmp, ["destroy", "--yes", "--skip-preview", "--stack", "e2e", "--color", "never"],
                    { DBAAS_E2E_TLS_CHAIN: path.join(tmp, "chain.pem"), DBAAS_E2E_TLS_KEY: path.join(tmp, "key.pem") });
            }
        } finally {
            cloud?.stop();
            if (tmp !== undefined) fs.rmSync(tmp, { recursive: true, force: true });
        }
    }, 600_000);

    it("runs the API as the devdb ServiceAccount with a projected token, and no token Secret exists", () => {
        const sa = get<{ metadata: Meta }>(["get", "serviceaccount", DEVDB_SERVICE_ACCOUNT, "-n", DEVDB_NAMESPACE]);
        expect(sa.metadata.annotations?.[IRSA_ROLE_ANNOTATION]).toBe("arn:aws:iam::123456789012:role/dbaas-e2e-api");
        const api = get<{ spec: { replicas: number; template: { spec: PodSpec } }; status: { readyReplicas?: number } }>(["get", "deployment", "dbaas-api", "-n", DEVDB_NAMESPACE]);
        const pod = api.spec.template.spec;
        expect(pod.serviceAccountName).toBe(DEVDB_SERVICE_ACCOUNT);
        expect(pod.containers[0]?.image).toMatch(/@sha256:[0-9a-f]{64}$/);
        // The admin database's URL is a Secret file, never a plain env value.
        expect(JSON.stringify(pod.containers.map((c) => c.env ?? []))).not.toContain("postgresql://");
        expect(api.status.readyReplicas).toBe(api.spec.replicas);
        const secrets = get<{ items: { metadata: Meta; type: string }[] }>(["get", "secrets", "-n", DEVDB_NAMESPACE]);
        expect(secrets.items.filter((s) => s.type === "kubernetes.io/service-account-token")).toEqual([]);
        expect(secrets.items.map((s) => s.type).sort()).toEqual(["Opaque", "kubernetes.io/tls"]);
    });

    it("admits the pods under the namespace's restricted pod security level", () => {
        const ns = get<{ metadata: Meta }>(["get", "namespace", DEVDB_NAMESPACE]);
        expect(ns.metadata.labels?.["pod-security.kubernetes.io/enforce"]).toBe("restricted");
        const pods = get<{ items: { metadata: Meta; status: { phase: string } }[] }>(["get", "pods", "-n", DEVDB_NAMESPACE]);
        expect(pods.items.length).toBeGreaterThanOrEqual(3);
        expect(pods.items.every((p) => p.status.phase === "Running")).toBe(true);
        const pdbs = get<{ items: { metadata: Meta }[] }>(["get", "poddisruptionbudgets", "-n", DEVDB_NAMESPACE]);
        expect(pdbs.items.map((p) => p.metadata.name).sort()).toEqual(["dbaas-api", "dbaas-nginx"]);
    });

    it("exposes nginx through a LoadBalancer open only to the configured source ranges", () => {
        const svc = get<{ spec: { type: string; loadBalancerSourceRanges?: string[] } }>(["get", "service", "dbaas-nginx", "-n", DEVDB_NAMESPACE]);
        expect(svc.spec.type).toBe("LoadBalancer");
        expect(svc.spec.loadBalancerSourceRanges).toEqual(["203.0.113.0/24"]);
        const api = get<{ spec: { type: string } }>(["get", "service", "dbaas-api", "-n", DEVDB_NAMESPACE]);
        expect(api.spec.type).toBe("ClusterIP");
        const conf = get<{ data: Record<string, string> }>(["get", "configmap", "dbaas-nginx-config", "-n", DEVDB_NAMESPACE]);
        expect(conf.data["nginx.conf"]).toMatch(/ssl_protocols TLSv1\.2 TLSv1\.3;/);
    });
});
