/**
 * The platform stack's configuration: its schema and the pure parser that
 * turns raw stack config into a typed, frozen object, or one error that names
 * the key, the value, what was expected and the `pulumi config set` command
 * that fixes it. Everything that once differed between the prod and dev
 * environment switch (and its copied config files) is a key here. No Pulumi imports: tested directly.
 */
import ipaddr from "ipaddr.js";
import { z } from "zod";
import { mountedDockerSocket } from "./apiEnv";
import { versionCatalogSchema } from "./catalog";

/**
 * The Pulumi CLI baked into the API image by default: the version of the
 * `@pulumi/pulumi` SDK in package-lock.json (a test keeps them equal), so the
 * engine the API runs is the one its programs were written against.
 */
export const PULUMI_CLI_VERSION = "3.248.0";

/** The Pulumi project name; config keys are `dbaas:<key>`. */
export const PROJECT = "dbaas";

/** A secret config value. Prints as `[secret]`, so it cannot leak through logs or JSON by accident. */
export class Secret {
    readonly #value: string;
    constructor(value: string) {
        this.#value = value;
    }
    /** The plain value, for the one place that hands it to `pulumi.secret(...)`. */
    reveal(): string {
        return this.#value;
    }
    toString(): string {
        return "[secret]";
    }
    toJSON(): string {
        return "[secret]";
    }
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[A-Za-z0-9+/=\r\n]+-----END \1-----/g;

/** The labels of the PEM blocks in a text, in order (e.g. ["CERTIFICATE", "CERTIFICATE"]). */
export function pemBlockLabels(text: string): string[] {
    return [...text.matchAll(PEM_BLOCK)].map((m) => m[1] ?? "");
}

const PRIVATE_KEY_LABELS = new Set(["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"]);

/** A chain: one or more CERTIFICATE blocks and nothing else that looks like PEM. */
export function isCertificateChainPem(text: string): boolean {
    const labels = pemBlockLabels(text);
    return labels.length > 0 && labels.every((l) => l === "CERTIFICATE");
}

/** Exactly one unencrypted private key block (PKCS#8, PKCS#1 RSA or SEC1 EC). */
export function isPrivateKeyPem(text: string): boolean {
    const labels = pemBlockLabels(text);
    return labels.length === 1 && PRIVATE_KEY_LABELS.has(labels[0] ?? "");
}

const memoryMb = (min: number) => z.number().int(`a whole number of MiB`).min(min, `at least ${min} MiB`).max(262144, "at most 262144 MiB");
const cidr = z.string().refine(isCidr, { message: "a CIDR such as 10.0.0.0/16 or 2001:db8::/48" });
/** A lowercase DNS name of at most 253 characters: labels of letters, digits and inner hyphens, joined by dots. */
export const DNS_NAME_PATTERN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** The namespace prefix of on-demand databases: a DNS-1035 label start that ends in a hyphen (`devdb-`). */
export const NAMESPACE_PREFIX_PATTERN = /^[a-z]([-a-z0-9]*[a-z0-9])?-$/;
export const NAMESPACE_PREFIX_HINT = "a lowercase prefix ending in a hyphen, such as devdb-";
const hostname = z.string().regex(DNS_NAME_PATTERN, "a lowercase DNS name such as dbaas.example.com");
const GROUP_ID = "a numeric group id such as 999 (`stat -c %g /var/run/docker.sock` on the Docker host prints it)";
/** A Unix group id, as a number (999) or a string ("999"); normalised to the string docker's group_add takes. */
const groupId = z.union([z.number(), z.string()], { message: GROUP_ID })
    .refine((v) => /^\d{1,10}$/.test(String(v)) && Number(v) <= 4294967294, { message: GROUP_ID })
    .transform(String);

/**
 * True for an IPv4 or IPv6 CIDR with a prefix length in range, parsed by
 * ipaddr.js (a hand-written check accepted malformed IPv6 such as
 * `2001:db8:::/48`). Stricter than the library where Kubernetes and iptables
 * are: IPv4 in four decimal parts, no zone ids, the prefix without leading zeros.
 */
export function isCidr(value: string): boolean {
    const m = /^([^/%]+)\/(0|[1-9]\d{0,2})$/.exec(value);
    if (!m) return false;
    const [, addr = ""] = m;
    if (!addr.includes(":") && !ipaddr.IPv4.isValidFourPartDecimal(addr)) return false;
    try {
        ipaddr.parseCIDR(value);
        return true;
    } catch {
        return false;
    }
}

/** A relative S3 key prefix: lowercase segments joined by "/", no leading or trailing slash. */
export const STATE_PREFIX_PATTERN = /^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?(\/[a-z0-9]([-a-z0-9_.]*[a-z0-9])?)*$/;

/**
 * Where the platform itself (nginx, the API, its admin database) runs:
 * `docker` = containers on `dockerHost` (dev); `kubernetes` = Deployments in the
 * EKS cluster of `aws.clusterName`, the admin database on Amazon RDS
 * (staging, prod). The `kubernetes` fields are ignored on `docker`.
 */
const platformSchema = z.object({
    target: z.enum(["docker", "kubernetes"], { message: 'one of "docker" (nginx, the API and its database as containers on dockerHost) or "kubernetes" (Deployments on the EKS cluster aws.clusterName, the admin database on RDS)' }),
    apiCpuMillicores: z.number().int("a whole number of millicores").min(100, "at least 100 millicores").max(16000, "at most 16000 millicores").default(500)
        .describe("CPU of each API pod (request = limit)."),
    nginxReplicas: z.number().int("a whole number of replicas").min(1, "at least 1 replica").max(16, "at most 16 replicas").default(2),
    nginxCpuMillicores: z.number().int("a whole number of millicores").min(50, "at least 50 millicores").max(8000, "at most 8000 millicores").default(250),
    exposure: z.enum(["loadBalancer", "ingress"], { message: 'one of "loadBalancer" (a Service of type LoadBalancer for nginx) or "ingress" (an Ingress for an existing ingress-nginx)' }).default("loadBalancer"),
    sourceRanges: z.array(cidr).default([])
        .describe("Client CIDRs admitted to nginx. Empty = closed: nginx gets a ClusterIP Service only."),
    ingressClassName: z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "an IngressClass name such as nginx").default("nginx"),
    adoptExisting: z.boolean().default(false)
        .describe("Import the namespace devdb and ServiceAccount devdb/devdb that kubectl created, instead of creating them."),
    stateBucketPrefix: z.string().regex(STATE_PREFIX_PATTERN, "a relative S3 key prefix such as ondemand or dbaas/ondemand").default("ondemand"),
    adminDatabase: z.enum(["rds", "inCluster"], { message: 'one of "rds" (Amazon RDS for PostgreSQL, platform.rds) or "inCluster" (a PostgreSQL StatefulSet in the devdb namespace, platform.inCluster)' }).default("rds")
        .describe("Where the API's admin database runs on the kubernetes target."),
    inCluster: z.object({
        cpuMillicores: z.number().int("a whole number of millicores").min(100, "at least 100 millicores").max(16000).default(500),
        storageGb: z.number().int().min(1, "at least 1 GiB").max(65536).default(20),
        storageClass: z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "a StorageClass name such as gp3").optional(),
    }).strict().default({ cpuMillicores: 500, storageGb: 20 })
        .describe("The in-cluster admin database (platform.adminDatabase: inCluster); its memory is postgres.memoryMb."),
    rds: z.object({
        vpcId: z.string().regex(/^vpc-[0-9a-f]{8,17}$/, "the id of the cluster's VPC, such as vpc-0123456789abcdef0"),
        subnetIds: z.array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, "a subnet id such as subnet-0123456789abcdef0")).min(2, "at least 2 private subnets of the cluster's VPC, in different availability zones"),
        clusterSecurityGroupId: z.string().regex(/^sg-[0-9a-f]{8,17}$/, "a security group id such as sg-0123456789abcdef0").optional()
            .describe("Security group of the cluster's nodes; default: the cluster security group EKS reports."),
        instanceClass: z.string().regex(/^db\.[a-z0-9]+\.[a-z0-9]+$/, "an RDS instance class such as db.t4g.medium").default("db.t4g.medium"),
        allocatedStorageGb: z.number().int().min(20, "at least 20 GB").max(65536).default(20),
        maxAllocatedStorageGb: z.number().int().min(20).max(65536).default(100),
        multiAz: z.boolean().default(false),
        caBundlePem: z.string().refine(isCertificateChainPem, { message: "the RDS CA bundle as PEM certificates (global-bundle.pem from the RDS documentation)" }).optional()
            .describe("When set, the API verifies the RDS certificate (sslmode=verify-full); else TLS is required but not verified."),
        backupRetentionDays: z.number().int("a whole number of days").min(1, "at least 1 day (0 would turn automated backups off)").max(35, "at most 35 days").default(7),
    }).strict().optional(),
}).strict();

