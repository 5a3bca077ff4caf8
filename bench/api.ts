/**
 * `npm run bench:api`: load on the API over loopback with autocannon, against
 * a real admin PostgreSQL (embedded, default settings: fsync and synchronous
 * commit on) holding 1,000 databases, with the engine TEST DOUBLE running the
 * accepted creates in the background. Each scenario runs BENCH_SECONDS
 * (default 10) with BENCH_CONNECTIONS (default 50) connections, BENCH_ROUNDS
 * (default 3) times back to back; the table shows medians. Request logs
 * are written at info level to /dev/null so their cost is included.
 * Target: p99 under 50 ms for POST /databases and GET /databases.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as os from "node:os";
import * as readline from "node:readline";
import autocannon from "autocannon";
import pino from "pino";
import { StaticTokens, tokenLine } from "../api/http/auth";
import { loadApiConfig } from "../api/config";
import { startApi } from "../api/start";
import { FakeStackEngine } from "../test/support/fakeEngine";
import { startPostgres } from "../test/support/postgres";

const SECONDS = Number(process.env.BENCH_SECONDS ?? "10");
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? "50");
/** Runs per scenario; the table shows medians (this VM's speed drifts by ±20 % from minute to minute). */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? "3");
const SEEDED = 1000;
const TARGET_P99_MS = 50;
const ADMIN = "dbaas_bench-admin-token-000000000000000000000";
const USER = "dbaas_bench-user-token-1111111111111111111111";

interface Row {
    readonly scenario: string;
    readonly reqPerSec: number;
    readonly p50: number;
    readonly p99: number;
    readonly ok: number;
    readonly other: number;
}

async function seed(pgQuery: (sql: string) => Promise<unknown>): Promise<void> {
    // 1,000 ready databases owned by 20 users, as the API itself would have written them.
    const spec = (name: string) => `jsonb_build_object('name', ${name}, 'owner', 'user-' || (i % 20), 'project_id', 'proj-' || (i % 7), 'db_type', 'postgres',
        'version', 'PostgreSQL 17', 'image', 'postgres:17.2', 'expires_at', to_char(now() + interval '8 hours', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
        'source_ranges', '[]'::jsonb, 'target', jsonb_build_object('kind', 'docker', 'docker_host', 'unix:///var/run/docker.sock', 'memory_mb', 512, 'publish_ip', '127.0.0.1'))`;
    await pgQuery(`
        WITH d AS (
            INSERT INTO databases (name, owner, project_id, db_type, version, state, spec, ttl_hours, expires_at, endpoint, created_by)
            SELECT 'seed-' || lpad(i::text, 4, '0'), 'user-' || (i % 20), 'proj-' || (i % 7), 'postgres', 'PostgreSQL 17', 'ready',
                   ${spec("'seed-' || lpad(i::text, 4, '0')")}, 8, now() + interval '8 hours',
                   jsonb_build_object('host', '127.0.0.1', 'port', 20000 + i, 'database', 'seed', 'user', 'owner'), 'admin'
            FROM generate_series(1, ${SEEDED}) AS i
            RETURNING id
        ), o AS (
            INSERT INTO operations (database_id, kind, status, attempts, requested_by, started_at, finished_at)
            SELECT id, 'create', 'succeeded', 1, 'admin', now(), now() FROM d RETURNING id, database_id
        )
        UPDATE databases SET current_operation_id = o.id FROM o WHERE databases.id = o.database_id`);
    // As autovacuum would have done on a store that grew to this size.
    await pgQuery("ANALYZE");
}

async function runOnce(scenario: string, opts: autocannon.Options): Promise<Row> {
    const r = await autocannon({ connections: CONNECTIONS, duration: SECONDS, ...opts });
    const ok = r["2xx"];
    return { scenario, reqPerSec: Math.round(r.requests.average), p50: r.latency.p50, p99: r.latency.p99, ok, other: r.non2xx + r.errors + r.timeouts };
}

function median(xs: readonly number[]): number {
    const s = [...xs].sort((a, b) => a - b);
    const mid = Math.floor(s.length / 2);
    return s.length % 2 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
}

/** ROUNDS runs of one scenario, back to back; the row holds the medians, the p99 range and the sums. */
async function run(scenario: string, opts: autocannon.Options): Promise<Row & { p99Range: string }> {
    const runs: Row[] = [];
    for (let i = 0; i < ROUNDS; i++) runs.push(await runOnce(scenario, opts));
    const p99s = runs.map((r) => r.p99);
    return {
        scenario,
        reqPerSec: Math.round(median(runs.map((r) => r.reqPerSec))),
        p50: median(runs.map((r) => r.p50)),
        p99: median(p99s),
        p99Range: `${Math.min(...p99s)}–${Math.max(...p99s)}`,
        ok: runs.reduce((n, r) => n + r.ok, 0),
        other: runs.reduce((n, r) => n + r.other, 0),
    };
}

function table(rows: readonly (Row & { p99Range: string })[]): string {
    const head = `| scenario | req/s | p50 (ms) | p99 (ms) | p99 range of ${ROUNDS} runs | 2xx | other | p99 < 50 ms |`;
    const sep = "|---|---:|---:|---:|---:|---:|---:|:---:|";
    return [head, sep, ...rows.map((r) => `| ${r.scenario} | ${r.reqPerSec} | ${r.p50} | ${r.p99} | ${r.p99Range} | ${r.ok} | ${r.other} | ${r.p99 < TARGET_P99_MS ? "yes" : "no"} |`)].join("\n");
}

