/**
 * Writing activities: every lifecycle event of a database is one, written
 * in the transaction of the change it records (jobs/complete.ts,
 * domain/databases.ts, store.ts for `created`). Failures, unplanned events
 * and patch outcomes also queue a notification to the project's contacts
 * (store/contacts.ts) in that transaction. Kept apart from activities.ts
 * (the reading and note rules) so domain/databases.ts can import it without a cycle.
 */
import type { ActivityKind, NotificationKind } from "../../contracts/activities";
import { insertActivity, type ActivityRow } from "../store/activities";
import { enqueueNotification } from "../store/contacts";
import type { Queryable } from "../store/rows";
import type { DatabaseRow } from "../store/store";

/** The database fields an activity and its notification need. */
export type ActivityDatabase = Pick<DatabaseRow, "id" | "name" | "project_id" | "owner">;

export interface ActivityInput {
    readonly kind: ActivityKind;
    readonly planned?: boolean;
    readonly operationId?: number | null;
    readonly actor: string;
    readonly detail?: Readonly<Record<string, unknown>>;
}

/**
 * Writes an activity in the caller's transaction; with `notify`, also the
 * notification to the project's contacts (same transaction).
 */
export async function recordActivity(c: Queryable, db: ActivityDatabase, a: ActivityInput, notify?: { kind: NotificationKind; summary: string }): Promise<ActivityRow> {
    const row = await insertActivity(c, { databaseId: db.id, databaseName: db.name, kind: a.kind, planned: a.planned ?? true, operationId: a.operationId ?? null, actor: a.actor, ...(a.detail === undefined ? {} : { detail: a.detail }) });
    if (notify !== undefined) {
        await enqueueNotification(c, {
            projectId: db.project_id, database: db.name, kind: notify.kind, summary: notify.summary,
            data: { activity_id: row.id, activity: a.kind, planned: row.planned, owner: db.owner, at: row.at.toISOString(), ...(a.detail ?? {}) },
        });
    }
    return row;
}

/** What the rollout reports for one database it patched (or failed to). */
export interface PatchOutcome {
    readonly outcome: "succeeded" | "failed";
    readonly previousImage: string;
    readonly newImage: string;
    /** "database" (a new PostgreSQL image) or "os" (the same PostgreSQL on a rebuilt base). */
    readonly patchType: "database" | "os";
    /** A short excerpt of the patch output (already truncated by the caller; nothing secret). */
    readonly outputExcerpt?: string;
    readonly rolloutId?: number;
    readonly operationId?: number | null;
}

/**
 * For the rolling-patch code: records `patched` (or `failed` when the patch
 * failed) and tells the project's contacts the outcome, in the rollout's
 * transaction.
 */
export async function recordPatchOutcome(c: Queryable, db: ActivityDatabase, p: PatchOutcome, actor = "rollout"): Promise<ActivityRow> {
    const detail = {
        outcome: p.outcome, previous_image: p.previousImage, new_image: p.newImage, patch_type: p.patchType,
        ...(p.outputExcerpt === undefined ? {} : { output_excerpt: p.outputExcerpt.slice(0, 2000) }),
        ...(p.rolloutId === undefined ? {} : { rollout_id: p.rolloutId }),
    };
    return recordActivity(c, db, { kind: p.outcome === "succeeded" ? "patched" : "failed", actor, operationId: p.operationId ?? null, detail }, {
        kind: "patch",
        summary: `${db.name}: patch ${p.previousImage} → ${p.newImage} ${p.outcome}`,
    });
}
