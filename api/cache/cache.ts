/**
 * The rules of the restored-backup cache (docker target; docs/cache.md):
 * which `up` may clone (a candidate goes into the spec as target.clone_from;
 * the fetch step decides against the live backup), what a finished `up`
 * leaves (a clone counts a hit; a restore fills a golden volume before the
 * operation completes; a candidate that missed because the backup changed is
 * evicted), eviction by age and size, and the admin's list and eviction.
 * A fill that fails is audited and logged, and never fails the database.
 * Audit actions: cache.filled, cache.evicted.
 */
import {
    cacheKeyUrl, chooseCandidate, chooseEvictions, describeMade, goldenVolumeName, hasValidators, type CacheCandidate, type MadeNote,
    type RestoreReport,
} from "../../contracts/cache";
import type { DatabaseSpec } from "../../contracts/database";
import type { CacheConfig } from "../config";
import { truncate } from "../engine/errors";
import type { DatabaseOutputs, EngineEvent, OperationOptions, StackEngine } from "../engine/types";
import type { Principal } from "../http/auth";
import { ApiProblem, problems } from "../http/problems";
import type { AdminStore } from "../store/store";
import {
    cacheEntryById, identityOf, insertCacheEntry, listCacheEntries, markEvicted, markRemoved, nextCacheId, pendingRemovals, readyEntriesFor,
    readyEntriesLocked, recordHit, setMade, type CacheRow,
} from "./rows";

export type { CacheRow };

/** The golden volumes on a Docker engine (api/cache/dockerVolumes.ts; a test double in the tests). */
export interface GoldenVolumes {
    /**
     * Stops `database`'s server cleanly and copies its data into a new volume `volume`
     * (passwords removed, database renamed to the neutral name). Leaves the server
     * stopped, also when it rejects: the engine starts it again (RestoreCache.wrap),
     * so the stack's outputs keep naming its published port. Resolves with the golden copy's bytes.
     */
    fill(o: { readonly dockerHost: string; readonly database: string; readonly image: string; readonly volume: string; readonly signal: AbortSignal }): Promise<{ bytes: number }>;
    /** Removes a golden volume (resolves when it does not exist); rejects while a container uses it. */
    remove(dockerHost: string, volume: string): Promise<void>;
}

interface Log {
    info(obj: object, msg: string): void;
    warn(obj: object, msg: string): void;
}

export interface RestoreCacheOptions {
    readonly store: AdminStore;
    readonly config: CacheConfig;
    /** Undefined: the cache only records how databases were made (no fill, no clone). */
    readonly volumes: GoldenVolumes | undefined;
    readonly log: Log;
    readonly now?: () => Date;
}

/** Who evicts by age and size (the actor of its audit entries). */
export const EVICTION_ACTOR = "cache-eviction";

const notFound = (id: number) => new ApiProblem(404, "not-found", "Not found",
    `params.id: expected a cache entry (${id} does not exist; see GET /cache)`, { errors: [{ field: "params.id", rule: "a cache entry id (GET /cache)" }] });

const asCandidate = (r: CacheRow): CacheRow & CacheCandidate => ({ ...r, identity: identityOf(r) });

export class RestoreCache {
    #timer: NodeJS.Timeout | undefined;
    readonly #now: () => Date;

    constructor(private readonly o: RestoreCacheOptions) {
        this.#now = o.now ?? (() => new Date());
    }

