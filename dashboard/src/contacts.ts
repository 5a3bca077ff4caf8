/**
 * The Contacts page (`#/contacts`, admins): per project, its contacts (an
 * email address and/or a webhook) with add, edit, expire (an expiry time;
 * the API refuses one in the past, so "stop now" is Remove), rotate secret
 * and remove, and the project's notification deliveries with their attempts.
 * A webhook's signing secret is in the answer of create and rotate only; it
 * is shown then, once, in a box the user closes, and kept nowhere. The
 * forms check with the API's own schemas (contracts/activities.ts); what the
 * API still refuses (a webhook host that is not public, say) is shown at the
 * field it names.
 */
import { createContactBody, patchContactBody, projectParams, type CreateContactBody, type PatchContactBody } from "../../contracts/activities";
import { ApiError, type ContactView, type ContactWithSecret } from "./api";
import type { Context, Screen } from "./context";
import { announce, append, copyButton, h, when } from "./dom";
import { field, problemText, showProblem, type Field } from "./forms";
import { deliveriesTable } from "./deliveries";
import { expected } from "./validate";

/** The project survives visits to other screens. */
const view = { project: "" };

type ContactField = "name" | "email" | "webhook_url" | "expires_at";
export interface ContactValues { readonly name: string; readonly email: string; readonly webhook_url: string; readonly expires_at: string }

