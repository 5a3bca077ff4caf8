/**
 * Rolling patches (`#/rollouts`, admins): the rollouts newest first with their
 * step counts, a form that starts one for a catalog label, and
 * `#/rollouts/<id>`: one rollout with every step (database, previous and new
 * image, patch type, outcome, reason, output excerpt) and, when it stopped on
 * a failure, the Resume button. A refusal (major change, nothing to patch, a
 * rollout already running) is shown as the API words it. Pages that show a
 * running rollout refresh themselves.
 */
import type { RolloutDetailView, RolloutListView, RolloutView } from "../../contracts/rollouts";
import { ApiError } from "./api";
import type { Context, Screen } from "./context";
import { announce, append, h, stateBadge, when } from "./dom";

const REFRESH_MS = 2000;

function problemText(e: unknown): string {
    return e instanceof ApiError ? e.problem.detail || e.problem.title : e instanceof Error ? e.message : String(e);
}

function counts(r: RolloutView): string {
    const c = r.counts;
    return [`${c.succeeded} patched`, c.failed > 0 ? `${c.failed} failed` : "", c.running > 0 ? `${c.running} running` : "", c.pending > 0 ? `${c.pending} pending` : "", c.skipped > 0 ? `${c.skipped} skipped` : ""].filter((s) => s !== "").join(", ");
}

