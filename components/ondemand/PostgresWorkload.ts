/**
 * The Postgres server of one database on Kubernetes: the given password in
 * a Secret, the restore scripts in a ConfigMap, and a one-replica StatefulSet
 * (PVC from a claim template, PGDATA in a subdirectory, hardened security
 * context on every container, requests = limits). With a backup, an init
 * container fetches it and the image's init hook restores it; the pod turns
 * Ready only after the restore's marker exists (see `restore.ts`).
 * With the restored-backup cache (docs/cache.md) the fetch step reports what
 * it saw in its termination message; a clone's PVC is made from a
 * VolumeSnapshot, and two more init steps (snapshotPrepareScript before the
 * fetch, cloneScript after it) turn the snapshot's data into this database.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { DATABASE_USER, FIELD_MANAGER_ANNOTATIONS, SERVICE_NAME } from "./naming";
import {
    DATA_MOUNT, fetchEnv, FETCH_SCRIPT_FILE, fetchScript, INITDB_DIR, INITDB_FILE, initdbScript, PGDATA, readinessCommand,
    RESTORE_CA_FILE, RESTORE_CA_KEY, RestoreLimits, restoreEnv, SCRIPT_DIR, SCRIPT_FILE, WRITABLE_DIRS,
} from "../../contracts/restore";
import { fetchResources, guaranteedResources } from "./resources";
import { containerSecurityContext, podSecurityContext } from "./security";
import { POSTGRES_PORT } from "../../contracts/ports";
import type { BackupIdentity } from "../../contracts/cache";
import { cacheFetchEnv, cacheFetchScript, cloneScript, GOLDEN_IN_VOLUME, snapshotPrepareScript } from "../../contracts/cacheScripts";
import { RESTORE_DIR } from "../../contracts/restore";
import { DATA_CLAIM, FETCH_CONTAINER, snapshotDataSource, TERMINATION_LOG } from "./snapshots";

export interface PostgresRestore {
    /** https URL of the backup. */
    readonly backupUrl: string;
    /** Image with curl and a POSIX shell for the fetch step. */
    readonly fetchImage: string;
    /** Content of the fetch script (mounted from the ConfigMap in the fetch init container). */
    readonly fetchScript: string;
    /** Content of the restore script (mounted from the ConfigMap in the Postgres container). */
    readonly script: string;
    /** File name the script writes into RESTORE_MARKER_DIR on success. */
    readonly markerName: string;
    /** Jobs, size and time caps of the fetch and the restore (the spec's target settings). */
    readonly limits: RestoreLimits;
}

/** A clone's data source: a golden snapshot in this namespace. */
export interface PostgresCloneSource {
    /** VolumeSnapshot in the workload's namespace the PVC is made from (an Output, so the StatefulSet waits for it). */
    readonly snapshot: pulumi.Input<string>;
    /** The database the snapshot was taken of: its database is renamed to this one's, its passwords reset. */
    readonly sourceDatabase: string;
    /** What the backup must still match for the fetch step to clone instead of restoring. */
    readonly identity: BackupIdentity;
}

export interface PostgresCache {
    /** The golden snapshot to clone. Default: none (restore; the fetch step still reports the backup's identity). */
    readonly cloneFrom?: PostgresCloneSource;
}

export interface PostgresWorkloadArgs {
    /** Namespace (Output of the namespace, so the workload waits for it). Required. */
    readonly namespace: pulumi.Input<string>;
    /** Catalog image of Postgres. Required. */
    readonly image: string;
    /** Database created at initialisation (POSTGRES_DB). Required. */
    readonly database: string;
    /**
     * Superuser password (POSTGRES_PASSWORD, through the Secret). Required; it is
     * marked secret here whether or not the caller did. Postgres reads it only at
     * initialisation, so a change reaches the Secret but not an existing server.
     */
    readonly password: pulumi.Input<string>;
    /** Labels on every object and pod; keep the expiry out (a change restarts the pod). Required. */
    readonly labels: Record<string, string>;
    /** Labels selecting the pods; must be a subset of what the pods carry. Required. */
    readonly selector: Record<string, string>;
    /** Memory (MiB) and CPU (millicores): requests = limits. Required. */
    readonly memoryMb: number;
    readonly cpuMillicores: number;
    /** PVC size in GiB. Required. */
    readonly storageGb: number;
    /** StorageClass of the PVC. Default: the cluster's default class. */
    readonly storageClass?: string;
    /** What the password Secret waits for besides the namespace, e.g. DatabaseNamespace.secretsGrant (devdb may write Secrets only once it is bound). Default: none. */
    readonly secretDependsOn?: pulumi.Resource[];
    /** Governing Service of the StatefulSet. Default SERVICE_NAME ("postgres"). */
    readonly serviceName?: pulumi.Input<string>;
    /** The backup to restore before the pod turns Ready. Default: none (an empty database). */
    readonly restore?: PostgresRestore;
    /** The restored-backup cache (only with `restore`). Default: off (the fetch step as without a cache). */
    readonly cache?: PostgresCache;
}

