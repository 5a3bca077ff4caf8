/**
 * Test fixtures for the API: a fresh admin store per test on a real
 * PostgreSQL (the integration project's shared one), the API started on
 * 127.0.0.1:0 with the engine test double, three tokens (admin, alice, bob),
 * a fake DNS resolver, and a small fetch wrapper.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Writable } from "node:stream";
import pgClient from "pg";
import pino from "pino";
import { StaticTokens, tokenLine } from "../../api/http/auth";
import { loadApiConfig, type ApiConfig } from "../../api/config";
import type { StackEngine } from "../../api/engine/types";
import type { BackupRunner } from "../../api/backups/runner";
import type { GoldenVolumes } from "../../api/cache/cache";
import type { Resolver } from "../../api/domain/ssrf";
import type { WebhookSender } from "../../api/notify/channels";
import { startApi, type RunningApi } from "../../api/start";
import type { PostgresServer } from "./postgres";
import { FakeStackEngine } from "./fakeEngine";

export const TOKENS = {
    admin: "dbaas_test-admin-token-0000000000000000000000",
    alice: "dbaas_test-alice-token-1111111111111111111111",
    bob: "dbaas_test-bob-token-22222222222222222222222222",
} as const;
export type Who = keyof typeof TOKENS;

export const testTokens = new StaticTokens([
    tokenLine("admin", "admin", TOKENS.admin),
    tokenLine("alice", "user", TOKENS.alice),
    tokenLine("bob", "user", TOKENS.bob),
].join("\n"));

export const CATALOG = [
    { label: "PostgreSQL 17", image: "postgres:17.2" },
    { label: "PostgreSQL 16", image: "postgres:16.6" },
];

/** Fake DNS: names map to address lists; anything else does not resolve. */
export function fakeResolver(table: Record<string, string[]>): Resolver {
    return (host) => {
        const addrs = table[host];
        if (addrs === undefined) return Promise.reject(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" }));
        return Promise.resolve(addrs.map((address) => ({ address, family: address.includes(":") ? 6 : 4 })));
    };
}

export const DEFAULT_DNS = {
    "backups.example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
    "rebind.example.com": ["93.184.216.34", "10.0.0.5"],
    "metadata.example.com": ["169.254.169.254"],
};

export function testConfig(env: Record<string, string> = {}): ApiConfig {
    return loadApiConfig({
        PORT: "0",
        HOST: "127.0.0.1",
        LOG_LEVEL: "silent",
        DBAAS_CATALOG: JSON.stringify(CATALOG),
        DBAAS_BACKUP_HOSTS: "backups.example.com,rebind.example.com,metadata.example.com",
        DBAAS_TTL_HOURS_DEFAULT: "8",
        DBAAS_TTL_HOURS_MAX: "72",
        DBAAS_JOB_POLL_MS: "50",
        DBAAS_RETRY_BASE_SECONDS: "0.05",
        DBAAS_RETRY_MAX_SECONDS: "0.2",
        DBAAS_JOB_LEASE_SECONDS: "2",
        DBAAS_SHUTDOWN_GRACE_SECONDS: "1",
        DBAAS_REAPER_INTERVAL_SECONDS: "0",
        // Tests that watch servers turn it on or drive RuntimeWatcher.tick() themselves.
        DBAAS_WATCH_INTERVAL_SECONDS: "0",
        // No golden volumes on a Docker engine the tests do not have; test/api/cache.test.ts turns it on with a test double.
        DBAAS_CACHE: "false",
        DBAAS_CACHE_EVICT_INTERVAL_SECONDS: "0",
        DBAAS_TOKENS_FILE: "/nonexistent/tokens",
        // The test engine's databases are servers on this host, not containers: the host's pg_dump,
        // whatever Docker engine the machine has (auto would take a local one's in-target runner).
        DBAAS_BACKUP_RUNNER: "host",
        // Never the repository's .dbaas-data: each API keeps its backups in a temporary directory.
        ...(env.DBAAS_BACKUP_STORE === "s3" ? {} : { DBAAS_BACKUP_DIR: env.DBAAS_BACKUP_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-test-backups-")) }),
        ...env,
    });
}

/**
 * This test file's database: one per file, as the server may be shared by
 * files running at the same time (advisory locks and LISTEN channels are per
 * database, so one file's API never sees another's).
 */
const FILE_DATABASE = `apitest_${randomBytes(4).toString("hex")}`;
const fileDatabases = new Map<number, Promise<void>>();

/**
 * A fresh, empty admin store for one test: a new schema in the file's
 * database, selected through search_path in the URL (much cheaper than
 * CREATE DATABASE).
 */
export async function freshDatabaseUrl(pg: PostgresServer): Promise<string> {
    let created = fileDatabases.get(pg.port);
    if (created === undefined) {
        created = pg.query(`CREATE DATABASE ${FILE_DATABASE}`).then(() => undefined);
        fileDatabases.set(pg.port, created);
    }
    await created;
    const schema = `t_${randomBytes(6).toString("hex")}`;
    await pg.query(`CREATE SCHEMA ${schema}`, [], FILE_DATABASE);
    return `${pg.url(FILE_DATABASE)}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
}

/** Runs SQL as the superuser inside a test's admin store (its schema). */
export async function sqlIn<T extends Record<string, unknown>>(_pg: PostgresServer, databaseUrl: string, sql: string, params: unknown[] = []): Promise<T[]> {
    const c = new pgClient.Client({ connectionString: databaseUrl });
    await c.connect();
    try {
        return (await c.query<T>(sql, params)).rows;
    } finally {
        await c.end();
    }
}

/** Collects log lines (JSON) in memory, to assert on what is and is not logged. */
export class LogCapture extends Writable {
    readonly lines: string[] = [];
    override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
        this.lines.push(...chunk.toString("utf8").split("\n").filter((l) => l !== ""));
        cb();
    }
    get text(): string {
        return this.lines.join("\n");
    }
}

export interface TestApi extends RunningApi {
    readonly engine: FakeStackEngine;
    readonly logs: LogCapture;
    readonly databaseUrl: string;
    readonly config: ApiConfig;
    call(who: Who | null, method: string, path: string, init?: { body?: unknown; rawBody?: string; headers?: Record<string, string> }): Promise<Reply>;
}

export interface Reply {
    readonly status: number;
    readonly headers: Headers;
    readonly text: string;
    /** Parsed JSON body (undefined when not JSON). */
    readonly body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- test assertions read arbitrary JSON
}

export async function startTestApi(pg: PostgresServer, o: {
    engine?: FakeStackEngine | StackEngine; env?: Record<string, string>; resolver?: Resolver; runJobs?: boolean; databaseUrl?: string;
    testOnlyWebhookSender?: WebhookSender; backupRunner?: BackupRunner; backupLeaseMs?: number; goldenVolumes?: GoldenVolumes;
} = {}): Promise<TestApi> {
    const engine = o.engine ?? new FakeStackEngine();
    const databaseUrl = o.databaseUrl ?? await freshDatabaseUrl(pg);
    const logs = new LogCapture();
    const config = testConfig(o.env);
    const api = await startApi({
        config,
        engine,
        databaseUrl,
        tokens: testTokens,
        resolver: o.resolver ?? fakeResolver(DEFAULT_DNS),
        logger: pino({ level: "info", redact: { paths: ["req.headers.authorization", "*.password", "*.uri"], censor: "[redacted]" } }, logs),
        sseHeartbeatMs: 200,
        runJobs: o.runJobs ?? true,
        poolSize: 5,
        validateResponses: true,
        ...(o.testOnlyWebhookSender === undefined ? {} : { testOnlyWebhookSender: o.testOnlyWebhookSender }),
        ...(o.backupRunner === undefined ? {} : { backupRunner: o.backupRunner }),
        ...(o.backupLeaseMs === undefined ? {} : { backupLeaseMs: o.backupLeaseMs }),
        ...(o.goldenVolumes === undefined ? {} : { goldenVolumes: o.goldenVolumes }),
    });
    const close = api.close.bind(api);
    const closeAndClean: RunningApi["close"] = async (graceMs) => {
        await close(graceMs);
        // The temporary backup directory made by testConfig (a caller's own DBAAS_BACKUP_DIR is kept).
        if (o.env?.DBAAS_BACKUP_DIR === undefined && config.backups.store.kind === "directory") fs.rmSync(config.backups.store.dir, { recursive: true, force: true });
    };
    const call: TestApi["call"] = async (who, method, path, init = {}) => {
        const headers: Record<string, string> = { ...(init.headers ?? {}) };
        if (who !== null) headers.authorization = `Bearer ${TOKENS[who]}`;
        let body: string | undefined = init.rawBody;
        if (init.body !== undefined) {
            body = JSON.stringify(init.body);
            headers["content-type"] ??= "application/json";
        }
        const res = await fetch(api.url + path, { method, headers, ...(body === undefined ? {} : { body }) });
        const text = await res.text();
        let json: unknown;
        try {
            json = JSON.parse(text);
        } catch {
            json = undefined;
        }
        return { status: res.status, headers: res.headers, text, body: json };
    };
    return Object.assign(api, { engine: engine as FakeStackEngine, logs, databaseUrl, call, config, close: closeAndClean });
}

/** Polls every `everyMs` until `check` returns a value (not undefined), or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000, everyMs = 25): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const v = await check();
        if (v !== undefined) return v;
        if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
        await new Promise((r) => setTimeout(r, everyMs));
    }
}

/** Waits until the database reaches `state`; returns its view. */
export async function waitForState(api: TestApi, name: string, state: string, timeoutMs = 10_000): Promise<Reply["body"]> {
    return waitFor(`${name} to be ${state}`, async () => {
        const r = await api.call("admin", "GET", `/databases/${name}`);
        // eslint-disable-next-line @typescript-eslint/no-unsafe-return -- a test reads the JSON view as it is
        return (r.body as { state?: string } | undefined)?.state === state ? r.body : undefined;
    }, timeoutMs);
}

export function createBody(name: string, extra: Record<string, unknown> = {}, owner = "alice"): Record<string, unknown> {
    return { project_id: "proj-1", owner, name, db_type: "postgres", ...extra };
}

/** Reads an SSE stream to its end; returns the frames in order. */
export async function readSse(url: string, token: string, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<{ status: number; contentType: string | null; frames: { id?: string; event?: string; data?: string }[]; raw: string }> {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), timeoutMs);
    try {
        const res = await fetch(url, { headers: { authorization: `Bearer ${token}`, ...headers }, signal: ac.signal });
        const raw = await res.text();
        const frames = raw.split("\n\n").filter((b) => b.trim() !== "" && !b.startsWith(":") && !b.startsWith("retry:")).map((block) => {
            const f: { id?: string; event?: string; data?: string } = {};
            for (const line of block.split("\n")) {
                const i = line.indexOf(": ");
                if (i < 0) continue;
                const k = line.slice(0, i);
                if (k === "id" || k === "event" || k === "data") f[k] = line.slice(i + 2);
            }
            return f;
        });
        return { status: res.status, contentType: res.headers.get("content-type"), frames, raw };
    } finally {
        clearTimeout(timer);
    }
}
