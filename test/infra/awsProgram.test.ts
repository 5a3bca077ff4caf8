/**
 * The AWS part of the platform program under mocks: prod (aws.enabled, here on
 * the docker platform target) gets the ECR repositories, the EKS provider and
 * DevDbAccess exactly as reviewed;
 * dev (aws disabled) gets no AWS or Kubernetes resource at all.
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { parse } from "yaml";
import { admissionResourceRules, DEVDB_ADMISSION_POLICY, devDbMatchCondition, devDbValidations, POD_SECURITY_ENFORCE_LABEL } from "../../components/aws/admission";
import { renderLifecyclePolicy } from "../../components/aws/ecrLifecycle";
import { DEVDB_ROLE_RULES, ESCALATION_VERBS, findRbacViolations, NAMESPACED_GRANT_RULES, type PolicyRule } from "../../components/aws/rbac";
import { installMocks, isSecretOutput, PROD_ON_DOCKER, promiseOf, settle, stackConfig, type Recorder, type RecordedResource } from "../support/harness";
import { requireBinaries } from "../support/requirements";
import { selfSignedCertificate, type TestCertificate } from "../support/tls";
import { DEVDB_CLUSTER_ROLE, DEVDB_DATABASE_ROLE, DEVDB_NAMESPACE, DEVDB_SERVICE_ACCOUNT } from "../../contracts/devdb";

const missing = requireBinaries(["openssl"], "apt-get install openssl");
let cert: TestCertificate;
beforeAll(() => {
    if (!missing) cert = selfSignedCertificate();
});

/**
 * The prod stack file with the platform on the docker target: the API runs
 * outside the cluster and reaches it with the ServiceAccount's kubeconfig (the
 * kubernetes target, where the token Secret and kubeconfig are gone, is
 * test/infra/kubernetesProgram.test.ts).
 */
const ON_DOCKER = PROD_ON_DOCKER;

async function runProgram(stack: "dev" | "prod", preview = false): Promise<{ rec: Recorder; mod: Record<string, unknown> }> {
    vi.resetModules();
    const secrets: Record<string, string> = stack === "prod" ? { "dbaas:tlsCertificateChain": cert.certPem, "dbaas:tlsPrivateKey": cert.keyPem } : {};
    const overrides = stack === "prod" ? ON_DOCKER : {};
    const rec = await installMocks({ project: "dbaas", stack, preview, config: stackConfig(`Pulumi.${stack}.yaml`, { ...secrets, ...overrides }), secretKeys: Object.keys(secrets) });
    const { resetConfigCache } = await import("../../infra/config");
    resetConfigCache();
    const mod = (await import("../../infra")) as Record<string, unknown>;
    await settle();
    return { rec, mod };
}

const isAwsOrKubernetes = (type: string): boolean => /^(aws|kubernetes):|^pulumi:providers:(aws|kubernetes)$/.test(type);

