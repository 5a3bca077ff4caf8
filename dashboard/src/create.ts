/**
 * The create form. Checks run in the page first (the API's own rules, see
 * validate.ts); what only the server knows comes back as problem+json, and
 * each error is shown under the field it names. Errors are linked to their
 * inputs (aria-describedby, aria-invalid) and focus moves to the first one.
 * `#/new?backup=<id>&project=<p>&version=<v>` (the link next to a backup,
 * backups.ts) opens it with that stored backup as the source.
 */
import { ApiError, type Versions } from "./api";
import type { Context, Screen } from "./context";
import { announce, append, h } from "./dom";
import { checkCreateForm, expected, FORM_FIELDS, formFieldOf, toBody, type FieldErrors, type FormField, type FormValues } from "./validate";

interface FieldSpec {
    readonly label: string;
    readonly help: string;
    readonly control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;
}

/** What the route's query fills in: `backup`, `project`, `version`. */
export function prefillOf(hash: string): { backupId: string; project: string; version: string } {
    const q = new URLSearchParams(hash.split("?")[1] ?? "");
    return { backupId: q.get("backup") ?? "", project: q.get("project") ?? "", version: q.get("version") ?? "" };
}

export function createScreen(main: HTMLElement, ctx: Context): Screen {
    const prefill = prefillOf(location.hash);
    const input = (id: FormField, attrs: Record<string, string | boolean> = {}) =>
        h("input", { id, name: id, type: "text", autocomplete: "off", spellcheck: "false", ...attrs });
    const version = h("select", { id: "version", name: "version" }, h("option", { value: "" }, "Loading versions…"));
    const fields: Record<FormField, FieldSpec> = {
        name: { label: "Name", help: "Lowercase letters, digits and hyphens; starts with a letter; at most 40 characters. Also the database's DNS and stack name.", control: input("name", { required: true }) },
        project_id: { label: "Project", help: "The project the database is for (letters, digits, '.', '_' and '-').", control: input("project_id", { required: true, value: prefill.project }) },
        owner: { label: "Owner", help: ctx.identity.role === "admin" ? "Who the database belongs to." : "Your token's subject: a user creates databases for itself.", control: input("owner", { required: true, value: ctx.identity.subject }) },
        version: { label: "PostgreSQL version", help: "From the service's version catalog; the default is preselected.", control: version },
        backup_location: { label: "Restore from backup (optional)", help: "An https:// URL of a dump on an allowed backup host. Leave empty for an empty database.", control: input("backup_location", { type: "url", inputmode: "url", placeholder: "https://backups.example.com/app.dump" }) },
        backup_id: { label: "Restore from a stored backup (optional)", help: "The id of one of your backups (\"Create a database from this backup\" on a database's page fills it). Instead of a URL, not with one.", control: input("backup_id", { value: prefill.backupId }) },
        ttl_hours: { label: "Lifetime in hours (optional)", help: "The database is deleted when it expires; you can extend it later. Empty: the service default.", control: input("ttl_hours", { inputmode: "numeric", pattern: "[0-9]*" }) },
        source_ranges: { label: "Allowed client addresses (optional)", help: "CIDR ranges, one per line, e.g. 203.0.113.0/24. Empty: the service default.", control: h("textarea", { id: "source_ranges", name: "source_ranges", rows: 3, spellcheck: "false" }) },
    };
    const errorEls = {} as Record<FormField, HTMLElement>;
    const summary = h("div", { class: "form-error", role: "alert", id: "form-error" });
    const submit = h("button", { type: "submit", class: "primary" }, "Create database");
    const form = h("form", { class: "card", novalidate: true, "aria-describedby": "form-error" });

    for (const key of ["name", "project_id", "owner", "version", "backup_location", "backup_id", "ttl_hours", "source_ranges"] as const) {
        const f = fields[key];
        const err = h("p", { id: `${key}-error`, class: "field-error" });
        errorEls[key] = err;
        f.control.setAttribute("aria-describedby", `${key}-help ${key}-error`);
        // An edited field's old error no longer applies; the next submit checks it again.
        f.control.addEventListener("input", () => {
            err.textContent = "";
            f.control.removeAttribute("aria-invalid");
        });
        append(form, h("div", { class: "field" }, h("label", { for: key }, f.label), f.control, h("p", { id: `${key}-help`, class: "help" }, f.help), err));
    }
    append(form, summary, h("div", { class: "actions" }, submit, h("a", { class: "button", href: "#/" }, "Cancel")));

    function values(): FormValues {
        return Object.fromEntries(FORM_FIELDS.map((k) => [k, fields[k].control.value])) as FormValues;
    }

    function showErrors(errors: FieldErrors, other: string[] = []): void {
        let first: FormField | undefined;
        for (const key of FORM_FIELDS) {
            const msg = errors[key];
            errorEls[key].textContent = msg ?? "";
            if (msg === undefined) fields[key].control.removeAttribute("aria-invalid");
            else {
                fields[key].control.setAttribute("aria-invalid", "true");
                first ??= key;
            }
        }
        const count = Object.keys(errors).length;
        summary.textContent = [count > 0 ? `Please correct ${count === 1 ? "the field" : `${count} fields`} marked below.` : "", ...other].filter((s) => s !== "").join(" ");
        if (first !== undefined) fields[first].control.focus();
        else if (other.length > 0) summary.focus();
    }

    form.addEventListener("submit", (e) => {
        e.preventDefault();
        const v = values();
        const errors = checkCreateForm(v);
        if (Object.keys(errors).length > 0) return showErrors(errors);
        showErrors({});
        submit.disabled = true;
        submit.textContent = "Creating…";
        ctx.api.create(toBody(v)).then((r) => {
            announce(`Database ${r.database.name} requested`);
            ctx.navigate(`#/databases/${r.database.name}`);
        }, (err: unknown) => {
            submit.disabled = false;
            submit.textContent = "Create database";
            if (!(err instanceof ApiError)) return showErrors({}, [String(err)]);
            const byField: FieldErrors = {};
            const other: string[] = [];
            for (const fe of err.problem.errors ?? []) {
                const key = formFieldOf(fe.field);
                if (key !== undefined) byField[key] ??= expected(fe.rule);
                else other.push(`${fe.field}: ${expected(fe.rule)}`);
            }
            if (Object.keys(byField).length === 0 && other.length === 0) other.push(`${err.problem.title}: ${err.problem.detail}`);
            showErrors(byField, other);
        });
    });

    summary.setAttribute("tabindex", "-1");
    append(main, h("h1", {}, prefill.backupId === "" ? "New database" : "New database from a backup"), form);
    ctx.api.versions().then((v: Versions) => {
        // The source database's version when restoring one of its backups, else the catalog's default.
        const known = v.versions.some((x) => x.label === prefill.version);
        version.replaceChildren(...v.versions.map((x) => h("option", { value: x.label, selected: known ? x.label === prefill.version : x.default }, x.default ? `${x.label} (default)` : x.label)));
    }, () => {
        version.replaceChildren(h("option", { value: "" }, "the service default"));
    });
    return { dispose: () => undefined };
}
