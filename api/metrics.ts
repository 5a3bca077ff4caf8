/**
 * Every Prometheus metric of the API, in one registry per API process (not
 * prom-client's global one, so several APIs in one test process do not mix).
 *
 * Two kinds:
 * - events this process saw, kept in memory: operations ended (counter and
 *   duration histogram, by kind and outcome) and HTTP requests (duration
 *   histogram by method, route TEMPLATE and status: `/databases/:name`, never
 *   the raw URL, so no database name becomes a label value of a request);
 * - the state of the fleet, computed at every scrape from the admin database
 *   (databases by state, version and target; the latest sampled sizes; the
 *   queue; restores), so every replica reports the same figures and nothing
 *   has to be kept in step in memory.
 *
 * The job runner, the rollout driver and the HTTP app call the `observe...`
 * hooks; none imports prom-client.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Queryable } from "./store/rows";

/** How an operation's attempt ended, as the runner sees it. */
export const OPERATION_OUTCOMES = ["succeeded", "failed", "cancelled", "retrying", "handed_back", "abandoned"] as const;
export type OperationOutcome = (typeof OPERATION_OUTCOMES)[number];

/** Metric names, exported for the tests and docs/metrics-and-reports.md. */
export const METRIC = {
    operations: "dbaas_operations_total",
    operationDuration: "dbaas_operation_duration_seconds",
    httpDuration: "dbaas_http_request_duration_seconds",
    databases: "dbaas_databases",
    sizeBytes: "dbaas_database_size_bytes",
    queued: "dbaas_operations_queued",
    running: "dbaas_operations_running",
    oldestQueuedAge: "dbaas_oldest_queued_operation_age_seconds",
    restores: "dbaas_restore_operations",
    rolloutSteps: "dbaas_rollout_steps_total",
    rolloutsEnded: "dbaas_rollouts_ended_total",
} as const;

/** The label a request without a route (404) is counted under. */
export const UNMATCHED_ROUTE = "unmatched";

/** What one scrape reads from the admin database. */
export interface FleetSnapshot {
    readonly databases: readonly { state: string; version: string; target: string; count: number }[];
    readonly sizes: readonly { database: string; database_bytes: number | null; volume_bytes: number | null }[];
    readonly queue: readonly { status: string; kind: string; count: number; oldest_age_seconds: number | null }[];
    readonly restores: readonly { status: string; count: number }[];
}

/** The fleet's figures, in four read-only statements (no locks, so a scrape never waits for an operation). */
export async function readFleet(q: Queryable): Promise<FleetSnapshot> {
    const [databases, sizes, queue, restores] = await Promise.all([
        q.query<FleetSnapshot["databases"][number]>(
            `SELECT state, version, coalesce(spec->'target'->>'kind', 'unknown') AS target, count(*)::int AS count
             FROM databases WHERE state <> 'deleted' GROUP BY 1, 2, 3`),
        // The newest sample of each live database: one probe of (database_id, at) each, not a scan of the series.
        q.query<FleetSnapshot["sizes"][number]>(
            `SELECT d.name AS database, s.database_bytes, s.volume_bytes
             FROM databases d CROSS JOIN LATERAL (
                 SELECT database_bytes, volume_bytes FROM database_size_samples WHERE database_id = d.id ORDER BY at DESC LIMIT 1) s
             WHERE d.state <> 'deleted'`),
        q.query<FleetSnapshot["queue"][number]>(
            `SELECT status, kind, count(*)::int AS count,
                    CASE WHEN status = 'queued' THEN extract(epoch FROM now() - min(created_at))::float8 END AS oldest_age_seconds
             FROM operations WHERE status IN ('queued', 'running') GROUP BY 1, 2`),
        q.query<FleetSnapshot["restores"][number]>(
            `SELECT o.status, count(*)::int AS count FROM operations o JOIN databases d ON d.id = o.database_id
             WHERE o.kind = 'create' AND d.spec->>'backup_location' IS NOT NULL GROUP BY 1`),
    ]);
    return { databases: databases.rows, sizes: sizes.rows, queue: queue.rows, restores: restores.rows };
}

