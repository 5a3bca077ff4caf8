/**
 * The pure decisions of the kubernetes platform target, table-driven and
 * without mocks: restricted pod contexts and Guaranteed resources, the API's
 * pod files and probes, nginx as a non-root pod and its exposure, the IRSA
 * trust and state policies, and the RDS settings.
 */
import { describe, expect, it } from "vitest";
import { apiProbes, apiServiceUpstream, apiVolumes, k8sEnv, secretItems, SERVICE_ACCOUNT_DIR } from "../../../components/api/apiPod";
import { backupLifecycleRule, irsaTrustPolicy, issuerHostPath, kmsSecretsProviderUrl, oidcProviderArn, stateAccessPolicy, stateBackendUrl } from "../../../components/aws/apiIdentity";
import { rdsConnectionUrl, rdsParameterFamily, RDS_PARAMETERS } from "../../../components/aws/rdsSettings";
import { disruptionBudgetSpec, guaranteedResources, restrictedContainerSecurityContext, restrictedPodSecurityContext, zoneAndNodeSpread } from "../../../components/kubernetes/restricted";
import { ingressAnnotations, NGINX_POD_PATHS, nginxExposure, nginxProbe, nginxServiceSpec, tlsMountDir, tlsSecretItems } from "../../../components/proxy/nginxPod";
import { renderNginxConf } from "../../../components/proxy/nginxConf";
import { restrictedPodProblems } from "../../../policies/rules/platformKubernetes";
import { apiEnvironment, SECRET_FILES, type ApiSettings } from "../../../contracts/apiEnv";

describe("restricted pods", () => {
    it("pass the pack's restricted check as the components build them", () => {
        const pod = { securityContext: restrictedPodSecurityContext(1000), containers: [{ name: "api", securityContext: restrictedContainerSecurityContext() }] };
        expect(restrictedPodProblems(pod)).toEqual([]);
    });

    it.each([
        [250, 512, { cpu: "250m", memory: "512Mi" }],
        [1000, 1024, { cpu: "1000m", memory: "1024Mi" }],
    ])("request = limit for %i m and %i MiB", (cpu, mem, amounts) => {
        expect(guaranteedResources(cpu, mem)).toEqual({ requests: amounts, limits: amounts });
    });

    it.each([[0, 512], [250, 0], [1.5, 512]])("refuses %s m / %s MiB", (cpu, mem) => {
        expect(() => guaranteedResources(cpu, mem)).toThrow(/whole number >= 1/);
    });

    it("spreads over zones best effort and over nodes strictly, with the given selector", () => {
        const spread = zoneAndNodeSpread({ app: "x" });
        expect(spread.map((s) => [s.topologyKey, s.whenUnsatisfiable])).toEqual([["topology.kubernetes.io/zone", "ScheduleAnyway"], ["kubernetes.io/hostname", "DoNotSchedule"]]);
        expect(spread.every((s) => s.labelSelector.matchLabels.app === "x")).toBe(true);
        expect(disruptionBudgetSpec({ app: "x" })).toEqual({ maxUnavailable: 1, selector: { matchLabels: { app: "x" } } });
    });
});

