/**
 * The API's configuration, read once from the environment and validated; a
 * bad value stops the process with a message naming the variable, the value
 * and what was expected. Every default is stated here and in
 * docs/api.md. No Pulumi imports.
 */
import { X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { IMAGE_REFERENCE_HINT, isValidImageReference, parseCatalogJson, versionCatalogSchema, type VersionCatalog } from "../contracts/catalog";
import { DNS_NAME_PATTERN, isCidr, NAMESPACE_PREFIX_HINT, NAMESPACE_PREFIX_PATTERN, STATE_PREFIX_PATTERN } from "../contracts/stackConfig";
import { DEFAULT_FETCH_IMAGE, dockerTargetSchema, kubernetesTargetSchema, PEM_CERTIFICATES, RESTORE_CA_PEM_MAX_LENGTH } from "../contracts/database";
import { K8S_NAME } from "../contracts/cache";
import { API_PORT } from "../contracts/ports";
import { PACKAGE_ROOT } from "./paths";

/** Root of the repository, from api/ and from the compiled dist/api/ alike (paths.ts). */
export const REPO_ROOT = PACKAGE_ROOT;

const int = (min: number, max: number) => z.coerce.number().int("a whole number").min(min, `at least ${min}`).max(max, `at most ${max}`);
const bool = z.enum(["true", "false", "1", "0"], { message: '"true" or "false"' }).transform((v) => v === "true" || v === "1");
const list = z.string().transform((s) => s.split(",").map((x) => x.trim()).filter((x) => x.length > 0));
const hostName = z.string().regex(DNS_NAME_PATTERN, "lowercase DNS names such as backups.example.com");
const POSTGRES_URL = /^postgres(ql)?:\/\//;
/** A KMS key as S3 takes it for SSE-KMS: key id, multi-Region key id, key ARN, alias/<name> or alias ARN. */
const KMS_KEY_ID = /^(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)\/[A-Za-z0-9/_-]+|alias\/[A-Za-z0-9/_-]+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/;
const dockerHost = z.string().regex(/^(unix|tcp|ssh):\/\/.+/, "a Docker host URL such as unix:///var/run/docker.sock");

/** Environment variables, their defaults and rules. */
const envSchema = z.object({
    PORT: int(0, 65535).default(API_PORT),
    HOST: z.string().min(1).default("127.0.0.1"),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    DATABASE_URL: z.string().regex(POSTGRES_URL, "a postgresql:// URL").optional(),
    // The platform program hands the URL over as a secret file (never as a plain env value).
    DATABASE_URL_FILE: z.string().min(1).optional(),
    DBAAS_DATA_DIR: z.string().min(1).default(path.join(REPO_ROOT, ".dbaas-data")),
    DBAAS_TOKENS_FILE: z.string().min(1).optional(),
    DBAAS_CATALOG: z.string().optional(),
    DBAAS_CATALOG_FILE: z.string().optional(),
    DBAAS_BACKUP_HOSTS: list.pipe(z.array(hostName)).default([]),
    DBAAS_TTL_HOURS_DEFAULT: int(1, 8760).default(24),
    DBAAS_TTL_HOURS_MAX: int(1, 8760).default(168),
    DBAAS_ALLOW_OPEN_SOURCE_RANGES: bool.default(false),
    DBAAS_DEFAULT_SOURCE_RANGES: list.pipe(z.array(z.string().refine(isCidr, "CIDRs such as 203.0.113.0/24"))).default([]),
    DBAAS_MAX_CONCURRENT_OPERATIONS: int(1, 64).default(4),
    DBAAS_OPERATION_TIMEOUT_SECONDS: int(1, 86400).default(1800),
    DBAAS_OPERATION_MAX_ATTEMPTS: int(1, 20).default(5),
    DBAAS_RETRY_BASE_SECONDS: z.coerce.number().min(0.01).max(3600).default(5),
    DBAAS_RETRY_MAX_SECONDS: z.coerce.number().min(0.01).max(86400).default(300),
    DBAAS_JOB_LEASE_SECONDS: z.coerce.number().min(0.5).max(3600).default(30),
    DBAAS_JOB_POLL_MS: int(10, 60000).default(1000),
    DBAAS_SHUTDOWN_GRACE_SECONDS: z.coerce.number().min(0).max(3600).default(20),
    DBAAS_REAPER_INTERVAL_SECONDS: z.coerce.number().min(0).max(86400).default(60),
    DBAAS_WATCH_INTERVAL_SECONDS: z.coerce.number().min(0).max(86400).default(30),
    // Size sampling (jobs/sizeSampler.ts): 0 turns it off; samples older than the retention are deleted.
    DBAAS_SIZE_SAMPLE_INTERVAL_SECONDS: z.coerce.number().min(0).max(86400).default(300),
    DBAAS_SIZE_RETENTION_DAYS: z.coerce.number().min(1 / 24, "at least 0.0417 (one hour)").max(3650).default(30),
    // Unit prices of the cost estimate in GET /reports; 0 means "not configured".
    DBAAS_PRICE_GB_HOUR: z.coerce.number().min(0, "at least 0").max(1_000_000).default(0),
    DBAAS_PRICE_CORE_HOUR: z.coerce.number().min(0, "at least 0").max(1_000_000).default(0),
    DBAAS_RATE_LIMIT_PER_MINUTE: int(1, 10_000_000).default(600),
    DBAAS_BODY_LIMIT_BYTES: int(256, 10 * 1024 * 1024).default(64 * 1024),
    DBAAS_TRUST_PROXY: bool.default(false),
    DBAAS_TARGET: z.enum(["docker", "kubernetes"], { message: '"docker" or "kubernetes"' }).default("docker"),
    // Default: DOCKER_HOST (as the docker CLI reads it), else the local engine's socket.
    DBAAS_DOCKER_HOST: dockerHost.optional(),
    DOCKER_HOST: dockerHost.optional(),
    DBAAS_PUBLISH_IP: z.string().min(1).default("127.0.0.1"),
    DBAAS_DB_MEMORY_MB: int(128, 262144).default(1024),
    DBAAS_NAMESPACE_PREFIX: z.string().regex(NAMESPACE_PREFIX_PATTERN, NAMESPACE_PREFIX_HINT).default("devdb-"),
    DBAAS_DB_CPU_MILLICORES: int(100, 64000).default(1000),
    DBAAS_DB_STORAGE_GB: int(1, 1000).default(10),
    DBAAS_STORAGE_CLASS: z.string().min(1).optional(),
    // kubernetes target only: the VolumeSnapshotClass of the restored-backup cache (docs/cache.md); unset: every create restores.
    DBAAS_K8S_VOLUME_SNAPSHOT_CLASS: z.string().regex(K8S_NAME, "a VolumeSnapshotClass name such as ebs-snapshots (lowercase letters, digits, '-', '.'; kubectl get volumesnapshotclass)").optional(),
    // The restore's download step (both targets): its image, and the CA bundle it trusts.
    DBAAS_FETCH_IMAGE: z.string().refine(isValidImageReference, IMAGE_REFERENCE_HINT).default(DEFAULT_FETCH_IMAGE),
    DBAAS_BACKUP_CA_FILE: z.string().min(1).optional(),
    // docker target only: the network the download step joins (default: the engine's bridge).
    DBAAS_FETCH_NETWORK: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, "a Docker network name (letters, digits, '_', '.', '-')").optional(),
    // Notifications (docs/activities-and-notifications.md).
    DBAAS_WEBHOOK_HOSTS: list.pipe(z.array(hostName)).optional(),
    DBAAS_SMTP_URL: z.string().regex(/^smtps?:\/\/[^\s]+$/, "an smtp:// or smtps:// URL such as smtp://mail.example.com:587").optional(),
    DBAAS_SMTP_URL_FILE: z.string().min(1).optional(),
    DBAAS_SMTP_FROM: z.string().min(3).max(254).default("dbaas@localhost"),
    DBAAS_NOTIFY_POLL_MS: int(10, 60000).default(1000),
    DBAAS_NOTIFY_TIMEOUT_SECONDS: z.coerce.number().min(0.1).max(120).default(10),
    DBAAS_NOTIFY_MAX_ATTEMPTS: int(1, 30).default(8),
    DBAAS_NOTIFY_RETRY_BASE_SECONDS: z.coerce.number().min(0.01).max(3600).default(30),
    DBAAS_NOTIFY_RETRY_MAX_SECONDS: z.coerce.number().min(0.01).max(86400).default(3600),
    DBAAS_EXPIRY_WARNING_HOURS: z.coerce.number().min(0).max(8760).default(24),
    // Backups (docs/backups.md): files in a directory, or objects in an S3 bucket.
    DBAAS_BACKUP_STORE: z.enum(["directory", "s3"], { message: '"directory" (files under DBAAS_BACKUP_DIR) or "s3" (objects in DBAAS_BACKUP_S3_BUCKET)' }).default("directory"),
    DBAAS_BACKUP_DIR: z.string().min(1).optional(),
    // The S3 store. No access keys here: the SDK's default chain (the pod's IAM role, the host's instance profile) signs.
    DBAAS_BACKUP_S3_BUCKET: z.string().regex(/^(?=.{3,63}$)[a-z0-9][a-z0-9.-]*[a-z0-9]$/, "an S3 bucket name such as dbaas-prod-backups (3-63 lowercase letters, digits, '.', '-')").optional(),
    DBAAS_BACKUP_S3_PREFIX: z.string().regex(STATE_PREFIX_PATTERN, "a relative key prefix such as backups or dbaas/backups (no leading or trailing '/')").default("backups"),
    DBAAS_BACKUP_S3_REGION: z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, "an AWS region such as eu-west-1").optional(),
    DBAAS_BACKUP_S3_KMS_KEY_ID: z.string().regex(KMS_KEY_ID, "a KMS key id, key ARN, alias/<name> or alias ARN").optional(),
    // An S3-compatible server instead of AWS (path-style addressing); never with credentials in it.
    DBAAS_BACKUP_S3_ENDPOINT: z.url({ protocol: /^https?$/, message: "an http(s):// URL of an S3-compatible server such as https://s3.example.internal:9000" })
        .refine((u) => !/^[a-z]+:\/\/[^/]*@/i.test(u), "an endpoint without user or password in it (credentials come from the AWS default chain, never from config)").optional(),
    DBAAS_BACKUP_KEEP_COUNT: int(1, 1000).default(7),
    DBAAS_BACKUP_KEEP_DAYS: int(1, 3650).default(30),
    DBAAS_BACKUP_ROLLOFF_INTERVAL_SECONDS: z.coerce.number().min(0).max(86400).default(3600),
    DBAAS_BACKUP_MAX_CONCURRENT: int(1, 16).default(2),
    DBAAS_BACKUP_TIMEOUT_SECONDS: int(10, 86400).default(3600),
    // Where a new database's restore step reaches this API for a stored backup's bytes (https; see contracts/backup.ts).
    DBAAS_BACKUP_FETCH_BASE_URL: z.url({ protocol: /^https$/, message: "an https:// URL such as https://dbaas.example.com (where restores reach this API)" }).optional(),
    // Directories searched for pg_dump before PATH (e.g. /usr/lib/postgresql/17/bin).
    DBAAS_PG_DUMP_DIRS: list.default([]),
    // Where a dump runs: in-target (a container of the database's own image; docker target), on the API host, or auto.
    DBAAS_BACKUP_RUNNER: z.enum(["auto", "in-target", "host"], { message: '"auto" (in-target when the docker target\'s engine answers, else the host\'s pg_dump), "in-target" or "host"' }).default("auto"),
    DBAAS_BACKUP_DUMP_MEMORY_MB: int(32, 65536).default(256),
    // The restored-backup cache (docs/cache.md): docker target only.
    DBAAS_CACHE: bool.default(true),
    DBAAS_CACHE_MAX_BYTES: z.coerce.number().int("a whole number of bytes").min(0, "at least 0").default(50 * 1024 ** 3),
    DBAAS_CACHE_MAX_AGE_HOURS: z.coerce.number().min(0.01, "at least 0.01").max(87_600, "at most 87600").default(168),
    DBAAS_CACHE_EVICT_INTERVAL_SECONDS: z.coerce.number().min(0).max(86400).default(300),
});

