/**
 * A fresh machine, as a new user meets it:
 * - `npm start`'s real entry point (api/main.ts, the real Automation
 *   API engine, an embedded PostgreSQL) on an empty data directory prints an
 *   admin token once, keeps its files private, and a second start reuses them;
 * - where the engine cannot run, /readyz names each missing part and its fix,
 *   and `POST /databases` is refused at once with 503 problem+json saying the
 *   same, creating nothing (one case per cause: no pulumi CLI, no Docker
 *   engine, no Kubernetes credentials, no passphrase);
 * - the dashboard is built on start when missing or stale (a real vite build).
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../api/config";
import { ensureDashboard, SOURCES_MANIFEST, staleReason } from "../../api/dashboardBuild";
import { loadEngine } from "../../api/engine/load";
import { PROBLEM_CONTENT_TYPE } from "../../api/http/problems";
import { startPostgres, type PostgresServer } from "../support/postgres";
import { CATALOG, createBody, startTestApi, testConfig, waitFor } from "../support/testApi";

let tmp: string;
let pg: PostgresServer;
/** A stand-in Docker engine: a unix socket answering GET /_ping (all the readiness check asks). */
let dockerSocket: string;
let docker: http.Server;

beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-fresh-"));
    fs.chmodSync(tmp, 0o755);
    dockerSocket = path.join(tmp, "docker.sock");
    docker = http.createServer((req, res) => {
        res.writeHead(req.url === "/_ping" ? 200 : 404).end("OK");
    });
    await new Promise<void>((resolve) => docker.listen(dockerSocket, resolve));
    pg = await startPostgres(17);
});
afterAll(async () => {
    await new Promise((resolve) => docker?.close(resolve));
    await pg?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
});

describe("POST /databases is refused at once when the engine cannot run", () => {
    const passphrase = () => {
        const f = path.join(tmp, "passphrase");
        fs.writeFileSync(f, "x\n", { mode: 0o600 });
        return f;
    };
    const cases: { cause: string; env: () => Record<string, string>; says: RegExp[] }[] = [
        {
            cause: "no pulumi CLI",
            env: () => ({ DBAAS_PULUMI_ROOT: path.join(tmp, "no-cli"), DBAAS_PULUMI_PASSPHRASE_FILE: passphrase(), DBAAS_DOCKER_HOST: `unix://${dockerSocket}` }),
            says: [/pulumi CLI not found/, /install it or set DBAAS_PULUMI_ROOT/],
        },
        {
            cause: "no Docker engine",
            env: () => ({ DBAAS_PULUMI_ROOT: path.join(tmp, "no-cli"), DBAAS_PULUMI_PASSPHRASE_FILE: passphrase(), DBAAS_DOCKER_HOST: `unix://${path.join(tmp, "absent.sock")}` }),
            says: [/no Docker engine answers at unix:\/\/.*absent\.sock \(ENOENT\)/, /start Docker, or point DBAAS_DOCKER_HOST/],
        },
        {
            cause: "no Kubernetes credentials",
            env: () => ({ DBAAS_PULUMI_ROOT: path.join(tmp, "no-cli"), DBAAS_PULUMI_PASSPHRASE_FILE: passphrase(), DBAAS_TARGET: "kubernetes", KUBECONFIG: path.join(tmp, "absent-kubeconfig") }),
            says: [/no Kubernetes credentials/, /set KUBECONFIG/],
        },
        {
            cause: "no passphrase or KMS key",
            env: () => ({ DBAAS_DOCKER_HOST: `unix://${dockerSocket}` }),
            says: [/DBAAS_PULUMI_PASSPHRASE_FILE and DBAAS_SECRETS_PROVIDER are both unset/, /DBAAS_SECRETS_PROVIDER=awskms/],
        },
    ];

    it.each(cases)("$cause: /readyz and POST /databases name it and its fix; nothing is created", async ({ env, says }) => {
        const e = { ...env(), DBAAS_CATALOG: JSON.stringify(CATALOG) };
        const config = testConfig(e);
        const engine = await loadEngine({ ...e, DBAAS_STATE_ROOT: path.join(tmp, "stacks") }, config, pino({ level: "silent" }));
        const api = await startTestApi(pg, { engine, env: e });
        try {
            const ready = await api.call(null, "GET", "/readyz");
            expect(ready.status).toBe(503);
            const reasons = ((ready.body as { reasons?: string[] }).reasons ?? []);
            for (const re of says) expect(reasons.some((r) => re.test(r)), `${re} in ${JSON.stringify(reasons)}`).toBe(true);

            const started = Date.now();
            const r = await api.call("alice", "POST", "/databases", { body: createBody("refused-db") });
            expect(Date.now() - started).toBeLessThan(5000);
            expect(r.status).toBe(503);
            expect(r.headers.get("content-type")).toContain(PROBLEM_CONTENT_TYPE);
            for (const re of says) expect(String((r.body as { detail?: string }).detail)).toMatch(re);
            expect((await api.call("alice", "GET", "/databases/refused-db")).status).toBe(404);
        } finally {
            await api.close(100);
        }
    });

    it("the Docker engine answering is not a reason (the stand-in socket passes the check)", async () => {
        const e = { DBAAS_PULUMI_ROOT: path.join(tmp, "no-cli"), DBAAS_PULUMI_PASSPHRASE_FILE: passphrase(), DBAAS_DOCKER_HOST: `unix://${dockerSocket}` };
        const engine = await loadEngine({ ...e, DBAAS_STATE_ROOT: path.join(tmp, "stacks") }, testConfig(e), pino({ level: "silent" }));
        const reasons = (await engine.readiness()).reasons;
        expect(reasons.some((r) => /Docker/.test(r))).toBe(false);
        expect(reasons.some((r) => /pulumi CLI not found/.test(r))).toBe(true);
    });
});

