/**
 * The report arithmetic (api/domain/reports.ts) and the report window
 * (contracts/reports.ts) as pure functions: downtime from operations, the
 * cost estimate, which images count as unpatched, and the config keys that
 * feed them.
 */
import { describe, expect, it } from "vitest";
import { loadApiConfig } from "../../../api/config";
import { costInput } from "../../../api/domain/reportService";
import {
    bucketSeconds, compareVersions, costByProject, downtimeOf, hoursInWindow, imageVersion, unpatched, type OperationSpan,
} from "../../../api/domain/reports";
import type { ReportDatabase } from "../../../api/store/reports";
import type { VersionCatalog } from "../../../contracts/catalog";
import { windowHours } from "../../../contracts/reports";

const T0 = Date.parse("2026-01-01T00:00:00Z");
const at = (minutes: number) => new Date(T0 + minutes * 60_000);
const w = (fromMin: number, toMin: number) => ({ from: at(fromMin), to: at(toMin) });
const op = (kind: string, status: string, start: number | null, end: number | null): OperationSpan =>
    ({ kind, status, started_at: start === null ? null : at(start), finished_at: end === null ? null : at(end) });

describe("downtimeOf", () => {
    const created = op("create", "succeeded", 0, 10);
    it.each<[string, OperationSpan[], { from: Date; to: Date }, { service: number; down: number; percent: number | null }]>([
        ["always up since its create: 0 %", [created], w(0, 110), { service: 100 * 60, down: 0, percent: 0 }],
        ["provisioning is not downtime; a 10-minute restart in 100 minutes of service is 10 %", [created, op("restart", "succeeded", 50, 60)], w(0, 110), { service: 6000, down: 600, percent: 10 }],
        ["a failed restart is down until the retry's create succeeds", [created, op("restart", "failed", 20, 30), op("create", "succeeded", 40, 60)], w(10, 110), { service: 6000, down: 40 * 60, percent: 40 }],
        ["a cancelled restart leaves it failed to the window's end", [created, op("restart", "cancelled", 60, 70)], w(10, 110), { service: 6000, down: 50 * 60, percent: 50 }],
        ["a running restart is down until the window's end", [created, op("restart", "running", 100, null)], w(10, 110), { service: 6000, down: 600, percent: 10 }],
        ["service ends when the delete starts", [created, op("restart", "succeeded", 20, 30), op("delete", "succeeded", 60, 65)], w(10, 110), { service: 50 * 60, down: 600, percent: 20 }],
        ["the window clips a restart that began before it", [created, op("restart", "succeeded", 20, 40)], w(30, 130), { service: 6000, down: 600, percent: 10 }],
        ["a rolling patch is down while it runs, like a restart", [created, op("patch", "succeeded", 50, 60)], w(0, 110), { service: 6000, down: 600, percent: 10 }],
        ["a failed patch is down until the rollout's resumed patch succeeds", [created, op("patch", "failed", 20, 30), op("patch", "succeeded", 40, 50)], w(10, 110), { service: 6000, down: 30 * 60, percent: 30 }],
        ["never ready: no service, percent null", [op("create", "failed", 0, 5)], w(0, 60), { service: 0, down: 0, percent: null }],
        ["ready only after the window: null", [op("create", "succeeded", 0, 200)], w(0, 60), { service: 0, down: 0, percent: null }],
    ])("%s", (_what, ops, window, want) => {
        // Order must not matter.
        for (const list of [ops, [...ops].reverse()]) {
            const d = downtimeOf(list, window);
            expect(d.serviceSeconds).toBe(want.service);
            expect(d.downSeconds).toBe(want.down);
            expect(d.percent).toBe(want.percent);
        }
    });
});

describe("the cost estimate", () => {
    const window = w(0, 600); // 10 hours
    it("charges GB-hours and core-hours of the time each database lived in the window, per project", () => {
        const r = costByProject([
            { project_id: "b", created_at: at(-60), deleted_at: null, storage_gib: 10, cores: 2 }, // 10 h
            { project_id: "a", created_at: at(300), deleted_at: at(420), storage_gib: 4, cores: 0.5 }, // 2 h
            { project_id: "a", created_at: at(0), deleted_at: null, storage_gib: null, cores: null }, // unknown
        ], { gbHour: 0.01, coreHour: 0.1 }, window);
        expect(r.configured).toBe(true);
        expect(r.projects).toEqual([
            { project_id: "a", gb_hours: 8, core_hours: 1, cost: 0.18, unknown_storage: 1, unknown_cores: 1 },
            { project_id: "b", gb_hours: 100, core_hours: 20, cost: 3, unknown_storage: 0, unknown_cores: 0 },
        ]);
        expect(r.total).toBe(3.18);
    });

    it("is not configured while both prices are 0: quantities, no cost", () => {
        const r = costByProject([{ project_id: "a", created_at: at(0), deleted_at: null, storage_gib: 1, cores: 1 }], { gbHour: 0, coreHour: 0 }, window);
        expect(r).toEqual({ configured: false, total: null, projects: [{ project_id: "a", gb_hours: 10, core_hours: 10, cost: null, unknown_storage: 0, unknown_cores: 0 }] });
    });

    it("counts no hours outside the window", () => {
        expect(hoursInWindow(at(-120), at(-60), window)).toBe(0);
        expect(hoursInWindow(at(540), null, window)).toBe(1);
    });

    it("takes kubernetes' provisioned storage and cores, docker's sampled volume and no cores", () => {
        const base = { project_id: "p", created_at: at(0), deleted_at: null, database_bytes: 2 ** 29, volume_bytes: 3 * 2 ** 30, sampled_at: at(1) };
        const k8s = { ...base, spec: { target: { kind: "kubernetes", storage_gb: 20, cpu_millicores: 1500 } } } as unknown as ReportDatabase;
        const docker = { ...base, spec: { target: { kind: "docker", memory_mb: 512 } } } as unknown as ReportDatabase;
        const unsampled = { ...docker, database_bytes: null, volume_bytes: null } as unknown as ReportDatabase;
        expect(costInput(k8s)).toMatchObject({ storage_gib: 20, cores: 1.5 });
        expect(costInput(docker)).toMatchObject({ storage_gib: 3, cores: null });
        expect(costInput(unsampled)).toMatchObject({ storage_gib: null, cores: null });
    });
});