/** The API under load runs in its own process, as in production, so the load generator does not share its event loop. */
async function serveApi(): Promise<void> {
    const api = await startApi({
        config: loadApiConfig({
            PORT: "0", HOST: "127.0.0.1", DBAAS_RATE_LIMIT_PER_MINUTE: "10000000", DBAAS_REAPER_INTERVAL_SECONDS: "0",
            DBAAS_CATALOG: JSON.stringify([{ label: "PostgreSQL 17", image: "postgres:17.2" }]),
        }),
        engine: new FakeStackEngine({ delayMs: 50, resources: 3 }),
        databaseUrl: process.env.DATABASE_URL ?? "",
        runJobs: process.env.BENCH_RUN_JOBS !== "0",
        poolSize: Number(process.env.BENCH_POOL_SIZE ?? "10"),
        tokens: new StaticTokens(`${tokenLine("admin", "admin", ADMIN)}\n${tokenLine("user-3", "user", USER)}`),
        logger: pino({ level: "info" }, pino.destination({ dest: "/dev/null", sync: true })),
    });
    process.stdout.write(`${JSON.stringify({ url: api.url })}\n`);
    process.on("SIGTERM", () => {
        api.close(1000).then(() => process.exit(0), () => process.exit(1));
    });
}

async function startServer(databaseUrl: string): Promise<{ url: string; child: ChildProcess }> {
    const child = spawn(process.execPath, [...(process.env.BENCH_SERVER_NODE_FLAGS ?? "").split(" ").filter((f) => f !== ""), "--import", "tsx", __filename], {
        env: { ...process.env, BENCH_API_SERVER: "1", DATABASE_URL: databaseUrl },
        stdio: ["ignore", "pipe", "inherit"],
    });
    const url = await new Promise<string>((resolve, reject) => {
        child.once("exit", (code) => reject(new Error(`API process exited with ${code}`)));
        readline.createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
            try {
                const msg = JSON.parse(line) as { url?: string };
                if (msg.url) resolve(msg.url);
            } catch {
                // not ours
            }
        });
    });
    return { url, child };
}

async function main(): Promise<void> {
    const pg = await startPostgres(17);
    let child: ChildProcess | undefined;
    try {
        await pg.query("CREATE DATABASE bench");
        const server = await startServer(pg.url("bench"));
        child = server.child;
        const base = server.url;
        await seed((sql) => pg.query(sql, [], "bench"));
        const auth = (t: string) => ({ authorization: `Bearer ${t}` });
        // Warm-up: JIT, connection pool, plan caches.
        await autocannon({ url: `${base}/databases`, connections: 10, amount: 500, headers: auth(ADMIN) });

        let n = 0;
        const only = process.env.BENCH_ONLY;
        const scenarios: [string, autocannon.Options][] = [
            [`GET /databases (admin, default page of 20 of ${SEEDED}+)`, { url: `${base}/databases`, headers: auth(ADMIN) }],
            [`GET /databases?limit=50 (admin)`, { url: `${base}/databases?limit=50`, headers: auth(ADMIN) }],
            ["GET /databases (user, own databases)", { url: `${base}/databases`, headers: auth(USER) }],
            ["GET /databases/:name", { url: `${base}/databases/seed-0500`, headers: auth(ADMIN) }],
            // Last: every accepted create also runs in the background (job runner + engine double) and keeps the store busy afterwards.
            ["POST /databases → 202", {
                url: `${base}/databases`,
                method: "POST",
                headers: { ...auth(ADMIN), "content-type": "application/json" },
                requests: [{
                    setupRequest: (req) => ({ ...req, body: JSON.stringify({ project_id: "bench", owner: "user-3", name: `bench-${n++}`, db_type: "postgres" }) }),
                }],
            }],
        ];
        const rows: (Row & { p99Range: string })[] = [];
        for (const [name, options] of scenarios) {
            if (only === undefined || name.includes(only)) rows.push(await run(name, options));
        }

        const count = await pg.query<{ n: number }>("SELECT count(*)::int AS n FROM databases", [], "bench");
        console.log(`\n${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "unknown cpu"}), load average before the run ${LOAD_BEFORE}, Node ${process.version}, ` +
            `${CONNECTIONS} connections, ${ROUNDS} × ${SECONDS} s per scenario (medians), admin store PostgreSQL ${pg.major} (embedded, fsync on), ${count[0]?.n ?? "?"} databases at the end, engine test double (50 ms per operation)\n`);
        console.log(table(rows));
        const missed = rows.filter((r) => r.p99 >= TARGET_P99_MS);
        console.log(missed.length === 0 ? `\nall scenarios met p99 < ${TARGET_P99_MS} ms` : `\np99 target (${TARGET_P99_MS} ms) missed by: ${missed.map((r) => r.scenario).join("; ")}`);
        if (rows.some((r) => r.other > 0)) console.log("some requests did not answer 2xx (see the 'other' column)");
    } finally {
        if (child && child.exitCode === null) {
            const exited = new Promise((r) => child?.once("exit", r));
            child.kill("SIGTERM");
            await exited;
        }
        await pg.stop();
    }
}

const LOAD_BEFORE = os.loadavg().map((l) => l.toFixed(2)).join(" ");

(process.env.BENCH_API_SERVER === "1" ? serveApi() : main()).catch((e: Error) => {
    console.error(`bench:api failed: ${e.message}`);
    process.exit(1);
});
