/**
 * The rules of backups: who may start, list and restore from which backup,
 * the background dump (one per database at a time, at most `maxConcurrent`
 * in this process, a lease so another replica fails a backup whose process
 * died), the roll-off job, and the signed URL a restore fetches a backup by.
 * Every change is audited: backup.start, backup.finish, backup.rolloff,
 * backup.content (a download), and refused starts.
 */
import { randomUUID } from "node:crypto";
import type { Readable } from "node:stream";
import type { ApiConfig, BackupConfig } from "../config";
import type { DatabaseSpec } from "../../contracts/database";
import { truncate } from "../engine/errors";
import { EngineUnavailableError, ProgramError, StackNotFoundError, type StackEngine } from "../engine/types";
import { isVisibleTo, type BackupLookup } from "../domain/databases";
import type { Principal } from "../http/auth";
import { ApiProblem, invalidField, problems } from "../http/problems";
import type { AdminStore } from "../store/store";
import type { BackupStore } from "./backupStore";
import { selectRollOff, type RollOff } from "./retention";
import { BackupFailure, type BackupRunner, type DumpSource } from "./runner";
import {
    backupById, backupsInUse, contentUrlKey, expiredBackupLeases, finishBackup, insertBackup, listBackups, markRolledOff, renewBackupLeases,
    retentionCandidates, runningBackupOf, setBackupInfo, type BackupRow,
} from "./rows";
import { backupContentUrl, verifyBackupContent } from "./signedUrl";

export type { BackupRow };

interface Log {
    info(obj: object, msg: string): void;
    warn(obj: object, msg: string): void;
    error(obj: object, msg: string): void;
}

export interface BackupsOptions {
    readonly store: AdminStore;
    readonly engine: StackEngine;
    readonly files: BackupStore;
    readonly runner: BackupRunner;
    readonly config: BackupConfig;
    /** A signed content URL is good for one operation attempt: this long from when the attempt starts. */
    readonly operationTimeoutMs: ApiConfig["operationTimeoutMs"];
    readonly log: Log;
    /** Lease of a running backup (default 30 s); renewed every third of it. */
    readonly leaseMs?: number;
    readonly now?: () => Date;
}

/** Who rolls old backups off (the actor of its audit entries). */
export const RETENTION_ACTOR = "retention";

const notFound = (id: string, field: string) => new ApiProblem(404, "not-found", "Not found",
    `${field}: expected a backup of yours (${id} does not exist or is not yours; see GET /databases/{name}/backups)`,
    { errors: [{ field, rule: "a backup of yours (GET /databases/{name}/backups)" }] });

export class Backups implements BackupLookup {
    readonly workerId = `backups-${randomUUID()}`;
    readonly #running = new Map<string, { controller: AbortController; done: Promise<void> }>();
    readonly #waiting: (() => void)[] = [];
    #active = 0;
    #key: Buffer | undefined;
    #timers: NodeJS.Timeout[] = [];
    #stopping = false;
    readonly #leaseMs: number;
    readonly #now: () => Date;

    constructor(private readonly o: BackupsOptions) {
        this.#leaseMs = o.leaseMs ?? 30_000;
        this.#now = o.now ?? (() => new Date());
    }