describe("the API's pod", () => {
    it("mounts the projected token where in-cluster clients look, and the secrets read-only", () => {
        const { volumes, mounts } = apiVolumes({ secretName: "s", secretKeys: ["databaseUrl"] });
        const token = volumes.find((v) => v.name === "kube-api-access")?.projected?.sources.find((x) => x.serviceAccountToken)?.serviceAccountToken;
        expect(token).toEqual({ path: "token", expirationSeconds: 3600 });
        expect(mounts).toContainEqual({ name: "kube-api-access", mountPath: SERVICE_ACCOUNT_DIR, readOnly: true });
        expect(SERVICE_ACCOUNT_DIR).toBe("/var/run/secrets/kubernetes.io/serviceaccount");
        expect(volumes.find((v) => v.name === "secrets")?.secret).toEqual({ secretName: "s", defaultMode: 0o440, items: [{ key: "database-url", path: "database-url" }] });
        expect(volumes.some((v) => v.name === "trusted-ca")).toBe(false);
    });

    it("names each secret file as the env contract does", () => {
        for (const item of secretItems(["databaseUrl", "tokens"])) {
            expect(Object.values(SECRET_FILES).map((f) => f.file)).toContain(`/run/secrets/dbaas/${item.path}`);
        }
    });

    it("turns the env contract into Kubernetes env, keeping values with '='", () => {
        expect(k8sEnv(["A=1", "B=x=y"])).toEqual([{ name: "A", value: "1" }, { name: "B", value: "x=y" }]);
        expect(() => k8sEnv(["=oops"])).toThrow(/not NAME=value/);
    });

    it("probes /healthz for liveness and /readyz for readiness on the API port", () => {
        const p = apiProbes();
        expect(p.livenessProbe).toMatchObject({ httpGet: { path: "/healthz", port: 5000 } });
        expect(p.readinessProbe).toMatchObject({ httpGet: { path: "/readyz", port: 5000 } });
        expect(apiServiceUpstream("devdb")).toBe("dbaas-api.devdb.svc.cluster.local:5000");
    });

    it("gets the S3 backend and the KMS secrets provider through the env contract, no passphrase", () => {
        const env = apiEnvironment({
            catalog: [{ label: "PostgreSQL 17", image: "postgres:17.2" }], ttlHoursDefault: 1, ttlHoursMax: 2, allowedBackupHosts: [], allowOpenSourceRanges: false, maxConcurrentOperations: 1,
            ondemand: { target: "kubernetes", namespacePrefix: "devdb-", memoryMb: 512, cpuMillicores: 500, storageGb: 5, defaultSourceRanges: [] }, dockerHost: "unix:///var/run/docker.sock",
            secrets: new Set(["databaseUrl"]), pulumiBackendUrl: "s3://b/ondemand?region=eu-west-1", secretsProvider: "awskms://alias/a?region=eu-west-1", awsRegion: "eu-west-1",
        });
        expect(env).toContain("PULUMI_BACKEND_URL=s3://b/ondemand?region=eu-west-1");
        expect(env).toContain("DBAAS_SECRETS_PROVIDER=awskms://alias/a?region=eu-west-1");
        expect(env).toContain("AWS_REGION=eu-west-1");
        expect(env.some((e) => e.startsWith("DBAAS_PULUMI_PASSPHRASE_FILE="))).toBe(false);
    });
});

