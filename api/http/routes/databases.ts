/**
 * Database routes: HTTP only. Each handler reads the validated request,
 * calls the rules (domain/databases.ts) and shapes the answer; the rules live there.
 */
import type { FastifyPluginCallbackZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { Principal } from "../auth";
import { problemSchema, problems } from "../problems";
import { acceptedView, createDatabaseBody, databaseListView, databaseView, getQuery, listQuery, nameParams, patchDatabaseBody } from "../../../contracts/api";
import type { Accepted, Databases } from "../../domain/databases";
import { cursorOf, listedDatabaseView, parseCursor, toDatabaseView, toOperationView } from "../views";

export interface DatabaseRouteOptions {
    readonly databases: Databases;
}

const errors = { "4xx": problemSchema, "5xx": problemSchema };
const tags = ["databases"];
/** Action routes take no body; an empty JSON object is accepted too. */
const emptyBody = z.object({}).strict().nullish();

function who(principal: Principal | undefined): Principal {
    // The auth hook sets it on every non-public route; its absence is a wiring bug.
    if (principal === undefined) throw problems.unauthorized("no principal");
    return principal;
}

function accepted(a: Accepted) {
    return { database: toDatabaseView(a.database, a.operation), operation: toOperationView(a.operation) };
}

export const databaseRoutes: FastifyPluginCallbackZod<DatabaseRouteOptions> = (app, { databases }, done) => {
    app.post("/databases", {
        schema: {
            summary: "Request a new database; it is created by a background operation",
            description: "Answers 202 with the database (state creating) and its operation. Follow progress at the events link.",
            tags, body: createDatabaseBody, response: { 202: acceptedView, ...errors },
        },
    }, async (req, reply) => {
        const result = await databases.create(who(req.principal), req.body, req.id);
        return reply.code(202).header("location", `/databases/${result.database.name}`).send(accepted(result));
    });

    app.get("/databases", {
        schema: {
            summary: "List databases: your own, or all for admins; filter by owner, project or state",
            tags, querystring: listQuery, response: { 200: databaseListView, ...errors },
        },
    }, async (req) => {
        const { after, ...rest } = req.query;
        const page = await databases.list(who(req.principal), { ...rest, ...(after === undefined ? {} : { after: parseCursor(after) }) });
        const last = page.rows[page.rows.length - 1];
        return {
            databases: page.rows.map(listedDatabaseView),
            next: page.more && last ? cursorOf(last) : null,
        };
    });

    app.get("/databases/:name", {
        schema: {
            summary: "A database: state, version, endpoint, expiry, last operation; ?include=password adds credentials for the owner",
            tags, params: nameParams, querystring: getQuery, response: { 200: databaseView, ...errors },
        },
    }, async (req, reply) => {
        const principal = who(req.principal);
        const { db, op } = await databases.get(principal, req.params.name);
        const view = toDatabaseView(db, op);
        if (req.query.include !== "password") return view;
        const secret = await databases.credentials(principal, db, req.id);
        // Credentials must not linger in caches along the way.
        reply.header("cache-control", "no-store");
        return { ...view, credentials: { password: secret.password, uri: secret.uri } };
    });

    app.patch("/databases/:name", {
        schema: {
            summary: "Set the expiry to ttl_hours from now (owner or admin)",
            tags, params: nameParams, body: patchDatabaseBody, response: { 200: databaseView, ...errors },
        },
    }, async (req) => {
        const db = await databases.extend(who(req.principal), req.params.name, req.body.ttl_hours, req.id);
        const { op } = await databases.get(who(req.principal), db.name);
        return toDatabaseView(db, op);
    });

    app.delete("/databases/:name", {
        schema: { summary: "Delete a database (cancels a create or restart in progress)", tags, params: nameParams, response: { 202: acceptedView, ...errors } },
    }, async (req, reply) => reply.code(202).send(accepted(await databases.delete(who(req.principal), req.params.name, req.id))));

    app.post("/databases/:name/restart", {
        schema: { summary: "Restart a ready database's server", tags, params: nameParams, body: emptyBody, response: { 202: acceptedView, ...errors } },
    }, async (req, reply) => reply.code(202).send(accepted(await databases.restart(who(req.principal), req.params.name, req.id))));

    app.post("/databases/:name/retry", {
        schema: { summary: "Run the create of a failed database again", tags, params: nameParams, body: emptyBody, response: { 202: acceptedView, ...errors } },
    }, async (req, reply) => reply.code(202).send(accepted(await databases.retry(who(req.principal), req.params.name, req.id))));

    app.post("/databases/:name/cancel", {
        schema: { summary: "Cancel the create or restart in progress; the database becomes failed", tags, params: nameParams, body: emptyBody, response: { 202: acceptedView, ...errors } },
    }, async (req, reply) => reply.code(202).send(accepted(await databases.cancel(who(req.principal), req.params.name, req.id))));
    done();
};