/** Where dump files are kept: files 0600 under `dir`, or objects `<prefix>/<id>.dump` in an S3 bucket. */
export type BackupStoreConfig =
    | { readonly kind: "directory"; readonly dir: string }
    | {
        readonly kind: "s3";
        readonly bucket: string;
        readonly prefix: string;
        readonly region: string;
        /** SSE-KMS with this key when set; else the bucket's default encryption. */
        readonly kmsKeyId?: string;
        /** An S3-compatible server (path-style addressing); default: AWS's endpoint of the region. */
        readonly endpoint?: string;
    };
/** The restored-backup cache (docs/cache.md). */
export interface CacheConfig {
    /** false: no clone and no fill (every create restores). */
    readonly enabled: boolean;
    /** Total size of ready golden copies kept; the least recently used go first. */
    readonly maxBytes: number;
    /** A golden copy unused this long is evicted. */
    readonly maxAgeHours: number;
    /** 0 disables the eviction job. */
    readonly evictIntervalMs: number;
}

/** Backups: where they are kept, how long, how they are taken (docs/backups.md). */
export interface BackupConfig {
    readonly store: BackupStoreConfig;
    /** Succeeded backups kept per database; older ones are rolled off. */
    readonly keepCount: number;
    /** Backups older than this are rolled off, whatever the count. */
    readonly maxAgeMs: number;
    /** 0 disables the roll-off job. */
    readonly rolloffIntervalMs: number;
    /** Dumps running at once in this process. */
    readonly maxConcurrent: number;
    /** A dump running longer is stopped and the backup fails. */
    readonly timeoutMs: number;
    /** Base URL of this API as the restore step reaches it; without it `backup_id` is refused (422). */
    readonly fetchBaseUrl?: string;
    /** Directories searched for pg_dump before PATH. */
    readonly pgDumpDirs: readonly string[];
    /** Where a dump runs (api/backups/chooseRunner.ts). */
    readonly runner: "auto" | "in-target" | "host";
    /** Memory limit of the in-target dump container, in MiB. */
    readonly dumpMemoryMb: number;
}

