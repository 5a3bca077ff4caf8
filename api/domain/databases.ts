/**
 * The rules of the API: who may see and change which database, what a
 * request must satisfy beyond its schema, and which state transition it asks
 * for. Every accepted change commits the database row, its operation (the
 * job), a first progress event and an audit entry in one transaction; every
 * refused transition is audited too. Routes call this; this calls the store,
 * and the engine only for credentials and readiness (operations run in the
 * job runner).
 */
import type { Principal } from "../http/auth";
import type { ApiConfig } from "../config";
import { findVersion, defaultVersion } from "../../contracts/catalog";
import { databaseSpecSchema, type DatabaseSpec } from "../../contracts/database";
import { EngineUnavailableError, StackNotFoundError, type DatabaseOutputs, type StackEngine } from "../engine/types";
import { problems, invalidField, invalidRequest, ApiProblem } from "../http/problems";
import type { CreateDatabaseBody } from "../../contracts/api";
import { checkBackupLocation, type Resolver } from "./ssrf";
import { operationFor, transition, type DatabaseAction } from "./stateMachine";
import { CHANNEL_CANCEL, CHANNEL_EVENTS, JOBS_WAKEUP, insertEvent, insertOperation, operationById, requestCancel, type Notification } from "../store/queue";
import type pg from "pg";
import type { Accepted, AdminStore, DatabaseRow, ListedDatabase, OperationRow } from "../store/store";
import { type DatabaseState } from "../../contracts/api";
import { recordActivity } from "./activityLog";
import { enqueueNotification, takeExpiryWarnings } from "../store/contacts";

export type DatabasesConfig = Pick<ApiConfig, "catalog" | "backupHosts" | "ttlHoursDefault" | "ttlHoursMax" | "allowOpenSourceRanges" | "defaultSourceRanges" | "target">;

export type { Accepted };

/** A principal acting for the system (reaper). */
export const REAPER: Principal = { subject: "reaper", role: "admin" };

const HOUR_MS = 3_600_000;

/** The stored backups a new database may be restored from (api/backups/backups.ts). */
export interface BackupLookup {
    /** The caller's own succeeded backup `id` (an admin: any); else throws the problem (404 for unknown and foreign alike). */
    forRestore(who: Principal, id: string): Promise<{ id: string }>;
}

export function isVisibleTo(db: Pick<DatabaseRow, "owner">, who: Principal): boolean {
    return who.role === "admin" || db.owner === who.subject;
}

/** A CIDR that opens the database to the whole internet (prefix length 0). */
export function isOpenRange(cidr: string): boolean {
    return /\/0+$/.test(cidr);
}

export class Databases {
    constructor(
        private readonly store: AdminStore,
        private readonly engine: StackEngine,
        private readonly config: DatabasesConfig,
        private readonly resolve: Resolver,
        private readonly now: () => Date = () => new Date(),
        /** Without it, `backup_id` is refused (the server keeps no backups). */
        private readonly backups?: BackupLookup,
    ) {}

