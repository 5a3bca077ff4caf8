/**
 * One database on the kubernetes target, end to end through the API and the
 * REAL engine: the API (in this process, with the Automation API engine, the
 * built Pulumi CLI, our Node.js language host and the kubernetes provider)
 * acts as the devdb ServiceAccount (its token, from DevDbAccess applied by a
 * real `pulumi up`) against the REAL API server, whose admission (Pod Security
 * `restricted`, the devdb ValidatingAdmissionPolicy) and RBAC judge every
 * object; the policy pack runs on every `up`. SIMULATED: the kubelet (kwok
 * marks the pod Running and Ready; no PostgreSQL runs, so no restore and no
 * connection), the cloud load balancer and the storage provisioner
 * (test/e2e/cluster.ts).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProgramError, type StackEngine } from "../../api/engine/types";
import { parseDatabaseSpec } from "../../contracts/database";
import { createBody, readSse, TOKENS, waitFor, type TestApi } from "../support/testApi";
import { kubectl, kubectlJson } from "./cluster";
import { requireKubernetes, requirePulumi } from "./engine";
import { PREFIX, setUpKubernetesE2e, stackFiles, startEngineApi, waitDeleted, type KubernetesE2e } from "./ondemandApi";

const missing = requirePulumi() ?? requireKubernetes();
const NAME = "e2e-k8s-db";
const NS = `${PREFIX}${NAME}`;
let e2e: KubernetesE2e;
let tmp: string;
let adminKubeconfig: string;
let api: TestApi;
let engine: StackEngine;
let target: Awaited<ReturnType<typeof startEngineApi>>["target"];
let close: (() => Promise<void>) | undefined;

describe.skipIf(missing)("the kubernetes target through the API and the real engine", () => {
    beforeAll(async () => {
        e2e = await setUpKubernetesE2e("k8s-e2e");
        ({ tmp, adminKubeconfig } = e2e);
        ({ api, engine, target, close } = await startEngineApi(e2e));
    }, 600_000);

    afterAll(async () => {
        await close?.();
        await e2e?.tearDown([NS, `${PREFIX}e2e-bad-image`]);
    }, 600_000);

    it("is ready: the engine reports no missing part", async () => {
        const r = await api.call(null, "GET", "/readyz");
        expect(r.body, JSON.stringify(r.body)).toEqual({ status: "ready" });
    });

    it("POST /databases provisions the namespace and its objects as declared, and the database reaches ready", async () => {
        const r = await api.call("alice", "POST", "/databases", { body: createBody(NAME, { source_ranges: ["203.0.113.0/24"] }) });
        expect(r.status, JSON.stringify(r.body)).toBe(202);
        const db = await waitFor("the create to end", async () => {
            const g = await api.call("alice", "GET", `/databases/${NAME}`);
            const body = g.body as { state?: string };
            return body.state === "ready" || body.state === "failed" ? body as { state: string; endpoint: unknown; failure_reason: string | null } : undefined;
        }, 480_000);
        expect(db.state, `failure: ${db.failure_reason}`).toBe("ready");
        expect(db.endpoint).toMatchObject({ host: "203.0.113.10", port: 5432 });

        const ns = kubectlJson<{ metadata: { labels: Record<string, string> } }>(["get", "namespace", NS], adminKubeconfig);
        expect(ns.metadata.labels["pod-security.kubernetes.io/enforce"]).toBe("restricted");
        const kinds = (kind: string) => kubectlJson<{ items: { metadata: { name: string } }[] }>(["get", kind, "-n", NS], adminKubeconfig).items.length;
        for (const kind of ["secrets", "statefulsets", "services", "networkpolicies", "resourcequotas", "limitranges"]) expect(kinds(kind), kind).toBeGreaterThan(0);
        const svc = kubectlJson<{ items: { spec: { type: string; loadBalancerSourceRanges?: string[] } }[] }>(["get", "services", "-n", NS], adminKubeconfig)
            .items.find((s) => s.spec.type === "LoadBalancer");
        expect(svc?.spec.loadBalancerSourceRanges).toEqual(["203.0.113.0/24"]);
        const pod = kubectlJson<{ items: { spec: { securityContext?: { runAsNonRoot?: boolean } }; status: { phase: string } }[] }>(["get", "pods", "-n", NS], adminKubeconfig).items[0];
        expect(pod?.status.phase).toBe("Running");
    }, 600_000);

    it("the operation's event stream carries the real engine's resource events", async () => {
        const sse = await readSse(`${api.url}/databases/${NAME}/events`, TOKENS.alice, {}, 30_000);
        const kinds = sse.frames.map((f) => f.event);
        expect(kinds).toContain("resource-done");
        expect(sse.raw).toContain("kubernetes:apps/v1:StatefulSet");
    });

    it("the policy pack runs on every up through the real CLI: an image outside the catalog fails naming the policy, and nothing is created", async () => {
        const spec = parseDatabaseSpec({
            name: "e2e-bad-image", owner: "alice", project_id: "proj-1", db_type: "postgres", version: "PostgreSQL 17",
            image: "registry.example.com/not-the-catalog:17", expires_at: new Date(Date.now() + 3_600_000).toISOString(),
            source_ranges: [], target,
        });
        expect(kubectl(["get", "namespace", `${PREFIX}e2e-bad-image`], { kubeconfig: adminKubeconfig }).status, "no namespace before").not.toBe(0);
        const err = await engine.up(spec, { signal: new AbortController().signal, onEvent: () => undefined }).then(() => undefined, (e: unknown) => e);
        expect(err).toBeInstanceOf(ProgramError);
        expect((err as Error).message).toMatch(/postgres-image-from-catalog/);
        expect(kubectl(["get", "namespace", `${PREFIX}e2e-bad-image`], { kubeconfig: adminKubeconfig }).status).not.toBe(0);
        await engine.destroy("e2e-bad-image", { signal: new AbortController().signal, onEvent: () => undefined });
    }, 300_000);

    it("DELETE removes the namespace and the stack", async () => {
        const r = await api.call("alice", "DELETE", `/databases/${NAME}`);
        expect(r.status).toBe(202);
        await waitDeleted(api, NAME, 300_000);
        await waitFor("the namespace gone", () => Promise.resolve(kubectl(["get", "namespace", NS], { kubeconfig: adminKubeconfig }).status !== 0 ? true : undefined), 120_000);
        expect(fs.existsSync(path.join(tmp, "stacks", NAME))).toBe(false);
        expect(stackFiles(e2e.stateRoot, NAME).checkpoint, "the stack in the file backend").toBeUndefined();
    }, 600_000);
});