/** Where the clone step reads the password (a Secret volume, group-readable for fsGroup 999). */
const PASSWORD_DIR = "/run/dbaas";
const PASSWORD_FILE = `${PASSWORD_DIR}/postgres-password`;

/** Seconds between startup probes; with the limit below this bounds the time to first Ready. */
const STARTUP_PERIOD_SECONDS = 10;

export class PostgresWorkload extends pulumi.ComponentResource {
    /** The superuser password as given (secret). */
    readonly password: pulumi.Output<string>;
    /** The StatefulSet (ready = restored or cloned): what the golden snapshot and the report read wait for. */
    readonly statefulSet: pulumi.Resource;

    constructor(name: string, args: PostgresWorkloadArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dbaas:ondemand:PostgresWorkload", name, {}, opts);
        const restore = args.restore;
        const cache = restore === undefined ? undefined : args.cache;
        const clone = cache?.cloneFrom;
        const security = containerSecurityContext();
        const meta = (object: string) => ({ name: object, namespace: args.namespace, labels: args.labels, annotations: FIELD_MANAGER_ANNOTATIONS });

        this.password = pulumi.secret(args.password);

        const secret = new k8s.core.v1.Secret(`${name}-password`, {
            metadata: meta("postgres-password"),
            type: "Opaque",
            stringData: { password: this.password },
        }, {
            parent: this,
            ...(args.secretDependsOn ? { dependsOn: args.secretDependsOn } : {}),
            // Not deleted on its own: the namespace's deletion removes it. devdb may touch Secrets only
            // where its namespaced grant exists, so once the namespace (and the grant in it) is gone, as
            // when an admin deleted it by hand, a delete of the Secret is refused (403, not 404) and the
            // destroy failed (seen in ondemandRetry.e2e).
            retainOnDelete: true,
        });

        const scripts = restore === undefined ? undefined : new k8s.core.v1.ConfigMap(`${name}-restore`, {
            metadata: meta("postgres-restore"),
            data: {
                [FETCH_SCRIPT_FILE]: restore.fetchScript, [SCRIPT_FILE]: restore.script, [INITDB_FILE]: initdbScript(),
                ...(restore.limits.restore_ca_pem === undefined ? {} : { [RESTORE_CA_KEY]: restore.limits.restore_ca_pem }),
            },
        }, { parent: this });

        const env = (vars: Record<string, string>) => Object.entries(vars).map(([n, value]) => ({ name: n, value }));
        const dataMount = { name: "data", mountPath: DATA_MOUNT };
        const tmpMount = { name: "tmp", mountPath: WRITABLE_DIRS.tmp };
        const scriptMount = { name: "restore", mountPath: `${SCRIPT_DIR}/${SCRIPT_FILE}`, subPath: SCRIPT_FILE, readOnly: true };
        const fetchScriptMount = { name: "restore", mountPath: `${SCRIPT_DIR}/${FETCH_SCRIPT_FILE}`, subPath: FETCH_SCRIPT_FILE, readOnly: true };
        const caMounts = restore?.limits.restore_ca_pem === undefined ? [] : [{ name: "restore", mountPath: RESTORE_CA_FILE, subPath: RESTORE_CA_KEY, readOnly: true }];
        // Enough startup probes to cover download plus restore at their caps, and a margin for initdb.
        const restoreSeconds = restore === undefined ? 0 : 2 * restore.limits.restore_max_seconds;
        const startupFailures = Math.ceil((restoreSeconds + 300) / STARTUP_PERIOD_SECONDS);
        const ready = readinessCommand(restore?.markerName);
        const restoreEnvVars = restore === undefined ? {} : fetchEnv(restore.backupUrl, restore.markerName, restore.limits);
        const fetchStepResources = guaranteedResources(fetchResources({ memory_mb: args.memoryMb, cpu_millicores: args.cpuMillicores }));
        const cloneEnv = restore === undefined || clone === undefined ? [] : env({
            PGDATA, GOLDEN_PGDATA: `${GOLDEN_IN_VOLUME}/pgdata`, GOLDEN_SOURCE_DATABASE: clone.sourceDatabase, RESTORE_MARKER_DIR: RESTORE_DIR,
            RESTORE_MARKER: restore.markerName, DATABASE_NAME: args.database, DATABASE_USER, PASSWORD_FILE,
        });

        const statefulSet = new k8s.apps.v1.StatefulSet(name, {
            metadata: meta("postgres"),
            spec: {
                replicas: 1,
                serviceName: args.serviceName ?? SERVICE_NAME,
                selector: { matchLabels: args.selector },
                persistentVolumeClaimRetentionPolicy: { whenDeleted: "Delete", whenScaled: "Retain" },
                template: {
                    metadata: { labels: { ...args.labels, ...args.selector } },
                    spec: {
                        securityContext: podSecurityContext(),
                        automountServiceAccountToken: false,
                        enableServiceLinks: false,
                        terminationGracePeriodSeconds: 60,
                        initContainers: restore === undefined ? [] : [
                            ...(clone === undefined ? [] : [{
                                name: "clone-prepare",
                                image: restore.fetchImage,
                                command: ["sh", "-c", snapshotPrepareScript()],
                                env: env({ PGDATA, RESTORE_MARKER_DIR: RESTORE_DIR, GOLDEN_DIR: GOLDEN_IN_VOLUME, DATABASE_NAME: args.database }),
                                securityContext: security,
                                resources: fetchStepResources,
                                volumeMounts: [dataMount],
                            }]),
                            {
                                name: FETCH_CONTAINER,
                                image: restore.fetchImage,
                                command: ["sh", "-c", cache === undefined ? fetchScript() : cacheFetchScript(undefined, { reportFile: TERMINATION_LOG })],
                                env: env(cache === undefined ? restoreEnvVars : { ...restoreEnvVars, ...cacheFetchEnv(clone, GOLDEN_IN_VOLUME) }),
                                securityContext: security,
                                resources: fetchStepResources,
                                volumeMounts: [dataMount, tmpMount, fetchScriptMount, ...caMounts],
                            },
                            // Does nothing unless the fetch step left its hit flag (then drops the kept-aside copy); no network needed.
                            ...(clone === undefined ? [] : [{
                                name: "clone",
                                image: args.image,
                                command: ["sh", "-c", cloneScript({ goldenInVolume: true })],
                                env: cloneEnv,
                                securityContext: security,
                                resources: guaranteedResources({ memory_mb: args.memoryMb, cpu_millicores: args.cpuMillicores }),
                                volumeMounts: [dataMount, tmpMount, { name: "password", mountPath: PASSWORD_DIR, readOnly: true }],
                            }]),
                        ],
                        containers: [{
                            name: "postgres",
                            image: args.image,
                            ports: [{ name: "postgres", containerPort: POSTGRES_PORT, protocol: "TCP" }],
                            env: [
                                { name: "POSTGRES_USER", value: DATABASE_USER },
                                { name: "POSTGRES_DB", value: args.database },
                                { name: "PGDATA", value: PGDATA },
                                { name: "POSTGRES_PASSWORD", valueFrom: { secretKeyRef: { name: secret.metadata.name, key: "password" } } },
                                ...(restore === undefined ? [] : env(restoreEnv(restore.markerName, restore.limits))),
                            ],
                            securityContext: security,
                            resources: guaranteedResources({ memory_mb: args.memoryMb, cpu_millicores: args.cpuMillicores }),
                            volumeMounts: [
                                dataMount,
                                tmpMount,
                                { name: "socket", mountPath: WRITABLE_DIRS.socket },
                                ...(scripts === undefined ? [] : [
                                    { name: "restore", mountPath: `${INITDB_DIR}/${INITDB_FILE}`, subPath: INITDB_FILE, readOnly: true },
                                    scriptMount,
                                ]),
                            ],
                            startupProbe: { exec: { command: ready }, periodSeconds: STARTUP_PERIOD_SECONDS, timeoutSeconds: 5, failureThreshold: startupFailures },
                            readinessProbe: { exec: { command: ready }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
                            livenessProbe: { exec: { command: readinessCommand(undefined) }, periodSeconds: 20, timeoutSeconds: 5, failureThreshold: 6 },
                        }],
                        volumes: [
                            { name: "tmp", emptyDir: {} },
                            { name: "socket", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } },
                            ...(scripts === undefined ? [] : [{ name: "restore", configMap: { name: scripts.metadata.name, defaultMode: 0o555 } }]),
                            // 0440: root-owned, group 999 (fsGroup) may read it; only the clone step mounts it.
                            ...(clone === undefined ? [] : [{ name: "password", secret: { secretName: secret.metadata.name, defaultMode: 0o440, items: [{ key: "password", path: "postgres-password" }] } }]),
                        ],
                    },
                },
                volumeClaimTemplates: [{
                    // Claim templates are immutable: only labels that never change.
                    metadata: { name: DATA_CLAIM, labels: args.selector },
                    spec: {
                        accessModes: ["ReadWriteOnce"],
                        ...(clone === undefined ? {} : { dataSource: pulumi.output(clone.snapshot).apply(snapshotDataSource) }),
                        ...(args.storageClass === undefined ? {} : { storageClassName: args.storageClass }),
                        resources: { requests: { storage: `${args.storageGb}Gi` } },
                    },
                }],
            },
        }, {
            parent: this,
            // Pulumi waits for Ready; a large restore legitimately takes as long as its caps allow.
            customTimeouts: { create: `${Math.ceil(startupFailures * STARTUP_PERIOD_SECONDS / 60) + 10}m`, update: "20m" },
            // Claim templates are immutable: a clone's dataSource matters at its PVC's creation only, and a
            // later `up` without the attempt's clone_from must not replace the StatefulSet (and its volume).
            ignoreChanges: ["spec.volumeClaimTemplates[0].spec.dataSource"],
        });
        this.statefulSet = statefulSet;

        this.registerOutputs({ password: this.password });
    }
}
