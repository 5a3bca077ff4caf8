/**
 * The job runner: claims operations from the admin database (see
 * store/queue.ts for why it is a SKIP LOCKED queue), runs them on the engine
 * with an AbortSignal (cancel, timeout, shutdown), stores their progress
 * events in order, retries transient engine errors with backoff, and recovers
 * operations whose worker died (expired lease): the engine's stale lock is
 * cancelled, then the operation is resumed, or marked failed when its attempts
 * are used up. Its own writes after an engine call (the outcome, a requeue)
 * and the progress events are retried while the admin database is unreachable
 * (store/connectionLoss.ts): a restart of that database during an `up` must not
 * lose what the engine did.
 */
import { randomUUID } from "node:crypto";
import type { FastifyBaseLogger } from "fastify";
import { coalesced } from "../coalesce";
import { truncate } from "../engine/errors";
import { clearStaleUpdate } from "../engine/recovery";
import { type DatabaseOutputs, type EngineEvent, type StackEngine } from "../engine/types";
import type { DatabaseSpec } from "../../contracts/database";
import { retryOnConnectionLoss } from "../store/connectionLoss";
import type { NotificationHub } from "../store/notifications";
import { CHANNEL_EVENTS, claimOperation, expiredLeases, insertEvent, insertEvents, renewLease, requeueOperation, type ClaimedOperation } from "../store/queue";
import type { AdminStore } from "../store/store";
import type { OperationOutcome } from "../metrics";
import { completeOperation } from "./complete";
import { decideOutcome, sanitizeEvent, type AbortCause } from "./retryPolicy";

export interface JobRunnerOptions {
    readonly store: AdminStore;
    readonly engine: StackEngine;
    readonly hub?: NotificationHub;
    readonly log: FastifyBaseLogger;
    /** Global cap on running operations (all replicas). */
    readonly maxConcurrent: number;
    readonly leaseMs: number;
    readonly pollMs: number;
    readonly operationTimeoutMs: number;
    readonly maxAttempts: number;
    readonly retryBaseMs: number;
    readonly retryMaxMs: number;
    /** How long an engine may take to stop after its signal fired before the runner moves on. */
    readonly abortGraceMs?: number;
    /** Told when an attempt ends (the metrics hook, api/metrics.ts); must not throw. */
    readonly onOperationEnd?: (kind: string, outcome: OperationOutcome, seconds: number) => void;
    /**
     * The spec each `up` attempt runs with (default: the stored one). The
     * backups give a database restored from a stored backup a fresh signed
     * backup_location here; a ProgramError fails the operation with its reason.
     */
    readonly specForUp?: (spec: DatabaseSpec) => Promise<DatabaseSpec>;
    /** How long a write of the runner is retried while the admin database is unreachable. Default: 120 000. */
    readonly storeRetryMs?: number;
}

interface Running {
    readonly op: ClaimedOperation;
    readonly controller: AbortController;
    cause?: AbortCause;
    done: Promise<void>;
}

