import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { ConfigError, isCertificateChainPem, isPrivateKeyPem, parsePlatformConfig, PULUMI_CLI_VERSION, Secret } from "../../contracts/stackConfig";
import { ROOT } from "../support/harness";

/** The dev stack file's config as the parser receives it (keys without `dbaas:`). */
function devConfig(): Record<string, unknown> {
    const doc = parseYaml(fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8")) as { config: Record<string, unknown> };
    return Object.fromEntries(Object.entries(doc.config).map(([k, v]) => [k.replace(/^dbaas:/, ""), v]));
}

/** The dev stack's `api` section without `dockerSocketGroupId`. */
function withoutGroupId(api: unknown): Record<string, unknown> {
    const { dockerSocketGroupId: _g, ...rest } = api as Record<string, unknown>;
    return rest;
}

function errorOf(raw: Record<string, unknown>): string {
    try {
        parsePlatformConfig(raw);
    } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as Error).message;
    }
    throw new Error("expected the config to be refused");
}

const CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const KEY = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";

describe("parsePlatformConfig", () => {
    it("accepts the dev stack and applies defaults", () => {
        const cfg = parsePlatformConfig(devConfig());
        expect(cfg.postgres.versions[0]).toEqual({ label: "PostgreSQL 17", image: "postgres:17.2" });
        expect(cfg.nginx.httpsPort).toBe(443);
        expect(cfg.ondemand.namespacePrefix).toBe("devdb-");
        expect(Object.isFrozen(cfg.postgres.versions)).toBe(true);
    });

    const cases: [string, (c: Record<string, unknown>) => Record<string, unknown>, string][] = [
        [
            "a missing required key",
            ({ domain: _d, ...rest }) => rest,
            "dbaas:domain = (not set): expected a string. Fix: pulumi config set 'dbaas:domain' dbaas.example.com",
        ],
        [
            "a wrong type",
            (c) => ({ ...c, api: { ...(c.api as object), replicas: "two" } }),
            `dbaas:api.replicas = "two": expected a number. Fix: pulumi config set --path 'dbaas:api.replicas' 2`,
        ],
        [
            "an empty version catalog",
            (c) => ({ ...c, postgres: { ...(c.postgres as object), versions: [] } }),
            `dbaas:postgres.versions = []: expected at least one version (the first is the default). Fix: pulumi config set --path 'dbaas:postgres.versions' '[{"label":"PostgreSQL 17","image":"postgres:17"}]'`,
        ],
        [
            "a duplicate version label",
            (c) => ({ ...c, postgres: { ...(c.postgres as object), versions: [{ label: "PostgreSQL 16", image: "postgres:16.6" }, { label: "PostgreSQL 16", image: "postgres:16.1" }] } }),
            `dbaas:postgres.versions[1].label = "PostgreSQL 16": expected a unique label; "PostgreSQL 16" is already used by entry 0. Fix: pulumi config set --path 'dbaas:postgres.versions[1].label' 'PostgreSQL 17'`,
        ],
        [
            "a malformed image reference",
            (c) => ({ ...c, postgres: { ...(c.postgres as object), versions: [{ label: "PostgreSQL 17", image: "postgres 17" }] } }),
            `dbaas:postgres.versions[0].image = "postgres 17": expected an image with a tag or digest, e.g. postgres:17, postgres:17.2, registry.example.com/team/postgres:16 or postgres@sha256:<64 hex digits> (not :latest). Fix: pulumi config set --path 'dbaas:postgres.versions[0].image' postgres:17`,
        ],
        [
            "an unknown on-demand target",
            (c) => ({ ...c, ondemand: { target: "ec2" } }),
            `dbaas:ondemand.target = "ec2": expected one of "docker" (containers on the Docker host) or "kubernetes" (namespaces on EKS). Fix: pulumi config set --path 'dbaas:ondemand.target' docker`,
        ],
        [
            "a misspelled nested key",
            (c) => ({ ...c, nginx: { ...(c.nginx as object), imag: "nginx:1" } }),
            "dbaas:nginx.imag is not a known setting: expected a key of dbaas:nginx (misspelled?). Fix: pulumi config rm --path 'dbaas:nginx.imag'",
        ],
        [
            "the kubernetes target without AWS",
            (c) => ({ ...c, ondemand: { target: "kubernetes" } }),
            `dbaas:ondemand.target = "kubernetes": expected "docker", or enable aws (aws.enabled: true) so the kubernetes target has a cluster. Fix: pulumi config set --path 'dbaas:ondemand.target' docker`,
        ],
        [
            "the docker target on the local socket without the socket's group",
            (c) => ({ ...c, api: withoutGroupId(c.api) }),
            `dbaas:api.dockerSocketGroupId = (not set): expected the numeric group id that owns /var/run/docker.sock on the Docker host (\`stat -c %g /var/run/docker.sock\` there prints it); it is required when ondemand.target is "docker" on a unix:// dockerHost, because the socket is mounted into the API, which does not run as root. Fix: pulumi config set --path 'dbaas:api.dockerSocketGroupId' 999`,
        ],
        [
            "a socket group that is a name, not a number",
            (c) => ({ ...c, api: { ...(c.api as object), dockerSocketGroupId: "docker" } }),
            `dbaas:api.dockerSocketGroupId = "docker": expected a numeric group id such as 999 (\`stat -c %g /var/run/docker.sock\` on the Docker host prints it). Fix: pulumi config set --path 'dbaas:api.dockerSocketGroupId' 999`,
        ],
        [
            "a negative socket group",
            (c) => ({ ...c, api: { ...(c.api as object), dockerSocketGroupId: -1 } }),
            `dbaas:api.dockerSocketGroupId = -1: expected a numeric group id such as 999 (\`stat -c %g /var/run/docker.sock\` on the Docker host prints it). Fix: pulumi config set --path 'dbaas:api.dockerSocketGroupId' 999`,
        ],
        [
            "a socket group of the wrong type",
            (c) => ({ ...c, api: { ...(c.api as object), dockerSocketGroupId: true } }),
            `dbaas:api.dockerSocketGroupId = true: expected a numeric group id such as 999 (\`stat -c %g /var/run/docker.sock\` on the Docker host prints it). Fix: pulumi config set --path 'dbaas:api.dockerSocketGroupId' 999`,
        ],
    ];

    it.each(cases)("refuses %s with one exact message", (_what, change, message) => {
        expect(errorOf(change(devConfig()))).toBe(`Invalid stack configuration:\n  - ${message}`);
    });

    it.each([
        ["a string", "999", "999"],
        ["a number, as `pulumi config set --path` stores it", 999, "999"],
        ["group 0 (a socket owned by root:root)", 0, "0"],
    ])("accepts the Docker socket's group as %s", (_what, value, expected) => {
        const cfg = parsePlatformConfig({ ...devConfig(), api: { ...(devConfig().api as object), dockerSocketGroupId: value } });
        expect(cfg.api.dockerSocketGroupId).toBe(expected);
    });

    it.each([
        ["the kubernetes target", (c: Record<string, unknown>) => ({ ...c, aws: { enabled: true, region: "eu-west-1", clusterName: "eks" }, ondemand: { target: "kubernetes" } })],
        ["a remote Docker host (ssh://)", (c: Record<string, unknown>) => ({ ...c, dockerHost: "ssh://deploy@docker.example.com" })],
    ])("does not require the socket's group for %s (no socket is mounted)", (_what, change) => {
        const cfg = parsePlatformConfig(change({ ...devConfig(), api: withoutGroupId(devConfig().api) }));
        expect(cfg.api.dockerSocketGroupId).toBeUndefined();
    });

    it("refuses prod certificate mode without the certificate secrets, naming both commands", () => {
        expect(errorOf({ ...devConfig(), tls: { mode: "provided" } })).toBe(
            "Invalid stack configuration:\n" +
                `  - dbaas:tlsCertificateChain = (not set): expected a PEM certificate chain (one or more -----BEGIN CERTIFICATE----- blocks, server certificate first); it is required when tls.mode is "provided". Fix: pulumi config set --secret 'dbaas:tlsCertificateChain' < fullchain.pem\n` +
                `  - dbaas:tlsPrivateKey = (not set): expected one unencrypted PEM private key (-----BEGIN PRIVATE KEY-----); it is required when tls.mode is "provided". Fix: pulumi config set --secret 'dbaas:tlsPrivateKey' < privkey.pem`,
        );
    });

    it("never prints a secret value, even a wrong one", () => {
        const message = errorOf({ ...devConfig(), tls: { mode: "provided" }, tlsCertificateChain: KEY, tlsPrivateKey: "hunter2-not-a-key" });
        expect(message).not.toContain("hunter2");
        expect(message).not.toContain("MIIE");
        expect(message).toContain("dbaas:tlsPrivateKey = [secret, not shown]");
        expect(message).toContain("dbaas:tlsCertificateChain = [secret, not shown]");
    });

    it("wraps provided certificate material as secrets that print as [secret]", () => {
        const cfg = parsePlatformConfig({ ...devConfig(), tls: { mode: "provided" }, tlsCertificateChain: CERT + CERT, tlsPrivateKey: KEY });
        expect(cfg.tlsPrivateKey).toBeInstanceOf(Secret);
        expect(cfg.tlsPrivateKey?.reveal()).toBe(KEY);
        expect(JSON.stringify(cfg)).not.toContain("PRIVATE KEY");
        expect(`${String(cfg.tlsPrivateKey)}`).toBe("[secret]");
    });

    it("lists every problem at once", () => {
        const message = errorOf({ ...devConfig(), domain: "Not A Domain", api: { replicas: 0, dockerSocketGroupId: "999" } });
        expect(message.split("\n").filter((l) => l.startsWith("  - "))).toHaveLength(2);
    });
});

