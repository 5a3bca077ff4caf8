/**
 * Builds a GET /reports answer: reads the scoped rows (store/reports.ts) and
 * applies the report arithmetic (reports.ts). Who may see what is decided
 * here: an admin's report covers every database, a user's its own only.
 */
import type { VersionCatalog } from "../../contracts/catalog";
import type { ReportView } from "../../contracts/reports";
import type { Principal } from "../http/auth";
import { failedOperations, reportDatabases, sizeSeries, type ReportDatabase, type ReportScope } from "../store/reports";
import type { Queryable } from "../store/rows";
import { bucketSeconds, costByProject, DOWNTIME_DEFINITION, downtimeOf, unpatched, type CostInput, type Prices, type Window } from "./reports";

const GIB = 2 ** 30;
const RECENT_FAILURES = 20;

export interface ReportRequest {
    readonly who: Principal;
    readonly windowHours: number;
    readonly projectId?: string;
    readonly now?: Date;
}

function countBy(rows: readonly ReportDatabase[], key: (d: ReportDatabase) => string): { key: string; count: number }[] {
    const m = new Map<string, number>();
    for (const d of rows) m.set(key(d), (m.get(key(d)) ?? 0) + 1);
    return [...m.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, count]) => ({ key: k, count }));
}

/** Storage and cores the cost estimate charges for (see docs/metrics-and-reports.md). */
export function costInput(d: ReportDatabase): CostInput {
    const t = d.spec.target;
    const sampled = d.volume_bytes ?? d.database_bytes;
    return {
        project_id: d.project_id,
        created_at: d.created_at,
        deleted_at: d.deleted_at,
        storage_gib: t.kind === "kubernetes" ? t.storage_gb : sampled === null ? null : Number(sampled) / GIB,
        cores: t.kind === "kubernetes" ? t.cpu_millicores / 1000 : null,
    };
}

export async function buildReport(q: Queryable, catalog: VersionCatalog, prices: Prices, r: ReportRequest): Promise<ReportView> {
    const to = r.now ?? new Date();
    const w: Window = { from: new Date(to.getTime() - r.windowHours * 3_600_000), to };
    const scope: ReportScope = {
        ...(r.who.role === "admin" ? {} : { owner: r.who.subject }),
        ...(r.projectId === undefined ? {} : { projectId: r.projectId }),
    };
    const bucket = bucketSeconds(r.windowHours);
    const [rows, series, failures] = await Promise.all([
        reportDatabases(q, scope, w),
        sizeSeries(q, scope, w, bucket),
        failedOperations(q, scope, w, RECENT_FAILURES),
    ]);
    const live = rows.filter((d) => d.state !== "deleted");
    const sizesNow = live.map((d) => ({
        database: d.name, project_id: d.project_id, version: d.version,
        database_bytes: d.database_bytes === null ? null : Number(d.database_bytes),
        volume_bytes: d.volume_bytes === null ? null : Number(d.volume_bytes),
        sampled_at: d.sampled_at?.toISOString() ?? null,
    }));
    const unpatchedDbs = unpatched(live.map((d) => ({ name: d.name, version: d.version, image: d.spec.image })), catalog);
    const cost = costByProject(rows.map(costInput), prices, w);
    return {
        generated_at: to.toISOString(),
        window: { from: w.from.toISOString(), to: w.to.toISOString(), hours: r.windowHours },
        scope: r.who.role === "admin" ? "all" : "own",
        project_id: r.projectId ?? null,
        counts: {
            total: live.length,
            by_state: countBy(live, (d) => d.state),
            by_version: countBy(live, (d) => d.version),
            by_project: countBy(live, (d) => d.project_id),
        },
        sizes: {
            now: sizesNow,
            total_now: {
                database_bytes: sizesNow.reduce((s, d) => s + (d.database_bytes ?? 0), 0),
                volume_bytes: sizesNow.reduce((s, d) => s + (d.volume_bytes ?? 0), 0),
            },
            bucket_seconds: bucket,
            series: series.map((p) => ({ at: p.at.toISOString(), database_bytes: p.database_bytes, volume_bytes: p.volume_bytes })),
        },
        failures: {
            count: failures.byKind.reduce((s, k) => s + k.count, 0),
            by_kind: failures.byKind,
            recent: failures.recent.map((f) => ({ database: f.database, kind: f.kind, error: f.error, finished_at: f.finished_at.toISOString() })),
        },
        unplanned_restarts: {
            count: 0, source_available: false,
            note: "no source yet: the API records only the restarts it runs; a container or pod that restarts by itself is not noticed (activities, issue #20 part 4)",
        },
        backups: { source_available: false, note: "no source yet: backup records arrive with POST /databases/:name/backups (issue #20 part 2)" },
        downtime: {
            definition: DOWNTIME_DEFINITION,
            databases: rows.map((d) => {
                const dt = downtimeOf(d.operations, w);
                return { database: d.name, service_seconds: dt.serviceSeconds, down_seconds: dt.downSeconds, downtime_percent: dt.percent };
            }),
        },
        unpatched: { count: unpatchedDbs.length, databases: unpatchedDbs },
        cost: { configured: cost.configured, prices: { gb_hour: prices.gbHour, core_hour: prices.coreHour }, projects: cost.projects, total: cost.total },
    };
}
