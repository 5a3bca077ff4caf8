/**
 * A database's activities, on its page: what happened to it (created, ready,
 * restarted, down, up, patched, failed, expired, deleted), planned or not,
 * with the notes people added; and a form to add a note with a ticket link
 * to one of them. The form checks the note with the API's own schema
 * (`noteBody` of contracts/activities.ts); what the API still refuses comes
 * back as problem+json and is shown at the field it names. A ticket link is
 * rendered as a link only when it is an https URL by that same rule.
 */
import { noteBody, ticketLinkProblem } from "../../contracts/activities";
import { ApiError, type ActivityView, type NoteView } from "./api";
import type { Context } from "./context";
import { announce, h, when } from "./dom";
import { field, showProblem, type Field } from "./forms";
import { expected } from "./validate";

export interface ActivitiesSection {
    readonly element: HTMLElement;
    /** Reads the list again (the database changed, so there may be a new activity). */
    refresh(): void;
    dispose(): void;
}

/** A ticket link as a link when it is an https URL, else as plain text (an old or foreign row must not become a `javascript:` link). */
export function ticketLink(url: string): HTMLElement {
    return ticketLinkProblem(url) === undefined
        ? h("a", { href: url, rel: "noopener noreferrer", target: "_blank" }, url)
        : h("span", { class: "muted" }, url);
}

/** The facts of an activity's detail worth a glance: its plain values, `key: value`. */
export function detailText(detail: Record<string, unknown>): string {
    return Object.entries(detail)
        .filter(([, v]) => typeof v === "string" || typeof v === "number" || typeof v === "boolean")
        .map(([k, v]) => `${k.replace(/_/g, " ")}: ${String(v as string | number | boolean)}`)
        .join("; ");
}

function note(n: NoteView): HTMLLIElement {
    return h("li", { class: "note" }, n.text, n.ticket_url === null ? null : h("span", {}, " — ", ticketLink(n.ticket_url)),
        h("span", { class: "muted" }, ` (${n.author}, `, when(n.at), ")"));
}

function label(a: ActivityView): string {
    return `#${a.id} ${a.kind}, ${new Date(a.at).toLocaleString()}`;
}

export function activitiesSection(ctx: Context, name: string): ActivitiesSection {
    const status = h("p", { class: "muted", id: "activities-status", "aria-live": "polite" }, "Loading…");
    const list = h("div", { class: "table-wrap" });
    const older = h("button", { type: "button", class: "small", hidden: true }, "Show older activities");
    const select = h("select", { id: "note-activity", name: "activity" });
    const fields: Record<"activity" | "text" | "ticket_url", Field> = {
        activity: field("Activity", "The event the note is about.", select),
        text: field("Note", "What happened or what was done; at most 2000 characters.", h("textarea", { id: "note-text", name: "text", rows: 2 })),
        ticket_url: field("Ticket link (optional)", "An https:// link to the ticket, e.g. https://tickets.example.com/OPS-42.",
            h("input", { id: "note-ticket", name: "ticket_url", type: "url", inputmode: "url", autocomplete: "off", spellcheck: "false" })),
    };
    const summary = h("p", { class: "form-error", role: "alert", tabindex: -1 });
    const submit = h("button", { type: "submit" }, "Add note");
    const form = h("form", { class: "note-form", novalidate: true, "aria-labelledby": "note-heading" },
        h("h3", { id: "note-heading" }, "Add a note"), fields.activity.element, fields.text.element, fields.ticket_url.element, summary,
        h("div", { class: "actions" }, submit));
    const element = h("section", { class: "card", "aria-labelledby": "activities-heading", "data-testid": "activities" },
        h("h2", { id: "activities-heading" }, "Activities"), status, list, h("div", { class: "actions" }, older), form);
    let disposed = false;
    let activities: ActivityView[] = [];
    /** The `before` of the next older page; null when the oldest is shown. */
    let next: number | null = null;

    function render(): void {
        form.hidden = activities.length === 0;
        if (activities.length === 0) {
            status.textContent = "Nothing has happened to this database yet.";
            list.replaceChildren();
            return;
        }
        older.hidden = next === null;
        status.textContent = next === null ? `All ${activities.length}, newest first.` : `The latest ${activities.length}, newest first.`;
        list.replaceChildren(h("table", { class: "activities" },
            h("caption", { class: "visually-hidden" }, `Activities of ${name}`),
            h("thead", {}, h("tr", {}, ...["When", "Kind", "Planned", "By", "Detail", "Notes"].map((t) => h("th", { scope: "col" }, t)))),
            h("tbody", {}, ...activities.map((a) => h("tr", { "data-activity": a.id },
                h("td", { "data-label": "When" }, when(a.at)),
                h("td", { "data-label": "Kind" }, h("span", { class: `badge activity-${a.kind}` }, a.kind)),
                h("td", { "data-label": "Planned" }, a.planned ? "planned" : h("strong", {}, "unplanned")),
                h("td", { "data-label": "By" }, a.actor),
                h("td", { "data-label": "Detail" }, detailText(a.detail)),
                h("td", { "data-label": "Notes" }, a.notes.length === 0 ? "" : h("ul", { class: "notes" }, ...a.notes.map(note))))))));
        const chosen = select.value;
        select.replaceChildren(...activities.map((a) => h("option", { value: a.id, selected: String(a.id) === chosen }, label(a))));
    }

    /** Reads the newest page again, and as many older ones as were shown. */
    async function load(): Promise<void> {
        try {
            const shownCount = activities.length;
            let page = await ctx.api.activities(name);
            const rows = [...page.activities];
            while (page.next !== null && rows.length < shownCount) {
                page = await ctx.api.activities(name, page.next);
                rows.push(...page.activities);
            }
            if (disposed) return;
            activities = rows;
            next = page.next;
            render();
        } catch (e) {
            if (disposed) return;
            status.textContent = `The activities could not be read: ${e instanceof ApiError ? e.problem.detail : String(e)}`;
        }
    }

    older.addEventListener("click", () => {
        if (next === null) return;
        older.disabled = true;
        ctx.api.activities(name, next).then((page) => {
            if (disposed) return;
            activities = [...activities, ...page.activities];
            next = page.next;
            render();
        }, (e: unknown) => {
            status.textContent = `The older activities could not be read: ${e instanceof ApiError ? e.problem.detail : String(e)}`;
        }).finally(() => {
            older.disabled = false;
        });
    });

    form.addEventListener("submit", (e) => {
        e.preventDefault();
        const ticket = fields.ticket_url.control.value.trim();
        const parsed = noteBody.safeParse({ text: fields.text.control.value, ...(ticket === "" ? {} : { ticket_url: ticket }) });
        for (const f of Object.values(fields)) f.setError("");
        summary.textContent = "";
        if (!parsed.success) {
            let first: Field | undefined;
            for (const issue of parsed.error.issues) {
                const key = issue.path[0] === "ticket_url" ? "ticket_url" : "text";
                fields[key].setError(expected(issue.message));
                first ??= fields[key];
            }
            first?.control.focus();
            return;
        }
        submit.disabled = true;
        ctx.api.addNote(name, Number(select.value), parsed.data).then(() => {
            fields.text.control.value = "";
            fields.ticket_url.control.value = "";
            announce("Note added");
            return load();
        }, (err: unknown) => showProblem(err, fields, summary)).finally(() => {
            submit.disabled = false;
        });
    });

    void load();
    return {
        element,
        refresh: () => void load(),
        dispose() {
            disposed = true;
        },
    };
}