export type Target = z.output<typeof dockerTargetSchema> | z.output<typeof kubernetesTargetSchema>;

export interface ApiConfig {
    readonly port: number;
    readonly host: string;
    readonly logLevel: string;
    /** Unset: an embedded PostgreSQL is started in `dataDir`. */
    readonly databaseUrl?: string;
    readonly dataDir: string;
    readonly tokensFile: string;
    readonly catalog: VersionCatalog;
    readonly backupHosts: readonly string[];
    readonly ttlHoursDefault: number;
    readonly ttlHoursMax: number;
    readonly allowOpenSourceRanges: boolean;
    readonly defaultSourceRanges: readonly string[];
    readonly maxConcurrentOperations: number;
    readonly operationTimeoutMs: number;
    readonly maxAttempts: number;
    readonly retryBaseMs: number;
    readonly retryMaxMs: number;
    readonly leaseMs: number;
    readonly pollMs: number;
    readonly shutdownGraceMs: number;
    /** 0 disables the reaper. */
    readonly reaperIntervalMs: number;
    /** How often the runtime watcher looks at the servers (docker target); 0 disables it. */
    readonly watchIntervalMs: number;
    /** How often database sizes are sampled; 0 disables the sampler. */
    readonly sizeSampleIntervalMs: number;
    /** Samples older than this are deleted by the sampler's retention step. */
    readonly sizeRetentionMs: number;
    /** Unit prices of the cost estimate (0 = not configured). */
    readonly prices: { readonly gbHour: number; readonly coreHour: number };
    readonly rateLimitPerMinute: number;
    readonly bodyLimitBytes: number;
    readonly trustProxy: boolean;
    /** The target block of every spec the API builds. */
    readonly target: Target;
    readonly notifications: NotificationsConfig;
    readonly backups: BackupConfig;
    readonly cache: CacheConfig;
}

