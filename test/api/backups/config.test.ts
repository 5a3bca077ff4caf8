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
        expect(b).toMatchObject({ store: { kind: "directory", dir: path.resolve("/srv/dbaas/backups") }, keepCount: 7, maxAgeMs: 30 * 86_400_000, rolloffIntervalMs: 3_600_000, maxConcurrent: 2, timeoutMs: 3_600_000, pgDumpDirs: [], runner: "auto", dumpMemoryMb: 256 });
        expect(b.fetchBaseUrl).toBeUndefined();
    });

    it("reads every setting", () => {
        const b = load({
            DBAAS_BACKUP_DIR: "/vol/backups", DBAAS_BACKUP_KEEP_COUNT: "3", DBAAS_BACKUP_KEEP_DAYS: "2", DBAAS_BACKUP_ROLLOFF_INTERVAL_SECONDS: "0",
            DBAAS_BACKUP_MAX_CONCURRENT: "4", DBAAS_BACKUP_TIMEOUT_SECONDS: "60", DBAAS_BACKUP_FETCH_BASE_URL: "https://dbaas.example.com/", DBAAS_PG_DUMP_DIRS: "/usr/lib/postgresql/18/bin, /opt/pg",
            DBAAS_BACKUP_RUNNER: "in-target", DBAAS_BACKUP_DUMP_MEMORY_MB: "512",
        }).backups;
        expect(b).toEqual({
            store: { kind: "directory", dir: "/vol/backups" }, keepCount: 3, maxAgeMs: 2 * 86_400_000, rolloffIntervalMs: 0, maxConcurrent: 4, timeoutMs: 60_000,
            fetchBaseUrl: "https://dbaas.example.com", pgDumpDirs: ["/usr/lib/postgresql/18/bin", "/opt/pg"], runner: "in-target", dumpMemoryMb: 512,
        });
    });

    it.each([
        [{ DBAAS_BACKUP_STORE: "gcs" }, /^DBAAS_BACKUP_STORE = "gcs": expected "directory" \(files under DBAAS_BACKUP_DIR\) or "s3"/],
        [{ DBAAS_BACKUP_KEEP_COUNT: "0" }, /^DBAAS_BACKUP_KEEP_COUNT = "0": expected at least 1/],
        [{ DBAAS_BACKUP_KEEP_DAYS: "1.5" }, /^DBAAS_BACKUP_KEEP_DAYS = "1.5": expected /],
        [{ DBAAS_BACKUP_FETCH_BASE_URL: "http://dbaas.example.com" }, /^DBAAS_BACKUP_FETCH_BASE_URL = "http:\/\/dbaas.example.com": expected an https:\/\/ URL/],
        [{ DBAAS_BACKUP_TIMEOUT_SECONDS: "5" }, /^DBAAS_BACKUP_TIMEOUT_SECONDS = "5": expected at least 10/],
        [{ DBAAS_BACKUP_RUNNER: "container" }, /^DBAAS_BACKUP_RUNNER = "container": expected "auto" \(in-target when the docker target's engine answers, else the host's pg_dump\), "in-target" or "host"/],
        [{ DBAAS_BACKUP_DUMP_MEMORY_MB: "8" }, /^DBAAS_BACKUP_DUMP_MEMORY_MB = "8": expected at least 32/],
        [{ DBAAS_BACKUP_RUNNER: "in-target", DBAAS_TARGET: "kubernetes" }, /^DBAAS_BACKUP_RUNNER = "in-target": built for DBAAS_TARGET=docker only \(it is kubernetes; the kubernetes Job variant is not built\); set DBAAS_BACKUP_RUNNER=host or auto/],
    ])("refuses %j naming the variable and the rule", (env, message) => {
        const problems = problemsOf(env);
        expect(problems.length, JSON.stringify(problems)).toBe(1);
        expect(problems[0]).toMatch(message);
    });

    describe("the S3 store", () => {
        const S3 = { DBAAS_BACKUP_STORE: "s3", DBAAS_BACKUP_S3_BUCKET: "dbaas-prod-backups" };

        it("reads bucket, prefix (default backups), region (or AWS_REGION), KMS key and endpoint; no credentials are read", () => {
            expect(load({ ...S3, AWS_REGION: "eu-west-1" }).backups.store).toEqual({ kind: "s3", bucket: "dbaas-prod-backups", prefix: "backups", region: "eu-west-1" });
            // An empty AWS_REGION is unset, as every empty value is.
            expect(problemsOf({ ...S3, AWS_REGION: "" })).toEqual([expect.stringMatching(/^DBAAS_BACKUP_S3_REGION = \(not set\)/)]);
            const kms = "arn:aws:kms:eu-west-1:123456789012:key/0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9";
            expect(load({
                ...S3, AWS_REGION: "us-east-1", DBAAS_BACKUP_S3_REGION: "eu-west-1", DBAAS_BACKUP_S3_PREFIX: "prod/backups",
                DBAAS_BACKUP_S3_KMS_KEY_ID: kms, DBAAS_BACKUP_S3_ENDPOINT: "http://127.0.0.1:9000/",
                AWS_ACCESS_KEY_ID: "AKIAEXAMPLE", AWS_SECRET_ACCESS_KEY: "not-read-by-the-config",
            }).backups.store).toEqual({ kind: "s3", bucket: "dbaas-prod-backups", prefix: "prod/backups", region: "eu-west-1", kmsKeyId: kms, endpoint: "http://127.0.0.1:9000" });
            for (const key of ["alias/dbaas-prod-backups", "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9", "arn:aws:kms:eu-west-1:123456789012:alias/dbaas"]) {
                expect(load({ ...S3, AWS_REGION: "eu-west-1", DBAAS_BACKUP_S3_KMS_KEY_ID: key }).backups.store).toMatchObject({ kmsKeyId: key });
            }
        });

        it.each([
            [{ DBAAS_BACKUP_STORE: "s3", AWS_REGION: "eu-west-1" }, /^DBAAS_BACKUP_S3_BUCKET = \(not set\): expected the bucket of the backups when DBAAS_BACKUP_STORE is s3/],
            [{ ...S3 }, /^DBAAS_BACKUP_S3_REGION = \(not set\): expected the bucket's AWS region such as eu-west-1 .*\(or AWS_REGION\)/],
            [{ ...S3, DBAAS_BACKUP_S3_BUCKET: "Bad_Bucket" }, /^DBAAS_BACKUP_S3_BUCKET = "Bad_Bucket": expected an S3 bucket name such as dbaas-prod-backups/],
            [{ ...S3, DBAAS_BACKUP_S3_REGION: "europe" }, /^DBAAS_BACKUP_S3_REGION = "europe": expected an AWS region such as eu-west-1/],
            [{ ...S3, AWS_REGION: "eu-west-1", DBAAS_BACKUP_S3_PREFIX: "/backups/" }, /^DBAAS_BACKUP_S3_PREFIX = "\/backups\/": expected a relative key prefix such as backups/],
            [{ ...S3, AWS_REGION: "eu-west-1", DBAAS_BACKUP_S3_KMS_KEY_ID: "my key" }, /^DBAAS_BACKUP_S3_KMS_KEY_ID = "my key": expected a KMS key id, key ARN, alias\/<name> or alias ARN/],
            [{ ...S3, AWS_REGION: "eu-west-1", DBAAS_BACKUP_S3_ENDPOINT: "ftp://s3.example.com" }, /^DBAAS_BACKUP_S3_ENDPOINT = "ftp:\/\/s3.example.com": expected an http\(s\):\/\/ URL of an S3-compatible server/],
            [{ ...S3, AWS_REGION: "eu-west-1", DBAAS_BACKUP_DIR: "/vol/backups" }, /^DBAAS_BACKUP_DIR = "\/vol\/backups": applies to DBAAS_BACKUP_STORE=directory only \(it is s3\); unset it/],
            [{ DBAAS_BACKUP_S3_BUCKET: "dbaas-prod-backups" }, /^DBAAS_BACKUP_S3_BUCKET = "dbaas-prod-backups": applies to DBAAS_BACKUP_STORE=s3 only \(it is directory\); set DBAAS_BACKUP_STORE=s3 or unset DBAAS_BACKUP_S3_BUCKET/],
        ])("refuses %j naming the variable and the fix", (env, message) => {
            const problems = problemsOf(env);
            expect(problems.length, JSON.stringify(problems)).toBe(1);
            expect(problems[0]).toMatch(message);
        });

        it("refuses an endpoint with credentials in it without repeating them", () => {
            const problems = problemsOf({ ...S3, AWS_REGION: "eu-west-1", DBAAS_BACKUP_S3_ENDPOINT: "https://AKIAEXAMPLE:s3cr3t-value@s3.example.com" });
            expect(problems).toEqual([expect.stringMatching(/^DBAAS_BACKUP_S3_ENDPOINT = "https:\/\/\(hidden\)@s3.example.com": expected an endpoint without user or password in it \(credentials come from the AWS default chain/)]);
            expect(problems.join("\n")).not.toMatch(/s3cr3t-value|AKIAEXAMPLE/);
        });
    });
});
