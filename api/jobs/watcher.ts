/**
 * The runtime watcher: every interval it looks at the server of each ready
 * database (docker target: the container, through dockerRuntime.ts), stores
 * what it saw when that changed, and audits what happened on its own, outside
 * any operation: the engine restarted the server (restart policy), the server
 * went down, it came back. A database with an operation queued or running is
 * skipped (the operation replaces the server on purpose), and starting an
 * operation forgets the last observation (domain/databases.ts), so a planned
 * replacement is never reported as unplanned.
 */
import type { FastifyBaseLogger } from "fastify";
import type { UnplannedKind } from "../../contracts/activities";
import type { RuntimeView } from "../../contracts/api";
import type { RuntimeInspector, RuntimeObservation } from "../engine/dockerRuntime";
import type { AdminStore, AuditEntry } from "../store/store";

/** The activity kind of each audited change. */
const UNPLANNED_OF: Readonly<Record<string, UnplannedKind>> = {
    "database.unplanned_restart": "restarted", "database.down": "down", "database.up": "up",
};

/** At most this many containers are inspected at once. */
const PARALLEL = 8;

const isUp = (r: Pick<RuntimeView, "status">) => r.status === "running";

/** What changed between two observations, as audit entries of `database` (none on the first look at a running server). */
export function runtimeChanges(database: string, prev: RuntimeView | null, next: RuntimeObservation): AuditEntry[] {
    const audit = (action: string, detail: Record<string, unknown>): AuditEntry => ({ actor: "system", action, database, outcome: "noticed", detail });
    const out: AuditEntry[] = [];
    if (prev !== null && next.restarts > prev.restarts) {
        out.push(audit("database.unplanned_restart", { restarts: next.restarts, previous_restarts: prev.restarts, status: next.status }));
    }
    if ((prev === null || isUp(prev)) && !isUp(next)) out.push(audit("database.down", { status: next.status, exit_code: next.exit_code }));
    if (prev !== null && !isUp(prev) && isUp(next)) out.push(audit("database.up", { down_since: prev.since }));
    return out;
}

const same = (a: RuntimeView | null, b: RuntimeObservation) =>
    a !== null && a.status === b.status && a.health === b.health && a.restarts === b.restarts && a.started_at === b.started_at && a.exit_code === b.exit_code;

export class RuntimeWatcher {
    #timer: NodeJS.Timeout | undefined;
    #running: Promise<void> | undefined;

    constructor(private readonly o: {
        store: AdminStore; inspect: RuntimeInspector; intervalMs: number; log: FastifyBaseLogger; now?: () => Date;
        /** Called for each thing noticed, after it is stored (the activity log and its notifications: Activities.recordUnplanned). */
        onNoticed?: (database: string, kind: UnplannedKind, detail: Readonly<Record<string, unknown>>) => Promise<unknown>;
    }) {}

    start(): void {
        this.#timer = setInterval(() => {
            this.#running ??= this.tick().then(() => undefined, (e: Error) => this.o.log.error({ err: e.message }, "runtime watcher failed")).finally(() => {
                this.#running = undefined;
            });
        }, this.o.intervalMs);
    }

    async stop(): Promise<void> {
        clearInterval(this.#timer);
        await this.#running;
    }

    /** One look at every ready database; returns how many observations changed. */
    async tick(): Promise<number> {
        const watched = (await this.o.store.watchedDatabases()).filter((d) => !d.busy);
        let changed = 0;
        for (let i = 0; i < watched.length; i += PARALLEL) {
            await Promise.all(watched.slice(i, i + PARALLEL).map(async (db) => {
                let next: RuntimeObservation;
                try {
                    next = await this.o.inspect(db.name);
                } catch (e) {
                    this.o.log.warn({ database: db.name, err: (e as Error).message }, "runtime watcher could not inspect the server");
                    return;
                }
                if (same(db.runtime, next)) return;
                const audits = runtimeChanges(db.name, db.runtime, next);
                for (const a of audits) this.o.log.warn({ database: db.name, action: a.action, detail: a.detail }, "noticed outside any operation");
                await this.o.store.recordRuntime(db.id, { ...next, since: (this.o.now?.() ?? new Date()).toISOString() }, audits);
                changed++;
                for (const a of audits) {
                    const kind = UNPLANNED_OF[a.action];
                    if (kind === undefined || this.o.onNoticed === undefined) continue;
                    await this.o.onNoticed(db.name, kind, a.detail ?? {}).catch((e: Error) =>
                        this.o.log.error({ database: db.name, err: e.message }, "runtime watcher could not record the activity"));
                }
            }));
        }
        return changed;
    }
}