const seconds = (min: number, max: number) => z.number().min(min, `at least ${min} seconds`).max(max, `at most ${max} seconds`);

/**
 * The API's backups (api/config.ts DBAAS_BACKUP_*; docs/backups.md). On the
 * kubernetes target the S3 store keeps them in the platform's own state
 * bucket under `s3.prefix`, encrypted with its key (the API's role is granted
 * that prefix); on docker, `s3.bucket` and `s3.region` name a bucket the
 * Docker host's own AWS identity reaches.
 */
const backupsSchema = z.object({
    store: z.enum(["directory", "s3"], { message: 'one of "directory" (files in the API\'s data volume; docker target) or "s3" (objects in a bucket)' }).default("directory"),
    keepCount: z.number().int("a whole number of backups").min(1, "at least 1 backup").max(1000, "at most 1000 backups").default(7),
    keepDays: z.number().int("a whole number of days").min(1, "at least 1 day").max(3650, "at most 3650 days").default(30),
    rolloffIntervalSeconds: seconds(0, 86400).default(3600),
    maxConcurrent: z.number().int("a whole number of dumps").min(1, "at least 1 dump").max(16, "at most 16 dumps").default(2),
    timeoutSeconds: z.number().int("a whole number of seconds").min(10, "at least 10 seconds").max(86400, "at most 86400 seconds").default(3600),
    fetchBaseUrl: z.url({ protocol: /^https$/, message: "an https:// URL at which restores reach the API, such as https://dbaas.example.com (its public name)" }).optional()
        .describe("Without it the API refuses POST /databases with backup_id."),
    s3: z.object({
        bucket: z.string().regex(/^(?=.{3,63}$)[a-z0-9][a-z0-9.-]*[a-z0-9]$/, "an S3 bucket name such as dbaas-dev-backups").optional(),
        prefix: z.string().regex(STATE_PREFIX_PATTERN, "a relative S3 key prefix such as backups or dbaas/backups").default("backups"),
        region: z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, "an AWS region such as eu-west-1").optional(),
        kmsKeyId: z.string().regex(/^(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)\/[A-Za-z0-9/_-]+|alias\/[A-Za-z0-9/_-]+|[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/, "a KMS key id, key ARN, alias/<name> or alias ARN").optional(),
        endpoint: z.url({ protocol: /^https?$/, message: "an http(s):// URL of an S3-compatible server" }).refine((u) => !/^[a-z]+:\/\/[^/]*@/i.test(u), "an endpoint without user or password (credentials come from the AWS default chain)").optional(),
    }).strict().default({ prefix: "backups" }),
}).strict();

