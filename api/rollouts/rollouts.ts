/**
 * The rules of rolling patches, for the routes: who (admins only: a patch
 * replaces other people's servers), when a rollout may start (the catalog's
 * image for the label is a patch of what the databases run: a newer minor of
 * the same major, or the same tag rebuilt; a major change is refused, it needs
 * an upgrade), one running rollout per label, and resuming a rollout that
 * stopped on a failure. The steps themselves are advanced by driver.ts.
 * Each accepted request commits the rollout, its steps and its audit entry in
 * one transaction; refusals are audited too.
 */
import type { VersionCatalog } from "../../contracts/catalog";
import type { RolloutDetailView, RolloutListView, RolloutView, StartRolloutBody } from "../../contracts/rollouts";
import type { Principal } from "../http/auth";
import { ApiProblem, invalidField, problems } from "../http/problems";
import type { AdminStore } from "../store/store";
import { decidePatch } from "./patchDecision";
import { databasesOfLabel, insertRollout, listedRollout, listRollouts, lockRollout, reopenFailedSteps, setRolloutState, stepsOf, type ListedRollout, type NewStep, type StepRow } from "./rows";

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

export function rolloutView(r: ListedRollout): RolloutView {
    return {
        id: r.id, label: r.label, from_images: r.from_images, to_image: r.to_image, state: r.state, started_by: r.started_by,
        started_at: r.started_at.toISOString(), updated_at: r.updated_at.toISOString(), finished_at: iso(r.finished_at),
        counts: { pending: r.counts.pending, running: r.counts.running, succeeded: r.counts.succeeded, failed: r.counts.failed, skipped: r.counts.skipped },
        links: { self: `/rollouts/${r.id}`, resume: `/rollouts/${r.id}/resume` },
    };
}

export function stepView(s: StepRow): RolloutDetailView["steps"][number] {
    return {
        position: s.position, database: s.database_name, previous_image: s.previous_image, new_image: s.new_image, patch_type: s.patch_type,
        state: s.state, reason: s.reason, operation_id: s.operation_id, attempts: s.attempts, output_excerpt: s.output_excerpt,
        started_at: iso(s.started_at), finished_at: iso(s.finished_at),
    };
}

function requireAdmin(who: Principal): void {
    if (who.role !== "admin") throw problems.forbidden("header.authorization", "an admin token (rolling patches replace every database of a label, so they are for admins)");
}

function refusal(status: 409 | 422, field: string, rule: string, refusalCode: string, extra: Record<string, unknown> = {}): ApiProblem {
    return new ApiProblem(status, status === 409 ? "conflict" : "invalid-request", status === 409 ? "Conflict with the current state" : "The request is not valid",
        `${field}: expected ${rule}`, { errors: [{ field, rule }], refusal: refusalCode, ...extra });
}

/** A unique violation of rollouts_one_running: another rollout of the label runs. */
function isOneRunningViolation(e: unknown): boolean {
    return typeof e === "object" && e !== null && (e as { code?: string }).code === "23505" && (e as { constraint?: string }).constraint === "rollouts_one_running";
}

export class Rollouts {
    constructor(private readonly store: AdminStore, private readonly catalog: VersionCatalog, private readonly onChange: () => void = () => undefined) {}

