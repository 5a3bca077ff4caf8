/**
 * The S3 backup store against moto_server, a local simulation of S3 on
 * 127.0.0.1 (not AWS: it takes any credentials and checks neither IAM nor
 * KMS). Backups are taken through the HTTP API from a real PostgreSQL 15 by
 * the host's pg_dump, as in test/api/backups.test.ts, and land as objects
 * `<prefix>/<id>.dump` with SSE-KMS requested; the content URL streams them
 * back; roll-off deletes them; a failed dump or a failed upload leaves no
 * object. Credentials reach the SDK through its default chain (AWS_* here),
 * never through the store's config, and appear in no log or error.
 */
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-call -- assertions read JSON response bodies (typed any in test/support/testApi.ts) */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import {
    CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { LocalPgDumpRunner } from "../../../api/backups/runner";
import { S3BackupStore } from "../../../api/backups/s3BackupStore";
import { LIMITED, oldestPgDumpOnly, seedOrders } from "../../support/backupSource";
import { requireMotoServer, startMotoServer, type MotoServer } from "../../support/motoServer";
import { sharedPostgres, startPostgres, type PostgresServer } from "../../support/postgres";
import { requireBinaries } from "../../support/requirements";
import { createBody, startTestApi, waitFor, waitForState, type TestApi } from "../../support/testApi";

const run = promisify(execFile);
const missing = requireBinaries(["pg_dump", "pg_restore"], "apt-get install postgresql-client (see .ci/run)") ?? requireMotoServer();
const BUCKET = "dbaas-test-backups";
const PREFIX = "team/backups";
const REGION = "eu-west-1";
const KMS_KEY = "arn:aws:kms:eu-west-1:123456789012:key/0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9";
// Only the SDK's default chain sees these (the environment); the store's config has no place for them.
const ACCESS_KEY = "AKIAMOTOTEST00000001";
const SECRET_KEY = "moto-test-secret-key-that-must-not-leak-0001";
const ROWS = 120;

let moto: MotoServer;
let admin: PostgresServer;
let pg15: PostgresServer;
let api: TestApi;
let s3: S3Client;
let binDir: string;

describe.skipIf(missing)("S3 backup store against moto_server (a local S3 simulation)", () => {
    beforeAll(async () => {
        vi.stubEnv("AWS_ACCESS_KEY_ID", ACCESS_KEY);
        vi.stubEnv("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
        // Nothing else of the chain is asked (no ~/.aws, no instance metadata on this machine).
        vi.stubEnv("AWS_EC2_METADATA_DISABLED", "true");
        const [m, a, b] = await Promise.all([startMotoServer(), sharedPostgres(), startPostgres(15, { initdbFlags: ["--no-sync"], postgresFlags: ["-c", "fsync=off"] })]);
        moto = m;
        admin = a;
        pg15 = b;
        s3 = new S3Client({ region: REGION, endpoint: moto.endpoint, forcePathStyle: true });
        await s3.send(new CreateBucketCommand({ Bucket: BUCKET, CreateBucketConfiguration: { LocationConstraint: REGION } }));
        await seedOrders(pg15, ROWS);
        ({ binDir } = await oldestPgDumpOnly());
        api = await startTestApi(admin, {
            env: {
                DBAAS_BACKUP_STORE: "s3", DBAAS_BACKUP_S3_BUCKET: BUCKET, DBAAS_BACKUP_S3_PREFIX: PREFIX, DBAAS_BACKUP_S3_REGION: REGION,
                DBAAS_BACKUP_S3_KMS_KEY_ID: KMS_KEY, DBAAS_BACKUP_S3_ENDPOINT: moto.endpoint,
                DBAAS_BACKUP_FETCH_BASE_URL: "https://dbaas.example.com", DBAAS_BACKUP_KEEP_COUNT: "1", DBAAS_BACKUP_ROLLOFF_INTERVAL_SECONDS: "0",
            },
            backupRunner: new LocalPgDumpRunner({ searchDirs: [binDir] }),
        });
    });
    afterAll(async () => {
        await api?.close(200);
        s3?.destroy();
        await Promise.all([pg15?.stop(), moto?.stop()]);
        await admin?.stop();
        if (binDir !== undefined) fs.rmSync(binDir, { recursive: true, force: true });
        vi.unstubAllEnvs();
    });

    async function readyDatabase(name: string, o: { user?: string; password?: string } = {}): Promise<void> {
        const r = await api.call("alice", "POST", "/databases", { body: createBody(name) });
        expect(r.status, r.text).toBe(202);
        await waitForState(api, name, "ready");
        const out = api.engine.stacks.get(name);
        if (out === undefined) throw new Error(`the test engine has no outputs for ${name}`);
        api.engine.stacks.set(name, { ...out, host: "127.0.0.1", port: pg15.port, database: "orders", user: o.user ?? "postgres", password: o.password ?? pg15.password });
    }

    async function backUp(name: string): Promise<{ id: string; status: string; [k: string]: unknown }> {
        const r = await api.call("alice", "POST", `/databases/${name}/backups`);
        expect(r.status, r.text).toBe(202);
        return waitFor(`backup ${r.body.id} to finish`, async () => {
            const g = await api.call("alice", "GET", `/databases/${name}/backups/${r.body.id}`);
            return g.body?.status === "running" ? undefined : g.body;
        });
    }

    const keyOf = (id: string) => `${PREFIX}/${id}.dump`;
    const keys = async () => ((await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${PREFIX}/` }))).Contents ?? []).map((o) => o.Key);
    const exists = async (id: string) => s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: keyOf(id) })).then(() => true, (e: { $metadata?: { httpStatusCode?: number } }) => {
        if (e.$metadata?.httpStatusCode === 404) return false;
        throw e;
    });
    const stagingDirs = () => fs.readdirSync(os.tmpdir()).filter((d) => d.startsWith("dbaas-backup-staging-")).map((d) => path.join(os.tmpdir(), d));

    it("puts a backup at <prefix>/<id>.dump with SSE-KMS requested, lists it, and serves its bytes at the content URL for a restore", async () => {
        expect(api.config.backups.store).toEqual({ kind: "s3", bucket: BUCKET, prefix: PREFIX, region: REGION, kmsKeyId: KMS_KEY, endpoint: moto.endpoint });
        await readyDatabase("orders-s3");
        const b = await backUp("orders-s3");
        expect(b.status, JSON.stringify(b)).toBe("succeeded");
        const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: keyOf(b.id) }));
        expect(head).toMatchObject({ ServerSideEncryption: "aws:kms", SSEKMSKeyId: KMS_KEY, ContentLength: b.backup_size_bytes });
        expect(await keys()).toEqual([keyOf(b.id)]);
        // Staged locally, then uploaded and removed: no staged file stays behind.
        for (const d of stagingDirs()) expect(fs.readdirSync(d).filter((f) => f.startsWith(b.id))).toEqual([]);

        const listed = await api.call("alice", "GET", "/databases/orders-s3/backups");
        expect(listed.body.backups.map((x: { id: string }) => x.id)).toEqual([b.id]);

        // The restore's fetch: the signed content URL the create hands the engine streams the object (GetObject).
        expect((await api.call("alice", "POST", "/databases", { body: createBody("from-s3", { backup_id: b.id }) })).status).toBe(202);
        await waitForState(api, "from-s3", "ready");
        const url = new URL(api.engine.callsOf("up", "from-s3")[0]?.spec?.backup_location ?? "");
        const res = await fetch(`${api.url}${url.pathname}${url.search}`);
        expect(res.status).toBe(200);
        expect(res.headers.get("content-length")).toBe(String(b.backup_size_bytes));
        const bytes = Buffer.from(await res.arrayBuffer());
        const stored = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: keyOf(b.id) }));
        expect(bytes.equals(Buffer.from(await stored.Body?.transformToByteArray() ?? []))).toBe(true);
        const file = path.join(binDir, "restored.dump");
        fs.writeFileSync(file, bytes, { mode: 0o600 });
        await pg15.query("CREATE DATABASE restored");
        await run("pg_restore", ["--no-owner", "-h", "127.0.0.1", "-p", String(pg15.port), "-U", "postgres", "-d", "restored", file], { env: { ...process.env, PGPASSWORD: pg15.password } });
        const rows = await pg15.query<{ n: string }>("SELECT count(*) AS n FROM items", [], "restored");
        expect(rows[0]?.n).toBe(String(ROWS));
    });

    it("leaves no object when the dump fails half-way", async () => {
        await readyDatabase("half-way-s3", LIMITED);
        const before = await keys();
        const half = await backUp("half-way-s3");
        expect(half.status).toBe("failed");
        expect(half.error).toMatch(/pg_dump \d+ failed \(exit 1\): .*permission denied/);
        expect(await exists(half.id)).toBe(false);
        expect(await keys()).toEqual(before);
    });

    it("rolls off beyond the count by deleting the object; removing it again is fine", async () => {
        await readyDatabase("rolled-s3");
        const first = await backUp("rolled-s3");
        const second = await backUp("rolled-s3");
        expect([first.status, second.status]).toEqual(["succeeded", "succeeded"]);
        expect(await exists(first.id)).toBe(true);
        const removed = await api.backups.rollOff();
        expect(removed).toContainEqual({ id: first.id, reason: "count" });
        expect(await exists(first.id)).toBe(false);
        expect(await exists(second.id)).toBe(true);
        await expect(api.backups.rollOff()).resolves.not.toContainEqual(expect.objectContaining({ id: first.id }));
        const store = new S3BackupStore({ kind: "s3", bucket: BUCKET, prefix: PREFIX, region: REGION, endpoint: moto.endpoint });
        try {
            await store.remove(first.id);
            expect(await store.has(first.id)).toBe(false);
            expect(await store.open(first.id)).toBeUndefined();
        } finally {
            await store.close();
        }
    });

    it("aborts a multipart upload whose part fails: no object, no open upload, the staged file removed, the reason secret-free", async () => {
        let failPart = 2;
        let failures = 0;
        const store = new S3BackupStore({ kind: "s3", bucket: BUCKET, prefix: PREFIX, region: REGION, kmsKeyId: KMS_KEY, endpoint: moto.endpoint }, {
            partSize: 5 * 1024 * 1024,
            // The second part fails as a dropped connection would, every attempt of it (the SDK retries).
            onClient: (client) => client.middlewareStack.add((next, context) => async (args) => {
                if (context.commandName === "UploadPartCommand" && (args.input as { PartNumber?: number }).PartNumber === failPart) {
                    failures++;
                    throw Object.assign(new Error("socket hang up"), { name: "TimeoutError" });
                }
                return next(args);
            }, { step: "finalizeRequest", name: "failSecondPart" }),
        });
        await store.init();
        const id = "00000000-0000-4000-8000-0000000000c1";
        try {
            const file = await store.stage(id);
            expect(fs.statSync(file).mode & 0o777).toBe(0o600);
            expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
            fs.writeFileSync(file, Buffer.alloc(12 * 1024 * 1024, 7));
            const err = await store.commit(id).then(() => undefined, (e: Error) => e);
            expect(err?.message).toMatch(new RegExp(`^uploading the backup to s3://${BUCKET}/${keyOf(id)} failed: TimeoutError: socket hang up`));
            expect(failures).toBeGreaterThanOrEqual(1);
            expect(err?.message).not.toContain(SECRET_KEY);
            expect(fs.existsSync(file)).toBe(false);
            expect(await store.has(id)).toBe(false);
            const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: PREFIX }));
            expect(uploads.Uploads ?? []).toEqual([]);

            // The same store commits a staged file once nothing breaks (a multipart upload of 3 parts).
            failPart = 0;
            fs.writeFileSync(await store.stage(id), Buffer.alloc(12 * 1024 * 1024, 9));
            expect(await store.commit(id)).toBe(12 * 1024 * 1024);
            const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: keyOf(id) }));
            expect(head).toMatchObject({ ServerSideEncryption: "aws:kms", SSEKMSKeyId: KMS_KEY, ContentLength: 12 * 1024 * 1024 });
            await store.remove(id);
        } finally {
            await store.close();
        }
    });

    it("fails a commit to a missing bucket with a short reason and no credentials in it", async () => {
        const store = new S3BackupStore({ kind: "s3", bucket: "no-such-bucket", prefix: PREFIX, region: REGION, endpoint: moto.endpoint });
        await store.init();
        const id = "00000000-0000-4000-8000-0000000000c2";
        try {
            fs.writeFileSync(await store.stage(id), "PGDMP");
            const err = await store.commit(id).then(() => undefined, (e: Error) => e);
            expect(err?.message).toMatch(/^uploading the backup to s3:\/\/no-such-bucket\/team\/backups\/.*\.dump failed: NoSuchBucket \(HTTP 404\)/);
            for (const secret of [SECRET_KEY, ACCESS_KEY]) expect(err?.message).not.toContain(secret);
        } finally {
            await store.close();
        }
    });

    it("logs no credentials: neither key is in the API's logs or answers", async () => {
        const answers = JSON.stringify((await api.call("admin", "GET", "/audit")).body) + JSON.stringify((await api.call("alice", "GET", "/databases/orders-s3/backups")).body);
        for (const secret of [SECRET_KEY, ACCESS_KEY]) {
            expect(api.logs.text).not.toContain(secret);
            expect(answers).not.toContain(secret);
        }
    });
});
