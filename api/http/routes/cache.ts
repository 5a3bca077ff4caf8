/**
 * The restored-backup cache's routes (admins only): list the golden copies
 * and evict one. HTTP only; the rules are in api/cache/cache.ts.
 */
import type { FastifyPluginCallbackZod } from "fastify-type-provider-zod";
import { cacheEntryView, cacheIdParams, cacheListView, type CacheEntryView } from "../../../contracts/cache";
import type { RestoreCache, CacheRow } from "../../cache/cache";
import { identityOf } from "../../cache/rows";
import type { CacheConfig } from "../../config";
import type { Principal } from "../auth";
import { problemSchema, problems } from "../problems";

export interface CacheRouteOptions {
    readonly cache: RestoreCache;
    readonly config: CacheConfig;
}

const errors = { "4xx": problemSchema, "5xx": problemSchema };
const tags = ["cache"];

function who(principal: Principal | undefined): Principal {
    // The auth hook sets it on every non-public route; its absence is a wiring bug.
    if (principal === undefined) throw problems.unauthorized("no principal");
    return principal;
}

export function toCacheEntryView(r: CacheRow): CacheEntryView {
    return {
        id: r.id, url: r.url, docker_host: r.docker_host, image: r.image, identity: identityOf(r), volume: r.volume, bytes: r.bytes, state: r.state,
        source_database: r.source_database, filled_at: r.filled_at.toISOString(), last_used_at: r.last_used_at.toISOString(), hits: r.hits,
        evicted_at: r.evicted_at === null ? null : r.evicted_at.toISOString(), evict_reason: r.evict_reason, removal_pending: r.removal_pending,
    };
}

export const cacheRoutes: FastifyPluginCallbackZod<CacheRouteOptions> = (app, { cache, config }, done) => {
    app.get("/cache", {
        schema: {
            summary: "The restored-backup cache: golden copies, newest first, with their hits and the limits they are evicted by (admins only)",
            tags, response: { 200: cacheListView, ...errors },
        },
    }, async (req) => {
        const { rows, readyBytes } = await cache.list(who(req.principal));
        return { entries: rows.map(toCacheEntryView), ready_bytes: readyBytes, max_bytes: config.maxBytes, max_age_hours: config.maxAgeHours, enabled: config.enabled };
    });

    app.delete("/cache/:id", {
        schema: {
            summary: "Evict one golden copy (admins only); its volume is removed now or, while a clone uses it, by the eviction job",
            description: "Answers the entry, state evicted. Databases already cloned from it are not touched.",
            tags, params: cacheIdParams, response: { 200: cacheEntryView, ...errors },
        },
    }, async (req) => toCacheEntryView(await cache.evict(who(req.principal), req.params.id, req.id)));
    done();
};
