/**
 * The platform's DevDbAccess objects applied by a REAL `pulumi up` (built CLI,
 * our Node.js language host, the kubernetes provider) to the local control
 * plane (REAL etcd, API server with RBAC and admission, controller-manager
 * filling the ServiceAccount token; kubelets SIMULATED by kwok, not needed
 * here), then least privilege proven both ways with the devdb
 * ServiceAccount's own token: what the engine needs is allowed, what the
 * identity must not do is refused by the API server, and the
 * ValidatingAdmissionPolicy refuses writes outside the on-demand prefix.
 * Secrets are the one kind devdb can read only where it was granted: a
 * RoleBinding of devdb-database in each database namespace, which devdb
 * itself creates (bind on exactly that ClusterRole) and the admission policy
 * confines to that roleRef and subject (issue 18).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEVDB_ROLE_RULES } from "../../components/aws/rbac";
import { DEVDB_DATABASE_ROLE } from "../../contracts/devdb";
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
                // A rule limited to named objects is granted for those names only.
                const names: readonly (string | undefined)[] = "resourceNames" in rule && rule.resourceNames !== undefined ? rule.resourceNames : [undefined];
                for (const name of names) {
                    const target = name === undefined ? qualified : `${qualified}/${name}`;
                    for (const verb of rule.verbs) expect(canI(verb, target, "devdb-anything"), `${verb} ${target}`).toBe(true);
                }
            }
        }
    });

    it.each([
        ["create", "clusterrolebindings.rbac.authorization.k8s.io", undefined],
        ["bind", "clusterroles.rbac.authorization.k8s.io", undefined],
        ["bind", "clusterroles.rbac.authorization.k8s.io/cluster-admin", undefined],
        ["get", "secrets", "kube-system"],
        ["get", "secrets", "devdb-never-granted"],
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

    it("Secrets: readable only in a database namespace after devdb bound devdb-database there; the policy admits only that binding", () => {
        expect(asDevdb(["get", "secrets", "-n", "kube-system"]).status, "no Secret outside a granted namespace").not.toBe(0);
        const ns = "devdb-e2e-grant";
        const made = asDevdb(["create", "-f", "-"], namespaceYaml(ns, GOOD_LABELS));
        expect(made.status, made.stderr).toBe(0);
        try {
            expect(canI("get", "secrets", ns), "nothing before the grant").toBe(false);
            const binding = (name: string, roleRef: string, subject: { name: string; namespace: string }) => JSON.stringify({
                apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: { name, namespace: ns },
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: roleRef },
                subjects: [{ kind: "ServiceAccount", ...subject }],
            });
            const otherRole = asDevdb(["create", "-f", "-"], binding("e2e-other-role", "devdb-role", { name: "devdb", namespace: "devdb" }));
            expect(otherRole.status, "another roleRef").not.toBe(0);
            const otherSubject = asDevdb(["create", "-f", "-"], binding("e2e-other-subject", DEVDB_DATABASE_ROLE, { name: "default", namespace: ns }));
            expect(otherSubject.status, "another subject").not.toBe(0);
            expect(otherSubject.stderr).toMatch(/devdb-scope|forbidden/i);
            const grant = asDevdb(["create", "-f", "-"], binding(DEVDB_DATABASE_ROLE, DEVDB_DATABASE_ROLE, { name: "devdb", namespace: "devdb" }));
            expect(grant.status, grant.stderr).toBe(0);
            expect(canI("get", "secrets", ns), "after the grant").toBe(true);
            expect(asDevdb(["get", "secrets", "-n", ns]).status).toBe(0);
            expect(canI("get", "secrets", "kube-system"), "still nowhere else").toBe(false);
        } finally {
            asDevdb(["delete", "namespace", ns, "--wait=false"]);
        }
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
