/**
 * The Reports page (`#/reports`): GET /reports over a chosen window, as
 * charts (Chart.js, canvas; no markup from data) and tables. An admin sees
 * every database, a user its own; the API decides, the page only shows.
 * Charts draw without animation, so what a screenshot shows is final.
 */
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip, type ChartConfiguration } from "chart.js";
import type { ReportView } from "../../contracts/reports";
import { ApiError } from "./api";
import type { Context, Screen } from "./context";
import { append, bytes, h } from "./dom";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement, PointElement, Legend, Tooltip);

export const WINDOWS = ["24h", "7d", "30d"] as const;
/** The window survives visits to other screens. */
const view = { window: "7d" as string };

const GIB = 2 ** 30;


/** A chart label for a series point: day and hour for long windows, time for a day. */
function pointLabel(iso: string, hours: number): string {
    const d = new Date(iso);
    return hours > 48
        ? d.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit" })
        : d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

function table(caption: string, head: readonly string[], rows: readonly (readonly (string | number | Node)[])[], testId: string): HTMLElement {
    return h("div", { class: "table-wrap" }, h("table", { "data-testid": testId },
        h("caption", { class: "visually-hidden" }, caption),
        h("thead", {}, h("tr", {}, ...head.map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, ...rows.map((r) => h("tr", {}, ...r.map((c, i) => h("td", { "data-label": head[i] ?? "" }, c)))))));
}

/** A chart in a card; the canvas has a text alternative that says what it shows. */
function chartCard(id: string, title: string, summary: string, config: ChartConfiguration, charts: Chart[]): HTMLElement {
    const canvas = h("canvas", { id, role: "img", "aria-label": `${title}: ${summary}` });
    const card = h("section", { class: "card chart", "aria-labelledby": `${id}-heading` },
        h("h2", { id: `${id}-heading` }, title), h("div", { class: "chart-box" }, canvas), h("p", { class: "help" }, summary));
    charts.push(new Chart(canvas, { ...config, options: { animation: false, maintainAspectRatio: false, responsive: true, ...config.options } }));
    return card;
}

function render(body: HTMLElement, r: ReportView, charts: Chart[]): void {
    for (const c of charts.splice(0)) c.destroy();
    body.replaceChildren();
    const states = r.counts.by_state;
    const summary = h("section", { class: "card", "aria-labelledby": "summary-heading" },
        h("h2", { id: "summary-heading" }, "Summary"),
        h("dl", { class: "facts", "data-testid": "summary" },
            h("dt", {}, "Databases"), h("dd", { "data-testid": "total" }, r.counts.total),
            h("dt", {}, "Stored now"), h("dd", {}, `${bytes(r.sizes.total_now.database_bytes)} (volumes ${bytes(r.sizes.total_now.volume_bytes)})`),
            h("dt", {}, "Failed operations"), h("dd", { "data-testid": "failures" }, r.failures.count),
            h("dt", {}, "Unpatched"), h("dd", { "data-testid": "unpatched" }, r.unpatched.count),
            h("dt", {}, "Unplanned restarts"), h("dd", {}, r.unplanned_restarts.count, h("span", { class: "muted" }, " (no source yet)")),
            h("dt", {}, "Estimated cost"), h("dd", { "data-testid": "cost-total" }, r.cost.configured ? (r.cost.total ?? 0).toFixed(2) : "not configured")));
    append(body, summary);

    const grid = h("div", { class: "chart-grid" });
    grid.append(chartCard("chart-states", "Databases by state", states.map((s) => `${s.key} ${s.count}`).join(", ") || "none", {
        type: "bar",
        data: { labels: states.map((s) => s.key), datasets: [{ label: "databases", data: states.map((s) => s.count), backgroundColor: "#0b57d0" }] },
        options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    }, charts));
    const series = r.sizes.series;
    const last = series[series.length - 1];
    grid.append(chartCard("chart-sizes", "Size over time (GiB)", last === undefined ? "no samples in the window" : `${series.length} points; latest ${bytes(last.database_bytes)} in databases, ${bytes(last.volume_bytes)} on volumes`, {
        type: "line",
        data: {
            labels: series.map((p) => pointLabel(p.at, r.window.hours)),
            datasets: [
                { label: "databases", data: series.map((p) => p.database_bytes / GIB), borderColor: "#0b57d0", backgroundColor: "#0b57d0", pointRadius: 0 },
                { label: "volumes", data: series.map((p) => p.volume_bytes / GIB), borderColor: "#7a4b00", backgroundColor: "#7a4b00", pointRadius: 0 },
            ],
        },
        options: { scales: { y: { beginAtZero: true } } },
    }, charts));
    const down = r.downtime.databases.filter((d) => d.downtime_percent !== null);
    grid.append(chartCard("chart-downtime", "Downtime per database (%)", down.map((d) => `${d.database} ${d.downtime_percent ?? 0} %`).join(", ") || "no database in service in the window", {
        type: "bar",
        data: { labels: down.map((d) => d.database), datasets: [{ label: "downtime %", data: down.map((d) => d.downtime_percent ?? 0), backgroundColor: "#b3261e" }] },
        options: { indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true } } },
    }, charts));
    const projects = r.cost.projects;
    grid.append(chartCard("chart-cost", r.cost.configured ? "Estimated cost per project" : "GB-hours per project (prices not configured)",
        projects.map((p) => `${p.project_id} ${r.cost.configured ? (p.cost ?? 0).toFixed(2) : `${p.gb_hours} GB-h`}`).join(", ") || "no projects", {
            type: "bar",
            data: { labels: projects.map((p) => p.project_id), datasets: [{ label: r.cost.configured ? "cost" : "GB-hours", data: projects.map((p) => (r.cost.configured ? p.cost ?? 0 : p.gb_hours)), backgroundColor: "#116329" }] },
            options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } },
        }, charts));
    body.append(grid);

    body.append(h("section", { class: "card", "aria-labelledby": "unpatched-heading" }, h("h2", { id: "unpatched-heading" }, "Unpatched databases"),
        r.unpatched.databases.length === 0
            ? h("p", { class: "muted" }, "Every database runs the catalog's current image for its version.")
            : table("Unpatched databases", ["Database", "Version", "Image", "Current image", "Why"],
                r.unpatched.databases.map((d) => [d.database, d.version, d.image, d.current_image ?? "—", d.reason.replace(/_/g, " ")]), "unpatched-table")));
    body.append(h("section", { class: "card", "aria-labelledby": "versions-heading" }, h("h2", { id: "versions-heading" }, "By version and project"),
        table("Databases by version", ["Version", "Databases"], r.counts.by_version.map((v) => [v.key, v.count]), "versions-table"),
        table("Databases by project", ["Project", "Databases", "GB-hours", "Core-hours", "Cost"], r.counts.by_project.map((p) => {
            const c = projects.find((x) => x.project_id === p.key);
            return [p.key, p.count, c?.gb_hours ?? 0, c?.core_hours ?? 0, c?.cost === null || c === undefined ? "—" : c.cost.toFixed(2)];
        }), "projects-table")));
    body.append(h("section", { class: "card", "aria-labelledby": "failures-heading" }, h("h2", { id: "failures-heading" }, "Recent failures"),
        r.failures.recent.length === 0
            ? h("p", { class: "muted" }, "No operation failed in this window.")
            : table("Recent failures", ["Database", "Operation", "Reason", "When"],
                r.failures.recent.map((f) => [f.database, f.kind, f.error ?? "—", new Date(f.finished_at).toLocaleString()]), "failures-table")));
    body.append(h("p", { class: "help" }, `Downtime: ${r.downtime.definition} Unplanned restarts: ${r.unplanned_restarts.note}.`));
}

