/**
 * Named (server-side prepared) statements. node-postgres plans an unnamed
 * statement on every execution; the hot queries of the API are few fixed
 * texts, so naming them lets each connection reuse its plan (planning was a
 * visible share of a list request in bench/api.ts). The name is derived from
 * the text, so one text always maps to one name on every connection.
 */
import { createHash } from "node:crypto";
import type pg from "pg";

const names = new Map<string, string>();

export function named(text: string, values: unknown[]): pg.QueryConfig {
    let name = names.get(text);
    if (name === undefined) {
        name = `dbaas_${createHash("sha1").update(text).digest("hex").slice(0, 16)}`;
        names.set(text, name);
    }
    return { name, text, values };
}

/**
 * Runs `fn` with a client checked out of `pool`. While checked out the client
 * has an error listener: node-postgres emits `error` on a checked-out client
 * whose connection dies between two queries, and with no listener that is an
 * uncaught exception (it ended the API when the admin database restarted
 * during a transaction). A client that saw an error is destroyed, not handed
 * back to the pool.
 */
export async function withClient<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await pool.connect();
    let failed: Error | undefined;
    const onError = (e: Error) => {
        failed = e;
    };
    c.on("error", onError);
    try {
        return await fn(c);
    } catch (e) {
        failed ??= e instanceof Error ? e : new Error(String(e));
        throw e;
    } finally {
        c.off("error", onError);
        c.release(failed);
    }
}

/** Runs `fn` in a transaction on a client of `pool` (withClient); rolls back on error. */
export function transaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return withClient(pool, async (c) => {
        await c.query("BEGIN");
        try {
            const result = await fn(c);
            await c.query("COMMIT");
            return result;
        } catch (e) {
            await c.query("ROLLBACK").catch(() => undefined);
            throw e;
        }
    });
}
