/**
 * Chooses the engine `npm start` runs with. The Automation API engine lives
 * in ./automation.ts (issue 10) and exports
 * `createAutomationEngine(config: ApiConfig, log): StackEngine | Promise<StackEngine>`;
 * until it exists the API starts with an engine that reports itself not
 * ready, so /readyz says why and operations fail with a clear reason.
 */
import type { FastifyBaseLogger } from "fastify";
import type { ApiConfig } from "../config";
import { EngineUnavailableError, type StackEngine } from "./types";

type AutomationModule = { createAutomationEngine?: (config: ApiConfig, log: FastifyBaseLogger) => StackEngine | Promise<StackEngine> };

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

export async function loadEngine(config: ApiConfig, log: FastifyBaseLogger): Promise<StackEngine> {
    // A variable specifier keeps the type checker from requiring a module that may not exist yet.
    const specifier = "./automation";
    let mod: AutomationModule;
    try {
        mod = (await import(specifier)) as AutomationModule;
    } catch (e) {
        const code = (e as { code?: string }).code;
        if (code !== "MODULE_NOT_FOUND" && code !== "ERR_MODULE_NOT_FOUND") throw e;
        const reason = "the Automation API engine (infra/api/engine/automation.ts) is not installed";
        log.warn(reason);
        return unavailableEngine(reason);
    }
    if (typeof mod.createAutomationEngine !== "function") return unavailableEngine("infra/api/engine/automation.ts does not export createAutomationEngine");
    return mod.createAutomationEngine(config, log);
}