export interface NotificationsConfig {
    /** Hosts webhooks may go to; undefined (DBAAS_WEBHOOK_HOSTS unset): any host whose addresses are all public. */
    readonly webhookHosts: readonly string[] | undefined;
    /** Undefined: email is off. A secret (it may hold a password): never logged. */
    readonly smtpUrl: string | undefined;
    readonly smtpFrom: string;
    readonly pollMs: number;
    readonly timeoutMs: number;
    readonly maxAttempts: number;
    readonly retryBaseMs: number;
    readonly retryMaxMs: number;
    /** How long before the expiry the contacts are warned (0: no warning). */
    readonly expiryWarningMs: number;
}

export class ApiConfigError extends Error {
    constructor(readonly problems: readonly string[]) {
        super(`Invalid API configuration:\n  - ${problems.join("\n  - ")}`);
        this.name = "ApiConfigError";
    }
}

/** The catalog of the dev stack (Pulumi.dev.yaml), so a local `npm start` offers the same versions. */
export function catalogFromStackFile(file: string): VersionCatalog {
    const doc = parseYaml(fs.readFileSync(file, "utf8")) as { config?: Record<string, { versions?: unknown } | undefined> } | null;
    const versions = doc?.config?.["dbaas:postgres"]?.versions;
    return versionCatalogSchema.parse(versions);
}

