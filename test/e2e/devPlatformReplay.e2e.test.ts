/**
 * The dev platform on the real private Docker engine, as a REPLAY (not
 * `pulumi up`): the platform program (infra/) runs unchanged under Pulumi's
 * mocks with the e2e stack's config (Pulumi.e2e.yaml: the stand-in images,
 * ports on 127.0.0.1), and test/e2e/replay/ carries out each resource it
 * declares: the API image built from the Dockerfile, the admin PostgreSQL,
 * the API and nginx containers with their uploads, env, mounts, ports, health
 * checks, memory and users; certificates from openssl, passwords from
 * node:crypto, roles and grants as SQL. A real `pulumi up --stack e2e` cannot
 * run here: the tls, random and postgresql providers are bridged Terraform
 * providers whose upstreams the Go module proxy does not serve
 * (docs/e2e-docker.md). What the containers then do is real:
 *   - the API image starts as declared (uid 1000, its secret files 0400 and its own);
 *   - nginx serves HTTPS on a loopback port with a certificate of the stack CA,
 *     redirects HTTP to HTTPS, refuses TLS 1.0 and 1.1, and /healthz and /readyz
 *     go through it to the API and (readyz) the admin database;
 *   - the admin PostgreSQL requires TLS and scram: a client without TLS, or
 *     with a wrong password, is refused; the read-only role can SELECT and
 *     cannot write.
 * Skips (printing why) without the engine, its images or the local Pulumi
 * tools; with CI=true it fails instead.
 */
