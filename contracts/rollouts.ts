/**
 * The wire contract of rolling patches (`POST /versions/:label/rollout`,
 * `GET /rollouts`, `GET /rollouts/:id`, `POST /rollouts/:id/resume`): the
 * API validates and serialises with these schemas, /openapi.json shows them
 * and the dashboard's Rollouts page types its fetches with them. Pure: no I/O.
 */
import { z } from "zod";
import { IMAGE_REFERENCE_HINT, isValidImageReference } from "./catalog";

export const ROLLOUT_STATES = ["running", "stopped_on_failure", "succeeded"] as const;
export const STEP_STATES = ["pending", "running", "succeeded", "failed", "skipped"] as const;
export const PATCH_TYPES = ["database", "os"] as const;

export const rolloutLabelParams = z.object({
    label: z.string().min(1).max(64, "a catalog label of at most 64 characters"),
}).strict();

export const rolloutIdParams = z.object({
    id: z.coerce.number().int("a whole number").min(1, "a rollout id (a positive whole number)").max(Number.MAX_SAFE_INTEGER),
}).strict();

/**
 * The body of `POST /versions/:label/rollout`. `image` is optional: when
 * given, the rollout starts only if the catalog holds exactly that image for
 * the label (a guard against rolling out a catalog other than the one the
 * operator has in mind).
 */
export const startRolloutBody = z.object({
    image: z.string().refine(isValidImageReference, { message: IMAGE_REFERENCE_HINT }).optional(),
}).strict().meta({ id: "StartRollout" });
export type StartRolloutBody = z.output<typeof startRolloutBody>;

export const rolloutsQuery = z.object({
    label: z.string().min(1).max(64).optional(),
    before: z.coerce.number().int("a whole number").min(1).max(Number.MAX_SAFE_INTEGER).optional(),
    limit: z.coerce.number().int("a whole number").min(1, "at least 1").max(200, "at most 200").default(50),
}).strict();

export const rolloutStepView = z.object({
    position: z.number().int(),
    database: z.string(),
    previous_image: z.string(),
    new_image: z.string(),
    /** null for a step skipped before it ran (no patch applies). */
    patch_type: z.enum(PATCH_TYPES).nullable(),
    state: z.enum(STEP_STATES),
    /** Why a step failed or was skipped. */
    reason: z.string().nullable(),
    operation_id: z.number().int().nullable(),
    attempts: z.number().int(),
    /** The end of the patch's output, secrets redacted. */
    output_excerpt: z.string().nullable(),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
}).meta({ id: "RolloutStep" });
export type RolloutStepView = z.output<typeof rolloutStepView>;

export const rolloutView = z.object({
    id: z.number().int(),
    label: z.string(),
    from_images: z.array(z.string()),
    to_image: z.string(),
    state: z.enum(ROLLOUT_STATES),
    started_by: z.string(),
    started_at: z.string(),
    updated_at: z.string(),
    finished_at: z.string().nullable(),
    counts: z.object({ pending: z.number().int(), running: z.number().int(), succeeded: z.number().int(), failed: z.number().int(), skipped: z.number().int() }),
    links: z.object({ self: z.string(), resume: z.string() }),
}).meta({ id: "Rollout" });
export type RolloutView = z.output<typeof rolloutView>;

export const rolloutDetailView = rolloutView.extend({ steps: z.array(rolloutStepView) }).meta({ id: "RolloutDetail" });
export type RolloutDetailView = z.output<typeof rolloutDetailView>;

export const rolloutListView = z.object({
    rollouts: z.array(rolloutView),
    /** Pass as `before` for the next page; null on the last. */
    next: z.number().int().nullable(),
}).meta({ id: "RolloutList" });
export type RolloutListView = z.output<typeof rolloutListView>;
