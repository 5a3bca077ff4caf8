/**
 * The platform program on its kubernetes target (the committed prod and
 * staging stack files) under mocks: the API as a Deployment in devdb running
 * as the devdb ServiceAccount with a projected token and an IRSA role that
 * reaches exactly its state, no token Secret and no kubeconfig, nginx exposed
 * only through the declared ranges, the admin database on a hardened RDS
 * instance, and no Docker-host resource.
 */
import type * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { irsaTrustPolicy, oidcProviderArn, stateAccessPolicy } from "../../components/aws/apiIdentity";
import { SERVICE_ACCOUNT_DIR } from "../../components/api/apiPod";
import { DEVDB_NAMESPACE, DEVDB_SERVICE_ACCOUNT } from "../../contracts/devdb";
import { installMocks, plain, promiseOf, settle, stackConfig, type RecordedResource, type Recorder } from "../support/harness";
import { requireBinaries } from "../support/requirements";
import { selfSignedCertificate, type TestCertificate } from "../support/tls";

const missing = requireBinaries(["openssl"], "apt-get install openssl");
let cert: TestCertificate;
beforeAll(() => {
    if (!missing) cert = selfSignedCertificate("dbaas.example.com");
});


type Stack = "staging" | "prod";
/** The mocked cluster's facts (test/support/harness.ts defaultCalls). */
const ISSUER = "https://oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF";
const CLUSTER_SG = "sg-0c1a2b3c4d5e6f708";

function fileConfig(stack: Stack, key: string): Record<string, unknown> {
    return JSON.parse(stackConfig(`Pulumi.${stack}.yaml`)[`dbaas:${key}`] ?? "{}") as Record<string, unknown>;
}

async function run(stack: Stack, overrides: Record<string, unknown> = {}, preview = false): Promise<{ rec: Recorder; mod: Record<string, unknown> }> {
    vi.resetModules();
    const secrets = { "dbaas:tlsCertificateChain": cert.certPem, "dbaas:tlsPrivateKey": cert.keyPem };
    const rec = await installMocks({ project: "dbaas", stack, preview, config: stackConfig(`Pulumi.${stack}.yaml`, { ...secrets, ...overrides }), secretKeys: Object.keys(secrets) });
    const mod = (await import("../../infra")) as Record<string, unknown>;
    await settle();
    return { rec, mod };
}

