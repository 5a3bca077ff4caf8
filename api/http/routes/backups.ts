/**
 * Backup routes: HTTP only. Starting, listing and reading backups (owner or
 * admin), and the signed content URL a new database's restore fetches a
 * backup from (no bearer token: the signature is the authority). The rules
 * are in api/backups/backups.ts.
 */
import type { FastifyPluginCallbackZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { nameParams } from "../../../contracts/api";
import { backupContentQuery, backupIdSchema, backupListView, backupView, type BackupView } from "../../../contracts/backup";
import type { Backups, BackupRow } from "../../backups/backups";
import type { Principal } from "../auth";
import { problemSchema, problems } from "../problems";

export interface BackupRouteOptions {
    readonly backups: Backups;
}

const errors = { "4xx": problemSchema, "5xx": problemSchema };
const tags = ["backups"];
const backupParams = nameParams.extend({ id: backupIdSchema }).strict();
const idParams = z.object({ id: backupIdSchema }).strict();
const emptyBody = z.object({}).strict().nullish();

function who(principal: Principal | undefined): Principal {
    // The auth hook sets it on every non-public route; its absence is a wiring bug.
    if (principal === undefined) throw problems.unauthorized("no principal");
    return principal;
}

export function toBackupView(b: BackupRow): BackupView {
    return {
        id: b.id,
        database: b.database_name,
        owner: b.owner,
        type: b.type,
        status: b.status,
        db_size_bytes: b.db_size_bytes,
        backup_size_bytes: b.backup_size_bytes,
        server_major: b.server_major,
        requested_by: b.requested_by,
        started_at: b.started_at.toISOString(),
        finished_at: b.finished_at === null ? null : b.finished_at.toISOString(),
        error: b.error,
        links: { self: `/databases/${b.database_name}/backups/${b.id}` },
    };
}

export const backupRoutes: FastifyPluginCallbackZod<BackupRouteOptions> = (app, { backups }, done) => {
    app.post("/databases/:name/backups", {
        schema: {
            summary: "Start a backup (pg_dump -Fc) of a ready database (owner or admin); it runs in the background",
            description: "Answers 202 with the backup (status running). Poll its self link until succeeded or failed.",
            tags, params: nameParams, body: emptyBody, response: { 202: backupView, ...errors },
        },
    }, async (req, reply) => {
        const b = await backups.begin(who(req.principal), req.params.name, req.id);
        const view = toBackupView(b);
        return reply.code(202).header("location", view.links.self).send(view);
    });

    app.get("/databases/:name/backups", {
        schema: {
            summary: "The backups of a database, newest first (yours; admins see all); rolled-off ones are not listed",
            tags, params: nameParams, response: { 200: backupListView, ...errors },
        },
    }, async (req) => ({ backups: (await backups.list(who(req.principal), req.params.name)).map(toBackupView) }));

    app.get("/databases/:name/backups/:id", {
        schema: { summary: "One backup: status, sizes, start and finish, the reason of a failure", tags, params: backupParams, response: { 200: backupView, ...errors } },
    }, async (req) => toBackupView(await backups.get(who(req.principal), req.params.name, req.params.id)));

    app.get("/backups/:id/content", {
        config: { public: true },
        schema: {
            summary: "A stored backup's bytes, for a new database's restore step: only with the signed URL the API put into its spec",
            description: "No bearer token: expires and sig (HMAC-SHA256, contracts/backup.ts) authorise one backup until expires. 403 for a bad or expired signature.",
            tags, security: [], params: idParams, querystring: backupContentQuery,
            response: { 200: z.string().meta({ description: "the pg_dump -Fc file", format: "binary" }), ...errors },
        },
    }, async (req, reply) => {
        const file = await backups.content(req.params.id, req.query.expires, req.query.sig, req.id);
        return reply.code(200)
            .header("content-type", "application/octet-stream")
            .header("content-length", String(file.sizeBytes))
            .header("cache-control", "no-store")
            // A stream bypasses the serializer; the typed 200 schema (a binary string) is for the OpenAPI document.
            .send(file.stream as unknown as string);
    });
    done();
};