describe("PEM checks", () => {
    it.each([
        [CERT, true],
        [CERT + CERT, true],
        [KEY, false],
        [CERT + KEY, false],
        ["not pem", false],
    ])("isCertificateChainPem(%#) = %s", (text, ok) => expect(isCertificateChainPem(text)).toBe(ok));

    it.each([
        [KEY, true],
        ["-----BEGIN EC PRIVATE KEY-----\nAB==\n-----END EC PRIVATE KEY-----", true],
        ["-----BEGIN ENCRYPTED PRIVATE KEY-----\nAB==\n-----END ENCRYPTED PRIVATE KEY-----", false],
        [KEY + KEY, false],
        [CERT, false],
    ])("isPrivateKeyPem(%#) = %s", (text, ok) => expect(isPrivateKeyPem(text)).toBe(ok));
});

describe("the Pulumi CLI baked into the API image", () => {
    it("is, by default, the version of @pulumi/pulumi in package-lock.json, and the Dockerfile's default says the same", () => {
        const lock = JSON.parse(fs.readFileSync(path.join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { version?: string }> };
        expect(PULUMI_CLI_VERSION).toBe(lock.packages["node_modules/@pulumi/pulumi"]?.version);
        expect(fs.readFileSync(path.join(ROOT, "Dockerfile"), "utf8")).toContain(`ARG PULUMI_VERSION=${PULUMI_CLI_VERSION}\n`);
    });
});

describe("platform target", () => {
    const RDS = { vpcId: "vpc-0a1b2c3d4e5f60718", subnetIds: ["subnet-0a1b2c3d4e5f60711", "subnet-0a1b2c3d4e5f60712"] };
    const kubernetesDev = (platform: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
        ...devConfig(),
        tls: { mode: "provided" }, tlsCertificateChain: CERT, tlsPrivateKey: KEY,
        aws: { enabled: true, region: "eu-west-1", clusterName: "devdb" },
        ondemand: { target: "kubernetes" },
        api: withoutGroupId(devConfig().api),
        platform: { target: "kubernetes", rds: RDS, ...platform },
        backups: { store: "s3" },
        ...extra,
    });

    it("defaults the kubernetes settings: closed nginx, state prefix ondemand, RDS single-AZ with 7 days of backups", () => {
        const cfg = parsePlatformConfig(kubernetesDev({}));
        expect(cfg.platform).toMatchObject({ target: "kubernetes", exposure: "loadBalancer", sourceRanges: [], adoptExisting: false, stateBucketPrefix: "ondemand", apiCpuMillicores: 500 });
        expect(cfg.platform.rds).toMatchObject({ multiAz: false, backupRetentionDays: 7, instanceClass: "db.t4g.medium", allocatedStorageGb: 20 });
    });

    it.each<[string, Record<string, unknown>, RegExp]>([
        ["an unknown target", { ...kubernetesDev({ target: "ecs" }) }, /dbaas:platform\.target = "ecs": expected one of "docker" .* Fix: pulumi config set --path 'dbaas:platform\.target' docker/],
        ["kubernetes without AWS", { ...kubernetesDev({}), aws: { enabled: false } }, /dbaas:platform\.target = "kubernetes": expected "docker", or enable aws/],
        ["kubernetes with databases on Docker", { ...kubernetesDev({}), ondemand: { target: "docker" }, api: devConfig().api }, /dbaas:ondemand\.target = "docker": expected "kubernetes" when platform\.target is "kubernetes"/],
        ["a bad VPC id", kubernetesDev({ rds: { ...RDS, vpcId: "my-vpc" } }), /dbaas:platform\.rds\.vpcId = "my-vpc": expected the id of the cluster's VPC/],
        ["no backups", kubernetesDev({ rds: { ...RDS, backupRetentionDays: 0 } }), /backupRetentionDays = 0: expected at least 1 day/],
        ["storage that cannot grow", kubernetesDev({ rds: { ...RDS, allocatedStorageGb: 50, maxAllocatedStorageGb: 30 } }), /maxAllocatedStorageGb = 30: expected at least platform\.rds\.allocatedStorageGb \(50\)/],
        ["a CA bundle that is not PEM", kubernetesDev({ rds: { ...RDS, caBundlePem: "not a pem" } }), /caBundlePem = "not a pem": expected the RDS CA bundle as PEM/],
        ["a bad state prefix", kubernetesDev({ stateBucketPrefix: "/ondemand/" }), /stateBucketPrefix = "\/ondemand\/": expected a relative S3 key prefix/],
        ["a misspelled key", kubernetesDev({ sourceRange: [] }), /dbaas:platform\.sourceRange is not a known setting/],
    ])("refuses %s with the key and the fix", (_what, raw, message) => {
        expect(errorOf(raw)).toMatch(message);
    });

    it("accepts the dev stack on docker without any kubernetes settings", () => {
        expect(parsePlatformConfig(devConfig()).platform.target).toBe("docker");
    });
});

describe("the API's backup and notification settings", () => {
    const RDS = { vpcId: "vpc-0a1b2c3d4e5f60718", subnetIds: ["subnet-0a1b2c3d4e5f60711", "subnet-0a1b2c3d4e5f60712"] };
    const kubernetes = (backups: Record<string, unknown>) => ({
        ...devConfig(), tls: { mode: "provided" }, tlsCertificateChain: CERT, tlsPrivateKey: KEY,
        aws: { enabled: true, region: "eu-west-1", clusterName: "devdb" }, ondemand: { target: "kubernetes" }, api: withoutGroupId(devConfig().api),
        platform: { target: "kubernetes", rds: RDS }, backups,
    });

    it("defaults both when a stack leaves them out, and wraps the SMTP URL as a secret", () => {
        const { backups: _b, notifications: _n, ...rest } = devConfig();
        const cfg = parsePlatformConfig({ ...rest, smtpUrl: "smtps://mailer:pw-123@mail.example.com:465" });
        expect(cfg.backups).toEqual({ store: "directory", keepCount: 7, keepDays: 30, rolloffIntervalSeconds: 3600, maxConcurrent: 2, timeoutSeconds: 3600, s3: { prefix: "backups" } });
        expect(cfg.notifications).toEqual({ timeoutSeconds: 10, maxAttempts: 8, expiryWarningHours: 24 });
        expect(cfg.smtpUrl).toBeInstanceOf(Secret);
        expect(cfg.smtpUrl?.reveal()).toBe("smtps://mailer:pw-123@mail.example.com:465");
        expect(JSON.stringify(cfg)).not.toContain("pw-123");
    });

    it("accepts S3 on the docker target with a bucket, the region from aws.region", () => {
        const cfg = parsePlatformConfig({ ...devConfig(), aws: { enabled: false, region: "eu-west-1" }, backups: { store: "s3", s3: { bucket: "dbaas-dev-backups", endpoint: "http://minio.internal:9000" } } });
        expect(cfg.backups.s3).toEqual({ bucket: "dbaas-dev-backups", prefix: "backups", endpoint: "http://minio.internal:9000" });
    });

    it.each<[string, Record<string, unknown>, RegExp]>([
        ["the directory store on kubernetes", kubernetes({ store: "directory" }), /dbaas:backups\.store = "directory": expected "s3" when platform\.target is "kubernetes" \(the API pods' data directory is an emptyDir/],
        ["a bucket of its own on kubernetes", kubernetes({ store: "s3", s3: { bucket: "elsewhere" } }), /dbaas:backups\.s3\.bucket = "elsewhere": expected no value on platform\.target "kubernetes": backups go to the platform's state bucket/],
        ["a prefix inside the state prefix", kubernetes({ store: "s3", s3: { prefix: "ondemand/backups" } }), /dbaas:backups\.s3\.prefix = "ondemand\/backups": expected a prefix apart from platform\.stateBucketPrefix \(ondemand\)/],
        ["S3 on docker without a bucket", { ...devConfig(), backups: { store: "s3" } }, /dbaas:backups\.s3\.bucket = \(not set\): expected the bucket of the backups .* Fix: pulumi config set --path 'dbaas:backups\.s3\.bucket' dbaas-dev-backups/],
        ["S3 on docker without a region", { ...devConfig(), backups: { store: "s3", s3: { bucket: "dbaas-dev-backups" } } }, /dbaas:backups\.s3\.region = \(not set\): expected the bucket's region/],
        ["S3 settings with the directory store", { ...devConfig(), backups: { s3: { bucket: "dbaas-dev-backups" } } }, /dbaas:backups\.s3\.bucket = "dbaas-dev-backups": expected no value while backups\.store is "directory"/],
        ["an http fetch URL", { ...devConfig(), backups: { fetchBaseUrl: "http://dbaas.localhost" } }, /dbaas:backups\.fetchBaseUrl = "http:\/\/dbaas\.localhost": expected an https:\/\/ URL/],
        ["no backups kept", { ...devConfig(), backups: { keepCount: 0 } }, /dbaas:backups\.keepCount = 0: expected at least 1 backup/],
        ["a bad webhook host", { ...devConfig(), notifications: { webhookHosts: ["Hooks Example"] } }, /dbaas:notifications\.webhookHosts\[0\] = "Hooks Example": expected a lowercase DNS name/],
        ["a misspelled notification key", { ...devConfig(), notifications: { smtpHost: "mail" } }, /dbaas:notifications\.smtpHost is not a known setting/],
    ])("refuses %s with the key and the fix", (_what, raw, message) => {
        expect(errorOf(raw)).toMatch(message);
    });

    it("refuses an SMTP URL that is not one without showing it", () => {
        const message = errorOf({ ...devConfig(), smtpUrl: "mail.example.com:pw-456" });
        expect(message).toMatch(/dbaas:smtpUrl = \[secret, not shown\]: expected an smtp:\/\/ or smtps:\/\/ URL .* Fix: pulumi config set --secret 'dbaas:smtpUrl'/);
        expect(message).not.toContain("pw-456");
    });
});
