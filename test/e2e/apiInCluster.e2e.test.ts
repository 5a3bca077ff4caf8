/**
 * The API with the in-cluster configuration, as a pod of the prod Deployment
 * runs it (issue 18): no KUBECONFIG, no kubeconfig file, only
 * KUBERNETES_SERVICE_HOST/PORT and /var/run/secrets/kubernetes.io/serviceaccount
 * holding a token of the devdb ServiceAccount, its namespace and the cluster's CA.
 * The API process runs in a private mount namespace (`unshare --mount`: a tmpfs on
 * /run and the token directory bound at the ServiceAccount path, seen by that
 * process tree only; nothing on the host changes) and provisions a database end to
 * end against the REAL API server (etcd, RBAC, admission) with the REAL engine
 * (CLI, language host, kubernetes provider), then deletes it.
 * The token is a TokenRequest of the ServiceAccount (`kubectl create token`), what the
 * kubelet asks for a projected token; not bound to a pod here (there is no kubelet:
 * kwok SIMULATES them, as well as the cloud load balancer and volumes).
 * A second process without the mount, same environment otherwise, is not ready and
 * says why: so the mounted token is the API's only credential.
 * Needs root (a mount namespace); skips with the reason otherwise, fails with CI=true.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEVDB_NAMESPACE, DEVDB_SERVICE_ACCOUNT } from "../../contracts/devdb";
import { createBody, waitFor } from "../support/testApi";
import { engineMissing, requireKubernetes, requirePulumi } from "./engine";
import { childDatabase, PREFIX, setUpKubernetesE2e, startApiProcess, waitDeleted, type ApiProcess, type KubernetesE2e } from "./ondemandApi";

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
const missing = requirePulumi() ?? requireKubernetes()
    ?? engineMissing("the in-cluster API", process.getuid?.() === 0 ? undefined : "not root: a private mount namespace (unshare --mount) needs root");
const NAME = "e2e-in-cluster";

/** The pod's view: a tmpfs on /run (so nothing is made on the host) and the token directory at the ServiceAccount path. */
function podMounts(tokenDir: string): string[] {
    const script = `mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -p ${SA_DIR.replace("/var/run", "/run")} && mount --bind "$0" ${SA_DIR} && exec "$@"`;
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, tokenDir];
}

describe.skipIf(missing)("the API in the cluster's configuration: the devdb ServiceAccount's token only", () => {
    let e2e: KubernetesE2e;
    let api: ApiProcess | undefined;
    let env: Record<string, string>;
    let db: Awaited<ReturnType<typeof childDatabase>>;

    beforeAll(async () => {
        e2e = await setUpKubernetesE2e("in-cluster");
        const server = new URL(process.env.DBAAS_E2E_KUBE_SERVER ?? "");
        const tokenDir = path.join(e2e.tmp, "serviceaccount");
        fs.mkdirSync(tokenDir, { mode: 0o755 });
        const token = e2e.admin(["create", "token", DEVDB_SERVICE_ACCOUNT, "-n", DEVDB_NAMESPACE, "--duration", "1h"]);
        expect(token.status, token.stderr).toBe(0);
        fs.writeFileSync(path.join(tokenDir, "token"), token.stdout.trim(), { mode: 0o644 });
        fs.copyFileSync(process.env.DBAAS_E2E_KUBE_CA ?? "", path.join(tokenDir, "ca.crt"));
        fs.writeFileSync(path.join(tokenDir, "namespace"), DEVDB_NAMESPACE);
        const home = path.join(e2e.tmp, "home");
        fs.mkdirSync(home);
        env = { HOME: home, KUBERNETES_SERVICE_HOST: server.hostname, KUBERNETES_SERVICE_PORT: server.port };
        db = await childDatabase(e2e);
        api = await startApiProcess(e2e, db, env, { prefix: podMounts(tokenDir), unset: ["KUBECONFIG"] });
    }, 600_000);

    afterAll(async () => {
        await api?.stop();
        await e2e?.tearDown([`${PREFIX}${NAME}`]);
    }, 600_000);

    it("is ready with nothing but the mounted token (a process without it is not)", async () => {
        const ready = await waitFor("the API to be ready", async () => {
            const r = await api?.call("alice", "GET", "/readyz");
            return r?.status === 200 ? r : undefined;
        }, 60_000, 500);
        expect(ready.body).toEqual({ status: "ready" });

        const bare = await startApiProcess(e2e, db, env, { unset: ["KUBECONFIG"] });
        try {
            const r = await bare.call("alice", "GET", "/readyz");
            expect(r.status).toBe(503);
            expect(JSON.stringify(r.body)).toMatch(/no Kubernetes credentials: not in a cluster/);
        } finally {
            await bare.stop();
        }
    }, 120_000);

    it("provisions a database end to end as the devdb ServiceAccount, and deletes it", async () => {
        const proc = api;
        if (proc === undefined) throw new Error("the API did not start");
        const created = await proc.call("alice", "POST", "/databases", createBody(NAME, { source_ranges: ["203.0.113.0/24"] }));
        expect(created.status, JSON.stringify(created.body)).toBe(202);
        const view = await waitFor("the create to end", async () => {
            const g = await proc.call("alice", "GET", `/databases/${NAME}`);
            const state = (g.body as { state?: string }).state;
            return state === "ready" || state === "failed" ? g.body : undefined;
        }, 300_000, 500);
        expect(view.state, `failure: ${String(view.failure_reason)}`).toBe("ready");
        const ns = `${PREFIX}${NAME}`;
        expect(e2e.namespaceExists(ns)).toBe(true);
        // The grant the program declares for devdb in the database's namespace (devdb may bind only that role).
        const binding = e2e.adminJson<{ items: { subjects?: { kind: string; name: string; namespace?: string }[] }[] }>(["get", "rolebindings", "-n", ns, "-o", "json"]);
        expect(binding.items.flatMap((b) => b.subjects ?? [])).toContainEqual({ kind: "ServiceAccount", name: DEVDB_SERVICE_ACCOUNT, namespace: DEVDB_NAMESPACE });

        expect((await proc.call("alice", "DELETE", `/databases/${NAME}`)).status).toBe(202);
        await waitDeleted(proc, NAME, 240_000);
        expect(e2e.namespaceExists(ns)).toBe(false);
    }, 600_000);
});
