/**
 * The small forms of the backups, activities and contacts views: a labelled
 * control with its help and error text linked for screen readers, and the
 * mapping of an API problem's `errors[]` onto the fields it names (the
 * create form, create.ts, does the same for its own fields).
 */
import { ApiError } from "./api";
import { h } from "./dom";
import { expected } from "./validate";

export type Control = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;

export interface Field {
    readonly control: Control;
    readonly element: HTMLElement;
    /** Shows `message` under the control (empty clears it). */
    setError(message: string): void;
}

/** `control` must have an id; its help and error paragraphs get `<id>-help` and `<id>-error`. */
export function field(label: string, help: string, control: Control): Field {
    const err = h("p", { id: `${control.id}-error`, class: "field-error" });
    control.setAttribute("aria-describedby", `${control.id}-help ${control.id}-error`);
    control.addEventListener("input", () => setError(""));
    function setError(message: string): void {
        err.textContent = message;
        if (message === "") control.removeAttribute("aria-invalid");
        else control.setAttribute("aria-invalid", "true");
    }
    const element = h("div", { class: "field" }, h("label", { for: control.id }, label), control, h("p", { id: `${control.id}-help`, class: "help" }, help), err);
    return { control, element, setError };
}

/** A refusal as one line: the problem's title and detail. */
export function problemText(e: unknown): string {
    return e instanceof ApiError ? `${e.problem.title}: ${e.problem.detail}` : e instanceof Error ? e.message : String(e);
}

/**
 * Splits a refusal into messages per form field (`body.ticket_url` → `ticket_url`)
 * and the rest (other fields, or the problem's detail when it names none).
 */
export function problemMessages(e: unknown, fields: readonly string[]): { readonly byField: Record<string, string>; readonly other: string[] } {
    const byField: Record<string, string> = {};
    const other: string[] = [];
    if (!(e instanceof ApiError)) return { byField, other: [e instanceof Error ? e.message : String(e)] };
    for (const fe of e.problem.errors ?? []) {
        const key = /^body\.([a-z_]+)/.exec(fe.field)?.[1];
        if (key !== undefined && fields.includes(key)) byField[key] ??= expected(fe.rule);
        else other.push(`${fe.field}: ${expected(fe.rule)}`);
    }
    if (Object.keys(byField).length === 0 && other.length === 0) other.push(`${e.problem.title}: ${e.problem.detail}`);
    return { byField, other };
}

/** Shows the messages at their fields, the rest in `summary`, and focuses the first field in error (else the summary). */
export function showProblem(e: unknown, fields: Record<string, Field>, summary: HTMLElement): void {
    const { byField, other } = problemMessages(e, Object.keys(fields));
    let first: Field | undefined;
    for (const [key, f] of Object.entries(fields)) {
        const msg = byField[key];
        f.setError(msg ?? "");
        if (msg !== undefined) first ??= f;
    }
    summary.textContent = other.join(" ");
    if (first !== undefined) first.control.focus();
    else summary.focus();
}