describe("unpatched databases", () => {
    const catalog: VersionCatalog = [{ label: "PostgreSQL 17", image: "postgres:17.3" }, { label: "PostgreSQL 16", image: "registry.example.com:5000/pg/postgres:16.6-alpine" }];
    it("are those on an older tag than the catalog's for their label, or on a label the catalog dropped", () => {
        const r = unpatched([
            { name: "current", version: "PostgreSQL 17", image: "postgres:17.3" },
            { name: "older", version: "PostgreSQL 17", image: "postgres:17.2" },
            { name: "newer", version: "PostgreSQL 17", image: "postgres:17.10" },
            { name: "older-registry", version: "PostgreSQL 16", image: "registry.example.com:5000/pg/postgres:16.4-alpine" },
            { name: "latest", version: "PostgreSQL 16", image: "postgres:latest" },
            { name: "gone", version: "PostgreSQL 13", image: "postgres:13.9" },
        ], catalog);
        expect(r.map((e) => [e.database, e.reason])).toEqual([
            ["older", "older_image"], ["older-registry", "older_image"], ["latest", "different_image"], ["gone", "label_not_in_catalog"],
        ]);
        expect(r[0]).toMatchObject({ image: "postgres:17.2", current_image: "postgres:17.3" });
    });

    it.each([
        ["postgres:17.2", [17, 2]], ["postgres:17", [17]], ["docker.io/library/postgres:16.6-bookworm", [16, 6]],
        ["localhost:5000/postgres", undefined], ["postgres:latest", undefined], ["postgres:17.2@sha256:abc", [17, 2]],
    ])("imageVersion(%s) = %j", (image, want) => expect(imageVersion(image)).toEqual(want));

    it("compares dotted versions numerically", () => {
        expect(compareVersions([17, 10], [17, 9])).toBeGreaterThan(0);
        expect(compareVersions([17], [17, 0])).toBe(0);
        expect(compareVersions([16, 9], [17])).toBeLessThan(0);
    });
});

describe("the report window and the config behind the reports", () => {
    it.each([["24h", 24], ["7d", 168], ["90d", 2160], ["1h", 1], ["0h", undefined], ["91d", undefined], ["2w", undefined], ["07d", undefined], ["", undefined]])(
        "windowHours(%j) = %j", (text, want) => expect(windowHours(text)).toBe(want));

    it("buckets a series into about 60 points, at least a minute each", () => {
        expect(bucketSeconds(1)).toBe(60);
        expect(bucketSeconds(168)).toBe(10_080);
    });

    it("defaults: sample every 300 s, keep 30 days, prices 0 (not configured)", () => {
        const c = loadApiConfig({});
        expect(c.sizeSampleIntervalMs).toBe(300_000);
        expect(c.sizeRetentionMs).toBe(30 * 86_400_000);
        expect(c.prices).toEqual({ gbHour: 0, coreHour: 0 });
        expect(loadApiConfig({ DBAAS_PRICE_GB_HOUR: "0.0002", DBAAS_SIZE_SAMPLE_INTERVAL_SECONDS: "0" })).toMatchObject({ prices: { gbHour: 0.0002 }, sizeSampleIntervalMs: 0 });
    });

    it.each([
        [{ DBAAS_PRICE_GB_HOUR: "-1" }, /DBAAS_PRICE_GB_HOUR = "-1": expected at least 0/],
        [{ DBAAS_PRICE_CORE_HOUR: "cheap" }, /DBAAS_PRICE_CORE_HOUR = "cheap": expected a number/],
        [{ DBAAS_SIZE_RETENTION_DAYS: "0" }, /DBAAS_SIZE_RETENTION_DAYS = "0": expected at least 0.0417/],
        [{ DBAAS_SIZE_SAMPLE_INTERVAL_SECONDS: "100000" }, /DBAAS_SIZE_SAMPLE_INTERVAL_SECONDS = "100000": expected/],
    ])("refuses %j naming the variable", (env, message) => expect(() => loadApiConfig(env)).toThrow(message));
});
