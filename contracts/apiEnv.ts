/**
 * What the API container is told and where: plain settings as environment
 * variables, secrets as files (uploaded with secret content) whose paths are in
 * `*_FILE` variables. No Pulumi imports: tested directly, and the one place
 * that decides the layout, so no secret value can end up in plain env.
 */
import type { VersionCatalog } from "./catalog";
import { API_PORT } from "./ports";

/** Where the secret files live inside the API container (tmpfs-like, never in the image). */
export const SECRETS_DIR = "/run/secrets/dbaas";
/** Persistent data of the API (on-demand stacks' workdirs and state): a named volume. */
export const API_DATA_DIR = "/data";
/** The stack CA certificate (not secret): Node trusts it through NODE_EXTRA_CA_CERTS (admin DB with sslmode=verify-full). */
export const STACK_CA_FILE = "/etc/dbaas/stack-ca.pem";
/** uid/gid of the `node` user of the official node images; the API runs as it. */
export const API_UID = 1000;

/** The secret files the API may receive, with the variable naming each file's path. */
export const SECRET_FILES = {
    databaseUrl: { env: "DATABASE_URL_FILE", file: `${SECRETS_DIR}/database-url` },
    // The Kubernetes client libraries and kubectl find the file through KUBECONFIG itself.
    kubeconfig: { env: "KUBECONFIG", file: `${SECRETS_DIR}/kubeconfig` },
    tokens: { env: "DBAAS_TOKENS_FILE", file: `${SECRETS_DIR}/tokens` },
    // The on-demand stacks' secrets provider: the engine hands this file to the
    // Pulumi CLI as PULUMI_CONFIG_PASSPHRASE_FILE (api/engine/workspace.ts).
    pulumiPassphrase: { env: "DBAAS_PULUMI_PASSPHRASE_FILE", file: `${SECRETS_DIR}/pulumi-passphrase` },
    // The SMTP URL may hold a password (api/config.ts reads DBAAS_SMTP_URL_FILE).
    smtpUrl: { env: "DBAAS_SMTP_URL_FILE", file: `${SECRETS_DIR}/smtp-url` },
} as const;

export type SecretFileKey = keyof typeof SECRET_FILES;

/** Where the S3 store puts backups (DBAAS_BACKUP_S3_*); no credentials: the SDK's default chain signs. */
export interface ApiBackupS3Settings {
    readonly bucket: string;
    readonly prefix: string;
    readonly region: string;
    readonly kmsKeyId?: string;
    readonly endpoint?: string;
}

/** The API's backups (DBAAS_BACKUP_*; docs/backups.md). */
export interface ApiBackupSettings {
    readonly store: "directory" | "s3";
    readonly keepCount: number;
    readonly keepDays: number;
    readonly rolloffIntervalSeconds: number;
    readonly maxConcurrent: number;
    readonly timeoutSeconds: number;
    readonly fetchBaseUrl?: string;
    /** Required when `store` is s3 (on kubernetes ApiDeployment fills in the state bucket and key). */
    readonly s3?: ApiBackupS3Settings;
}

/** The API's notifications (DBAAS_WEBHOOK_HOSTS, DBAAS_SMTP_FROM, DBAAS_NOTIFY_*); the SMTP URL is the secret file `smtpUrl`. */
export interface ApiNotificationSettings {
    /** Undefined: any host whose addresses are all public. */
    readonly webhookHosts?: readonly string[];
    readonly smtpFrom?: string;
    readonly timeoutSeconds: number;
    readonly maxAttempts: number;
    readonly expiryWarningHours: number;
}

