/**
 * Advances running rollouts, one database at a time. It keeps no state of its
 * own: every tick reads each running rollout's first unfinished step, in a
 * transaction holding the rollout's row lock (SKIP LOCKED: another replica
 * advancing it is passed over), and moves it on:
 *
 * - pending: the database is locked and checked. Busy with another operation
 *   (creating, restarting): the step waits for it. Deleted or being deleted,
 *   failed before its turn, or no longer patchable to the rollout's image:
 *   skipped with the reason. Otherwise its stored spec gets the new image and
 *   a `patch` operation is queued (ready → restarting), in the same
 *   transaction as the step becoming `running` with that operation's id.
 * - running: its operation is still queued or running → wait. Succeeded → the
 *   step succeeded, the next one starts. Failed or cancelled → the step
 *   failed and the rollout stops (stopped_on_failure) until resumed.
 *
 * A patch operation is an ordinary operation, so the job runner's lease,
 * retries and recovery carry it through an API restart; a step becomes
 * running in the transaction that queues its operation, and ends in the one
 * that records its outcome, so a restart neither loses nor doubles a step.
 * The step's end writes the `patched` (or `failed`) activity, the project's
 * contacts' patch notification and the rollout.step audit entry together.
 */
import { coalesced } from "../coalesce";
import { recordPatchOutcome } from "../domain/activityLog";
import { transition } from "../domain/stateMachine";
import { insertEvent, insertOperation, JOBS_WAKEUP, CHANNEL_EVENTS, operationById, type Notification } from "../store/queue";
import type { Queryable } from "../store/rows";
import type { AdminStore, DatabaseRow } from "../store/store";
import { decidePatch, outputExcerpt } from "./patchDecision";
import { endStep, lockRollout, operationOutput, runningRolloutIds, setRolloutState, startStep, stepsOf, type RolloutRow, type StepRow } from "./rows";

/** What a step keeps of its patch's output (characters). */
export const EXCERPT_LIMIT = 2000;

/** The log lines the driver writes (pino's signature, object first). */
export interface RolloutLog {
    info(obj: object, msg: string): void;
    warn(obj: object, msg: string): void;
    error(obj: object, msg: string): void;
}

export interface RolloutDriverOptions {
    readonly store: AdminStore;
    readonly log: RolloutLog;
    /** How often running rollouts are looked at (the job runner's poll interval). */
    readonly pollMs: number;
    /** Told when a step ends (the metrics hook); must not throw. */
    readonly onStepEnd?: (state: "succeeded" | "failed" | "skipped") => void;
    /** Told when a rollout stops or finishes. */
    readonly onRolloutEnd?: (state: "succeeded" | "stopped_on_failure") => void;
}

/** Secrets the API knows of a database that could show up in its output: the signature of a signed backup URL. */
export function knownSecrets(db: Pick<DatabaseRow, "spec">): string[] {
    const location = db.spec.backup_location;
    if (location === undefined) return [];
    try {
        const u = new URL(location);
        return [u.search.slice(1), ...[...u.searchParams.values()]].filter((s) => s.length >= 8);
    } catch {
        return [];
    }
}

