/**
 * `npm run bench:clone` (issue 19): what the restored-backup cache buys on the
 * docker target, every part real: the API in this process with the Automation
 * API engine (the built Pulumi CLI, our language host, the docker provider, the
 * policy pack) against the private Docker engine of `e2e:up`, the stand-in
 * postgres:17 and curl images, and an HTTPS backup server container serving a
 * custom-format dump of the benchmarks' dataset (bench/dataset.ts: 358 MB of
 * table data, built in PostgreSQL 15 and dumped with pg_dump 15, as
 * bench:restore does).
 *
 * Each round (BENCH_ROUNDS, default 3) creates three databases from the same
 * backup, one after the other, and times POST /databases → ready:
 *   - a cache-filling create (restore, then the fill of a golden volume, which
 *     is inside the operation: the database is ready when the fill is done);
 *   - a cached create (the fetch step's HEAD matches: a clone);
 *   - a `fresh` create (restores, skips the cache);
 * then checks each one's data against the source (row count and an
 * order-independent checksum per table), records the disk its data volume and
 * the golden volume use (`docker system df -v`), deletes all three and evicts
 * the golden copy, so the next round fills again. Each `up`'s phases and
 * resource steps come from the engine's "pulumi up: where the time went" log.
 * It prints a table, the `clone speedup:` line (fresh ÷ cached, medians) and
 * the load average. Targets belong in docs/benchmarks.md; nothing here
 * asserts one. Bounded by BENCH_CLONE_MAX_MINUTES (default 45).
 *
 * Needs the e2e engines: `npm run e2e:up`, then `. .e2e/env && npm run bench:clone`.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import pg from "pg";
import pino from "pino";
import { dockerObjectName } from "../components/ondemand";
import { docker, dockerProblem, startBackupServer, type BackupServer } from "../test/e2e/dockerTarget";
import { pulumiCli } from "../test/e2e/engine";
import { setUpDockerE2e, startDockerEngineApi, waitDeleted, type DockerE2e } from "../test/e2e/ondemandApi";
import { startPostgres } from "../test/support/postgres";
import { createBody, waitFor, type TestApi } from "../test/support/testApi";
import { buildDataset, ROWS, TABLES, tableChecksums, type TableChecksums } from "./dataset";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? "3");
const MAX_MINUTES = Number(process.env.BENCH_CLONE_MAX_MINUTES ?? "45");
const IMAGE = "dbaas-e2e/postgres:17";
const ID = `${process.pid}`;
const log = (m: string) => process.stderr.write(`[bench:clone] ${m}\n`);

type Kind = "fill" | "clone" | "fresh";
const KINDS: readonly Kind[] = ["fill", "clone", "fresh"];
const LABELS: Record<Kind, string> = {
    fill: "cache-filling create (restore + fill)",
    clone: "cached create (clone)",
    fresh: "fresh create (restore, cache skipped)",
};

/** One `up`'s "where the time went" log line. */
interface UpTimes { readonly phases: Record<string, number>; readonly steps: Record<string, number> }
interface Sample { readonly seconds: number; readonly up: UpTimes | undefined; readonly volumeBytes: number | undefined }

interface DbView {
    state: string;
    failure_reason: string | null;
    endpoint: { host: string; port: number } | null;
    made: { how: string } | null;
    credentials?: { password: string };
}

