/**
 * Wires a running API: admin store (migrated), LISTEN hub, HTTP server, job
 * runner and expiry reaper, and the orderly shutdown of all of them. main.ts,
 * the tests and the benchmark all start the API through `startApi`.
 */
import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import { buildServer } from "./http/app";
import { TokensFile, type TokenSource } from "./http/auth";
import type { ApiConfig } from "./config";
import type { StackEngine } from "./engine/types";
import { JobRunner } from "./jobs/runner";
import { RuntimeWatcher } from "./jobs/watcher";
import { dockerInspector, type RuntimeInspector } from "./engine/dockerRuntime";
import { SizeSampler } from "./jobs/sizeSampler";
import { ApiMetrics } from "./metrics";
import { Activities } from "./domain/activities";
import { Contacts } from "./domain/contacts";
import { Databases } from "./domain/databases";
import { smtpMailer } from "./notify/channels";
import type { WebhookSender } from "./notify/channels";
import { NotificationWorker } from "./notify/worker";
import { systemResolver, type Resolver } from "./domain/ssrf";
import { NotificationHub } from "./store/notifications";
import { AdminStore } from "./store/store";
import { Backups } from "./backups/backups";
import { RolloutDriver } from "./rollouts/driver";
import { Rollouts } from "./rollouts/rollouts";
import { openBackupStore } from "./backups/openBackupStore";
import { RestoreCache, type GoldenVolumes } from "./cache/cache";
import { dockerGoldenVolumes } from "./cache/dockerVolumes";
import { searchDirs } from "./backups/pgDump";
import { LocalPgDumpRunner, type BackupRunner } from "./backups/runner";
import { SelectingBackupRunner } from "./backups/chooseRunner";
import { DockerDumpRunner } from "./backups/dockerDumpRunner";
import { REPO_ROOT } from "./config";
import * as path from "node:path";

export interface StartApiOptions {
    readonly config: ApiConfig;
    readonly engine: StackEngine;
    /** postgresql:// URL of the admin database (main.ts resolves the embedded one). */
    readonly databaseUrl: string;
    /** Default: the tokens file of the config, re-read when it changes. */
    readonly tokens?: TokenSource;
    readonly resolver?: Resolver;
    /** How the runtime watcher reads a server; default: the docker target's engine (none for kubernetes). */
    readonly inspector?: RuntimeInspector;
    readonly logger?: FastifyBaseLogger;
    /** Default true; false builds an API that only accepts work (e.g. a benchmark of the HTTP layer alone). */
    readonly runJobs?: boolean;
    readonly sseHeartbeatMs?: number;
    /** Connections of the request pool (default 10). */
    readonly poolSize?: number;
    /** Check every response against its schema (tests; default false). */
    readonly validateResponses?: boolean;
    /**
     * Node.js process metrics (event loop, heap, GC) in GET /metrics (default false; main.ts
     * turns them on). prom-client's collectors cannot be stopped, so a process that starts
     * many APIs (the tests) would pile them up.
     */
    readonly processMetrics?: boolean;
    /**
     * TEST SEAM, never configuration: replaces how the notification worker
     * sends a webhook that passed the egress check (see NotificationWorker).
     * Only test code passes it; main.ts never does, and no environment
     * variable can set it.
     */
    readonly testOnlyWebhookSender?: WebhookSender;
    /** How dumps are taken (default: pg_dump on this host, LocalPgDumpRunner). */
    readonly backupRunner?: BackupRunner;
    /** Lease of a running backup (default 30 s). */
    readonly backupLeaseMs?: number;
    /** The restored-backup cache's golden volumes (default: the docker target's engine; none on kubernetes). */
    readonly goldenVolumes?: GoldenVolumes;
}

