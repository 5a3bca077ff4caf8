/**
 * The private Docker engine of the e2e tier and its stand-in images
 * (scripts/e2e/docker.sh; docs/e2e-docker.md), tested for the contracts the
 * stacks rely on: each PostgreSQL stand-in (14-18) as uid 999 on a read-only
 * root with tmpfs, POSTGRES_PASSWORD_FILE / POSTGRES_USER / POSTGRES_DB,
 * init scripts, the project's health check, a memory limit, password auth
 * through a port published on 127.0.0.1; the root start the docker target
 * uses (entrypoint drops to postgres); nginx serving the project's rendered
 * nginx.conf from the official image's paths with workers as `nginx`.
 *
 * Skips (printing why, through engineMissing) when DOCKER_HOST is unset, the
 * daemon does not answer or the images are missing; with CI=true those fail instead.
 */
import { execFile, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataLayout, healthcheckCommand } from "../../components/postgres/pgConf";
import { renderNginxConf } from "../../components/proxy/nginxConf";
import { NGINX_PATHS, nginxHealthcheck } from "../../components/proxy/nginxContainer";
import { selfSignedCertificate } from "../support/tls";
import { engineMissing } from "./engine";

const execFileAsync = promisify(execFile);
/** Debian's 20.10 client, which `scripts/e2e/docker.sh up` installs; else the one on PATH. */
const DOCKER = fs.existsSync("/usr/bin/docker") ? "/usr/bin/docker" : "docker";
const MAJORS = [14, 15, 16, 17, 18] as const;
const pgImage = (major: number) => `dbaas-e2e/postgres:${major}`;
const NGINX_IMAGE = "dbaas-e2e/nginx:1";
const LABEL = "io.dbaas.e2e.test=docker-engine";
const MEMORY_MB = 256;
const PASSWORD_FILE = "/run/secrets/postgres-password";

async function docker(args: string[], timeoutMs = 60_000): Promise<string> {
    try {
        const { stdout } = await execFileAsync(DOCKER, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
        return stdout.trim();
    } catch (e) {
        const err = e as { stderr?: string; message: string };
        throw new Error(`docker ${args.join(" ")} failed: ${(err.stderr ?? "").trim() || err.message}`);
    }
}

/** Why the engine cannot be tested here, or undefined when it can. */
function engineProblem(): string | undefined {
    if (!process.env.DOCKER_HOST) return "DOCKER_HOST is unset: run scripts/e2e/docker.sh up, then source .e2e/env.docker";
    const version = spawnSync(DOCKER, ["version", "--format", "{{.Server.Version}}"], { encoding: "utf8", timeout: 15_000 });
    if (version.status !== 0) {
        const why = (version.stderr || version.error?.message || "no answer").trim().split("\n")[0];
        return `the Docker daemon at ${process.env.DOCKER_HOST} does not answer (${why}): run scripts/e2e/docker.sh up`;
    }
    const missing = [...MAJORS.map(pgImage), NGINX_IMAGE].filter((image) => spawnSync(DOCKER, ["image", "inspect", image], { stdio: "ignore" }).status !== 0);
    if (missing.length > 0) return `images missing on ${process.env.DOCKER_HOST}: ${missing.join(", ")}: run scripts/e2e/docker.sh images`;
    return undefined;
}

async function waitHealthy(container: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let status = "";
    while (Date.now() < deadline) {
        status = await docker(["inspect", "-f", "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}", container]);
        if (status.endsWith(" healthy")) return;
        if (!status.startsWith("running")) break;
        await new Promise((r) => setTimeout(r, 500));
    }
    const logs = await docker(["logs", "--tail", "30", container]).catch((e: Error) => e.message);
    throw new Error(`${container} did not turn healthy (last state "${status}"); its log:\n${logs}`);
}

/** The published host port of `port`/tcp, e.g. 49153 from "127.0.0.1:49153". */
async function hostPort(container: string, port: number): Promise<number> {
    const mapping = await docker(["port", container, `${port}/tcp`]);
    const m = /^127\.0\.0\.1:(\d+)$/m.exec(mapping);
    if (m === null) throw new Error(`${container}: port ${port} is not published on 127.0.0.1 (docker port says ${JSON.stringify(mapping)})`);
    return Number(m[1]);
}

/** The uids (real, effective, saved, fs) of PID 1 inside the container. */
async function pid1Uids(container: string): Promise<string[]> {
    const status = await docker(["exec", container, "cat", "/proc/1/status"]);
    const line = status.split("\n").find((l) => l.startsWith("Uid:"));
    return (line ?? "").split(/\s+/).slice(1);
}

/** The memory limit the container's cgroup enforces, in bytes (cgroup v1 or v2). */
async function cgroupMemoryLimit(container: string): Promise<number> {
    const out = await docker(["exec", container, "sh", "-c",
        "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes"]);
    return Number(out);
}

function httpGet(port: number, urlPath: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
    return new Promise((resolve, reject) => {
        const req = http.get({ host: "127.0.0.1", port, path: urlPath, headers: { host: "dbaas.localhost" }, timeout: 10_000 }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (c: string) => { body += c; });
            res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        });
        req.on("timeout", () => req.destroy(new Error(`GET 127.0.0.1:${port}${urlPath} timed out`)));
        req.on("error", reject);
    });
}