/** The API's notifications (api/config.ts DBAAS_WEBHOOK_HOSTS, DBAAS_SMTP_*, DBAAS_NOTIFY_*; docs/activities-and-notifications.md). */
const notificationsSchema = z.object({
    webhookHosts: z.array(hostname).min(1, "at least one host (leave webhookHosts out to allow any host whose addresses are all public)").optional().describe("Hosts webhooks may go to; unset: any host whose addresses are all public."),
    smtpFrom: z.string().min(3).max(254, "at most 254 characters").optional().describe("From address of the emails; the SMTP server itself is the secret key smtpUrl."),
    timeoutSeconds: seconds(0.1, 120).default(10),
    maxAttempts: z.number().int("a whole number of attempts").min(1, "at least 1 attempt").max(30, "at most 30 attempts").default(8),
    expiryWarningHours: z.number().min(0, "0 (no warning) or more hours").max(8760, "at most 8760 hours").default(24),
}).strict();

export const platformConfigSchema = z.object({
    domain: hostname.describe("Public DNS name of the API; the certificate's subject."),
    dockerHost: z.string().regex(/^(unix|tcp|ssh):\/\/.+/, "a Docker host URL: unix:///var/run/docker.sock, tcp://host:2376 or ssh://user@host").default("unix:///var/run/docker.sock"),
    tls: z.object({
        mode: z.enum(["selfSigned", "provided"], { message: 'one of "selfSigned" (dev: a CA and certificate made by Pulumi) or "provided" (prod: a chain and key in secret config)' }),
        hstsMaxAgeSeconds: z.number().int("a whole number of seconds").min(0, "0 or more seconds").default(300),
        acmeChallengeDir: z.string().startsWith("/", "an absolute path").default("/var/www/acme"),
    }).strict(),
    tlsCertificateChain: z.string().optional(),
    tlsPrivateKey: z.string().optional(),
    smtpUrl: z.string().optional(),
    nginx: z.object({
        image: z.string().min(1, "an nginx image such as nginx:1.27-alpine"),
        memoryMb: memoryMb(32).default(128),
        httpPort: z.number().int().min(1).max(65535).default(80),
        httpsPort: z.number().int().min(1).max(65535).default(443),
        clientMaxBodySize: z.string().regex(/^\d+[kKmM]?$/, "an nginx size such as 1m or 512k").default("1m"),
        publishIp: z.string().refine((ip) => ipaddr.isValid(ip), "an IP address of the Docker host such as 0.0.0.0 (every address) or 127.0.0.1 (this host only)").default("0.0.0.0")
            .describe("docker target: the host address nginx's ports are published on."),
    }).strict(),
    api: z.object({
        replicas: z.number().int("a whole number of replicas").min(1, "at least 1 replica").max(16, "at most 16 replicas"),
        memoryMb: memoryMb(128).default(512),
        imageName: z.string().min(1).default("dbaas-api"),
        pulumiVersion: z.string().regex(/^\d+\.\d+\.\d+$/, "a Pulumi CLI version such as 3.248.0").default(PULUMI_CLI_VERSION),
        ttlHoursDefault: z.number().int().min(1).default(24),
        ttlHoursMax: z.number().int().min(1).default(168),
        allowedBackupHosts: z.array(hostname).default([]),
        allowOpenSourceRanges: z.boolean().default(false),
        maxConcurrentOperations: z.number().int().min(1).max(64).default(4),
        dockerSocketGroupId: groupId.optional().describe("Group that owns the Docker socket on the Docker host; added to the API replicas when the socket is mounted."),
        build: z.object({
            nodeImage: z.string().min(1, "a Node 20 image on Debian bookworm such as node:20.19-bookworm-slim").optional(),
            pulumiSource: z.enum(["download", "local"], { message: 'one of "download" (the release from GitHub, checksum-verified) or "local" (pulumiLocalImage\'s /opt/pulumi)' }).optional(),
            pulumiLocalImage: z.string().min(1, "an image holding the Pulumi tools in /opt/pulumi").optional(),
            network: z.string().min(1, 'a Docker network for the build\'s RUN steps, e.g. "host"').optional(),
        }).strict().default({}).describe("How the API image is built, for hosts without Docker Hub or GitHub (a mirror's Node image, a locally built Pulumi set)."),
    }).strict(),
    postgres: z.object({
        versions: versionCatalogSchema,
        memoryMb: memoryMb(128).default(1024),
        shmSizeMb: z.number().int().min(64, "at least 64 MiB").default(256),
        adminVersion: z.string().optional().describe("Label of the catalog version the API's admin database runs; default = the catalog default."),
    }).strict(),
    aws: z.object({
        enabled: z.boolean(),
        region: z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, "an AWS region such as eu-west-1").optional(),
        clusterName: z.string().min(1, "the name of the EKS cluster").optional(),
        repositories: z.array(z.string().regex(/^[a-z0-9]+(?:[._/-][a-z0-9]+)*$/, "an ECR repository name: lowercase letters, digits, . _ - /")).min(1).default(["database-migration-anonymized-api"]),
        keepTaggedImages: z.number().int().min(1).default(20),
        untaggedExpiryDays: z.number().int().min(1).default(7),
    }).strict(),
    platform: platformSchema,
    backups: backupsSchema.default(() => backupsSchema.parse({})),
    notifications: notificationsSchema.default(() => notificationsSchema.parse({})),
    ondemand: z.object({
        target: z.enum(["docker", "kubernetes"], { message: 'one of "docker" (containers on the Docker host) or "kubernetes" (namespaces on EKS)' }),
        namespacePrefix: z.string().regex(NAMESPACE_PREFIX_PATTERN, NAMESPACE_PREFIX_HINT).max(20, "at most 20 characters").default("devdb-"),
        memoryMb: memoryMb(128).default(1024),
        cpuMillicores: z.number().int().min(100).default(1000),
        storageGb: z.number().int().min(1).max(1000).default(10),
        defaultSourceRanges: z.array(cidr).default([]),
    }).strict(),
}).strict().superRefine((cfg, ctx) => {
    if (cfg.tls.mode === "provided") {
        for (const [key, check, what] of [
            ["tlsCertificateChain", isCertificateChainPem, "a PEM certificate chain (one or more -----BEGIN CERTIFICATE----- blocks, server certificate first)"],
            ["tlsPrivateKey", isPrivateKeyPem, "one unencrypted PEM private key (-----BEGIN PRIVATE KEY-----)"],
        ] as const) {
            const value = cfg[key];
            if (value === undefined) {
                ctx.addIssue({ code: "custom", path: [key], input: undefined, message: `${what}; it is required when tls.mode is "provided"` });
            } else if (!check(value)) {
                ctx.addIssue({ code: "custom", path: [key], input: value, message: what });
            }
        }
    }
    if (cfg.aws.enabled) {
        if (!cfg.aws.region) ctx.addIssue({ code: "custom", path: ["aws", "region"], input: undefined, message: "an AWS region such as eu-west-1; it is required when aws.enabled is true" });
        if (!cfg.aws.clusterName) ctx.addIssue({ code: "custom", path: ["aws", "clusterName"], input: undefined, message: "the EKS cluster name; it is required when aws.enabled is true" });
    }
    if (cfg.ondemand.target === "kubernetes" && !cfg.aws.enabled) {
        ctx.addIssue({ code: "custom", path: ["ondemand", "target"], input: cfg.ondemand.target, message: '"docker", or enable aws (aws.enabled: true) so the kubernetes target has a cluster' });
    }
    if (cfg.platform.target === "kubernetes") {
        const at = (...p: string[]): string[] => ["platform", ...p];
        if (!cfg.aws.enabled) ctx.addIssue({ code: "custom", path: at("target"), input: cfg.platform.target, message: '"docker", or enable aws (aws.enabled: true, aws.clusterName) so the kubernetes target has a cluster' });
        if (cfg.ondemand.target !== "kubernetes") ctx.addIssue({ code: "custom", path: ["ondemand", "target"], input: cfg.ondemand.target, message: '"kubernetes" when platform.target is "kubernetes" (the API in the cluster creates databases in the cluster, not on a Docker host)' });
        if (cfg.platform.adminDatabase === "rds" && cfg.platform.rds === undefined) ctx.addIssue({ code: "custom", path: at("rds"), input: undefined, message: "the admin database's RDS settings {vpcId, subnetIds, ...}; they are required when platform.target is \"kubernetes\" and platform.adminDatabase is \"rds\" (or set platform.adminDatabase: inCluster)" });
        if (cfg.platform.rds !== undefined && cfg.platform.rds.maxAllocatedStorageGb < cfg.platform.rds.allocatedStorageGb) ctx.addIssue({ code: "custom", path: at("rds", "maxAllocatedStorageGb"), input: cfg.platform.rds.maxAllocatedStorageGb, message: `at least platform.rds.allocatedStorageGb (${cfg.platform.rds.allocatedStorageGb})` });
        if (cfg.platform.exposure === "ingress" && cfg.platform.sourceRanges.length === 0) ctx.addIssue({ code: "custom", path: at("sourceRanges"), input: [], message: "at least one client CIDR when platform.exposure is \"ingress\" (an Ingress without source ranges is open to every address)" });
        cfg.platform.sourceRanges.forEach((r, i) => {
            if (/\/0$/.test(r)) ctx.addIssue({ code: "custom", path: ["platform", "sourceRanges", i], input: r, message: "a client CIDR narrower than /0 (this one admits every address)" });
        });
    }
    // The API runs as uid 1000, not root: with the socket mounted it needs the socket's group, or every create fails on permissions.
    const socket = mountedDockerSocket(cfg.ondemand.target, cfg.dockerHost);
    if (socket !== undefined && cfg.api.dockerSocketGroupId === undefined) {
        ctx.addIssue({
            code: "custom", path: ["api", "dockerSocketGroupId"], input: undefined,
            message: `the numeric group id that owns ${socket} on the Docker host (\`stat -c %g ${socket}\` there prints it); it is required when ondemand.target is "docker" on a unix:// dockerHost, because the socket is mounted into the API, which does not run as root`,
        });
    }
    if (cfg.smtpUrl !== undefined && !/^smtps?:\/\/\S+$/.test(cfg.smtpUrl)) {
        ctx.addIssue({ code: "custom", path: ["smtpUrl"], input: cfg.smtpUrl, message: "an smtp:// or smtps:// URL such as smtps://user:password@mail.example.com:465" });
    }
    backupIssues(cfg).forEach((i) => ctx.addIssue({ code: "custom", ...i }));
    if (cfg.api.ttlHoursDefault > cfg.api.ttlHoursMax) {
        ctx.addIssue({ code: "custom", path: ["api", "ttlHoursDefault"], input: cfg.api.ttlHoursDefault, message: `at most api.ttlHoursMax (${cfg.api.ttlHoursMax})` });
    }
    const admin = cfg.postgres.adminVersion;
    if (admin !== undefined && !cfg.postgres.versions.some((v) => v.label === admin)) {
        ctx.addIssue({ code: "custom", path: ["postgres", "adminVersion"], input: admin, message: `a label from postgres.versions (${cfg.postgres.versions.map((v) => JSON.stringify(v.label)).join(", ")})` });
    }
});

