/**
 * The set-up every "API + REAL engine on the kubernetes target" test (and
 * bench/ondemand.ts) shares: DevDbAccess applied by the real CLI (the API acts
 * as its devdb ServiceAccount), the SIMULATED cloud load balancer and storage
 * provisioner (./cluster.ts), a PostgreSQL 17 admin database, and the engine's
 * settings. The API then runs either in this process (`startEngineApi`) or as
 * a child process started as in production (`startApiProcess`:
 * `node --import tsx api/main.ts`, in its own process group, so a SIGKILL of
 * the group kills the API and the CLI, language host and provider it started,
 * as a container's death would).
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as readline from "node:readline";
import pino from "pino";
import { REPO_ROOT } from "../../api/config";
import { tokenLine } from "../../api/http/auth";
import { loadEngine } from "../../api/engine/load";
import type { StackEngine } from "../../api/engine/types";
import type { Resolver } from "../../api/domain/ssrf";
import { startPostgres, type PostgresServer } from "../support/postgres";
import { CATALOG, freshDatabaseUrl, startTestApi, testConfig, TOKENS, waitFor, type TestApi, type Who } from "../support/testApi";
import { applyDevDbAccess, destroyDevDbAccess, kubectl, kubectlJson, simulateCloud } from "./cluster";
import { enginePath, pulumiCli } from "./engine";

export const PREFIX = "devdb-";

/** The API's settings for the kubernetes target in these tests: a small database, one attempt unless a test says otherwise. */
export const KUBERNETES_API_ENV: Readonly<Record<string, string>> = {
    DBAAS_TARGET: "kubernetes",
    DBAAS_NAMESPACE_PREFIX: PREFIX,
    DBAAS_CATALOG: JSON.stringify(CATALOG),
    DBAAS_DB_MEMORY_MB: "256",
    DBAAS_DB_CPU_MILLICORES: "250",
    DBAAS_DB_STORAGE_GB: "1",
    DBAAS_OPERATION_MAX_ATTEMPTS: "1",
    DBAAS_OPERATION_TIMEOUT_SECONDS: "600",
};

export interface KubernetesE2e {
    /** Scratch directory of this run (DevDbAccess state, passphrase, stacks). */
    readonly tmp: string;
    readonly adminKubeconfig: string;
    /** The devdb ServiceAccount's kubeconfig (0600): the only identity the engine uses. */
    readonly devdbKubeconfig: string;
    readonly pg: PostgresServer;
    /** The engine's state root: `<stateRoot>/<name>/` work dirs, the file backend in `<stateRoot>/.state`. */
    readonly stateRoot: string;
    /** The engine's environment variables (CLI root, passphrase file, state root; the backend defaults under the state root). */
    readonly engineEnv: Readonly<Record<string, string>>;
    /**
     * Starts (again) the SIMULATED cloud load balancer and storage provisioner. `pauseCloud()` stops the
     * load balancer only (volumes are still provisioned, so a StatefulSet can finish while a Service
     * waits); `pauseCloud("with volumes")` stops both, so a StatefulSet's pod waits for its volume too.
     */
    resumeCloud(): void;
    pauseCloud(what?: "balancer" | "with volumes"): void;
    /** kubectl as the cluster admin. */
    admin(args: string[], input?: string): ReturnType<typeof kubectl>;
    adminJson<T>(args: string[]): T;
    namespaceExists(ns: string): boolean;
    /** Deletes `namespaces`, DevDbAccess and the scratch directory; stops the cloud and PostgreSQL. */
    tearDown(namespaces: readonly string[]): Promise<void>;
}

