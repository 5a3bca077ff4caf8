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
import { Databases } from "./domain/databases";
import { systemResolver, type Resolver } from "./domain/ssrf";
import { NotificationHub } from "./store/notifications";
import { AdminStore } from "./store/store";
import { Backups } from "./backups/backups";
import { DirectoryBackupStore } from "./backups/backupStore";
import { searchDirs } from "./backups/pgDump";
import { LocalPgDumpRunner, type BackupRunner } from "./backups/runner";
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
    readonly logger?: FastifyBaseLogger;
    /** Default true; false builds an API that only accepts work (e.g. a benchmark of the HTTP layer alone). */
    readonly runJobs?: boolean;
    readonly sseHeartbeatMs?: number;
    /** Connections of the request pool (default 10). */
    readonly poolSize?: number;
    /** Check every response against its schema (tests; default false). */
    readonly validateResponses?: boolean;
    /** How dumps are taken (default: pg_dump on this host, LocalPgDumpRunner). */
    readonly backupRunner?: BackupRunner;
    /** Lease of a running backup (default 30 s). */
    readonly backupLeaseMs?: number;
}

export interface RunningApi {
    readonly app: FastifyInstance;
    /** `http://127.0.0.1:<port>` */
    readonly url: string;
    readonly store: AdminStore;
    readonly runner: JobRunner | undefined;
    /** The API's rules (routes, reaper and readiness share this one instance). */
    readonly databases: Databases;
    readonly backups: Backups;
    /** Stops accepting, lets jobs finish for `graceMs` (default from config), hands the rest back, closes connections. */
    close(graceMs?: number): Promise<void>;
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
    const files = new DirectoryBackupStore(o.config.backups.store.dir);
    await files.init();
    const backupLog = {
        info: (obj: object, msg: string) => o.logger?.info(obj, msg),
        warn: (obj: object, msg: string) => o.logger?.warn(obj, msg),
        error: (obj: object, msg: string) => o.logger?.error(obj, msg),
    };
    const backups = new Backups({
        store, engine: o.engine, files, config: o.config.backups, operationTimeoutMs: o.config.operationTimeoutMs, log: backupLog,
        runner: o.backupRunner ?? new LocalPgDumpRunner({ searchDirs: searchDirs(o.config.backups.pgDumpDirs, process.env.PATH, path.join(REPO_ROOT, "node_modules")) }),
        ...(o.backupLeaseMs === undefined ? {} : { leaseMs: o.backupLeaseMs }),
    });
    const databases = new Databases(store, o.engine, o.config, o.resolver ?? systemResolver, undefined, backups);
    const app = await buildServer({
        config: o.config, store, databases, backups, tokens, hub,
        ...(o.logger ? { logger: o.logger } : { logLevel: o.config.logLevel }),
        ...(o.sseHeartbeatMs === undefined ? {} : { sseHeartbeatMs: o.sseHeartbeatMs }),
        validateResponses: o.validateResponses === true,
    });
    const log = app.log;
    const runner = o.runJobs === false ? undefined : new JobRunner({
        store, engine: o.engine, hub, log,
        maxConcurrent: o.config.maxConcurrentOperations,
        leaseMs: o.config.leaseMs,
        pollMs: o.config.pollMs,
        operationTimeoutMs: o.config.operationTimeoutMs,
        maxAttempts: o.config.maxAttempts,
        retryBaseMs: o.config.retryBaseMs,
        retryMaxMs: o.config.retryMaxMs,
        specForUp: (spec) => backups.specForUp(spec),
    });
    await backups.start();
    await app.listen({ host: o.config.host, port: o.config.port });
    await runner?.start();
    const reaper = o.config.reaperIntervalMs > 0 && runner !== undefined
        ? setInterval(() => {
            databases.reapExpired().then((names) => {
                if (names.length > 0) log.info({ databases: names }, "expired databases queued for deletion");
            }).catch((e: Error) => log.error({ err: e.message }, "reaper failed"));
        }, o.config.reaperIntervalMs)
        : undefined;
    const address = app.server.address();
    const port = typeof address === "object" && address !== null ? address.port : o.config.port;
    const host = o.config.host === "0.0.0.0" || o.config.host === "::" ? "127.0.0.1" : o.config.host;
    let closing: Promise<void> | undefined;
    return {
        app, store, runner, databases, backups,
        url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
        close(graceMs = o.config.shutdownGraceMs) {
            closing ??= (async () => {
                if (reaper) clearInterval(reaper);
                await app.close();
                await backups.stop();
                await runner?.stop(graceMs);
                await hub.close();
                await store.close();
            })();
            return closing;
        },
    };
}
