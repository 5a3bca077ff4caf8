/**
 * The arithmetic of GET /reports, as pure functions over rows: downtime from
 * a database's operations, the cost estimate from unit prices, and which
 * databases run an image older than the catalog's current one for their
 * label. The SQL that feeds them is store/reports.ts; the route only wires.
 */
import type { VersionCatalog } from "../../contracts/catalog";

const HOUR_MS = 3_600_000;

export interface Window {
    readonly from: Date;
    readonly to: Date;
}

/** What downtime needs of one operation. */
export interface OperationSpan {
    readonly kind: string;
    readonly status: string;
    readonly started_at: Date | null;
    readonly finished_at: Date | null;
}

export const DOWNTIME_DEFINITION =
    "downtime_percent = down time / service time within the window, in percent. Service starts when the first create succeeds "
    + "and ends when a delete starts (or at the window's end). Down: while a restart or a rolling patch runs (start to end, whatever its outcome), and from the "
    + "end of a create, restart or patch that failed or was cancelled (the database is then failed) until an operation of it next succeeds. "
    + "Provisioning before the first ready is not downtime. Unplanned outages the API does not see (a container that died on its own) are not counted yet.";

/**
 * Down and service seconds of one database over `w` (see DOWNTIME_DEFINITION).
 * `ops` in any order; a running restart (no finished_at) is down until `w.to`.
 */
export function downtimeOf(ops: readonly OperationSpan[], w: Window): { serviceSeconds: number; downSeconds: number; percent: number | null } {
    // Changes of "in service" and "down", as (time, what) in time order.
    type Change = { at: number; what: "up" | "down" | "end" };
    const changes: Change[] = [];
    for (const op of ops) {
        const start = op.started_at?.getTime();
        const end = op.finished_at?.getTime();
        if (op.kind === "delete") {
            if (start !== undefined) changes.push({ at: start, what: "end" });
            continue;
        }
        if ((op.kind === "restart" || op.kind === "patch") && start !== undefined) changes.push({ at: start, what: "down" });
        if (end === undefined) continue;
        if (op.status === "succeeded") changes.push({ at: end, what: "up" });
        else if (op.status === "failed" || op.status === "cancelled") changes.push({ at: end, what: "down" });
    }
    // At one instant an end wins over an up, an up over a down (a restart that started and ended at once was not down).
    const rank = { end: 0, down: 1, up: 2 } as const;
    changes.sort((a, b) => a.at - b.at || rank[a.what] - rank[b.what]);
    const from = w.from.getTime();
    const to = w.to.getTime();
    let inService = false;
    let down = false;
    let ended = false;
    let serviceMs = 0;
    let downMs = 0;
    let t = from;
    const advance = (until: number) => {
        const a = Math.max(t, from);
        const b = Math.min(until, to);
        if (b > a && inService && !ended) {
            serviceMs += b - a;
            if (down) downMs += b - a;
        }
        t = Math.max(t, until);
    };
    for (const c of changes) {
        advance(c.at);
        if (c.what === "end") ended = true;
        else if (c.what === "up") {
            inService = true;
            down = false;
        } else if (inService) down = true;
    }
    advance(to);
    const serviceSeconds = serviceMs / 1000;
    const downSeconds = downMs / 1000;
    return { serviceSeconds, downSeconds, percent: serviceMs === 0 ? null : round((downMs / serviceMs) * 100, 4) };
}

/** What the cost estimate needs of one database. */
export interface CostInput {
    readonly project_id: string;
    readonly created_at: Date;
    /** When it stopped existing (deleted); null while it lives. */
    readonly deleted_at: Date | null;
    /** Provisioned (kubernetes storage_gb) or else the newest sampled volume size, in GiB; null = unknown. */
    readonly storage_gib: number | null;
    /** CPU cores it may use (kubernetes cpu_millicores / 1000); null = unknown (docker sets no limit). */
    readonly cores: number | null;
}

export interface Prices {
    readonly gbHour: number;
    readonly coreHour: number;
}

export interface ProjectCost {
    readonly project_id: string;
    readonly gb_hours: number;
    readonly core_hours: number;
    readonly cost: number | null;
    readonly unknown_storage: number;
    readonly unknown_cores: number;
}

