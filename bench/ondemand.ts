/**
 * `npm run bench:ondemand`: how long one database takes on the kubernetes
 * target with the REAL engine (the built Pulumi CLI, our language host, the
 * kubernetes provider, the policy pack) against the e2e control plane:
 * POST /databases → ready, and DELETE → deleted (namespace gone), BENCH_ROUNDS
 * (default 3) times, one database at a time. The API runs in this process
 * (the same set-up as test/e2e/ondemandKubernetes.e2e.test.ts); its engine is
 * wrapped so every `up`/`destroy` call is timed, which splits each figure into
 * the engine's share (inside the Automation API call: CLI start, language
 * host, program, preview, provider, API server) and the API's own (accepting
 * the request, claiming the job, storing outputs and state; it includes up to
 * one 100 ms poll of this client). SIMULATED: the kubelet (kwok marks pods
 * Ready; no PostgreSQL starts), the cloud load balancer's address and the
 * storage provisioner. Targets belong in docs/benchmarks.md, never in tests.
 *
 * Needs the e2e engines: `npm run e2e:up`, then `. .e2e/env && npm run bench:ondemand`.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { StackEngine } from "../api/engine/types";
import { kubectl } from "../test/e2e/cluster";
import { enginePath, pulumiCli } from "../test/e2e/engine";
import { PREFIX, setUpKubernetesE2e, startEngineApi } from "../test/e2e/ondemandApi";
import { createBody, waitFor } from "../test/support/testApi";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? "3");
const POLL_MS = 100;

/** Why the benchmark cannot run here, or undefined. */
function missingEngines(): string | undefined {
    if (pulumiCli() === undefined) return "no Pulumi CLI on PATH (the e2e one is built by scripts/e2e/tools.sh)";
    const kubeconfig = process.env.KUBECONFIG;
    if (kubeconfig === undefined || !fs.existsSync(kubeconfig)) return "KUBECONFIG is unset or names no file (the e2e control plane writes .e2e/kube/kubeconfig)";
    const ready = kubectl(["get", "--raw", "/readyz"]);
    if (ready.status !== 0) return `the Kubernetes API server in ${kubeconfig} does not answer /readyz: ${ready.stderr.trim().split("\n")[0] ?? ""}`;
    if (!enginePath().split(path.delimiter).some((d) => fs.existsSync(path.join(d, "pulumi-resource-kubernetes")))) return "no pulumi-resource-kubernetes on PATH";
    return undefined;
}

interface Call { readonly method: "up" | "destroy"; readonly name: string; readonly start: number; readonly end: number }

/** The engine with every up/destroy call's wall-clock time recorded. */
function timed(engine: StackEngine, calls: Call[]): StackEngine {
    const time = <T>(method: Call["method"], name: string, work: () => Promise<T>): Promise<T> => {
        const start = performance.now();
        return work().finally(() => calls.push({ method, name, start, end: performance.now() }));
    };
    // The same object with two methods replaced, so the optional ones (refresh) stay as they are.
    return Object.assign(Object.create(engine) as StackEngine, {
        up: (spec: Parameters<StackEngine["up"]>[0], o: Parameters<StackEngine["up"]>[1]) => time("up", spec.name, () => engine.up(spec, o)),
        destroy: (name: string, o: Parameters<StackEngine["destroy"]>[1]) => time("destroy", name, () => engine.destroy(name, o)),
    });
}

interface Sample { readonly total: number; readonly engine: number; readonly before: number; readonly after: number }

/** When `check` first holds (performance.now()), polled every POLL_MS. */
function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
    return waitFor(what, async () => ((await check()) ? performance.now() : undefined), timeoutMs, POLL_MS);
}