    /** Starts a rollout of the catalog's image for `label` over the label's live databases, by name. */
    async start(who: Principal, label: string, body: StartRolloutBody, requestId: string): Promise<RolloutDetailView> {
        try {
            requireAdmin(who);
            const entry = this.catalog.find((v) => v.label === label);
            if (entry === undefined) {
                throw invalidField("params.label", `a label of the version catalog (one of: ${this.catalog.map((v) => JSON.stringify(v.label)).join(", ")})`);
            }
            const to = entry.image;
            if (body.image !== undefined && body.image !== to) {
                throw refusal(409, "body.image", `the image the catalog holds for ${label} (${to}, not ${body.image}); deploy the platform stack with the new image first`, "catalog_mismatch");
            }
            const id = await this.store.tx(async (c) => {
                const dbs = await databasesOfLabel(c, label);
                const decided = dbs.map((d) => ({ d, decision: decidePatch(d.image, to) }));
                const majors = decided.filter((x) => !x.decision.ok && x.decision.refusal === "major_change");
                if (majors.length > 0) {
                    const first = majors[0]?.decision;
                    throw refusal(422, "params.label", `a label whose catalog image is a patch of what its databases run; ${first !== undefined && !first.ok ? first.reason : "the major version changes"} (${majors.map((m) => m.d.name).join(", ")})`, "major_change");
                }
                const steps: NewStep[] = [];
                for (const { d, decision } of decided) {
                    if (decision.ok) steps.push({ databaseId: d.id, databaseName: d.name, previousImage: d.image, patchType: decision.type, state: "pending", reason: null });
                    // Already current: not a step. Anything else is shown as skipped with its reason.
                    else if (decision.refusal !== "nothing_to_patch") steps.push({ databaseId: d.id, databaseName: d.name, previousImage: d.image, patchType: null, state: "skipped", reason: `${decision.refusal}: ${decision.reason}` });
                }
                if (!steps.some((s) => s.state === "pending")) {
                    throw refusal(409, "params.label", `a label with a database to patch (${dbs.length === 0 ? "it has no live databases" : `every live database of it runs ${to} already or cannot be patched to it`})`, "nothing_to_patch");
                }
                const fromImages = [...new Set(steps.filter((s) => s.state === "pending").map((s) => s.previousImage))].sort();
                const row = await insertRollout(c, { label, fromImages, toImage: to, startedBy: who.subject, requestId }, steps);
                await this.store.appendAudit(c, { actor: who.subject, action: "rollout.start", database: null, outcome: "accepted", requestId, detail: { rollout: row.id, label, from_images: fromImages, to_image: to, databases: steps.filter((s) => s.state === "pending").map((s) => s.databaseName) } });
                return row.id;
            }).catch((e: unknown) => {
                if (isOneRunningViolation(e)) throw refusal(409, "params.label", `a label without a running rollout (one is running for ${label}; watch it at GET /rollouts?label=...)`, "already_running");
                throw e;
            });
            this.onChange();
            return this.#detail(id);
        } catch (e) {
            await this.#auditRefusal(who, "rollout.start", requestId, e, { label });
            throw e;
        }
    }

    async list(who: Principal, f: { label?: string; before?: number; limit: number }): Promise<RolloutListView> {
        requireAdmin(who);
        const rows = await listRollouts(this.store.pool, f);
        const last = rows[rows.length - 1];
        return { rollouts: rows.map(rolloutView), next: rows.length === f.limit && last !== undefined ? last.id : null };
    }

    async get(who: Principal, id: number): Promise<RolloutDetailView> {
        requireAdmin(who);
        return this.#detail(id);
    }

    /**
     * Resumes a rollout that stopped on a failure: its failed step runs again
     * (on the database the failure left failed), then the pending ones. Only
     * while the catalog still holds the rollout's image for the label.
     */
    async resume(who: Principal, id: number, requestId: string): Promise<RolloutDetailView> {
        try {
            requireAdmin(who);
            await this.store.tx(async (c) => {
                const r = await lockRollout(c, id, false);
                if (r === undefined) throw notFound(id);
                if (r.state !== "stopped_on_failure") throw problems.conflict("params.id", `a rollout that stopped on a failure (it is ${r.state})`, r.state);
                const current = this.catalog.find((v) => v.label === r.label)?.image;
                if (current !== r.to_image) {
                    throw refusal(409, "params.id", `a rollout whose image the catalog still holds (the catalog has ${current ?? "no such label"} for ${r.label} now, the rollout ${r.to_image}); start a new rollout`, "catalog_changed");
                }
                const reopened = await reopenFailedSteps(c, id);
                await setRolloutState(c, id, "running");
                await this.store.appendAudit(c, { actor: who.subject, action: "rollout.resume", database: null, outcome: "accepted", requestId, detail: { rollout: id, label: r.label, reopened_steps: reopened } });
            }).catch((e: unknown) => {
                if (isOneRunningViolation(e)) throw refusal(409, "params.id", "a label without another running rollout (a newer one runs; let it finish)", "already_running");
                throw e;
            });
            this.onChange();
            return this.#detail(id);
        } catch (e) {
            await this.#auditRefusal(who, "rollout.resume", requestId, e, { rollout: id });
            throw e;
        }
    }

    async #detail(id: number): Promise<RolloutDetailView> {
        const r = await listedRollout(this.store.pool, id);
        if (r === undefined) throw notFound(id);
        return { ...rolloutView(r), steps: (await stepsOf(this.store.pool, id)).map(stepView) };
    }

    /** Refused starts and resumes are audited, a non-admin's attempt too. */
    async #auditRefusal(who: Principal, action: string, requestId: string, e: unknown, detail: Record<string, unknown>): Promise<void> {
        if (!(e instanceof ApiProblem) || ![403, 409, 422].includes(e.status)) return;
        await this.store.appendAudit(this.store.pool, { actor: who.subject, action, database: null, outcome: "refused", requestId, detail: { ...detail, status: e.status, refusal: e.extra.refusal ?? null, reason: e.detail } });
    }
}

function notFound(id: number): ApiProblem {
    return new ApiProblem(404, "not-found", "Not found", `params.id: expected an existing rollout (${id} does not exist)`, { errors: [{ field: "params.id", rule: "an existing rollout" }] });
}