export interface RunningApi {
    readonly app: FastifyInstance;
    /** `http://127.0.0.1:<port>` */
    readonly url: string;
    readonly store: AdminStore;
    readonly runner: JobRunner | undefined;
    /** Undefined when off (DBAAS_WATCH_INTERVAL_SECONDS=0, kubernetes target, no job runner). */
    readonly watcher: RuntimeWatcher | undefined;
    /** The API's rules (routes, reaper and readiness share this one instance). */
    readonly databases: Databases;
    readonly metrics: ApiMetrics;
    /** Samples database sizes on a schedule (undefined when the interval is 0 or jobs do not run). */
    readonly sampler: SizeSampler | undefined;
    /** Activities: the watcher's `recordUnplanned` is here. */
    readonly activities: Activities;
    readonly notifier: NotificationWorker | undefined;
    readonly backups: Backups;
    /** Advances running rollouts (undefined when jobs do not run). */
    readonly rolloutDriver: RolloutDriver | undefined;
    readonly cache: RestoreCache;
    /** Stops accepting, lets jobs finish for `graceMs` (default from config), hands the rest back, closes connections. */
    close(graceMs?: number): Promise<void>;
}

/** The dump runners DBAAS_BACKUP_RUNNER chooses between (docs/backups.md#how-the-dump-is-taken). */
function backupRunnerOf(config: ApiConfig): BackupRunner {
    const host = new LocalPgDumpRunner({ searchDirs: searchDirs(config.backups.pgDumpDirs, process.env.PATH, path.join(REPO_ROOT, "node_modules")) });
    // DBAAS_BACKUP_RUNNER=in-target with the kubernetes target is refused with the config.
    if (config.backups.runner === "host" || config.target.kind !== "docker") return host;
    const inTarget = new DockerDumpRunner({ dockerHost: config.target.docker_host, memoryMb: config.backups.dumpMemoryMb });
    return new SelectingBackupRunner({ mode: config.backups.runner, target: config.target, inTarget, host });
}