/** What the backup settings need from the rest of the config: on kubernetes, S3 in the platform's bucket; on docker, a bucket of one's own. */
function backupIssues(cfg: z.output<typeof platformConfigSchema>): { path: (string | number)[]; input: unknown; message: string }[] {
    const b = cfg.backups;
    const at = (...p: string[]) => ["backups", ...p];
    const issues: { path: (string | number)[]; input: unknown; message: string }[] = [];
    if (cfg.platform.target === "kubernetes") {
        if (b.store === "directory") issues.push({ path: at("store"), input: b.store, message: '"s3" when platform.target is "kubernetes" (the API pods\' data directory is an emptyDir: backups there would be lost with the pod and not shared by the replicas)' });
        for (const k of ["bucket", "region", "kmsKeyId", "endpoint"] as const) {
            if (b.s3[k] !== undefined) issues.push({ path: at("s3", k), input: b.s3[k], message: `no value on platform.target "kubernetes": backups go to the platform's state bucket under backups.s3.prefix, with its KMS key and region (unset backups.s3.${k})` });
        }
        const overlaps = (x: string, y: string) => x === y || x.startsWith(`${y}/`) || y.startsWith(`${x}/`);
        if (overlaps(b.s3.prefix, cfg.platform.stateBucketPrefix)) issues.push({ path: at("s3", "prefix"), input: b.s3.prefix, message: `a prefix apart from platform.stateBucketPrefix (${cfg.platform.stateBucketPrefix}), such as backups: the role's grants keep the two apart` });
    } else if (b.store === "s3") {
        if (b.s3.bucket === undefined) issues.push({ path: at("s3", "bucket"), input: undefined, message: 'the bucket of the backups when backups.store is "s3" on the docker target, such as dbaas-dev-backups (the Docker host\'s AWS identity must reach it)' });
        if (b.s3.region === undefined && cfg.aws.region === undefined) issues.push({ path: at("s3", "region"), input: undefined, message: 'the bucket\'s region such as eu-west-1 when backups.store is "s3" (or aws.region)' });
    } else {
        for (const k of ["bucket", "region", "kmsKeyId", "endpoint"] as const) {
            if (b.s3[k] !== undefined) issues.push({ path: at("s3", k), input: b.s3[k], message: `no value while backups.store is "directory" (set backups.store to "s3", or unset backups.s3.${k})` });
        }
    }
    return issues;
}

