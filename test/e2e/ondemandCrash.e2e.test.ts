/**
 * Crash recovery with the REAL engine on the kubernetes target: the API runs
 * as a child process started as in production (`node --import tsx
 * api/main.ts`, the devdb identity, the built Pulumi CLI) and its whole
 * process group (API, CLI, language host, provider: what dies with a
 * container) is SIGKILLed while a create's `up` is half done. The next start
 * finds the expired lease and, through the real CLI, cancels the stale lock
 * (`pulumi cancel`), clears the pending creates (`pulumi refresh
 * --clear-pending-creates`) and resumes the create, which ends ready; DELETE
 * leaves no namespace and no stack. test/api/restart.test.ts proves the same
 * bookkeeping against the engine test double.
 *
 * To kill at a known point the SIMULATED cloud load balancer is paused (the
 * SIMULATED storage provisioner keeps running), so the kill comes while the
 * provider waits for the Service's address (its create pending in the
 * checkpoint) and everything else is done; the load balancer is resumed
 * before the restart. SIMULATED as well: the kubelet (kwok).
 *
 * Not covered here, because it does not recover (seen with this CLI and
 * provider; docs/e2e-kubernetes.md): a kill while the StatefulSet's create is
 * pending. The resumed create then fails with "Server-Side Apply field
 * conflict" on the StatefulSet the dead process made: the re-create applies
 * with a new random field manager, and the live object belongs to the dead
 * one's (which field conflicts, the provider does not say).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBody, sqlIn, waitFor } from "../support/testApi";
import { requireKubernetes, requirePulumi } from "./engine";
import {
    childDatabase, groupAlive, PREFIX, setUpKubernetesE2e, stackFiles, startApiProcess, waitDeleted,
    type ApiProcess, type KubernetesE2e,
} from "./ondemandApi";

const missing = requirePulumi() ?? requireKubernetes();
const NAME = "e2e-crash";
const NS = `${PREFIX}${NAME}`;
const SERVICE_TYPE = "kubernetes:core/v1:Service";
const STATEFULSET_TYPE = "kubernetes:apps/v1:StatefulSet";
// Two attempts: the one killed and the one resumed.
const ENV = { DBAAS_OPERATION_MAX_ATTEMPTS: "2" };

let e2e: KubernetesE2e;
let db: Awaited<ReturnType<typeof childDatabase>>;
let first: ApiProcess | undefined;
let second: ApiProcess | undefined;

type DatabaseView = { state: string; failure_reason: string | null; endpoint: { host: string; port: number } | null; last_operation: { status: string; attempts: number } };
const sql = <T extends Record<string, unknown>>(text: string, params: unknown[] = []) => sqlIn<T>(e2e.pg, db.databaseUrl, text, params);
const operation = async () => (await sql<{ id: number; status: string; attempts: number }>(
    "SELECT o.id, o.status, o.attempts FROM operations o JOIN databases d ON d.id = o.database_id WHERE d.name = $1 AND o.kind = 'create'", [NAME]))[0];

describe.skipIf(missing)("crash recovery through the API process and the real engine (kubernetes target)", () => {
    beforeAll(async () => {
        e2e = await setUpKubernetesE2e("crash-e2e");
        db = await childDatabase(e2e);
    }, 600_000);

    afterAll(async () => {
        await first?.killGroup();
        await second?.stop();
        await e2e?.tearDown([NS]);
    }, 600_000);

    it("a SIGKILL of the API's process group mid-up leaves the operation running, the stack locked and a create pending", async () => {
        e2e.pauseCloud();
        first = await startApiProcess(e2e, db, ENV);
        const r = await first.call("alice", "POST", "/databases", createBody(NAME, { source_ranges: ["203.0.113.0/24"] }));
        expect(r.status, JSON.stringify(r.body)).toBe(202);
        // The provider waits for the LoadBalancer's address, which the paused cloud never gives, while the
        // rest (volumes are still provisioned) completes: the kill then comes with only the Service pending.
        const pending = await waitFor("the Service's create pending and the StatefulSet's done", () => {
            const latest = stackFiles(e2e.stateRoot, NAME).checkpoint?.latest;
            const ops = latest?.pending_operations ?? [];
            const done = (latest?.resources ?? []).some((res) => res.type === STATEFULSET_TYPE);
            return done && ops.length === 1 && ops[0]?.resource.type === SERVICE_TYPE && ops[0].type === "creating" ? ops : undefined;
        }, 180_000, 200);
        expect(e2e.admin(["get", "service", "-n", NS, "postgres"]).status, "the Service exists in the cluster").toBe(0);
        const pgid = first.pid;
        await first.killGroup();
        first = undefined;
        expect(groupAlive(pgid), "no CLI, language host or provider outlives the kill").toBe(false);

        expect(await operation()).toMatchObject({ status: "running", attempts: 1 });
        const left = stackFiles(e2e.stateRoot, NAME);
        expect(left.locks.length, "the dead update's lock file").toBeGreaterThan(0);
        expect(left.checkpoint?.latest?.pending_operations?.map((o) => o.resource.urn), "the Service's create is left pending").toEqual(pending.map((o) => o.resource.urn));
        expect(left.checkpoint?.latest?.resources?.some((res) => res.type === "kubernetes:core/v1:Namespace"), "the namespace is in the state").toBe(true);
    }, 300_000);

    it("the next start cancels the stale lock, clears the pending create and resumes the create to ready", async () => {
        const namespaceUid = e2e.adminJson<{ metadata: { uid: string } }>(["get", "namespace", NS]).metadata.uid;
        e2e.resumeCloud();
        second = await startApiProcess(e2e, db, ENV);
        const proc = second;
        const view = await waitFor("the resumed create to end", async () => {
            const g = await proc.call("alice", "GET", `/databases/${NAME}`);
            const body = g.body as unknown as DatabaseView;
            return body.state === "ready" || body.state === "failed" ? body : undefined;
        }, 240_000, 500);
        expect(view.state, `failure: ${view.failure_reason}`).toBe("ready");
        expect(view.last_operation).toMatchObject({ status: "succeeded", attempts: 2 });
        expect(view.endpoint).toMatchObject({ host: "203.0.113.10", port: 5432 });

        expect(proc.logs.some((l) => l.msg === "recovered an operation whose worker stopped" && l.database === NAME), "the API logged the recovery").toBe(true);
        const after = stackFiles(e2e.stateRoot, NAME);
        expect(after.locks, "no lock left").toEqual([]);
        expect(after.checkpoint?.latest?.pending_operations ?? [], "no pending operation left").toEqual([]);
        expect(after.checkpoint?.latest?.resources?.filter((res) => res.type === SERVICE_TYPE).length, "one Service in the state").toBe(1);
        // The resumed update adopted what the dead one had made rather than making it again.
        expect(e2e.adminJson<{ metadata: { uid: string } }>(["get", "namespace", NS]).metadata.uid).toBe(namespaceUid);

        const op = await operation();
        const events = await sql<{ kind: string; data: { message?: string } }>("SELECT kind, data FROM operation_events WHERE operation_id = $1 ORDER BY id", [op?.id]);
        const attempts = events.filter((e) => e.kind === "status" && /started|stopped/.test(e.data.message ?? ""));
        expect(attempts.map((e) => e.data.message)).toEqual([
            "create started (attempt 1 of 2)",
            "the API process running attempt 1 stopped; resuming",
            "create started (attempt 2 of 2)",
        ]);
        expect(events.at(-1)?.kind).toBe("end");
        const audit = await sql<{ actor: string; action: string; outcome: string }>("SELECT actor, action, outcome FROM audit_log WHERE database = $1 ORDER BY id", [NAME]);
        expect(audit.map((a) => [a.actor, a.action, a.outcome])).toEqual([
            ["alice", "database.create", "accepted"],
            ["system", "operation.create", "resumed"],
            ["system", "operation.create", "succeeded"],
        ]);
    }, 300_000);

    it("DELETE then leaves no namespace and no stack", async () => {
        const proc = second!;
        expect((await proc.call("alice", "DELETE", `/databases/${NAME}`)).status).toBe(202);
        await waitDeleted(proc, NAME, 240_000);
        expect(e2e.namespaceExists(NS), "the namespace is gone once the delete has finished").toBe(false);
        const files = stackFiles(e2e.stateRoot, NAME);
        expect(files.checkpoint, "the stack in the file backend").toBeUndefined();
        expect(files.locks).toEqual([]);
        expect(fs.existsSync(path.join(e2e.stateRoot, NAME)), "the work directory").toBe(false);
    }, 300_000);
});