    /** Loads the URL key, fails backups a dead process left running, starts the lease and roll-off timers. */
    async start(): Promise<void> {
        this.#key = await contentUrlKey(this.o.store.pool);
        await this.recover();
        const every = (ms: number, what: string, fn: () => Promise<unknown>) => {
            const t = setInterval(() => {
                fn().catch((e: Error) => this.o.log.error({ err: truncate(e.message, 500) }, `${what} failed`));
            }, ms);
            t.unref();
            this.#timers.push(t);
        };
        every(Math.max(100, this.#leaseMs / 3), "renewing backup leases", () => renewBackupLeases(this.o.store.pool, this.workerId, [...this.#running.keys()], this.#leaseMs));
        every(Math.max(500, this.#leaseMs), "backup recovery", () => this.recover());
        if (this.o.config.rolloffIntervalMs > 0) every(this.o.config.rolloffIntervalMs, "backup roll-off", () => this.rollOff());
    }

    /** Stops the timers, stops running dumps (they fail: "the API shut down"), waits for them. */
    async stop(): Promise<void> {
        this.#stopping = true;
        for (const t of this.#timers) clearInterval(t);
        this.#timers = [];
        for (const r of this.#running.values()) r.controller.abort("the API shut down during the backup; start it again");
        for (const w of this.#waiting.splice(0)) w();
        await Promise.all([...this.#running.values()].map((r) => r.done));
    }

    /** Starts a backup of a ready database (owner or admin); it runs in the background. */
    async begin(who: Principal, name: string, requestId: string): Promise<BackupRow> {
        if (this.#stopping) throw problems.unavailable(["the API is shutting down; start the backup again"]);
        let row: BackupRow;
        try {
            row = await this.o.store.tx(async (c) => {
                const db = await this.o.store.findDatabase(name, c, true);
                if (db === undefined || !isVisibleTo(db, who) || db.state === "deleted") throw problems.notFound(`database "${name}"`);
                if (db.state !== "ready") throw problems.conflict("params.name", `a database in state ready to back it up (it is ${db.state})`, db.state);
                const running = await runningBackupOf(c, db.id);
                if (running !== undefined) throw problems.conflict("params.name", `no backup of "${name}" in progress (backup ${running.id} is running; wait for it)`, db.state);
                const b = await insertBackup(c, {
                    id: randomUUID(), databaseId: db.id, databaseName: db.name, owner: db.owner, type: "manual",
                    requestedBy: who.subject, requestId, workerId: this.workerId, leaseMs: this.#leaseMs,
                });
                await this.o.store.appendAudit(c, { actor: who.subject, action: "backup.start", database: db.name, outcome: "accepted", requestId, detail: { backup_id: b.id, type: b.type } });
                return b;
            });
        } catch (e) {
            if (e instanceof ApiProblem && e.status === 409) {
                await this.o.store.appendAudit(this.o.store.pool, { actor: who.subject, action: "backup.start", database: name, outcome: "refused", requestId, detail: { status: e.status, reason: e.detail } }).catch(() => undefined);
            }
            throw e;
        }
        const controller = new AbortController();
        const entry = { controller, done: Promise.resolve() };
        this.#running.set(row.id, entry);
        entry.done = this.#run(row, controller).catch((e: Error) => this.o.log.error({ backup: row.id, err: truncate(e.message, 500) }, "backup bookkeeping failed"))
            .finally(() => this.#running.delete(row.id));
        return row;
    }

    /** The backups of the database `name` (all its incarnations), newest first; a user sees only its own. */
    async list(who: Principal, name: string): Promise<BackupRow[]> {
        const db = await this.o.store.findDatabase(name);
        if (db === undefined || !isVisibleTo(db, who)) throw problems.notFound(`database "${name}"`);
        return listBackups(this.o.store.pool, name, who.role === "admin" ? undefined : who.subject);
    }

    async get(who: Principal, name: string, anyCaseId: string): Promise<BackupRow> {
        const id = anyCaseId.toLowerCase();
        const b = await backupById(this.o.store.pool, id);
        if (b === undefined || b.rolled_off_at !== null || b.database_name !== name || !isVisibleTo(b, who)) throw notFound(id, "params.id");
        return b;
    }

    /** BackupLookup: the backup a new database may be restored from (the caller's own, succeeded, still stored). */
    async forRestore(who: Principal, anyCaseId: string): Promise<{ id: string }> {
        const id = anyCaseId.toLowerCase();
        if (this.o.config.fetchBaseUrl === undefined) {
            throw invalidField("body.backup_id", "no backup_id on this server: DBAAS_BACKUP_FETCH_BASE_URL is not set, so a restore cannot reach its backups (use backup_location)");
        }
        const b = await backupById(this.o.store.pool, id);
        if (b === undefined || b.rolled_off_at !== null || !isVisibleTo(b, who)) throw notFound(id, "body.backup_id");
        if (b.status !== "succeeded") throw problems.conflict("body.backup_id", `a succeeded backup (${id} is ${b.status})`, b.status);
        return { id: b.id };
    }

    /**
     * The spec an `up` runs with: for a database restored from a stored
     * backup, backup_location is set to a signed URL of this API, good for
     * this attempt (the operation timeout). The stored spec keeps only the id.
     */
    async specForUp(spec: DatabaseSpec): Promise<DatabaseSpec> {
        if (spec.backup_id === undefined) return spec;
        const b = await backupById(this.o.store.pool, spec.backup_id);
        if (b === undefined || b.status !== "succeeded" || b.rolled_off_at !== null) {
            throw new ProgramError(`backup ${spec.backup_id} is no longer stored (rolled off); create the database from another backup`);
        }
        const base = this.o.config.fetchBaseUrl;
        if (base === undefined) throw new ProgramError("DBAAS_BACKUP_FETCH_BASE_URL is not set on the API, so the restore cannot reach the backup");
        const expiresAt = new Date(this.#now().getTime() + this.o.operationTimeoutMs);
        return { ...spec, backup_location: backupContentUrl(base, this.#contentKey(), b.id, expiresAt) };
    }

    /** The bytes of a backup for a signed URL (the restore's fetch); audited. */
    async content(anyCaseId: string, expires: number, signature: string, requestId: string): Promise<{ stream: Readable; sizeBytes: number }> {
        // Ids are stored, signed and named in lower case; a UUID may arrive in either.
        const id = anyCaseId.toLowerCase();
        const check = verifyBackupContent(this.#contentKey(), id, expires, signature, this.#now());
        if (check !== "ok") {
            throw problems.forbidden("query.sig", check === "expired" ? "a signed URL that has not expired (ask for a new one: retry the create)" : "a valid signature of this backup's content URL");
        }
        const b = await backupById(this.o.store.pool, id);
        const file = b !== undefined && b.status === "succeeded" && b.rolled_off_at === null ? await this.o.files.open(id) : undefined;
        if (b === undefined || file === undefined) throw notFound(id, "params.id");
        await this.o.store.appendAudit(this.o.store.pool, { actor: "restore", action: "backup.content", database: b.database_name, outcome: "served", requestId, detail: { backup_id: id, bytes: file.sizeBytes } });
        return file;
    }

    /** Applies retention: rolls off what `selectRollOff` picks, removing the files first; returns what it removed. */
    async rollOff(now = this.#now()): Promise<RollOff[]> {
        return this.o.store.tx(async (c) => {
            const rows = await retentionCandidates(c);
            const picked = selectRollOff(rows.map((r) => ({ id: r.id, databaseId: r.database_id, status: r.status, startedAt: r.started_at })),
                { keepCount: this.o.config.keepCount, maxAgeMs: this.o.config.maxAgeMs }, now, await backupsInUse(c));
            const byId = new Map(rows.map((r) => [r.id, r]));
            for (const p of picked) {
                const r = byId.get(p.id);
                if (r === undefined) continue;
                // File first: should the commit fail, the next round removes nothing more and commits.
                await this.o.files.remove(p.id);
                await markRolledOff(c, p.id);
                await this.o.store.appendAudit(c, {
                    actor: RETENTION_ACTOR, action: "backup.rolloff", database: r.database_name, outcome: "removed",
                    detail: { backup_id: p.id, reason: p.reason, status: r.status, started_at: r.started_at.toISOString(), backup_size_bytes: r.backup_size_bytes, keep_count: this.o.config.keepCount, keep_days: this.o.config.maxAgeMs / 86_400_000 },
                });
            }
            if (picked.length > 0) this.o.log.info({ backups: picked.map((p) => p.id) }, "backups rolled off");
            return picked;
        });
    }

    /** Fails running backups whose process stopped renewing their lease, and removes their partial files. */
    async recover(): Promise<void> {
        await this.o.store.tx(async (c) => {
            for (const b of await expiredBackupLeases(c)) {
                if (this.#running.has(b.id)) continue;
                await this.o.files.discard(b.id);
                const reason = "the API process taking the backup stopped; start it again";
                await finishBackup(c, b.id, null, { status: "failed", error: reason });
                await this.o.store.appendAudit(c, { actor: "system", action: "backup.finish", database: b.database_name, outcome: "failed", requestId: b.request_id, detail: { backup_id: b.id, reason } });
                this.o.log.warn({ backup: b.id, database: b.database_name }, "failed a backup whose process stopped");
            }
        });
    }

    #contentKey(): Buffer {
        if (this.#key === undefined) throw new Error("Backups.start() was not called");
        return this.#key;
    }

    async #slot(): Promise<() => void> {
        while (this.#active >= this.o.config.maxConcurrent && !this.#stopping) await new Promise<void>((r) => this.#waiting.push(r));
        this.#active++;
        return () => {
            this.#active--;
            this.#waiting.shift()?.();
        };
    }

    async #run(row: BackupRow, controller: AbortController): Promise<void> {
        const log = { backup: row.id, database: row.database_name };
        const release = await this.#slot();
        const timer = setTimeout(() => controller.abort(`the dump took longer than DBAAS_BACKUP_TIMEOUT_SECONDS (${Math.round(this.o.config.timeoutMs / 1000)} s)`), this.o.config.timeoutMs);
        const started = Date.now();
        let size: number | undefined;
        let reason: string | undefined;
        try {
            if (controller.signal.aborted) throw new BackupFailure(String(controller.signal.reason));
            const source = await this.#source(row.database_name);
            const staged = await this.o.files.stage(row.id);
            await this.o.runner.dump(source, staged, {
                signal: controller.signal,
                onInfo: (i) => setBackupInfo(this.o.store.pool, row.id, i.dbSizeBytes, i.serverMajor),
            });
            size = await this.o.files.commit(row.id);
        } catch (e) {
            reason = e instanceof BackupFailure ? e.reason : "the backup failed unexpectedly; the server log has the details under this backup's id";
            if (!(e instanceof BackupFailure)) this.o.log.error({ ...log, err: truncate(e instanceof Error ? e.message : String(e), 500) }, "backup failed unexpectedly");
            await this.o.files.discard(row.id).catch(() => undefined);
        } finally {
            clearTimeout(timer);
            release();
        }
        await this.o.store.tx(async (c) => {
            const done = await finishBackup(c, row.id, this.workerId, reason === undefined ? { status: "succeeded", ...(size === undefined ? {} : { backupSizeBytes: size }) } : { status: "failed", error: reason });
            if (done === undefined) return;
            await this.o.store.appendAudit(c, {
                actor: "system", action: "backup.finish", database: row.database_name, outcome: done.status, requestId: row.request_id,
                detail: { backup_id: row.id, seconds: Math.round((Date.now() - started) / 100) / 10, ...(reason === undefined ? { backup_size_bytes: size, db_size_bytes: done.db_size_bytes } : { reason }) },
            });
        });
        this.o.log.info({ ...log, ...(reason === undefined ? { bytes: size } : { reason }) }, reason === undefined ? "backup succeeded" : "backup failed");
    }

    /** Where the dump connects, from the engine's outputs (the password is never stored or logged). */
    async #source(name: string): Promise<DumpSource> {
        try {
            const out = await this.o.engine.outputs(name);
            return { name, host: out.host, port: out.port, database: out.database, user: out.user, password: out.password };
        } catch (e) {
            if (e instanceof StackNotFoundError) throw new BackupFailure("the database has no stack (it is not provisioned); nothing to back up");
            if (e instanceof EngineUnavailableError) throw new BackupFailure("the provisioning engine is unavailable, so the database's credentials could not be read; try again later");
            throw new BackupFailure("reading the database's credentials from the engine failed");
        }
    }
}
