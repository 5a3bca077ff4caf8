/** The database list: own databases (all for admins), sortable and filterable, refreshed every few seconds. */
import { ApiError, type DatabaseView } from "./api";
import type { Context, Screen } from "./context";
import { append, h, relative, stateBadge, when } from "./dom";

export const REFRESH_MS = 5000;

type Column = "name" | "version" | "state" | "owner" | "expires_at" | "created_at";
const COLUMNS: readonly [Column, string][] = [
    ["name", "Name"], ["version", "Version"], ["state", "State"], ["owner", "Owner"], ["expires_at", "Expires"], ["created_at", "Created"],
];

/** Sort and filter survive refreshes and visits to other screens. */
const view = { sort: "created_at" as Column, descending: true, text: "", state: "" };

/** The rows to show, filtered and sorted as the user asked. */
export function arrange(rows: readonly DatabaseView[], v: typeof view): DatabaseView[] {
    const text = v.text.trim().toLowerCase();
    const out = rows.filter((d) =>
        (d.state !== "deleted" || v.state === "deleted")
        && (v.state === "" || d.state === v.state)
        && (text === "" || d.name.includes(text) || d.owner.toLowerCase().includes(text) || d.project_id.toLowerCase().includes(text)));
    out.sort((a, b) => {
        const c = String(a[v.sort]).localeCompare(String(b[v.sort]), undefined, { numeric: true });
        return v.descending ? -c : c;
    });
    return out;
}

export function listScreen(main: HTMLElement, ctx: Context): Screen {
    let rows: DatabaseView[] = [];
    const status = h("p", { class: "muted", "aria-live": "polite" }, "Loading…");
    const tbody = h("tbody");
    const headRow = h("tr");
    const table = h("table", { class: "databases", "aria-describedby": "list-status" }, h("caption", { class: "visually-hidden" }, "Databases"), h("thead", {}, headRow), tbody);
    status.id = "list-status";

    const filterText = h("input", { id: "filter", type: "search", value: view.text, placeholder: "name, owner or project", autocomplete: "off" });
    const stateSelect = h("select", { id: "filter-state" },
        h("option", { value: "" }, "any state"),
        ...["creating", "ready", "restarting", "failed", "deleting", "deleted"].map((s) => h("option", { value: s, selected: view.state === s }, s)));
    filterText.addEventListener("input", () => {
        view.text = filterText.value;
        render();
    });
    stateSelect.addEventListener("change", () => {
        view.state = stateSelect.value;
        render();
    });

    function header(): void {
        headRow.replaceChildren(...COLUMNS.map(([key, label]) => {
            const active = view.sort === key;
            const btn = h("button", { type: "button", class: "sort" }, label, h("span", { "aria-hidden": "true" }, active ? (view.descending ? " ▼" : " ▲") : ""));
            btn.addEventListener("click", () => {
                view.descending = active ? !view.descending : key === "created_at" || key === "expires_at";
                view.sort = key;
                header();
                render();
                headRow.querySelectorAll("button")[COLUMNS.findIndex(([k]) => k === key)]?.focus();
            });
            return h("th", { scope: "col", "aria-sort": active ? (view.descending ? "descending" : "ascending") : "none" }, btn);
        }));
    }

    function render(): void {
        const shown = arrange(rows, view);
        tbody.replaceChildren(...shown.map((d) => h("tr", { "data-name": d.name },
            h("th", { scope: "row" }, h("a", { href: `#/databases/${d.name}` }, d.name)),
            h("td", { "data-label": "Version" }, d.version),
            h("td", { "data-label": "State" }, stateBadge(d.state)),
            h("td", { "data-label": "Owner" }, d.owner),
            h("td", { "data-label": "Expires" }, when(d.expires_at), h("span", { class: "muted" }, ` (${relative(d.expires_at)})`)),
            h("td", { "data-label": "Created" }, when(d.created_at)))));
        const hidden = rows.length - shown.length;
        status.textContent = rows.length === 0
            ? "No databases yet. Create one to get started."
            : `${shown.length} shown${hidden > 0 ? `, ${hidden} hidden by the filter` : ""}. Updated ${new Date().toLocaleTimeString()}.`;
    }

    async function refresh(): Promise<void> {
        try {
            rows = await ctx.api.databases();
            render();
        } catch (e) {
            if (e instanceof ApiError && e.problem.status === 401) return ctx.signOut("The token is no longer accepted; sign in again.");
            status.textContent = `Could not load the list: ${e instanceof Error ? e.message : String(e)}. Retrying.`;
        }
    }

    header();
    append(main,
        h("div", { class: "title-row" },
            h("h1", {}, ctx.identity.role === "admin" ? "All databases" : "Your databases"),
            h("div", { class: "actions tight" },
                h("a", { class: "button", href: "#/reports" }, "Reports"),
                ctx.identity.role === "admin" ? h("a", { class: "button", href: "#/contacts" }, "Contacts") : null,
                ctx.identity.role === "admin" ? h("a", { class: "button", href: "#/rollouts" }, "Rollouts") : null,
                h("a", { class: "button primary", href: "#/new" }, "New database"))),
        h("div", { class: "filters", role: "search" },
            h("div", { class: "field inline" }, h("label", { for: "filter" }, "Filter"), filterText),
            h("div", { class: "field inline" }, h("label", { for: "filter-state" }, "State"), stateSelect)),
        h("div", { class: "table-wrap" }, table),
        status);
    void refresh();
    const timer = setInterval(() => {
        if (document.visibilityState === "visible") void refresh();
    }, REFRESH_MS);
    return { dispose: () => clearInterval(timer) };
}
