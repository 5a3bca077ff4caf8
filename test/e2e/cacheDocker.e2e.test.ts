/**
 * The restored-backup cache on the docker target end to end, all real: the
 * Automation API engine, the docker provider on the private engine of
 * `e2e:up`, the stand-in postgres:17 and curl images, and an HTTPS backup
 * server (as in ondemandDocker.e2e.test.ts) that logs every request's method
 * and sends an ETag read from a file the test changes.
 *
 * First create: restored, then filled (a golden volume dbaas-cache-<id>).
 * Second create: cloned, and the backup server saw a HEAD only. A changed
 * ETag misses (a GET); `fresh` skips the cache. The clones' data equal the
 * source's, their passwords differ, and one clone's password does not open
 * another.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import pgClient from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dockerObjectName } from "../../components/ondemand";
import { createBody, fakeResolver, waitFor, type TestApi } from "../support/testApi";
import { docker, dockerProblem, startBackupServer, type BackupServer } from "./dockerBackups";
import { engineMissing, requirePulumi } from "./engine";
import { setUpDockerE2e, startDockerEngineApi, waitDeleted, type DockerE2e } from "./ondemandApi";

const IMAGE = "dbaas-e2e/postgres:17";
const HOST = "backups.e2e.test";

const missing = requirePulumi() ?? engineMissing("the Docker engine and provider", dockerProblem([IMAGE, "dbaas-e2e/node:20", "dbaas-e2e/curl:7"]));

interface DbView { state: string; failure_reason: string | null; endpoint: { host: string; port: number } | null; made: { how: string; description: string } | null; credentials?: { password: string } }

describe.skipIf(missing)("the restored-backup cache on the real Docker engine", () => {
    const suffix = `${process.pid}`;
    const network = `dbaas-e2e-cache-${suffix}`;
    const server = `dbaas-e2e-cache-backups-${suffix}`;
    const names = ["e2e-cache-first", "e2e-cache-second", "e2e-cache-changed", "e2e-cache-fresh"] as const;
    let e2e: DockerE2e;
    let api: TestApi;
    let close: (() => Promise<void>) | undefined;
    let backups: BackupServer | undefined;

    const view = async (name: string, include = false) => (await api.call("alice", "GET", `/databases/${name}${include ? "?include=password" : ""}`)).body as DbView;
    const create = async (name: string, extra: Record<string, unknown> = {}) => {
        const started = Date.now();
        const r = await api.call("alice", "POST", "/databases", { body: createBody(name, { backup_location: `https://${HOST}/orders.sql?sig=${name}`, ...extra }) });
        expect(r.status, JSON.stringify(r.body)).toBe(202);
        const db = await waitFor(`${name} to settle`, async () => {
            const v = await view(name);
            return v.state === "ready" || v.state === "failed" ? v : undefined;
        }, 480_000, 500);
        expect(db.state, `failure: ${db.failure_reason}`).toBe("ready");
        return { db, seconds: (Date.now() - started) / 1000 };
    };
    const requests = () => backups?.requests() ?? [];
    const connect = async (name: string, password: string) => {
        const v = await view(name);
        const c = new pgClient.Client({ host: v.endpoint?.host, port: v.endpoint?.port, user: "postgres", password, database: name, ssl: false });
        await c.connect();
        return c;
    };
    const rowsOf = async (name: string) => {
        const c = await connect(name, (await view(name, true)).credentials?.password ?? "");
        try {
            return (await c.query<{ id: number; item: string }>("SELECT id, item FROM orders ORDER BY id")).rows;
        } finally {
            await c.end();
        }
    };

    beforeAll(async () => {
        e2e = await setUpDockerE2e("docker-cache-e2e", IMAGE);
        const dir = path.join(e2e.tmp, "backups");
        backups = await startBackupServer({ name: server, network, host: HOST, dir, label: "cache", etag: '"v1"' });
        fs.writeFileSync(path.join(dir, "orders.sql"), "CREATE TABLE orders (id integer PRIMARY KEY, item text NOT NULL);\nINSERT INTO orders SELECT g, 'item ' || g FROM generate_series(1, 2000) g;\n", { mode: 0o644 });
        const address = backups.address;
        ({ api, close } = await startDockerEngineApi(e2e, {
            DBAAS_BACKUP_HOSTS: HOST, DBAAS_FETCH_IMAGE: "dbaas-e2e/curl:7", DBAAS_FETCH_NETWORK: network, DBAAS_BACKUP_CA_FILE: backups.caFile,
            DBAAS_CACHE: "true",
        }, fakeResolver({ [HOST]: [address] })));
    }, 600_000);

    afterAll(async () => {
        for (const name of names) await api?.call("admin", "DELETE", `/databases/${name}`);
        for (const name of names) await waitDeleted(api, name, 300_000).catch(() => undefined);
        for (const e of ((await api?.call("admin", "GET", "/cache"))?.body as { entries?: { id: number }[] } | undefined)?.entries ?? []) {
            await api.call("admin", "DELETE", `/cache/${e.id}`);
        }
        await close?.();
        backups?.stop();
        await e2e?.tearDown();
    }, 900_000);

    it("the first create restores and fills a golden volume", async () => {
        const { db, seconds } = await create(names[0]);
        console.log(`cache-filling create → ready: ${seconds.toFixed(1)} s`);
        expect(db.made?.how).toBe("restored");
        expect(requests()).toEqual(["GET"]);
        const list = (await api.call("admin", "GET", "/cache")).body as { entries: { id: number; volume: string; state: string; identity: { etag?: string } }[] };
        const entries = list.entries;
        expect(entries.map((e) => [e.state, e.identity.etag])).toEqual([["ready", '"v1"']]);
        expect(docker(["volume", "inspect", entries[0]?.volume ?? "?"]).status).toBe(0);
        expect((await rowsOf(names[0])).length).toBe(2000);
    }, 600_000);

    it("the second create clones: the backup server sees a HEAD only; the data are equal, the passwords are not", async () => {
        const { db, seconds } = await create(names[1]);
        console.log(`cached create (clone) → ready: ${seconds.toFixed(1)} s`);
        expect(db.made?.how).toBe("cloned");
        expect(db.made?.description).toMatch(/^cloned from a cached restore of https:\/\/backups\.e2e\.test\/orders\.sql at /);
        expect(requests()).toEqual(["GET", "HEAD"]);
        expect(await rowsOf(names[1])).toEqual(await rowsOf(names[0]));
        const first = (await view(names[0], true)).credentials?.password ?? "";
        const second = (await view(names[1], true)).credentials?.password ?? "";
        expect(first).not.toBe(second);
        await expect(connect(names[1], first)).rejects.toThrow(/password authentication failed/);
        await expect(connect(names[0], second)).rejects.toThrow(/password authentication failed/);
        expect(docker(["container", "inspect", "-f", "{{.State.ExitCode}}", dockerObjectName(names[1], "clone")]).stdout.trim()).toBe("0");
    }, 600_000);

    it("a changed ETag misses and restores; fresh skips the cache", async () => {
        backups?.setEtag('"v2"');
        const changed = await create(names[2]);
        expect(changed.db.made?.how).toBe("restored");
        expect(requests().slice(2)).toEqual(["HEAD", "GET"]);
        const fresh = await create(names[3], { fresh: true });
        console.log(`fresh create → ready: ${fresh.seconds.toFixed(1)} s`);
        expect(fresh.db.made?.how).toBe("restored");
        expect(requests().slice(4)).toEqual(["GET"]);
    }, 900_000);
});