    /** Starts the eviction job (every evictIntervalMs; 0: never). */
    start(): void {
        if (this.o.config.evictIntervalMs <= 0) return;
        this.#timer = setInterval(() => {
            this.evictOnce().catch((e: Error) => this.o.log.warn({ err: truncate(e.message, 500) }, "cache eviction failed"));
        }, this.o.config.evictIntervalMs);
        this.#timer.unref();
    }

    stop(): void {
        if (this.#timer) clearInterval(this.#timer);
    }

    /** Whether this spec's create may use the cache at all. */
    #eligible(spec: DatabaseSpec): spec is DatabaseSpec & { backup_location: string; target: { kind: "docker" } } {
        return this.o.config.enabled && this.o.volumes !== undefined && spec.target.kind === "docker" && spec.backup_location !== undefined && spec.fresh !== true;
    }

    /** The spec of one `up` attempt: with target.clone_from when a ready golden copy may serve it. */
    async specForUp(spec: DatabaseSpec): Promise<DatabaseSpec> {
        if (spec.target.kind !== "docker") return spec;
        const { clone_from: _stale, ...target } = spec.target;
        const bare: DatabaseSpec = { ...spec, target };
        if (!this.#eligible(bare)) return bare;
        const want = { url: bare.backup_location, docker_host: target.docker_host, image: bare.image, fresh: false };
        const rows = await readyEntriesFor(this.o.store.pool, cacheKeyUrl(want.url), want.docker_host, want.image);
        const hit = chooseCandidate(rows.map(asCandidate), want);
        if (hit === undefined) return bare;
        return { ...bare, target: { ...target, clone_from: { cache_id: hit.id, volume: hit.volume, identity: hit.identity } } };
    }

    /** `engine` with the cache's step after every `up`: record how it was made, count a hit or fill. */
    wrap(engine: StackEngine): StackEngine {
        const up = async (spec: DatabaseSpec, options: OperationOptions): Promise<DatabaseOutputs> => {
            const outputs = await engine.up(spec, options);
            if (!await this.afterUp(spec, outputs.restore, options)) return outputs;
            // The fill stopped the server: a targeted replace starts it again, and its outputs name
            // the port it is published on now (a plain `docker start` would pick another ephemeral port).
            return engine.restart(spec.name, options);
        };
        // A Proxy keeps every other method (and optional ones such as size) as the engine has them,
        // bound to the engine itself: its private fields are not reachable through the proxy.
        return new Proxy(engine, {
            get: (t, p) => {
                if (p === "up") return up;
                const v = Reflect.get(t, p, t) as unknown;
                return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(t) : v;
            },
        });
    }

    /**
     * After a successful `up`; never throws (the database is ready whatever the cache does).
     * Resolves true when a fill was tried: the server is stopped and must be started again.
     */
    async afterUp(spec: DatabaseSpec, report: RestoreReport | undefined, options: Pick<OperationOptions, "onEvent" | "signal">): Promise<boolean> {
        if (report === undefined || spec.backup_location === undefined) return false;
        const say = (message: string, severity: EngineEvent["severity"] = "info") => {
            try {
                options.onEvent({ kind: "diagnostic", severity, message, at: this.#now().toISOString() });
            } catch {
                // onEvent must not throw; a faulty listener must not fail the operation.
            }
        };
        try {
            const url = cacheKeyUrl(spec.backup_location);
            const clone = spec.target.kind === "docker" ? spec.target.clone_from : undefined;
            if (report.made === "cloned" && clone !== undefined) {
                const entry = await cacheEntryById(this.o.store.pool, clone.cache_id);
                const made: MadeNote = { how: "cloned", url, cache_id: clone.cache_id, ...(entry === undefined ? {} : { filled_at: entry.filled_at.toISOString() }) };
                await this.o.store.tx(async (c) => {
                    await recordHit(c, clone.cache_id);
                    await setMade(c, spec.name, made);
                });
                say(describeMade(made));
                return false;
            }
            await setMade(this.o.store.pool, spec.name, { how: "restored", url });
            say(describeMade({ how: "restored", url }));
            if (clone !== undefined) await this.#evict(clone.cache_id, "the backup changed since the golden copy was filled", EVICTION_ACTOR, null);
            if (this.#eligible(spec) && (hasValidators(report.identity) || report.identity.sha256 !== undefined)) return await this.#fill(spec, report, url, options.signal, say);
        } catch (e) {
            this.o.log.warn({ database: spec.name, err: truncate(e instanceof Error ? e.message : String(e), 500) }, "recording the cache step failed");
        }
        return false;
    }

    /** Resolves true once the fill has been tried (the server is stopped then, whatever the outcome). */
    async #fill(spec: DatabaseSpec & { target: { kind: "docker" } }, report: RestoreReport, url: string, signal: AbortSignal, say: (m: string, s?: EngineEvent["severity"]) => void): Promise<boolean> {
        const volumes = this.o.volumes;
        if (volumes === undefined || spec.target.kind !== "docker") return false;
        const dockerHost = spec.target.docker_host;
        const id = await nextCacheId(this.o.store.pool);
        const volume = goldenVolumeName(id);
        say(`keeping this restore in the cache (${volume}); the server stops for the copy and is started again`);
        try {
            const { bytes } = await volumes.fill({ dockerHost, database: spec.name, image: spec.image, volume, signal });
            await this.o.store.tx(async (c) => {
                await insertCacheEntry(c, { id, url, dockerHost, image: spec.image, identity: report.identity, volume, bytes, sourceDatabase: spec.name });
                await this.o.store.appendAudit(c, { actor: "system", action: "cache.filled", database: spec.name, outcome: "succeeded", detail: { id, url, volume, bytes, image: spec.image } });
            });
            say(`the cache holds this restore now (${volume}, ${bytes} bytes); later databases from ${url} are cloned from it`);
            return true;
        } catch (e) {
            const reason = truncate(e instanceof Error ? e.message : String(e), 300);
            this.o.log.warn({ database: spec.name, volume, err: reason }, "filling the cache failed; the database is ready");
            await this.o.store.appendAudit(this.o.store.pool, { actor: "system", action: "cache.filled", database: spec.name, outcome: "failed", detail: { id, url, volume, reason } })
                .catch((a: Error) => this.o.log.warn({ database: spec.name, err: truncate(a.message, 300) }, "auditing the failed fill failed"));
            say(`the cache was not filled (${reason}); the database is ready`, "warning");
            await volumes.remove(dockerHost, volume).catch(() => undefined);
            return true;
        }
    }

    /** Evicts `id` (ready → evicted, audited), then tries to remove its volume; false when it was not ready. */
    async #evict(id: number, reason: string, actor: string, requestId: string | null): Promise<boolean> {
        const evicted = await this.o.store.tx(async (c) => {
            const row = await markEvicted(c, id, reason);
            if (row !== undefined) {
                await this.o.store.appendAudit(c, { actor, action: "cache.evicted", database: row.source_database, outcome: "succeeded", requestId, detail: { id, url: row.url, volume: row.volume, reason } });
            }
            return row;
        });
        if (evicted !== undefined) await this.#remove(evicted);
        return evicted !== undefined;
    }

    async #remove(row: CacheRow): Promise<void> {
        if (this.o.volumes === undefined) return;
        try {
            await this.o.volumes.remove(row.docker_host, row.volume);
            await markRemoved(this.o.store.pool, row.id);
        } catch (e) {
            // In use (a clone being made from it) or the engine unreachable: the next eviction run retries.
            this.o.log.warn({ id: row.id, volume: row.volume, err: truncate(e instanceof Error ? e.message : String(e), 300) }, "removing a golden volume failed; retried later");
        }
    }

    /** One eviction run: by age and size (audited), then the volumes still to remove. Returns the ids evicted. */
    async evictOnce(): Promise<number[]> {
        const now = this.#now();
        const chosen = await this.o.store.tx(async (c) => {
            const rows = await readyEntriesLocked(c);
            const out = chooseEvictions(rows.map(asCandidate), now, { maxBytes: this.o.config.maxBytes, maxAgeHours: this.o.config.maxAgeHours });
            for (const e of out) {
                const row = await markEvicted(c, e.id, e.reason);
                if (row !== undefined) await this.o.store.appendAudit(c, { actor: EVICTION_ACTOR, action: "cache.evicted", database: row.source_database, outcome: "succeeded", detail: { id: e.id, url: row.url, volume: row.volume, reason: e.reason } });
            }
            return out;
        });
        for (const row of await pendingRemovals(this.o.store.pool)) await this.#remove(row);
        return chosen.map((e) => e.id);
    }

    #requireAdmin(who: Principal): void {
        if (who.role !== "admin") throw problems.forbidden("header.authorization", "an admin token (the restored-backup cache is for admins)");
    }

    async list(who: Principal): Promise<{ rows: CacheRow[]; readyBytes: number }> {
        this.#requireAdmin(who);
        const rows = await listCacheEntries(this.o.store.pool);
        return { rows, readyBytes: rows.filter((r) => r.state === "ready").reduce((s, r) => s + r.bytes, 0) };
    }

    /** DELETE /cache/{id}: evicts a ready entry (audited), retries the removal of an evicted one. */
    async evict(who: Principal, id: number, requestId: string): Promise<CacheRow> {
        this.#requireAdmin(who);
        const row = await cacheEntryById(this.o.store.pool, id);
        if (row === undefined) throw notFound(id);
        if (row.state === "ready") await this.#evict(id, `evicted by ${who.subject}`, who.subject, requestId);
        else if (row.removal_pending) await this.#remove(row);
        const after = await cacheEntryById(this.o.store.pool, id);
        if (after === undefined) throw notFound(id);
        return after;
    }
}
