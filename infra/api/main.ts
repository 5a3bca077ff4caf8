/**
 * `npm start`: the DBaaS API. Configuration from the environment (see
 * config.ts and docs/readme/70-api.md); without DATABASE_URL an embedded
 * PostgreSQL is started in DBAAS_DATA_DIR. SIGTERM/SIGINT stop accepting
 * requests, let running operations finish for DBAAS_SHUTDOWN_GRACE_SECONDS and
 * hand the rest back to the queue.
 */
import pino from "pino";
import { REDACT_PATHS } from "./app";
import { ApiConfigError, loadApiConfig } from "./config";
import { startEmbeddedAdminDatabase, type EmbeddedAdminDatabase } from "./embedded";
import { loadEngine } from "./engine/load";
import type { StackEngine } from "./engine/types";
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
    let embedded: EmbeddedAdminDatabase | undefined;
    let databaseUrl = config.databaseUrl;
    if (databaseUrl === undefined) {
        embedded = await startEmbeddedAdminDatabase(config.dataDir, (m) => logger.info(m));
        databaseUrl = embedded.url;
    }
    const engine = overrides.engine ?? await loadEngine(env, config, logger);
    const api = await startApi({ config, engine, databaseUrl, logger });
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
}

if (require.main === module) {
    main().catch((e: Error) => {
        process.stderr.write(`dbaas API failed to start: ${e.message}\n`);
        process.exit(1);
    });
}
