/** A database's audit trail: who did what, when, with which outcome (admins; the API keeps the log to them). */
import { ApiError } from "./api";
import type { Context } from "./context";
import { h, when } from "./dom";

export function auditSection(ctx: Context, name: string): HTMLElement {
    const section = h("section", { class: "card", "aria-labelledby": "audit-heading" }, h("h2", { id: "audit-heading" }, "Audit trail"));
    if (ctx.identity.role !== "admin") {
        section.append(h("p", { class: "muted" }, "The audit log is kept for admins; ask one for this database's history. The last operation is shown above."));
        return section;
    }
    const status = h("p", { class: "muted" }, "Loading…");
    section.append(status);
    ctx.api.audit(name).then(({ entries }) => {
        if (entries.length === 0) {
            status.textContent = "No entries yet.";
            return;
        }
        status.remove();
        section.append(h("div", { class: "table-wrap" }, h("table", { class: "audit" },
            h("thead", {}, h("tr", {}, ...["When", "Who", "Action", "Outcome"].map((t) => h("th", { scope: "col" }, t)))),
            h("tbody", {}, ...entries.map((e) => h("tr", {},
                h("td", { "data-label": "When" }, when(e.at)),
                h("td", { "data-label": "Who" }, e.actor),
                h("td", { "data-label": "Action" }, e.action),
                h("td", { "data-label": "Outcome" }, e.outcome)))))));
    }, (e: unknown) => {
        status.textContent = e instanceof ApiError ? `The audit log could not be read: ${e.problem.detail}` : String(e);
    });
    return section;
}
