/**
 * Natural batching: callers submit one item each; items that arrive while
 * earlier batches are running wait and then go to the database together, as
 * one statement and one commit. An idle server sends each item at once (a
 * batch of one after the current event-loop turn); a busy one sends fewer,
 * larger statements, which is when the saving matters. A batch that fails is
 * run again item by item, so one bad item cannot fail the others, and every
 * caller gets its own outcome.
 */
import { coalesced } from "../coalesce";

export interface BatcherOptions {
    /** Most items in one batch. */
    readonly maxBatch: number;
    /** Most batches running at once (each holds one pool connection). */
    readonly maxInFlight: number;
}

interface Waiting<I, O> {
    readonly item: I;
    readonly resolve: (o: O) => void;
    readonly reject: (e: unknown) => void;
}

export class Batcher<I, O> {
    readonly #queue: Waiting<I, O>[] = [];
    #inFlight = 0;
    // After the current turn, so items that arrive in the same turn share a statement.
    readonly #pumpSoon = coalesced(() => this.#pump(), { nextTurn: true });

    /** `run` answers one output per item, in the items' order. */
    constructor(private readonly run: (items: readonly I[]) => Promise<readonly O[]>, private readonly opts: BatcherOptions) {
        if (!Number.isInteger(opts.maxBatch) || opts.maxBatch < 1) throw new Error(`maxBatch must be a whole number ≥ 1, got ${opts.maxBatch}`);
        if (!Number.isInteger(opts.maxInFlight) || opts.maxInFlight < 1) throw new Error(`maxInFlight must be a whole number ≥ 1, got ${opts.maxInFlight}`);
    }

    submit(item: I): Promise<O> {
        return new Promise<O>((resolve, reject) => {
            this.#queue.push({ item, resolve, reject });
            this.#schedule();
        });
    }

    /** Items waiting for a batch (not counting running ones). */
    get waiting(): number {
        return this.#queue.length;
    }

    #schedule(): void {
        if (this.#inFlight < this.opts.maxInFlight) this.#pumpSoon();
    }

    #pump(): void {
        while (this.#inFlight < this.opts.maxInFlight && this.#queue.length > 0) {
            const batch = this.#queue.splice(0, this.opts.maxBatch);
            this.#inFlight++;
            this.#runBatch(batch).finally(() => {
                this.#inFlight--;
                if (this.#queue.length > 0) this.#schedule();
            }).catch(() => undefined);
        }
    }

    async #runBatch(batch: readonly Waiting<I, O>[]): Promise<void> {
        try {
            const out = await this.run(batch.map((w) => w.item));
            if (out.length !== batch.length) throw new Error(`batch returned ${out.length} results for ${batch.length} items`);
            batch.forEach((w, i) => w.resolve(out[i] as O));
        } catch (e) {
            if (batch.length === 1) {
                batch[0]?.reject(e);
                return;
            }
            // Each on its own: the faulty item fails alone, the others go through.
            await Promise.all(batch.map((w) => this.#runBatch([w])));
        }
    }
}
