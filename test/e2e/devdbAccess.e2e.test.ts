/**
 * The platform's DevDbAccess objects applied by a REAL `pulumi up` (built CLI,
 * our Node.js language host, the kubernetes provider) to the local control
 * plane (REAL etcd, API server with RBAC and admission, controller-manager
 * filling the ServiceAccount token; kubelets SIMULATED by kwok, not needed
 * here), then least privilege proven both ways with the devdb
 * ServiceAccount's own token: what the engine needs is allowed, what the
 * identity must not do is refused by the API server, and the
 * ValidatingAdmissionPolicy refuses writes outside the on-demand prefix.
 * One known gap is asserted as it is today: reads are cluster-wide.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEVDB_ROLE_RULES } from "../../components/aws/rbac";
import { applyDevDbAccess, destroyDevDbAccess, kubectl } from "./cluster";
import { requireKubernetes, requirePulumi } from "./engine";
import { LABELS } from "../../contracts/labels";

const missing = requirePulumi() ?? requireKubernetes();
let tmp: string;
let devdbKubeconfig: string;

/** kubectl as the devdb ServiceAccount (its token, from the stack's secret output). */
function asDevdb(args: string[], input?: string) {
    return kubectl(args, { kubeconfig: devdbKubeconfig, ...(input === undefined ? {} : { input }) });
}
function canI(verb: string, resource: string, namespace?: string): boolean {
    const r = asDevdb(["auth", "can-i", verb, resource, ...(namespace === undefined ? [] : ["-n", namespace])]);
    return r.stdout.trim() === "yes";
}

const EXPIRES = "2030-01-01T00-00-00Z";
function namespaceYaml(name: string, labels: Record<string, string>): string {
    return JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name, labels } });
}
const GOOD_LABELS = { [LABELS.owner]: "alice", [LABELS.expiresAt]: EXPIRES, "pod-security.kubernetes.io/enforce": "restricted" };

describe.skipIf(missing)("DevDbAccess on a real API server, applied by the real CLI", () => {
    beforeAll(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-devdb-"));
        devdbKubeconfig = applyDevDbAccess(tmp);
    }, 600_000);
    afterAll(() => {
        if (tmp === undefined) return;
        try {
            destroyDevDbAccess(tmp);
        } finally {
            fs.rmSync(tmp, { recursive: true, force: true });
        }
    }, 300_000);

    it("the API's kubeconfig authenticates as system:serviceaccount:devdb:devdb", () => {
        const r = asDevdb(["auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"]);
        expect(r.stdout).toBe("system:serviceaccount:devdb:devdb");
    });

    it("every verb of the reviewed ClusterRole is granted (what the engine needs)", () => {
        for (const rule of DEVDB_ROLE_RULES) {
            for (const resource of rule.resources) {
                const qualified = rule.apiGroups[0] === "" ? resource : `${resource}.${rule.apiGroups[0]}`;
                for (const verb of rule.verbs) expect(canI(verb, qualified, "devdb-anything"), `${verb} ${qualified}`).toBe(true);
            }
        }
    });

    it.each([
        ["create", "clusterrolebindings.rbac.authorization.k8s.io", undefined],
        ["create", "rolebindings.rbac.authorization.k8s.io", "devdb-x"],
        ["bind", "clusterroles.rbac.authorization.k8s.io", undefined],
        ["escalate", "clusterroles.rbac.authorization.k8s.io", undefined],
        ["impersonate", "users", undefined],
        ["patch", "validatingadmissionpolicies.admissionregistration.k8s.io", undefined],
        ["delete", "validatingadmissionpolicybindings.admissionregistration.k8s.io", undefined],
        ["update", "statefulsets.apps", "devdb-x"],
        ["create", "pods/exec", "devdb-x"],
        ["create", "deployments.apps", "devdb-x"],
    ])("RBAC refuses: %s %s (namespace %s)", (verb, resource, namespace) => {
        expect(canI(verb, resource, namespace)).toBe(false);
    });

    it("a write outside the prefix is refused by the API server itself (403 or the policy)", () => {
        const r = asDevdb(["create", "configmap", "e2e", "-n", "kube-system", "--from-literal=a=b"]);
        expect(r.status).not.toBe(0);
        expect(r.stderr).toMatch(/forbidden|devdb-scope/i);
    });

    // Admission sees writes only, so the cluster-wide binding still lets devdb READ Secrets and
    // ConfigMaps in every namespace. Shrinking reads to the prefix needs per-namespace bindings
    // (issue 18). This asserts today's behaviour so that the fix has to change it here.
    it("KNOWN GAP (issue 18): the cluster-wide ClusterRole lets devdb read Secrets outside the prefix", () => {
        expect(canI("get", "secrets", "kube-system")).toBe(true);
        expect(asDevdb(["get", "secrets", "-n", "kube-system"]).status).toBe(0);
    });

    it("the admission policy refuses namespaces outside the prefix or without the required labels, and admits the program's kind", () => {
        const outside = asDevdb(["create", "-f", "-"], namespaceYaml("other-e2e", GOOD_LABELS));
        expect(outside.status).not.toBe(0);
        expect(outside.stderr).toMatch(/devdb-scope/);
        const unlabelled = asDevdb(["create", "-f", "-"], namespaceYaml("devdb-e2e-nolabels", { [LABELS.owner]: "alice" }));
        expect(unlabelled.status).not.toBe(0);
        expect(unlabelled.stderr).toMatch(/devdb-scope/);
        const good = asDevdb(["create", "-f", "-"], namespaceYaml("devdb-e2e-ok", GOOD_LABELS));
        expect(good.status, good.stderr).toBe(0);
        const deleted = asDevdb(["delete", "namespace", "devdb-e2e-ok", "--wait=false"]);
        expect(deleted.status, deleted.stderr).toBe(0);
        // The API's own namespace is not under the prefix: devdb may not delete it.
        const own = asDevdb(["delete", "namespace", "devdb", "--dry-run=server"]);
        expect(own.status).not.toBe(0);
    });
});
