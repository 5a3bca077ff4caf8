/**
 * The spec of one on-demand database, shared by the API (which validates the
 * request and builds the spec) and the on-demand program (which reads it from
 * stack config `dbaas-db:database` and validates it again). Field names are
 * the API's request names (snake_case) plus the resolved target settings.
 * No Pulumi imports.
 */
import { z } from "zod";
import { isValidImageReference, IMAGE_REFERENCE_HINT } from "./catalog";
import { isCidr, NAMESPACE_PREFIX_PATTERN } from "./stackConfig";
import { RESTORE_DEFAULTS } from "./restore";
import { backupIdSchema } from "./backup";
import { cloneFromSchema, K8S_NAME, snapshotCloneFromSchema } from "./cache";

/** Pulumi project of the on-demand database program (one stack per database). */
export const ONDEMAND_PROJECT = "dbaas-db";

/** Stack config key holding the whole spec of one on-demand database. */
export const ONDEMAND_SPEC_KEY = `${ONDEMAND_PROJECT}:database`;

/**
 * Secret stack config key holding the superuser password of one on-demand
 * database. The API sets it (encrypted by the stack's secrets provider) before
 * the first `up`; the program only reads it, so the API can rotate it later.
 */
export const ONDEMAND_PASSWORD_KEY = `${ONDEMAND_PROJECT}:password`;

/**
 * A database name becomes a stack, a namespace, a Service and a database name,
 * so it must be a DNS-1035 label: a lowercase letter first, then lowercase
 * letters, digits and hyphens, ending in a letter or digit. 40 characters leave
 * room for the namespace prefix within the 63 allowed by Kubernetes.
 */
export const DATABASE_NAME_MAX_LENGTH = 40;
export const DATABASE_NAME_PATTERN = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

export const databaseNameSchema = z
    .string()
    .max(DATABASE_NAME_MAX_LENGTH, `at most ${DATABASE_NAME_MAX_LENGTH} characters`)
    .regex(DATABASE_NAME_PATTERN, "a DNS-1035 label: a lowercase letter first, then lowercase letters, digits and hyphens, ending in a letter or digit");

export const cidrSchema = z.string().refine(isCidr, { message: "a CIDR such as 203.0.113.0/24 or 2001:db8::/48" });

/** The request fields of `POST /databases` (as the existing DevDB API, plus version, ttl_hours, source_ranges). */
export const createDatabaseFields = {
    project_id: z.string().min(1, "a project id").max(63, "at most 63 characters").regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "letters, digits, '.', '_' and '-'"),
    owner: z.string().min(1, "an owner").max(128, "at most 128 characters"),
    name: databaseNameSchema,
    db_type: z.literal("postgres", { message: 'db_type "postgres" (the only type offered)' }),
    backup_location: z.string().max(2048, "at most 2048 characters").optional(),
    /** One of the caller's own succeeded backups (GET /databases/{name}/backups), instead of backup_location. */
    backup_id: backupIdSchema.optional(),
    version: z.string().min(1).max(64).optional(),
    ttl_hours: z.number().int("a whole number of hours").positive("a positive number of hours").optional(),
    source_ranges: z.array(cidrSchema).max(32, "at most 32 ranges").optional(),
    /** true: restore from the backup even when the cache holds it, and do not fill the cache (docs/cache.md). */
    fresh: z.boolean({ message: "true or false" }).optional(),
} as const;

/** Largest CA bundle a spec carries (a few dozen certificates). */
export const RESTORE_CA_PEM_MAX_LENGTH = 65_536;
/** One or more PEM certificate blocks, whitespace between them, nothing else (no private key). */
export const PEM_CERTIFICATES = /^\s*(-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\s*)+$/;

/** Image of the one-shot step that downloads backup_location (needs curl and a POSIX shell; pinned). */
export const DEFAULT_FETCH_IMAGE = "curlimages/curl:8.11.1";

/** Restore settings shared by both targets; every field has a default, so older specs stay valid. */
export const restoreSettingsFields = {
    /** Image of the download step. */
    fetch_image: z.string().refine(isValidImageReference, { message: IMAGE_REFERENCE_HINT }).default(DEFAULT_FETCH_IMAGE),
    /** Parallel jobs of pg_restore for custom-format dumps (default: the script's, 2). */
    restore_jobs: z.number().int().min(1).max(16).default(Number(RESTORE_DEFAULTS.RESTORE_JOBS)),
    /** Largest backup download accepted, in bytes (default: the script's, 10 GiB). */
    restore_max_bytes: z.number().int().positive().default(Number(RESTORE_DEFAULTS.RESTORE_MAX_BYTES)),
    /** Longest the download and the restore may each take, in seconds (default: the script's, 1 hour). */
    restore_max_seconds: z.number().int().min(30).max(86_400).default(Number(RESTORE_DEFAULTS.RESTORE_MAX_SECONDS)),
    /**
     * PEM certificates the download trusts instead of the system CAs, for backup servers
     * with a private CA (API setting DBAAS_BACKUP_CA_FILE). Public material: no secret.
     */
    restore_ca_pem: z.string().max(RESTORE_CA_PEM_MAX_LENGTH, `at most ${RESTORE_CA_PEM_MAX_LENGTH} characters of PEM`)
        .regex(PEM_CERTIFICATES, "PEM certificates (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----) and nothing else").optional(),
} as const;