export class JobRunner {
    readonly workerId = `worker-${randomUUID()}`;
    readonly #running = new Map<number, Running>();
    #stopping = false;
    readonly #claims = coalesced(async () => {
        if (this.#stopping) return;
        await this.#claimLoop().catch((e: Error) => this.o.log.error({ err: e.message }, "claiming operations failed"));
    });
    #poll: NodeJS.Timeout | undefined;
    #recoverTimer: NodeJS.Timeout | undefined;
    readonly #onJob = () => this.kick();
    readonly #onCancel = (opId: number) => this.#checkCancel(opId);

    constructor(private readonly o: JobRunnerOptions) {}

    /** Recovers orphaned operations, then starts claiming. */
    async start(): Promise<void> {
        await this.recover();
        this.o.hub?.on("job", this.#onJob);
        this.o.hub?.on("cancel", this.#onCancel);
        this.#poll = setInterval(() => this.kick(), this.o.pollMs);
        this.#recoverTimer = setInterval(() => {
            this.recover().catch((e: Error) => this.o.log.error({ err: e.message }, "job recovery failed"));
        }, Math.max(500, this.o.leaseMs));
        this.kick();
    }

    get runningCount(): number {
        return this.#running.size;
    }

    /** Claims as many operations as the cap allows. Safe to call any time (one claim loop runs at a time). */
    kick(): void {
        if (this.#stopping) return;
        this.#claims();
    }

    async #claimLoop(): Promise<void> {
        while (!this.#stopping && this.#running.size < this.o.maxConcurrent) {
            const op = await claimOperation(this.o.store.pool, this.workerId, this.o.maxConcurrent, this.o.leaseMs);
            if (op === undefined) return;
            this.#launch(op);
        }
    }

    #launch(op: ClaimedOperation): void {
        const entry: Running = { op, controller: new AbortController(), done: Promise.resolve() };
        this.#running.set(op.id, entry);
        // A claim that was in flight when stop() began: hand it straight back.
        if (this.#stopping) this.#abort(entry, { kind: "shutdown" });
        entry.done = this.#run(entry)
            .catch((e: Error) => this.o.log.error({ operation: op.id, err: truncate(e.message, 500) }, "operation bookkeeping failed"))
            .finally(() => {
                this.#running.delete(op.id);
                this.kick();
            });
    }

    #abort(entry: Running, cause: AbortCause): void {
        if (entry.cause !== undefined) return;
        entry.cause = cause;
        entry.controller.abort(cause);
    }

    #checkCancel(opId: number): void {
        const entry = this.#running.get(opId);
        if (entry === undefined) return;
        renewLease(this.o.store.progressPool, opId, this.workerId, this.o.leaseMs).then((lease) => {
            if (lease === undefined) this.#abort(entry, { kind: "lease-lost" });
            else if (lease.cancelRequested) this.#abort(entry, { kind: "cancel", reason: lease.cancelReason ?? "cancelled" });
        }).catch(() => undefined);
    }

    async #run(entry: Running): Promise<void> {
        const { op } = entry;
        const log = this.o.log.child({ operation: op.id, database: op.database_name, kind: op.kind, attempt: op.attempts });
        log.info("operation started");
        const startedAt = performance.now();
        const ended = (outcome: OperationOutcome) => this.o.onOperationEnd?.(op.kind, outcome, (performance.now() - startedAt) / 1000);
        // Events are written in order, batched: whatever arrived while the previous write ran goes in the next one.
        const events = new EventBuffer(async (batch) => {
            await this.#stored(log, "storing events", () => insertEvents(this.o.store.progressPool, op.id, batch));
            this.#announceEvents(op.id);
        }, (err) => log.warn({ err: err.message }, "storing events failed"));
        events.push("status", { message: `${op.kind} started (attempt ${op.attempts} of ${this.o.maxAttempts})`, attempt: op.attempts, at: new Date().toISOString() });
        const onEvent = (e: EngineEvent) => {
            const clean = sanitizeEvent(e);
            if (clean !== undefined) events.push(clean.kind, clean.data);
        };
        const timeout = setTimeout(() => this.#abort(entry, { kind: "timeout", afterMs: this.o.operationTimeoutMs }), this.o.operationTimeoutMs);
        const heartbeat = setInterval(() => this.#checkCancel(op.id), Math.max(100, this.o.leaseMs / 3));
        const options = { signal: entry.controller.signal, onEvent };
        let outputs: DatabaseOutputs | undefined;
        let error: unknown;
        try {
            const specForUp = this.o.specForUp;
            // A patch is an `up` of the stored spec, whose image the rollout changed (api/rollouts/): the container or pod is replaced, the volume kept.
            const work = op.kind === "create" || op.kind === "patch" ? (specForUp === undefined ? this.o.engine.up(op.spec, options) : specForUp(op.spec).then((spec) => this.o.engine.up(spec, options)))
                : op.kind === "restart" ? this.o.engine.restart(op.database_name, options)
                    : this.o.engine.destroy(op.database_name, options).then(() => undefined);
            outputs = (await this.#untilSettledOrAbandoned(work, entry)) ?? undefined;
        } catch (e) {
            error = e;
        } finally {
            clearTimeout(timeout);
            clearInterval(heartbeat);
        }
        await events.drain();
        if (error === undefined && entry.cause === undefined) {
            if (op.kind !== "delete" && outputs === undefined) error = new Error(`engine.${op.kind === "restart" ? "restart" : "up"} resolved without outputs`);
            else {
                await this.#stored(log, "storing the outcome", () => completeOperation(this.o.store, op, this.workerId, "succeeded", null, outputs));
                ended("succeeded");
                log.info("operation succeeded");
                return;
            }
        }
        // Engine errors may hold CLI output; it is logged truncated and never stored for users.
        if (error !== undefined) log.warn({ err: truncate(error instanceof Error ? `${error.name}: ${error.message}` : JSON.stringify(error) ?? "undefined", 2000) }, "engine call failed");
        const outcome = decideOutcome(error, entry.cause, op.attempts, this.o.maxAttempts, { baseMs: this.o.retryBaseMs, maxMs: this.o.retryMaxMs });
        switch (outcome.kind) {
            case "retry":
                await this.#stored(log, "requeueing for a retry", () => this.o.store.tx(async (c) => {
                    if (!(await requeueOperation(c, op.id, this.workerId, outcome.delayMs, false))) return;
                    await insertEvent(c, op.id, "status", { message: `${outcome.reason}; retrying in ${Math.round(outcome.delayMs / 1000)} s`, attempt: op.attempts, at: new Date().toISOString() });
                    await this.o.store.appendAudit(c, { actor: "system", action: `operation.${op.kind}`, database: op.database_name, operationId: op.id, outcome: "retrying", requestId: op.request_id, detail: { attempts: op.attempts, reason: outcome.reason } });
                }));
                this.#announceEvents(op.id);
                ended("retrying");
                setTimeout(() => this.kick(), outcome.delayMs + 10).unref();
                log.info({ delayMs: outcome.delayMs }, "transient failure, retry scheduled");
                return;
            case "hand-back":
                await this.#stored(log, "handing back", () => this.o.store.tx(async (c) => {
                    if (!(await requeueOperation(c, op.id, this.workerId, 0, true))) return;
                    await insertEvent(c, op.id, "status", { message: "the API is shutting down; the operation is handed back and resumes on the next start", at: new Date().toISOString() });
                }));
                this.#announceEvents(op.id);
                ended("handed_back");
                log.info("operation handed back at shutdown");
                return;
            case "abandon":
                ended("abandoned");
                log.warn("lease lost; another worker owns the operation");
                return;
            case "cancelled":
            case "failed":
                await this.#stored(log, "storing the outcome", () => completeOperation(this.o.store, op, this.workerId, outcome.kind, outcome.reason));
                ended(outcome.kind);
                log.info({ reason: outcome.reason }, `operation ${outcome.kind}`);
        }
    }

    /**
     * A write of `#run`, retried while the admin database is unreachable. Each is conditional on
     * this worker's lease (finishOperation, requeueOperation) or only adds progress, so a retry
     * after a commit whose answer was lost writes nothing twice; meanwhile the operation stays in
     * `#running`, so this process's recovery leaves it alone. At shutdown it gives up at once:
     * the expired lease makes the next start recover the operation.
     */
    #stored<T>(log: FastifyBaseLogger, what: string, write: () => Promise<T>): Promise<T> {
        return retryOnConnectionLoss(write, {
            forMs: this.o.storeRetryMs ?? 120_000,
            stop: () => this.#stopping,
            onRetry: (e, attempt) => log.warn({ err: truncate(e.message, 300), attempt }, `${what}: the admin database is unreachable; retrying`),
        });
    }

    /** Wakes SSE watchers of `opId` on every replica (after the events committed). */
    #announceEvents(opId: number): void {
        this.o.store.announce([[CHANNEL_EVENTS, String(opId)]]);
    }

    /** Waits for the engine; once aborted, waits at most `abortGraceMs` more for it to stop. */
    async #untilSettledOrAbandoned<T>(work: Promise<T>, entry: Running): Promise<T | undefined> {
        const grace = this.o.abortGraceMs ?? 30_000;
        let timer: NodeJS.Timeout | undefined;
        const abandoned = new Promise<undefined>((resolve) => {
            const arm = () => {
                timer = setTimeout(() => resolve(undefined), grace);
            };
            if (entry.controller.signal.aborted) arm();
            else entry.controller.signal.addEventListener("abort", arm, { once: true });
        });
        try {
            return await Promise.race([work, abandoned]);
        } finally {
            if (timer) clearTimeout(timer);
            work.catch(() => undefined);
        }
    }

    /** Operations whose worker stopped renewing its lease: cancel the stale stack update, then resume or fail. */
    async recover(): Promise<void> {
        for (const op of await expiredLeases(this.o.store.pool)) {
            if (this.#running.has(op.id)) continue;
            try {
                // A cancelled operation is not re-run, so its stack needs its lock cleared but no refresh.
                await clearStaleUpdate(this.o.engine, op.database_name, op.cancel_requested
                    ? undefined
                    : { signal: AbortSignal.timeout(this.o.operationTimeoutMs), onEvent: () => undefined });
            } catch (e) {
                this.o.log.warn({ operation: op.id, err: truncate(e instanceof Error ? e.message : "unknown error", 500) }, "clearing a stale stack update failed; the re-run will report it");
            }
            if (op.cancel_requested) {
                await completeOperation(this.o.store, op, null, "cancelled", op.cancel_reason ?? "cancelled");
            } else if (op.attempts >= this.o.maxAttempts) {
                await completeOperation(this.o.store, op, null, "failed", `the API process running it stopped during attempt ${op.attempts} of ${this.o.maxAttempts}; no attempts left`);
            } else {
                await this.o.store.tx(async (c) => {
                    if (!(await requeueOperation(c, op.id, null, 0, false))) return;
                    await insertEvent(c, op.id, "status", { message: `the API process running attempt ${op.attempts} stopped; resuming`, attempt: op.attempts, at: new Date().toISOString() });
                    await this.o.store.appendAudit(c, { actor: "system", action: `operation.${op.kind}`, database: op.database_name, operationId: op.id, outcome: "resumed", requestId: op.request_id, detail: { attempts: op.attempts, reason: "worker lost (lease expired)" } });
                });
            }
            this.#announceEvents(op.id);
            this.o.log.warn({ operation: op.id, database: op.database_name }, "recovered an operation whose worker stopped");
        }
        this.kick();
    }

    /**
     * Stops claiming, lets running operations finish for up to `graceMs`, then
     * aborts the rest and hands them back to the queue (resumed on next start
     * or by another replica).
     */
    async stop(graceMs: number): Promise<void> {
        this.#stopping = true;
        if (this.#poll) clearInterval(this.#poll);
        if (this.#recoverTimer) clearInterval(this.#recoverTimer);
        this.o.hub?.off("job", this.#onJob);
        this.o.hub?.off("cancel", this.#onCancel);
        const all = () => Promise.all([...this.#running.values()].map((r) => r.done));
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([all(), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
        if (timer) clearTimeout(timer);
        for (const entry of this.#running.values()) this.#abort(entry, { kind: "shutdown" });
        await all();
    }
}

type StoredEvent = { kind: string; data: Readonly<Record<string, unknown>> };

/** Writes events in arrival order, one batch at a time: what arrives during a write goes in the next. */
class EventBuffer {
    #pending: StoredEvent[] = [];
    readonly #flush = coalesced(async () => {
        const batch = this.#pending.splice(0);
        if (batch.length > 0) await this.write(batch).catch(this.onError);
    });

    constructor(private readonly write: (batch: StoredEvent[]) => Promise<void>, private readonly onError: (e: Error) => void) {}

    push(kind: string, data: Readonly<Record<string, unknown>>): void {
        this.#pending.push({ kind, data });
        this.#flush();
    }

    drain(): Promise<void> {
        return this.#flush.idle();
    }
}
