/**
 * The life cycle of one on-demand database, as a table. The rules (`Databases`, databases.ts) ask
 * `transition` before it writes anything; an illegal step answers 409 with the
 * current state. Pure: no I/O.
 *
 *   (none) ─create─▶ creating ─succeed─▶ ready ─restart─▶ restarting ─succeed─▶ ready
 *                     │  ▲                                  │
 *                  fail/cancel                          fail/cancel
 *                     ▼  │retry                             ▼
 *                    failed ◀───────────────────────────────┘
 *   creating | ready | restarting | failed ─delete─▶ deleting ─succeed─▶ deleted
 *   deleting ─fail─▶ failed (so a stuck delete can be retried by deleting again)
 *   ready | failed ─patch─▶ restarting (a rollout step: the server replaced on a new image,
 *                            volume kept; from failed only when a stopped rollout resumes it)
 *
 * A failed database is retried with `POST /databases/:name/retry`, which runs
 * the create (an idempotent `up` of the stored spec) again; `POST /databases`
 * with a name that is taken answers 409 whatever the state.
 */
import type { DatabaseState } from "../../contracts/api";
/** What a request or an operation outcome asks of the database. */
export const DATABASE_ACTIONS = ["create", "retry", "restart", "delete", "cancel", "extend", "succeed", "fail", "patch"] as const;
export type DatabaseAction = (typeof DATABASE_ACTIONS)[number];

/** The operation kinds the job runner executes. */
export type OperationKind = "create" | "restart" | "delete" | "patch";

/**
 * state → action → next state. `extend` (PATCH ttl_hours) keeps the state.
 * `succeed`/`fail` are the outcome of the operation the state stands for.
 * Absent entries are illegal.
 */
export const TRANSITIONS: Readonly<Record<DatabaseState | "none", Readonly<Partial<Record<DatabaseAction, DatabaseState>>>>> = {
    none: { create: "creating" },
    creating: { succeed: "ready", fail: "failed", cancel: "failed", delete: "deleting", extend: "creating" },
    ready: { restart: "restarting", delete: "deleting", extend: "ready", patch: "restarting" },
    restarting: { succeed: "ready", fail: "failed", cancel: "failed", delete: "deleting", extend: "restarting" },
    failed: { retry: "creating", delete: "deleting", extend: "failed", patch: "restarting" },
    deleting: { succeed: "deleted", fail: "failed" },
    deleted: {},
};

export type TransitionResult =
    | { readonly ok: true; readonly next: DatabaseState }
    | { readonly ok: false; readonly current: DatabaseState | "none"; readonly allowed: readonly DatabaseAction[] };

/** The next state for `action` in `current`, or why it is illegal (with the actions that are allowed). */
export function transition(current: DatabaseState | "none", action: DatabaseAction): TransitionResult {
    const row = TRANSITIONS[current];
    const next = row[action];
    if (next !== undefined) return { ok: true, next };
    return { ok: false, current, allowed: Object.keys(row) as DatabaseAction[] };
}

/** The operation a request action starts, if any. */
export function operationFor(action: DatabaseAction): OperationKind | undefined {
    switch (action) {
        case "create":
        case "retry":
            return "create";
        case "restart":
            return "restart";
        case "delete":
            return "delete";
        case "patch":
            return "patch";
        default:
            return undefined;
    }
}