/** The non-secret settings of the API, as the platform config states them. */
export interface ApiSettings {
    readonly catalog: VersionCatalog;
    readonly ttlHoursDefault: number;
    readonly ttlHoursMax: number;
    readonly allowedBackupHosts: readonly string[];
    readonly allowOpenSourceRanges: boolean;
    readonly maxConcurrentOperations: number;
    /** Where on-demand databases go. */
    readonly ondemand: {
        readonly target: "docker" | "kubernetes";
        readonly namespacePrefix: string;
        readonly memoryMb: number;
        readonly cpuMillicores: number;
        readonly storageGb: number;
        readonly defaultSourceRanges: readonly string[];
    };
    /** Docker host of the docker target (dev). */
    readonly dockerHost: string;
    /** Default: none stated (the API's own defaults: the directory store in its data dir). */
    readonly backups?: ApiBackupSettings;
    /** Default: none stated (the API's own defaults: webhooks to any public host, no email). */
    readonly notifications?: ApiNotificationSettings;
    /** Which secret files will be present (the others are not announced). */
    readonly secrets: ReadonlySet<SecretFileKey>;
    /** Whether the stack CA file is uploaded (then NODE_EXTRA_CA_CERTS names it). Default: false. */
    readonly trustStackCa?: boolean;
    /** Default: "info". */
    readonly logLevel?: string;
    /**
     * Where the on-demand stacks' state lives (PULUMI_BACKEND_URL), e.g.
     * `s3://bucket/ondemand?region=eu-west-1`. Default: a file backend in the data volume.
     */
    readonly pulumiBackendUrl?: string;
    /** Secrets provider of new on-demand stacks (DBAAS_SECRETS_PROVIDER), e.g. `awskms://alias/dbaas-prod?region=eu-west-1`. Default: none (the passphrase file). */
    readonly secretsProvider?: string;
    /** AWS_REGION for the SDKs (S3 backend, KMS) in the pod; credentials come from the pod's web identity, never from env. Default: not set. */
    readonly awsRegion?: string;
}

/** The container's environment as `NAME=value` strings; only non-secret values and file paths. */
export function apiEnvironment(s: ApiSettings): string[] {
    const env: Record<string, string> = {
        NODE_ENV: "production",
        // Inside the container the API must listen on the network, not loopback.
        HOST: "0.0.0.0",
        PORT: String(API_PORT),
        LOG_LEVEL: s.logLevel ?? "info",
        // nginx is the only client; it sets X-Forwarded-For/-Proto.
        DBAAS_TRUST_PROXY: "true",
        DBAAS_DATA_DIR: API_DATA_DIR,
        PULUMI_BACKEND_URL: s.pulumiBackendUrl ?? `file://${API_DATA_DIR}/state`,
        DBAAS_CATALOG: JSON.stringify(s.catalog),
        DBAAS_TTL_HOURS_DEFAULT: String(s.ttlHoursDefault),
        DBAAS_TTL_HOURS_MAX: String(s.ttlHoursMax),
        DBAAS_BACKUP_HOSTS: s.allowedBackupHosts.join(","),
        DBAAS_ALLOW_OPEN_SOURCE_RANGES: String(s.allowOpenSourceRanges),
        DBAAS_MAX_CONCURRENT_OPERATIONS: String(s.maxConcurrentOperations),
        DBAAS_TARGET: s.ondemand.target,
        DBAAS_DOCKER_HOST: apiDockerHost(s.ondemand.target, s.dockerHost),
        DBAAS_NAMESPACE_PREFIX: s.ondemand.namespacePrefix,
        DBAAS_DB_MEMORY_MB: String(s.ondemand.memoryMb),
        DBAAS_DB_CPU_MILLICORES: String(s.ondemand.cpuMillicores),
        DBAAS_DB_STORAGE_GB: String(s.ondemand.storageGb),
        DBAAS_DEFAULT_SOURCE_RANGES: s.ondemand.defaultSourceRanges.join(","),
    };
    if (s.backups !== undefined) Object.assign(env, backupEnvironment(s.backups));
    if (s.notifications !== undefined) Object.assign(env, notificationEnvironment(s.notifications));
    if (s.trustStackCa === true) env.NODE_EXTRA_CA_CERTS = STACK_CA_FILE;
    if (s.secretsProvider !== undefined) env.DBAAS_SECRETS_PROVIDER = s.secretsProvider;
    if (s.awsRegion !== undefined) env.AWS_REGION = s.awsRegion;
    for (const key of [...s.secrets].sort()) {
        const f = SECRET_FILES[key];
        env[f.env] = f.file;
    }
    return Object.entries(env).map(([k, v]) => `${k}=${v}`);
}