/** Hours of `[created_at, deleted_at or w.to]` inside the window. */
export function hoursInWindow(created: Date, deleted: Date | null, w: Window): number {
    const a = Math.max(created.getTime(), w.from.getTime());
    const b = Math.min((deleted ?? w.to).getTime(), w.to.getTime());
    return b > a ? (b - a) / HOUR_MS : 0;
}

/**
 * Estimated cost per project over the window: GB-hours (storage × hours alive in the
 * window) × the GB-hour price plus core-hours × the core-hour price. Unknown storage
 * or cores count as 0 and are counted in `unknown_*`; with both prices 0 the cost is null.
 */
export function costByProject(dbs: readonly CostInput[], prices: Prices, w: Window): { configured: boolean; projects: ProjectCost[]; total: number | null } {
    const configured = prices.gbHour > 0 || prices.coreHour > 0;
    const by = new Map<string, { gb: number; core: number; us: number; uc: number }>();
    for (const d of dbs) {
        const hours = hoursInWindow(d.created_at, d.deleted_at, w);
        const p = by.get(d.project_id) ?? { gb: 0, core: 0, us: 0, uc: 0 };
        if (d.storage_gib === null) p.us++;
        else p.gb += d.storage_gib * hours;
        if (d.cores === null) p.uc++;
        else p.core += d.cores * hours;
        by.set(d.project_id, p);
    }
    const projects = [...by.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([project_id, p]) => ({
        project_id,
        gb_hours: round(p.gb, 4),
        core_hours: round(p.core, 4),
        cost: configured ? round(p.gb * prices.gbHour + p.core * prices.coreHour, 4) : null,
        unknown_storage: p.us,
        unknown_cores: p.uc,
    }));
    const total = configured ? round(projects.reduce((s, p) => s + (p.cost ?? 0), 0), 4) : null;
    return { configured, projects, total };
}

/** The dotted version of an image's tag (`postgres:17.2-alpine` → [17, 2]); undefined without a numeric tag. */
export function imageVersion(image: string): number[] | undefined {
    const noDigest = image.split("@")[0] ?? image;
    const slash = noDigest.lastIndexOf("/");
    const colon = noDigest.lastIndexOf(":");
    if (colon <= slash) return undefined;
    const m = /^v?(\d+(?:\.\d+)*)/.exec(noDigest.slice(colon + 1));
    return m?.[1]?.split(".").map(Number);
}

/** Negative when a < b, as dotted versions (missing parts count as 0). */
export function compareVersions(a: readonly number[], b: readonly number[]): number {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
        const d = (a[i] ?? 0) - (b[i] ?? 0);
        if (d !== 0) return d;
    }
    return 0;
}

export interface UnpatchedEntry {
    readonly database: string;
    readonly version: string;
    readonly image: string;
    readonly current_image: string | null;
    readonly reason: "older_image" | "different_image" | "label_not_in_catalog";
}

/**
 * Databases not on the catalog's current image for their label: an older tag
 * (`older_image`), a tag that cannot be compared and differs (`different_image`),
 * or a label the catalog no longer has. A newer tag than the catalog's is not unpatched.
 */
export function unpatched(dbs: readonly { name: string; version: string; image: string }[], catalog: VersionCatalog): UnpatchedEntry[] {
    const current = new Map(catalog.map((v) => [v.label, v.image]));
    const out: UnpatchedEntry[] = [];
    for (const d of dbs) {
        const cur = current.get(d.version);
        if (cur === undefined) {
            out.push({ database: d.name, version: d.version, image: d.image, current_image: null, reason: "label_not_in_catalog" });
            continue;
        }
        if (cur === d.image) continue;
        const a = imageVersion(d.image);
        const b = imageVersion(cur);
        if (a !== undefined && b !== undefined) {
            if (compareVersions(a, b) < 0) out.push({ database: d.name, version: d.version, image: d.image, current_image: cur, reason: "older_image" });
        } else {
            out.push({ database: d.name, version: d.version, image: d.image, current_image: cur, reason: "different_image" });
        }
    }
    return out;
}

/** Bucket width of a size series: about 60 points over the window, at least one minute. */
export function bucketSeconds(windowHours: number): number {
    return Math.max(60, Math.ceil((windowHours * 3600) / 60));
}

function round(n: number, digits: number): number {
    const f = 10 ** digits;
    return Math.round(n * f) / f;
}