type Parsed = z.output<typeof platformConfigSchema>;

/** The validated platform config. Secret keys are wrapped in `Secret`. */
export type PlatformConfig = Readonly<Omit<Parsed, "tlsCertificateChain" | "tlsPrivateKey" | "smtpUrl">> & {
    readonly tlsCertificateChain?: Secret;
    readonly tlsPrivateKey?: Secret;
    /** The API's SMTP server (it may hold a password): a secret file in the API, never plain env. */
    readonly smtpUrl?: Secret;
};

/** Keys whose values are secrets: never printed, set with `--secret`. */
export const SECRET_KEYS: ReadonlySet<string> = new Set(["tlsCertificateChain", "tlsPrivateKey", "smtpUrl"]);

/** Example values used in the fix command of an error, by path with indices as `[i]`. */
const FIX_EXAMPLES: Record<string, string> = {
    domain: "dbaas.example.com",
    dockerHost: "unix:///var/run/docker.sock",
    "tls.mode": "selfSigned",
    tlsCertificateChain: "< fullchain.pem",
    tlsPrivateKey: "< privkey.pem",
    "nginx.image": "nginx:1.27-alpine",
    "api.replicas": "2",
    "api.dockerSocketGroupId": "999",
    "postgres.versions": "'[{\"label\":\"PostgreSQL 17\",\"image\":\"postgres:17\"}]'",
    "postgres.versions[i].label": "'PostgreSQL 17'",
    "postgres.versions[i].image": "postgres:17",
    "aws.enabled": "false",
    "aws.region": "eu-west-1",
    "aws.clusterName": "my-eks-cluster",
    "ondemand.target": "docker",
    "platform.target": "docker",
    "platform.rds": "'{\"vpcId\":\"vpc-0123456789abcdef0\",\"subnetIds\":[\"subnet-0123456789abcdef0\",\"subnet-0fedcba9876543210\"]}'",
    "platform.sourceRanges": "'[\"203.0.113.0/24\"]'",
    "platform.sourceRanges[i]": "203.0.113.0/24",
    smtpUrl: "'smtps://user:password@mail.example.com:465'",
    "backups.store": "s3",
    "backups.fetchBaseUrl": "https://dbaas.example.com",
    "backups.s3.bucket": "dbaas-dev-backups",
    "backups.s3.region": "eu-west-1",
    "backups.s3.prefix": "backups",
    "notifications.webhookHosts": "'[\"hooks.example.com\"]'",
};

