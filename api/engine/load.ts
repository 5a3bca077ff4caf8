/**
 * Chooses the engine `npm start` runs with: the Automation API engine
 * (./automation.ts) with settings from the environment (./workspace.ts). When
 * those settings are incomplete (no passphrase file or KMS key) the API still
 * starts, with an engine that reports itself not ready, so /readyz says why
 * and operations fail with that reason instead of the process refusing to run.
 */
import type { FastifyBaseLogger } from "fastify";
import { catalogImages } from "../../contracts/catalog";
import type { ApiConfig } from "../config";
import { EngineUnavailableError, type StackEngine } from "./types";
import { withTargetReadiness } from "./targetReadiness";
import { EngineSettingsError, engineSettingsFromEnv, ondemandPolicyConfig } from "./workspace";

/** An engine that can do nothing and says why (readiness and every operation). */
export function unavailableEngine(reason: string): StackEngine {
    const fail = () => Promise.reject(new EngineUnavailableError(reason));
    return {
        up: fail,
        destroy: fail,
        outputs: fail,
        restart: fail,
        cancel: () => Promise.resolve(),
        readiness: () => Promise.resolve({ ok: false, reasons: [reason] }),
    };
}

/**
 * `config` is the API's own (already loaded): the policy pack checks images
 * against the catalog requests were validated with, and DBAAS_OPERATION_TIMEOUT_SECONDS
 * is read there only. The engine's readiness
 * includes the target's (Docker engine answering, Kubernetes credentials).
 */
export async function loadEngine(env: Readonly<Record<string, string | undefined>>, config: Pick<ApiConfig, "catalog" | "target" | "operationTimeoutMs">, log: FastifyBaseLogger): Promise<StackEngine> {
    return withTargetReadiness(await loadAutomationEngine(env, config, log), config.target, env);
}

async function loadAutomationEngine(env: Readonly<Record<string, string | undefined>>, config: Pick<ApiConfig, "catalog" | "target" | "operationTimeoutMs">, log: FastifyBaseLogger): Promise<StackEngine> {
    try {
        const { catalog, target } = config;
        const policyConfig = ondemandPolicyConfig(catalogImages(catalog), target.kind === "kubernetes" ? target.namespace_prefix : undefined);
        const settings = { ...engineSettingsFromEnv(env), outputsTimeoutMs: config.operationTimeoutMs, policyConfig };
        // Loaded on demand: @pulumi/pulumi/automation is heavy, and tests that inject an engine never need it.
        const { AutomationEngine } = await import("./automation");
        return new AutomationEngine({ settings, logger: log });
    } catch (e) {
        if (!(e instanceof EngineSettingsError)) throw e;
        log.warn({ reason: e.message }, "engine not configured; the API runs but cannot provision databases");
        return unavailableEngine(e.message);
    }
}