/** Sets up what is described at the top of this file. Call from `beforeAll` (it takes 20–40 s). */
export async function setUpKubernetesE2e(name: string): Promise<KubernetesE2e> {
    const adminKubeconfig = process.env.KUBECONFIG ?? "";
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `dbaas-${name}-`));
    const devdbKubeconfig = applyDevDbAccess(tmp);
    let cloud: { stop(): void } | undefined = simulateCloud(PREFIX, adminKubeconfig);
    let volumes: { stop(): void } | undefined;
    const pg = await startPostgres(17);
    const cli = pulumiCli();
    fs.writeFileSync(path.join(tmp, "passphrase"), "e2e-passphrase\n", { mode: 0o600 });
    const stateRoot = path.join(tmp, "stacks");
    const admin = (args: string[], input?: string) => kubectl(args, { kubeconfig: adminKubeconfig, ...(input === undefined ? {} : { input }) });
    return {
        tmp, adminKubeconfig, devdbKubeconfig, pg, stateRoot,
        engineEnv: {
            DBAAS_PULUMI_ROOT: path.dirname(path.dirname(cli?.path ?? "")),
            DBAAS_PULUMI_PASSPHRASE_FILE: path.join(tmp, "passphrase"),
            DBAAS_STATE_ROOT: stateRoot,
        },
        resumeCloud: () => {
            volumes?.stop();
            volumes = undefined;
            cloud ??= simulateCloud(PREFIX, adminKubeconfig);
        },
        pauseCloud: (what = "balancer") => {
            cloud?.stop();
            cloud = undefined;
            if (what === "balancer") volumes ??= provisionVolumes(PREFIX, adminKubeconfig);
            else {
                volumes?.stop();
                volumes = undefined;
            }
        },
        admin,
        adminJson: <T>(args: string[]) => kubectlJson<T>(args, adminKubeconfig),
        namespaceExists: (ns) => admin(["get", "namespace", ns]).status === 0,
        tearDown: async (namespaces) => {
            cloud?.stop();
            volumes?.stop();
            await pg.stop();
            for (const ns of namespaces) admin(["delete", "namespace", ns, "--ignore-not-found", "--wait=false"]);
            destroyDevDbAccess(tmp);
            fs.rmSync(tmp, { recursive: true, force: true });
        },
    };
}

/**
 * The API in this process with the Automation API engine (as `npm start`
 * loads it). The CLI and the provider read the ambient KUBECONFIG, so it is
 * switched to the devdb identity until `close` (kubectl calls of the tests
 * name the admin kubeconfig explicitly). `wrapEngine` may decorate the engine
 * (the benchmark times its calls).
 */
export async function startEngineApi(e2e: KubernetesE2e, o: { env?: Record<string, string>; wrapEngine?: (e: StackEngine) => StackEngine } = {}): Promise<{ api: TestApi; engine: StackEngine; target: ReturnType<typeof testConfig>["target"]; close: () => Promise<void> }> {
    const env = { ...KUBERNETES_API_ENV, ...o.env };
    const saved = process.env.KUBECONFIG;
    process.env.KUBECONFIG = e2e.devdbKubeconfig;
    const config = testConfig(env);
    const loaded = await loadEngine({ ...process.env, ...env, ...e2e.engineEnv, PULUMI_BACKEND_URL: "" }, config, pino({ level: "warn" }));
    const engine = o.wrapEngine?.(loaded) ?? loaded;
    const api = await startTestApi(e2e.pg, { engine, env });
    return {
        api, engine, target: config.target,
        close: async () => {
            await api.close(1000);
            process.env.KUBECONFIG = saved;
        },
    };
}

