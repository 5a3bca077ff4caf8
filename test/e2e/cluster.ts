/**
 * What the e2e cluster lacks and the tests play, SIMULATED and named so:
 * - the cloud controller: a Service of type LoadBalancer gets
 *   status.loadBalancer.ingress (a documentation address; nothing listens);
 * - a storage provisioner: a Pending PVC gets a PersistentVolume made for it
 *   (hostPath, never written: kwok runs no containers), which the REAL
 *   controller-manager binds.
 * Real: the API server, admission, RBAC, controllers, scheduler.
 * Also: applying the platform's DevDbAccess with the real CLI, shared by the
 * tests that act as the devdb ServiceAccount.
 */
import { execFile, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { enginePath, pulumiEnv } from "./engine";

const ROOT = path.resolve(__dirname, "..", "..");
const execFileAsync = promisify(execFile);

export function kubectl(args: string[], opts: { kubeconfig?: string; input?: string } = {}): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync("kubectl", [...(opts.kubeconfig === undefined ? [] : ["--kubeconfig", opts.kubeconfig]), ...args], {
        encoding: "utf8", input: opts.input, timeout: 60_000, env: { ...process.env, PATH: enginePath() },
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function kubectlJson<T>(args: string[], kubeconfig?: string): T {
    const r = kubectl([...args, "-o", "json"], kubeconfig === undefined ? {} : { kubeconfig });
    if (r.status !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
}

interface Item { metadata: { name: string; namespace: string; uid: string }; spec: Record<string, unknown>; status?: Record<string, unknown> }

/** One pass of the SIMULATED cloud controller and storage provisioner over namespaces with `prefix`. */
export function simulateCloudOnce(prefix: string, adminKubeconfig: string): void {
    const services = kubectlJson<{ items: Item[] }>(["get", "services", "-A"], adminKubeconfig).items
        .filter((s) => s.metadata.namespace.startsWith(prefix) && s.spec.type === "LoadBalancer")
        .filter((s) => ((s.status?.loadBalancer as { ingress?: unknown[] } | undefined)?.ingress ?? []).length === 0);
    for (const s of services) {
        kubectl(["patch", "service", s.metadata.name, "-n", s.metadata.namespace, "--subresource=status", "--type=merge",
            "-p", JSON.stringify({ status: { loadBalancer: { ingress: [{ ip: "203.0.113.10" }] } } })], { kubeconfig: adminKubeconfig });
    }
    const claims = kubectlJson<{ items: Item[] }>(["get", "pvc", "-A"], adminKubeconfig).items
        .filter((c) => c.metadata.namespace.startsWith(prefix) && c.status?.phase === "Pending");
    for (const c of claims) {
        const size = ((c.spec.resources as { requests?: { storage?: string } } | undefined)?.requests?.storage) ?? "1Gi";
        const pv = {
            apiVersion: "v1", kind: "PersistentVolume",
            metadata: { name: `sim-${c.metadata.uid}`, labels: { "dbaas.e2e/simulated": "storage" } },
            spec: {
                capacity: { storage: size }, accessModes: c.spec.accessModes, persistentVolumeReclaimPolicy: "Delete",
                storageClassName: (c.spec.storageClassName as string | undefined) ?? "",
                hostPath: { path: `/tmp/dbaas-e2e-sim/${c.metadata.uid}` },
                claimRef: { namespace: c.metadata.namespace, name: c.metadata.name, uid: c.metadata.uid },
            },
        };
        kubectl(["apply", "-f", "-"], { kubeconfig: adminKubeconfig, input: JSON.stringify(pv) });
    }
}

/** Runs simulateCloudOnce every `everyMs` until stopped. */
export function simulateCloud(prefix: string, adminKubeconfig: string, everyMs = 500): { stop(): void } {
    let stopped = false;
    const tick = () => {
        if (stopped) return;
        try {
            simulateCloudOnce(prefix, adminKubeconfig);
        } catch {
            // A namespace being deleted between list and patch: the next pass looks again.
        }
        setTimeout(tick, everyMs);
    };
    setTimeout(tick, everyMs);
    return { stop: () => { stopped = true; } };
}

/**
 * `pulumi ...` in a run's own copy of the fixture program `program` (test/e2e/programs/;
 * the CLI writes the stack's config file, with its encryption salt, beside Pulumi.yaml:
 * not into the source tree), with its backend in `dir/<program>-state`.
 */
export function fixturePulumi(program: string, dir: string, args: string[], env: Record<string, string> = {}): string {
    const r = spawnSync("pulumi", args, { ...fixtureRun(program, dir, env), encoding: "utf8", timeout: 600_000 });
    if (r.status !== 0) throw new Error(`pulumi ${args.join(" ")} exited ${r.status}:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
    return r.stdout;
}

/** fixturePulumi without blocking this process (timers, e.g. the SIMULATED cloud, keep running meanwhile). */
export async function fixturePulumiAsync(program: string, dir: string, args: string[], env: Record<string, string> = {}): Promise<string> {
    try {
        const { stdout } = await execFileAsync("pulumi", args, { ...fixtureRun(program, dir, env), timeout: 600_000, maxBuffer: 64 * 1024 * 1024 });
        return stdout;
    } catch (e) {
        const err = e as { code?: unknown; stdout?: string; stderr?: string };
        throw new Error(`pulumi ${args.join(" ")} exited ${String(err.code)}:\n${(err.stdout ?? "").slice(-3000)}\n${(err.stderr ?? "").slice(-3000)}`);
    }
}

/** Where and with what a fixture program's `pulumi` runs: its own copy of the project file, its backend in `dir/<program>-state`. */
function fixtureRun(program: string, dir: string, env: Record<string, string>): { cwd: string; env: NodeJS.ProcessEnv } {
    const source = path.join(__dirname, "programs", program);
    const cwd = path.join(dir, program);
    if (!fs.existsSync(cwd)) {
        fs.mkdirSync(cwd, { recursive: true });
        // The project file only, its `main` pointing back at the program (as the engine does for work dirs).
        const project = fs.readFileSync(path.join(source, "Pulumi.yaml"), "utf8");
        fs.writeFileSync(path.join(cwd, "Pulumi.yaml"), `${project}main: ${path.relative(cwd, source)}\n`);
    }
    const state = path.join(dir, program === "devdb-access" ? "access-state" : `${program}-state`);
    fs.mkdirSync(state, { recursive: true });
    return {
        cwd,
        env: {
            ...pulumiEnv(state),
            PULUMI_NODEJS_TSCONFIG_PATH: path.join(ROOT, "tsconfig.json"),
            PULUMI_NODEJS_TRANSPILE_ONLY: "true",
            ...env,
        },
    };
}

/** `pulumi ...` of the DevDbAccess fixture program (fixturePulumi). */
export function devDbAccessPulumi(dir: string, args: string[]): string {
    return fixturePulumi("devdb-access", dir, args);
}

/** Applies DevDbAccess with the real CLI; returns the devdb ServiceAccount's kubeconfig file (0600). */
export function applyDevDbAccess(dir: string): string {
    devDbAccessPulumi(dir, ["stack", "init", "e2e"]);
    devDbAccessPulumi(dir, ["up", "--yes", "--skip-preview", "--stack", "e2e", "--color", "never"]);
    const file = path.join(dir, "devdb.kubeconfig");
    // The controller-manager fills the token Secret asynchronously; a token read before that is
    // empty, so read it again (after a refresh) until the kubeconfig authenticates.
    for (let attempt = 1; ; attempt++) {
        fs.writeFileSync(file, devDbAccessPulumi(dir, ["stack", "output", "apiKubeconfig", "--show-secrets", "--stack", "e2e"]), { mode: 0o600 });
        const who = kubectl(["auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"], { kubeconfig: file });
        if (who.stdout === "system:serviceaccount:devdb:devdb") return file;
        if (attempt === 5) throw new Error(`the devdb kubeconfig does not authenticate after ${attempt} reads: ${who.stderr}`);
        devDbAccessPulumi(dir, ["refresh", "--yes", "--skip-preview", "--stack", "e2e", "--color", "never"]);
    }
}

export function destroyDevDbAccess(dir: string): void {
    devDbAccessPulumi(dir, ["destroy", "--yes", "--skip-preview", "--stack", "e2e", "--color", "never"]);
}