describe.skipIf(missing)("prod stack (aws.enabled) on the docker platform target", () => {
    let rec: Recorder;
    let mod: Record<string, unknown>;
    const prodAws = (stackConfig("Pulumi.prod.yaml")["dbaas:aws"] ?? "{}");
    const awsConfig = JSON.parse(prodAws) as { repositories: string[]; keepTaggedImages: number; untaggedExpiryDays: number; clusterName: string; region: string };
    const prefix = (JSON.parse(stackConfig("Pulumi.prod.yaml")["dbaas:ondemand"] ?? "{}") as { namespacePrefix: string }).namespacePrefix;

    beforeAll(async () => {
        ({ rec, mod } = await runProgram("prod"));
    });

    const k8s = (type: string, name?: string): RecordedResource => rec.one(`kubernetes:${type}`, name);
    const metadata = (r: RecordedResource) => r.inputs.metadata as { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };

    it("declares each configured repository: immutable tags, scan on push, AES256, kept images", () => {
        const repos = rec.ofType("aws:ecr/repository:Repository");
        expect(repos.map((r) => r.inputs.name).sort()).toEqual([...awsConfig.repositories].sort());
        for (const repo of repos) {
            expect(repo.inputs).toMatchObject({
                imageTagMutability: "IMMUTABLE",
                imageScanningConfiguration: { scanOnPush: true },
                encryptionConfigurations: [{ encryptionType: "AES256" }],
                forceDelete: false,
            });
            expect(repo.provider).toMatch(/pulumi:providers:aws::aws::/);
        }
        const policies = rec.ofType("aws:ecr/lifecyclePolicy:LifecyclePolicy");
        expect(policies.map((p) => p.inputs.repository).sort()).toEqual([...awsConfig.repositories].sort());
        for (const p of policies) {
            expect(p.inputs.policy).toBe(renderLifecyclePolicy({ keepTaggedImages: awsConfig.keepTaggedImages, untaggedExpiryDays: awsConfig.untaggedExpiryDays }));
        }
        expect(rec.one("pulumi:providers:aws").inputs.region).toBe(awsConfig.region);
    });

    it("exports the repository URLs by name", async () => {
        const urls = await promiseOf(mod.ecrRepositoryUrls as pulumi.Output<Record<string, string>>);
        expect(Object.keys(urls).sort()).toEqual([...awsConfig.repositories].sort());
        for (const [name, url] of Object.entries(urls)) expect(url).toMatch(new RegExp(`\\.dkr\\.ecr\\..+\\.amazonaws\\.com/${name}$`));
    });

    it("talks to the configured cluster through aws eks get-token, credential-free kubeconfig marked secret", () => {
        const lookup = rec.calls.filter((c) => c.token === "aws:eks/getCluster:getCluster");
        expect(lookup.map((c) => (c.inputs as { name?: unknown }).name)).toEqual([awsConfig.clusterName]);
        const provider = rec.one("pulumi:providers:kubernetes");
        expect(provider.secretInputs.has("kubeconfig")).toBe(true);
        // Provider inputs reach the mock still wrapped when secret.
        const raw = provider.inputs.kubeconfig as string | { value: string };
        const kubeconfig = parse(typeof raw === "string" ? raw : raw.value) as { users: { user: Record<string, unknown> }[] };
        expect(kubeconfig.users[0]?.user).toEqual({
            exec: {
                apiVersion: "client.authentication.k8s.io/v1beta1",
                command: "aws",
                args: ["eks", "get-token", "--cluster-name", awsConfig.clusterName, "--region", awsConfig.region],
                interactiveMode: "Never",
            },
        });
        expect(String(provider.inputs.clusterIdentifier)).toContain(`cluster/${awsConfig.clusterName}`);
    });

    it("puts every Kubernetes object on the EKS provider", () => {
        const objects = rec.resources.filter((r) => r.type.startsWith("kubernetes:"));
        expect(objects.length).toBeGreaterThanOrEqual(7);
        for (const o of objects) expect(o.provider, o.type).toMatch(/pulumi:providers:kubernetes::eks::/);
    });

    it("creates namespace devdb under Pod Security restricted and ServiceAccount devdb without automounted tokens", () => {
        const ns = k8s("core/v1:Namespace");
        expect(metadata(ns).name).toBe(DEVDB_NAMESPACE);
        expect(metadata(ns).labels?.[POD_SECURITY_ENFORCE_LABEL]).toBe("restricted");
        const sa = k8s("core/v1:ServiceAccount");
        expect(metadata(sa)).toMatchObject({ name: DEVDB_SERVICE_ACCOUNT, namespace: DEVDB_NAMESPACE });
        expect(sa.inputs.automountServiceAccountToken).toBe(false);
    });

    it("gives ClusterRole devdb-role exactly the reviewed rules, each least privilege", () => {
        const role = k8s("rbac.authorization.k8s.io/v1:ClusterRole", "devdb-role");
        expect(metadata(role).name).toBe(DEVDB_CLUSTER_ROLE);
        expect(role.inputs.aggregationRule).toBeUndefined();
        const rules = role.inputs.rules as PolicyRule[];
        const asDeclared = (r: PolicyRule) => ({ apiGroups: [...r.apiGroups], resources: [...r.resources], verbs: [...r.verbs], ...(r.resourceNames ? { resourceNames: [...r.resourceNames] } : {}) });
        expect(rules).toEqual(DEVDB_ROLE_RULES.map(asDeclared));
        // The namespaced grant is the only RBAC access, reviewed by identity in rbac.ts; everything else is checked rule by rule.
        const grant = NAMESPACED_GRANT_RULES.map(asDeclared);
        expect(rules.slice(-grant.length)).toEqual(grant);
        for (const [i, r] of rules.slice(0, -grant.length).entries()) {
            expect(findRbacViolations([r]), `rule ${i}`).toEqual([]);
            for (const field of [r.apiGroups, r.resources, r.verbs]) expect(field.join(" ")).not.toContain("*");
            expect(r.verbs.filter((v) => ESCALATION_VERBS.has(v))).toEqual([]);
            expect(r.apiGroups).not.toContain("rbac.authorization.k8s.io");
            expect(r.resources.filter((res) => /^(nodes|roles|rolebindings|clusterroles|clusterrolebindings)(\/|$)/.test(res))).toEqual([]);
        }
        // No Secret is readable through the cluster-wide binding.
        expect(rules.flatMap((r) => r.resources)).not.toContain("secrets");
        // bind only on devdb-database, escalate and impersonate nowhere.
        expect(rules.filter((r) => r.verbs.some((v) => ESCALATION_VERBS.has(v)))).toEqual([{ apiGroups: ["rbac.authorization.k8s.io"], resources: ["clusterroles"], verbs: ["bind"], resourceNames: [DEVDB_DATABASE_ROLE] }]);
    });

    it("declares ClusterRole devdb-database (the Secrets of one database namespace) and binds it nowhere cluster-wide", () => {
        const role = k8s("rbac.authorization.k8s.io/v1:ClusterRole", "devdb-database-role");
        expect(metadata(role).name).toBe(DEVDB_DATABASE_ROLE);
        expect(role.inputs.rules).toEqual([{ apiGroups: [""], resources: ["secrets"], verbs: ["get", "list", "watch", "create", "patch", "delete"] }]);
        const bindings = rec.ofType("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding");
        expect(bindings.map((b) => (b.inputs.roleRef as { name: string }).name)).toEqual([DEVDB_CLUSTER_ROLE]);
    });

    it("binds devdb-role to the ServiceAccount devdb/devdb only", () => {
        const binding = k8s("rbac.authorization.k8s.io/v1:ClusterRoleBinding");
        expect(binding.inputs.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: DEVDB_CLUSTER_ROLE });
        expect(binding.inputs.subjects).toEqual([{ kind: "ServiceAccount", name: DEVDB_SERVICE_ACCOUNT, namespace: DEVDB_NAMESPACE }]);
    });

    it("guards the ServiceAccount with the admission policy, bound with Deny", () => {
        const policy = k8s("admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy");
        expect(metadata(policy).name).toBe(DEVDB_ADMISSION_POLICY);
        expect(policy.inputs.spec).toEqual({
            failurePolicy: "Fail",
            matchConstraints: { resourceRules: admissionResourceRules(DEVDB_ROLE_RULES) },
            matchConditions: [devDbMatchCondition()],
            validations: devDbValidations(prefix),
        });
        const expressions = (policy.inputs.spec as { validations: { expression: string }[] }).validations.map((v) => v.expression).join("\n");
        expect(expressions).toContain(`startsWith(${JSON.stringify(prefix)})`);
        const binding = k8s("admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding");
        expect(binding.inputs.spec).toEqual({ policyName: metadata(policy).name, validationActions: ["Deny"] });
        expect(binding.dependencies).toContain(policy.urn);
    });

    it("issues the ServiceAccount token only after the admission policy is bound", () => {
        const secret = k8s("core/v1:Secret");
        expect(secret.inputs.type).toBe("kubernetes.io/service-account-token");
        expect(metadata(secret)).toMatchObject({ namespace: DEVDB_NAMESPACE, annotations: { "kubernetes.io/service-account.name": DEVDB_SERVICE_ACCOUNT } });
        expect(secret.dependencies).toContain(k8s("admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding").urn);
    });

    it("exports apiKubeconfig as a secret that authenticates as the ServiceAccount", async () => {
        const output = mod.apiKubeconfig as pulumi.Output<string>;
        expect(await isSecretOutput(output)).toBe(true);
        const doc = parse(await promiseOf(output)) as { clusters: { cluster: { server: string } }[]; users: { user: Record<string, unknown> }[] };
        expect(doc.users[0]?.user).toEqual({ token: "sa-token-devdb-token" });
        expect(doc.clusters[0]?.cluster.server).toMatch(/^https:\/\/.+\.eks\.amazonaws\.com$/);
    });

    it("registers the same graph in preview", async () => {
        const { rec: previewRec } = await runProgram("prod", true);
        expect(previewRec.customTypes().filter(isAwsOrKubernetes)).toEqual(rec.customTypes().filter(isAwsOrKubernetes));
    });
});

describe.skipIf(missing)("dev stack (aws disabled)", () => {
    it.each([false, true])("has no AWS or Kubernetes resource or call at all (preview=%s)", async (preview) => {
        const { rec, mod } = await runProgram("dev", preview);
        expect(rec.resources.length).toBeGreaterThan(0);
        expect(rec.resources.map((r) => r.type).filter(isAwsOrKubernetes)).toEqual([]);
        expect(rec.resources.map((r) => r.type).filter((t) => t.startsWith("dbaas:aws:"))).toEqual([]);
        expect(rec.calls.map((c) => c.token).filter((t) => t.startsWith("aws:") || t.startsWith("kubernetes:"))).toEqual([]);
        expect(mod.apiKubeconfig).toBeUndefined();
        expect(mod.ecrRepositoryUrls).toBeUndefined();
    });
});
