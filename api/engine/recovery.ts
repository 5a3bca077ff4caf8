/**
 * Startup recovery of an operation a dead process left running. The API
 * calls `recoverOperation` once per operation still marked running, before
 * its workers start: clear the stale lock (`pulumi cancel`), re-read the real
 * resources with pending creates cleared (`pulumi refresh
 * --clear-pending-creates`), then run the operation again (every engine
 * operation is idempotent) or report why it failed. No Pulumi imports.
 */
import type { DatabaseSpec } from "../../contracts/database";
import {
    EngineError,
    ProgramError,
    StackNotFoundError,
    type DatabaseOutputs,
    type OperationOptions,
    type StackEngine,
} from "./types";

/** An operation found running at startup. */
export type PendingOperation =
    | { readonly kind: "up"; readonly spec: DatabaseSpec }
    | { readonly kind: "destroy"; readonly name: string }
    | { readonly kind: "restart"; readonly name: string };

/** An engine that can also refresh a stack (the Automation API engine can; test doubles may not). */
export interface RefreshingEngine extends StackEngine {
    refresh(name: string, options: OperationOptions & { readonly clearPendingCreates: boolean }): Promise<void>;
}

export function canRefresh(engine: StackEngine): engine is RefreshingEngine {
    return typeof (engine as Partial<RefreshingEngine>).refresh === "function";
}

export type RecoveryResult =
    | { readonly status: "resumed"; readonly outputs?: DatabaseOutputs }
    | { readonly status: "failed"; readonly reason: string; readonly error: unknown; readonly transient: boolean };

/** The short, secret-free text for a database row (and the owner) after `error`. */
export function failureReason(error: unknown): string {
    if (error instanceof ProgramError) return error.reason;
    if (error instanceof EngineError) return error.message;
    return "internal error (details in the server log)";
}

function nameOf(op: PendingOperation): string {
    return op.kind === "up" ? op.spec.name : op.name;
}

/**
 * Cancels, refreshes and re-runs `op`. Never throws: a failure comes back as
 * `{ status: "failed", reason, transient }` so the caller can mark the
 * operation failed (or queue a retry when `transient`).
 */
export async function recoverOperation(engine: StackEngine, op: PendingOperation, options: OperationOptions): Promise<RecoveryResult> {
    const name = nameOf(op);
    try {
        await engine.cancel(name);
        if (canRefresh(engine)) {
            try {
                await engine.refresh(name, { ...options, clearPendingCreates: true });
            } catch (e) {
                // A create that died before `stack init` left no stack: nothing to refresh.
                if (!(e instanceof StackNotFoundError)) throw e;
            }
        }
        switch (op.kind) {
            case "up":
                return { status: "resumed", outputs: await engine.up(op.spec, options) };
            case "destroy":
                await engine.destroy(op.name, options);
                return { status: "resumed" };
            case "restart":
                await engine.restart(op.name, options);
                return { status: "resumed" };
        }
    } catch (e) {
        return { status: "failed", reason: failureReason(e), error: e, transient: e instanceof EngineError && e.transient };
    }
}
