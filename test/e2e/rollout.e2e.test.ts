/**
 * A rolling patch on the docker target, all of it real (as
 * ondemandDocker.e2e.test.ts: the Automation API engine with the built Pulumi
 * CLI, the policy pack, the bridged docker provider on the private Docker
 * engine of `e2e:up`). Two databases are created on the stand-in
 * dbaas-e2e/postgres:17 and given a row each; the API is started again with
 * the catalog's PostgreSQL 17 moved to dbaas-e2e/postgres:17.99, an image this
 * file builds FROM the stand-in with one label added (its own image ID, the same
 * server; a newer minor of the same major to decidePatch);
 * then POST /versions/PostgreSQL%2017/rollout: each container is replaced by
 * one running the new image, one database at a time, on the same volume, and
 * the rows are still there.
 */
import pino from "pino";
import pgClient from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadEngine } from "../../api/engine/load";
import { dockerObjectName } from "../../components/ondemand";
import { createBody, startTestApi, testConfig, waitFor, type TestApi } from "../support/testApi";
import { engineMissing, requirePulumi } from "./engine";
import { docker, dockerProblem } from "./dockerTarget";
import { setUpDockerE2e, waitDeleted, type DockerE2e } from "./ondemandApi";

const IMAGE = "dbaas-e2e/postgres:17";
const PATCHED = "dbaas-e2e/postgres:17.99";
const LABEL = "PostgreSQL 17";
const NAMES = ["e2e-roll-a", "e2e-roll-b"];

/** The image ID a reference names (containers record the ID the program passes, not the tag). */
const imageId = (ref: string): string => docker(["image", "inspect", "--format", "{{.Id}}", ref]).stdout.trim();

const missing = requirePulumi() ?? engineMissing("the Docker engine and provider", dockerProblem([IMAGE]));

interface Inspected { Id: string; Image: string; Mounts: { Name: string }[] }
const inspect = (name: string): Inspected | undefined => {
    const r = docker(["container", "inspect", dockerObjectName(name)]);
    return r.status === 0 ? (JSON.parse(r.stdout) as [Inspected])[0] : undefined;
};

describe.skipIf(missing)("a rolling patch on the docker target through the API and the real engine", () => {
    let e2e: DockerE2e;
    let api: TestApi | undefined;
    const before = new Map<string, Inspected>();

    /** The API on the test's admin database (`databaseUrl`: the same one again) with `image` as PostgreSQL 17. */
    async function startWith(image: string, databaseUrl?: string): Promise<TestApi> {
        const env = { ...e2e.apiEnv, DBAAS_CATALOG: JSON.stringify([{ label: LABEL, image }]) };
        const engine = await loadEngine({ ...process.env, ...env, ...e2e.engineEnv, PULUMI_BACKEND_URL: "" }, testConfig(env), pino({ level: "warn" }));
        return startTestApi(e2e.pg, { engine, env, ...(databaseUrl === undefined ? {} : { databaseUrl }) });
    }

    async function query(a: TestApi, name: string, sql: string): Promise<unknown[]> {
        const v = (await a.call("alice", "GET", `/databases/${name}?include=password`)).body as { endpoint: { host: string; port: number }; credentials: { password: string } };
        const c = new pgClient.Client({ host: v.endpoint.host, port: v.endpoint.port, user: "postgres", password: v.credentials.password, database: name, ssl: false });
        await c.connect();
        try {
            return (await c.query<Record<string, unknown>>(sql)).rows;
        } finally {
            await c.end();
        }
    }

    beforeAll(async () => {
        // A distinct image (its own ID) with the same content: a second tag alone would be the same image, and nothing to replace.
        expect(docker(["build", "-t", PATCHED, "-"], `FROM ${IMAGE}\nLABEL io.dbaas.e2e.patch="17.99"\n`).status, `docker build of ${PATCHED}`).toBe(0);
        e2e = await setUpDockerE2e("rollout-e2e", IMAGE);
        api = await startWith(IMAGE);
    }, 600_000);

    afterAll(async () => {
        for (const name of NAMES) {
            if (api !== undefined) await api.call("alice", "DELETE", `/databases/${name}`).catch(() => undefined);
        }
        if (api !== undefined) for (const name of NAMES) await waitDeleted(api, name, 300_000).catch(() => undefined);
        await api?.close(1000);
        for (const name of NAMES) {
            docker(["rm", "-f", dockerObjectName(name), dockerObjectName(name, "fetch")]);
            docker(["volume", "rm", "-f", dockerObjectName(name, "data")]);
        }
        docker(["rmi", PATCHED]);
        await e2e?.tearDown();
    }, 900_000);

    it("creates two databases on the old image, each with a row", async () => {
        for (const name of NAMES) expect((await api!.call("alice", "POST", "/databases", { body: createBody(name) })).status).toBe(202);
        for (const name of NAMES) {
            const v = await waitFor(`${name} ready`, async () => {
                const b = (await api!.call("alice", "GET", `/databases/${name}`)).body as { state: string; failure_reason: string | null };
                return b.state === "ready" || b.state === "failed" ? b : undefined;
            }, 480_000, 1000);
            expect(v.state, `failure: ${v.failure_reason}`).toBe("ready");
            await query(api!, name, "CREATE TABLE kept (note text); INSERT INTO kept VALUES ('before the patch')");
            const c = inspect(name);
            expect(c?.Image).toBe(imageId(IMAGE));
            before.set(name, c!);
        }
    }, 1_200_000);

    it("rolls the new tag out: one container at a time replaced on the same volume, data kept", async () => {
        const url = api!.databaseUrl;
        await api!.close(1000);
        api = await startWith(PATCHED, url);
        const started = Date.now();
        const r = await api.call("admin", "POST", `/versions/${encodeURIComponent(LABEL)}/rollout`, { body: { image: PATCHED } });
        expect(r.status, JSON.stringify(r.body)).toBe(202);
        const done = await waitFor("the rollout to end", async () => {
            const b = (await api!.call("admin", "GET", `/rollouts/${(r.body as { id: number }).id}`)).body as { state: string; steps: { database: string; state: string; patch_type: string; previous_image: string; new_image: string; reason: string | null; started_at: string; finished_at: string }[] };
            return b.state === "running" ? undefined : b;
        }, 1_200_000, 2000);
        console.log(`rollout of ${NAMES.length} docker databases: ${Math.round((Date.now() - started) / 1000)} s`);
        expect(done.state, JSON.stringify(done.steps)).toBe("succeeded");
        expect(done.steps.map((s) => [s.database, s.state, s.patch_type, s.previous_image, s.new_image])).toEqual(NAMES.map((n) => [n, "succeeded", "database", IMAGE, PATCHED]));
        // One at a time: the second started after the first had finished.
        const [first, second] = done.steps;
        expect(Date.parse(second!.started_at)).toBeGreaterThanOrEqual(Date.parse(first!.finished_at));
        for (const name of NAMES) {
            const c = inspect(name);
            expect(c?.Image).toBe(imageId(PATCHED));
            expect(imageId(PATCHED)).not.toBe(imageId(IMAGE));
            expect(c?.Id, "a new container").not.toBe(before.get(name)?.Id);
            expect(c?.Mounts.map((m) => m.Name)).toEqual(before.get(name)?.Mounts.map((m) => m.Name));
            expect(await query(api, name, "SELECT note FROM kept")).toEqual([{ note: "before the patch" }]);
            const acts = (await api.call("alice", "GET", `/databases/${name}/activities`)).body as { activities: { kind: string }[] };
            expect(acts.activities.map((a) => a.kind)).toContain("patched");
        }
    }, 1_500_000);
});
