/**
 * `GET /reports`: counts, sizes and their trend, failures, downtime,
 * unpatched databases and the cost estimate over a window. An admin's report
 * covers every database, a user's its own only (domain/reportService.ts).
 * It changes nothing, so it is not audited.
 */
import type { FastifyPluginCallbackZod } from "fastify-type-provider-zod";
import type { VersionCatalog } from "../../../contracts/catalog";
import { reportsQuery, reportView, windowHours } from "../../../contracts/reports";
import { buildReport } from "../../domain/reportService";
import type { Prices } from "../../domain/reports";
import type { AdminStore } from "../../store/store";
import { invalidField, problemSchema, problems } from "../problems";

export interface ReportRouteOptions {
    readonly store: AdminStore;
    readonly catalog: VersionCatalog;
    readonly prices: Prices;
}

export const reportRoutes: FastifyPluginCallbackZod<ReportRouteOptions> = (app, { store, catalog, prices }, done) => {
    app.get("/reports", {
        schema: {
            summary: "Reports over a window: counts by state/version/project, sizes and their trend, failures, downtime, unpatched databases, cost per project",
            description: "Admins see every database, users their own. ?window=24h|7d|... (default 7d, at most 90d). See docs/metrics-and-reports.md for each figure's definition.",
            tags: ["reports"], querystring: reportsQuery, response: { 200: reportView, "4xx": problemSchema, "5xx": problemSchema },
        },
    }, async (req) => {
        const who = req.principal;
        if (who === undefined) throw problems.unauthorized("no principal");
        const hours = windowHours(req.query.window);
        // The schema refused anything else already; this keeps the types honest.
        if (hours === undefined) throw invalidField("query.window", "a window such as 24h or 7d", 400);
        return buildReport(store.pool, catalog, prices, { who, windowHours: hours, ...(req.query.project_id === undefined ? {} : { projectId: req.query.project_id }) });
    });
    done();
};
