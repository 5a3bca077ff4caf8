/**
 * Rolling patch routes (admins only): HTTP only. Start a rollout of the
 * catalog's image for a label, list rollouts, read one with its steps, resume
 * one that stopped on a failure. The rules are in api/rollouts/rollouts.ts,
 * the steps' progress in api/rollouts/driver.ts.
 */
import type { FastifyPluginCallbackZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { rolloutDetailView, rolloutIdParams, rolloutLabelParams, rolloutListView, rolloutsQuery, startRolloutBody } from "../../../contracts/rollouts";
import type { Rollouts } from "../../rollouts/rollouts";
import type { Principal } from "../auth";
import { problemSchema, problems } from "../problems";

export interface RolloutRouteOptions {
    readonly rollouts: Rollouts;
}

const errors = { "4xx": problemSchema, "5xx": problemSchema };
const tags = ["rollouts"];
const emptyBody = z.object({}).strict().nullish();

function who(principal: Principal | undefined): Principal {
    // The auth hook sets it on every non-public route; its absence is a wiring bug.
    if (principal === undefined) throw problems.unauthorized("no principal");
    return principal;
}

export const rolloutRoutes: FastifyPluginCallbackZod<RolloutRouteOptions> = (app, { rollouts }, done) => {
    app.post("/versions/:label/rollout", {
        schema: {
            summary: "Roll the catalog's current image for a label out to its databases, one at a time (admins only)",
            description: "Answers 202 with the rollout and its steps. Refused: 422 for a label the catalog does not have or a major version change "
                + "(that needs an upgrade, not a patch); 409 when nothing is left to patch, a rollout of the label is running, or body.image is not the catalog's. "
                + "Problems carry `refusal` (major_change, nothing_to_patch, already_running, catalog_mismatch). See docs/operations.md.",
            tags, params: rolloutLabelParams, body: startRolloutBody.nullish(), response: { 202: rolloutDetailView, ...errors },
        },
    }, async (req, reply) => {
        const view = await rollouts.start(who(req.principal), req.params.label, req.body ?? {}, req.id);
        return reply.code(202).header("location", view.links.self).send(view);
    });

    app.get("/rollouts", {
        schema: { summary: "Rollouts, newest first, with their step counts (admins only)", tags, querystring: rolloutsQuery, response: { 200: rolloutListView, ...errors } },
    }, (req) => rollouts.list(who(req.principal), {
        limit: req.query.limit,
        ...(req.query.label === undefined ? {} : { label: req.query.label }),
        ...(req.query.before === undefined ? {} : { before: req.query.before }),
    }));

    app.get("/rollouts/:id", {
        schema: { summary: "One rollout with every step: database, previous and new image, patch type, state, reason, output excerpt (admins only)", tags, params: rolloutIdParams, response: { 200: rolloutDetailView, ...errors } },
    }, (req) => rollouts.get(who(req.principal), req.params.id));

    app.post("/rollouts/:id/resume", {
        schema: {
            summary: "Resume a rollout that stopped on a failure: the failed step runs again, then the rest (admins only)",
            description: "Answers 202 with the rollout. 409 unless it is stopped_on_failure, or when the catalog no longer holds its image (start a new rollout).",
            tags, params: rolloutIdParams, body: emptyBody, response: { 202: rolloutDetailView, ...errors },
        },
    }, async (req, reply) => {
        const view = await rollouts.resume(who(req.principal), req.params.id, req.id);
        return reply.code(202).header("location", view.links.self).send(view);
    });
    done();
};
