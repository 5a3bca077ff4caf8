/**
 * The docker target end to end, all of it real: the Automation API engine with
 * the built Pulumi CLI, our Node.js language host and the policy pack, the
 * on-demand program's docker graph applied by a REAL docker provider to the
 * private Docker engine of `e2e:up` (DOCKER_HOST), and the stand-in image
 * dbaas-e2e/postgres:17 really running PostgreSQL.
 *
 * The docker provider is NOT pulumi-docker: it is the kreuzwerker Terraform
 * provider bridged here with pulumi-terraform-bridge v3.120.0 under
 * pulumi-docker's tokens (scripts/e2e/docker-provider.sh,
 * docs/engine-tools.md#the-docker-provider). The resources the program uses
 * (Provider, RemoteImage, Volume, Container) have the same inputs as in
 * @pulumi/docker 5.2; it reports version 0.0.0-…, so the engine warns that it
 * expected >=5.2.0.
 *
 * First the engine alone (what test/api/engine/integration.test.ts checked,
 * which was always skipped), then through the API: create → ready → connect
 * with the returned credentials → restart → ready with the data kept → DELETE
 * removes container, volume and stack.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import pgClient from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AutomationEngine } from "../../api/engine/automation";
import { ONDEMAND_PROGRAM_DIR, ondemandPolicyConfig, POLICY_PACK_DIR } from "../../api/engine/workspace";
import { dockerObjectName } from "../../components/ondemand";
import { parseDatabaseSpec } from "../../contracts/database";
import { createBody, waitFor, type TestApi } from "../support/testApi";
import { engineMissing, pulumiCli, requirePulumi } from "./engine";
import { containerExists, docker, dockerProblem, startBackupServer, volumeExists, type BackupServer } from "./dockerTarget";
import { setUpDockerE2e, stackFiles, startDockerEngineApi, waitDeleted, type DockerE2e } from "./ondemandApi";

/** The stand-in of postgres:17 that `e2e:up` builds (docs/e2e-docker.md). */
const IMAGE = "dbaas-e2e/postgres:17";
const NAME = "e2e-docker-db";

const missing = requirePulumi() ?? engineMissing("the Docker engine and provider", dockerProblem([IMAGE, "dbaas-e2e/node:20", "dbaas-e2e/curl:7"]));
const noop = { onEvent: () => undefined };
const signal = () => new AbortController().signal;

const containerId = (name: string) => docker(["container", "inspect", "-f", "{{.Id}}", name]).stdout.trim();

describe.skipIf(missing)("AutomationEngine with the real pulumi CLI and Docker (docker provider: the bridged Terraform provider, not pulumi-docker)", () => {
    it("creates a docker database, reads its outputs, and destroys it", async () => {
        const dir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? "/tmp", "dbaas-engine-it-"));
        fs.writeFileSync(path.join(dir, "passphrase"), "integration-test-passphrase", { mode: 0o600 });
        const stateRoot = path.join(dir, "stacks");
        const engine = new AutomationEngine({
            settings: {
                stateRoot,
                backendUrl: `file://${path.join(stateRoot, ".state")}`,
                passphraseFile: path.join(dir, "passphrase"),
                // The built CLI, not the npm `pulumi` downloader npx puts first on PATH.
                pulumiRoot: path.dirname(path.dirname(pulumiCli()?.path ?? "")),
                programDir: ONDEMAND_PROGRAM_DIR,
                outputsTimeoutMs: 600_000,
                tsconfigPath: path.resolve(__dirname, "..", "..", "tsconfig.json"),
                policyPackDir: POLICY_PACK_DIR,
                // The image below is the test's own catalog (the pack refuses images outside the catalog).
                policyConfig: ondemandPolicyConfig([IMAGE]),
            },
        });
        expect(await engine.readiness()).toEqual({ ok: true, reasons: [] });
        const name = `it${Date.now().toString(36)}`;
        const spec = parseDatabaseSpec({
            name, owner: "it", project_id: "it", db_type: "postgres", version: "PostgreSQL 17", image: IMAGE,
            expires_at: new Date(Date.now() + 3600_000).toISOString(), source_ranges: [],
            target: { kind: "docker", docker_host: process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock", memory_mb: 256 },
        });
        const options = { signal: signal(), ...noop };
        try {
            const started = Date.now();
            const out = await engine.up(spec, options);
            console.log(`engine up (docker target): ${Math.round((Date.now() - started) / 1000)} s`);
            expect(out.port).toBeGreaterThan(0);
            expect(out.uri).toMatch(/^postgresql:\/\//);
            expect(await engine.outputs(name)).toEqual(out);
            expect(containerExists(dockerObjectName(name)), "the container runs").toBe(true);
        } finally {
            const started = Date.now();
            await engine.destroy(name, options);
            console.log(`engine destroy (docker target): ${Math.round((Date.now() - started) / 1000)} s`);
            fs.rmSync(dir, { recursive: true, force: true });
        }
        expect(fs.existsSync(path.join(stateRoot, name))).toBe(false);
        expect(containerExists(dockerObjectName(name)), "the container is gone").toBe(false);
        expect(volumeExists(dockerObjectName(name, "data")), "the volume is gone").toBe(false);
    }, 900_000);
});