const median = (xs: readonly number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = Math.floor(s.length / 2);
    return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const sec = (ms: number) => (ms / 1000).toFixed(1);
const spread = (xs: readonly number[]) => `${sec(median(xs))} (${sec(Math.min(...xs))}–${sec(Math.max(...xs))})`;

function versions(): string[] {
    const cli = pulumiCli()?.version ?? "?";
    let server = "?";
    try {
        server = (JSON.parse(kubectl(["version", "-o", "json"]).stdout) as { serverVersion?: { gitVersion?: string } }).serverVersion?.gitVersion ?? "?";
    } catch {
        // Reported as "?".
    }
    const provider = enginePath().split(path.delimiter).map((d) => /pulumi-resource-kubernetes-(v[^/]+)/.exec(d)?.[1]).find((v) => v !== undefined) ?? "?";
    let kwok = "?";
    try {
        kwok = execFileSync("sh", ["-c", "ls -d \"${DBAAS_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dbaas/tools}\"/kwok-* 2>/dev/null | head -1"], { encoding: "utf8" }).trim().replace(/.*kwok-/, "") || "?";
    } catch {
        // Reported as "?".
    }
    return [
        `Pulumi CLI ${cli}, pulumi-resource-kubernetes ${provider}, kube-apiserver ${server}, kwok ${kwok} (SIMULATED kubelet)`,
        `Node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim() ?? "?"}), load average ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`,
    ];
}

async function main(): Promise<void> {
    const missing = missingEngines();
    if (missing !== undefined) {
        process.stderr.write(`bench:ondemand needs the real engines of the e2e tier: ${missing}.\nRun npm run e2e:up, then: . .e2e/env && npm run bench:ondemand\n`);
        process.exit(2);
    }
    process.stderr.write("bench:ondemand: setting up DevDbAccess, the SIMULATED cloud and the admin database (about 30 s)\n");
    const e2e = await setUpKubernetesE2e("bench-ondemand");
    const calls: Call[] = [];
    const names: string[] = [];
    const creates: Sample[] = [];
    const deletes: Sample[] = [];
    let close: (() => Promise<void>) | undefined;
    try {
        const started = await startEngineApi(e2e, { wrapEngine: (engine) => timed(engine, calls) });
        close = started.close;
        const { api } = started;
        const stateOf = async (name: string) => {
            const g = await api.call("alice", "GET", `/databases/${name}`);
            const body = g.body as { state?: string; failure_reason?: string };
            if (body.state === "failed") throw new Error(`${name} failed: ${body.failure_reason}`);
            return g.status === 404 ? "deleted" : body.state;
        };
        for (let i = 1; i <= ROUNDS; i++) {
            const name = `bench-od-${process.pid}-${i}`;
            names.push(name);
            const t0 = performance.now();
            const r = await api.call("alice", "POST", "/databases", { body: createBody(name, { source_ranges: ["203.0.113.0/24"] }) });
            if (r.status !== 202) throw new Error(`POST /databases answered ${r.status}: ${r.text}`);
            const ready = await until(`${name} ready`, async () => (await stateOf(name)) === "ready", 600_000);
            creates.push(sample(calls, "up", name, t0, ready));

            const t1 = performance.now();
            const d = await api.call("alice", "DELETE", `/databases/${name}`);
            if (d.status !== 202) throw new Error(`DELETE answered ${d.status}: ${d.text}`);
            const gone = await until(`${name} deleted`, async () => (await stateOf(name)) === "deleted", 600_000);
            if (kubectl(["get", "namespace", `${PREFIX}${name}`]).status === 0) throw new Error(`${name} is deleted but its namespace is still there`);
            deletes.push(sample(calls, "destroy", name, t1, gone));
            process.stderr.write(`round ${i}/${ROUNDS}: create ${sec(creates.at(-1)!.total)} s, delete ${sec(deletes.at(-1)!.total)} s\n`);
        }
    } finally {
        await close?.();
        await e2e.tearDown(names.map((n) => `${PREFIX}${n}`));
    }
    print(creates, deletes);
}

/** One create or delete: its total as the client saw it, split around the engine call(s) for `name`. */
function sample(calls: readonly Call[], method: Call["method"], name: string, t0: number, t1: number): Sample {
    const mine = calls.filter((c) => c.method === method && c.name === name && c.start >= t0);
    if (mine.length === 0) throw new Error(`no engine ${method} call was recorded for ${name}`);
    const engine = mine.reduce((sum, c) => sum + (c.end - c.start), 0);
    return { total: t1 - t0, engine, before: mine[0]!.start - t0, after: t1 - mine.at(-1)!.end };
}

function print(creates: readonly Sample[], deletes: readonly Sample[]): void {
    const row = (label: string, xs: readonly Sample[]) => {
        const share = median(xs.map((s) => s.engine / s.total)) * 100;
        return `| ${label} | ${spread(xs.map((s) => s.total))} | ${spread(xs.map((s) => s.engine))} | ${share.toFixed(1)} % | ${spread(xs.map((s) => s.total - s.engine))} | ${spread(xs.map((s) => s.before))} | ${spread(xs.map((s) => s.after))} |`;
    };
    const lines = [
        "",
        `bench:ondemand ${new Date().toISOString().slice(0, 10)}, kubernetes target, ${creates.length} rounds, seconds: median (min–max)`,
        ...versions(),
        "",
        "| step | total | engine (Automation API call) | engine share | API's own | before the engine (accept, claim) | after the engine (store, seen by the client) |",
        "|---|---:|---:|---:|---:|---:|---:|",
        row("POST → ready", creates),
        row("DELETE → deleted", deletes),
        "",
        `Each run (total / engine, s): create ${creates.map((s) => `${sec(s.total)}/${sec(s.engine)}`).join(", ")}; delete ${deletes.map((s) => `${sec(s.total)}/${sec(s.engine)}`).join(", ")}`,
        "",
    ];
    process.stdout.write(lines.join("\n"));
}

main().then(() => process.exit(0), (e: Error) => {
    process.stderr.write(`bench:ondemand failed: ${e.message}\n`);
    process.exit(1);
});
