/**
 * Writes that must outlive a restart of the admin database. The pool
 * reconnects by itself (a new query gets a new connection), but a write that
 * was in flight when the server went away fails, and for the job runner's
 * writes that is an outcome lost: the engine finished an `up` and nobody
 * stored it, so recovery later re-ran the whole operation, or failed it when
 * no attempt was left. Those writes are conditional (on the lease, on the
 * operation still running), so running one again after a commit whose answer
 * was lost changes nothing: they are retried while the connection is what
 * failed, and only then.
 */

/** SQLSTATEs of a server that is going away or not there yet: class 08 (connection exception), 57P01-57P03 (shutdown, crash, cannot connect now). */
const SERVER_GONE = /^(08...|57P0[123])$/;
/** What node-postgres and node:net report when the connection itself broke (they carry no SQLSTATE). */
const SOCKET_GONE = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH"]);
const CLIENT_GONE = /^(Connection terminated|Client has encountered a connection error|Client was closed)/;

/** Whether `e` says the connection to the admin database was lost or refused (not that a statement was wrong). */
export function isConnectionLoss(e: unknown): boolean {
    if (!(e instanceof Error)) return false;
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && (SERVER_GONE.test(code) || SOCKET_GONE.has(code))) return true;
    // A failed connect through the pool surfaces as an AggregateError (one per address tried).
    if (e instanceof AggregateError) return e.errors.length > 0 && e.errors.every(isConnectionLoss);
    return CLIENT_GONE.test(e.message);
}

export interface ConnectionRetry {
    /** Give up (rethrow the last error) once this many ms have passed since the first try. */
    readonly forMs: number;
    /** The first wait; each next one doubles, up to `maxDelayMs`. Default: 250. */
    readonly delayMs?: number;
    /** Default: 5000. */
    readonly maxDelayMs?: number;
    /** Stops retrying early (e.g. the process is shutting down). */
    readonly stop?: () => boolean;
    /** Told before each wait. */
    readonly onRetry?: (e: Error, attempt: number) => void;
    /** For tests. Default: setTimeout. */
    readonly sleep?: (ms: number) => Promise<void>;
    readonly now?: () => number;
}

/** Runs `write` until it succeeds, fails with anything but a connection loss, or `o.forMs` has passed. */
export async function retryOnConnectionLoss<T>(write: () => Promise<T>, o: ConnectionRetry): Promise<T> {
    const now = o.now ?? Date.now;
    const sleep = o.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    const until = now() + o.forMs;
    let delay = o.delayMs ?? 250;
    for (let attempt = 1; ; attempt++) {
        try {
            return await write();
        } catch (e) {
            if (!isConnectionLoss(e) || now() + delay > until || o.stop?.() === true) throw e;
            o.onRetry?.(e as Error, attempt);
            await sleep(delay);
            delay = Math.min(delay * 2, o.maxDelayMs ?? 5000);
        }
    }
}