import { execFile, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as https from "node:https";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { promisify } from "node:util";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { SECRET_FILES } from "../../contracts/apiEnv";
import { freePort } from "../../api/freePort";
import { promiseOf, ROOT } from "../support/harness";
import { engineMissing, enginePath, pulumiCli } from "./engine";
import { PlatformReplay } from "./replay/replay";

const execFileAsync = promisify(execFile);
const DOCKER = fs.existsSync("/usr/bin/docker") ? "/usr/bin/docker" : "docker";
const IMAGES = ["dbaas-e2e/nginx:1", "dbaas-e2e/postgres:17", "dbaas-e2e/node:20"];
/** What the e2e stack declares on the engine, removed before a run (a killed earlier run leaves them). */
const STACK_OBJECTS = { containers: ["dbaas-e2e-nginx", "dbaas-e2e-api-0", "dbaas-e2e-admin-db"], networks: ["dbaas-e2e"], volumes: ["dbaas-e2e-admin-db-data", "dbaas-e2e-api-data"] };

function problem(): string | undefined {
    const host = process.env.DOCKER_HOST;
    if (host?.startsWith("unix://") !== true) return "DOCKER_HOST is not the private engine's unix:// socket";
    if (spawnSync(DOCKER, ["version"], { stdio: "ignore", timeout: 15_000 }).status !== 0) return `the Docker daemon at ${host} does not answer`;
    const missing = IMAGES.filter((i) => spawnSync(DOCKER, ["image", "inspect", i], { stdio: "ignore" }).status !== 0);
    if (missing.length > 0) return `images missing: ${missing.join(", ")} (scripts/e2e/docker.sh images)`;
    if (pulumiCli() === undefined) return "no pulumi built by scripts/e2e/tools.sh on PATH (the API image takes the local set)";
    return undefined;
}
const skip = engineMissing("the dev platform replay", problem());

async function docker(args: string[]): Promise<string> {
    const { stdout } = await execFileAsync(DOCKER, args, { timeout: 60_000 });
    return stdout.trim();
}

/** A GET against nginx on 127.0.0.1 with the SNI of the stack's domain. */
function get(url: string, ca?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
    return new Promise((resolve, reject) => {
        const u = new URL(url);
        const opts = { host: "127.0.0.1", port: Number(u.port), path: u.pathname, headers: { host: "dbaas.localhost" }, timeout: 10_000 };
        const req = u.protocol === "https:"
            ? https.get({ ...opts, ca, servername: "dbaas.localhost" }, done)
            : http.get(opts, done);
        function done(res: http.IncomingMessage) {
            let body = "";
            res.on("data", (c: Buffer) => (body += c.toString()));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        }
        req.on("error", reject);
    });
}

/** Whether a TLS handshake with only `version` offered succeeds (the client allows old versions: SECLEVEL=0). */
function handshake(port: number, ca: string, version: tls.SecureVersion): Promise<string> {
    return new Promise((resolve) => {
        const socket = tls.connect({ host: "127.0.0.1", port, servername: "dbaas.localhost", ca, minVersion: version, maxVersion: version, ciphers: "DEFAULT@SECLEVEL=0" }, () => {
            resolve(`ok ${socket.getProtocol() ?? ""}`);
            socket.end();
        });
        socket.on("error", (e: Error) => resolve(`refused: ${e.message}`));
    });
}

describe.skipIf(skip)("dev platform on the Docker engine (REPLAY of the program's graph, not pulumi up)", () => {
    let replay: PlatformReplay;
    let work: string;
    let exports: Record<string, unknown>;
    let ca = "";
    const ports = { http: 0, https: 0 };

    beforeAll(async () => {
        for (const c of STACK_OBJECTS.containers) await docker(["rm", "-f", "-v", c]).catch(() => undefined);
        for (const n of STACK_OBJECTS.networks) await docker(["network", "rm", n]).catch(() => undefined);
        for (const v of STACK_OBJECTS.volumes) await docker(["volume", "rm", "-f", v]).catch(() => undefined);
        work = fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-e2e-platform-"));
        const acme = path.join(work, "acme");
        fs.mkdirSync(acme, { mode: 0o755 });
        fs.chmodSync(work, 0o755);
        const tools = await execFileAsync("bash", [path.join(ROOT, "scripts/e2e/pulumi-image.sh")], { env: { ...process.env, PATH: enginePath() }, timeout: 5 * 60_000 });
        const toolsImage = tools.stdout.trim().split(/\s+/)[0] ?? "";
        const version = (pulumiCli()?.version ?? "").replace(/^v/, "");
        ports.http = await freePort();
        ports.https = await freePort();
        const socket = (process.env.DOCKER_HOST ?? "").slice("unix://".length);
        const file = parseYaml(fs.readFileSync(path.join(ROOT, "Pulumi.e2e.yaml"), "utf8")) as { config: Record<string, Record<string, unknown> | string> };
        const c = file.config as Record<string, Record<string, unknown>>;
        // What only this machine knows (Pulumi.e2e.yaml's header says so).
        const config: Record<string, unknown> = {
            ...file.config,
            "dbaas:dockerHost": process.env.DOCKER_HOST,
            "dbaas:tls": { ...c["dbaas:tls"], acmeChallengeDir: acme },
            "dbaas:nginx": { ...c["dbaas:nginx"], httpPort: ports.http, httpsPort: ports.https },
            "dbaas:api": {
                ...c["dbaas:api"],
                pulumiVersion: version,
                dockerSocketGroupId: String(fs.statSync(socket).gid),
                build: { ...(c["dbaas:api"]?.build as Record<string, unknown>), pulumiLocalImage: toolsImage },
            },
        };
        replay = new PlatformReplay({
            project: "dbaas",
            stack: "e2e",
            config: Object.fromEntries(Object.entries(config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])),
            secretKeys: [],
            workDir: work,
            program: () => import("../../infra"),
            timeoutSeconds: 25 * 60,
        });
        const started = Date.now();
        exports = await replay.run();
        const slow = [...replay.steps].sort((a, b) => b.seconds - a.seconds).slice(0, 5).map((s) => `${s.name} ${s.seconds.toFixed(1)} s`);
        console.log(`dev platform replay: ${replay.steps.length} resources in ${((Date.now() - started) / 1000).toFixed(1)} s; slowest: ${slow.join(", ")}`);
        ca = await promiseOf(exports.caCertificate as string);
    }, 30 * 60_000);

    afterAll(async () => {
        await replay?.remove();
        if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    it("carries out every resource of the graph", () => {
        expect(replay.failures()).toEqual([]);
        expect(replay.steps.map((s) => s.type)).toEqual(expect.arrayContaining(["docker:index/image:Image", "docker:index/container:Container", "postgresql:index/grant:Grant"]));
    });

    it("runs the API image as declared: uid 1000, its secret files 0400 and its own, healthy", async () => {
        const api = "dbaas-e2e-api-0";
        expect(await docker(["exec", api, "id", "-u"])).toBe("1000");
        const stat = await docker(["exec", api, "stat", "-c", "%a %u", SECRET_FILES.databaseUrl.file, SECRET_FILES.pulumiPassphrase.file]);
        expect(stat.split("\n")).toEqual(["400 1000", "400 1000"]);
        const deadline = Date.now() + 90_000;
        let health = "";
        while (Date.now() < deadline && health !== "healthy") {
            health = await docker(["inspect", "-f", "{{.State.Health.Status}}", api]);
            if (health !== "healthy") await new Promise((r) => setTimeout(r, 1000));
        }
        expect(health).toBe("healthy");
    }, 120_000);

    it("serves HTTPS through nginx with the stack CA's certificate, and /readyz reaches the admin database", async () => {
        const health = await get(`https://127.0.0.1:${ports.https}/healthz`, ca);
        expect(health.status).toBe(200);
        expect(JSON.parse(health.body)).toEqual({ status: "ok" });
        expect(health.headers["strict-transport-security"]).toMatch(/max-age=300/);
        const ready = await get(`https://127.0.0.1:${ports.https}/readyz`, ca);
        expect(ready.body).toContain('"ready"');
        expect(ready.status).toBe(200);
        // Not trusted without the stack CA.
        await expect(get(`https://127.0.0.1:${ports.https}/healthz`)).rejects.toThrow(/self[- ]signed|unable to (get|verify)/);
    });

    it("redirects HTTP to HTTPS", async () => {
        const res = await get(`http://127.0.0.1:${ports.http}/healthz`);
        expect([301, 308]).toContain(res.status);
        expect(res.headers.location).toMatch(/^https:\/\/dbaas\.localhost(:\d+)?\/healthz$/);
    });

    it("refuses TLS 1.0 and 1.1, accepts 1.2 and 1.3", async () => {
        expect(await handshake(ports.https, ca, "TLSv1")).toMatch(/^refused/);
        expect(await handshake(ports.https, ca, "TLSv1.1")).toMatch(/^refused/);
        expect(await handshake(ports.https, ca, "TLSv1.2")).toBe("ok TLSv1.2");
        expect(await handshake(ports.https, ca, "TLSv1.3")).toBe("ok TLSv1.3");
    });

    describe("the admin PostgreSQL as declared (TLS required, scram)", () => {
        let ownerUrl: URL;
        const readOnlyPassword = () => String(replay.results.get("random:index/randomPassword:RandomPassword::admin-db-readonly-password")?.result);
        const client = (user: string, password: string, ssl: false | tls.ConnectionOptions) =>
            new Client({ host: "127.0.0.1", port: 5432, database: ownerUrl.pathname.slice(1), user, password, ssl, connectionTimeoutMillis: 10_000 });
        const verified = () => ({ ca, servername: "localhost" });

        beforeAll(async () => {
            // The URL the API got, as a file only its user can read (root in the container has no capabilities); its host is the network alias.
            ownerUrl = new URL(await docker(["exec", "dbaas-e2e-api-0", "cat", SECRET_FILES.databaseUrl.file]));
        });

        it("accepts the owner over verified TLS and scram", async () => {
            const owner = client(decodeURIComponent(ownerUrl.username), decodeURIComponent(ownerUrl.password), verified());
            await owner.connect();
            try {
                const r = await owner.query<{ ssl: boolean; method: string }>("SELECT ssl, (SELECT setting FROM pg_settings WHERE name = 'password_encryption') AS method FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
                expect(r.rows[0]).toEqual({ ssl: true, method: "scram-sha-256" });
                await owner.query("CREATE TABLE IF NOT EXISTS replay_probe (id int)");
                await owner.query("INSERT INTO replay_probe VALUES (1)");
            } finally {
                await owner.end();
            }
        });

        it("refuses a client without TLS", async () => {
            const plainClient = client(decodeURIComponent(ownerUrl.username), decodeURIComponent(ownerUrl.password), false);
            await expect(plainClient.connect()).rejects.toThrow(/no encryption|pg_hba/);
        });

        it("refuses a wrong password", async () => {
            const wrong = client(decodeURIComponent(ownerUrl.username), "not-the-password", verified());
            await expect(wrong.connect()).rejects.toThrow(/password authentication failed/);
        });

        it("lets the read-only role SELECT and not write", async () => {
            const ro = client("dbaas_readonly", readOnlyPassword(), verified());
            await ro.connect();
            try {
                expect((await ro.query("SELECT count(*)::int AS n FROM replay_probe")).rows[0]).toEqual({ n: 1 });
                await expect(ro.query("INSERT INTO replay_probe VALUES (2)")).rejects.toThrow(/permission denied/);
                await expect(ro.query("CREATE TABLE ro_made (id int)")).rejects.toThrow(/permission denied/);
            } finally {
                await ro.end();
            }
        });
    });
});