function readCatalog(env: z.output<typeof envSchema>): VersionCatalog {
    if (env.DBAAS_CATALOG !== undefined) return parseCatalogJson(env.DBAAS_CATALOG);
    if (env.DBAAS_CATALOG_FILE !== undefined) return parseCatalogJson(fs.readFileSync(env.DBAAS_CATALOG_FILE, "utf8"));
    return catalogFromStackFile(path.join(REPO_ROOT, "Pulumi.dev.yaml"));
}

/**
 * `<name>`, or the content of the file `<name>_FILE` names (DATABASE_URL, DBAAS_SMTP_URL).
 * The value is a secret: a problem names the variable and the file, never the value.
 */
function readValueOrFile(name: string, value: string | undefined, file: string | undefined, pattern: RegExp, holds: string, problems: string[]): string | undefined {
    if (value !== undefined && file !== undefined) {
        problems.push(`${name} and ${name}_FILE are both set: expected only one of them`);
        return undefined;
    }
    if (file === undefined) return value;
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8").trim();
    } catch (e) {
        problems.push(`${name}_FILE = ${JSON.stringify(file)}: expected a readable file (${(e as NodeJS.ErrnoException).code ?? "unreadable"})`);
        return undefined;
    }
    if (!pattern.test(text)) {
        problems.push(`${name}_FILE = ${JSON.stringify(file)}: expected the file to hold ${holds}`);
        return undefined;
    }
    return text;
}

/**
 * The PEM bundle DBAAS_BACKUP_CA_FILE names: certificates only (a private key is refused
 * before anything else is said about the file, so it never travels into a spec), each one
 * parsed, at most RESTORE_CA_PEM_MAX_LENGTH characters.
 */
function readBackupCa(file: string | undefined, problems: string[]): string | undefined {
    if (file === undefined) return undefined;
    const where = `DBAAS_BACKUP_CA_FILE = ${JSON.stringify(file)}`;
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch (e) {
        problems.push(`${where}: expected a readable PEM file of CA certificates (${(e as NodeJS.ErrnoException).code ?? "unreadable"})`);
        return undefined;
    }
    if (/PRIVATE KEY-----/.test(text)) {
        problems.push(`${where}: the file holds a private key; expected CA certificates only (remove the key)`);
        return undefined;
    }
    if (text.length > RESTORE_CA_PEM_MAX_LENGTH || !PEM_CERTIFICATES.test(text)) {
        problems.push(`${where}: expected at most ${RESTORE_CA_PEM_MAX_LENGTH} characters of PEM certificates (-----BEGIN CERTIFICATE----- blocks) and nothing else`);
        return undefined;
    }
    const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    for (const [i, block] of blocks.entries()) {
        try {
            new X509Certificate(block);
        } catch (e) {
            problems.push(`${where}: certificate ${i + 1} of ${blocks.length} does not parse (${(e as Error).message}); expected PEM X.509 certificates`);
            return undefined;
        }
    }
    return `${blocks.join("\n")}\n`;
}

const S3_SETTINGS = ["DBAAS_BACKUP_S3_BUCKET", "DBAAS_BACKUP_S3_REGION", "DBAAS_BACKUP_S3_KMS_KEY_ID", "DBAAS_BACKUP_S3_ENDPOINT"] as const;