/** The API as a child process (see the top of this file). */
export interface ApiProcess {
    readonly url: string;
    readonly pid: number;
    /** The API's JSON log lines so far (pino, stdout). */
    readonly logs: readonly Record<string, unknown>[];
    readonly exited: Promise<number | null>;
    call(who: Who, method: string, p: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
    /** SIGKILL to the whole process group: the API and every CLI, language host and provider it started. */
    killGroup(): Promise<void>;
    /** SIGTERM to the API (it hands running operations back), SIGKILL to the group after `graceMs`. */
    stop(graceMs?: number): Promise<void>;
}

/** A fresh admin database (a schema of the e2e PostgreSQL) for child processes, and the tokens file they read. */
export async function childDatabase(e2e: KubernetesE2e): Promise<{ databaseUrl: string; tokensFile: string }> {
    const tokensFile = path.join(e2e.tmp, "tokens");
    fs.writeFileSync(tokensFile, (Object.keys(TOKENS) as Who[]).map((who) => tokenLine(who, who === "admin" ? "admin" : "user", TOKENS[who])).join("\n"));
    return { databaseUrl: await freshDatabaseUrl(e2e.pg), tokensFile };
}

/** How the API process is started beyond its environment. */
export interface ApiProcessOptions {
    /** A command the API runs under (e.g. `unshare` for a pod's mount namespace); it must exec its arguments. */
    readonly prefix?: readonly string[];
    /** Variables left out of the API's environment (e.g. KUBECONFIG, for the in-cluster configuration). */
    readonly unset?: readonly string[];
}

export async function startApiProcess(e2e: KubernetesE2e, db: { databaseUrl: string; tokensFile: string }, env: Record<string, string> = {}, o: ApiProcessOptions = {}): Promise<ApiProcess> {
    const dashboardDir = path.join(e2e.tmp, "dashboard");
    fs.mkdirSync(dashboardDir, { recursive: true });
    const argv = [...(o.prefix ?? []), process.execPath, "--import", "tsx", path.join("api", "main.ts")];
    const proc: ChildProcess = spawn(argv[0] ?? process.execPath, argv.slice(1), {
        cwd: REPO_ROOT,
        detached: true,
        // Only what the API needs: nothing of the e2e shell's own Pulumi settings (its backend, its passphrase).
        env: withoutKeys({
            PATH: enginePath(),
            HOME: process.env.HOME ?? e2e.tmp,
            KUBECONFIG: e2e.devdbKubeconfig,
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
            DATABASE_URL: db.databaseUrl,
            DBAAS_TOKENS_FILE: db.tokensFile,
            // An empty directory: no dashboard build on start (it is not what these tests measure).
            DBAAS_DASHBOARD_DIR: dashboardDir,
            PORT: "0",
            HOST: "127.0.0.1",
            LOG_LEVEL: "info",
            DBAAS_JOB_LEASE_SECONDS: "2",
            DBAAS_JOB_POLL_MS: "100",
            DBAAS_SHUTDOWN_GRACE_SECONDS: "1",
            DBAAS_REAPER_INTERVAL_SECONDS: "0",
            ...KUBERNETES_API_ENV,
            ...e2e.engineEnv,
            ...env,
        }, o.unset ?? []),
        stdio: ["ignore", "pipe", "pipe"],
    });
    const pid = proc.pid ?? -1;
    const logs: Record<string, unknown>[] = [];
    const stderr: string[] = [];
    proc.stderr?.on("data", (d: Buffer) => stderr.push(d.toString()));
    // DBAAS_E2E_KEEP_LOGS=<dir>: the API's whole output kept there (the scratch directory is removed at the end).
    const keep = process.env.DBAAS_E2E_KEEP_LOGS;
    if (keep !== undefined && keep !== "") {
        fs.mkdirSync(keep, { recursive: true });
        const out = fs.createWriteStream(path.join(keep, `api-${pid}.log`));
        proc.stdout?.pipe(out);
        proc.stderr?.pipe(out);
    }
    const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the API did not start in 60 s: ${stderr.join("").slice(-2000)}`)), 60_000);
        readline.createInterface({ input: proc.stdout! }).on("line", (line) => {
            let msg: Record<string, unknown>;
            try {
                msg = JSON.parse(line) as Record<string, unknown>;
            } catch {
                return;
            }
            logs.push(msg);
            if (msg.msg === "dbaas API listening" && typeof msg.url === "string") {
                clearTimeout(timer);
                resolve(msg.url);
            }
        });
        void exited.then((code) => reject(new Error(`the API exited with ${code}: ${stderr.join("").slice(-2000)}`)));
    });
    const signalGroup = (signal: NodeJS.Signals) => {
        try {
            process.kill(-pid, signal);
        } catch {
            // The group is gone already.
        }
    };
    return {
        url, pid, logs, exited,
        call: async (who, method, p, body) => {
            const res = await fetch(url + p, {
                method,
                headers: { authorization: `Bearer ${TOKENS[who]}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
                ...(body === undefined ? {} : { body: JSON.stringify(body) }),
            });
            const text = await res.text();
            return { status: res.status, body: (text === "" ? {} : JSON.parse(text)) as Record<string, unknown> };
        },
        killGroup: async () => {
            signalGroup("SIGKILL");
            await exited;
        },
        stop: async (graceMs = 10_000) => {
            try {
                process.kill(pid, "SIGTERM");
            } catch {
                return;
            }
            const timer = setTimeout(() => signalGroup("SIGKILL"), graceMs);
            await exited;
            clearTimeout(timer);
            signalGroup("SIGKILL");
        },
    };
}

