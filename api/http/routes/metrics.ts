/**
 * `GET /metrics`: the Prometheus text exposition (api/metrics.ts), for admin
 * tokens only, like the audit log: the figures name every database and its
 * size. Prometheus sends the token with `authorization: { credentials_file }`.
 * A scrape reads the admin database and changes nothing, so it is not audited.
 */
import type { FastifyPluginCallbackZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { ApiMetrics } from "../../metrics";
import type { AdminStore } from "../../store/store";
import { problemSchema, problems } from "../problems";

export interface MetricsRouteOptions {
    readonly metrics: ApiMetrics;
    readonly store: AdminStore;
}

export const metricsRoutes: FastifyPluginCallbackZod<MetricsRouteOptions> = (app, { metrics, store }, done) => {
    app.get("/metrics", {
        schema: {
            summary: "Prometheus metrics in the text exposition format (admins only)",
            description: "Operations by kind and outcome, their durations, HTTP request durations by route template, databases by state/version/target, sampled sizes, queue and restore figures. See docs/metrics-and-reports.md.",
            tags: ["system"],
            response: { 200: z.string().meta({ description: "text/plain; version=0.0.4" }), "4xx": problemSchema, "5xx": problemSchema },
        },
    }, async (req, reply) => {
        if (req.principal?.role !== "admin") throw problems.forbidden("header.authorization", "an admin token (metrics are for admins)");
        const text = await metrics.render(store.pool);
        return reply.type(metrics.contentType).header("cache-control", "no-store").send(text);
    });
    done();
};