const missing = engineMissing("the private Docker engine", engineProblem());

describe.skipIf(missing)("private Docker engine (e2e)", () => {
    const started: string[] = [];
    let work = "";
    const suffix = `${process.pid}-${Date.now().toString(36)}`;

    beforeAll(async () => {
        // Containers a killed earlier run left behind.
        const stale = await docker(["ps", "-aq", "--filter", `label=${LABEL}`]);
        if (stale !== "") await docker(["rm", "-f", ...stale.split("\n")]);
        work = fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-e2e-docker-"));
        fs.chmodSync(work, 0o755);
    });

    afterAll(async () => {
        if (started.length > 0) await docker(["rm", "-f", "-v", ...started]).catch(() => undefined);
        if (work !== "") fs.rmSync(work, { recursive: true, force: true });
    });

    /** A password file readable by uid 999 only (as the stacks upload it) and an init directory. */
    function fixtures(name: string, password: string): { passwordFile: string; initDir: string } {
        const dir = path.join(work, name);
        const initDir = path.join(dir, "initdb.d");
        fs.mkdirSync(initDir, { recursive: true, mode: 0o755 });
        const passwordFile = path.join(dir, "password");
        fs.writeFileSync(passwordFile, `${password}\n`, { mode: 0o400 });
        if (process.getuid?.() === 0) fs.chownSync(passwordFile, 999, 999);
        else fs.chmodSync(passwordFile, 0o444);
        fs.writeFileSync(path.join(initDir, "10-table.sql"), "CREATE TABLE e2e_init (source text);\nINSERT INTO e2e_init VALUES ('sql');\n", { mode: 0o644 });
        fs.writeFileSync(path.join(initDir, "20-shell.sh"), [
            "#!/bin/sh",
            "set -eu",
            'psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" -c "INSERT INTO e2e_init VALUES (\'sh as $(id -u)\')"',
            "",
        ].join("\n"), { mode: 0o755 });
        return { passwordFile, initDir };
    }

    async function connect(port: number, password: string): Promise<Client> {
        const client = new Client({ host: "127.0.0.1", port, user: "dbaas", password, database: "app", connectionTimeoutMillis: 10_000 });
        await client.connect();
        return client;
    }

    async function checkAuthAndInit(container: string, major: number, password: string): Promise<void> {
        const port = await hostPort(container, 5432);
        const client = await connect(port, password);
        try {
            const version = await client.query<{ server_version_num: string }>("SHOW server_version_num");
            expect(Math.floor(Number(version.rows[0]?.server_version_num) / 10_000)).toBe(major);
            const init = await client.query<{ source: string }>("SELECT source FROM e2e_init ORDER BY source");
            expect(init.rows.map((r) => r.source)).toEqual(["sh as 999", "sql"]);
            // Arguments after `postgres` reach the server.
            const conns = await client.query<{ max_connections: string }>("SHOW max_connections");
            expect(conns.rows[0]?.max_connections).toBe("20");
        } finally {
            await client.end();
        }
        const wrong = await connect(port, `${password}-wrong`).then(async (c) => { await c.end(); return undefined; }, (e: Error & { code?: string }) => e);
        expect(wrong?.code, `a wrong password must be refused, got ${wrong?.message ?? "a connection"}`).toBe("28P01");
    }

    for (const major of MAJORS) {
        it(`postgres ${major}: uid 999, read-only root + tmpfs, POSTGRES_PASSWORD_FILE, init scripts, health check, memory limit`, async () => {
            const name = `dbaas-e2e-pg${major}-${suffix}`;
            const password = `pw-${major}-${Math.random().toString(36).slice(2)}`;
            const { passwordFile, initDir } = fixtures(name, password);
            const layout = dataLayout(major);
            started.push(name);
            await docker([
                "run", "-d", "--name", name, "--label", LABEL,
                "--user", "999:999", "--read-only",
                "--tmpfs", "/var/run/postgresql", "--tmpfs", "/tmp", "--tmpfs", layout.mountPath,
                "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
                "--memory", `${MEMORY_MB}m`, "--memory-swap", `${MEMORY_MB}m`,
                "-p", "127.0.0.1::5432",
                "-v", `${passwordFile}:${PASSWORD_FILE}:ro`, "-v", `${initDir}:/docker-entrypoint-initdb.d:ro`,
                "-e", `POSTGRES_PASSWORD_FILE=${PASSWORD_FILE}`, "-e", "POSTGRES_USER=dbaas", "-e", "POSTGRES_DB=app", "-e", `PGDATA=${layout.pgdata}`,
                "--health-cmd", healthcheckCommand().slice(1).join(" "), "--health-interval", "1s", "--health-retries", "60",
                pgImage(major), "postgres", "-c", "max_connections=20",
            ]);
            await waitHealthy(name);
            expect(await pid1Uids(name)).toEqual(["999", "999", "999", "999"]);
            const ro = await docker(["exec", name, "sh", "-c", "touch /usr/e2e 2>&1 || true"]);
            expect(ro).toMatch(/Read-only file system/);
            expect(await docker(["exec", name, "stat", "-c", "%u %a", layout.pgdata])).toBe("999 700");
            expect(await docker(["inspect", "-f", "{{.HostConfig.Memory}}", name])).toBe(String(MEMORY_MB * 1024 * 1024));
            expect(await cgroupMemoryLimit(name)).toBe(MEMORY_MB * 1024 * 1024);
            // The client programs the restore step runs are of the server's major.
            for (const tool of ["psql", "pg_restore", "vacuumdb", "pg_isready"]) {
                expect(await docker(["exec", name, tool, "--version"])).toMatch(new RegExp(`\\(PostgreSQL\\) ${major}\\.`));
            }
            await checkAuthAndInit(name, major, password);
        });
    }

    it("postgres 17 started as root (the docker target): the entrypoint prepares PGDATA and drops to postgres", async () => {
        const major = 17;
        const name = `dbaas-e2e-pg${major}-root-${suffix}`;
        const password = `pw-root-${Math.random().toString(36).slice(2)}`;
        const { passwordFile, initDir } = fixtures(name, password);
        const layout = dataLayout(major);
        started.push(name);
        await docker([
            "run", "-d", "--name", name, "--label", LABEL,
            "--security-opt", "no-new-privileges", "--memory", `${MEMORY_MB}m`, "--memory-swap", `${MEMORY_MB}m`,
            "-p", "127.0.0.1::5432",
            "-v", `${passwordFile}:${PASSWORD_FILE}:ro`, "-v", `${initDir}:/docker-entrypoint-initdb.d:ro`,
            "-e", `POSTGRES_PASSWORD_FILE=${PASSWORD_FILE}`, "-e", "POSTGRES_USER=dbaas", "-e", "POSTGRES_DB=app",
            "-e", "PGDATA=/var/lib/postgresql/data/pgdata",
            "--health-cmd", healthcheckCommand().slice(1).join(" "), "--health-interval", "1s", "--health-retries", "60",
            pgImage(major), "-c", "max_connections=20",
        ]);
        await waitHealthy(name);
        expect(await pid1Uids(name)).toEqual(["999", "999", "999", "999"]);
        // The official entrypoint chowns to the user only (the group stays root's).
        expect(await docker(["exec", name, "stat", "-c", "%U %a", "/var/lib/postgresql/data/pgdata"])).toBe("postgres 700");
        expect(layout.mountPath).toBe("/var/lib/postgresql/data");
        await checkAuthAndInit(name, major, password);
    });

    it("nginx serves the project's rendered nginx.conf from the official paths, workers as nginx, memory limit applied", async () => {
        const name = `dbaas-e2e-nginx-${suffix}`;
        const dir = path.join(work, "nginx");
        const acme = path.join(dir, "acme");
        fs.mkdirSync(path.join(acme, ".well-known", "acme-challenge"), { recursive: true, mode: 0o755 });
        fs.chmodSync(dir, 0o755);
        fs.writeFileSync(path.join(acme, ".well-known", "acme-challenge", "token-e2e"), "challenge-e2e\n", { mode: 0o644 });
        const conf = renderNginxConf({
            domain: "dbaas.localhost",
            upstreams: ["127.0.0.1:5000"],
            listen: { http: 80, https: 443 },
            hstsMaxAgeSeconds: 300,
            clientMaxBodySize: "1m",
            paths: NGINX_PATHS,
            user: "nginx",
        });
        const cert = selfSignedCertificate("dbaas.localhost");
        const hc = nginxHealthcheck(NGINX_IMAGE);
        started.push(name);
        // As NginxProxy: create, upload the files, start (uploads need a writable root).
        await docker([
            "create", "--name", name, "--label", LABEL,
            "--memory", "128m", "--security-opt", "no-new-privileges",
            "-p", "127.0.0.1::80", "-p", "127.0.0.1::443",
            "-v", `${acme}:${NGINX_PATHS.acmeChallengeDir}:ro`,
            "--health-cmd", hc.tests.slice(1).join(" "), "--health-interval", "1s", "--health-retries", "30",
            NGINX_IMAGE,
        ]);
        const files: [string, string, number][] = [
            ["nginx.conf", conf, 0o644], ["fullchain.pem", cert.certPem, 0o644], ["privkey.pem", cert.keyPem, 0o600],
        ];
        for (const [file, content, mode] of files) fs.writeFileSync(path.join(dir, file), content, { mode });
        await docker(["cp", path.join(dir, "nginx.conf"), `${name}:/etc/nginx/nginx.conf`]);
        fs.mkdirSync(path.join(dir, "tls"), { mode: 0o755 });
        fs.copyFileSync(path.join(dir, "fullchain.pem"), path.join(dir, "tls", "fullchain.pem"));
        fs.copyFileSync(path.join(dir, "privkey.pem"), path.join(dir, "tls", "privkey.pem"));
        await docker(["cp", path.join(dir, "tls"), `${name}:${path.posix.dirname(NGINX_PATHS.certificate)}`]);
        await docker(["start", name]);
        await waitHealthy(name, 30_000);

        const httpPort = await hostPort(name, 80);
        const challenge = await httpGet(httpPort, "/.well-known/acme-challenge/token-e2e");
        expect(challenge.status).toBe(200);
        expect(challenge.body).toBe("challenge-e2e\n");
        const redirect = await httpGet(httpPort, "/v1/databases");
        expect(redirect.status).toBe(301);
        expect(redirect.headers.location).toBe("https://dbaas.localhost/v1/databases");

        const top = await docker(["top", name, "-o", "pid,uid,args"]);
        const workers = top.split("\n").filter((l) => l.includes("nginx: worker process"));
        expect(workers.length).toBeGreaterThan(0);
        for (const w of workers) expect(w.trim().split(/\s+/)[1]).toBe("101");
        expect(await docker(["exec", name, "id", "-u", "nginx"])).toBe("101");
        expect(await cgroupMemoryLimit(name)).toBe(128 * 1024 * 1024);
    });
});
