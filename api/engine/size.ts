/**
 * Reads how big a database is, for the real engine's optional `size(name)`
 * (the size sampler's source): one short connection as the database's own
 * owner, with the credentials its stack already outputs (no new secret),
 * running `pg_database_size`. It takes no lock and touches no stack, so it
 * never waits for or blocks an operation. The volume's size is not known
 * this way (it would need the Docker or Kubernetes API): it stays null.
 * Errors name the endpoint, never the password.
 */
import pg from "pg";
import type { DatabaseOutputs } from "./types";

export type SizeEndpoint = Pick<DatabaseOutputs, "host" | "port" | "database" | "user" | "password">;

/** `pg_database_size(current_database())` in bytes; rejects when the database cannot be reached in `timeoutMs` or `signal` aborts. */
export async function readDatabaseSize(e: SizeEndpoint, signal: AbortSignal, timeoutMs = 10_000): Promise<number> {
    signal.throwIfAborted();
    const client = new pg.Client({
        host: e.host, port: e.port, database: e.database, user: e.user, password: e.password,
        connectionTimeoutMillis: timeoutMs, statement_timeout: timeoutMs, application_name: "dbaas-size-sampler",
    });
    // A refused or dropped connection is reported by connect/query; this only keeps it from being an uncaught 'error'.
    client.on("error", () => undefined);
    const onAbort = () => void client.end().catch(() => undefined);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
        await client.connect();
        const r = await client.query<{ bytes: string }>("SELECT pg_database_size(current_database())::text AS bytes");
        return Number(r.rows[0]?.bytes ?? Number.NaN);
    } catch (err) {
        const why = signal.aborted ? "aborted" : (err as { code?: string }).code ?? "connection failed";
        throw new Error(`reading the size of ${e.database} at ${e.host}:${e.port} failed (${why})`);
    } finally {
        signal.removeEventListener("abort", onAbort);
        await client.end().catch(() => undefined);
    }
}