export async function startApi(o: StartApiOptions): Promise<RunningApi> {
    const store = new AdminStore(o.databaseUrl, o.poolSize ?? 10);
    const hub = new NotificationHub(o.databaseUrl, (m) => o.logger?.warn(m));
    try {
        await store.migrate();
        await hub.start();
    } catch (e) {
        await hub.close();
        await store.close();
        throw e;
    }
    const tokens = o.tokens ?? new TokensFile(o.config.tokensFile, (m) => o.logger?.warn(m));
    const metrics = new ApiMetrics({ processMetrics: o.processMetrics === true });
    const resolver = o.resolver ?? systemResolver;
    const files = await openBackupStore(o.config.backups.store);
    // The backups' and the rollout driver's log (both made before the server and its logger).
    const backupLog = {
        info: (obj: object, msg: string) => o.logger?.info(obj, msg),
        warn: (obj: object, msg: string) => o.logger?.warn(obj, msg),
        error: (obj: object, msg: string) => o.logger?.error(obj, msg),
    };
    const backups = new Backups({
        store, engine: o.engine, files, config: o.config.backups, operationTimeoutMs: o.config.operationTimeoutMs, log: backupLog,
        runner: o.backupRunner ?? backupRunnerOf(o.config),
        ...(o.backupLeaseMs === undefined ? {} : { leaseMs: o.backupLeaseMs }),
    });
    const cache = new RestoreCache({
        store, config: o.config.cache, log: backupLog,
        volumes: o.goldenVolumes ?? (o.config.target.kind === "docker" ? dockerGoldenVolumes() : undefined),
    });
    const databases = new Databases(store, o.engine, o.config, resolver, undefined, backups);
    const activities = new Activities(store);
    const n = o.config.notifications;
    const contacts = new Contacts(store, n, resolver);
    const rolloutDriver = o.runJobs === false ? undefined : new RolloutDriver({
        store, log: backupLog, pollMs: o.config.pollMs,
        onStepEnd: (state) => metrics.observeRolloutStep(state),
        onRolloutEnd: (state) => metrics.observeRolloutEnd(state),
    });
    const rollouts = new Rollouts(store, o.config.catalog, () => rolloutDriver?.kick());
    const app = await buildServer({
        config: o.config, store, databases, activities, contacts, backups, rollouts, cache, tokens, hub, metrics,
        ...(o.logger ? { logger: o.logger } : { logLevel: o.config.logLevel }),
        ...(o.sseHeartbeatMs === undefined ? {} : { sseHeartbeatMs: o.sseHeartbeatMs }),
        validateResponses: o.validateResponses === true,
    });
    const log = app.log;
    const runner = o.runJobs === false ? undefined : new JobRunner({
        store, engine: cache.wrap(o.engine), hub, log,
        maxConcurrent: o.config.maxConcurrentOperations,
        leaseMs: o.config.leaseMs,
        pollMs: o.config.pollMs,
        operationTimeoutMs: o.config.operationTimeoutMs,
        maxAttempts: o.config.maxAttempts,
        retryBaseMs: o.config.retryBaseMs,
        retryMaxMs: o.config.retryMaxMs,
        onOperationEnd: (kind, outcome, seconds) => metrics.observeOperation(kind, outcome, seconds),
        specForUp: (spec) => backups.specForUp(spec).then((s) => cache.specForUp(s)),
    });
    const notifier = o.runJobs === false ? undefined : new NotificationWorker({
        store, log, resolve: resolver, webhookHosts: n.webhookHosts, pollMs: n.pollMs, timeoutMs: n.timeoutMs,
        retry: { baseMs: n.retryBaseMs, maxMs: n.retryMaxMs, maxAttempts: n.maxAttempts },
        mailer: n.smtpUrl === undefined ? undefined : smtpMailer(n.smtpUrl, n.smtpFrom, n.timeoutMs),
        ...(o.testOnlyWebhookSender === undefined ? {} : { sender: o.testOnlyWebhookSender }),
    });
    await backups.start();
    if (runner !== undefined) cache.start();
    await app.listen({ host: o.config.host, port: o.config.port });
    await runner?.start();
    notifier?.start();
    rolloutDriver?.start();
    const reaper = o.config.reaperIntervalMs > 0 && runner !== undefined
        ? setInterval(() => {
            databases.reapExpired().then((names) => {
                if (names.length > 0) log.info({ databases: names }, "expired databases queued for deletion");
            }).catch((e: Error) => log.error({ err: e.message }, "reaper failed"));
            if (n.expiryWarningMs > 0) {
                databases.warnExpiring(n.expiryWarningMs).then((names) => {
                    if (names.length > 0) {
                        log.info({ databases: names }, "expiry warnings queued");
                        notifier?.kick();
                    }
                }).catch((e: Error) => log.error({ err: e.message }, "expiry warning sweep failed"));
            }
        }, o.config.reaperIntervalMs)
        : undefined;
    const inspect = o.inspector ?? (o.config.target.kind === "docker" ? dockerInspector(o.config.target.docker_host) : undefined);
    const watcher = o.config.watchIntervalMs > 0 && runner !== undefined && inspect !== undefined
        ? new RuntimeWatcher({
            store, inspect, intervalMs: o.config.watchIntervalMs, log,
            onNoticed: async (name, kind, detail) => {
                await activities.recordUnplanned(name, kind, detail);
                notifier?.kick();
            },
        })
        : undefined;
    watcher?.start();
    const sampler = o.config.sizeSampleIntervalMs > 0 && runner !== undefined
        ? new SizeSampler({ store, engine: o.engine, log, intervalMs: o.config.sizeSampleIntervalMs, retentionMs: o.config.sizeRetentionMs })
        : undefined;
    sampler?.start();
    const address = app.server.address();
    const port = typeof address === "object" && address !== null ? address.port : o.config.port;
    const host = o.config.host === "0.0.0.0" || o.config.host === "::" ? "127.0.0.1" : o.config.host;
    let closing: Promise<void> | undefined;
    return {
        app, store, runner, databases, watcher, metrics, sampler, activities, notifier, backups, rolloutDriver, cache,
        url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
        close(graceMs = o.config.shutdownGraceMs) {
            closing ??= (async () => {
                if (reaper) clearInterval(reaper);
                await watcher?.stop();
                await sampler?.stop();
                await app.close();
                await backups.stop();
                await rolloutDriver?.stop();
                cache.stop();
                await runner?.stop(graceMs);
                await notifier?.stop();
                await hub.close();
                await store.close();
                await files.close?.();
            })();
            return closing;
        },
    };
}
