/**
 * Activity, contact and delivery routes: HTTP only. The rules are in
 * domain/activities.ts (owner or admin) and domain/contacts.ts (admins).
 */
import type { FastifyPluginCallbackZod } from "fastify-type-provider-zod";
import { z } from "zod";
import {
    activitiesQuery, activityListView, activityParams, contactListView, contactParams, contactWithSecretView, createContactBody,
    deliveriesQuery, deliveryListView, noteBody, noteView, patchContactBody, projectParams,
} from "../../../contracts/activities";
import { nameParams } from "../../../contracts/api";
import type { Activities } from "../../domain/activities";
import type { Contacts } from "../../domain/contacts";
import type { Principal } from "../auth";
import { problemSchema, problems } from "../problems";
import { toActivityView, toContactView, toDeliveryView, toNoteView } from "../activityViews";

export interface ActivityRouteOptions {
    readonly activities: Activities;
    readonly contacts: Contacts;
}

const errors = { "4xx": problemSchema, "5xx": problemSchema };

function who(principal: Principal | undefined): Principal {
    // The auth hook sets it on every non-public route; its absence is a wiring bug.
    if (principal === undefined) throw problems.unauthorized("no principal");
    return principal;
}

export const activityRoutes: FastifyPluginCallbackZod<ActivityRouteOptions> = (app, { activities, contacts }, done) => {
    app.get("/databases/:name/activities", {
        schema: {
            summary: "The database's activities (created, ready, restarted, down, up, patched, failed, expired, deleted), newest first, with their notes",
            tags: ["activities"], params: nameParams, querystring: activitiesQuery, response: { 200: activityListView, ...errors },
        },
    }, async (req) => {
        const page = await activities.list(who(req.principal), req.params.name, { limit: req.query.limit, ...(req.query.before === undefined ? {} : { before: req.query.before }) });
        return { activities: page.rows.map(toActivityView), next: page.next };
    });

    app.post("/databases/:name/activities/:id/notes", {
        schema: {
            summary: "Add a note, optionally with an https ticket link, to one of the database's activities (owner or admin); audited as activity.note",
            tags: ["activities"], params: activityParams, body: noteBody, response: { 201: noteView, ...errors },
        },
    }, async (req, reply) => {
        const note = await activities.addNote(who(req.principal), req.params.name, req.params.id, req.body, req.id);
        return reply.code(201).send(toNoteView(note));
    });

    const tags = ["contacts"];
    app.post("/projects/:project/contacts", {
        schema: {
            summary: "Add a contact to a project (admins): an email address and/or a webhook URL; the answer carries the webhook signing secret, once",
            tags, params: projectParams, body: createContactBody, response: { 201: contactWithSecretView, ...errors },
        },
    }, async (req, reply) => {
        const { contact, secret } = await contacts.create(who(req.principal), req.params.project, req.body, req.id);
        // The secret must not linger in caches along the way.
        return reply.code(201).header("cache-control", "no-store").header("location", `/projects/${contact.project_id}/contacts/${contact.id}`)
            .send({ contact: toContactView(contact), secret });
    });

    app.get("/projects/:project/contacts", {
        schema: { summary: "The project's contacts (admins); never their secrets", tags, params: projectParams, response: { 200: contactListView, ...errors } },
    }, async (req) => ({ contacts: (await contacts.list(who(req.principal), req.params.project)).map((c) => toContactView(c)) }));

    app.patch("/projects/:project/contacts/:id", {
        schema: {
            summary: "Change a contact (admins): null clears a field; rotate_secret answers a new signing secret, once",
            tags, params: contactParams, body: patchContactBody, response: { 200: contactWithSecretView, ...errors },
        },
    }, async (req, reply) => {
        const r = await contacts.update(who(req.principal), req.params.project, req.params.id, req.body, req.id);
        if (r.secret !== undefined) reply.header("cache-control", "no-store");
        return { contact: toContactView(r.contact), ...(r.secret === undefined ? {} : { secret: r.secret }) };
    });

    app.delete("/projects/:project/contacts/:id", {
        schema: { summary: "Remove a contact (admins); its pending deliveries are skipped", tags, params: contactParams, response: { 204: z.null().describe("removed"), ...errors } },
    }, async (req, reply) => {
        await contacts.remove(who(req.principal), req.params.project, req.params.id, req.id);
        return reply.code(204).send(null);
    });

    app.get("/projects/:project/deliveries", {
        schema: {
            summary: "The project's notification deliveries, newest first, each with every attempt (admins)",
            tags, params: projectParams, querystring: deliveriesQuery, response: { 200: deliveryListView, ...errors },
        },
    }, async (req) => {
        const page = await contacts.deliveries(who(req.principal), req.params.project, { limit: req.query.limit, ...(req.query.before === undefined ? {} : { before: req.query.before }) });
        return { deliveries: page.rows.map(toDeliveryView), next: page.next };
    });
    done();
};