interface DbView { state: string; endpoint: { host: string; port: number } | null; failure_reason: string | null; credentials?: { password: string; uri: string } }

describe.skipIf(missing)("the docker target through the API and the real engine (docker provider: the bridged Terraform provider, not pulumi-docker)", () => {
    let e2e: DockerE2e;
    let api: TestApi;
    let close: (() => Promise<void>) | undefined;
    let firstContainer = "";

    const view = async (name: string) => (await api.call("alice", "GET", `/databases/${name}`)).body as DbView;
    const settled = (name: string, timeoutMs: number) => waitFor(`${name} to be ready or failed`, async () => {
        const v = await view(name);
        return v.state === "ready" || v.state === "failed" ? v : undefined;
    }, timeoutMs);
    /** A client with the credentials the API hands out (no TLS option: see the test below). */
    const connect = async (name: string) => {
        const r = await api.call("alice", "GET", `/databases/${name}?include=password`);
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        const v = r.body as DbView;
        const c = new pgClient.Client({ host: v.endpoint?.host, port: v.endpoint?.port, user: "postgres", password: v.credentials?.password, database: name, ssl: false });
        await c.connect();
        return { client: c, view: v };
    };

    beforeAll(async () => {
        e2e = await setUpDockerE2e("docker-e2e", IMAGE);
        // The runtime watcher on the real engine, every second (30 s by default).
        ({ api, close } = await startDockerEngineApi(e2e, { DBAAS_WATCH_INTERVAL_SECONDS: "1" }));
    }, 600_000);

    afterAll(async () => {
        await close?.();
        // Whatever a failed test left behind on the shared private engine.
        docker(["rm", "-f", dockerObjectName(NAME), dockerObjectName(NAME, "fetch")]);
        docker(["volume", "rm", "-f", dockerObjectName(NAME, "data")]);
        await e2e?.tearDown();
    }, 600_000);

    it("is ready: the engine reports no missing part", async () => {
        const r = await api.call(null, "GET", "/readyz");
        expect(r.body, JSON.stringify(r.body)).toEqual({ status: "ready" });
    });

    it("POST /databases runs the container as declared and the database reaches ready", async () => {
        const started = Date.now();
        const r = await api.call("alice", "POST", "/databases", { body: createBody(NAME) });
        expect(r.status, JSON.stringify(r.body)).toBe(202);
        const db = await settled(NAME, 480_000);
        console.log(`API create → ready (docker target): ${Math.round((Date.now() - started) / 1000)} s`);
        expect(db.state, `failure: ${db.failure_reason}`).toBe("ready");
        expect(db.endpoint?.host).toBe("127.0.0.1");
        expect(db.endpoint?.port).toBeGreaterThan(0);

        const inspect = JSON.parse(docker(["container", "inspect", dockerObjectName(NAME)]).stdout) as [{
            Id: string; Config: { Image: string; Env: string[]; Labels: Record<string, string> };
            HostConfig: { Memory: number; RestartPolicy: { Name: string }; SecurityOpt: string[]; PortBindings: Record<string, { HostIp: string; HostPort: string }[]> };
            Mounts: { Type: string; Name: string; Destination: string }[]; State: { Running: boolean; Health?: { Status: string } };
        }];
        const c = inspect[0];
        firstContainer = c.Id;
        expect(c.State.Running).toBe(true);
        expect(c.State.Health?.Status).toBe("healthy");
        expect(c.HostConfig.Memory).toBe(256 * 1024 * 1024);
        expect(c.HostConfig.RestartPolicy.Name).toBe("unless-stopped");
        expect(c.HostConfig.SecurityOpt).toContain("no-new-privileges:true");
        expect(c.HostConfig.PortBindings["5432/tcp"]?.[0]?.HostIp).toBe("127.0.0.1");
        expect(c.Config.Env).toContain("POSTGRES_PASSWORD_FILE=/run/dbaas/postgres-password");
        expect(c.Config.Env.some((e) => e.startsWith("POSTGRES_PASSWORD="))).toBe(false);
        expect(c.Config.Labels).toMatchObject({ "dbaas.io/owner": "alice" });
        expect(c.Mounts).toEqual([expect.objectContaining({ Type: "volume", Name: dockerObjectName(NAME, "data") })]);
    }, 600_000);

    it("the returned credentials connect (no TLS: the docker target declares none) and a query runs", async () => {
        const { client, view: v } = await connect(NAME);
        try {
            expect(v.credentials?.uri).toMatch(new RegExp(`^postgresql://postgres:.+@127\\.0\\.0\\.1:${v.endpoint?.port}/${NAME}$`));
            // ondemand/docker.ts sets up no certificate: the server runs with ssl=off, so the connection is plain TCP on 127.0.0.1.
            expect((await client.query<{ ssl: string }>("SHOW ssl")).rows[0]?.ssl).toBe("off");
            expect((await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]?.v).toMatch(/^17/);
            await client.query("CREATE TABLE kept (id int PRIMARY KEY, note text); INSERT INTO kept VALUES (1, 'before restart')");
        } finally {
            await client.end();
        }
        const wrong = new pgClient.Client({ host: v.endpoint?.host, port: v.endpoint?.port, user: "postgres", password: "not-the-password", database: NAME });
        await expect(wrong.connect()).rejects.toMatchObject({ code: "28P01" });
    }, 120_000);

    it("POST /databases/:name/restart replaces the container, reaches ready again and keeps the data", async () => {
        const before = (await view(NAME)).endpoint;
        const started = Date.now();
        const r = await api.call("alice", "POST", `/databases/${NAME}/restart`);
        expect(r.status, JSON.stringify(r.body)).toBe(202);
        await waitFor("the restart to begin", async () => ((await view(NAME)).state !== "ready" || containerId(dockerObjectName(NAME)) !== firstContainer ? true : undefined), 120_000);
        const db = await settled(NAME, 480_000);
        console.log(`API restart → ready (docker target): ${Math.round((Date.now() - started) / 1000)} s`);
        expect(db.state, `failure: ${db.failure_reason}`).toBe("ready");
        expect(containerId(dockerObjectName(NAME)), "a new container").not.toBe(firstContainer);

        // Docker may publish the new container on another host port; the restart reads the outputs
        // again, so the API's endpoint is the port Docker published.
        const published = Number(docker(["port", dockerObjectName(NAME), "5432/tcp"]).stdout.trim().split(":").pop());
        expect(published).toBeGreaterThan(0);
        expect(db.endpoint?.port, "the API's endpoint after a restart").toBe(published);
        if (published !== before?.port) console.log(`restart moved the database from port ${before?.port} to ${published}; the API shows ${db.endpoint?.port}`);

        const secret = (await api.call("alice", "GET", `/databases/${NAME}?include=password`)).body as DbView;
        const client = new pgClient.Client({ host: "127.0.0.1", port: published, user: "postgres", password: secret.credentials?.password, database: NAME, ssl: false });
        await client.connect();
        try {
            expect((await client.query<{ note: string }>("SELECT note FROM kept WHERE id = 1")).rows).toEqual([{ note: "before restart" }]);
        } finally {
            await client.end();
        }
    }, 600_000);

    it("a server killed outside any operation is noticed: the engine restarts it (unless-stopped) and the view and the audit log say so; a stopped one shows down", async () => {
        type Runtime = { status: string; restarts: number; exit_code: number | null } | null;
        const runtime = async () => ((await api.call("alice", "GET", `/databases/${NAME}`)).body as { runtime: Runtime }).runtime;
        const noticed = async () => ((await api.call("admin", "GET", `/audit?database=${NAME}`)).body as { entries: { action: string; outcome: string }[] }).entries
            .filter((e) => e.outcome === "noticed").map((e) => e.action).reverse();
        await waitFor("the watcher's first look", async () => ((await runtime())?.status === "running" ? true : undefined), 60_000, 500);
        const before = (await runtime())?.restarts ?? 0;
        const prior = (await noticed()).length;

        // SIGKILL to the postmaster from the host, as the kernel's OOM killer would: not a `docker kill`,
        // which Docker counts as a manual stop and does not restart.
        const pid = Number(docker(["inspect", "-f", "{{.State.Pid}}", dockerObjectName(NAME)]).stdout.trim());
        expect(pid).toBeGreaterThan(0);
        process.kill(pid, "SIGKILL");
        const after = await waitFor("the restart noticed", async () => {
            const r = await runtime();
            return r !== null && r.restarts > before && r.status === "running" ? r : undefined;
        }, 120_000, 500);
        expect(after.restarts).toBe(before + 1);
        // The crash itself: the restart, and a down and an up around it when a look (every second)
        // fell between the kill and Docker's restart (a loaded host makes that likely), the down
        // seen before or together with the higher restart count.
        const crash = (await noticed()).slice(prior);
        expect([
            ["database.unplanned_restart"],
            ["database.unplanned_restart", "database.down", "database.up"],
            ["database.down", "database.unplanned_restart", "database.up"],
        ]).toContainEqual(crash);

        // A stop by hand stays stopped (unless-stopped): shown as down, and up again once started.
        expect(docker(["stop", "-t", "2", dockerObjectName(NAME)]).status).toBe(0);
        const down = await waitFor("the stop noticed", async () => {
            const r = await runtime();
            return r?.status === "exited" ? r : undefined;
        }, 60_000, 500);
        expect(down.exit_code).not.toBeNull();
        expect(docker(["start", dockerObjectName(NAME)]).status).toBe(0);
        await waitFor("the start noticed", async () => ((await runtime())?.status === "running" ? true : undefined), 60_000, 500);
        expect((await noticed()).slice(prior + crash.length), "the stop and the start by hand").toEqual(["database.down", "database.up"]);
    }, 300_000);

    it("DELETE removes the container, its volume and the stack", async () => {
        const started = Date.now();
        const r = await api.call("alice", "DELETE", `/databases/${NAME}`);
        expect(r.status).toBe(202);
        await waitDeleted(api, NAME, 300_000);
        console.log(`API delete → gone (docker target): ${Math.round((Date.now() - started) / 1000)} s`);
        expect(containerExists(dockerObjectName(NAME)), "the container").toBe(false);
        expect(volumeExists(dockerObjectName(NAME, "data")), "the volume").toBe(false);
        expect(fs.existsSync(path.join(e2e.stateRoot, NAME)), "the work dir").toBe(false);
        expect(stackFiles(e2e.stateRoot, NAME).checkpoint, "the stack in the file backend").toBeUndefined();
    }, 600_000);
});

