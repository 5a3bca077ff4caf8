/**
 * The contract between the API's job runner and whatever provisions an
 * on-demand database: the Automation API engine (`automation.ts`, one Pulumi
 * stack `dbaas-db/<name>` per database) in production, a scripted test double
 * in tests and the benchmark. The API never calls an engine from a route; the
 * job runner does, one operation per database at a time.
 *
 * Rules every implementation follows:
 * - `up` is create-or-update and idempotent: the runner calls it again after a
 *   transient error or after a crash, with the same spec.
 * - `destroy` of a stack that does not exist resolves (nothing to destroy), so
 *   a failed create can always be deleted.
 * - When `signal` aborts (user cancel, per-operation timeout, shutdown) the
 *   engine stops the running update as soon as it can and rejects with
 *   `OperationAbortedError` (the runner reads `signal.reason` for why).
 * - Errors are the classes below. Anything else is treated as a permanent
 *   program failure whose message is logged server-side only (truncated) and
 *   never sent to a client; `ProgramError.reason` is the one text that may be
 *   shown to users, so it must be short and free of secrets.
 * - Progress events are compact and secret-free; they are stored and streamed
 *   to the database owner over SSE as they are.
 * No Pulumi imports: the API loads this module without the Pulumi runtime.
 */
import type { Endpoint } from "../../contracts/api";
import type { DatabaseSpec } from "../../contracts/database";
import type { RestoreReport } from "../../contracts/cache";

/** One progress event of a running operation. */
export interface EngineEvent {
    readonly kind: "resource-start" | "resource-done" | "resource-failed" | "diagnostic" | "summary";
    /** Pulumi URN of the resource, when the event is about one. */
    readonly urn?: string;
    /** Resource type token, e.g. `docker:index/container:Container`. */
    readonly type?: string;
    /** Resource name (the last URN segment). */
    readonly name?: string;
    /** Step operation: create, update, delete, replace, same, refresh, ... */
    readonly op?: string;
    /** Human text; never contains secrets. At most ~500 characters. */
    readonly message?: string;
    readonly severity?: "debug" | "info" | "warning" | "error";
    /** ISO-8601 instant the engine saw the event. */
    readonly at: string;
}

/** The outputs of one on-demand database stack: where it is (the stored `Endpoint`) and the secrets. */
export interface DatabaseOutputs extends Endpoint {
    /**
     * Secret. The API does not store it: it asks `outputs(name)` again when
     * the owner explicitly requests the credentials, and never logs it.
     */
    readonly password: string;
    /** Secret (contains the password): `postgresql://user:password@host:port/database`. */
    readonly uri: string;
    /** Catalog label the database runs, e.g. "PostgreSQL 17". */
    readonly version: string;
    /** ISO-8601 expiry instant, as in the spec. */
    readonly expiresAt: string;
    /** How the data got there (programs that restore a backup report it; contracts/cache.ts). */
    readonly restore?: RestoreReport;
}

export interface OperationOptions {
    /** Aborted on cancel, per-operation timeout or shutdown. */
    readonly signal: AbortSignal;
    /** Called for every progress event, in order; must not throw. */
    readonly onEvent: (event: EngineEvent) => void;
}

export interface EngineReadiness {
    readonly ok: boolean;
    /** Why the engine cannot run operations now (empty when ok); no secrets. */
    readonly reasons: readonly string[];
}

/** How big a database is, as far as the engine can tell; null = unknown. */
export interface DatabaseSize {
    /** `pg_database_size` of the database, in bytes. */
    readonly databaseBytes: number | null;
    /** Bytes used on the database's volume (data directory, WAL), in bytes. */
    readonly volumeBytes: number | null;
}

export interface StackEngine {
    /** Creates or updates the database's stack to match `spec`; resolves with its outputs. */
    up(spec: DatabaseSpec, options: OperationOptions): Promise<DatabaseOutputs>;
    /** Destroys the database's stack and removes it; resolves when it does not exist. */
    destroy(name: string, options: OperationOptions): Promise<void>;
    /** The current outputs of the stack; rejects with `StackNotFoundError` when there is none. */
    outputs(name: string): Promise<DatabaseOutputs>;
    /** Restarts the database server (container or pod) without changing its data. */
    restart(name: string, options: OperationOptions): Promise<DatabaseOutputs>;
    /**
     * Cancels an update left running on the stack by a process that died
     * (clears the stack lock); resolves when nothing was running. Called
     * at startup before resuming an operation.
     */
    cancel(name: string): Promise<void>;
    /** Whether operations can run now (CLI present, backend reachable, ...). */
    readiness(): Promise<EngineReadiness>;
    /**
     * Optional: the size of a ready database, read without touching its stack
     * (no lock, no update), so sampling never blocks an operation. Engines
     * without it report sizes as unknown. Must stop when `signal` aborts.
     */
    size?(name: string, signal: AbortSignal): Promise<DatabaseSize>;
}

/** Base class of the errors an engine rejects with. */
export abstract class EngineError extends Error {
    /** True when the same operation may succeed if retried later. */
    abstract readonly transient: boolean;
}

/** Another update holds the stack (HTTP 409 from the backend, a lock file): retry later. */
export class ConcurrentUpdateError extends EngineError {
    readonly transient = true;
    constructor(readonly stackName: string, message = `stack ${stackName} is being updated by another operation`) {
        super(message);
        this.name = "ConcurrentUpdateError";
    }
}

/** The backend, the CLI or the target (Docker host, cluster) cannot be reached now: retry later. */
export class EngineUnavailableError extends EngineError {
    readonly transient = true;
    constructor(message: string) {
        super(message);
        this.name = "EngineUnavailableError";
    }
}

/** No stack for this database. */
export class StackNotFoundError extends EngineError {
    readonly transient = false;
    constructor(readonly stackName: string) {
        super(`stack ${stackName} does not exist`);
        this.name = "StackNotFoundError";
    }
}

/**
 * The program or a resource failed. `reason` is short, secret-free and may be
 * shown to the user (e.g. "backup restore failed: archive is not a pg_dump
 * file"); the full CLI output goes to `message`/`cause` and stays server-side.
 */
export class ProgramError extends EngineError {
    readonly transient = false;
    constructor(readonly reason: string, options?: { cause?: unknown; detail?: string }) {
        super(options?.detail ?? reason, options?.cause === undefined ? undefined : { cause: options.cause });
        this.name = "ProgramError";
    }
}

/** The operation stopped because its AbortSignal fired. */
export class OperationAbortedError extends EngineError {
    readonly transient = false;
    constructor(message = "the operation was aborted") {
        super(message);
        this.name = "OperationAbortedError";
    }
}

/** True for errors worth a retry with backoff. */
export function isTransientEngineError(e: unknown): boolean {
    return e instanceof EngineError && e.transient;
}