function withoutKeys(env: Record<string, string>, keys: readonly string[]): Record<string, string> {
    return Object.fromEntries(Object.entries(env).filter(([k]) => !keys.includes(k)));
}

/**
 * The storage half of simulateCloudOnce (./cluster.ts) alone: the SIMULATED provisioner makes a
 * PersistentVolume for each Pending claim, and no LoadBalancer gets an address.
 */
function provisionVolumes(prefix: string, adminKubeconfig: string, everyMs = 500): { stop(): void } {
    let stopped = false;
    const tick = () => {
        if (stopped) return;
        try {
            const claims = kubectlJson<{ items: { metadata: { name: string; namespace: string; uid: string }; spec: Record<string, unknown>; status?: { phase?: string } }[] }>(["get", "pvc", "-A"], adminKubeconfig).items
                .filter((c) => c.metadata.namespace.startsWith(prefix) && c.status?.phase === "Pending");
            for (const c of claims) {
                const pv = {
                    apiVersion: "v1", kind: "PersistentVolume",
                    metadata: { name: `sim-${c.metadata.uid}`, labels: { "dbaas.e2e/simulated": "storage" } },
                    spec: {
                        capacity: { storage: (c.spec.resources as { requests?: { storage?: string } } | undefined)?.requests?.storage ?? "1Gi" },
                        accessModes: c.spec.accessModes, persistentVolumeReclaimPolicy: "Delete",
                        storageClassName: (c.spec.storageClassName as string | undefined) ?? "",
                        hostPath: { path: `/tmp/dbaas-e2e-sim/${c.metadata.uid}` },
                        claimRef: { namespace: c.metadata.namespace, name: c.metadata.name, uid: c.metadata.uid },
                    },
                };
                kubectl(["apply", "-f", "-"], { kubeconfig: adminKubeconfig, input: JSON.stringify(pv) });
            }
        } catch {
            // A namespace being deleted between list and apply: the next pass looks again.
        }
        setTimeout(tick, everyMs);
    };
    setTimeout(tick, everyMs);
    return { stop: () => { stopped = true; } };
}

/** Whether any process of the group `pgid` is alive (Linux /proc). */
export function groupAlive(pgid: number): boolean {
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            // The fields after the command's closing parenthesis: state, ppid, pgrp, ...
            const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
            const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
            if (Number(fields[2]) === pgid && fields[0] !== "Z") return true;
        } catch {
            // The process ended while we looked.
        }
    }
    return false;
}

/** The file backend's view of one stack: its checkpoint (undefined when the stack does not exist) and lock files. */
export function stackFiles(stateRoot: string, stack: string): { checkpoint: Checkpoint | undefined; locks: string[] } {
    const pulumiDir = path.join(stateRoot, ".state", ".pulumi");
    const find = (dir: string, match: (p: string) => boolean): string[] => {
        if (!fs.existsSync(dir)) return [];
        return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }))
            .filter((d) => d.isFile()).map((d) => path.join(d.parentPath, d.name)).filter(match);
    };
    const file = find(path.join(pulumiDir, "stacks"), (p) => path.basename(p) === `${stack}.json`)[0];
    const locks = find(path.join(pulumiDir, "locks"), (p) => p.split(path.sep).includes(stack));
    return { checkpoint: file === undefined ? undefined : (JSON.parse(fs.readFileSync(file, "utf8")) as { checkpoint: Checkpoint }).checkpoint, locks };
}

