/**
 * A database's backups, on its page: the list (GET /databases/:name/backups),
 * "Take a backup" (POST, answered at once with `status: running`) and, per
 * succeeded backup, a link to the create form with that backup as the
 * source. Backups are not operations, so they have no event stream: while
 * one is running the list is read again every second until it ends.
 */
import type { BackupView, DatabaseView } from "./api";
import type { Context } from "./context";
import { announce, bytes, h, when } from "./dom";
import { problemText } from "./forms";

export interface BackupsSection {
    readonly element: HTMLElement;
    /** The database changed (its state decides whether a backup can be taken). */
    update(db: DatabaseView): void;
    dispose(): void;
}

/** The create form's route with `b` as the source and the source database's project and version filled. */
export function createFromBackupHash(b: Pick<BackupView, "id">, db: Pick<DatabaseView, "project_id" | "version">): string {
    const q = new URLSearchParams({ backup: b.id, project: db.project_id, version: db.version });
    return `#/new?${q.toString()}`;
}

export function backupsSection(ctx: Context, name: string): BackupsSection {
    const take = h("button", { type: "button", disabled: true }, "Take a backup");
    const status = h("p", { class: "muted", id: "backups-status", "aria-live": "polite" }, "Loading…");
    const message = h("p", { class: "form-error", role: "alert", tabindex: -1 });
    const list = h("div", { class: "table-wrap" });
    const element = h("section", { class: "card", "aria-labelledby": "backups-heading", "data-testid": "backups" },
        h("div", { class: "title-row" }, h("h2", { id: "backups-heading" }, "Backups"), take), message, status, list);
    let db: DatabaseView | undefined;
    let backups: BackupView[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    let disposed = false;
    let loaded = false;
    /** Backups this page started, to say how they ended. */
    const started = new Set<string>();

    const running = () => backups.some((b) => b.status === "running");

    function syncButton(): void {
        take.disabled = db?.state !== "ready" || running();
        take.title = db?.state === "ready" ? (running() ? "A backup of this database is running" : "") : "Only a ready database can be backed up";
    }

    function row(b: BackupView): HTMLTableRowElement {
        const source = db;
        const action = b.status === "succeeded" && source !== undefined
            ? h("a", { class: "button small", href: createFromBackupHash(b, source), "aria-label": `Create a database from the backup of ${new Date(b.started_at).toLocaleString()}` }, "Create a database from this backup")
            : "";
        return h("tr", { "data-backup": b.id, "data-status": b.status },
            h("td", { "data-label": "Type" }, b.type),
            h("td", { "data-label": "Status" }, h("span", { class: `badge status-${b.status}` }, b.status)),
            h("td", { "data-label": "Database size" }, bytes(b.db_size_bytes)),
            h("td", { "data-label": "Backup size" }, bytes(b.backup_size_bytes)),
            h("td", { "data-label": "Started" }, when(b.started_at)),
            h("td", { "data-label": "Finished" }, b.finished_at === null ? "—" : when(b.finished_at)),
            h("td", { "data-label": "Error" }, b.error ?? ""),
            h("td", { "data-label": "Restore" }, action));
    }

    function render(): void {
        syncButton();
        if (!loaded) return;
        if (backups.length === 0) {
            status.textContent = "No backups yet.";
            list.replaceChildren();
            return;
        }
        status.textContent = running() ? "A backup is running…" : `${backups.length} backup${backups.length === 1 ? "" : "s"}, newest first.`;
        list.replaceChildren(h("table", { class: "backups" },
            h("caption", { class: "visually-hidden" }, `Backups of ${name}`),
            h("thead", {}, h("tr", {}, ...["Type", "Status", "Database size", "Backup size", "Started", "Finished", "Error", "Restore"].map((t) => h("th", { scope: "col" }, t)))),
            h("tbody", {}, ...backups.map(row))));
    }

    async function load(): Promise<void> {
        clearTimeout(timer);
        try {
            backups = (await ctx.api.backups(name)).backups;
            loaded = true;
        } catch (e) {
            if (disposed) return;
            status.textContent = `The backups could not be read: ${problemText(e)}`;
            return;
        }
        if (disposed) return;
        for (const b of backups) {
            if (b.status !== "running" && started.delete(b.id)) announce(b.status === "succeeded" ? "Backup succeeded" : `Backup failed: ${b.error ?? "no reason given"}`);
        }
        render();
        if (running()) timer = setTimeout(() => void load(), 1000);
    }

    take.addEventListener("click", () => {
        take.disabled = true;
        message.textContent = "";
        ctx.api.takeBackup(name).then((b) => {
            started.add(b.id);
            announce("Backup started");
            backups = [b, ...backups.filter((x) => x.id !== b.id)];
            render();
            return load();
        }, (e: unknown) => {
            message.textContent = problemText(e);
            message.focus();
            syncButton();
        });
    });

    void load();
    return {
        element,
        update(next) {
            const before = db?.state;
            db = next;
            // Links carry the database's project and version; a new state may allow a backup.
            if (before !== next.state) render();
        },
        dispose() {
            disposed = true;
            clearTimeout(timer);
        },
    };
}
