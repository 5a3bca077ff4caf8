/**
 * A project's notification deliveries (GET /projects/:project/deliveries) as
 * a table, newest first: what was told to which contact over which channel,
 * its status, and every attempt with its outcome, HTTP status and error.
 */
import type { ContactView, DeliveryView } from "./api";
import { h, when } from "./dom";

function attempts(d: DeliveryView): HTMLElement | string {
    if (d.attempt_log.length === 0) return String(d.attempts);
    return h("details", {}, h("summary", {}, `${d.attempts} attempt${d.attempts === 1 ? "" : "s"}`),
        h("ol", { class: "attempts" }, ...d.attempt_log.map((a) => h("li", {},
            when(a.at), ` ${a.outcome}`, a.http_status === null ? "" : ` (HTTP ${a.http_status})`, a.error === null ? "" : `: ${a.error}`, ` in ${a.duration_ms} ms`))));
}

export function deliveriesTable(deliveries: readonly DeliveryView[], contacts: readonly ContactView[]): HTMLElement {
    if (deliveries.length === 0) return h("p", { class: "muted", id: "deliveries-status" }, "Nothing was sent to this project's contacts yet.");
    const names = new Map(contacts.map((c) => [c.id, c.name ?? `contact ${c.id}`]));
    return h("div", { class: "table-wrap" }, h("table", { class: "deliveries" },
        h("caption", { class: "visually-hidden" }, "Deliveries, newest first"),
        h("thead", {}, h("tr", {}, ...["When", "To", "Channel", "Notification", "Status", "Attempts", "Last error"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, ...deliveries.map((d) => h("tr", { "data-delivery": d.id },
            h("td", { "data-label": "When" }, when(d.created_at)),
            h("td", { "data-label": "To" }, names.get(d.contact_id) ?? `contact ${d.contact_id} (removed)`),
            h("td", { "data-label": "Channel" }, d.channel),
            h("td", { "data-label": "Notification" }, `${d.notification.kind}: ${d.notification.summary}`),
            h("td", { "data-label": "Status" }, h("span", { class: `badge delivery-${d.status}` }, d.status)),
            h("td", { "data-label": "Attempts" }, attempts(d)),
            h("td", { "data-label": "Last error" }, d.last_error ?? ""))))));
}
