/**
 * The API with the real AutomationEngine in front of the recording fake CLI
 * (a TEST DOUBLE, test/api/engine/fake-pulumi/bin/pulumi) and a real admin
 * database: create, idempotent retry of a failed create, delete of a
 * database whose stack is gone, cancellation, timeouts and crash recovery,
 * end to end.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AutomationEngine } from "../../../api/engine/automation";
import { createBody, startTestApi, waitFor, waitForState, type TestApi } from "../../support/testApi";
import { sharedPostgres, type PostgresServer } from "../../support/postgres";
import { fakeCli, type FakeCli, type Scenario } from "./fakeCli";

let server: PostgresServer;
let api: TestApi | undefined;
let cli: FakeCli | undefined;
beforeAll(async () => {
    server = await sharedPostgres();
});
afterEach(async () => {
    await api?.close(200);
    api = undefined;
    cli?.cleanup();
    cli = undefined;
});
afterAll(async () => {
    await server?.stop();
});

async function start(scenario: Scenario, env: Record<string, string> = {}, o: { runJobs?: boolean; databaseUrl?: string } = {}): Promise<TestApi> {
    cli ??= fakeCli(scenario);
    const engine = new AutomationEngine({ settings: cli.settings });
    api = await startTestApi(server, { engine, env, ...o });
    return api;
}

/** Runs SQL on the admin database the API uses. */
async function adminQuery<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
        return (await c.query<T>(sql)).rows;
    } finally {
        await c.end();
    }
}

const keys = (): string[] => (cli?.calls() ?? []).map((c) => c.key).filter((k): k is string => k !== undefined);

