/**
 * Routes about the service itself: health, readiness, the OpenAPI document,
 * the version catalog and the audit log (admins only).
 */
import type { FastifyPluginCallbackZod } from "fastify-type-provider-zod";
import type { VersionCatalog } from "../../../contracts/catalog";
import { problemSchema, problems } from "../problems";
import { auditListView, auditQuery, healthView, readyView, versionsView } from "../../../contracts/api";
import type { Databases } from "../../domain/databases";
import type { AdminStore } from "../../store/store";
import { toAuditEntryView } from "../views";

export interface SystemRouteOptions {
    readonly databases: Databases;
    readonly store: AdminStore;
    readonly catalog: VersionCatalog;
}

const errors = { "4xx": problemSchema, "5xx": problemSchema };

export const systemRoutes: FastifyPluginCallbackZod<SystemRouteOptions> = (app, { databases, store, catalog }, done) => {
    app.get("/healthz", {
        config: { public: true, rateLimit: false },
        schema: { summary: "The process is up", tags: ["system"], security: [], response: { 200: healthView } },
    }, () => Promise.resolve({ status: "ok" as const }));

    app.get("/readyz", {
        config: { public: true, rateLimit: false },
        schema: { summary: "The admin database is reachable and the engine can run operations", tags: ["system"], security: [], response: { 200: readyView, 503: problemSchema } },
    }, async () => {
        const reasons = await databases.readiness();
        if (reasons.length > 0) throw problems.unavailable(reasons);
        return { status: "ready" as const };
    });

    app.get("/openapi.json", {
        config: { public: true, rateLimit: false },
        schema: { hide: true },
    }, () => Promise.resolve(app.swagger()));

    app.get("/versions", {
        schema: { summary: "The PostgreSQL version catalog; the first entry is the default", tags: ["catalog"], response: { 200: versionsView, ...errors } },
    }, () => Promise.resolve({
        default: catalog[0].label,
        versions: catalog.map((v, i) => ({ label: v.label, image: v.image, default: i === 0 })),
    }));

    app.get("/audit", {
        schema: { summary: "The audit log, newest first (admins only)", tags: ["audit"], querystring: auditQuery, response: { 200: auditListView, ...errors } },
    }, async (req) => {
        if (req.principal?.role !== "admin") throw problems.forbidden("header.authorization", "an admin token (the audit log is for admins)");
        const q = req.query;
        const rows = await store.listAudit({
            ...(q.database === undefined ? {} : { database: q.database }),
            ...(q.actor === undefined ? {} : { actor: q.actor }),
            ...(q.action === undefined ? {} : { action: q.action }),
            ...(q.before === undefined ? {} : { before: q.before }),
            limit: q.limit,
        });
        const last = rows[rows.length - 1];
        return { entries: rows.map(toAuditEntryView), next: rows.length === q.limit && last ? last.id : null };
    });
    done();
};
