/**
 * When a failed delivery is tried again: exponential backoff from `baseMs`,
 * doubling per attempt, capped at `maxMs`, until `maxAttempts` attempts were
 * made. Deterministic (no jitter): deliveries of one notification go to
 * different receivers, so they do not stampede one server, and the schedule
 * a receiver sees is the documented one. Pure.
 */
export interface DeliveryRetryPolicy {
    readonly baseMs: number;
    readonly maxMs: number;
    readonly maxAttempts: number;
}

/** The wait after failed attempt `attempt` (from 1), or undefined when no attempt is left. */
export function nextDeliveryDelayMs(attempt: number, p: DeliveryRetryPolicy): number | undefined {
    if (attempt >= p.maxAttempts) return undefined;
    return Math.min(p.maxMs, p.baseMs * 2 ** Math.max(0, attempt - 1));
}

/** The whole schedule: the waits between attempts 1..maxAttempts. */
export function deliverySchedule(p: DeliveryRetryPolicy): number[] {
    const out: number[] = [];
    for (let a = 1; ; a++) {
        const d = nextDeliveryDelayMs(a, p);
        if (d === undefined) return out;
        out.push(d);
    }
}
