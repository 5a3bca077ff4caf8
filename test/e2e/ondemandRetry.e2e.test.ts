/**
 * Failures after a partial create, with the REAL engine on the kubernetes
 * target (the API in this process as the devdb ServiceAccount):
 * - a create fails half way for a reason outside the request: the cluster
 *   admin's ValidatingAdmissionPolicy (REAL admission) refuses Services of
 *   type LoadBalancer in the database's namespace, as a cloud whose
 *   load-balancer quota is used up would have an admin do. The namespace and
 *   the objects before the Service exist; the database is failed with the
 *   API server's refusal as its reason. The admin lifts the policy, the owner
 *   retries, and the retry resumes the same stack: it creates what is
 *   missing and keeps the namespace it made (same UID; at most updated in place);
 * - an admin then deletes the namespace by hand (`kubectl delete
 *   namespace`); DELETE of the database still succeeds, and no stack, work
 *   directory or namespace is left.
 * SIMULATED: the kubelet (kwok), the cloud load balancer's address and the
 * storage provisioner (./cluster.ts).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBody, sqlIn, waitFor, type TestApi } from "../support/testApi";
import { requireKubernetes, requirePulumi } from "./engine";
import { PREFIX, setUpKubernetesE2e, stackFiles, startEngineApi, waitDeleted, type KubernetesE2e } from "./ondemandApi";

const missing = requirePulumi() ?? requireKubernetes();
const NAME = "e2e-retry";
const NS = `${PREFIX}${NAME}`;
const PROBE_NS = "e2e-lb-probe";
const POLICY = "e2e-load-balancer-quota";
const REFUSAL = "no load balancer is available: the load-balancer quota is used up";
const NAMESPACE_TYPE = "kubernetes:core/v1:Namespace";
const SERVICE_TYPE = "kubernetes:core/v1:Service";

/** The admin's policy: no Service of type LoadBalancer in the database's namespace (and a probe namespace to see it act). */
const POLICY_MANIFEST = JSON.stringify({
    apiVersion: "v1", kind: "List", items: [
        {
            apiVersion: "admissionregistration.k8s.io/v1", kind: "ValidatingAdmissionPolicy", metadata: { name: POLICY },
            spec: {
                failurePolicy: "Fail",
                matchConstraints: { resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["services"] }] },
                validations: [{ expression: "object.spec.type != 'LoadBalancer'", message: REFUSAL, reason: "Forbidden" }],
            },
        },
        {
            apiVersion: "admissionregistration.k8s.io/v1", kind: "ValidatingAdmissionPolicyBinding", metadata: { name: POLICY },
            spec: {
                policyName: POLICY, validationActions: ["Deny"],
                matchResources: { namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: [NS, PROBE_NS] }] } },
            },
        },
    ],
});

let e2e: KubernetesE2e;
let api: TestApi;
let close: (() => Promise<void>) | undefined;
let namespaceUid: string;

type DatabaseView = { state: string; failure_reason: string | null; endpoint: { host: string } | null; last_operation: { id: number; kind: string; status: string } };
const view = async () => (await api.call("alice", "GET", `/databases/${NAME}`)).body as DatabaseView;
const ended = (what: string, states: string[], timeoutMs = 240_000) => waitFor(what, async () => {
    const v = await view();
    return states.includes(v.state) ? v : undefined;
}, timeoutMs, 500);
/** Whether the API server now refuses a LoadBalancer Service in the probe namespace (server-side dry run). */
const refusesLoadBalancers = () => {
    const r = e2e.admin(["create", "service", "loadbalancer", "probe", "--tcp=5432", "-n", PROBE_NS, "--dry-run=server"]);
    return r.status !== 0 && r.stderr.includes(REFUSAL);
};
const uidOf = (ns: string) => e2e.adminJson<{ metadata: { uid: string } }>(["get", "namespace", ns]).metadata.uid;