describe("through the API with the Automation API engine", () => {
    it("creates a database: ready, with the program's outputs and the engine's progress events", async () => {
        const a = await start({});
        expect((await a.call("alice", "POST", "/databases", { body: createBody("e2e-create") })).status).toBe(202);
        const db: unknown = await waitForState(a, "e2e-create", "ready", 60_000);
        expect(JSON.stringify(db)).not.toContain("fake-secret-password");
        expect(keys()).toEqual(expect.arrayContaining(["stack init", "up", "stack output"]));
        const up = cli?.calls().find((c) => c.key === "up");
        expect(up?.cwd).toBe(path.join(cli?.settings.stateRoot ?? "", "e2e-create"));
        const events = await adminQuery(a.databaseUrl, "SELECT kind, data FROM operation_events ORDER BY id");
        expect(JSON.stringify(events)).toMatch(/resource-start[\s\S]*resource-done[\s\S]*summary/);
    });

    it("a failed create shows the program's reason; retry resumes the same stack and becomes ready", async () => {
        const a = await start({
            responses: {
                up: [{
                    exitCode: 255,
                    stderr: "error: update failed",
                    events: [{ diagnosticEvent: { message: "error: backup restore failed: archive is not a pg_dump file (postgresql://app:hunter2@db/app)\n", color: "never", severity: "error" } }],
                }, {}],
            },
        });
        await a.call("alice", "POST", "/databases", { body: createBody("e2e-retry") });
        const failed: unknown = await waitForState(a, "e2e-retry", "failed", 60_000);
        expect(JSON.stringify(failed)).toContain("backup restore failed: archive is not a pg_dump file");
        expect(JSON.stringify(failed)).not.toContain("hunter2");
        expect((await a.call("alice", "POST", "/databases/e2e-retry/retry")).status).toBe(202);
        await waitForState(a, "e2e-retry", "ready", 60_000);
        // The retry's `stack init` is answered "already exists" and the stack left behind is selected.
        const k = keys();
        expect(k.filter((x) => x === "stack init")).toHaveLength(2);
        expect(k[k.lastIndexOf("stack init") + 1]).toBe("stack select");
        expect(k.filter((x) => x === "up")).toHaveLength(2);
    });

    it("a create a mandatory policy refuses fails at once, its reason naming the policy and the resource", async () => {
        const a = await start({
            responses: {
                up: {
                    exitCode: 255,
                    stderr: "error: update failed",
                    events: [{ policyEvent: { resourceUrn: "urn:pulumi:e2e-policy::dbaas-db::docker:index/container:Container::e2e-policy", message: "PostgreSQL containers use an image from the version catalog.\n\"postgres:9.6\" is not in the version catalog", color: "never", policyName: "postgres-image-from-catalog", policyPackName: "dbaas", policyPackVersion: "0.1.0", policyPackVersionTag: "0.1.0", enforcementLevel: "mandatory" } }],
                },
            },
        });
        await a.call("alice", "POST", "/databases", { body: createBody("e2e-policy") });
        const failed: unknown = await waitForState(a, "e2e-policy", "failed", 60_000);
        expect(JSON.stringify(failed)).toContain('policy postgres-image-from-catalog blocked the update on docker:index/container:Container \\"e2e-policy\\"');
        expect(keys().filter((k) => k === "up")).toHaveLength(1);
        expect(cli?.calls().find((c) => c.key === "up")?.argv).toContain("--policy-pack");
    });

    it("deletes a database whose stack is already gone, and removes its work dir", async () => {
        const a = await start({});
        await a.call("alice", "POST", "/databases", { body: createBody("e2e-gone") });
        await waitForState(a, "e2e-gone", "ready", 60_000);
        // Someone removed the stack behind the API's back.
        const stateFile = path.join(cli?.dir ?? "", "state.json");
        const state = JSON.parse(fs.readFileSync(stateFile, "utf8")) as { stacks: string[] };
        fs.writeFileSync(stateFile, JSON.stringify({ ...state, stacks: [] }));
        expect((await a.call("alice", "DELETE", "/databases/e2e-gone")).status).toBe(202);
        await waitForState(a, "e2e-gone", "deleted", 60_000);
        expect(fs.existsSync(path.join(cli?.settings.stateRoot ?? "", "e2e-gone"))).toBe(false);
        expect(keys()).not.toContain("destroy");
    });

    it("cancel interrupts the running CLI; the database becomes failed", async () => {
        const a = await start({ responses: { up: { sleepMs: 60_000 } } });
        await a.call("alice", "POST", "/databases", { body: createBody("e2e-cancel") });
        await waitFor("up to start", () => Promise.resolve(keys().includes("up") ? true : undefined), 60_000);
        expect((await a.call("alice", "POST", "/databases/e2e-cancel/cancel")).status).toBe(202);
        await waitForState(a, "e2e-cancel", "failed", 30_000);
        // The API may record the failure before the interrupted CLI has written its last line.
        await waitFor("the CLI to be interrupted", () => Promise.resolve(cli?.calls().some((c) => c.signal === "SIGINT") === true ? true : undefined), 10_000);
    });

    it("an operation over DBAAS_OPERATION_TIMEOUT_SECONDS is interrupted and fails", async () => {
        // The stack exists, so `up` starts within the limit even on a loaded machine (after `stack init`
        // is answered "already exists" and the stack is selected).
        const a = await start({ stacks: ["e2e-timeout"], responses: { up: { sleepMs: 60_000 } } }, { DBAAS_OPERATION_TIMEOUT_SECONDS: "12", DBAAS_OPERATION_MAX_ATTEMPTS: "1" });
        await a.call("alice", "POST", "/databases", { body: createBody("e2e-timeout") });
        const failed: unknown = await waitForState(a, "e2e-timeout", "failed", 60_000);
        expect(JSON.stringify(failed)).toMatch(/time/i);
        expect(keys()).toContain("up");
        await waitFor("the CLI to be interrupted", () => Promise.resolve(cli?.calls().some((c) => c.signal === "SIGINT") === true ? true : undefined), 10_000);
    });

    it("recovers an operation whose process died: cancel, refresh --clear-pending-creates, then the create resumes", async () => {
        const first = await start({ stacks: ["e2e-crash"] }, {}, { runJobs: false });
        await first.call("alice", "POST", "/databases", { body: createBody("e2e-crash") });
        await first.close(100);
        api = undefined;
        // As if a worker had claimed it and then died: running, with a lease that ran out.
        await adminQuery(first.databaseUrl, "UPDATE operations SET status = 'running', attempts = 1, lease_owner = 'dead-worker', lease_until = now() - interval '1 minute', started_at = now()");

        const second = await start({}, {}, { databaseUrl: first.databaseUrl });
        await waitForState(second, "e2e-crash", "ready", 60_000);
        const k = keys();
        expect(k.indexOf("cancel")).toBeGreaterThanOrEqual(0);
        expect(k.indexOf("refresh")).toBeGreaterThan(k.indexOf("cancel"));
        expect(k.lastIndexOf("up")).toBeGreaterThan(k.indexOf("refresh"));
        expect(cli?.calls().find((c) => c.key === "refresh")?.argv).toContain("--clear-pending-creates");
        // The resumed create's `stack init` is answered "already exists": the existing stack is selected.
        expect(k.filter((x) => x === "stack init")).toHaveLength(1);
        expect(k[k.indexOf("stack init") + 1]).toBe("stack select");
    });
});