const meta = (r: RecordedResource) => plain(r.inputs.metadata) as { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
interface Container { name: string; image: string; env: { name: string; value?: string }[]; resources: { requests: Record<string, string>; limits: Record<string, string> }; securityContext: Record<string, unknown>; livenessProbe: { httpGet?: { path: string } }; readinessProbe: { httpGet?: { path: string } }; volumeMounts: { name: string; mountPath: string }[] }
interface PodSpec { serviceAccountName?: string; automountServiceAccountToken?: boolean; securityContext: Record<string, unknown>; containers: Container[]; volumes: Record<string, unknown>[]; topologySpreadConstraints: { topologyKey: string }[] }
function deployment(rec: Recorder, name: string): { replicas: number; pod: PodSpec; r: RecordedResource } {
    const r = rec.one("kubernetes:apps/v1:Deployment", name);
    const spec = plain(r.inputs.spec) as { replicas: number; template: { spec: PodSpec } };
    return { replicas: spec.replicas, pod: spec.template.spec, r };
}

describe.skipIf(missing).each(["prod", "staging"] as const)("stack %s on the kubernetes target", (stack) => {
    let rec: Recorder;
    let mod: Record<string, unknown>;
    const api = fileConfig(stack, "api") as { replicas: number; memoryMb: number };
    const backups = fileConfig(stack, "backups") as { s3: { prefix: string } };
    const platform = fileConfig(stack, "platform") as { apiCpuMillicores: number; sourceRanges: string[]; stateBucketPrefix: string; adoptExisting: boolean; rds: { subnetIds: string[]; backupRetentionDays: number; multiAz: boolean; instanceClass: string } };
    beforeAll(async () => {
        ({ rec, mod } = await run(stack));
    });

    it("has no Docker-host resource; only the image is built and pushed to ECR", () => {
        const dockerTypes = rec.resources.filter((r) => r.type.startsWith("docker:")).map((r) => r.type);
        expect(dockerTypes).toEqual(["docker:index/image:Image"]);
        expect(rec.resources.filter((r) => r.type.startsWith("dbaas:postgres:"))).toEqual([]);
        expect(mod.nginxContainer).toBeUndefined();
    });

    it("runs the API as a Deployment in devdb, as the devdb ServiceAccount, with a projected token only", () => {
        const { replicas, pod, r } = deployment(rec, "api-deployment");
        expect(meta(r)).toMatchObject({ name: "dbaas-api", namespace: DEVDB_NAMESPACE });
        expect(replicas).toBe(api.replicas);
        expect(pod.serviceAccountName).toBe(DEVDB_SERVICE_ACCOUNT);
        expect(pod.automountServiceAccountToken).toBe(false);
        const projected = pod.volumes.find((v) => v.name === "kube-api-access")?.projected as { sources: { serviceAccountToken?: { expirationSeconds: number } }[] };
        const token = projected.sources.find((s) => s.serviceAccountToken)?.serviceAccountToken;
        expect(token?.expirationSeconds).toBeLessThanOrEqual(3600);
        expect(pod.containers[0]?.volumeMounts).toContainEqual(expect.objectContaining({ name: "kube-api-access", mountPath: SERVICE_ACCOUNT_DIR }));
        // Only the API's own secret file and the token: no Secret volume of a ServiceAccount token.
        const secretVolumes = pod.volumes.filter((v) => v.secret !== undefined).map((v) => (v.secret as { secretName: string }).secretName);
        expect(secretVolumes).toEqual(["dbaas-api-secrets"]);
    });

    it("creates no ServiceAccount token Secret and hands the API no kubeconfig", () => {
        const secrets = rec.ofType("kubernetes:core/v1:Secret");
        expect(secrets.filter((s) => s.inputs.type === "kubernetes.io/service-account-token")).toEqual([]);
        expect(secrets.map((s) => meta(s).name).sort()).toEqual(["dbaas-api-secrets", "dbaas-nginx-tls"]);
        const env = deployment(rec, "api-deployment").pod.containers[0]?.env ?? [];
        expect(env.map((e) => e.name)).not.toContain("KUBECONFIG");
        expect(mod.apiKubeconfig).toBeUndefined();
        const apiSecret = plain(rec.one("kubernetes:core/v1:Secret", "api-secrets").inputs.stringData) as Record<string, string>;
        expect(Object.keys(apiSecret)).toEqual(["database-url"]);
    });

    it("sizes each API pod with requests = limits, probes /healthz and /readyz, spreads it, and budgets disruptions", () => {
        const { pod } = deployment(rec, "api-deployment");
        const c = pod.containers[0] as Container;
        expect(c.resources).toEqual({ requests: { cpu: `${platform.apiCpuMillicores}m`, memory: `${api.memoryMb}Mi` }, limits: { cpu: `${platform.apiCpuMillicores}m`, memory: `${api.memoryMb}Mi` } });
        expect(c.livenessProbe.httpGet?.path).toBe("/healthz");
        expect(c.readinessProbe.httpGet?.path).toBe("/readyz");
        expect(pod.topologySpreadConstraints.map((t) => t.topologyKey).sort()).toEqual(["kubernetes.io/hostname", "topology.kubernetes.io/zone"]);
        const pdb = plain(rec.one("kubernetes:policy/v1:PodDisruptionBudget", "api-budget").inputs.spec) as { selector: { matchLabels: Record<string, string> } };
        expect(pdb.selector.matchLabels).toEqual({ "app.kubernetes.io/name": "dbaas-api", "app.kubernetes.io/part-of": "dbaas" });
    });

    it.each(["api-deployment", "nginx-deployment"])("gives %s the restricted pod security", (name) => {
        const { pod } = deployment(rec, name);
        expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
        for (const c of pod.containers) {
            expect(c.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" } });
        }
    });

    it("runs the API image from ECR by digest", () => {
        const image = deployment(rec, "api-deployment").pod.containers[0]?.image ?? "";
        expect(image).toMatch(/@sha256:[0-9a-f]{64}$/);
        expect(rec.one("docker:index/image:Image", "api-image").inputs.imageName).toMatch(/^123456789012\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/database-migration-anonymized-api(-staging)?:c-[0-9a-f]{16}$/);
    });

    it("keeps the on-demand state on S3 with the KMS key, and no AWS keys in env", () => {
        const env = Object.fromEntries((deployment(rec, "api-deployment").pod.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
        expect(env.PULUMI_BACKEND_URL).toBe(`s3://api-state-bucket-0a1b2c3/${platform.stateBucketPrefix}?region=eu-west-1`);
        expect(env.DBAAS_SECRETS_PROVIDER).toBe(`awskms://alias/dbaas-${stack}-state?region=eu-west-1`);
        expect(env.DATABASE_URL_FILE).toBe("/run/secrets/dbaas/database-url");
        expect(env.DBAAS_PULUMI_PASSPHRASE_FILE).toBeUndefined();
        expect(Object.keys(env).filter((k) => /^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN)$/.test(k))).toEqual([]);
        const encryption = rec.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").inputs.rules as { applyServerSideEncryptionByDefault: { sseAlgorithm: string; kmsMasterKeyId: string } }[];
        expect(encryption[0]?.applyServerSideEncryptionByDefault).toEqual({ sseAlgorithm: "aws:kms", kmsMasterKeyId: "arn:aws:kms:eu-west-1:123456789012:key/api-state-key" });
        expect(rec.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs).toMatchObject({ blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true });
        expect(rec.one("aws:kms/key:Key").inputs.enableKeyRotation).toBe(true);
    });

    it("lets only system:serviceaccount:devdb:devdb of this cluster assume the API's role (IRSA), and annotates the ServiceAccount with it", () => {
        const role = rec.one("aws:iam/role:Role");
        const expected = irsaTrustPolicy(oidcProviderArn("aws", "123456789012", ISSUER), ISSUER, DEVDB_NAMESPACE, DEVDB_SERVICE_ACCOUNT);
        expect(role.inputs.assumeRolePolicy).toBe(expected);
        const trust = JSON.parse(expected) as { Statement: { Principal: { Federated: string }; Condition: { StringEquals: Record<string, string> } }[] };
        expect(trust.Statement).toHaveLength(1);
        expect(trust.Statement[0]?.Principal.Federated).toBe("arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF");
        expect(trust.Statement[0]?.Condition.StringEquals).toEqual({
            "oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF:sub": "system:serviceaccount:devdb:devdb",
            "oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF:aud": "sts.amazonaws.com",
        });
        const sa = rec.one("kubernetes:core/v1:ServiceAccount");
        expect(meta(sa).annotations).toEqual({ "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/api-state-role" });
    });

    it("allows the role exactly the state prefix, the backups' prefix and the key, nothing else", () => {
        const policies = rec.ofType("aws:iam/rolePolicy:RolePolicy");
        expect(policies).toHaveLength(1);
        expect(rec.ofType("aws:iam/rolePolicyAttachment:RolePolicyAttachment")).toEqual([]);
        const bucketArn = "arn:aws:s3:::api-state-bucket-0a1b2c3";
        const keyArn = "arn:aws:kms:eu-west-1:123456789012:key/api-state-key";
        expect(policies[0]?.inputs.policy).toBe(stateAccessPolicy(bucketArn, platform.stateBucketPrefix, keyArn, backups.s3.prefix));
        const doc = JSON.parse(String(policies[0]?.inputs.policy)) as { Statement: { Action: string | string[]; Resource: string; Condition?: unknown }[] };
        expect(doc.Statement.map((st) => [st.Action, st.Resource])).toEqual([
            ["s3:ListBucket", bucketArn],
            [["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], `${bucketArn}/${platform.stateBucketPrefix}/*`],
            [["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"], `${bucketArn}/${backups.s3.prefix}/*`],
            [["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"], keyArn],
        ]);
        expect(doc.Statement[0]?.Condition).toEqual({ StringLike: { "s3:prefix": [`${platform.stateBucketPrefix}/*`, `${backups.s3.prefix}/*`] } });
        expect(JSON.stringify(doc)).not.toContain(`"*"`);
    });

    it("puts the admin database on RDS: encrypted, private, TLS forced, backed up, protected, in the configured subnets, open to the cluster only", () => {
        const db = rec.one("aws:rds/instance:Instance");
        expect(db.inputs).toMatchObject({
            engine: "postgres", engineVersion: "17", storageEncrypted: true, publiclyAccessible: false, deletionProtection: true,
            skipFinalSnapshot: false, backupRetentionPeriod: platform.rds.backupRetentionDays, multiAz: platform.rds.multiAz, instanceClass: platform.rds.instanceClass,
        });
        expect(db.secretInputs.has("password")).toBe(true);
        expect(rec.one("aws:rds/subnetGroup:SubnetGroup").inputs.subnetIds).toEqual(platform.rds.subnetIds);
        const params = rec.one("aws:rds/parameterGroup:ParameterGroup").inputs as { family: string; parameters: { name: string; value: string }[] };
        expect(params.family).toBe("postgres17");
        expect(params.parameters).toContainEqual(expect.objectContaining({ name: "rds.force_ssl", value: "1" }));
        const rules = rec.ofType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule");
        expect(rules).toHaveLength(1);
        expect(rules[0]?.inputs).toMatchObject({ referencedSecurityGroupId: CLUSTER_SG, ipProtocol: "tcp", fromPort: 5432, toPort: 5432 });
        expect(rules[0]?.inputs.cidrIpv4).toBeUndefined();
        expect(rec.one("aws:ec2/securityGroup:SecurityGroup").inputs.ingress).toBeUndefined();
    });

    it("hands the API the RDS URL as a secret file: TLS required, the generated password", async () => {
        const secret = rec.one("kubernetes:core/v1:Secret", "api-secrets");
        expect(secret.secretInputs.has("stringData")).toBe(true);
        const url = (plain(secret.inputs.stringData) as Record<string, string>)["database-url"] ?? "";
        expect(url).toMatch(/^postgresql:\/\/dbaas_admin:pw-admin-db-password-0123456789abcdef@admin-db-instance\.abcdefghijkl\.eu-west-1\.rds\.amazonaws\.com:5432\/dbaas\?sslmode=require/);
        expect(await promiseOf(mod.adminDatabaseHost as pulumi.Output<string>)).toMatch(/\.rds\.amazonaws\.com$/);
    });

    it("exposes nginx only through the declared ranges, with the provided certificate and the shared nginx.conf", () => {
        const services = rec.ofType("kubernetes:core/v1:Service").map((s) => ({ name: meta(s).name, spec: plain(s.inputs.spec) as { type: string; loadBalancerSourceRanges?: string[] } }));
        const loadBalancers = services.filter((s) => s.spec.type === "LoadBalancer");
        expect(loadBalancers.map((s) => [s.name, s.spec.loadBalancerSourceRanges])).toEqual([["dbaas-nginx", platform.sourceRanges]]);
        expect(services.find((s) => s.name === "dbaas-api")?.spec.type).toBe("ClusterIP");
        const conf = (plain(rec.one("kubernetes:core/v1:ConfigMap", "nginx-config").inputs.data) as Record<string, string>)["nginx.conf"] ?? "";
        expect(conf).toContain("server dbaas-api.devdb.svc.cluster.local:5000 max_fails=3 fail_timeout=10s;");
        expect(conf).toContain("listen 8443 ssl http2 default_server;");
        expect(conf).not.toMatch(/^user /m);
        const tls = rec.one("kubernetes:core/v1:Secret", "nginx-tls");
        expect(tls.inputs.type).toBe("kubernetes.io/tls");
        expect(tls.secretInputs.has("stringData")).toBe(true);
        expect(plain(tls.inputs.stringData)).toEqual({ "tls.crt": cert.certPem, "tls.key": cert.keyPem });
        expect(rec.ofType("kubernetes:networking.k8s.io/v1:Ingress")).toEqual([]);
    });

    it("adopts the kubectl-made namespace and ServiceAccount only when configured", () => {
        const ns = rec.one("kubernetes:core/v1:Namespace");
        const sa = rec.one("kubernetes:core/v1:ServiceAccount");
        if (platform.adoptExisting) {
            expect([ns.importId, sa.importId]).toEqual(["devdb", "devdb/devdb"]);
        } else {
            expect([ns.importId, sa.importId]).toEqual([undefined, undefined]);
        }
    });

    it("registers the same graph in preview", async () => {
        const { rec: previewRec } = await run(stack, {}, true);
        expect(previewRec.customTypes()).toEqual(rec.customTypes());
    });
});

describe.skipIf(missing)("kubernetes target options", () => {
    const prodPlatform = () => JSON.parse(stackConfig("Pulumi.prod.yaml")["dbaas:platform"] ?? "{}") as Record<string, unknown>;

    it("is closed by default: without source ranges nginx gets a ClusterIP Service and no LoadBalancer exists", async () => {
        const { rec } = await run("prod", { "dbaas:platform": { ...prodPlatform(), sourceRanges: [] } });
        const types = rec.ofType("kubernetes:core/v1:Service").map((s) => (plain(s.inputs.spec) as { type: string }).type);
        expect(types).toEqual(["ClusterIP", "ClusterIP"]);
    });

    it("uses an Ingress of the existing ingress-nginx when configured, admitting only the ranges", async () => {
        const { rec } = await run("prod", { "dbaas:platform": { ...prodPlatform(), exposure: "ingress", ingressClassName: "nginx", sourceRanges: ["198.51.100.0/24", "203.0.113.0/24"] } });
        const ingress = rec.one("kubernetes:networking.k8s.io/v1:Ingress");
        expect(meta(ingress).annotations).toMatchObject({ "nginx.ingress.kubernetes.io/whitelist-source-range": "198.51.100.0/24,203.0.113.0/24", "nginx.ingress.kubernetes.io/backend-protocol": "HTTPS" });
        expect((plain(ingress.inputs.spec) as { ingressClassName: string; tls: { secretName: string }[] })).toMatchObject({ ingressClassName: "nginx", tls: [{ secretName: "dbaas-nginx-tls" }] });
        expect(rec.ofType("kubernetes:core/v1:Service").every((s) => (plain(s.inputs.spec) as { type: string }).type === "ClusterIP")).toBe(true);
    });

    it("verifies the RDS certificate when the CA bundle is configured", async () => {
        const platform = prodPlatform();
        const { rec } = await run("prod", { "dbaas:platform": { ...platform, rds: { ...(platform.rds as object), caBundlePem: cert.certPem } } });
        const url = (plain(rec.one("kubernetes:core/v1:Secret", "api-secrets").inputs.stringData) as Record<string, string>)["database-url"] ?? "";
        expect(url).toMatch(/\?sslmode=verify-full$/);
        expect((plain(rec.one("kubernetes:core/v1:ConfigMap", "api-trusted-ca").inputs.data) as Record<string, string>)["stack-ca.pem"]).toBe(cert.certPem);
        const env = deployment(rec, "api-deployment").pod.containers[0]?.env ?? [];
        expect(env).toContainEqual({ name: "NODE_EXTRA_CA_CERTS", value: "/etc/dbaas/stack-ca.pem" });
    });

    it("runs the admin database as a hardened StatefulSet in devdb when platform.adminDatabase is inCluster, and declares no RDS", async () => {
        const { rec, mod } = await run("staging", { "dbaas:platform": { ...prodPlatform(), adminDatabase: "inCluster", rds: undefined } });
        expect(rec.customTypes().filter((t) => t.startsWith("aws:rds/"))).toEqual([]);
        const sts = rec.one("kubernetes:apps/v1:StatefulSet");
        expect(meta(sts)).toMatchObject({ name: "dbaas-admin-db" });
        const spec = plain(sts.inputs.spec) as { template: { spec: PodSpec & { containers: (Container & { args: string[] })[] } }; volumeClaimTemplates: { spec: { resources: { requests: { storage: string } } } }[] };
        const pod = spec.template.spec;
        expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 999, fsGroup: 999 });
        expect(pod.automountServiceAccountToken).toBe(false);
        expect(pod.containers[0]?.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
        expect(pod.containers[0]?.resources.requests).toEqual(pod.containers[0]?.resources.limits);
        expect(pod.containers[0]?.image).toBe("postgres:17.2");
        expect(spec.volumeClaimTemplates[0]?.spec.resources.requests.storage).toBe("20Gi");
        // The roles are made by the init script; the passwords come from files, never from the script or env.
        const config = plain(rec.one("kubernetes:core/v1:ConfigMap", "admin-db-config").inputs.data) as Record<string, string>;
        expect(config["10-dbaas-roles.sh"]).toMatch(/\\set owner_password `cat \/run\/secrets\/admin-db\/owner-password`/);
        expect(config["pg_hba.conf"]).toMatch(/hostnossl\tall\tall\tall\treject/);
        expect(JSON.stringify(pod.containers[0]?.env)).not.toMatch(/PASSWORD"?,"value/);
        // Only the API's pods reach it; the API gets its URL as a secret, verified against the stack CA.
        const policy = plain(rec.one("kubernetes:networking.k8s.io/v1:NetworkPolicy").inputs.spec) as { ingress: { from: { podSelector: { matchLabels: Record<string, string> } }[] }[] };
        expect(policy.ingress[0]?.from[0]?.podSelector.matchLabels).toMatchObject({ "app.kubernetes.io/name": "dbaas-api" });
        const url = (plain(rec.one("kubernetes:core/v1:Secret", "api-secrets").inputs.stringData) as Record<string, string>)["database-url"] ?? "";
        expect(url).toMatch(/^postgresql:\/\/dbaas_owner:[^@]+@dbaas-admin-db\.devdb\.svc:5432\/dbaas\?sslmode=verify-full$/);
        expect(rec.one("kubernetes:core/v1:Secret", "api-secrets").secretInputs.has("stringData")).toBe(true);
        expect(rec.ofType("kubernetes:core/v1:ConfigMap").map((c) => c.name)).toContain("api-trusted-ca");
        expect(await promiseOf(mod.adminDatabaseHost as pulumi.Output<string>)).toBe("dbaas-admin-db.devdb.svc");
    });

    it.each([
        ["without rds settings", { target: "kubernetes" }, /dbaas:platform\.rds = \(not set\): expected the admin database's RDS settings/],
        ["with one subnet", { ...{ target: "kubernetes" }, rds: { vpcId: "vpc-0a1b2c3d4e5f60718", subnetIds: ["subnet-0a1b2c3d4e5f60711"] } }, /dbaas:platform\.rds\.subnetIds = .*: expected at least 2 private subnets/],
        ["with an ingress open to every address", { target: "kubernetes", exposure: "ingress", sourceRanges: [], rds: { vpcId: "vpc-0a1b2c3d4e5f60718", subnetIds: ["subnet-0a1b2c3d4e5f60711", "subnet-0a1b2c3d4e5f60712"] } }, /dbaas:platform\.sourceRanges = \[\]: expected at least one client CIDR/],
        ["with a /0 range", { target: "kubernetes", sourceRanges: ["0.0.0.0/0"], rds: { vpcId: "vpc-0a1b2c3d4e5f60718", subnetIds: ["subnet-0a1b2c3d4e5f60711", "subnet-0a1b2c3d4e5f60712"] } }, /dbaas:platform\.sourceRanges\[0\] = "0\.0\.0\.0\/0": expected a client CIDR narrower than \/0/],
    ])("stops before registering anything %s", async (_what, platform, message) => {
        vi.resetModules();
        const secrets = { "dbaas:tlsCertificateChain": cert.certPem, "dbaas:tlsPrivateKey": cert.keyPem };
        const rec = await installMocks({ project: "dbaas", stack: "prod", preview: true, config: stackConfig("Pulumi.prod.yaml", { ...secrets, "dbaas:platform": platform }), secretKeys: Object.keys(secrets) });
        await expect(import("../../infra")).rejects.toThrow(message);
        await settle();
        expect(rec.resources).toEqual([]);
    });
});
