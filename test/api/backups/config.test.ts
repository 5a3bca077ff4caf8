/** The backup settings of the API's configuration: defaults, and the values refused with the reason. */
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { ApiConfigError, loadApiConfig } from "../../../api/config";

const CATALOG = JSON.stringify([{ label: "PostgreSQL 17", image: "postgres:17.2" }]);
const load = (env: Record<string, string>) => loadApiConfig({ DBAAS_CATALOG: CATALOG, DBAAS_DATA_DIR: "/srv/dbaas", ...env });
const problemsOf = (env: Record<string, string>): string[] => {
    try {
        load(env);
    } catch (e) {
        if (e instanceof ApiConfigError) return [...e.problems];
        throw e;
    }
    return [];
};

describe("backup configuration", () => {
    it("defaults to the directory store under the data directory, 7 backups or 30 days, hourly roll-off, no fetch URL", () => {
        const b = load({}).backups;
        expect(b).toMatchObject({ store: { kind: "directory", dir: path.resolve("/srv/dbaas/backups") }, keepCount: 7, maxAgeMs: 30 * 86_400_000, rolloffIntervalMs: 3_600_000, maxConcurrent: 2, timeoutMs: 3_600_000, pgDumpDirs: [] });
        expect(b.fetchBaseUrl).toBeUndefined();
    });

    it("reads every setting", () => {
        const b = load({
            DBAAS_BACKUP_DIR: "/vol/backups", DBAAS_BACKUP_KEEP_COUNT: "3", DBAAS_BACKUP_KEEP_DAYS: "2", DBAAS_BACKUP_ROLLOFF_INTERVAL_SECONDS: "0",
            DBAAS_BACKUP_MAX_CONCURRENT: "4", DBAAS_BACKUP_TIMEOUT_SECONDS: "60", DBAAS_BACKUP_FETCH_BASE_URL: "https://dbaas.example.com/", DBAAS_PG_DUMP_DIRS: "/usr/lib/postgresql/18/bin, /opt/pg",
        }).backups;
        expect(b).toEqual({
            store: { kind: "directory", dir: "/vol/backups" }, keepCount: 3, maxAgeMs: 2 * 86_400_000, rolloffIntervalMs: 0, maxConcurrent: 4, timeoutMs: 60_000,
            fetchBaseUrl: "https://dbaas.example.com", pgDumpDirs: ["/usr/lib/postgresql/18/bin", "/opt/pg"],
        });
    });

    it.each([
        [{ DBAAS_BACKUP_STORE: "s3" }, /^DBAAS_BACKUP_STORE = "s3": expected "directory"; the S3 store is not built yet/],
        [{ DBAAS_BACKUP_STORE: "gcs" }, /^DBAAS_BACKUP_STORE = "gcs": expected "directory"/],
        [{ DBAAS_BACKUP_KEEP_COUNT: "0" }, /^DBAAS_BACKUP_KEEP_COUNT = "0": expected at least 1/],
        [{ DBAAS_BACKUP_KEEP_DAYS: "1.5" }, /^DBAAS_BACKUP_KEEP_DAYS = "1.5": expected /],
        [{ DBAAS_BACKUP_FETCH_BASE_URL: "http://dbaas.example.com" }, /^DBAAS_BACKUP_FETCH_BASE_URL = "http:\/\/dbaas.example.com": expected an https:\/\/ URL/],
        [{ DBAAS_BACKUP_TIMEOUT_SECONDS: "5" }, /^DBAAS_BACKUP_TIMEOUT_SECONDS = "5": expected at least 10/],
    ])("refuses %j naming the variable and the rule", (env, message) => {
        const problems = problemsOf(env);
        expect(problems.length, JSON.stringify(problems)).toBe(1);
        expect(problems[0]).toMatch(message);
    });
});
