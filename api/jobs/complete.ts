/**
 * The end of an operation, in one transaction: the operation's status, the
 * database's state (only when this operation is still the database's current
 * one — a delete may have superseded a create), its activity (ready,
 * restarted, deleted or failed; a failure also notifies the project's
 * contacts; a patch's is written by its rollout), the audit entry and the final `end` event that closes SSE streams.
 */
import type { DatabaseOutputs } from "../engine/types";
import { transition, type DatabaseAction } from "../domain/stateMachine";
import { CHANNEL_EVENTS, finishOperation, insertEvent } from "../store/queue";
import type { AdminStore, OperationRow } from "../store/store";
import type { DatabaseState, Endpoint } from "../../contracts/api";
import type { ActivityKind } from "../../contracts/activities";
import { recordActivity, type ActivityDatabase } from "../domain/activityLog";
import type { Queryable } from "../store/rows";

export type FinalStatus = "succeeded" | "failed" | "cancelled";

const ACTION: Record<FinalStatus, DatabaseAction> = { succeeded: "succeed", failed: "fail", cancelled: "cancel" };

/** Non-secret connection details of a created database (the password stays in the engine's stack). */
export function endpointOf(outputs: DatabaseOutputs): Endpoint {
    return { host: outputs.host, port: outputs.port, database: outputs.database, user: outputs.user };
}

/**
 * Applies the end of `op`. `workerId` null means recovery (lease expired).
 * Returns false when the operation was no longer ours to finish.
 */
export async function completeOperation(
    store: AdminStore,
    op: Pick<OperationRow, "id" | "database_id" | "kind" | "request_id" | "attempts">,
    workerId: string | null,
    status: FinalStatus,
    reason: string | null,
    outputs?: DatabaseOutputs,
): Promise<boolean> {
    const done = await store.tx(async (c) => {
        if (!(await finishOperation(c, op.id, workerId, status, reason))) return false;
        const db = await store.databaseById(op.database_id, c, true);
        let state: DatabaseState | undefined = db?.state;
        if (db !== undefined && db.current_operation_id === op.id) {
            // A cancelled delete is not a thing (deletes are not cancellable); treat it as a failure.
            const action = status === "cancelled" && db.state === "deleting" ? "fail" : ACTION[status];
            const t = transition(db.state, action);
            if (t.ok) {
                state = t.next;
                await store.updateDatabase(c, db.id, {
                    state: t.next,
                    failureReason: status === "succeeded" ? null : reason,
                    ...(outputs === undefined ? {} : { endpoint: endpointOf(outputs) }),
                    ...(t.next === "deleted" ? { endpoint: null, deleted: true } : {}),
                });
                await recordOutcome(c, db, op, t.next, status, reason);
            }
        }
        await store.appendAudit(c, {
            actor: "system",
            action: `operation.${op.kind}`,
            database: db?.name ?? null,
            operationId: op.id,
            outcome: status,
            requestId: op.request_id,
            detail: { attempts: op.attempts, ...(reason === null ? {} : { reason }), ...(state === undefined ? {} : { state }) },
        });
        await insertEvent(c, op.id, "end", { status, ...(state === undefined ? {} : { state }), ...(reason === null ? {} : { reason }), at: new Date().toISOString() });
        return true;
    });
    // After the commit (see notifyAll): SSE watchers read the `end` event and close.
    if (done) store.announce([[CHANNEL_EVENTS, String(op.id)]]);
    return done;
}

/** The activity a finished operation means for its database (the state it reached after `kind`). */
export function outcomeActivity(kind: OperationRow["kind"], next: DatabaseState): ActivityKind | undefined {
    // A patch's outcome (patched or failed, and the contacts' patch notification) is the rollout's
    // to record, with the step's images and output (api/rollouts/driver.ts).
    if (kind === "patch") return undefined;
    if (next === "failed") return "failed";
    if (next === "deleted") return "deleted";
    if (next === "ready") return kind === "restart" ? "restarted" : "ready";
    return undefined;
}

async function recordOutcome(c: Queryable, db: ActivityDatabase, op: Pick<OperationRow, "id" | "kind" | "attempts">, next: DatabaseState, status: FinalStatus, reason: string | null): Promise<void> {
    const kind = outcomeActivity(op.kind, next);
    if (kind === undefined) return;
    const detail = { operation: op.kind, attempts: op.attempts, ...(reason === null ? {} : { reason }) };
    // A cancel is someone's decision, not a failure to tell the contacts about.
    const notify = kind === "failed" && status === "failed" ? { kind: "failure" as const, summary: `${db.name}: ${op.kind} failed${reason === null ? "" : `: ${reason}`}` } : undefined;
    await recordActivity(c, db, { kind, actor: "system", operationId: op.id, detail }, notify);
}
