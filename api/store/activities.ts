/**
 * Activities (the life of a database as events) and their notes, in the
 * activities and activity_notes tables. SQL only: who may read or write them
 * is decided in domain/activities.ts. Every writer takes the caller's
 * transaction, so an activity commits with the state change it records.
 */
import type { ActivityKind } from "../../contracts/activities";
import type { Queryable } from "./rows";
import { named } from "./sql";

export interface ActivityRow {
    readonly id: number;
    readonly database_id: number;
    readonly database_name: string;
    readonly kind: ActivityKind;
    readonly planned: boolean;
    readonly operation_id: number | null;
    readonly actor: string;
    readonly detail: Record<string, unknown>;
    readonly at: Date;
}

export interface NoteRow {
    readonly id: number;
    readonly activity_id: number;
    readonly author: string;
    readonly text: string;
    readonly ticket_url: string | null;
    readonly at: Date;
}

export interface NewActivity {
    readonly databaseId: number;
    readonly databaseName: string;
    readonly kind: ActivityKind;
    readonly planned?: boolean;
    readonly operationId?: number | null;
    readonly actor: string;
    readonly detail?: Readonly<Record<string, unknown>>;
}

export async function insertActivity(c: Queryable, a: NewActivity): Promise<ActivityRow> {
    const r = await c.query<ActivityRow>(named(
        `INSERT INTO activities (database_id, database_name, kind, planned, operation_id, actor, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
        [a.databaseId, a.databaseName, a.kind, a.planned ?? true, a.operationId ?? null, a.actor, JSON.stringify(a.detail ?? {})]));
    return r.rows[0] as ActivityRow;
}

/** Newest first, each with its notes (oldest note first); `before` is the last id of the previous page. */
export async function listActivities(q: Queryable, databaseId: number, page: { before?: number; limit: number }): Promise<(ActivityRow & { notes: NoteRow[] })[]> {
    // Limit in the text, not bound, for the reason given in AdminStore.listDatabases.
    const r = await q.query<ActivityRow & { notes: NoteRow[] }>(named(
        `SELECT a.*, coalesce((SELECT json_agg(json_build_object('id', n.id, 'activity_id', n.activity_id, 'author', n.author, 'text', n.text,
                    'ticket_url', n.ticket_url, 'at', n.at) ORDER BY n.id) FROM activity_notes n WHERE n.activity_id = a.id), '[]'::json) AS notes
         FROM activities a WHERE a.database_id = $1 AND ($2::bigint IS NULL OR a.id < $2)
         ORDER BY a.id DESC LIMIT ${Math.trunc(page.limit)}`,
        [databaseId, page.before ?? null]));
    // Notes come back as JSON, so their times are text; the row type promises Dates.
    return r.rows.map((row) => ({ ...row, notes: row.notes.map((n) => ({ ...n, at: new Date(n.at as unknown as string) })) }));
}

export async function activityById(q: Queryable, id: number): Promise<ActivityRow | undefined> {
    return (await q.query<ActivityRow>(named(`SELECT * FROM activities WHERE id = $1`, [id]))).rows[0];
}

export async function insertNote(c: Queryable, n: { activityId: number; author: string; text: string; ticketUrl: string | null }): Promise<NoteRow> {
    const r = await c.query<NoteRow>(named(
        `INSERT INTO activity_notes (activity_id, author, text, ticket_url) VALUES ($1, $2, $3, $4) RETURNING *`,
        [n.activityId, n.author, n.text, n.ticketUrl]));
    return r.rows[0] as NoteRow;
}