export const dockerTargetSchema = z.object({
    kind: z.literal("docker"),
    /** Docker engine URL, e.g. unix:///var/run/docker.sock */
    docker_host: z.string().min(1),
    memory_mb: z.number().int().min(128),
    /** Host address the Postgres port is published on (127.0.0.1 keeps it local). */
    publish_ip: z.string().default("127.0.0.1"),
    /**
     * Docker network the fetch step joins instead of the engine's default bridge, for a
     * backup server reachable only there (API setting DBAAS_FETCH_NETWORK).
     */
    fetch_network: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, "a Docker network name (letters, digits, '_', '.', '-')").optional(),
    /**
     * A cached restore of backup_location this `up` may clone instead of restoring (set by the
     * API per attempt, never stored): the fetch step clones when the backup still matches.
     */
    clone_from: cloneFromSchema.optional(),
    ...restoreSettingsFields,
}).strict();

export const kubernetesTargetSchema = z.object({
    kind: z.literal("kubernetes"),
    namespace_prefix: z.string().regex(NAMESPACE_PREFIX_PATTERN),
    memory_mb: z.number().int().min(128),
    cpu_millicores: z.number().int().min(100),
    storage_gb: z.number().int().min(1),
    storage_class: z.string().optional(),
    /**
     * VolumeSnapshotClass of the restored-backup cache (API setting DBAAS_K8S_VOLUME_SNAPSHOT_CLASS;
     * docs/cache.md): with it a restored database's volume is snapshotted (the golden copy) and a
     * later database from the same backup gets a PVC from that snapshot. Without it every create restores.
     */
    volume_snapshot_class: z.string().regex(K8S_NAME, "a VolumeSnapshotClass name (lowercase letters, digits, '-', '.')").optional(),
    /** A golden snapshot this `up` may clone (set by the API per attempt, never stored; needs volume_snapshot_class). */
    clone_from: snapshotCloneFromSchema.optional(),
    /** Snapshot this `up`'s restored volume as a golden copy (set by the API per attempt, never stored; needs volume_snapshot_class). */
    cache_fill: z.boolean().optional(),
    ...restoreSettingsFields,
}).strict().refine((t) => (t.clone_from === undefined && t.cache_fill !== true) || t.volume_snapshot_class !== undefined, {
    message: "clone_from and cache_fill need volume_snapshot_class (snapshots are taken and cloned through the class's CSI driver)", path: ["volume_snapshot_class"],
});

export const databaseSpecSchema = z.object({
    name: databaseNameSchema,
    owner: createDatabaseFields.owner,
    project_id: createDatabaseFields.project_id,
    db_type: createDatabaseFields.db_type,
    /** Catalog label, e.g. "PostgreSQL 17". */
    version: z.string().min(1),
    /** The catalog image for that label, resolved by the API. */
    image: z.string().refine(isValidImageReference, { message: IMAGE_REFERENCE_HINT }),
    backup_location: z.string().url().startsWith("https://", "an https:// URL").optional(),
    /**
     * A backup in the API's store this database is restored from (contracts/backup.ts).
     * The spec the API stores has no backup_location then; the spec of each `up`
     * carries the API's signed URL for this backup as backup_location.
     */
    backup_id: backupIdSchema.optional(),
    /** ISO-8601 instant after which the reaper destroys the database. */
    expires_at: z.iso.datetime(),
    /** Skip the restored-backup cache: no clone, no fill (POST /databases `fresh`). */
    fresh: z.boolean().optional(),
    source_ranges: z.array(cidrSchema).default([]),
    target: z.discriminatedUnion("kind", [dockerTargetSchema, kubernetesTargetSchema]),
}).strict();

export type DatabaseSpec = z.output<typeof databaseSpecSchema>;
export type DatabaseSpecInput = z.input<typeof databaseSpecSchema>;
export type DockerTarget = z.output<typeof dockerTargetSchema>;
export type KubernetesTarget = z.output<typeof kubernetesTargetSchema>;

/** Validates a spec; the error names the field and the rule. */
export function parseDatabaseSpec(raw: unknown): DatabaseSpec {
    const result = databaseSpecSchema.safeParse(raw);
    if (!result.success) {
        const lines = result.error.issues.map((i) => `${i.path.join(".") || "(spec)"}: expected ${i.message}`);
        throw new Error(`invalid database spec (stack config dbaas-db:database):\n  - ${lines.join("\n  - ")}`);
    }
    return result.data;
}
