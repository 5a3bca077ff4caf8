/**
 * A task that many callers ask for and that runs one at a time: a request
 * while it runs asks for exactly one more run after it (however many requests
 * came), and a request while a run is due adds nothing. Claiming jobs, reading
 * new SSE events, writing progress events, sending notifications and batching
 * inserts all work this way; with `nextTurn` the run waits for the current
 * event-loop turn to end, so whatever is asked for in that turn goes together.
 */
export interface CoalescedOptions {
    /** Start each run after the current event-loop turn (setImmediate) instead of at once. Default: false. */
    readonly nextTurn?: boolean;
}

export interface Coalesced {
    /** Asks for a run. Never throws; `run` handles its own failures. */
    (): void;
    /** Resolves once no run is running or due. */
    idle(): Promise<void>;
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Wraps `run`, which must handle its own failures: one that escapes is a bug
 * and surfaces as an unhandled rejection (the task stays usable).
 */
export function coalesced(run: () => void | Promise<void>, options: CoalescedOptions = {}): Coalesced {
    let busy = false;
    let again = false;
    // The loop while it is busy, for `idle`.
    let current: Promise<void> | undefined;
    const loop = async (): Promise<void> => {
        try {
            do {
                if (options.nextTurn === true) await nextTurn();
                again = false;
                await run();
            } while (again);
        } finally {
            busy = false;
            current = undefined;
        }
    };
    const request = (): void => {
        if (busy) {
            again = true;
            return;
        }
        busy = true;
        // `run` starts within this call (without nextTurn), so a request it makes itself counts as "again".
        const started = loop();
        if (busy) current = started;
    };
    return Object.assign(request, {
        async idle(): Promise<void> {
            while (current !== undefined) await current.catch(() => undefined);
        },
    });
}
