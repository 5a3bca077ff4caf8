/**
 * The in-target dump runner against the private Docker engine of `e2e:up`:
 * a database container made as the docker target makes one (the stand-in
 * dbaas-e2e/postgres:17, `dbaas-db-<name>`, POSTGRES_PASSWORD_FILE, PGDATA on
 * a named volume, no published port at all: the dump reaches the server in
 * its own network namespace), seeded with rows, dumped by DockerDumpRunner
 * through the auto choice (the host runner is a stand-in that fails the test
 * if used) into the directory backup store. While the dump runs, the dump
 * container is inspected on the engine (uid 999, read-only root, capabilities
 * dropped, no-new-privileges, memory limit, no logging, the server's network
 * namespace, no password in its config). The committed dump is listed and
 * restored by pg_restore of the same image into a second container, and its
 * rows are compared by checksum. A wrong password and a user that may not read
 * every table end failed with the tool's own last line and leave no file and
 * no container. Nothing here is simulated but the Pulumi program (the
 * container is made with the docker CLI as ondemand/docker.ts declares it).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DirectoryBackupStore } from "../../api/backups/backupStore";
import { SelectingBackupRunner } from "../../api/backups/chooseRunner";
import { DockerDumpRunner } from "../../api/backups/dockerDumpRunner";
import { BackupFailure, type BackupRunner, type DumpSource } from "../../api/backups/runner";
import { dockerTargetSchema } from "../../contracts/database";
import { dockerObjectName } from "../../contracts/labels";
import { PGDATA } from "../../contracts/restore";
import { waitFor } from "../support/testApi";
import { docker, dockerProblem } from "./dockerTarget";
import { engineMissing } from "./engine";

const IMAGE = "dbaas-e2e/postgres:17";
const suffix = `${process.pid}`;
const NAME = `bkit-${suffix}`;
const RESTORE = `bkit-restore-${suffix}`;
const PASSWORD = `in-target-e2e-${suffix}-pw`;
const ROWS = 200_000;
const MEMORY_MB = 256;

const missing = engineMissing("the Docker engine", dockerProblem([IMAGE], { provider: false }));

/** SQL in a database container as postgres over TCP in its own namespace (the test's password in the exec's env only). */
function psql(name: string, database: string, sql: string): string {
    const r = docker(["exec", "-e", `PGPASSWORD=${PASSWORD}`, dockerObjectName(name), "psql", "-X", "-w", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-c", sql], undefined, 300_000);
    if (r.status !== 0) throw new Error(`psql in ${dockerObjectName(name)} failed: ${r.stderr.trim()}`);
    return r.stdout.trim();
}

/** A database container as the docker target makes it (ondemand/docker.ts), without a published port. */
async function runDatabase(name: string, passwordDir: string): Promise<void> {
    const run = docker(["run", "-d", "--name", dockerObjectName(name), "--label", "dbaas.io/e2e=backup-in-target", "--memory", "512m",
        "--security-opt", "no-new-privileges:true",
        "-e", "POSTGRES_USER=postgres", "-e", `POSTGRES_DB=${name}`, "-e", `PGDATA=${PGDATA}`, "-e", "POSTGRES_PASSWORD_FILE=/run/dbaas/postgres-password",
        "-v", `${passwordDir}:/run/dbaas:ro`, "-v", `${dockerObjectName(name, "data")}:/var/lib/postgresql/data`, IMAGE]);
    expect(run.status, run.stderr).toBe(0);
    await waitFor(`${dockerObjectName(name)} to accept TCP connections`, () => {
        try {
            return psql(name, name, "SELECT 1") === "1" ? true : undefined;
        } catch {
            return undefined;
        }
    }, 120_000, 500);
}

const CHECKSUM = "SELECT count(*) || ' ' || md5(string_agg(id || ':' || label || ':' || payload, ',' ORDER BY id)) FROM items";

describe.skipIf(missing)("the in-target dump runner on the docker target (real engine, PostgreSQL 17)", () => {
    let tmp = "";
    let store: DirectoryBackupStore;
    let runner: BackupRunner;
    const source = (o: Partial<DumpSource> = {}): DumpSource => ({
        name: NAME, host: "127.0.0.1", port: 1, database: NAME, user: "postgres", password: PASSWORD, ...o,
    });
    const leftovers = () => docker(["ps", "-a", "--filter", "label=dbaas.io/backup=dump", "--filter", `name=${dockerObjectName(NAME, "backup")}`, "--format", "{{.Names}}"]).stdout.trim();

    beforeAll(async () => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-backup-in-target-"));
        const pw = path.join(tmp, "password");
        fs.mkdirSync(pw, { mode: 0o755 });
        fs.writeFileSync(path.join(pw, "postgres-password"), PASSWORD, { mode: 0o644 });
        await Promise.all([runDatabase(NAME, pw), runDatabase(RESTORE, pw)]);
        psql(NAME, NAME, [
            "CREATE TABLE items (id integer PRIMARY KEY, label text NOT NULL, payload text NOT NULL)",
            `INSERT INTO items SELECT g, 'item ' || g, repeat(md5(g::text), 4) FROM generate_series(1, ${ROWS}) AS g`,
            "CREATE TABLE secrets (id integer)",
            "CREATE ROLE limited LOGIN PASSWORD 'limited-pw'",
            "GRANT SELECT ON items TO limited",
        ].join("; "));
        store = new DirectoryBackupStore(path.join(tmp, "backups"));
        await store.init();
        const host: BackupRunner = { dump: () => Promise.reject(new Error("the host runner was chosen although the engine answers")) };
        const dockerHost = process.env.DOCKER_HOST ?? "";
        runner = new SelectingBackupRunner({
            mode: "auto", target: dockerTargetSchema.parse({ kind: "docker", docker_host: dockerHost, memory_mb: 512 }),
            inTarget: new DockerDumpRunner({ dockerHost, memoryMb: MEMORY_MB }), host,
        });
    }, 300_000);

    afterAll(() => {
        for (const name of [NAME, RESTORE]) {
            docker(["rm", "-f", dockerObjectName(name)]);
            docker(["volume", "rm", "-f", dockerObjectName(name, "data")]);
        }
        const left = leftovers();
        if (left !== "") docker(["rm", "-f", ...left.split("\n")]);
        if (tmp !== "") fs.rmSync(tmp, { recursive: true, force: true });
    }, 120_000);

    it("dumps the database from its own image into the store, hardened, and the dump restores every row", async () => {
        const id = "00000000-0000-4000-8000-00000000e2e1";
        const staged = await store.stage(id);
        let inspected: Record<string, unknown> | undefined;
        const started = Date.now();
        const info = await runner.dump(source(), staged, {
            signal: AbortSignal.timeout(300_000),
            onInfo: () => {
                const names = leftovers().split("\n").filter((n) => n !== "");
                expect(names, "one dump container while the dump runs").toHaveLength(1);
                inspected = (JSON.parse(docker(["inspect", names[0] ?? ""]).stdout) as Record<string, unknown>[])[0];
            },
        });
        const seconds = (Date.now() - started) / 1000;
        const size = await store.commit(id);
        console.log(`in-target dump of ${ROWS} rows (db ${info.dbSizeBytes} bytes): ${size} bytes in ${seconds.toFixed(2)} s`);
        expect(info.serverMajor).toBe(17);
        expect(info.dbSizeBytes).toBeGreaterThan(20_000_000);
        const file = store.fileOf(id);
        expect(fs.readFileSync(file).subarray(0, 5).toString("latin1")).toBe("PGDMP");
        expect(fs.statSync(file).mode & 0o777).toBe(0o600);
        expect(leftovers(), "the dump container removed itself").toBe("");

        // What the engine held while the dump ran.
        expect(inspected).toBeDefined();
        const c = inspected as { Config: { User: string; Env: string[]; Cmd: string[]; Image: string }; HostConfig: Record<string, unknown>; Image: string };
        expect(c.Config.User).toBe("999:999");
        expect(c.HostConfig).toMatchObject({
            ReadonlyRootfs: true, CapDrop: ["ALL"], SecurityOpt: ["no-new-privileges:true"], Memory: MEMORY_MB * 1024 * 1024,
            LogConfig: { Type: "none" }, AutoRemove: true,
        });
        const server = (JSON.parse(docker(["inspect", dockerObjectName(NAME)]).stdout) as { Id: string; Image: string }[])[0];
        expect(c.HostConfig.NetworkMode, "the server's network namespace (the engine resolves the name to its id)").toBe(`container:${server?.Id ?? "?"}`);
        expect(c.Image, "the server's own image").toBe(server?.Image);
        expect(JSON.stringify(inspected), "no password in the engine's view of the dump container").not.toContain(PASSWORD);

        // Complete: listed, then restored by the same major's pg_restore into another server, every row back.
        const dump = fs.readFileSync(file);
        const list = docker(["exec", "-i", dockerObjectName(RESTORE), "pg_restore", "--list"], dump, 300_000);
        expect(list.status, list.stderr).toBe(0);
        expect(list.stdout).toMatch(/TABLE DATA public items/);
        expect(list.stdout).toMatch(/TABLE DATA public secrets/);
        psql(RESTORE, RESTORE, "CREATE DATABASE restored");
        const restored = docker(["exec", "-i", "-e", `PGPASSWORD=${PASSWORD}`, dockerObjectName(RESTORE), "pg_restore", "--no-owner", "--no-acl", "--exit-on-error", "-h", "127.0.0.1", "-U", "postgres", "-d", "restored"], dump, 300_000);
        expect(restored.status, restored.stderr).toBe(0);
        expect(psql(RESTORE, "restored", CHECKSUM)).toBe(psql(NAME, NAME, CHECKSUM));
        expect(psql(RESTORE, "restored", CHECKSUM)).toMatch(new RegExp(`^${ROWS} `));
    });

    // The image's pg_hba trusts loopback (as the official image's does), so a wrong password is not refused
    // in the server's own namespace; a role that does not exist is.
    it("fails with psql's own reason for a role that cannot connect, and with pg_dump's for a table it may not read; no file, no container", async () => {
        const cases = [
            { id: "00000000-0000-4000-8000-00000000e2e2", src: source({ user: "nobody", password: "nobody-pw" }), reason: /^could not connect to the database at 127\.0\.0\.1:5432 in dbaas-db-bkit-\d+'s network as nobody \(exit 65\): .*role "nobody" does not exist/ },
            { id: "00000000-0000-4000-8000-00000000e2e3", src: source({ user: "limited", password: "limited-pw" }), reason: /^pg_dump 17 \(the database's image\) failed \(exit 1\): .*permission denied for table secrets/ },
        ];
        for (const k of cases) {
            const staged = await store.stage(k.id);
            const err = await runner.dump(k.src, staged, { signal: AbortSignal.timeout(120_000) }).then(() => undefined, (e: unknown) => e);
            expect(err).toBeInstanceOf(BackupFailure);
            const reason = (err as BackupFailure).reason;
            expect(reason).toMatch(k.reason);
            expect(reason).not.toContain(k.src.password);
            await store.discard(k.id);
            expect(await store.has(k.id)).toBe(false);
            expect(leftovers()).toBe("");
        }
    });

    it("a stop while the dump runs removes the container and fails with the stop's reason", async () => {
        const id = "00000000-0000-4000-8000-00000000e2e4";
        const staged = await store.stage(id);
        const controller = new AbortController();
        const err = await runner.dump(source(), staged, {
            signal: controller.signal,
            onInfo: () => controller.abort("the API shut down during the backup"),
        }).then(() => undefined, (e: unknown) => e);
        expect((err as BackupFailure).reason).toBe("the API shut down during the backup");
        await store.discard(id);
        await waitFor("the stopped dump container to be gone", () => (leftovers() === "" ? true : undefined), 30_000, 200);
    });
});