function table(caption: string, head: readonly string[], rows: readonly (readonly (string | Node)[])[], testId: string): HTMLElement {
    return h("div", { class: "table-wrap" }, h("table", { "data-testid": testId },
        h("caption", { class: "visually-hidden" }, caption),
        h("thead", {}, h("tr", {}, ...head.map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, ...rows.map((r) => h("tr", {}, ...r.map((c, i) => h("td", { "data-label": head[i] ?? "" }, c)))))));
}

/** `#/rollouts` or, with `id`, `#/rollouts/<id>`. */
export function rolloutsScreen(main: HTMLElement, ctx: Context, id?: number): Screen {
    if (ctx.identity.role !== "admin") {
        append(main, h("h1", {}, "Rollouts"), h("p", { role: "alert" }, "Rolling patches are for admins: they replace every database of a version."));
        return { dispose: () => undefined };
    }
    return id === undefined ? listScreen(main, ctx) : detailScreen(main, ctx, id);
}

function listScreen(main: HTMLElement, ctx: Context): Screen {
    const status = h("p", { class: "muted", "aria-live": "polite", id: "rollouts-status" }, "Loading…");
    const error = h("p", { role: "alert", id: "rollout-error", class: "form-error" });
    const body = h("div", { id: "rollouts-body" });
    const label = h("select", { id: "rollout-label", name: "label" });
    const start = h("button", { type: "submit", class: "primary" }, "Start rollout");
    let stopped = false;

    async function refresh(): Promise<void> {
        try {
            const r = await ctx.api.request<RolloutListView>("GET", "/rollouts?limit=50");
            if (stopped) return;
            body.replaceChildren(r.rollouts.length === 0
                ? h("p", { class: "muted" }, "No rollout yet.")
                : table("Rollouts", ["Rollout", "Version", "From", "To", "State", "Steps", "Started"], r.rollouts.map((x) => [
                    h("a", { href: `#/rollouts/${x.id}` }, `#${x.id}`), x.label, x.from_images.join(", "), x.to_image, stateBadge(x.state), counts(x), when(x.started_at),
                ]), "rollouts-table"));
            status.textContent = `${r.rollouts.length} rollout${r.rollouts.length === 1 ? "" : "s"}.`;
        } catch (e) {
            if (e instanceof ApiError && e.problem.status === 401) return ctx.signOut("The token is no longer accepted; sign in again.");
            status.textContent = `Could not load the rollouts: ${problemText(e)}`;
        }
    }

    const form = h("form", { class: "card", "aria-labelledby": "start-heading" },
        h("h2", { id: "start-heading" }, "Start a rollout"),
        h("p", { class: "help" }, "Patches every database of the version to the catalog's current image, one at a time; it stops at the first failure."),
        h("div", { class: "field inline" }, h("label", { for: "rollout-label" }, "Version"), label), start, error);
    form.addEventListener("submit", (e) => {
        e.preventDefault();
        error.textContent = "";
        start.disabled = true;
        ctx.api.request<RolloutDetailView>("POST", `/versions/${encodeURIComponent(label.value)}/rollout`).then((r) => {
            announce(`Rollout ${r.id} started`);
            ctx.navigate(`#/rollouts/${r.id}`);
        }).catch((err: unknown) => {
            error.textContent = problemText(err);
        }).finally(() => {
            start.disabled = false;
        });
    });
    append(main, h("div", { class: "title-row" }, h("h1", {}, "Rollouts"), h("a", { class: "button", href: "#/" }, "Databases")), form, status, body);
    ctx.api.versions().then((v) => {
        label.replaceChildren(...v.versions.map((x) => h("option", { value: x.label }, `${x.label} (${x.image})`)));
    }).catch((e: unknown) => {
        error.textContent = `Could not load the versions: ${problemText(e)}`;
    });
    void refresh();
    const timer = setInterval(() => {
        if (document.visibilityState === "visible") void refresh();
    }, REFRESH_MS);
    return { dispose: () => {
        stopped = true;
        clearInterval(timer);
    } };
}

function detailScreen(main: HTMLElement, ctx: Context, id: number): Screen {
    const status = h("p", { class: "muted", "aria-live": "polite", id: "rollout-status" }, "Loading…");
    const error = h("p", { role: "alert", id: "rollout-error", class: "form-error" });
    const facts = h("div", { id: "rollout-facts" });
    const steps = h("div", { id: "rollout-steps" });
    const resume = h("button", { type: "button", class: "primary" }, "Resume");
    // Holds the Resume button only while the rollout is stopped (the buttons' display rule would defeat `hidden`).
    const resumeSlot = h("span", {});
    let stopped = false;
    let last: string | undefined;

    function render(r: RolloutDetailView): void {
        facts.replaceChildren(h("dl", { class: "facts", "data-testid": "rollout-facts" },
            h("dt", {}, "Version"), h("dd", {}, r.label),
            h("dt", {}, "State"), h("dd", { "data-testid": "rollout-state" }, stateBadge(r.state)),
            h("dt", {}, "From"), h("dd", {}, r.from_images.join(", ")),
            h("dt", {}, "To"), h("dd", {}, r.to_image),
            h("dt", {}, "Steps"), h("dd", {}, counts(r)),
            h("dt", {}, "Started"), h("dd", {}, when(r.started_at), ` by ${r.started_by}`)));
        steps.replaceChildren(table("Steps", ["#", "Database", "Previous image", "New image", "Patch", "Outcome", "Reason", "Output"], r.steps.map((s) => [
            String(s.position), h("a", { href: `#/databases/${s.database}` }, s.database), s.previous_image, s.new_image, s.patch_type ?? "—", stateBadge(s.state), s.reason ?? "—",
            s.output_excerpt === null ? "—" : h("details", {}, h("summary", {}, "output"), h("pre", { class: "output" }, s.output_excerpt)),
        ]), "steps-table"));
        resumeSlot.replaceChildren(...(r.state === "stopped_on_failure" ? [resume] : []));
        if (last !== undefined && last !== r.state) announce(`Rollout ${r.id} is ${r.state.replace(/_/g, " ")}`);
        last = r.state;
    }

    async function refresh(): Promise<void> {
        try {
            const r = await ctx.api.request<RolloutDetailView>("GET", `/rollouts/${id}`);
            if (stopped) return;
            render(r);
            status.textContent = r.state === "running" ? "Running; this page refreshes itself." : `Rollout ${r.state.replace(/_/g, " ")}.`;
        } catch (e) {
            if (e instanceof ApiError && e.problem.status === 401) return ctx.signOut("The token is no longer accepted; sign in again.");
            status.textContent = `Could not load the rollout: ${problemText(e)}`;
        }
    }
    resume.addEventListener("click", () => {
        error.textContent = "";
        resume.disabled = true;
        ctx.api.request<RolloutDetailView>("POST", `/rollouts/${id}/resume`).then((r) => {
            render(r);
            announce(`Rollout ${id} resumed`);
        }).catch((e: unknown) => {
            error.textContent = problemText(e);
        }).finally(() => {
            resume.disabled = false;
        });
    });
    append(main, h("div", { class: "title-row" }, h("h1", {}, `Rollout #${id}`),
        h("div", { class: "actions tight" }, resumeSlot, h("a", { class: "button", href: "#/rollouts" }, "All rollouts"))), error, status, facts, steps);
    void refresh();
    const timer = setInterval(() => {
        if (document.visibilityState === "visible" && last !== "succeeded") void refresh();
    }, REFRESH_MS);
    return { dispose: () => {
        stopped = true;
        clearInterval(timer);
    } };
}