/** `datetime-local` text (the browser's zone) ⇄ an ISO instant. */
export function localInput(iso: string | null): string {
    if (iso === null) return "";
    const d = new Date(iso);
    const p = (n: number) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export type ContactErrors = Partial<Record<ContactField, string>>;
export type Checked<B> = { readonly body: B } | { readonly errors: ContactErrors };

/** The body of POST /projects/:project/contacts from the form: empty fields left out. */
export function createRequest(v: ContactValues, now = Date.now()): Checked<CreateContactBody> {
    const r = contactBody(v, false, now);
    if ("errors" in r) return r;
    const parsed = createContactBody.safeParse(r.body);
    return parsed.success ? { body: parsed.data } : { errors: issues(parsed.error.issues) };
}

/** The body of PATCH /projects/:project/contacts/:id: every field sent, an empty one as null (which clears it). */
export function patchRequest(v: ContactValues, now = Date.now()): Checked<PatchContactBody> {
    const r = contactBody(v, true, now);
    if ("errors" in r) return r;
    const parsed = patchContactBody.safeParse(r.body);
    return parsed.success ? { body: parsed.data } : { errors: issues(parsed.error.issues) };
}

function issues(list: readonly { readonly path: readonly PropertyKey[]; readonly message: string }[]): ContactErrors {
    const errors: ContactErrors = {};
    for (const issue of list) {
        const k = issue.path[0];
        if (k === "name" || k === "email" || k === "webhook_url" || k === "expires_at") errors[k] ??= expected(issue.message);
    }
    return errors;
}

/** The fields as JSON values, and what the schemas cannot say (one channel at least, an expiry in the future). */
function contactBody(v: ContactValues, forPatch: boolean, now: number): { body: Record<string, string | null> } | { errors: ContactErrors } {
    const body: Record<string, string | null> = {};
    const errors: Partial<Record<ContactField, string>> = {};
    for (const k of ["name", "email", "webhook_url"] as const) {
        const t = v[k].trim();
        if (t !== "") body[k] = t;
        else if (forPatch) body[k] = null;
    }
    const at = v.expires_at.trim();
    if (at !== "") {
        const d = new Date(at);
        if (Number.isNaN(d.getTime())) errors.expires_at = expected("a date and time");
        else if (d.getTime() <= now) errors.expires_at = expected("a time in the future (to stop a contact now, remove it)");
        else body.expires_at = d.toISOString();
    } else if (forPatch) body.expires_at = null;
    if ((body.email ?? null) === null && (body.webhook_url ?? null) === null) errors.email = expected("an email address or a webhook URL (or both)");
    // The schema's messages for the fields not already refused above.
    const parsed = (forPatch ? patchContactBody : createContactBody).safeParse(body);
    const more = parsed.success ? {} : issues(parsed.error.issues);
    const all = { ...more, ...errors };
    return Object.keys(all).length > 0 ? { errors: all } : { body };
}

/** A contact form (add or edit): name, email, webhook URL, expiry; ids are prefixed so both can exist. */
function contactForm<B>(prefix: string, title: string, submitText: string, start: ContactView | undefined,
    check: (v: ContactValues) => Checked<B>, send: (body: B) => Promise<unknown>, onCancel?: () => void): HTMLFormElement {
    const input = (id: string, attrs: Record<string, string> = {}) => h("input", { id: `${prefix}-${id}`, type: "text", autocomplete: "off", spellcheck: "false", ...attrs });
    const fields: Record<ContactField, Field> = {
        name: field("Name (optional)", "Who or what this is, e.g. the on-call rotation.", input("name", { value: start?.name ?? "" })),
        email: field("Email", "Told by email (when the service has SMTP configured).", input("email", { type: "email", value: start?.email ?? "" })),
        webhook_url: field("Webhook URL", "An https:// address on a public host; requests are signed with the contact's secret.", input("webhook", { type: "url", inputmode: "url", value: start?.webhook_url ?? "" })),
        expires_at: field("Expires (optional)", "After this time the contact is told nothing (it stays listed). Empty: never.", input("expires", { type: "datetime-local", step: "1", value: localInput(start?.expires_at ?? null) })),
    };
    const summary = h("p", { class: "form-error", role: "alert", tabindex: -1 });
    const submit = h("button", { type: "submit", class: "primary" }, submitText);
    const form = h("form", { class: "card", novalidate: true, "aria-labelledby": `${prefix}-heading` },
        h("h2", { id: `${prefix}-heading` }, title), ...Object.values(fields).map((f) => f.element), summary,
        h("div", { class: "actions" }, submit, onCancel === undefined ? null : h("button", { type: "button", onclick: onCancel }, "Cancel")));
    const values = (): ContactValues => ({ name: fields.name.control.value, email: fields.email.control.value, webhook_url: fields.webhook_url.control.value, expires_at: fields.expires_at.control.value });
    form.addEventListener("submit", (e) => {
        e.preventDefault();
        const r = check(values());
        summary.textContent = "";
        for (const [k, f] of Object.entries(fields)) f.setError("errors" in r ? r.errors[k as ContactField] ?? "" : "");
        if ("errors" in r) {
            Object.entries(fields).find(([k]) => r.errors[k as ContactField] !== undefined)?.[1].control.focus();
            return;
        }
        submit.disabled = true;
        send(r.body).then(() => form.reset(), (err: unknown) => showProblem(err, fields, summary)).finally(() => {
            submit.disabled = false;
        });
    });
    return form;
}

export function contactsScreen(main: HTMLElement, ctx: Context): Screen {
    append(main, h("h1", {}, "Contacts"));
    if (ctx.identity.role !== "admin") {
        main.append(h("p", { class: "card" }, "Contacts are kept by admins: a project has no members the service could check, so a webhook added by anyone could read about other people's databases. Ask an admin to add one for your project."));
        return { dispose: () => undefined };
    }
    const projects = h("datalist", { id: "project-options" });
    const project = h("input", { id: "contacts-project", type: "text", list: "project-options", autocomplete: "off", spellcheck: "false", value: view.project });
    const projectError = h("p", { id: "contacts-project-error", class: "field-error" });
    project.setAttribute("aria-describedby", "contacts-project-help contacts-project-error");
    const picker = h("form", { class: "card", novalidate: true },
        h("div", { class: "inline-form" }, h("label", { for: "contacts-project" }, "Project"), project, projects, h("button", { type: "submit" }, "Show")),
        h("p", { id: "contacts-project-help", class: "help" }, "A project id, as databases carry it; pick one that has databases or type another."), projectError);
    const secretArea = h("div", { "aria-live": "polite" });
    const status = h("p", { class: "muted", id: "contacts-status", "aria-live": "polite" });
    const list = h("div", { class: "table-wrap" });
    const formArea = h("div");
    const deliveries = h("section", { class: "card", "aria-labelledby": "deliveries-heading" }, h("h2", { id: "deliveries-heading" }, "Deliveries"));
    const body = h("div", { hidden: true }, secretArea, h("section", { class: "card", "aria-labelledby": "contact-list-heading" },
        h("h2", { id: "contact-list-heading" }, "Contacts"), status, list), formArea, deliveries);
    append(main, picker, body);
    let timer: ReturnType<typeof setInterval> | undefined;
    let stopped = false;
    let editing: number | undefined;

    /** The secret of one answer, this once: copy it now; closing the box forgets it. */
    function showSecret(r: ContactWithSecret): void {
        if (r.secret === undefined) return;
        const code = h("code", { "data-testid": "contact-secret" }, r.secret);
        const box = h("div", { class: "card secret", role: "region", "aria-labelledby": "secret-heading" },
            h("h2", { id: "secret-heading" }, `Signing secret of ${r.contact.name ?? `contact ${r.contact.id}`}`),
            h("p", {}, "Shown this once: the API does not answer it again. Put it where the webhook's receiver verifies signatures."),
            h("p", {}, code, " ", copyButton("secret", () => code.textContent ?? "", code)),
            h("button", { type: "button", onclick: () => secretArea.replaceChildren() }, "I have kept it"));
        secretArea.replaceChildren(box);
        box.querySelector("button")?.focus();
    }

    function showAddForm(): void {
        editing = undefined;
        formArea.replaceChildren(contactForm("contact", "Add a contact", "Add contact", undefined, (v) => createRequest(v), async (b) => {
            const made = await ctx.api.createContact(view.project, b);
            announce(`Contact ${made.contact.id} added`);
            showSecret(made);
            await load();
        }));
    }

    function showEditForm(c: ContactView): void {
        editing = c.id;
        const form = contactForm("edit", `Edit contact ${c.name ?? c.id}`, "Save", c, (v) => patchRequest(v), async (b) => {
            await ctx.api.updateContact(view.project, c.id, b);
            announce(`Contact ${c.id} saved`);
            showAddForm();
            await load();
        }, () => showAddForm());
        formArea.replaceChildren(form);
        form.querySelector("input")?.focus();
    }

    function actions(c: ContactView): HTMLElement {
        const who = c.name ?? `contact ${c.id}`;
        const cell = h("div", { class: "actions tight" });
        const edit = h("button", { type: "button", class: "small", "aria-label": `Edit ${who}`, onclick: () => showEditForm(c) }, "Edit");
        const rotate = c.webhook_url === null ? null : h("button", { type: "button", class: "small", "aria-label": `Rotate the secret of ${who}` }, "Rotate secret");
        rotate?.addEventListener("click", () => {
            ctx.api.updateContact(view.project, c.id, { rotate_secret: true }).then(showSecret, (e: unknown) => (status.textContent = problemText(e)));
        });
        const remove = h("button", { type: "button", class: "small danger", "aria-label": `Remove ${who}` }, "Remove…");
        remove.addEventListener("click", () => {
            const yes = h("button", { type: "button", class: "small danger" }, `Remove ${who}`);
            const no = h("button", { type: "button", class: "small" }, "Keep");
            cell.replaceChildren(h("span", {}, "Remove? Its pending deliveries are skipped. "), yes, no);
            no.addEventListener("click", () => void load());
            yes.addEventListener("click", () => {
                ctx.api.removeContact(view.project, c.id).then(() => {
                    announce(`${who} removed`);
                    if (editing === c.id) showAddForm();
                    return load();
                }, (e: unknown) => (status.textContent = problemText(e)));
            });
            no.focus();
        });
        append(cell, edit, rotate, remove);
        return cell;
    }

    function renderContacts(contacts: readonly ContactView[]): void {
        status.textContent = contacts.length === 0 ? `No contacts for ${view.project} yet.` : `${contacts.length} contact${contacts.length === 1 ? "" : "s"} of ${view.project}.`;
        list.replaceChildren(contacts.length === 0 ? "" : h("table", { class: "contacts" },
            h("caption", { class: "visually-hidden" }, `Contacts of ${view.project}`),
            h("thead", {}, h("tr", {}, ...["Name", "Email", "Webhook", "Expires", "Status", "Added by", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
            h("tbody", {}, ...contacts.map((c) => h("tr", { "data-contact": c.id },
                h("td", { "data-label": "Name" }, c.name ?? "—"),
                h("td", { "data-label": "Email" }, c.email ?? "—"),
                h("td", { "data-label": "Webhook" }, c.webhook_url === null ? "—" : h("code", {}, c.webhook_url)),
                h("td", { "data-label": "Expires" }, c.expires_at === null ? "never" : when(c.expires_at)),
                h("td", { "data-label": "Status" }, h("span", { class: `badge ${c.active ? "state-ready" : "state-deleted"}` }, c.active ? "active" : "expired")),
                h("td", { "data-label": "Added by" }, c.created_by),
                h("td", { "data-label": "Actions" }, actions(c)))))));
    }

    async function load(): Promise<void> {
        if (view.project === "") return;
        try {
            const [c, d] = await Promise.all([ctx.api.contacts(view.project), ctx.api.deliveries(view.project)]);
            if (stopped) return;
            renderContacts(c.contacts);
            deliveries.replaceChildren(deliveries.firstChild ?? "", deliveriesTable(d.deliveries, c.contacts));
        } catch (e) {
            if (stopped) return;
            if (e instanceof ApiError && e.problem.status === 401) return ctx.signOut("The token is no longer accepted; sign in again.");
            status.textContent = problemText(e);
        }
    }

    function open(p: string): void {
        view.project = p;
        body.hidden = false;
        secretArea.replaceChildren();
        list.replaceChildren();
        status.textContent = "Loading…";
        showAddForm();
        clearInterval(timer);
        // Expiries and deliveries change by themselves: read them again now and then.
        timer = setInterval(() => void load(), 5000);
        void load();
    }

    picker.addEventListener("submit", (e) => {
        e.preventDefault();
        const p = project.value.trim();
        const parsed = projectParams.safeParse({ project: p });
        if (!parsed.success) {
            project.setAttribute("aria-invalid", "true");
            projectError.textContent = expected(parsed.error.issues[0]?.message ?? "a project id");
            return project.focus();
        }
        project.removeAttribute("aria-invalid");
        projectError.textContent = "";
        open(p);
    });
    // Projects that have databases, to pick from; any other id may be typed.
    ctx.api.databases().then((dbs) => {
        projects.replaceChildren(...[...new Set(dbs.map((d) => d.project_id))].sort().map((p) => h("option", { value: p })));
    }, () => undefined);
    if (view.project !== "") open(view.project);
    return {
        dispose: () => {
            stopped = true;
            clearInterval(timer);
        },
    };
}
