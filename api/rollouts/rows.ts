/**
 * SQL of the rollouts and rollout_steps tables (migration 50). SQL only; the
 * rules are in rollouts.ts (requests) and driver.ts (the steps' progress).
 */
import type { PatchType } from "./patchDecision";
import { named } from "../store/sql";
import type { Queryable } from "../store/rows";

export type RolloutState = "running" | "stopped_on_failure" | "succeeded";
export type StepState = "pending" | "running" | "succeeded" | "failed" | "skipped";

export interface RolloutRow {
    readonly id: number;
    readonly label: string;
    readonly from_images: string[];
    readonly to_image: string;
    readonly state: RolloutState;
    readonly started_by: string;
    readonly request_id: string | null;
    readonly started_at: Date;
    readonly updated_at: Date;
    readonly finished_at: Date | null;
}

export interface StepRow {
    readonly id: number;
    readonly rollout_id: number;
    readonly position: number;
    readonly database_id: number;
    readonly database_name: string;
    readonly previous_image: string;
    readonly new_image: string;
    readonly patch_type: PatchType | null;
    readonly state: StepState;
    readonly reason: string | null;
    readonly operation_id: number | null;
    readonly attempts: number;
    readonly output_excerpt: string | null;
    readonly started_at: Date | null;
    readonly finished_at: Date | null;
}

/** A rollout with how many of its steps are in each state. */
export interface ListedRollout extends RolloutRow {
    readonly counts: Readonly<Record<StepState, number>>;
}

export interface NewStep {
    readonly databaseId: number;
    readonly databaseName: string;
    readonly previousImage: string;
    readonly patchType: PatchType | null;
    readonly state: "pending" | "skipped";
    readonly reason: string | null;
}

/** Inserts the rollout and its steps in `position` order; a second running rollout of the label violates rollouts_one_running. */
export async function insertRollout(q: Queryable, r: { label: string; fromImages: readonly string[]; toImage: string; startedBy: string; requestId: string | null }, steps: readonly NewStep[]): Promise<RolloutRow> {
    const row = (await q.query<RolloutRow>(named(
        `INSERT INTO rollouts (label, from_images, to_image, state, started_by, request_id) VALUES ($1, $2, $3, 'running', $4, $5) RETURNING *`,
        [r.label, JSON.stringify(r.fromImages), r.toImage, r.startedBy, r.requestId]))).rows[0] as RolloutRow;
    await q.query(named(
        `INSERT INTO rollout_steps (rollout_id, position, database_id, database_name, previous_image, new_image, patch_type, state, reason, finished_at)
         SELECT $1, x.n, (x.el->>'databaseId')::bigint, x.el->>'databaseName', x.el->>'previousImage', $2, x.el->>'patchType', x.el->>'state', x.el->>'reason',
                CASE WHEN x.el->>'state' = 'skipped' THEN clock_timestamp() END
         FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS x(el, n)`,
        [row.id, r.toImage, JSON.stringify(steps)]));
    return row;
}

export async function rolloutById(q: Queryable, id: number): Promise<RolloutRow | undefined> {
    return (await q.query<RolloutRow>(named(`SELECT * FROM rollouts WHERE id = $1`, [id]))).rows[0];
}

/**
 * Locks a rollout for the caller's transaction. With `skipLocked` (the
 * driver), a rollout another replica is advancing is passed over.
 */
export async function lockRollout(q: Queryable, id: number, skipLocked: boolean): Promise<RolloutRow | undefined> {
    return (await q.query<RolloutRow>(named(`SELECT * FROM rollouts WHERE id = $1 FOR UPDATE${skipLocked ? " SKIP LOCKED" : ""}`, [id]))).rows[0];
}

const COUNTS = `(SELECT jsonb_build_object(
        'pending', count(*) FILTER (WHERE s.state = 'pending'), 'running', count(*) FILTER (WHERE s.state = 'running'),
        'succeeded', count(*) FILTER (WHERE s.state = 'succeeded'), 'failed', count(*) FILTER (WHERE s.state = 'failed'),
        'skipped', count(*) FILTER (WHERE s.state = 'skipped'))
     FROM rollout_steps s WHERE s.rollout_id = r.id) AS counts`;

