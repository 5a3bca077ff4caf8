/**
 * `GET /me`: who the presented token belongs to, so a client (the dashboard)
 * need not infer its role from which routes refuse it. It changes nothing, so
 * it is not audited.
 */
import type { FastifyPluginCallbackZod } from "fastify-type-provider-zod";
import { problemSchema, problems } from "../problems";
import { meView, type MeView } from "../../../contracts/api";

export interface MeRouteOptions {
    /** The per-subject limit the rate-limit plugin applies (`DBAAS_RATE_LIMIT_PER_MINUTE`). */
    readonly rateLimitPerMinute: number;
}

export const meRoutes: FastifyPluginCallbackZod<MeRouteOptions> = (app, { rateLimitPerMinute }, done) => {
    app.get("/me", {
        schema: { summary: "The token's subject, role and rate limit", tags: ["system"], response: { 200: meView, "4xx": problemSchema, "5xx": problemSchema } },
    }, (req) => {
        // The auth hook sets the principal on every non-public route; this only guards a misconfigured route.
        const principal = req.principal;
        if (principal === undefined) return Promise.reject(problems.unauthorized("no Authorization header; send Authorization: Bearer <token>"));
        const me: MeView = { subject: principal.subject, role: principal.role, rate_limit_per_minute: rateLimitPerMinute };
        return Promise.resolve(me);
    });
    done();
};
