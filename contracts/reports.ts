/**
 * The wire contract of `GET /reports`: its query and its answer. The API
 * validates and serialises with these schemas, /openapi.json shows them and
 * the dashboard's Reports page types its fetch with them. Pure: no I/O.
 */
import { z } from "zod";
import { createDatabaseFields } from "./database";

/** The longest report window: the default size retention is 30 days, 90 leaves room for a longer one. */
export const REPORT_WINDOW_MAX_HOURS = 90 * 24;
export const REPORT_WINDOW_DEFAULT = "7d";

/** Hours in a window written as `<n>h` or `<n>d` (e.g. `24h`, `7d`); undefined when it is not one. */
export function windowHours(text: string): number | undefined {
    const m = /^([1-9][0-9]{0,3})([hd])$/.exec(text);
    if (m === null) return undefined;
    const hours = Number(m[1]) * (m[2] === "d" ? 24 : 1);
    return hours <= REPORT_WINDOW_MAX_HOURS ? hours : undefined;
}

const WINDOW_RULE = `a window such as 24h or 7d (hours or days, at most ${REPORT_WINDOW_MAX_HOURS / 24}d)`;

export const reportsQuery = z.object({
    window: z.string().refine((s) => windowHours(s) !== undefined, { message: WINDOW_RULE }).default(REPORT_WINDOW_DEFAULT),
    project_id: createDatabaseFields.project_id.optional(),
}).strict();

const keyCount = z.object({ key: z.string(), count: z.number().int() });
/** A figure the API has no source for yet: reported as 0, never made up. */
const missingSource = z.object({ source_available: z.literal(false), note: z.string() });

export const reportView = z.object({
    generated_at: z.string(),
    window: z.object({ from: z.string(), to: z.string(), hours: z.number().int() }),
    /** `all` for admins, `own` for a user (its own databases only). */
    scope: z.enum(["all", "own"]),
    project_id: z.string().nullable(),
    counts: z.object({
        /** Live (not deleted) databases. */
        total: z.number().int(),
        by_state: z.array(keyCount),
        by_version: z.array(keyCount),
        by_project: z.array(keyCount),
    }),
    sizes: z.object({
        /** The newest sample of each live database; null sizes are unknown (not sampled, or the engine cannot tell). */
        now: z.array(z.object({
            database: z.string(), project_id: z.string(), version: z.string(),
            database_bytes: z.number().nullable(), volume_bytes: z.number().nullable(), sampled_at: z.string().nullable(),
        })),
        total_now: z.object({ database_bytes: z.number(), volume_bytes: z.number() }),
        /** Width of one bucket of `series`. */
        bucket_seconds: z.number().int(),
        /** Per bucket: the sum over databases of each one's largest sample in the bucket. */
        series: z.array(z.object({ at: z.string(), database_bytes: z.number(), volume_bytes: z.number() })),
    }),
    failures: z.object({
        /** Operations that ended failed within the window. */
        count: z.number().int(),
        by_kind: z.array(keyCount),
        recent: z.array(z.object({ database: z.string(), kind: z.string(), error: z.string().nullable(), finished_at: z.string() })),
    }),
    unplanned_restarts: missingSource.extend({ count: z.literal(0) }),
    backups: missingSource,
    downtime: z.object({
        definition: z.string(),
        databases: z.array(z.object({
            database: z.string(),
            /** Seconds of the window in which the database was in service (after its first ready, before its delete). */
            service_seconds: z.number(),
            down_seconds: z.number(),
            /** null when the database was not in service during the window. */
            downtime_percent: z.number().nullable(),
        })),
    }),
    unpatched: z.object({
        count: z.number().int(),
        databases: z.array(z.object({
            database: z.string(), version: z.string(), image: z.string(),
            current_image: z.string().nullable(),
            reason: z.enum(["older_image", "different_image", "label_not_in_catalog"]),
        })),
    }),
    cost: z.object({
        /** False while both unit prices are 0 (DBAAS_PRICE_GB_HOUR, DBAAS_PRICE_CORE_HOUR). */
        configured: z.boolean(),
        prices: z.object({ gb_hour: z.number(), core_hour: z.number() }),
        projects: z.array(z.object({
            project_id: z.string(),
            gb_hours: z.number(), core_hours: z.number(),
            /** null when not configured. */
            cost: z.number().nullable(),
            /** Databases whose storage or cores are unknown (counted as 0). */
            unknown_storage: z.number().int(), unknown_cores: z.number().int(),
        })),
        total: z.number().nullable(),
    }),
}).meta({ id: "Report" });

export type ReportView = z.output<typeof reportView>;
