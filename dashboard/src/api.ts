/**
 * The dashboard's only way to the server: the public HTTP API with the
 * bearer token the user pasted. Response types are the API's own view types,
 * so a change there shows up here at type-check time.
 */
import type { z } from "zod";
import type { activityListView, contactListView, contactWithSecretView, CreateContactBody, deliveryListView, NoteBody, noteView, PatchContactBody } from "../../contracts/activities";
import type { AuditEntryView, DatabaseView, MeView } from "../../contracts/api";
import type { BackupView } from "../../contracts/backup";
import type { ReportView } from "../../contracts/reports";
import { readEventStream, type SseEvent } from "./sse";

export type { AuditEntryView, BackupView, DatabaseView };
export type ActivityList = z.output<typeof activityListView>;
export type ActivityView = ActivityList["activities"][number];
export type NoteView = z.output<typeof noteView>;
export type ContactView = z.output<typeof contactListView>["contacts"][number];
export type ContactWithSecret = z.output<typeof contactWithSecretView>;
export type DeliveryList = z.output<typeof deliveryListView>;
export type DeliveryView = DeliveryList["deliveries"][number];

/** An RFC 9457 problem as the API sends it. */
export interface Problem {
    readonly status: number;
    readonly title: string;
    readonly detail: string;
    readonly errors?: readonly { readonly field: string; readonly rule: string }[];
    readonly state?: string;
}

export class ApiError extends Error {
    constructor(readonly problem: Problem) {
        super(problem.detail || problem.title);
        this.name = "ApiError";
    }
}

export type Role = MeView["role"];

/** Who the token belongs to, as `GET /me` says. */
export interface Identity {
    readonly role: Role;
    readonly subject: string;
}

export interface Versions {
    readonly default: string;
    readonly versions: readonly { readonly label: string; readonly image: string; readonly default: boolean }[];
}

function isProblem(v: unknown): v is Problem {
    return typeof v === "object" && v !== null && typeof (v as Problem).status === "number" && typeof (v as Problem).title === "string";
}

export class Api {
    constructor(readonly token: string) {}

    async request<T>(method: string, path: string, body?: unknown): Promise<T> {
        const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, accept: "application/json" };
        if (body !== undefined) headers["content-type"] = "application/json";
        let res: Response;
        try {
            res = await fetch(path, { method, headers, cache: "no-store", ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
        } catch {
            throw new ApiError({ status: 0, title: "The API cannot be reached", detail: "the network request failed; check the connection and retry" });
        }
        const text = await res.text();
        let json: unknown;
        try {
            json = text === "" ? undefined : JSON.parse(text);
        } catch {
            json = undefined;
        }
        if (!res.ok) {
            throw new ApiError(isProblem(json) ? json : { status: res.status, title: `HTTP ${res.status}`, detail: text.slice(0, 200) });
        }
        return json as T;
    }

    versions(): Promise<Versions> {
        return this.request("GET", "/versions");
    }

    /** Every database the token may see (own, or all for admins), following pages. */
    async databases(): Promise<DatabaseView[]> {
        const all: DatabaseView[] = [];
        let after: string | null = null;
        for (let page = 0; page < 20; page++) {
            const q: string = after === null ? "" : `&after=${encodeURIComponent(after)}`;
            const r: { databases: DatabaseView[]; next: string | null } = await this.request("GET", `/databases?limit=500${q}`);
            all.push(...r.databases);
            after = r.next;
            if (after === null) break;
        }
        return all;
    }

    database(name: string): Promise<DatabaseView> {
        return this.request("GET", `/databases/${encodeURIComponent(name)}`);
    }

    credentials(name: string): Promise<DatabaseView> {
        return this.request("GET", `/databases/${encodeURIComponent(name)}?include=password`);
    }

    create(body: Record<string, unknown>): Promise<{ database: DatabaseView }> {
        return this.request("POST", "/databases", body);
    }

    extend(name: string, ttlHours: number): Promise<DatabaseView> {
        return this.request("PATCH", `/databases/${encodeURIComponent(name)}`, { ttl_hours: ttlHours });
    }

    action(name: string, action: "restart" | "retry" | "cancel"): Promise<{ database: DatabaseView }> {
        return this.request("POST", `/databases/${encodeURIComponent(name)}/${action}`);
    }

    remove(name: string): Promise<{ database: DatabaseView }> {
        return this.request("DELETE", `/databases/${encodeURIComponent(name)}`);
    }

    audit(database: string): Promise<{ entries: AuditEntryView[] }> {
        return this.request("GET", `/audit?database=${encodeURIComponent(database)}&limit=50`);
    }

    /** GET /reports over `window` (e.g. "7d"): all databases for admins, own ones for users. */
    report(window: string): Promise<ReportView> {
        return this.request("GET", `/reports?window=${encodeURIComponent(window)}`);
    }

    /** The backups of databases of that name, newest first (owner or admin). */
    backups(name: string): Promise<{ backups: BackupView[] }> {
        return this.request("GET", `/databases/${encodeURIComponent(name)}/backups`);
    }

    /** Starts a backup of a ready database; it answers at once with `status: running`. */
    takeBackup(name: string): Promise<BackupView> {
        return this.request("POST", `/databases/${encodeURIComponent(name)}/backups`);
    }

    /** One page of a database's activities, newest first; `before` is the previous page's `next`. */
    activities(name: string, before?: number, limit = 50): Promise<ActivityList> {
        const q = before === undefined ? "" : `&before=${before}`;
        return this.request("GET", `/databases/${encodeURIComponent(name)}/activities?limit=${limit}${q}`);
    }

    addNote(name: string, activityId: number, body: NoteBody): Promise<NoteView> {
        return this.request("POST", `/databases/${encodeURIComponent(name)}/activities/${activityId}/notes`, body);
    }

    /** A project's contacts (admins only; never their secrets). */
    contacts(project: string): Promise<{ contacts: ContactView[] }> {
        return this.request("GET", `/projects/${encodeURIComponent(project)}/contacts`);
    }

    /** The answer carries the webhook signing secret, this once. */
    createContact(project: string, body: CreateContactBody): Promise<ContactWithSecret> {
        return this.request("POST", `/projects/${encodeURIComponent(project)}/contacts`, body);
    }

    updateContact(project: string, id: number, body: PatchContactBody): Promise<ContactWithSecret> {
        return this.request("PATCH", `/projects/${encodeURIComponent(project)}/contacts/${id}`, body);
    }

    removeContact(project: string, id: number): Promise<void> {
        return this.request("DELETE", `/projects/${encodeURIComponent(project)}/contacts/${id}`);
    }

    deliveries(project: string, limit = 50): Promise<DeliveryList> {
        return this.request("GET", `/projects/${encodeURIComponent(project)}/deliveries?limit=${limit}`);
    }

    events(name: string, signal: AbortSignal, onEvent: (e: SseEvent) => void): Promise<void> {
        return readEventStream(`/databases/${encodeURIComponent(name)}/events`, this.token, signal, onEvent);
    }

    /** Checks the token (a bad one answers 401) and says whose it is. */
    async identify(): Promise<Identity> {
        const me = await this.request<MeView>("GET", "/me");
        return { role: me.role, subject: me.subject };
    }
}
