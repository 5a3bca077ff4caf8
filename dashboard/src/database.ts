/**
 * One database: its progress while an operation runs, then its connection
 * details (password on request), expiry with "extend", restart / retry,
 * delete behind a confirmation dialog, its backups (backups.ts), its
 * activities with notes (activities.ts) and its audit trail.
 */
import { isBusy } from "../../contracts/api";
import { activitiesSection } from "./activities";
import { ApiError, type DatabaseView } from "./api";
import { auditSection } from "./audit";
import { backupsSection } from "./backups";
import type { Context, Screen } from "./context";
import { announce, append, copyButton, copyText, h, relative, stateBadge, when } from "./dom";
import { MASK } from "./mask";
import { watchProgress, type Progress } from "./progress";

function problemText(e: unknown): string {
    return e instanceof ApiError ? `${e.problem.title}: ${e.problem.detail}` : e instanceof Error ? e.message : String(e);
}

/** A row of the connection table with a copy button. */
function copyRow(label: string, value: string, testId: string): HTMLTableRowElement {
    const code = h("code", { "data-testid": testId }, value);
    return h("tr", {}, h("th", { scope: "row" }, label), h("td", {}, code), h("td", {}, copyButton(label, () => value, code)));
}

/**
 * A row holding a secret: masked until "Show" (which fetches it), with Copy
 * (which fetches it too, and copies it without showing it).
 */
function secretRow(label: string, testId: string, value: () => Promise<string>): HTMLTableRowElement {
    const code = h("code", { "data-testid": testId, "data-masked": "true" }, MASK);
    const show = h("button", { type: "button", class: "small", "aria-pressed": "false", "aria-label": `Show ${label.toLowerCase()}` }, "Show");
    show.addEventListener("click", () => {
        if (code.dataset.masked === "false") {
            code.textContent = MASK;
            code.dataset.masked = "true";
            show.textContent = "Show";
            show.setAttribute("aria-pressed", "false");
            show.setAttribute("aria-label", `Show ${label.toLowerCase()}`);
            return;
        }
        show.disabled = true;
        value().then((v) => {
            code.textContent = v;
            code.dataset.masked = "false";
            show.textContent = "Hide";
            show.setAttribute("aria-pressed", "true");
            show.setAttribute("aria-label", `Hide ${label.toLowerCase()}`);
            announce(`${label} shown`);
        }).catch(() => undefined).finally(() => {
            show.disabled = false;
        });
    });
    const copy = h("button", { type: "button", class: "small", "aria-label": `Copy ${label}` }, "Copy");
    copy.addEventListener("click", () => {
        value().then(async (v) => {
            if (await copyText(v, code)) return announce(`${label} copied`);
            // No clipboard: show the value so the selection made for Ctrl+C holds it, not the mask.
            code.textContent = v;
            code.dataset.masked = "false";
            await copyText(v, code);
            announce(`${label} selected; press Ctrl+C to copy`);
        }).catch(() => undefined);
    });
    return h("tr", {}, h("th", { scope: "row" }, label), h("td", {}, code), h("td", { class: "actions" }, show, copy));
}

