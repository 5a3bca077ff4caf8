/**
 * The rules of activities (written by activityLog.ts in the transaction of
 * each change): the owner or an admin reads them and adds notes (with an
 * optional https ticket link), each note also an audit entry; unplanned events (the container died, came
 * back, restarted by itself) come from the engine-side watcher through
 * `recordUnplanned`; patch outcomes from the rollout through
 * `recordPatchOutcome` (activityLog.ts).
 */
import type { NoteBody, UnplannedKind } from "../../contracts/activities";
import type { Principal } from "../http/auth";
import { ApiProblem, problems } from "../http/problems";
import { activityById, insertNote, listActivities, type ActivityRow, type NoteRow } from "../store/activities";
import type { Queryable } from "../store/rows";
import type { AdminStore, DatabaseRow } from "../store/store";
import { recordActivity } from "./activityLog";
import { isVisibleTo } from "./databases";

export interface ActivityPage {
    readonly rows: (ActivityRow & { notes: NoteRow[] })[];
    readonly next: number | null;
}

export class Activities {
    constructor(private readonly store: AdminStore) {}

    /** A database the principal may see (404 otherwise; the newest row of that name, deleted ones too). */
    async #visible(who: Principal, name: string, q: Queryable = this.store.pool): Promise<DatabaseRow> {
        const db = await this.store.findDatabase(name, q);
        if (db === undefined || !isVisibleTo(db, who)) throw problems.notFound(`database "${name}"`);
        return db;
    }

    async list(who: Principal, name: string, page: { before?: number; limit: number }): Promise<ActivityPage> {
        const db = await this.#visible(who, name);
        const rows = await listActivities(this.store.pool, db.id, { ...(page.before === undefined ? {} : { before: page.before }), limit: page.limit + 1 });
        const shown = rows.slice(0, page.limit);
        return { rows: shown, next: rows.length > page.limit ? (shown[shown.length - 1]?.id ?? null) : null };
    }

    /** A note on one of the database's activities, by its owner or an admin; audited as activity.note in the same transaction. */
    async addNote(who: Principal, name: string, activityId: number, body: NoteBody, requestId: string): Promise<NoteRow> {
        return this.store.tx(async (c) => {
            const db = await this.#visible(who, name, c);
            const activity = await activityById(c, activityId);
            if (activity === undefined || activity.database_id !== db.id) {
                const rule = `an activity of database "${db.name}" (see GET /databases/${db.name}/activities)`;
                throw new ApiProblem(404, "not-found", "Not found", `params.id: expected ${rule}; activity ${activityId} is not one`, { errors: [{ field: "params.id", rule }] });
            }
            const note = await insertNote(c, { activityId, author: who.subject, text: body.text, ticketUrl: body.ticket_url ?? null });
            await this.store.appendAudit(c, {
                actor: who.subject, action: "activity.note", database: db.name, operationId: activity.operation_id, outcome: "accepted", requestId,
                detail: { activity_id: activityId, activity: activity.kind, note_id: note.id, text: note.text, ...(note.ticket_url === null ? {} : { ticket_url: note.ticket_url }) },
            });
            return note;
        });
    }

    /**
     * For the engine-side watcher: something happened to a live database that
     * nobody asked for (its container or pod went down, came back, or was
     * restarted by its runtime). Records the unplanned activity and tells the
     * project's contacts, in one transaction. Answers undefined when no live
     * database has that name (a watcher racing a delete).
     */
    async recordUnplanned(name: string, kind: UnplannedKind, detail: Readonly<Record<string, unknown>> = {}): Promise<ActivityRow | undefined> {
        return this.store.tx(async (c) => {
            const db = await this.store.findDatabase(name, c, true);
            if (db === undefined || db.state === "deleted" || db.state === "deleting") return undefined;
            const what = kind === "down" ? "went down" : kind === "up" ? "is up again" : "restarted by itself";
            const row = await recordActivity(c, db, { kind, planned: false, actor: "watcher", detail }, { kind: "unplanned", summary: `${db.name} ${what} (unplanned)` });
            await this.store.appendAudit(c, { actor: "watcher", action: "activity.unplanned", database: db.name, outcome: kind, detail: { activity_id: row.id, ...detail } });
            return row;
        });
    }
}