/** The S3 store's settings (undefined for the directory store); S3 settings without the S3 store are a mistake, not ignored. */
function readBackupStore(env: z.output<typeof envSchema>, awsRegion: string | undefined, problems: string[]): BackupStoreConfig | undefined {
    if (env.DBAAS_BACKUP_STORE === "directory") {
        for (const k of S3_SETTINGS) {
            if (env[k] !== undefined) problems.push(`${k} = ${JSON.stringify(env[k])}: applies to DBAAS_BACKUP_STORE=s3 only (it is directory); set DBAAS_BACKUP_STORE=s3 or unset ${k}`);
        }
        return undefined;
    }
    if (env.DBAAS_BACKUP_DIR !== undefined) problems.push(`DBAAS_BACKUP_DIR = ${JSON.stringify(env.DBAAS_BACKUP_DIR)}: applies to DBAAS_BACKUP_STORE=directory only (it is s3); unset it`);
    const region = env.DBAAS_BACKUP_S3_REGION ?? awsRegion;
    if (env.DBAAS_BACKUP_S3_BUCKET === undefined) problems.push("DBAAS_BACKUP_S3_BUCKET = (not set): expected the bucket of the backups when DBAAS_BACKUP_STORE is s3, such as dbaas-prod-backups");
    if (region === undefined) problems.push("DBAAS_BACKUP_S3_REGION = (not set): expected the bucket's AWS region such as eu-west-1 when DBAAS_BACKUP_STORE is s3 (or AWS_REGION)");
    if (env.DBAAS_BACKUP_S3_BUCKET === undefined || region === undefined) return undefined;
    return {
        kind: "s3", bucket: env.DBAAS_BACKUP_S3_BUCKET, prefix: env.DBAAS_BACKUP_S3_PREFIX, region,
        ...(env.DBAAS_BACKUP_S3_KMS_KEY_ID === undefined ? {} : { kmsKeyId: env.DBAAS_BACKUP_S3_KMS_KEY_ID }),
        ...(env.DBAAS_BACKUP_S3_ENDPOINT === undefined ? {} : { endpoint: env.DBAAS_BACKUP_S3_ENDPOINT.replace(/\/+$/, "") }),
    };
}

