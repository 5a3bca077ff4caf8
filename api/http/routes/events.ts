/**
 * GET /databases/:name/events: Server-Sent Events of one operation (the
 * database's current one, or ?operation=<id>). Stored events are replayed
 * first (after Last-Event-ID when given), then new ones are sent as they are
 * stored (LISTEN/NOTIFY, so it works across replicas), with heartbeat
 * comments; the stream ends after the operation's `end` event.
 */
import type { FastifyPluginCallbackZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { problemSchema, problems } from "../problems";
import { eventsQuery, nameParams } from "../../../contracts/api";
import type { Databases } from "../../domain/databases";
import type { NotificationHub } from "../../store/notifications";
import { coalesced } from "../../coalesce";
import { eventsAfter, operationById, type EventRow } from "../../store/queue";
import type { AdminStore } from "../../store/store";

export interface EventRouteOptions {
    readonly databases: Databases;
    readonly store: AdminStore;
    readonly hub: NotificationHub | undefined;
    readonly heartbeatMs: number;
}

/** One SSE frame. Data is one JSON line, so no newline can split it. */
export function sseFrame(e: Pick<EventRow, "id" | "kind" | "data">): string {
    return `id: ${e.id}\nevent: ${e.kind}\ndata: ${JSON.stringify(e.data)}\n\n`;
}

/** The numeric Last-Event-ID header, or 0. */
export function lastEventId(header: string | string[] | undefined): number {
    const v = Array.isArray(header) ? header[0] : header;
    return v !== undefined && /^\d{1,15}$/.test(v) ? Number(v) : 0;
}

export const eventRoutes: FastifyPluginCallbackZod<EventRouteOptions> = (app, { databases, store, hub, heartbeatMs }, done) => {
    // Open streams end when the server closes; otherwise they would hold the shutdown open.
    const open = new Set<() => void>();
    app.addHook("preClose", (hookDone) => {
        for (const close of open) close();
        hookDone();
    });

    app.get("/databases/:name/events", {
        schema: {
            summary: "Progress of the database's current operation (or ?operation=<id>) as Server-Sent Events, ending with an `end` event",
            tags: ["databases"], params: nameParams, querystring: eventsQuery,
            response: {
                200: { description: "text/event-stream: events status, resource-start, resource-done, resource-failed, diagnostic, summary, end", content: { "text/event-stream": { schema: z.string() } } },
                "4xx": problemSchema,
            },
        },
    }, async (req, reply) => {
        if (req.principal === undefined) throw problems.unauthorized("no principal");
        const { db } = await databases.get(req.principal, req.params.name);
        const opId = req.query.operation ?? db.current_operation_id;
        const op = opId === null ? undefined : await operationById(store.pool, opId);
        if (op === undefined || op.database_id !== db.id) throw problems.notFound(`operation ${opId ?? "(none)"} of database "${db.name}"`, "query.operation");

        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, {
            "content-type": "text/event-stream; charset=utf-8",
            "cache-control": "no-cache, no-transform",
            connection: "keep-alive",
            // nginx must not buffer the stream.
            "x-accel-buffering": "no",
            "x-request-id": req.id,
        });
        res.write(`retry: 2000\n\n`);

        let after = lastEventId(req.headers["last-event-id"]);
        let closed = false;
        const close = () => {
            if (closed) return;
            closed = true;
            open.delete(close);
            clearInterval(heartbeat);
            hub?.off("event", onEvent);
            res.end();
        };
        open.add(close);
        // One read at a time; a wake-up during a read causes one more.
        const pump = coalesced(async () => {
            try {
                let full = true;
                while (full && !closed) {
                    const rows = await eventsAfter(store.pool, op.id, after);
                    for (const e of rows) {
                        if (closed) return;
                        res.write(sseFrame(e));
                        after = e.id;
                        if (e.kind === "end") {
                            close();
                            return;
                        }
                    }
                    // A full page: there may be more right away.
                    full = rows.length === 500;
                }
            } catch (e) {
                req.log.warn({ err: (e as Error).message }, "SSE: reading events failed");
                close();
            }
        });
        const onEvent = (id: number) => {
            if (id === op.id) pump();
        };
        hub?.on("event", onEvent);
        // Heartbeats keep proxies from timing the stream out; each also polls, covering a lost notification.
        const heartbeat = setInterval(() => {
            if (!closed) res.write(": heartbeat\n\n");
            pump();
        }, hub?.connected ? heartbeatMs : Math.min(heartbeatMs, 1000));
        req.raw.on("close", close);
        pump();
        await pump.idle();
    });
    done();
};