export class ConfigError extends Error {
    constructor(readonly problems: readonly string[]) {
        super(`Invalid stack configuration:\n  - ${problems.join("\n  - ")}`);
        this.name = "ConfigError";
    }
}

function formatPath(path: readonly PropertyKey[]): string {
    return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join("");
}

function fixCommand(path: readonly PropertyKey[]): string {
    const key = formatPath(path);
    const generic = key.replace(/\[\d+\]/g, "[i]");
    const top = String(path[0] ?? "");
    const secret = SECRET_KEYS.has(top) ? " --secret" : "";
    const nested = path.length > 1 ? " --path" : "";
    const example = FIX_EXAMPLES[generic] ?? "<value>";
    return `pulumi config set${secret}${nested} '${PROJECT}:${key}' ${example}`;
}

function describeValue(path: readonly PropertyKey[], input: unknown): string {
    if (SECRET_KEYS.has(String(path[0] ?? ""))) return input === undefined ? "(not set)" : "[secret, not shown]";
    if (input === undefined) return "(not set)";
    const text = JSON.stringify(input) ?? typeof input;
    return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

function expectation(issue: z.core.$ZodIssue): string {
    // zod's own wording for type errors ("Invalid input: expected number, received string")
    // is replaced by a short one; our own messages already say what is expected.
    if (issue.code === "invalid_type") return `a ${issue.expected}`;
    return issue.message;
}

/** One line per problem: key, value, expectation, fix. An unknown key is named on its own line. */
function describeIssue(issue: z.core.$ZodIssue): string[] {
    if (issue.code === "unrecognized_keys") {
        return issue.keys.map((k) => {
            const path = [...issue.path, k];
            const known = issue.path.length === 0 ? "a key declared in Pulumi.yaml" : `a key of ${PROJECT}:${formatPath(issue.path)}`;
            const rm = `pulumi config rm${path.length > 1 ? " --path" : ""} '${PROJECT}:${formatPath(path)}'`;
            return `${PROJECT}:${formatPath(path)} is not a known setting: expected ${known} (misspelled?). Fix: ${rm}`;
        });
    }
    const input = "input" in issue ? issue.input : undefined;
    return [`${PROJECT}:${formatPath(issue.path) || "(root)"} = ${describeValue(issue.path, input)}: expected ${expectation(issue)}. Fix: ${fixCommand(issue.path)}`];
}

/**
 * Validates raw stack config (keys without the `dbaas:` prefix, structured
 * values already parsed from JSON) and returns a frozen, typed config.
 * Throws `ConfigError` listing every problem, one line each.
 */
export function parsePlatformConfig(raw: Readonly<Record<string, unknown>>): PlatformConfig {
    const result = platformConfigSchema.safeParse(raw, { reportInput: true });
    if (!result.success) {
        throw new ConfigError(result.error.issues.flatMap(describeIssue));
    }
    const { tlsCertificateChain, tlsPrivateKey, smtpUrl, ...rest } = result.data;
    return deepFreeze({
        ...rest,
        ...(smtpUrl === undefined ? {} : { smtpUrl: new Secret(smtpUrl) }),
        ...(tlsCertificateChain === undefined ? {} : { tlsCertificateChain: new Secret(tlsCertificateChain) }),
        ...(tlsPrivateKey === undefined ? {} : { tlsPrivateKey: new Secret(tlsPrivateKey) }),
    });
}

function deepFreeze<T>(value: T): T {
    if (value && typeof value === "object" && !(value instanceof Secret)) {
        for (const v of Object.values(value)) deepFreeze(v);
        Object.freeze(value);
    }
    return value;
}

/** The config keys the program reads: exactly those declared in Pulumi.yaml (checked by a test). */
export const CONFIG_KEYS = Object.keys(platformConfigSchema.shape) as readonly string[];