export class RolloutDriver {
    #timer: NodeJS.Timeout | undefined;
    #stopping = false;
    readonly #ticks = coalesced(async () => {
        if (this.#stopping) return;
        await this.tick().catch((e: Error) => this.o.log.error({ err: e.message }, "advancing rollouts failed"));
    });

    constructor(private readonly o: RolloutDriverOptions) {}

    start(): void {
        this.#timer = setInterval(() => this.kick(), this.o.pollMs);
        this.kick();
    }

    /** Looks at the running rollouts soon (one pass at a time). */
    kick(): void {
        if (!this.#stopping) this.#ticks();
    }

    async stop(): Promise<void> {
        this.#stopping = true;
        if (this.#timer) clearInterval(this.#timer);
        await this.#ticks.idle();
    }

    /** One pass over every running rollout. */
    async tick(): Promise<void> {
        for (const id of await runningRolloutIds(this.o.store.pool)) {
            if (this.#stopping) return;
            const notes: Notification[] = [];
            await this.o.store.tx(async (c) => {
                const r = await lockRollout(c, id, true);
                if (r === undefined || r.state !== "running") return;
                await this.#advance(c, r, notes);
            });
            this.o.store.announce(notes);
        }
    }

    /** Moves `r` on as far as it can go now (several steps when some are skipped or already done). */
    async #advance(c: Queryable, r: RolloutRow, notes: Notification[]): Promise<void> {
        for (const step of await stepsOf(c, r.id)) {
            if (step.state === "succeeded" || step.state === "skipped") continue;
            if (step.state === "failed") return this.#stop(c, r, step);
            if (step.state === "running") {
                const done = await this.#finishRunning(c, r, step);
                if (done === "wait") return;
                if (done === "failed") return this.#stop(c, r, step);
                continue;
            }
            const begun = await this.#begin(c, r, step, notes);
            if (begun === "wait" || begun === "started") return;
        }
        await setRolloutState(c, r.id, "succeeded");
        await this.o.store.appendAudit(c, { actor: "system", action: "rollout.finish", database: null, outcome: "succeeded", requestId: r.request_id, detail: { rollout: r.id, label: r.label, to_image: r.to_image } });
        this.o.onRolloutEnd?.("succeeded");
        this.o.log.info({ rollout: r.id, label: r.label }, "rollout succeeded");
    }

    async #stop(c: Queryable, r: RolloutRow, step: StepRow): Promise<void> {
        await setRolloutState(c, r.id, "stopped_on_failure");
        await this.o.store.appendAudit(c, { actor: "system", action: "rollout.finish", database: step.database_name, operationId: step.operation_id, outcome: "stopped_on_failure", requestId: r.request_id, detail: { rollout: r.id, label: r.label, failed_step: step.position } });
        this.o.onRolloutEnd?.("stopped_on_failure");
        this.o.log.warn({ rollout: r.id, label: r.label, database: step.database_name }, "rollout stopped on a failure");
    }

    async #skip(c: Queryable, r: RolloutRow, step: StepRow, reason: string): Promise<void> {
        await endStep(c, step.id, { state: "skipped", reason, outputExcerpt: null });
        await this.o.store.appendAudit(c, { actor: "system", action: "rollout.step", database: step.database_name, outcome: "skipped", requestId: r.request_id, detail: { rollout: r.id, position: step.position, reason } });
        this.o.onStepEnd?.("skipped");
    }

    /** A pending step: start its patch, skip it, or wait while its database is busy. */
    async #begin(c: Queryable, r: RolloutRow, step: StepRow, notes: Notification[]): Promise<"started" | "skipped" | "wait"> {
        const db = await this.o.store.databaseById(step.database_id, c, true);
        if (db === undefined || db.state === "deleted" || db.state === "deleting") {
            await this.#skip(c, r, step, "the database was deleted before its turn");
            return "skipped";
        }
        // Another operation (a create or restart) is in flight: the step waits for it; operations end (they time out).
        if (db.state === "creating" || db.state === "restarting") return "wait";
        // A failure the rollout did not cause is not the rollout's to repair; a resumed step's database failed in its own patch.
        if (db.state === "failed" && step.attempts === 0) {
            await this.#skip(c, r, step, "the database was failed before its turn (retry or delete it; a later rollout patches it)");
            return "skipped";
        }
        const decision = decidePatch(db.spec.image, r.to_image);
        // A resumed step's database already has the new image in its spec (its patch failed): run that patch again.
        const patchType = decision.ok ? decision.type : step.attempts > 0 && db.spec.image === r.to_image ? (step.patch_type ?? "database") : undefined;
        if (patchType === undefined) {
            await this.#skip(c, r, step, decision.ok ? "not patchable" : `${decision.refusal}: ${decision.reason}`);
            return "skipped";
        }
        const t = transition(db.state, "patch");
        if (!t.ok) return "wait";
        const previousImage = step.attempts > 0 ? step.previous_image : db.spec.image;
        const op = await insertOperation(c, { databaseId: db.id, kind: "patch", requestedBy: `rollout:${r.id}`, requestId: r.request_id });
        await this.o.store.updateDatabase(c, db.id, { state: t.next, currentOperationId: op.id, runtime: null, spec: { ...db.spec, image: r.to_image } });
        await insertEvent(c, op.id, "status", { message: `patch ${previousImage} → ${r.to_image} (${patchType}) queued by rollout ${r.id}`, at: new Date().toISOString() });
        await startStep(c, step.id, { operationId: op.id, previousImage, patchType });
        await this.o.store.appendAudit(c, { actor: "system", action: "rollout.step", database: db.name, operationId: op.id, outcome: "started", requestId: r.request_id, detail: { rollout: r.id, position: step.position, previous_image: previousImage, new_image: r.to_image, patch_type: patchType } });
        notes.push(JOBS_WAKEUP, [CHANNEL_EVENTS, String(op.id)]);
        this.o.log.info({ rollout: r.id, database: db.name, operation: op.id }, "rollout step started");
        return "started";
    }

    /** A running step: wait for its operation, or record how it ended. */
    async #finishRunning(c: Queryable, r: RolloutRow, step: StepRow): Promise<"wait" | "succeeded" | "failed"> {
        const op = step.operation_id === null ? undefined : await operationById(c, step.operation_id);
        if (op !== undefined && (op.status === "queued" || op.status === "running")) return "wait";
        const db = await this.o.store.databaseById(step.database_id, c, true);
        if (op?.status !== "succeeded" && (db === undefined || db.state === "deleting" || db.state === "deleted")) {
            // Its owner deleted it during the patch (a delete supersedes the operation): not the patch's failure.
            await this.#skip(c, r, step, "the database was deleted during its patch");
            return "succeeded";
        }
        const outcome = op?.status === "succeeded" ? "succeeded" : "failed";
        const reason = outcome === "succeeded" ? null : op === undefined ? "the step's operation is missing" : `${op.kind} ${op.status}${op.error === null ? "" : `: ${op.error}`}`;
        const output = op === undefined ? "" : await operationOutput(c, op.id);
        const excerpt = outputExcerpt(output, db === undefined ? [] : knownSecrets(db), EXCERPT_LIMIT);
        await endStep(c, step.id, { state: outcome, reason, outputExcerpt: excerpt });
        if (db !== undefined && step.patch_type !== null) {
            await recordPatchOutcome(c, db, {
                outcome, previousImage: step.previous_image, newImage: step.new_image, patchType: step.patch_type, outputExcerpt: excerpt,
                rolloutId: r.id, operationId: step.operation_id,
            }, `rollout:${r.id}`);
        }
        await this.o.store.appendAudit(c, { actor: "system", action: "rollout.step", database: step.database_name, operationId: step.operation_id, outcome, requestId: r.request_id, detail: { rollout: r.id, position: step.position, previous_image: step.previous_image, new_image: step.new_image, patch_type: step.patch_type, ...(reason === null ? {} : { reason }) } });
        this.o.onStepEnd?.(outcome);
        return outcome;
    }
}