/**
 * A create with `backup_location`, every step real on the private engine: the backup server
 * is a container (the stand-in Node image, serving files over HTTPS with a certificate the
 * API's DBAAS_BACKUP_CA_FILE names) on a Docker network of its own, which the fetch step
 * joins (DBAAS_FETCH_NETWORK); the fetch step is the stand-in curl image
 * (DBAAS_FETCH_IMAGE) running fetch.sh, the server the stand-in postgres:17 running
 * restore.sh from its init hook. No address check is switched off: the network's subnet is
 * a free /24 of 11.0.0.0/8, outside every blocked range, and the server is reached by name on port 443.
 * SIMULATED: the API's DNS answer for that name (the test's resolver returns the
 * container's address); the fetch step resolves it with Docker's own DNS.
 */
describe.skipIf(missing)("the docker target restores backup_location through the real fetch and restore steps (docker provider: the bridged Terraform provider)", () => {
    const GOOD = "e2e-restore-good";
    const BAD = "e2e-restore-bad";
    let e2e: DockerE2e;
    let backups: BackupServer | undefined;
    let api: TestApi;
    let close: (() => Promise<void>) | undefined;

    const view = async (name: string) => (await api.call("alice", "GET", `/databases/${name}`)).body as DbView;
    const settled = (name: string, timeoutMs: number) => waitFor(`${name} to be ready or failed`, async () => {
        const v = await view(name);
        return v.state === "ready" || v.state === "failed" ? v : undefined;
    }, timeoutMs);
    const labelled = (name: string) => docker(["ps", "-a", "--filter", `label=dbaas.io/database=${name}`, "--format", "{{.Names}} {{.State}}"]).stdout.trim().split("\n").filter((l) => l !== "");

    beforeAll(async () => {
        e2e = await setUpDockerE2e("docker-restore-e2e", IMAGE);
        backups = await startBackupServer({
            tmp: e2e.tmp, prefix: `dbaas-e2e-restore-${process.pid}`, label: "dbaas.io/e2e=restore", thirds: [77, 97, 117].map((b) => b + (process.pid % 10)),
            files: {
                "orders.sql": [
                    "CREATE TABLE orders (id integer PRIMARY KEY, item text NOT NULL);",
                    "INSERT INTO orders VALUES (1, 'tea'), (2, 'coffee'), (3, 'cocoa');",
                    "",
                ].join("\n"),
                "login.html": "<!doctype html><html><body>Please sign in</body></html>\n",
            },
        });
        ({ api, close } = await startDockerEngineApi(e2e, backups.env, backups.resolver));
    }, 600_000);

    afterAll(async () => {
        await close?.();
        for (const name of [GOOD, BAD]) {
            docker(["rm", "-f", dockerObjectName(name), dockerObjectName(name, "fetch")]);
            docker(["volume", "rm", "-f", dockerObjectName(name, "data")]);
        }
        backups?.stop();
        await e2e?.tearDown();
    }, 600_000);

    it("POST /databases with backup_location: fetched over HTTPS with the configured CA, restored, ready; the data reads back", async () => {
        const started = Date.now();
        const r = await api.call("alice", "POST", "/databases", { body: createBody(GOOD, { backup_location: `https://${backups?.host}/orders.sql` }) });
        expect(r.status, JSON.stringify(r.body)).toBe(202);
        const db = await settled(GOOD, 480_000);
        console.log(`API create with restore → ready (docker target): ${Math.round((Date.now() - started) / 1000)} s`);
        expect(db.state, `failure: ${db.failure_reason}`).toBe("ready");
        const fetchInspect = JSON.parse(docker(["container", "inspect", dockerObjectName(GOOD, "fetch")]).stdout) as [{
            Config: { Image: string; Env: string[] }; State: { ExitCode: number }; NetworkSettings: { Networks: Record<string, unknown> };
        }];
        expect(fetchInspect[0].State.ExitCode).toBe(0);
        expect(fetchInspect[0].Config.Env).toContain("RESTORE_CA_FILE=/opt/dbaas/restore/backup-ca.pem");
        expect(Object.keys(fetchInspect[0].NetworkSettings.Networks)).toEqual([backups?.network]);

        const secret = (await api.call("alice", "GET", `/databases/${GOOD}?include=password`)).body as DbView;
        const client = new pgClient.Client({ host: secret.endpoint?.host, port: secret.endpoint?.port, user: "postgres", password: secret.credentials?.password, database: GOOD, ssl: false });
        await client.connect();
        try {
            expect((await client.query<{ id: number; item: string }>("SELECT id, item FROM orders ORDER BY id")).rows).toEqual([
                { id: 1, item: "tea" }, { id: 2, item: "coffee" }, { id: 3, item: "cocoa" },
            ]);
        } finally {
            await client.end();
        }
    }, 600_000);

    it("a backup that is not a dump (a login page) fails with the fetch step's one-line reason and leaves nothing running", async () => {
        const started = Date.now();
        const r = await api.call("alice", "POST", "/databases", { body: createBody(BAD, { backup_location: `https://${backups?.host}/login.html` }) });
        expect(r.status, JSON.stringify(r.body)).toBe(202);
        const db = await settled(BAD, 480_000);
        expect(db.state).toBe("failed");
        expect(db.failure_reason).toMatch(/^fetching backup_location failed \(exit 1\): .*HTML or XML page/);
        expect(db.failure_reason?.split("\n")).toHaveLength(1);
        console.log(`API create with a bad backup → failed (docker target): ${Math.round((Date.now() - started) / 1000)} s`);
        expect(containerExists(dockerObjectName(BAD)), "no server container was created").toBe(false);
        expect(labelled(BAD).filter((l) => l.endsWith(" running")), "nothing of it runs").toEqual([]);

        expect((await api.call("alice", "DELETE", `/databases/${BAD}`)).status).toBe(202);
        await waitDeleted(api, BAD, 300_000);
        expect(labelled(BAD), "DELETE removed the fetch container").toEqual([]);
        expect(volumeExists(dockerObjectName(BAD, "data")), "and the volume").toBe(false);
    }, 600_000);

    it("DELETE of the restored database removes its containers and volume", async () => {
        expect((await api.call("alice", "DELETE", `/databases/${GOOD}`)).status).toBe(202);
        await waitDeleted(api, GOOD, 300_000);
        expect(labelled(GOOD)).toEqual([]);
        expect(volumeExists(dockerObjectName(GOOD, "data"))).toBe(false);
    }, 600_000);
});