function backupEnvironment(b: ApiBackupSettings): Record<string, string> {
    const env: Record<string, string> = {
        DBAAS_BACKUP_STORE: b.store,
        DBAAS_BACKUP_KEEP_COUNT: String(b.keepCount),
        DBAAS_BACKUP_KEEP_DAYS: String(b.keepDays),
        DBAAS_BACKUP_ROLLOFF_INTERVAL_SECONDS: String(b.rolloffIntervalSeconds),
        DBAAS_BACKUP_MAX_CONCURRENT: String(b.maxConcurrent),
        DBAAS_BACKUP_TIMEOUT_SECONDS: String(b.timeoutSeconds),
    };
    if (b.fetchBaseUrl !== undefined) env.DBAAS_BACKUP_FETCH_BASE_URL = b.fetchBaseUrl;
    if (b.store === "s3") {
        // The platform config guarantees it; a missing one is a bug of the caller, not a setting to default.
        if (b.s3 === undefined) throw new Error("apiEnvironment: backups.store is s3 but no bucket was given (backups.s3)");
        Object.assign(env, {
            DBAAS_BACKUP_S3_BUCKET: b.s3.bucket,
            DBAAS_BACKUP_S3_PREFIX: b.s3.prefix,
            DBAAS_BACKUP_S3_REGION: b.s3.region,
            ...(b.s3.kmsKeyId === undefined ? {} : { DBAAS_BACKUP_S3_KMS_KEY_ID: b.s3.kmsKeyId }),
            ...(b.s3.endpoint === undefined ? {} : { DBAAS_BACKUP_S3_ENDPOINT: b.s3.endpoint }),
        });
    }
    return env;
}

function notificationEnvironment(n: ApiNotificationSettings): Record<string, string> {
    return {
        ...(n.webhookHosts === undefined ? {} : { DBAAS_WEBHOOK_HOSTS: n.webhookHosts.join(",") }),
        ...(n.smtpFrom === undefined ? {} : { DBAAS_SMTP_FROM: n.smtpFrom }),
        DBAAS_NOTIFY_TIMEOUT_SECONDS: String(n.timeoutSeconds),
        DBAAS_NOTIFY_MAX_ATTEMPTS: String(n.maxAttempts),
        DBAAS_EXPIRY_WARNING_HOURS: String(n.expiryWarningHours),
    };
}

/** The Docker socket path when the docker target talks to a local socket (it is then mounted into the API). */
export function dockerSocketPath(dockerHost: string): string | undefined {
    return dockerHost.startsWith("unix://") ? dockerHost.slice("unix://".length) : undefined;
}

/**
 * The socket ApiService mounts into the API: only for the docker target on a
 * local (unix://) Docker host. The API runs as API_UID, so it then also needs
 * the socket's group (`dbaas:api.dockerSocketGroupId`).
 */
export function mountedDockerSocket(target: "docker" | "kubernetes", dockerHost: string): string | undefined {
    return target === "docker" ? dockerSocketPath(dockerHost) : undefined;
}

/**
 * Where the mounted socket is inside the API container: always here, whatever
 * the host's path (a socket under a directory the API's user cannot traverse,
 * such as /root/..., would be unreachable at its host path).
 */
export const CONTAINER_DOCKER_SOCKET = "/var/run/docker.sock";

/** The Docker host as the API reaches it: the mounted socket's container path, else the configured host (tcp://, ssh://). */
export function apiDockerHost(target: "docker" | "kubernetes", dockerHost: string): string {
    return mountedDockerSocket(target, dockerHost) === undefined ? dockerHost : `unix://${CONTAINER_DOCKER_SOCKET}`;
}

/** Network alias of replica `i` (what the nginx upstream lists). */
export function apiReplicaAlias(i: number): string {
    return `api-${i}`;
}

/** The nginx upstream entries for `replicas` API containers. */
export function apiUpstreams(replicas: number): string[] {
    return Array.from({ length: replicas }, (_, i) => `${apiReplicaAlias(i)}:${API_PORT}`);
}