export interface Checkpoint {
    readonly latest?: {
        readonly resources?: readonly { urn: string; type: string; id?: string }[];
        readonly pending_operations?: readonly { resource: { urn: string; type: string }; type: string }[];
    };
}

/** Anything that answers the API's routes: the in-process test API or the API as a child process. */
interface Caller {
    call(who: "alice", method: string, path: string): Promise<{ status: number; body: unknown }>;
}

/** Waits until `name` is deleted (404 or state deleted); a delete that fails throws with the database's view. */
export async function waitDeleted(api: Caller, name: string, timeoutMs: number): Promise<void> {
    await waitFor(`${name} deleted`, async () => {
        const g = await api.call("alice", "GET", `/databases/${name}`);
        const state = (g.body as { state?: string } | undefined)?.state;
        if (state === "failed") throw new Error(`the delete failed: ${JSON.stringify(g.body)}`);
        return g.status === 404 || state === "deleted" ? true : undefined;
    }, timeoutMs, 500);
}

/**
 * The docker target's counterpart of the set-up above: the API's settings for the private
 * Docker engine of `e2e:up` (DOCKER_HOST) and the stand-in image `image` as the whole catalog
 * (the policy pack allows exactly the catalog's images), a PostgreSQL 17 admin database, and
 * the engine's settings. No cluster and no simulated cloud: every container really runs.
 */
export interface DockerE2e {
    readonly tmp: string;
    readonly pg: PostgresServer;
    readonly stateRoot: string;
    readonly engineEnv: Readonly<Record<string, string>>;
    /** The API's DBAAS_* settings for the docker target. */
    readonly apiEnv: Readonly<Record<string, string>>;
    tearDown(): Promise<void>;
}

export async function setUpDockerE2e(name: string, image: string): Promise<DockerE2e> {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `dbaas-${name}-`));
    const pg = await startPostgres(17);
    const cli = pulumiCli();
    fs.writeFileSync(path.join(tmp, "passphrase"), "e2e-passphrase\n", { mode: 0o600 });
    const stateRoot = path.join(tmp, "stacks");
    return {
        tmp, pg, stateRoot,
        engineEnv: {
            DBAAS_PULUMI_ROOT: path.dirname(path.dirname(cli?.path ?? "")),
            DBAAS_PULUMI_PASSPHRASE_FILE: path.join(tmp, "passphrase"),
            DBAAS_STATE_ROOT: stateRoot,
        },
        apiEnv: {
            DBAAS_TARGET: "docker",
            DBAAS_DOCKER_HOST: process.env.DOCKER_HOST ?? "",
            DBAAS_PUBLISH_IP: "127.0.0.1",
            DBAAS_CATALOG: JSON.stringify([{ label: "PostgreSQL 17", image }]),
            DBAAS_DB_MEMORY_MB: "256",
            DBAAS_OPERATION_MAX_ATTEMPTS: "1",
            DBAAS_OPERATION_TIMEOUT_SECONDS: "600",
        },
        tearDown: async () => {
            await pg.stop();
            fs.rmSync(tmp, { recursive: true, force: true });
        },
    };
}

/**
 * The API in this process with the Automation API engine on the docker target (see startEngineApi);
 * its admin database is a fresh schema of `e2e.pg`, or `databaseUrl` when given. `engineLog` is the
 * engine's logger (default: warnings and errors only; bench:clone reads its "where the time went").
 */
export async function startDockerEngineApi(e2e: DockerE2e, env: Record<string, string> = {}, resolver?: Resolver, databaseUrl?: string, engineLog: pino.Logger = pino({ level: "warn" })): Promise<{ api: TestApi; engine: StackEngine; close: () => Promise<void> }> {
    const all = { ...e2e.apiEnv, ...env };
    const config = testConfig(all);
    const engine = await loadEngine({ ...process.env, ...all, ...e2e.engineEnv, PULUMI_BACKEND_URL: "" }, config, engineLog);
    const api = await startTestApi(e2e.pg, { engine, env: all, ...(resolver === undefined ? {} : { resolver }), ...(databaseUrl === undefined ? {} : { databaseUrl }) });
    return { api, engine, close: () => api.close(1000) };
}
