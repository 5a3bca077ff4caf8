/**
 * What the job runner asks of the engine when it takes over an operation
 * whose worker died (expired lease, runner.ts `recover`): clear the dead
 * process's stack lock (`pulumi cancel`) and the creates it left pending
 * (`pulumi refresh --clear-pending-creates`), so the operation's re-run
 * starts from the real resources. The re-run itself is an ordinary claim of
 * the requeued operation (every engine operation is idempotent). No Pulumi
 * imports.
 */
import { StackNotFoundError, type OperationOptions, type StackEngine } from "./types";

/** An engine that can also refresh a stack (the Automation API engine can; test doubles may not). */
export interface RefreshingEngine extends StackEngine {
    refresh(name: string, options: OperationOptions & { readonly clearPendingCreates: boolean }): Promise<void>;
}

export function canRefresh(engine: StackEngine): engine is RefreshingEngine {
    return typeof (engine as Partial<RefreshingEngine>).refresh === "function";
}

/**
 * Cancels the stale update of stack `name` and, given `refresh` options and
 * an engine that can, refreshes it with pending creates cleared. A create
 * that died before `stack init` left no stack: nothing to refresh. Throws the
 * engine's error otherwise (the caller logs it; the re-run reports it).
 */
export async function clearStaleUpdate(engine: StackEngine, name: string, refresh?: OperationOptions): Promise<void> {
    await engine.cancel(name);
    if (refresh === undefined || !canRefresh(engine)) return;
    try {
        await engine.refresh(name, { ...refresh, clearPendingCreates: true });
    } catch (e) {
        if (!(e instanceof StackNotFoundError)) throw e;
    }
}