    async create(who: Principal, body: CreateDatabaseBody, requestId: string): Promise<Accepted> {
        if (who.role !== "admin" && body.owner !== who.subject) {
            throw problems.forbidden("body.owner", `"${who.subject}" (a user token creates databases for itself only)`);
        }
        const version = body.version === undefined ? defaultVersion(this.config.catalog) : findVersion(this.config.catalog, body.version);
        if (version === undefined) {
            throw invalidField("body.version", `a version from the catalog (${this.config.catalog.map((v) => JSON.stringify(v.label)).join(", ")}; see GET /versions)`);
        }
        const ttlHours = this.#ttl(body.ttl_hours, "body.ttl_hours");
        const sourceRanges = body.source_ranges ?? [...this.config.defaultSourceRanges];
        sourceRanges.forEach((r, i) => {
            if (isOpenRange(r) && !this.config.allowOpenSourceRanges) {
                throw invalidField(`body.source_ranges[${i}]`, `a range narrower than ${r}: opening a database to the whole internet is not allowed on this server`);
            }
        });
        if (body.backup_location !== undefined && body.backup_id !== undefined) {
            throw invalidRequest([{ field: "body.backup_id", rule: "either backup_id or backup_location, not both" }]);
        }
        const backup = body.backup_location === undefined ? undefined : await this.#checkBackup(body.backup_location, "body.backup_location");
        const backupId = body.backup_id === undefined ? undefined : await this.#storedBackup(who, body.backup_id);
        await this.#requireEngine();
        const expiresAt = new Date(this.now().getTime() + ttlHours * HOUR_MS);
        const spec = this.#spec({
            name: body.name, owner: body.owner, project_id: body.project_id, db_type: body.db_type,
            version: version.label, image: version.image, expires_at: expiresAt.toISOString(), source_ranges: sourceRanges,
            ...(backup === undefined ? {} : { backup_location: backup }),
            ...(backupId === undefined ? {} : { backup_id: backupId }), target: this.config.target,
            ...(body.fresh === true ? { fresh: true } : {}),
        });
        const accepted = await this.store.createDatabase({
            name: body.name, owner: body.owner, projectId: body.project_id, dbType: body.db_type, version: version.label,
            spec, ttlHours, expiresAt, createdBy: who.subject, requestId,
            auditDetail: { from: "none", to: "creating", version: version.label, ttl_hours: ttlHours, ...(backupId === undefined ? {} : { backup_id: backupId }) },
            event: { message: `create queued by ${who.subject}`, at: new Date().toISOString() },
        });
        if (accepted !== undefined) {
            this.#announce([JOBS_WAKEUP, [CHANNEL_EVENTS, String(accepted.operation.id)]]);
            return accepted;
        }
        const taken = await this.store.findDatabase(body.name);
        const p = taken !== undefined && taken.state !== "deleted" ? this.#nameTaken(taken, who) : problems.conflict("body.name", `a name that is not taken: "${body.name}" is in use`);
        await this.#auditRefusal(who, "database.create", body.name, requestId, p);
        throw p;
    }

    async list(who: Principal, q: { owner?: string; project_id?: string; state?: DatabaseState; limit: number; after?: { name: string; id: number } }): Promise<{ rows: ListedDatabase[]; more: boolean }> {
        // A user's listing is its own databases, whatever owner filter it sends.
        if (who.role !== "admin" && q.owner !== undefined && q.owner !== who.subject) return { rows: [], more: false };
        const owner = who.role === "admin" ? q.owner : who.subject;
        const rows = await this.store.listDatabases({
            ...(owner === undefined ? {} : { owner }),
            ...(q.project_id === undefined ? {} : { projectId: q.project_id }),
            ...(q.state === undefined ? {} : { state: q.state }),
            ...(q.after === undefined ? {} : { after: q.after }),
            limit: q.limit + 1,
        });
        return { rows: rows.slice(0, q.limit), more: rows.length > q.limit };
    }

    /** The database and its current operation; 404 when absent or not visible. */
    async get(who: Principal, name: string): Promise<{ db: DatabaseRow; op: OperationRow | undefined }> {
        const db = await this.store.findDatabase(name);
        if (db === undefined || !isVisibleTo(db, who)) throw problems.notFound(`database "${name}"`);
        const op = db.current_operation_id === null ? undefined : await operationById(this.store.pool, db.current_operation_id);
        return { db, op };
    }

    /** The secret connection details, for the owner only, from the engine (they are not stored here). */
    async credentials(who: Principal, db: DatabaseRow, requestId: string): Promise<DatabaseOutputs> {
        if (db.owner !== who.subject) throw problems.forbidden("query.include", "no include=password: only the database's owner may read its password");
        if (db.state !== "ready" && db.state !== "restarting") {
            throw problems.conflict("query.include", `a database in state ready to read its password (it is ${db.state})`, db.state);
        }
        let outputs: DatabaseOutputs;
        try {
            outputs = await this.engine.outputs(db.name);
        } catch (e) {
            if (e instanceof StackNotFoundError) throw problems.conflict("query.include", "a database whose stack exists (it does not; retry or delete it)", db.state);
            if (e instanceof EngineUnavailableError) throw problems.unavailable(["the provisioning engine is unavailable; try again later"]);
            throw e;
        }
        await this.store.appendAudit(this.store.pool, { actor: who.subject, action: "database.credentials", database: db.name, operationId: null, outcome: "revealed", requestId });
        return outputs;
    }

    delete(who: Principal, name: string, requestId: string): Promise<Accepted> {
        return this.#act(who, name, "delete", requestId, "database.delete");
    }

    restart(who: Principal, name: string, requestId: string): Promise<Accepted> {
        return this.#act(who, name, "restart", requestId, "database.restart");
    }

    /** Runs the create of a failed database again (an idempotent `up` of its spec, with a fresh expiry). */
    retry(who: Principal, name: string, requestId: string): Promise<Accepted> {
        return this.#act(who, name, "retry", requestId, "database.retry");
    }

    /** Cancels the running create or restart; the database becomes failed (retry or delete it). */
    async cancel(who: Principal, name: string, requestId: string): Promise<Accepted> {
        return this.#change(who, name, "cancel", requestId, "database.cancel", async (c, db, _next, notes) => {
            const opId = db.current_operation_id;
            if (opId === null) throw problems.conflict("params.name", "a database with an operation in progress", db.state);
            await this.#cancelOperation(c, opId, `cancelled by ${who.subject}`, notes);
            const updated = await this.store.updateDatabase(c, db.id, { state: "failed", failureReason: `cancelled by ${who.subject}` });
            await recordActivity(c, db, { kind: "failed", actor: who.subject, operationId: opId, detail: { reason: `cancelled by ${who.subject}` } });
            return { database: updated, operation: (await operationById(c, opId)) as OperationRow };
        });
    }

    /** Sets the expiry to `ttlHours` from now. The admin database is the source of truth for expiry (the reaper reads it). */
    async extend(who: Principal, name: string, ttlHours: number, requestId: string): Promise<DatabaseRow> {
        const ttl = this.#ttl(ttlHours, "body.ttl_hours");
        return this.#change(who, name, "extend", requestId, "database.extend", async (c, db) => {
            const expiresAt = new Date(this.now().getTime() + ttl * HOUR_MS);
            return this.store.updateDatabase(c, db.id, { expiresAt, ttlHours: ttl, spec: { ...db.spec, expires_at: expiresAt.toISOString() } });
        }, { ttl_hours: ttl });
    }

    async readiness(): Promise<string[]> {
        const reasons: string[] = [];
        try {
            await this.store.ping();
        } catch {
            reasons.push("the admin database is not reachable");
        }
        return [...reasons, ...await this.#engineProblems()];
    }

    /** What keeps the engine from running operations now, each as "engine: <cause and fix>". */
    async #engineProblems(): Promise<string[]> {
        try {
            const r = await this.engine.readiness();
            return r.ok ? [] : r.reasons.map((x) => `engine: ${x}`);
        } catch {
            return ["engine: readiness check failed"];
        }
    }

    /** Enqueues a delete for every expired database no operation is working on. */
    async reapExpired(limit = 20): Promise<string[]> {
        const names = await this.store.tx(async (c) => (await this.store.expiredDatabases(c, limit)).map((d) => d.name));
        const reaped: string[] = [];
        for (const name of names) {
            try {
                await this.#act(REAPER, name, "delete", `reaper-${Date.now()}`, "database.expire");
                reaped.push(name);
            } catch {
                // Changed state meanwhile (another replica, a user): the next round looks again.
            }
        }
        return reaped;
    }

    /**
     * Tells the contacts of each database's project, once per expiry time,
     * that it expires within `withinMs` (default a day). Runs with the reaper;
     * an extension moves the expiry, so the new one is warned about again.
     */
    async warnExpiring(withinMs = 24 * HOUR_MS, limit = 50): Promise<string[]> {
        return this.store.tx(async (c) => {
            const due = await takeExpiryWarnings(c, withinMs, limit);
            for (const d of due) {
                await enqueueNotification(c, {
                    projectId: d.project_id, database: d.name, kind: "expiry",
                    summary: `${d.name} expires at ${d.expires_at.toISOString()} and will then be deleted (extend it with PATCH /databases/${d.name})`,
                    data: { owner: d.owner, expires_at: d.expires_at.toISOString() },
                });
            }
            return due.map((d) => d.name);
        });
    }

    /**
     * Refuses new work at once (503 naming each missing part and its fix)
     * when the engine could not run it, instead of accepting a create that
     * can only fail after its retries.
     */
    async #requireEngine(): Promise<void> {
        const reasons = await this.#engineProblems();
        if (reasons.length > 0) throw problems.unavailable(reasons);
    }

    #ttl(ttlHours: number | undefined, field: string): number {
        const ttl = ttlHours ?? this.config.ttlHoursDefault;
        if (ttl < 1 || ttl > this.config.ttlHoursMax) throw invalidField(field, `between 1 and ${this.config.ttlHoursMax} hours`);
        return ttl;
    }

    async #checkBackup(url: string, field: string): Promise<string> {
        const check = await checkBackupLocation(url, this.config.backupHosts, this.resolve);
        if (!check.ok) throw invalidField(field, check.rule);
        return check.url;
    }

    async #storedBackup(who: Principal, id: string): Promise<string> {
        if (this.backups === undefined) throw invalidField("body.backup_id", "no backup_id: this server keeps no backups (use backup_location)");
        return (await this.backups.forRestore(who, id)).id;
    }

    #spec(raw: unknown): DatabaseSpec {
        const parsed = databaseSpecSchema.safeParse(raw);
        if (!parsed.success) {
            const i = parsed.error.issues[0];
            throw invalidField(`body.${i?.path.join(".") ?? ""}`, i?.message ?? "a valid database spec");
        }
        return parsed.data;
    }

    #nameTaken(db: DatabaseRow, who: Principal): ApiProblem {
        return isVisibleTo(db, who)
            ? problems.conflict("body.name", `a name that is not taken: "${db.name}" exists (state ${db.state})`, db.state)
            : problems.conflict("body.name", `a name that is not taken: "${db.name}" is in use`);
    }

    async #auditRefusal(who: Principal, action: string, name: string, requestId: string, p: ApiProblem): Promise<void> {
        await this.store.appendAudit(this.store.pool, { actor: who.subject, action, database: name, outcome: "refused", requestId, detail: { status: p.status, reason: p.detail } }).catch(() => undefined);
    }

    /**
     * Asks the worker running `opId` to stop; an operation still queued is
     * cancelled here, and since no worker will report its end, its `end` event
     * is written here so its event streams close.
     */
    async #cancelOperation(c: pg.PoolClient, opId: number, reason: string, notes: Notification[]): Promise<void> {
        const status = await requestCancel(c, opId, reason);
        if (status === "running") notes.push([CHANNEL_CANCEL, String(opId)]);
        if (status === "cancelled") {
            await insertEvent(c, opId, "end", { status: "cancelled", reason, at: new Date().toISOString() });
            notes.push([CHANNEL_EVENTS, String(opId)]);
        }
    }

    /** Wakes the runner and SSE watchers on every replica once the change has committed; failures only delay (both also poll). */
    #announce(notes: readonly Notification[]): void {
        this.store.announce(notes);
    }

    async #startOperation(c: pg.PoolClient, db: DatabaseRow, kind: "create" | "restart" | "delete", state: DatabaseState, who: Principal, requestId: string, action: string, notes: Notification[]): Promise<Accepted> {
        const op = await insertOperation(c, { databaseId: db.id, kind, requestedBy: who.subject, requestId });
        // The watcher's last look is about the server this operation replaces or removes: forget it.
        const database = await this.store.updateDatabase(c, db.id, { state, currentOperationId: op.id, runtime: null, ...(kind === "create" ? { failureReason: null } : {}) });
        await this.store.appendAudit(c, { actor: who.subject, action, database: db.name, operationId: op.id, outcome: "accepted", requestId, detail: { from: db.state, to: state } });
        await insertEvent(c, op.id, "status", { message: `${kind} queued by ${who.subject}`, at: new Date().toISOString() });
        notes.push(JOBS_WAKEUP, [CHANNEL_EVENTS, String(op.id)]);
        return { database, operation: op };
    }

    /** A request that changes a database: lock it, check the transition, apply, audit. */
    async #change<T>(who: Principal, name: string, action: DatabaseAction, requestId: string, auditAction: string, apply: (c: pg.PoolClient, db: DatabaseRow, next: DatabaseState, notes: Notification[]) => Promise<T>, detail: Record<string, unknown> = {}): Promise<T> {
        const notes: Notification[] = [];
        try {
            const result = await this.store.tx(async (c) => {
                const db = await this.store.findDatabase(name, c, true);
                if (db === undefined || !isVisibleTo(db, who)) throw problems.notFound(`database "${name}"`);
                const t = transition(db.state, action);
                if (!t.ok) {
                    const requestable = t.allowed.filter((a) => a !== "succeed" && a !== "fail");
                    throw problems.conflict("params.name", `a database in a state that allows ${action} (it is ${t.current}; allowed there: ${requestable.join(", ") || "nothing"})`, t.current);
                }
                const applied = await apply(c, db, t.next, notes);
                if (operationFor(action) === undefined) {
                    await this.store.appendAudit(c, { actor: who.subject, action: auditAction, database: db.name, operationId: db.current_operation_id, outcome: "accepted", requestId, detail: { from: db.state, to: t.next, ...detail } });
                }
                return applied;
            });
            this.#announce(notes);
            return result;
        } catch (e) {
            if (e instanceof ApiProblem && e.status === 409) await this.#auditRefusal(who, auditAction, name, requestId, e);
            throw e;
        }
    }

    async #act(who: Principal, name: string, action: "delete" | "restart" | "retry", requestId: string, auditAction: string): Promise<Accepted> {
        if (action === "retry") {
            // Re-check the backup URL: what it resolves to may have changed since the first attempt.
            const current = await this.store.findDatabase(name);
            if (current !== undefined && isVisibleTo(current, who) && current.spec.backup_location !== undefined) {
                await this.#checkBackup(current.spec.backup_location, "spec.backup_location");
            }
        }
        return this.#change(who, name, action, requestId, auditAction, async (c, db, next, notes) => {
            // A retry runs the create again; delete and restart are their own operations.
            const kind = action === "retry" ? "create" : action;
            if (action === "delete" && db.current_operation_id !== null) {
                // Delete supersedes a create or restart in flight: cancel it first; the delete waits for it to stop.
                await this.#cancelOperation(c, db.current_operation_id, `superseded by delete from ${who.subject}`, notes);
            }
            if (action === "retry") {
                const expiresAt = new Date(this.now().getTime() + db.ttl_hours * HOUR_MS);
                await this.store.updateDatabase(c, db.id, { spec: { ...db.spec, expires_at: expiresAt.toISOString() }, expiresAt });
            }
            if (auditAction === "database.expire") {
                await recordActivity(c, db, { kind: "expired", actor: who.subject, detail: { expires_at: db.expires_at.toISOString() } });
            }
            return this.#startOperation(c, db, kind, next, who, requestId, auditAction, notes);
        });
    }
}