export class ApiMetrics {
    readonly registry = new Registry();
    readonly #operations = new Counter({ name: METRIC.operations, help: "Operation attempts that ended, by kind and outcome (this process)", labelNames: ["kind", "outcome"] as const, registers: [this.registry] });
    readonly #operationDuration = new Histogram({
        name: METRIC.operationDuration, help: "How long an operation attempt ran on the engine, by kind and outcome (this process)",
        labelNames: ["kind", "outcome"] as const, buckets: [0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600], registers: [this.registry],
    });
    readonly #httpDuration = new Histogram({
        name: METRIC.httpDuration, help: "HTTP request durations by method, route template and status (this process)",
        labelNames: ["method", "route", "status"] as const, buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry],
    });
    readonly #databases = new Gauge({ name: METRIC.databases, help: "Live (not deleted) databases by state, catalog version label and target", labelNames: ["state", "version", "target"] as const, registers: [this.registry] });
    readonly #size = new Gauge({ name: METRIC.sizeBytes, help: "The newest sampled size of each live database; kind database = pg_database_size, volume = its volume", labelNames: ["database", "kind"] as const, registers: [this.registry] });
    readonly #queued = new Gauge({ name: METRIC.queued, help: "Operations waiting in the queue, by kind", labelNames: ["kind"] as const, registers: [this.registry] });
    readonly #running = new Gauge({ name: METRIC.running, help: "Operations running now (all replicas), by kind", labelNames: ["kind"] as const, registers: [this.registry] });
    readonly #oldestQueued = new Gauge({ name: METRIC.oldestQueuedAge, help: "Age of the oldest queued operation in seconds (0 when none is queued)", registers: [this.registry] });
    readonly #restores = new Gauge({ name: METRIC.restores, help: "Create operations of databases restored from a backup, by status", labelNames: ["status"] as const, registers: [this.registry] });
    readonly #rolloutSteps = new Counter({ name: METRIC.rolloutSteps, help: "Rollout steps (one database each) that ended, by outcome: succeeded, failed, skipped (this process)", labelNames: ["outcome"] as const, registers: [this.registry] });
    readonly #rolloutsEnded = new Counter({ name: METRIC.rolloutsEnded, help: "Rollouts that finished (succeeded) or stopped on a failure (stopped_on_failure), by state (this process)", labelNames: ["state"] as const, registers: [this.registry] });
    #scrape: Promise<unknown> = Promise.resolve();

    constructor(o: { processMetrics?: boolean } = {}) {
        if (o.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
    }

    get contentType(): string {
        return this.registry.contentType;
    }

    /** Hook of the rollout driver: a step ended. */
    observeRolloutStep(outcome: "succeeded" | "failed" | "skipped"): void {
        this.#rolloutSteps.inc({ outcome });
    }

    /** Hook of the rollout driver: a rollout finished or stopped. */
    observeRolloutEnd(state: "succeeded" | "stopped_on_failure"): void {
        this.#rolloutsEnded.inc({ state });
    }

    /** Hook of the job runner: one attempt of an operation ended. */
    observeOperation(kind: string, outcome: OperationOutcome, seconds: number): void {
        this.#operations.inc({ kind, outcome });
        this.#operationDuration.observe({ kind, outcome }, seconds);
    }

    /** Hook of the HTTP app: one request answered. `route` is the route template (or UNMATCHED_ROUTE). */
    observeRequest(method: string, route: string, status: number, seconds: number): void {
        this.#httpDuration.observe({ method, route, status: String(status) }, seconds);
    }

    /** Sets the fleet gauges from a snapshot; label sets that are gone disappear. */
    applyFleet(f: FleetSnapshot): void {
        for (const g of [this.#databases, this.#size, this.#queued, this.#running, this.#restores]) g.reset();
        for (const d of f.databases) this.#databases.set({ state: d.state, version: d.version, target: d.target }, d.count);
        for (const s of f.sizes) {
            if (s.database_bytes !== null) this.#size.set({ database: s.database, kind: "database" }, Number(s.database_bytes));
            if (s.volume_bytes !== null) this.#size.set({ database: s.database, kind: "volume" }, Number(s.volume_bytes));
        }
        let oldest = 0;
        for (const q of f.queue) {
            (q.status === "queued" ? this.#queued : this.#running).set({ kind: q.kind }, q.count);
            if (q.oldest_age_seconds !== null) oldest = Math.max(oldest, q.oldest_age_seconds);
        }
        this.#oldestQueued.set(oldest);
        for (const r of f.restores) this.#restores.set({ status: r.status }, r.count);
    }

    /** The text exposition: the fleet read from the admin database, then every metric. Scrapes run one at a time. */
    render(q: Queryable): Promise<string> {
        const next = this.#scrape.catch(() => undefined).then(async () => {
            this.applyFleet(await readFleet(q));
            return this.registry.metrics();
        });
        this.#scrape = next;
        return next;
    }
}
