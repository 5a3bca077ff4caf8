/**
 * Decisions of the job runner, as pure functions: how long to wait before a
 * retry, what an engine error means for the operation, and what of an engine
 * event is stored and shown. No I/O.
 */
import { truncate } from "../engine/errors";
import { EngineError, OperationAbortedError, ProgramError, isTransientEngineError, type EngineEvent } from "../engine/types";

/** Exponential backoff with "equal jitter": half fixed, half random, capped. `attempt` counts from 1. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: number = Math.random()): number {
    const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
    return Math.round(exp / 2 + (exp / 2) * Math.min(1, Math.max(0, random)));
}

/** Why an AbortSignal fired, set by the runner as `signal.reason`. */
export type AbortCause =
    | { readonly kind: "cancel"; readonly reason: string }
    | { readonly kind: "timeout"; readonly afterMs: number }
    | { readonly kind: "shutdown" }
    | { readonly kind: "lease-lost" };

export type Outcome =
    | { readonly kind: "retry"; readonly delayMs: number; readonly reason: string }
    | { readonly kind: "failed"; readonly reason: string }
    | { readonly kind: "cancelled"; readonly reason: string }
    /** Shutdown: back to the queue without spending an attempt. */
    | { readonly kind: "hand-back" }
    /** Another worker owns the operation now: write nothing. */
    | { readonly kind: "abandon" };

/** What to do with an operation whose engine call threw `error` on attempt `attempt` of `maxAttempts`. */
export function decideOutcome(error: unknown, abort: AbortCause | undefined, attempt: number, maxAttempts: number, retry: { baseMs: number; maxMs: number; random?: number }): Outcome {
    if (abort !== undefined) {
        switch (abort.kind) {
            case "cancel":
                return { kind: "cancelled", reason: abort.reason };
            case "timeout":
                return { kind: "failed", reason: `timed out after ${Math.round(abort.afterMs / 1000)} s` };
            case "shutdown":
                return { kind: "hand-back" };
            case "lease-lost":
                return { kind: "abandon" };
        }
    }
    const reason = publicReason(error);
    if (isTransientEngineError(error)) {
        if (attempt < maxAttempts) return { kind: "retry", delayMs: backoffMs(attempt, retry.baseMs, retry.maxMs, retry.random), reason };
        return { kind: "failed", reason: `${reason} (gave up after ${attempt} attempts)` };
    }
    return { kind: "failed", reason };
}

/** The text users may see about a failure: ProgramError's reason, a class-level summary otherwise. */
export function publicReason(error: unknown): string {
    if (error instanceof ProgramError) return truncate(error.reason, 300);
    if (error instanceof OperationAbortedError) return "the operation was aborted";
    if (error instanceof EngineError) {
        switch (error.name) {
            case "ConcurrentUpdateError":
                return "the stack is locked by another update";
            case "EngineUnavailableError":
                // Our own reasons (what is missing and its fix), or a redacted CLI line (engine/errors.ts).
                return truncate(`the provisioning engine is unavailable: ${error.message}`, 300);
            case "StackNotFoundError":
                return "the database's stack does not exist";
            default:
                return "the provisioning engine failed";
        }
    }
    // Unknown errors may carry CLI output or secrets: they stay in the server log.
    return "the provisioning engine failed (details are in the server log)";
}

const EVENT_KINDS = new Set<EngineEvent["kind"]>(["resource-start", "resource-done", "resource-failed", "diagnostic", "summary"]);
const SEVERITIES = new Set(["debug", "info", "warning", "error"]);

/** The stored form of an engine event: known fields only, bounded sizes. Undefined for junk. */
export function sanitizeEvent(e: EngineEvent): { kind: string; data: Record<string, unknown> } | undefined {
    if (!EVENT_KINDS.has(e.kind)) return undefined;
    const data: Record<string, unknown> = {};
    for (const key of ["urn", "type", "name", "op"] as const) {
        const v = e[key];
        if (typeof v === "string" && v !== "") data[key] = truncate(v, 300);
    }
    if (typeof e.message === "string" && e.message !== "") data.message = truncate(e.message, 500);
    if (e.severity !== undefined && SEVERITIES.has(e.severity)) data.severity = e.severity;
    data.at = typeof e.at === "string" && !Number.isNaN(Date.parse(e.at)) ? e.at : new Date().toISOString();
    return { kind: e.kind, data };
}