/** Parses the environment (pure apart from reading the catalog and secret files). Throws `ApiConfigError`. */
export function loadApiConfig(environment: Readonly<Record<string, string | undefined>>): ApiConfig {
    // Empty values count as unset, as in most shells' `VAR= cmd`.
    const raw = Object.fromEntries(Object.entries(environment).filter(([, v]) => v !== undefined && v !== ""));
    const parsed = envSchema.safeParse(raw);
    if (!parsed.success) {
        throw new ApiConfigError(parsed.error.issues.map((i) => {
            const key = String(i.path[0] ?? "(env)");
            // The SMTP URL may hold a password: its value is never repeated.
            // An endpoint's user:password part (refused) is not repeated either.
            const value = raw[key] === undefined ? "(not set)" : key === "DBAAS_SMTP_URL" ? "(value hidden)"
                : JSON.stringify(key === "DBAAS_BACKUP_S3_ENDPOINT" ? raw[key].replace(/\/\/[^/]*@/, "//(hidden)@") : raw[key]);
            return `${key} = ${value}: expected ${i.code === "invalid_type" ? `a ${i.expected}` : i.message}`;
        }));
    }
    const env = parsed.data;
    const problems: string[] = [];
    if (env.DBAAS_TTL_HOURS_DEFAULT > env.DBAAS_TTL_HOURS_MAX) {
        problems.push(`DBAAS_TTL_HOURS_DEFAULT = ${env.DBAAS_TTL_HOURS_DEFAULT}: expected at most DBAAS_TTL_HOURS_MAX (${env.DBAAS_TTL_HOURS_MAX})`);
    }
    let catalog: VersionCatalog | undefined;
    try {
        catalog = readCatalog(env);
    } catch (e) {
        problems.push(`DBAAS_CATALOG / DBAAS_CATALOG_FILE: ${(e as Error).message.split("\n")[0]}`);
    }
    const backupStore = readBackupStore(env, raw.AWS_REGION, problems);
    const databaseUrl = readValueOrFile("DATABASE_URL", env.DATABASE_URL, env.DATABASE_URL_FILE, POSTGRES_URL, "a postgresql:// URL", problems);
    const backupCa = readBackupCa(env.DBAAS_BACKUP_CA_FILE, problems);
    if (env.DBAAS_FETCH_NETWORK !== undefined && env.DBAAS_TARGET !== "docker") {
        problems.push(`DBAAS_FETCH_NETWORK = ${JSON.stringify(env.DBAAS_FETCH_NETWORK)}: a Docker network applies to DBAAS_TARGET=docker only (it is ${env.DBAAS_TARGET}); unset it`);
    }
    if (env.DBAAS_BACKUP_RUNNER === "in-target" && env.DBAAS_TARGET !== "docker") {
        problems.push(`DBAAS_BACKUP_RUNNER = "in-target": built for DBAAS_TARGET=docker only (it is ${env.DBAAS_TARGET}; the kubernetes Job variant is not built); set DBAAS_BACKUP_RUNNER=host or auto`);
    }
    if (env.DBAAS_K8S_VOLUME_SNAPSHOT_CLASS !== undefined && env.DBAAS_TARGET !== "kubernetes") {
        problems.push(`DBAAS_K8S_VOLUME_SNAPSHOT_CLASS = ${JSON.stringify(env.DBAAS_K8S_VOLUME_SNAPSHOT_CLASS)}: a VolumeSnapshotClass applies to DBAAS_TARGET=kubernetes only (it is ${env.DBAAS_TARGET}); unset it`);
    }
    const smtpUrl = readValueOrFile("DBAAS_SMTP_URL", env.DBAAS_SMTP_URL, env.DBAAS_SMTP_URL_FILE, /^smtps?:\/\/\S+$/, "an smtp:// or smtps:// URL", problems);
    if (problems.length > 0 || catalog === undefined) throw new ApiConfigError(problems);
    const restore = { fetch_image: env.DBAAS_FETCH_IMAGE, ...(backupCa === undefined ? {} : { restore_ca_pem: backupCa }) };
    const target: Target = env.DBAAS_TARGET === "docker"
        ? dockerTargetSchema.parse({
            kind: "docker",
            docker_host: env.DBAAS_DOCKER_HOST ?? env.DOCKER_HOST ?? "unix:///var/run/docker.sock",
            memory_mb: env.DBAAS_DB_MEMORY_MB,
            publish_ip: env.DBAAS_PUBLISH_IP,
            ...(env.DBAAS_FETCH_NETWORK === undefined ? {} : { fetch_network: env.DBAAS_FETCH_NETWORK }),
            ...restore,
        })
        : kubernetesTargetSchema.parse({
            kind: "kubernetes",
            ...restore,
            namespace_prefix: env.DBAAS_NAMESPACE_PREFIX,
            memory_mb: env.DBAAS_DB_MEMORY_MB,
            cpu_millicores: env.DBAAS_DB_CPU_MILLICORES,
            storage_gb: env.DBAAS_DB_STORAGE_GB,
            ...(env.DBAAS_STORAGE_CLASS === undefined ? {} : { storage_class: env.DBAAS_STORAGE_CLASS }),
            // DBAAS_CACHE=false turns the cache off on this target too: no snapshot class, no report.
            ...(env.DBAAS_K8S_VOLUME_SNAPSHOT_CLASS === undefined || !env.DBAAS_CACHE ? {} : { volume_snapshot_class: env.DBAAS_K8S_VOLUME_SNAPSHOT_CLASS }),
        });
    return Object.freeze({
        port: env.PORT,
        host: env.HOST,
        logLevel: env.LOG_LEVEL,
        ...(databaseUrl === undefined ? {} : { databaseUrl }),
        dataDir: path.resolve(env.DBAAS_DATA_DIR),
        tokensFile: path.resolve(env.DBAAS_TOKENS_FILE ?? path.join(env.DBAAS_DATA_DIR, "tokens")),
        catalog,
        backupHosts: env.DBAAS_BACKUP_HOSTS,
        ttlHoursDefault: env.DBAAS_TTL_HOURS_DEFAULT,
        ttlHoursMax: env.DBAAS_TTL_HOURS_MAX,
        allowOpenSourceRanges: env.DBAAS_ALLOW_OPEN_SOURCE_RANGES,
        defaultSourceRanges: env.DBAAS_DEFAULT_SOURCE_RANGES,
        maxConcurrentOperations: env.DBAAS_MAX_CONCURRENT_OPERATIONS,
        operationTimeoutMs: env.DBAAS_OPERATION_TIMEOUT_SECONDS * 1000,
        maxAttempts: env.DBAAS_OPERATION_MAX_ATTEMPTS,
        retryBaseMs: env.DBAAS_RETRY_BASE_SECONDS * 1000,
        retryMaxMs: env.DBAAS_RETRY_MAX_SECONDS * 1000,
        leaseMs: env.DBAAS_JOB_LEASE_SECONDS * 1000,
        pollMs: env.DBAAS_JOB_POLL_MS,
        shutdownGraceMs: env.DBAAS_SHUTDOWN_GRACE_SECONDS * 1000,
        reaperIntervalMs: env.DBAAS_REAPER_INTERVAL_SECONDS * 1000,
        watchIntervalMs: env.DBAAS_WATCH_INTERVAL_SECONDS * 1000,
        sizeSampleIntervalMs: env.DBAAS_SIZE_SAMPLE_INTERVAL_SECONDS * 1000,
        sizeRetentionMs: env.DBAAS_SIZE_RETENTION_DAYS * 86_400_000,
        prices: Object.freeze({ gbHour: env.DBAAS_PRICE_GB_HOUR, coreHour: env.DBAAS_PRICE_CORE_HOUR }),
        rateLimitPerMinute: env.DBAAS_RATE_LIMIT_PER_MINUTE,
        bodyLimitBytes: env.DBAAS_BODY_LIMIT_BYTES,
        trustProxy: env.DBAAS_TRUST_PROXY,
        target,
        notifications: Object.freeze({
            webhookHosts: env.DBAAS_WEBHOOK_HOSTS,
            smtpUrl,
            smtpFrom: env.DBAAS_SMTP_FROM,
            pollMs: env.DBAAS_NOTIFY_POLL_MS,
            timeoutMs: env.DBAAS_NOTIFY_TIMEOUT_SECONDS * 1000,
            maxAttempts: env.DBAAS_NOTIFY_MAX_ATTEMPTS,
            retryBaseMs: env.DBAAS_NOTIFY_RETRY_BASE_SECONDS * 1000,
            retryMaxMs: env.DBAAS_NOTIFY_RETRY_MAX_SECONDS * 1000,
            expiryWarningMs: env.DBAAS_EXPIRY_WARNING_HOURS * 3_600_000,
        }),
        backups: Object.freeze({
            store: backupStore ?? { kind: "directory" as const, dir: path.resolve(env.DBAAS_BACKUP_DIR ?? path.join(env.DBAAS_DATA_DIR, "backups")) },
            keepCount: env.DBAAS_BACKUP_KEEP_COUNT,
            maxAgeMs: env.DBAAS_BACKUP_KEEP_DAYS * 86_400_000,
            rolloffIntervalMs: env.DBAAS_BACKUP_ROLLOFF_INTERVAL_SECONDS * 1000,
            maxConcurrent: env.DBAAS_BACKUP_MAX_CONCURRENT,
            timeoutMs: env.DBAAS_BACKUP_TIMEOUT_SECONDS * 1000,
            ...(env.DBAAS_BACKUP_FETCH_BASE_URL === undefined ? {} : { fetchBaseUrl: env.DBAAS_BACKUP_FETCH_BASE_URL.replace(/\/+$/, "") }),
            pgDumpDirs: env.DBAAS_PG_DUMP_DIRS.map((d) => path.resolve(d)),
            runner: env.DBAAS_BACKUP_RUNNER,
            dumpMemoryMb: env.DBAAS_BACKUP_DUMP_MEMORY_MB,
        }),
        cache: Object.freeze({
            enabled: env.DBAAS_CACHE,
            maxBytes: env.DBAAS_CACHE_MAX_BYTES,
            maxAgeHours: env.DBAAS_CACHE_MAX_AGE_HOURS,
            evictIntervalMs: env.DBAAS_CACHE_EVICT_INTERVAL_SECONDS * 1000,
        }),
    });
}
