/**
 * TEST DOUBLE of the StackEngine (api/engine/types.ts): no Pulumi, no
 * Docker. Operations take scripted time, emit scripted progress events, fail
 * as scripted (transient, stack locked, program error, or an unknown error
 * whose text contains a fake secret, to prove it never reaches clients), and
 * stop when their AbortSignal fires. Every call is recorded. Used by the API
 * tests, the benchmark (bench/api.ts) and the dashboard's tests.
 */
import { createHash, randomBytes } from "node:crypto";
import type { DatabaseSpec } from "../../contracts/database";
import { cacheKeyUrl, identityMatches, type BackupIdentity } from "../../contracts/cache";
import {
    ConcurrentUpdateError, EngineUnavailableError, OperationAbortedError, ProgramError, StackNotFoundError,
    type DatabaseOutputs, type DatabaseSize, type EngineEvent, type EngineReadiness, type OperationOptions, type StackEngine,
} from "../../api/engine/types";

export type FakeMethod = "up" | "destroy" | "restart";

export type FakeFailure =
    | "transient" // EngineUnavailableError
    | "concurrent" // ConcurrentUpdateError
    | "program" // ProgramError with a user-facing reason
    | "crash"; // a plain Error carrying CLI-ish text and a fake secret

export interface FakeScript {
    /** How long the operation takes (default 20 ms). */
    readonly delayMs?: number;
    /** How many resources it reports (start + done events each; default 3). */
    readonly resources?: number;
    /** Fail the first `failTimes` attempts (default 0; Infinity = always). */
    readonly failTimes?: number;
    readonly failWith?: FakeFailure;
    /** Never finish on its own; only the AbortSignal ends it. */
    readonly hang?: boolean;
}

export interface FakeCall {
    readonly method: FakeMethod | "outputs" | "cancel" | "readiness" | "size";
    readonly name: string;
    readonly at: number;
    readonly spec?: DatabaseSpec;
}

/** Text the "crash" failure carries; tests assert it never appears in a response. */
export const FAKE_SECRET = "SECRET-do-not-leak-7f3a";

function sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
        if (signal.aborted) return reject(new OperationAbortedError());
        const t = setTimeout(() => {
            signal.removeEventListener("abort", onAbort);
            resolve();
        }, ms);
        const onAbort = () => {
            clearTimeout(t);
            reject(new OperationAbortedError());
        };
        signal.addEventListener("abort", onAbort, { once: true });
    });
}

export class FakeStackEngine implements StackEngine {
    readonly calls: FakeCall[] = [];
    readonly stacks = new Map<string, DatabaseOutputs>();
    /**
     * What the "backup server" sends for a URL (keyed without its query); the fake fetch step
     * clones when a spec's clone_from still matches it, as fetch.sh does. Default: a checksum of the URL.
     */
    readonly backupIdentities = new Map<string, BackupIdentity>();
    readonly #scripts = new Map<string, FakeScript>();
    readonly #attempts = new Map<string, number>();
    /** Operations running now, by stack name. */
    readonly active = new Set<string>();
    /** The most operations that ever ran at the same time. */
    maxActive = 0;
    /** Times an operation started on a stack that already had one running (must stay 0). */
    overlaps = 0;
    readiness_: EngineReadiness = { ok: true, reasons: [] };
    /** Sizes `size(name)` answers, by database; a database without an entry has no size the engine knows. */
    readonly sizes = new Map<string, DatabaseSize | Error>();
    /** Called for every recorded call (the restart test's child process prints them). */
    onCall: ((call: FakeCall) => void) | undefined;

    constructor(private readonly defaults: FakeScript = {}) {}

    /** Scripts the next operations of `method` on `name` (`*` for every name). */
    script(method: FakeMethod, name: string, script: FakeScript): this {
        this.#scripts.set(`${method}:${name}`, script);
        this.#attempts.delete(`${method}:${name}`);
        return this;
    }

