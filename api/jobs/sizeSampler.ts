/**
 * Samples the size of every ready database on a schedule into
 * `database_size_samples` (a time series GET /reports and /metrics read), and
 * deletes samples older than the retention.
 *
 * It never blocks an operation: it is not a queued operation, takes no row
 * lock, and asks the engine's optional `size(name)`, which reads the database
 * without touching its stack. Only databases in state `ready` are sampled; a
 * database that left `ready` while its size was read gets no sample (the
 * insert checks the state again). With several replicas, a database sampled
 * within the last half interval is skipped, so replicas do not double the
 * series. An engine without `size` samples nothing: sizes stay unknown.
 */
import type { FastifyBaseLogger } from "fastify";
import { coalesced } from "../coalesce";
import { truncate } from "../engine/errors";
import type { DatabaseSize, StackEngine } from "../engine/types";
import type { AdminStore } from "../store/store";

export interface SizeSamplerOptions {
    readonly store: AdminStore;
    readonly engine: StackEngine;
    readonly log: FastifyBaseLogger;
    /** Time between rounds (DBAAS_SIZE_SAMPLE_INTERVAL_SECONDS). */
    readonly intervalMs: number;
    /** Samples older than this are deleted (DBAAS_SIZE_RETENTION_DAYS). */
    readonly retentionMs: number;
    /** How long one database's size may take before it is skipped this round (default 30 s). */
    readonly sizeTimeoutMs?: number;
}

/** What one round did. */
export interface SampleRound {
    readonly sampled: number;
    /** Ready databases whose size the engine could not tell (or that left `ready` meanwhile). */
    readonly skipped: number;
    readonly failed: number;
    /** Samples deleted by the retention. */
    readonly pruned: number;
}

export class SizeSampler {
    #timer: NodeJS.Timeout | undefined;
    readonly #stop = new AbortController();
    #last: SampleRound | undefined;
    readonly #round = coalesced(async () => {
        try {
            this.#last = await this.sampleOnce();
        } catch (e) {
            this.#last = undefined;
            this.o.log.warn({ err: truncate((e as Error).message, 500) }, "sampling database sizes failed");
        }
    });

    constructor(private readonly o: SizeSamplerOptions) {}

    /** First round after one interval, then every interval; a round still running is not doubled. */
    start(): void {
        this.#timer = setInterval(() => this.#round(), this.o.intervalMs);
        this.#timer.unref();
    }

    async stop(): Promise<void> {
        if (this.#timer) clearInterval(this.#timer);
        this.#stop.abort();
        await this.#round.idle();
    }

    /** One round now (the timer's work; tests call it directly); undefined when the round failed (logged). */
    async tick(): Promise<SampleRound | undefined> {
        this.#round();
        await this.#round.idle();
        return this.#last;
    }

    /** Samples every ready database not sampled in the last half interval, then applies the retention. */
    async sampleOnce(): Promise<SampleRound> {
        let sampled = 0;
        let skipped = 0;
        let failed = 0;
        const engine = this.o.engine;
        if (engine.size !== undefined) {
            const due = await this.o.store.pool.query<{ id: number; name: string }>(
                `SELECT d.id, d.name FROM databases d WHERE d.state = 'ready'
                 AND NOT EXISTS (SELECT 1 FROM database_size_samples s WHERE s.database_id = d.id AND s.at > now() - make_interval(secs => $1))
                 ORDER BY d.id`, [this.o.intervalMs / 2000]);
            for (const db of due.rows) {
                if (this.#stop.signal.aborted) break;
                let size: DatabaseSize;
                try {
                    size = await engine.size(db.name, AbortSignal.any([this.#stop.signal, AbortSignal.timeout(this.o.sizeTimeoutMs ?? 30_000)]));
                } catch (e) {
                    failed++;
                    this.o.log.warn({ database: db.name, err: truncate(e instanceof Error ? e.message : "unknown error", 300) }, "reading a database size failed; skipped this round");
                    continue;
                }
                if (size.databaseBytes === null && size.volumeBytes === null) {
                    skipped++;
                    continue;
                }
                const r = await this.o.store.pool.query(
                    `INSERT INTO database_size_samples (database_id, database_bytes, volume_bytes)
                     SELECT id, $2, $3 FROM databases WHERE id = $1 AND state = 'ready'`,
                    [db.id, wholeBytes(size.databaseBytes), wholeBytes(size.volumeBytes)]);
                if (r.rowCount === 1) sampled++;
                else skipped++;
            }
        }
        return { sampled, skipped, failed, pruned: await this.prune() };
    }

    /** Deletes samples older than the retention; an audit entry records how many. */
    async prune(): Promise<number> {
        return this.o.store.tx(async (c) => {
            const r = await c.query(`DELETE FROM database_size_samples WHERE at < now() - make_interval(secs => $1)`, [this.o.retentionMs / 1000]);
            const n = r.rowCount ?? 0;
            if (n > 0) {
                await this.o.store.appendAudit(c, { actor: "system", action: "samples.prune", outcome: "succeeded", detail: { deleted: n, retention_days: this.o.retentionMs / 86_400_000 } });
            }
            return n;
        });
    }
}

/** A byte count as stored: a non-negative whole number, or null. */
function wholeBytes(n: number | null): number | null {
    return n === null || !Number.isFinite(n) || n < 0 ? null : Math.round(n);
}
