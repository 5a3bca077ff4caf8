/**
 * Reads the platform stack's config once and validates it (see configSchema.ts).
 * A bad value stops `pulumi up` before any resource is touched, with a message
 * naming the key, the value, what was expected and the command that fixes it.
 */
import * as pulumi from "@pulumi/pulumi";
import { apiImageBuildArgs, contentTag, readSourceFiles, type ApiImageArgs } from "../components/api";
import type { ApiSettings } from "../contracts/apiEnv";
import { CONFIG_KEYS, ConfigError, parsePlatformConfig, PROJECT, SECRET_KEYS, type PlatformConfig } from "../contracts/stackConfig";

export * from "../contracts/stackConfig";

/** Stack config values are strings; structured values (objects, arrays, numbers, booleans) arrive as JSON. */
function decode(key: string, text: string): unknown {
    if (SECRET_KEYS.has(key)) return text;
    try {
        return JSON.parse(text) as unknown;
    } catch {
        return text;
    }
}

let cached: PlatformConfig | undefined;

/** The validated platform config of the current stack (read once per process). */
export function loadConfig(): PlatformConfig {
    if (cached) return cached;
    const raw: Record<string, unknown> = {};
    for (const key of CONFIG_KEYS) {
        // runtime.getConfig reads secret and plain keys alike without logging
        // the value; secrets are wrapped in `Secret` by the parser.
        const text = pulumi.runtime.getConfig(`${PROJECT}:${key}`);
        // "" is the default Pulumi.yaml gives optional secret keys (the CLI requires a value for every declared key).
        if (text !== undefined && text !== "") raw[key] = decode(key, text);
    }
    try {
        cached = parsePlatformConfig(raw);
    } catch (e) {
        if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
        throw e;
    }
    return cached;
}

/**
 * The API's settings from the stack config, the same on both platform targets
 * (apiEnvironment turns them into env). The S3 store's bucket is stated here on
 * the docker target; on kubernetes it is the platform's state bucket, which
 * ApiDeployment fills in (`backups.s3` is then left out).
 */
export function apiSettings(config: PlatformConfig): Omit<ApiSettings, "secrets" | "trustStackCa"> {
    const b = config.backups;
    const region = b.s3.region ?? config.aws.region;
    const s3 = b.store === "s3" && config.platform.target === "docker" && b.s3.bucket !== undefined && region !== undefined
        ? { bucket: b.s3.bucket, prefix: b.s3.prefix, region, ...(b.s3.kmsKeyId === undefined ? {} : { kmsKeyId: b.s3.kmsKeyId }), ...(b.s3.endpoint === undefined ? {} : { endpoint: b.s3.endpoint }) }
        : undefined;
    const n = config.notifications;
    return {
        catalog: config.postgres.versions,
        ttlHoursDefault: config.api.ttlHoursDefault,
        ttlHoursMax: config.api.ttlHoursMax,
        allowedBackupHosts: config.api.allowedBackupHosts,
        allowOpenSourceRanges: config.api.allowOpenSourceRanges,
        maxConcurrentOperations: config.api.maxConcurrentOperations,
        ondemand: config.ondemand,
        dockerHost: config.dockerHost,
        backups: {
            store: b.store, keepCount: b.keepCount, keepDays: b.keepDays, rolloffIntervalSeconds: b.rolloffIntervalSeconds,
            maxConcurrent: b.maxConcurrent, timeoutSeconds: b.timeoutSeconds,
            ...(b.fetchBaseUrl === undefined ? {} : { fetchBaseUrl: b.fetchBaseUrl }),
            ...(s3 === undefined ? {} : { s3 }),
        },
        notifications: {
            ...(n.webhookHosts === undefined ? {} : { webhookHosts: n.webhookHosts }),
            ...(n.smtpFrom === undefined ? {} : { smtpFrom: n.smtpFrom }),
            timeoutSeconds: n.timeoutSeconds, maxAttempts: n.maxAttempts, expiryWarningHours: n.expiryWarningHours,
        },
    };
}

/** Forgets the cached config (tests run the program for several stacks in one process). */
export function resetConfigCache(): void {
    cached = undefined;
}

/**
 * How both platform targets build the API image: the repository's Dockerfile
 * with the stack's build settings (`api.build`), tagged by the sources and
 * the build args, so a different base or Pulumi source is a different tag.
 */
export function apiImageBuild(config: PlatformConfig, context: string): ApiImageArgs["build"] {
    const { network, ...sources } = config.api.build;
    const build = { pulumiVersion: config.api.pulumiVersion, ...sources };
    return {
        ...build,
        context,
        tag: contentTag(readSourceFiles(context), apiImageBuildArgs(build)),
        ...(network === undefined ? {} : { network }),
    };
}