/** Rollouts newest first, optionally of one label, before id `before` (paging). */
export async function listRollouts(q: Queryable, f: { label?: string; before?: number; limit: number }): Promise<ListedRollout[]> {
    return (await q.query<ListedRollout>(named(
        `SELECT r.*, ${COUNTS} FROM rollouts r
         WHERE ($1::text IS NULL OR r.label = $1) AND ($2::bigint IS NULL OR r.id < $2)
         ORDER BY r.id DESC LIMIT $3`,
        [f.label ?? null, f.before ?? null, f.limit]))).rows;
}

export async function listedRollout(q: Queryable, id: number): Promise<ListedRollout | undefined> {
    return (await q.query<ListedRollout>(named(`SELECT r.*, ${COUNTS} FROM rollouts r WHERE r.id = $1`, [id]))).rows[0];
}

export async function stepsOf(q: Queryable, rolloutId: number): Promise<StepRow[]> {
    return (await q.query<StepRow>(named(`SELECT * FROM rollout_steps WHERE rollout_id = $1 ORDER BY position`, [rolloutId]))).rows;
}

/** Ids of the running rollouts, oldest first (what the driver advances). */
export async function runningRolloutIds(q: Queryable): Promise<number[]> {
    return (await q.query<{ id: number }>(named(`SELECT id FROM rollouts WHERE state = 'running' ORDER BY id`, []))).rows.map((r) => r.id);
}

export async function setRolloutState(q: Queryable, id: number, state: RolloutState): Promise<void> {
    await q.query(named(
        `UPDATE rollouts SET state = $2, updated_at = clock_timestamp(), finished_at = CASE WHEN $2 = 'running' THEN NULL ELSE clock_timestamp() END WHERE id = $1`,
        [id, state]));
}

/** A step taken: its operation, the image it moves from (as the database had it when its turn came) and the patch type. */
export async function startStep(q: Queryable, stepId: number, s: { operationId: number; previousImage: string; patchType: PatchType }): Promise<void> {
    await q.query(named(
        `UPDATE rollout_steps SET state = 'running', operation_id = $2, previous_image = $3, patch_type = $4, attempts = attempts + 1,
            reason = NULL, output_excerpt = NULL, started_at = clock_timestamp(), finished_at = NULL WHERE id = $1`,
        [stepId, s.operationId, s.previousImage, s.patchType]));
}

export async function endStep(q: Queryable, stepId: number, s: { state: "succeeded" | "failed" | "skipped"; reason: string | null; outputExcerpt: string | null }): Promise<void> {
    await q.query(named(
        `UPDATE rollout_steps SET state = $2, reason = $3, output_excerpt = coalesce($4, output_excerpt), finished_at = clock_timestamp() WHERE id = $1`,
        [stepId, s.state, s.reason, s.outputExcerpt]));
}

/** Resume: the failed steps of a stopped rollout go back to pending (their reason and excerpt stay until they run again). */
export async function reopenFailedSteps(q: Queryable, rolloutId: number): Promise<number> {
    const r = await q.query(named(`UPDATE rollout_steps SET state = 'pending', finished_at = NULL WHERE rollout_id = $1 AND state = 'failed'`, [rolloutId]));
    return r.rowCount ?? 0;
}

/** The progress messages of an operation, in order: what a step's output excerpt is cut from. */
export async function operationOutput(q: Queryable, operationId: number): Promise<string> {
    const r = await q.query<{ line: string }>(named(
        `SELECT concat_ws(' ', kind, coalesce(data->>'name', ''), coalesce(data->>'op', ''), coalesce(data->>'message', data->>'reason', data->>'status', '')) AS line
         FROM operation_events WHERE operation_id = $1 ORDER BY id`, [operationId]));
    return r.rows.map((x) => x.line.replace(/\s+/g, " ").trim()).join("\n");
}

/** The live databases of a catalog label, in the order a rollout patches them (by name). */
export async function databasesOfLabel(q: Queryable, label: string): Promise<{ id: number; name: string; state: string; image: string }[]> {
    return (await q.query<{ id: number; name: string; state: string; image: string }>(named(
        `SELECT id, name, state, spec->>'image' AS image FROM databases WHERE version = $1 AND state NOT IN ('deleted', 'deleting') ORDER BY name, id`,
        [label]))).rows;
}