const median = (xs: readonly number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = Math.floor(s.length / 2);
    return s.length === 0 ? NaN : s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const sec = (x: number) => x.toFixed(1);
const spread = (xs: readonly number[]) => `${sec(median(xs))} (${sec(Math.min(...xs))}–${sec(Math.max(...xs))})`;
const mb = (bytes: number | undefined) => (bytes === undefined || Number.isNaN(bytes) ? "?" : (bytes / 1e6).toFixed(0));
const loadavg = () => os.loadavg().map((l) => l.toFixed(1)).join(" ");

/** Why the benchmark cannot run here, or undefined. */
function missingEngines(): string | undefined {
    if (pulumiCli() === undefined) return "no Pulumi CLI on PATH (the e2e one is built by scripts/e2e/tools.sh; run npm run e2e:up, then . .e2e/env)";
    const problem = dockerProblem([IMAGE, "dbaas-e2e/node:20", "dbaas-e2e/curl:7"]);
    if (problem !== undefined) return `${problem} (run npm run e2e:up, then . .e2e/env)`;
    for (const tool of ["pg_dump"]) {
        if (!process.env.PATH?.split(path.delimiter).some((d) => d !== "" && fs.existsSync(path.join(d, tool)))) return `no ${tool} on PATH (PostgreSQL 15 client tools)`;
    }
    return undefined;
}

/** Sizes of named volumes as `docker system df -v` reports them (decimal units), in bytes. */
function volumeSizes(): Map<string, number> {
    const r = docker(["system", "df", "-v", "--format", "{{json .Volumes}}"], undefined, 300_000);
    const units: Record<string, number> = { B: 1, kB: 1e3, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 };
    const out = new Map<string, number>();
    if (r.status !== 0) return out;
    for (const v of JSON.parse(r.stdout) as { Name: string; Size: string }[]) {
        const m = /^([\d.]+)\s*([kKMGT]?B)$/.exec(v.Size);
        if (m !== null) out.set(v.Name, Number(m[1]) * (units[m[2]!] ?? NaN));
    }
    return out;
}

function fileSystemOfDockerRoot(): string {
    const root = docker(["info", "--format", "{{.Driver}} {{.DockerRootDir}}"]).stdout.trim();
    const dir = root.split(" ")[1] ?? "";
    let fsType = "unknown file system";
    try {
        if (dir !== "" && fs.existsSync(dir)) fsType = fs.statfsSync(dir).type === 0xef53 ? "ext4" : `file system type 0x${fs.statfsSync(dir).type.toString(16)}`;
    } catch {
        // Not on this host's file system (a remote engine): left unknown.
    }
    return `storage driver ${root.split(" ")[0] ?? "?"} on ${fsType}`;
}

function run(cmd: string, args: string[], env: Record<string, string>): Promise<void> {
    return new Promise((resolve, reject) => {
        execFile(cmd, args, { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 }, (error, _stdout, stderr) => {
            if (error) reject(new Error(`${cmd} ${args.join(" ")} failed: ${stderr}`));
            else resolve();
        });
    });
}

async function main(): Promise<void> {
    const missing = missingEngines();
    if (missing !== undefined) {
        process.stderr.write(`bench:clone cannot run: ${missing}\n`);
        process.exit(2);
    }
    const loadBefore = loadavg();
    const upTimes = new Map<string, UpTimes>();
    // The engine's log, read for its "where the time went" line; warnings and errors are passed on.
    const engineLog = pino({ level: "info" }, {
        write: (line: string) => {
            const msg = JSON.parse(line) as { msg?: string; level?: number; stack?: string; phases_ms?: Record<string, number>; steps_ms?: Record<string, number> };
            if (msg.msg === "pulumi up: where the time went" && msg.stack !== undefined) upTimes.set(msg.stack, { phases: msg.phases_ms ?? {}, steps: msg.steps_ms ?? {} });
            else if ((msg.level ?? 0) >= 40) process.stderr.write(line);
        },
    });

    let e2e: DockerE2e | undefined;
    let backups: BackupServer | undefined;
    let api: TestApi | undefined;
    let close: (() => Promise<void>) | undefined;
    const created: string[] = [];
    const cleanUp = async () => {
        for (const name of created) await api?.call("admin", "DELETE", `/databases/${name}`);
        for (const name of created) if (api !== undefined) await waitDeleted(api, name, 300_000).catch(() => undefined);
        for (const e of ((await api?.call("admin", "GET", "/cache"))?.body as { entries?: { id: number }[] } | undefined)?.entries ?? []) {
            await api?.call("admin", "DELETE", `/cache/${e.id}`);
        }
        await close?.();
        backups?.stop();
        await e2e?.tearDown();
    };
    const bound = setTimeout(() => {
        log(`over the bound of ${MAX_MINUTES} minutes (BENCH_CLONE_MAX_MINUTES): cleaning up and stopping`);
        void cleanUp().finally(() => process.exit(1));
    }, MAX_MINUTES * 60_000);

    try {
        e2e = await setUpDockerE2e("bench-clone", IMAGE);
        backups = await startBackupServer({ tmp: e2e.tmp, prefix: `dbaas-bench-clone-${ID}`, label: "dbaas.io/e2e=bench-clone", thirds: [30, 50, 70, 90].map((b) => b + (process.pid % 20)), files: {} });

        log("building the dataset in PostgreSQL 15 and dumping it (custom format)");
        const source = await startPostgres(15);
        let sourceSums: TableChecksums;
        let dumpBytes: number;
        let dataBytes: number;
        try {
            ({ dataBytes } = await buildDataset(source, "bench"));
            const dump = path.join(backups.files, "bench.dump");
            await run("pg_dump", ["-h", "127.0.0.1", "-p", String(source.port), "-U", source.user, "-d", "bench", "-Fc", "-f", dump], { PGPASSWORD: source.password });
            fs.chmodSync(dump, 0o644);
            backups.tag("bench.dump", `"bench-${ID}"`);
            dumpBytes = fs.statSync(dump).size;
            const c = source.client("bench");
            await c.connect();
            try {
                sourceSums = await tableChecksums(c);
            } finally {
                await c.end();
            }
        } finally {
            await source.stop();
        }
        log(`table data ${mb(dataBytes)} MB, dump ${mb(dumpBytes)} MB`);

        ({ api, close } = await startDockerEngineApi(e2e, {
            ...backups.env,
            DBAAS_CACHE: "true", DBAAS_CACHE_EVICT_INTERVAL_SECONDS: "0", DBAAS_DB_MEMORY_MB: "512",
        }, backups.resolver, undefined, engineLog));
        const theApi = api;
        const backupHost = backups.host;
        const view = async (name: string, include = false) => (await theApi.call("alice", "GET", `/databases/${name}${include ? "?include=password" : ""}`)).body as DbView;
        const create = async (name: string, extra: Record<string, unknown>): Promise<number> => {
            const started = performance.now();
            created.push(name);
            const r = await theApi.call("alice", "POST", "/databases", { body: createBody(name, { backup_location: `https://${backupHost}/bench.dump?sig=${name}`, ...extra }) });
            if (r.status !== 202) throw new Error(`POST /databases ${name}: ${r.status} ${JSON.stringify(r.body)}`);
            const db = await waitFor(`${name} to settle`, async () => {
                const v = await view(name);
                return v.state === "ready" || v.state === "failed" ? v : undefined;
            }, 900_000, 100);
            if (db.state !== "ready") throw new Error(`${name} failed: ${db.failure_reason}`);
            return (performance.now() - started) / 1000;
        };
        const checkData = async (name: string, how: string) => {
            const v = await view(name, true);
            if (v.made?.how !== how) throw new Error(`${name} was ${v.made?.how ?? "made"}, expected ${how}`);
            const c = new pg.Client({ host: v.endpoint?.host, port: v.endpoint?.port, user: "postgres", password: v.credentials?.password, database: name, ssl: false });
            await c.connect();
            try {
                const sums = await tableChecksums(c);
                for (const t of TABLES) {
                    if (sums[t].rows !== sourceSums[t].rows || sums[t].checksum !== sourceSums[t].checksum) {
                        throw new Error(`${name}.${t}: ${sums[t].rows} rows, checksum ${sums[t].checksum}; the source has ${sourceSums[t].rows}, ${sourceSums[t].checksum}`);
                    }
                }
            } finally {
                await c.end();
            }
        };

        const samples: Record<Kind, Sample[]> = { fill: [], clone: [], fresh: [] };
        const golden: number[] = [];
        for (let round = 1; round <= ROUNDS; round++) {
            const names: Record<Kind, string> = { fill: `bclone-${ID}-fill-${round}`, clone: `bclone-${ID}-clone-${round}`, fresh: `bclone-${ID}-fresh-${round}` };
            const seconds: Partial<Record<Kind, number>> = {};
            seconds.fill = await create(names.fill, {});
            const entries = ((await theApi.call("admin", "GET", "/cache")).body as { entries: { id: number; state: string; volume: string }[] }).entries.filter((e) => e.state === "ready");
            if (entries.length !== 1) throw new Error(`expected one ready golden copy after the fill, found ${entries.length}`);
            seconds.clone = await create(names.clone, {});
            seconds.fresh = await create(names.fresh, { fresh: true });
            await checkData(names.fill, "restored");
            await checkData(names.clone, "cloned");
            await checkData(names.fresh, "restored");
            const sizes = volumeSizes();
            golden.push(sizes.get(entries[0]!.volume) ?? NaN);
            for (const k of KINDS) samples[k].push({ seconds: seconds[k]!, up: upTimes.get(names[k]), volumeBytes: sizes.get(dockerObjectName(names[k], "data")) });
            log(`round ${round}/${ROUNDS}: fill ${sec(seconds.fill)} s, clone ${sec(seconds.clone)} s, fresh ${sec(seconds.fresh)} s; data equal to the source; load ${loadavg()}`);
            for (const k of KINDS) await theApi.call("alice", "DELETE", `/databases/${names[k]}`);
            for (const k of KINDS) await waitDeleted(theApi, names[k], 300_000);
            const evicted = await theApi.call("admin", "DELETE", `/cache/${entries[0]!.id}`);
            if (evicted.status !== 200) throw new Error(`DELETE /cache/${entries[0]!.id}: ${evicted.status} ${JSON.stringify(evicted.body)}`);
        }
        print(samples, { dataBytes, dumpBytes, golden, loadBefore, fileSystem: fileSystemOfDockerRoot() });
    } finally {
        clearTimeout(bound);
        await cleanUp();
    }
}

function print(samples: Record<Kind, Sample[]>, o: { dataBytes: number; dumpBytes: number; golden: readonly number[]; loadBefore: string; fileSystem: string }): void {
    const cpus = os.cpus();
    const phaseNames = [...new Set(KINDS.flatMap((k) => samples[k].flatMap((s) => Object.keys(s.up?.phases ?? {}))))];
    const phase = (k: Kind, p: string) => sec(median(samples[k].map((s) => (s.up?.phases[p] ?? NaN) / 1000)));
    const engineSeconds = (s: Sample) => Object.values(s.up?.phases ?? {}).reduce((a, b) => a + b, 0) / 1000;
    const lines = [
        "",
        `bench:clone ${new Date().toISOString().slice(0, 16)}Z, docker target (real engine, ${o.fileSystem}), ${cpus.length} × ${cpus[0]?.model.trim() ?? "CPU"}, ` +
            `${ROUNDS} rounds; table data ${mb(o.dataBytes)} MB (${TABLES.map((t) => `${t} ${ROWS[t]}`).join(", ")} rows), custom dump ${mb(o.dumpBytes)} MB; ${pulumiCli()?.version ?? "?"}`,
        `Load average (1, 5, 15 min) before ${o.loadBefore}, after ${loadavg()}.`,
        "Seconds, median (min–max), POST /databases → ready; the engine's phases are medians of the `up` call (the fill and its restart come after it).",
        "",
        `| create | to ready | ${phaseNames.map((p) => `${p}`).join(" | ")} | rest (API, fill) | data volume MB |`,
        `|---|---:|${phaseNames.map(() => "---:").join("|")}|---:|---:|`,
        ...KINDS.map((k) => `| ${LABELS[k]} | ${spread(samples[k].map((s) => s.seconds))} | ${phaseNames.map((p) => phase(k, p)).join(" | ")} | ` +
            `${sec(median(samples[k].map((s) => s.seconds - engineSeconds(s))))} | ${mb(median(samples[k].map((s) => s.volumeBytes ?? NaN)))} |`),
        "",
        "Resource steps inside `up` (median seconds, pre-event to outputs):",
        "",
        ...KINDS.map((k) => {
            const steps = [...new Set(samples[k].flatMap((s) => Object.keys(s.up?.steps ?? {})))];
            const text = steps.map((st) => [st, median(samples[k].map((s) => (s.up?.steps[st] ?? NaN) / 1000))] as const)
                .filter(([, v]) => v >= 0.05).sort((a, b) => b[1] - a[1]).map(([st, v]) => `${st} ${sec(v)}`).join(", ");
            return `- ${k}: ${text}`;
        }),
        "",
        `Each run (s): ${KINDS.map((k) => `${k} ${samples[k].map((s) => sec(s.seconds)).join(", ")}`).join("; ")}`,
        `Data: every fill, clone and fresh database equals the source (row counts and per-table checksums of ${TABLES.join(", ")}).`,
        `Disk: ${mb(median(samples.clone.map((s) => s.volumeBytes ?? NaN)))} MB per clone (its data volume), ${mb(median([...o.golden]))} MB per golden copy (docker system df -v).`,
        `clone speedup: ${(median(samples.fresh.map((s) => s.seconds)) / median(samples.clone.map((s) => s.seconds))).toFixed(1)}x (fresh restore-to-ready ÷ clone-to-ready, medians; target 10x)`,
        "",
    ];
    process.stdout.write(lines.join("\n"));
}

main().then(() => process.exit(0), (e: Error) => {
    process.stderr.write(`bench:clone failed: ${e.stack ?? e.message}\n`);
    process.exit(1);
});