    #record(call: FakeCall): void {
        this.calls.push(call);
        this.onCall?.(call);
    }

    callsOf(method: FakeCall["method"], name?: string): FakeCall[] {
        return this.calls.filter((c) => c.method === method && (name === undefined || c.name === name));
    }

    up(spec: DatabaseSpec, o: OperationOptions): Promise<DatabaseOutputs> {
        this.#record({ method: "up", name: spec.name, at: Date.now(), spec });
        return this.#run("up", spec.name, o, () => {
            const password = randomBytes(12).toString("hex");
            const out: DatabaseOutputs = {
                host: "127.0.0.1", port: 15432, database: spec.name.replace(/-/g, "_"), user: "owner",
                password, uri: `postgresql://owner:${password}@127.0.0.1:15432/${spec.name.replace(/-/g, "_")}`,
                version: spec.version, expiresAt: spec.expires_at,
                ...(spec.backup_location === undefined ? {} : { restore: this.#fetchReport(spec, spec.backup_location) }),
            };
            this.stacks.set(spec.name, out);
            return out;
        });
    }

    #fetchReport(spec: DatabaseSpec, url: string): NonNullable<DatabaseOutputs["restore"]> {
        const key = cacheKeyUrl(url);
        const seen = this.backupIdentities.get(key) ?? { sha256: createHash("sha256").update(key).digest("hex") };
        const clone = spec.target.kind === "docker" ? spec.target.clone_from : undefined;
        if (clone !== undefined && identityMatches(clone.identity, seen)) return { made: "cloned", identity: clone.identity };
        return { made: "restored", identity: seen };
    }

    destroy(name: string, o: OperationOptions): Promise<void> {
        this.#record({ method: "destroy", name, at: Date.now() });
        return this.#run("destroy", name, o, () => {
            this.stacks.delete(name);
        });
    }

    restart(name: string, o: OperationOptions): Promise<DatabaseOutputs> {
        this.#record({ method: "restart", name, at: Date.now() });
        return this.#run("restart", name, o, () => {
            const out = this.stacks.get(name);
            if (out === undefined) throw new StackNotFoundError(`dbaas-db/${name}`);
            // A replaced container is published on another host port, as Docker does.
            const moved = { ...out, port: out.port + 1 };
            this.stacks.set(name, moved);
            return moved;
        });
    }

    outputs(name: string): Promise<DatabaseOutputs> {
        this.#record({ method: "outputs", name, at: Date.now() });
        const out = this.stacks.get(name);
        return out ? Promise.resolve(out) : Promise.reject(new StackNotFoundError(`dbaas-db/${name}`));
    }

    cancel(name: string): Promise<void> {
        this.#record({ method: "cancel", name, at: Date.now() });
        return Promise.resolve();
    }

    size(name: string, signal: AbortSignal): Promise<DatabaseSize> {
        this.#record({ method: "size", name, at: Date.now() });
        if (signal.aborted) return Promise.reject(new OperationAbortedError());
        if (!this.stacks.has(name)) return Promise.reject(new StackNotFoundError(`dbaas-db/${name}`));
        const s = this.sizes.get(name);
        if (s instanceof Error) return Promise.reject(s);
        return Promise.resolve(s ?? { databaseBytes: null, volumeBytes: null });
    }

    readiness(): Promise<EngineReadiness> {
        this.#record({ method: "readiness", name: "", at: Date.now() });
        return Promise.resolve(this.readiness_);
    }

    async #run<T>(method: FakeMethod, name: string, o: OperationOptions, finish: () => T): Promise<T> {
        const script = this.#scripts.get(`${method}:${name}`) ?? this.#scripts.get(`${method}:*`) ?? this.defaults;
        const key = `${method}:${name}`;
        const attempt = (this.#attempts.get(key) ?? 0) + 1;
        this.#attempts.set(key, attempt);
        if (this.active.has(name)) this.overlaps++;
        this.active.add(name);
        this.maxActive = Math.max(this.maxActive, this.active.size);
        const emit = (e: Omit<EngineEvent, "at">) => o.onEvent({ ...e, at: new Date().toISOString() });
        try {
            const resources = script.resources ?? 3;
            const step = (script.delayMs ?? 20) / Math.max(1, resources * 2);
            const op = method === "up" ? "create" : method === "destroy" ? "delete" : "update";
            for (let i = 0; i < resources; i++) {
                const urn = `urn:pulumi:${name}::dbaas-db::fake:index:Resource::${name}-r${i}`;
                emit({ kind: "resource-start", urn, type: "fake:index:Resource", name: `${name}-r${i}`, op });
                await sleep(step, o.signal);
                emit({ kind: "resource-done", urn, type: "fake:index:Resource", name: `${name}-r${i}`, op });
                await sleep(step, o.signal);
            }
            if (script.hang) await sleep(2 ** 30, o.signal);
            if (attempt <= (script.failTimes ?? 0)) {
                emit({ kind: "diagnostic", severity: "error", message: `${method} failed (scripted, attempt ${attempt})` });
                throw this.#failure(script.failWith ?? "program", name);
            }
            emit({ kind: "summary", message: `${method} done: ${resources} resources` });
            return finish();
        } finally {
            this.active.delete(name);
        }
    }

    #failure(kind: FakeFailure, name: string): Error {
        switch (kind) {
            case "transient":
                return new EngineUnavailableError("backend unreachable (scripted)");
            case "concurrent":
                return new ConcurrentUpdateError(`dbaas-db/${name}`);
            case "program":
                return new ProgramError("the container did not become healthy (scripted)", { detail: `pulumi up failed: password=${FAKE_SECRET}` });
            case "crash":
                return new Error(`error: exit status 255\n  stderr: connecting with password ${FAKE_SECRET} failed\n    at Object.<anonymous> (/app/x.js:1:1)`);
        }
    }
}