describe.skipIf(missing)("a failed create retried, and a database whose namespace was deleted by hand (real engine, kubernetes target)", () => {
    beforeAll(async () => {
        e2e = await setUpKubernetesE2e("retry-e2e");
        ({ api, close } = await startEngineApi(e2e));
        expect(e2e.admin(["create", "namespace", PROBE_NS]).status).toBe(0);
    }, 600_000);

    afterAll(async () => {
        await close?.();
        e2e?.admin(["delete", "-f", "-", "--ignore-not-found"], POLICY_MANIFEST);
        await e2e?.tearDown([NS, PROBE_NS]);
    }, 600_000);

    it("a create the cluster's admission refuses half way fails with the API server's reason, leaving the namespace and the stack", async () => {
        expect(e2e.admin(["apply", "-f", "-"], POLICY_MANIFEST).status).toBe(0);
        await waitFor("the admission policy to act", () => (refusesLoadBalancers() ? true : undefined), 30_000, 200);

        expect((await api.call("alice", "POST", "/databases", { body: createBody(NAME, { source_ranges: ["203.0.113.0/24"] }) })).status).toBe(202);
        const failed = await ended("the create to end", ["ready", "failed"]);
        expect(failed.state).toBe("failed");
        // The stored reason names the Service, the admin's policy and the policy's own message.
        expect(failed.failure_reason).toContain(SERVICE_TYPE);
        expect(failed.failure_reason).toContain(`forbidden: ValidatingAdmissionPolicy '${POLICY}' denied the request: ${REFUSAL}`);

        expect(e2e.namespaceExists(NS), "the namespace the first attempt made").toBe(true);
        namespaceUid = uidOf(NS);
        expect(e2e.admin(["get", "service", "postgres", "-n", NS]).status, "no Service").not.toBe(0);
        const state = stackFiles(e2e.stateRoot, NAME).checkpoint?.latest?.resources ?? [];
        expect(state.some((r) => r.type === NAMESPACE_TYPE), "the stack holds the namespace").toBe(true);
        expect(state.some((r) => r.type === SERVICE_TYPE), "and no Service").toBe(false);
    }, 300_000);

    it("once the admin lifts the policy, a retry resumes the same stack: the Service is created, the namespace is kept (same UID)", async () => {
        expect(e2e.admin(["delete", "-f", "-"], POLICY_MANIFEST).status).toBe(0);
        await waitFor("the admission policy to be lifted", () => (refusesLoadBalancers() ? undefined : true), 30_000, 200);

        expect((await api.call("alice", "POST", `/databases/${NAME}/retry`)).status).toBe(202);
        const ready = await ended("the retry to end", ["ready", "failed"]);
        expect(ready.state, `failure: ${ready.failure_reason}`).toBe("ready");
        expect(ready.endpoint).toMatchObject({ host: "203.0.113.10" });
        expect(uidOf(NS), "the namespace of the first attempt, not a new one").toBe(namespaceUid);

        const starts = (await sqlIn<{ data: { type: string; op: string } }>(e2e.pg, api.databaseUrl,
            "SELECT data FROM operation_events WHERE operation_id = $1 AND kind = 'resource-start' ORDER BY id", [ready.last_operation.id])).map((e) => e.data);
        expect(starts.filter((s) => s.type === SERVICE_TYPE).map((s) => s.op), "the retry created the Service").toEqual(["create"]);
        // The namespace may be updated in place (its labels), never created or replaced.
        expect(starts.filter((s) => s.type === NAMESPACE_TYPE && s.op !== "update"), "the namespace not made again").toEqual([]);
        const state = stackFiles(e2e.stateRoot, NAME).checkpoint?.latest;
        expect(state?.resources?.filter((r) => r.type === NAMESPACE_TYPE).length).toBe(1);
        expect(state?.pending_operations ?? []).toEqual([]);
    }, 300_000);

    it("DELETE of a database whose namespace an admin deleted by hand succeeds and leaves no stack", async () => {
        // Not --wait: a synchronous kubectl that long would stall this process's API (and its keep-alive sockets).
        expect(e2e.admin(["delete", "namespace", NS, "--wait=false"]).status).toBe(0);
        await waitFor("the namespace deleted by hand to be gone", () => (e2e.namespaceExists(NS) ? undefined : true), 120_000, 500);
        expect(stackFiles(e2e.stateRoot, NAME).checkpoint, "the stack still exists before the DELETE").toBeDefined();

        expect((await api.call("alice", "DELETE", `/databases/${NAME}`)).status).toBe(202);
        await waitDeleted(api, NAME, 240_000);
        expect(stackFiles(e2e.stateRoot, NAME).checkpoint, "the stack in the file backend").toBeUndefined();
        expect(fs.existsSync(path.join(e2e.stateRoot, NAME)), "the work directory").toBe(false);
        expect(e2e.namespaceExists(NS), "no namespace came back").toBe(false);
    }, 300_000);
});