export function databaseScreen(main: HTMLElement, ctx: Context, name: string): Screen {
    const heading = h("h1", {}, name, " ");
    const message = h("p", { class: "form-error", role: "alert", tabindex: -1 });
    const body = h("div", { class: "db-body" });
    let progress: Progress | undefined;
    let progressFor: number | undefined;
    let poll: ReturnType<typeof setInterval> | undefined;
    let disposed = false;
    let shown = "";
    let audit: HTMLElement | undefined;
    // Made once: they keep their own state (a running backup, a note being typed) across re-renders.
    const backups = backupsSection(ctx, name);
    const activities = activitiesSection(ctx, name);

    /** Reads the audit trail again (after an action of this page that the log records). */
    function refreshAudit(): void {
        const next = auditSection(ctx, name);
        audit?.replaceWith(next);
        audit = next;
    }

    function fail(e: unknown): void {
        message.textContent = problemText(e);
        message.focus();
    }

    async function load(): Promise<void> {
        let db: DatabaseView;
        try {
            db = await ctx.api.database(name);
        } catch (e) {
            if (e instanceof ApiError && e.problem.status === 401) return ctx.signOut("The token is no longer accepted; sign in again.");
            return fail(e);
        }
        if (disposed) return;
        // Polls that change nothing leave the page alone (a revealed password stays, focus is kept).
        const key = JSON.stringify(db);
        if (key === shown) return;
        // A change of the database may come with a new activity (the first load reads them anyway).
        if (shown !== "") activities.refresh();
        render(db);
    }

    function render(db: DatabaseView): void {
        shown = JSON.stringify(db);
        heading.replaceChildren(name, " ", stateBadge(db.state));
        const busy = isBusy(db.state);
        const opId = db.last_operation?.id;
        // One stream per operation; the finished one stays on the page until another operation starts.
        if (busy && opId !== progressFor) {
            progress?.stop();
            progress = undefined;
        }
        backups.update(db);
        if (busy && progress === undefined) {
            progressFor = opId;
            progress = watchProgress(ctx.api, name, db.last_operation?.kind ?? "operation", () => void load());
        }
        clearInterval(poll);
        // The stream drives busy pages; a slow poll covers a dropped stream.
        poll = setInterval(() => void load(), busy ? 5000 : 30_000);

        body.replaceChildren(
            ...(progress ? [progress.element] : []),
            details(db),
            ...(db.state === "ready" && db.endpoint !== null ? [connection(db)] : []),
            ...(db.state !== "deleted" && db.state !== "deleting" ? [expiry(db), actions(db)] : [h("p", {}, h("a", { href: "#/" }, "Back to the list"))]),
            backups.element,
            activities.element,
            (audit = auditSection(ctx, db.name)),
        );
    }

    function details(db: DatabaseView): HTMLElement {
        const row = (k: string, v: Node | string) => [h("dt", {}, k), h("dd", {}, v)];
        return h("section", { class: "card", "aria-labelledby": "details-heading" },
            h("h2", { id: "details-heading" }, "Details"),
            h("dl", { class: "details" },
                ...row("State", db.state),
                ...row("Version", db.version),
                ...row("Owner", db.owner),
                ...row("Project", db.project_id),
                ...row("Created", when(db.created_at)),
                ...row("Source ranges", db.source_ranges.join(", ") || "service default"),
                ...row("Restored from", db.backup_location ?? (db.backup_id === null ? "nothing (empty database)" : `stored backup ${db.backup_id}`)),
                // "restored from ..." or "cloned from a cached restore of ... at ..." (docs/cache.md).
                ...(db.made === null ? [] : row("Made", db.made.description)),
                ...(db.failure_reason === null ? [] : row("Failure", db.failure_reason))));
    }

    function connection(db: DatabaseView): HTMLElement {
        const ep = db.endpoint;
        if (ep === null) return h("section");
        const table = h("table", { class: "connection" }, h("tbody", {},
            copyRow("Host", ep.host, "host"), copyRow("Port", String(ep.port), "port"),
            copyRow("Database", ep.database, "database"), copyRow("User", ep.user, "user")));
        const secretArea = h("div", { "aria-live": "polite" });
        // One request for both secrets, made on the first Show or Copy (it is audited).
        let credentials: Promise<{ password: string; uri: string }> | undefined;
        const fetchCredentials = () => {
            credentials ??= ctx.api.credentials(db.name).then((v) => {
                const c = v.credentials;
                if (c === undefined) throw new Error("the API sent no credentials");
                refreshAudit();
                return c;
            });
            credentials.catch((e: unknown) => {
                credentials = undefined;
                secretArea.textContent = problemText(e);
            });
            return credentials;
        };
        table.tBodies[0]?.append(
            secretRow("Password", "password", () => fetchCredentials().then((c) => c.password)),
            secretRow("URI", "uri", () => fetchCredentials().then((c) => c.uri)));
        return h("section", { class: "card", "aria-labelledby": "conn-heading" },
            h("h2", { id: "conn-heading" }, "Connection"), h("div", { class: "table-wrap" }, table), secretArea);
    }

    function expiry(db: DatabaseView): HTMLElement {
        const hours = h("input", { id: "extend-hours", type: "number", min: 1, step: 1, value: db.ttl_hours, inputmode: "numeric", "aria-describedby": "extend-error" });
        const err = h("p", { id: "extend-error", class: "field-error" });
        const form = h("form", { class: "inline-form", novalidate: true },
            h("label", { for: "extend-hours" }, "Expire in"), hours, h("span", {}, "hours from now"), h("button", { type: "submit" }, "Extend"));
        form.addEventListener("submit", (e) => {
            e.preventDefault();
            const n = Number(hours.value);
            if (!Number.isInteger(n) || n < 1) {
                err.textContent = "Expected a whole number of hours, at least 1";
                hours.setAttribute("aria-invalid", "true");
                return hours.focus();
            }
            ctx.api.extend(db.name, n).then((v) => {
                announce(`Expiry set to ${new Date(v.expires_at).toLocaleString()}`);
                render(v);
            }, (e2: unknown) => {
                err.textContent = e2 instanceof ApiError ? (e2.problem.errors?.[0]?.rule ? `Expected ${e2.problem.errors[0].rule}` : e2.problem.detail) : String(e2);
                hours.setAttribute("aria-invalid", "true");
                hours.focus();
            });
        });
        return h("section", { class: "card", "aria-labelledby": "expiry-heading" },
            h("h2", { id: "expiry-heading" }, "Expiry"),
            h("p", {}, "Expires ", when(db.expires_at), ` (${relative(db.expires_at)}); then it is deleted.`),
            form, err);
    }

    function actions(db: DatabaseView): HTMLElement {
        const run = (btn: HTMLButtonElement, call: () => Promise<unknown>, done: string) => {
            btn.disabled = true;
            call().then(() => {
                announce(done);
                return load();
            }, (e: unknown) => {
                btn.disabled = false;
                fail(e);
            });
        };
        const restart = h("button", { type: "button", disabled: db.state !== "ready" }, "Restart");
        restart.addEventListener("click", () => run(restart, () => ctx.api.action(db.name, "restart"), "Restart requested"));
        const retry = db.state === "failed" ? h("button", { type: "button" }, "Retry create") : null;
        retry?.addEventListener("click", () => run(retry, () => ctx.api.action(db.name, "retry"), "Create retried"));
        const del = h("button", { type: "button", class: "danger" }, "Delete…");
        del.addEventListener("click", () => confirmDelete(db, del, () => run(del, () => ctx.api.remove(db.name), `Deleting ${db.name}`)));
        return h("section", { class: "card", "aria-labelledby": "actions-heading" },
            h("h2", { id: "actions-heading" }, "Actions"), h("div", { class: "actions" }, restart, retry, del));
    }

    append(main, heading, message, body);
    void load();
    return {
        dispose: () => {
            disposed = true;
            progress?.stop();
            clearInterval(poll);
            backups.dispose();
            activities.dispose();
        },
    };
}

/** A modal dialog; Delete runs only on explicit confirmation, Cancel (focused first) or Escape closes it. */
function confirmDelete(db: DatabaseView, opener: HTMLButtonElement, onConfirm: () => void): void {
    const cancel = h("button", { type: "button", autofocus: true }, "Cancel");
    const ok = h("button", { type: "button", class: "danger" }, `Delete ${db.name}`);
    const dialog = h("dialog", { "aria-labelledby": "confirm-heading", "aria-describedby": "confirm-text" },
        h("h2", { id: "confirm-heading" }, `Delete ${db.name}?`),
        h("p", { id: "confirm-text" }, "The database and its data are destroyed. This cannot be undone."),
        h("div", { class: "actions" }, cancel, ok));
    const close = () => {
        dialog.close();
        dialog.remove();
        opener.focus();
    };
    cancel.addEventListener("click", close);
    dialog.addEventListener("cancel", () => setTimeout(close));
    ok.addEventListener("click", () => {
        close();
        onConfirm();
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
}