export function reportsScreen(main: HTMLElement, ctx: Context): Screen {
    const charts: Chart[] = [];
    const status = h("p", { class: "muted", "aria-live": "polite", id: "reports-status" }, "Loading…");
    const body = h("div", { id: "reports-body" });
    const select = h("select", { id: "report-window" }, ...WINDOWS.map((w) => h("option", { value: w, selected: view.window === w }, w)));
    let stopped = false;

    async function load(): Promise<void> {
        status.textContent = "Loading…";
        try {
            const r = await ctx.api.report(view.window);
            if (stopped) return;
            render(body, r, charts);
            status.textContent = `${r.scope === "all" ? "All databases" : "Your databases"}, ${r.window.hours} h to ${new Date(r.generated_at).toLocaleString()}.`;
        } catch (e) {
            if (e instanceof ApiError && e.problem.status === 401) return ctx.signOut("The token is no longer accepted; sign in again.");
            status.textContent = `The report could not be read: ${e instanceof Error ? e.message : String(e)}`;
        }
    }
    select.addEventListener("change", () => {
        view.window = select.value;
        void load();
    });
    append(main,
        h("div", { class: "title-row" }, h("h1", {}, "Reports"),
            h("div", { class: "field inline" }, h("label", { for: "report-window" }, "Window"), select)),
        status, body);
    void load();
    return {
        dispose: () => {
            stopped = true;
            for (const c of charts.splice(0)) c.destroy();
        },
    };
}
