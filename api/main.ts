/**
 * `npm start`: the DBaaS API. Configuration from the environment (see
 * config.ts and docs/api.md); without DATABASE_URL it runs on local
 * defaults: an embedded PostgreSQL, a passphrase file, a file state backend
 * and a first admin token, all under DBAAS_DATA_DIR (localDefaults.ts). The
 * dashboard is built first when it is missing or stale. SIGTERM/SIGINT stop accepting
 * requests, let running operations finish for DBAAS_SHUTDOWN_GRACE_SECONDS and
 * hand the rest back to the queue.
 */
import * as path from "node:path";
import pino from "pino";
import { REDACT_PATHS } from "./http/app";
import { ApiConfigError, loadApiConfig, REPO_ROOT } from "./config";
import { DEFAULT_DASHBOARD_DIR } from "./http/dashboard";
import { ensureDashboard } from "./dashboardBuild";
import { startEmbeddedAdminDatabase, type EmbeddedAdminDatabase } from "./embedded";
import { loadEngine } from "./engine/load";
import type { StackEngine } from "./engine/types";
import { ensureLocalDefaults, firstStartBanner, type LocalDefaults } from "./localDefaults";
import { startApi } from "./start";

export interface MainOverrides {
    /** Replaces the Automation API engine (the restart test runs the real entry point with the test double). */
    readonly engine?: StackEngine;
}

export async function main(env: Readonly<Record<string, string | undefined>> = process.env, overrides: MainOverrides = {}): Promise<void> {
    let config;
    try {
        config = loadApiConfig(env);
    } catch (e) {
        if (e instanceof ApiConfigError) {
            process.stderr.write(`${e.message}\n`);
            process.exit(2);
        }
        throw e;
    }
    const logger = pino({ level: config.logLevel, redact: { paths: REDACT_PATHS, censor: "[redacted]" } });
    let local: LocalDefaults | undefined;
    if (config.databaseUrl === undefined) {
        local = ensureLocalDefaults(env, config.dataDir, config.tokensFile);
        if (local.created.length > 0) logger.info({ created: local.created }, "local defaults created (kept for the next start)");
    }
    const dashboard = env.DBAAS_DASHBOARD_DIR === undefined || env.DBAAS_DASHBOARD_DIR === ""
        ? ensureDashboard({
            configFile: path.join(REPO_ROOT, "dashboard", "vite.config.ts"),
            outDir: DEFAULT_DASHBOARD_DIR,
            srcDir: path.join(REPO_ROOT, "dashboard", "src"),
            log: (m) => logger.info(m),
        }).catch((e: Error) => logger.error({ err: e.message }, "dashboard build failed; / says how to build it by hand"))
        : Promise.resolve();
    let embedded: EmbeddedAdminDatabase | undefined;
    let databaseUrl = config.databaseUrl;
    if (databaseUrl === undefined) {
        embedded = await startEmbeddedAdminDatabase(config.dataDir, (m) => logger.info(m));
        databaseUrl = embedded.url;
    }
    await dashboard;
    const engine = overrides.engine ?? await loadEngine({ ...env, ...local?.env }, config, logger);
    // One API per process here, so the process metrics (event loop, heap, GC) describe it alone.
    const api = await startApi({ config, engine, databaseUrl, logger, processMetrics: true });
    logger.info({ url: api.url, catalog: config.catalog.map((v) => v.label), target: config.target.kind }, "dbaas API listening");
    let stopping = false;
    const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal, graceMs: config.shutdownGraceMs }, "shutting down");
        api.close()
            .then(() => embedded?.stop())
            .then(() => process.exit(0))
            .catch((e: Error) => {
                logger.error({ err: e.message }, "shutdown failed");
                process.exit(1);
            });
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));

    const ready = await api.databases.readiness();
    if (ready.length > 0) logger.warn({ reasons: ready }, "not ready: POST /databases is refused (503) until these are fixed; GET /readyz shows them");
    // Printed to the terminal once, never logged: only the token's hash is kept.
    if (local?.createdToken !== undefined) process.stderr.write(`${firstStartBanner(local.createdToken, api.url, config.tokensFile)}\n`);
}

if (require.main === module) {
    main().catch((e: Error) => {
        process.stderr.write(`dbaas API failed to start: ${e.message}\n`);
        process.exit(1);
    });
}