describe("nginx as a pod", () => {
    it("renders a config a non-root nginx can run: high ports, no user, pid and temp files in /tmp", () => {
        const conf = renderNginxConf({ domain: "dbaas.example.com", upstreams: [apiServiceUpstream("devdb")], listen: { http: 8080, https: 8443 }, hstsMaxAgeSeconds: 1, clientMaxBodySize: "1m", paths: NGINX_POD_PATHS });
        expect(conf).toContain("listen 8080 default_server;");
        expect(conf).toContain("pid /tmp/nginx.pid;");
        expect(conf).toContain("client_body_temp_path /tmp/client_body;");
        expect(conf).not.toMatch(/^user /m);
    });

    it("maps the TLS Secret's keys to the files nginx.conf names, in one directory", () => {
        expect(tlsSecretItems()).toEqual([{ key: "tls.crt", path: "fullchain.pem" }, { key: "tls.key", path: "privkey.pem" }]);
        expect(tlsMountDir()).toBe("/etc/nginx/tls");
    });

    it("probes the loopback health path on the pod's HTTP port (alpine) or checks the config (Debian)", () => {
        expect(nginxProbe("nginx:1.27.3-alpine")).toMatchObject({ exec: { command: ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/nginx-health"] } });
        expect(nginxProbe("nginx:1.27.3")).toMatchObject({ exec: { command: ["nginx", "-t", "-q"] } });
    });

    it.each([
        ["a LoadBalancer without ranges is closed: ClusterIP", "loadBalancer", [], { type: "ClusterIP" }],
        ["a LoadBalancer with ranges admits only those, client addresses kept", "loadBalancer", ["203.0.113.0/24"], { type: "LoadBalancer", loadBalancerSourceRanges: ["203.0.113.0/24"], externalTrafficPolicy: "Local" }],
        ["an Ingress leaves the Service internal", "ingress", ["203.0.113.0/24"], { type: "ClusterIP" }],
    ] as const)("%s", (_what, kind, ranges, spec) => {
        const service = nginxServiceSpec(nginxExposure(kind, ranges, "nginx"));
        expect(service).toMatchObject(spec);
        if (spec.type === "ClusterIP") expect(service.loadBalancerSourceRanges).toBeUndefined();
    });

    it("refuses an open range and an Ingress without ranges", () => {
        expect(() => nginxExposure("loadBalancer", ["0.0.0.0/0"], "nginx")).toThrow(/admits every address/);
        expect(() => nginxExposure("loadBalancer", ["::/0"], "nginx")).toThrow(/admits every address/);
        expect(() => nginxExposure("ingress", [], "nginx")).toThrow(/at least one source range/);
        const exposure = nginxExposure("ingress", ["198.51.100.0/24", "203.0.113.0/24"], "nginx");
        if (exposure.kind !== "ingress") throw new Error("expected an ingress");
        expect(ingressAnnotations(exposure)["nginx.ingress.kubernetes.io/whitelist-source-range"]).toBe("198.51.100.0/24,203.0.113.0/24");
    });
});

describe("the API's AWS identity", () => {
    const issuer = "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC/";

    it("names the OIDC provider as IAM does", () => {
        expect(issuerHostPath(issuer)).toBe("oidc.eks.eu-west-1.amazonaws.com/id/ABC");
        expect(oidcProviderArn("aws", "123456789012", issuer)).toBe("arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC");
        expect(() => issuerHostPath("")).toThrow(/associate-iam-oidc-provider/);
        expect(() => issuerHostPath("http://oidc.example.com")).toThrow(/not an https:\/\/ URL/);
    });

    it("trusts exactly one ServiceAccount of that provider, for STS", () => {
        const doc = JSON.parse(irsaTrustPolicy("arn:p", issuer, "devdb", "devdb")) as { Statement: Record<string, unknown>[] };
        expect(doc.Statement).toEqual([{
            Effect: "Allow", Principal: { Federated: "arn:p" }, Action: "sts:AssumeRoleWithWebIdentity",
            Condition: { StringEquals: { "oidc.eks.eu-west-1.amazonaws.com/id/ABC:sub": "system:serviceaccount:devdb:devdb", "oidc.eks.eu-west-1.amazonaws.com/id/ABC:aud": "sts.amazonaws.com" } },
        }]);
    });

    it.each(["", "/ondemand", "ondemand/", "on*demand"])("refuses the state prefix %j", (prefix) => {
        expect(() => stateAccessPolicy("arn:aws:s3:::b", prefix, "arn:k")).toThrow(/relative key prefix/);
    });

    it("grants the backups' prefix beside the state's (with AbortMultipartUpload), and refuses one that overlaps it", () => {
        const doc = JSON.parse(stateAccessPolicy("arn:aws:s3:::b", "ondemand", "arn:k", "backups")) as { Statement: { Sid: string; Action: string | string[]; Resource: string; Condition?: unknown }[] };
        expect(doc.Statement.find((st) => st.Sid === "BackupObjects")).toEqual({ Sid: "BackupObjects", Effect: "Allow", Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"], Resource: "arn:aws:s3:::b/backups/*" });
        expect(doc.Statement[0]?.Condition).toEqual({ StringLike: { "s3:prefix": ["ondemand/*", "backups/*"] } });
        const stateOnly = JSON.parse(stateAccessPolicy("arn:aws:s3:::b", "ondemand", "arn:k")) as { Statement: { Sid: string }[] };
        expect(stateOnly.Statement.map((st) => st.Sid)).toEqual(["ListStatePrefix", "StateObjects", "StateKey"]);
        for (const overlap of ["ondemand", "ondemand/backups"]) expect(() => stateAccessPolicy("arn:aws:s3:::b", "ondemand", "arn:k", overlap)).toThrow(/must not overlap the state prefix/);
        expect(() => stateAccessPolicy("arn:aws:s3:::b", "a/b", "arn:k", "a")).toThrow(/must not overlap/);
        expect(() => stateAccessPolicy("arn:aws:s3:::b", "ondemand", "arn:k", "/backups")).toThrow(/backup prefix .* relative key prefix/);
        expect(backupLifecycleRule("prod/backups").filter).toEqual({ prefix: "prod/backups/" });
    });

    it("gives the API its backup settings as env, the S3 ones only with the S3 store, and refuses s3 without a bucket", () => {
        const base: ApiSettings = {
            catalog: [{ label: "PostgreSQL 17", image: "postgres:17.2" }], ttlHoursDefault: 1, ttlHoursMax: 2, allowedBackupHosts: [], allowOpenSourceRanges: false, maxConcurrentOperations: 1,
            ondemand: { target: "kubernetes", namespacePrefix: "devdb-", memoryMb: 512, cpuMillicores: 500, storageGb: 5, defaultSourceRanges: [] }, dockerHost: "unix:///var/run/docker.sock",
            secrets: new Set(["databaseUrl", "smtpUrl"]),
        };
        const backups = { store: "s3" as const, keepCount: 2, keepDays: 3, rolloffIntervalSeconds: 60, maxConcurrent: 1, timeoutSeconds: 600 };
        const env = apiEnvironment({ ...base, backups: { ...backups, s3: { bucket: "b", prefix: "backups", region: "eu-west-1", kmsKeyId: "alias/k" } } });
        expect(env).toEqual(expect.arrayContaining(["DBAAS_BACKUP_STORE=s3", "DBAAS_BACKUP_KEEP_COUNT=2", "DBAAS_BACKUP_S3_BUCKET=b", "DBAAS_BACKUP_S3_KMS_KEY_ID=alias/k", `DBAAS_SMTP_URL_FILE=${SECRET_FILES.smtpUrl.file}`]));
        expect(env.some((e) => e.startsWith("DBAAS_BACKUP_S3_ENDPOINT="))).toBe(false);
        expect(() => apiEnvironment({ ...base, backups })).toThrow(/backups.store is s3 but no bucket/);
        const dir = apiEnvironment({ ...base, backups: { ...backups, store: "directory" } });
        expect(dir.filter((e) => e.startsWith("DBAAS_BACKUP_S3_"))).toEqual([]);
        // Without them the API keeps its own defaults: nothing is stated.
        expect(apiEnvironment(base).filter((e) => /^DBAAS_(BACKUP_(STORE|KEEP|S3)|NOTIFY_|SMTP_FROM|WEBHOOK)/.test(e))).toEqual([]);
    });

    it("builds the engine's URLs", () => {
        expect(stateBackendUrl("b", "staging/ondemand", "eu-west-1")).toBe("s3://b/staging/ondemand?region=eu-west-1");
        expect(kmsSecretsProviderUrl("alias/dbaas-prod-state", "eu-west-1")).toBe("awskms://alias/dbaas-prod-state?region=eu-west-1");
        expect(() => kmsSecretsProviderUrl("dbaas", "eu-west-1")).toThrow(/must start with alias\//);
    });
});

describe("RDS settings", () => {
    it.each([[17, "postgres17"], [15, "postgres15"]])("major %i has family %s", (major, family) => {
        expect(rdsParameterFamily(major)).toBe(family);
    });

    it("refuses majors RDS does not run", () => {
        expect(() => rdsParameterFamily(9)).toThrow(/not supported/);
    });

    it("forces TLS on the server and in the URL; verifies only with the CA bundle", () => {
        expect(RDS_PARAMETERS).toContainEqual({ name: "rds.force_ssl", value: "1", applyMethod: "pending-reboot" });
        expect(rdsConnectionUrl({ host: "h", port: 5432, password: "p w/", verify: true })).toBe("postgresql://dbaas_admin:p%20w%2F@h:5432/dbaas?sslmode=verify-full");
        expect(rdsConnectionUrl({ host: "h", port: 5432, password: "x", verify: false })).toBe("postgresql://dbaas_admin:x@h:5432/dbaas?sslmode=require&uselibpqcompat=true");
    });
});