interface Started {
    readonly proc: ChildProcess;
    readonly url: string;
    stderr(): string;
    output(): string;
    readonly exited: Promise<number | null>;
}

/** `npm start` as a new user runs it: nothing set but where the data goes (and, here, that no CLI or Docker is found). */
async function npmStart(dataDir: string): Promise<Started> {
    const proc = spawn(process.execPath, ["--import", "tsx", path.join("api", "main.ts")], {
        cwd: REPO_ROOT,
        env: {
            PATH: process.env.PATH ?? "",
            HOME: process.env.HOME ?? tmp,
            PORT: "0",
            DBAAS_DATA_DIR: dataDir,
            // Deterministic causes whatever this machine has installed:
            DBAAS_PULUMI_ROOT: path.join(tmp, "no-cli"),
            DBAAS_DOCKER_HOST: `unix://${path.join(tmp, "absent.sock")}`,
            // The page is built by the test below; this start serves an existing one.
            DBAAS_DASHBOARD_DIR: path.join(REPO_ROOT, "dashboard", "dist"),
        },
        stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    proc.stdout?.on("data", (d: Buffer) => { out += d.toString(); });
    proc.stderr?.on("data", (d: Buffer) => { err += d.toString(); });
    const exited = new Promise<number | null>((resolve) => proc.on("exit", resolve));
    const url = await waitFor("the API's listening line", () => {
        const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)"[^\n]*dbaas API listening/.exec(out);
        if (m?.[1] !== undefined) return Promise.resolve(m[1]);
        if (proc.exitCode !== null) return Promise.reject(new Error(`npm start exited ${proc.exitCode}: ${err}${out}`));
        return Promise.resolve(undefined);
    }, 60_000);
    return { proc, url, stderr: () => err, output: () => `${err}${out}`.slice(-4000), exited };
}

async function stop(s: Started): Promise<void> {
    s.proc.kill("SIGTERM");
    const code = await s.exited;
    expect(code, `exit code after SIGTERM; output:\n${s.output()}`).toBe(0);
}

describe("npm start on an empty data directory", () => {
    it("prints an admin token once, keeps its files private, refuses work naming the causes, and reuses everything on the next start", async () => {
        const data = path.join(tmp, "data");
        const first = await npmStart(data);
        let token: string;
        try {
            const banner = await waitFor("the first-start banner", () => Promise.resolve(/^ {6}(dbaas_\S+)$/m.exec(first.stderr())?.[1]), 10_000);
            token = banner;
            expect(first.stderr()).toContain("npm run token -- <subject> <admin|user>");
            const me = await fetch(`${first.url}/me`, { headers: { authorization: `Bearer ${token}` } });
            expect(me.status).toBe(200);
            expect(await me.json()).toMatchObject({ subject: "admin", role: "admin" });

            const root = process.getuid?.() === 0;
            const mode = (p: string) => fs.statSync(path.join(data, p)).mode & 0o777;
            expect(mode(".")).toBe(root ? 0o711 : 0o700);
            for (const f of ["tokens", "pulumi-passphrase", "pg-password"]) expect(mode(f), f).toBe(0o600);
            expect(mode("stacks")).toBe(0o700);
            expect(fs.readFileSync(path.join(data, "tokens"), "utf8")).not.toContain(token);

            const post = await fetch(`${first.url}/databases`, {
                method: "POST",
                headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
                body: JSON.stringify(createBody("first-db", {}, "admin")),
            });
            expect(post.status).toBe(503);
            const problem = await post.json() as { detail: string };
            expect(problem.detail).toMatch(/pulumi CLI not found.*install it or set DBAAS_PULUMI_ROOT/);
            expect(problem.detail).toMatch(/no Docker engine answers/);
        } finally {
            await stop(first);
        }
        const passphrase = fs.readFileSync(path.join(data, "pulumi-passphrase"), "utf8");

        const second = await npmStart(data);
        try {
            const me = await fetch(`${second.url}/me`, { headers: { authorization: `Bearer ${token}` } });
            expect(me.status).toBe(200);
            expect(second.stderr()).not.toContain("dbaas_");
            expect(fs.readFileSync(path.join(data, "pulumi-passphrase"), "utf8")).toBe(passphrase);
        } finally {
            await stop(second);
        }
    });
});

describe("the dashboard is built on start when missing or stale (real vite build)", () => {
    it("builds a missing page, leaves a current one alone, and rebuilds after a source changes", async () => {
        const outDir = path.join(tmp, "dist");
        const o = { configFile: path.join(REPO_ROOT, "dashboard", "vite.config.ts"), outDir, srcDir: path.join(REPO_ROOT, "dashboard", "src"), log: () => undefined };
        expect(staleReason(outDir, o.srcDir)).toBe("not built yet");
        expect(await ensureDashboard(o)).toBe("built");
        expect(fs.readFileSync(path.join(outDir, "index.html"), "utf8")).toContain("/assets/");
        const manifest = JSON.parse(fs.readFileSync(path.join(outDir, SOURCES_MANIFEST), "utf8")) as { builtAt: number; files: string[] };
        expect(manifest.files).toContain(path.join(REPO_ROOT, "dashboard", "src", "main.ts"));
        expect(await ensureDashboard(o)).toBe("current");

        // A source newer than the build (its mtime as seen by the check) makes it stale.
        const changed = path.join(REPO_ROOT, "dashboard", "src", "main.ts");
        const mtimes = (f: string) => (f === changed ? manifest.builtAt + 1000 : fs.existsSync(f) ? fs.statSync(f).mtimeMs : undefined);
        expect(staleReason(outDir, o.srcDir, mtimes)).toBe(`${changed} changed`);
        // As does a build older than its sources on disk.
        fs.writeFileSync(path.join(outDir, SOURCES_MANIFEST), JSON.stringify({ ...manifest, builtAt: 0 }));
        expect(await ensureDashboard(o)).toBe("built");
        expect(staleReason(outDir, o.srcDir)).toBeUndefined();
    }, 120_000);

    it("a page built by another command (no record of its sources) is rebuilt", () => {
        const outDir = path.join(tmp, "other-dist");
        fs.mkdirSync(outDir);
        fs.writeFileSync(path.join(outDir, "index.html"), "<!doctype html>");
        expect(staleReason(outDir, path.join(REPO_ROOT, "dashboard", "src"))).toMatch(/no \.sources\.json/);
    });
});
