/**
 * Crash recovery with the REAL engine on the kubernetes target: the API runs
 * as a child process started as in production (`node --import tsx
 * api/main.ts`, the devdb identity, the built Pulumi CLI) and its whole
 * process group (API, CLI, language host, provider: what dies with a
 * container) is SIGKILLed while a create's `up` is half done. The next start
 * finds the expired lease and, through the real CLI, cancels the stale lock
 * (`pulumi cancel`), clears the pending creates (`pulumi refresh
 * --clear-pending-creates`) and resumes the create, which ends ready and
 * adopts the objects the dead process made; DELETE leaves no namespace and no
 * stack. test/api/restart.test.ts proves the same bookkeeping against the
 * engine test double.
 *
 * Two kill points, each held by pausing part of the SIMULATED cloud (the
 * kubelet is SIMULATED too: kwok):
 * - the Service's create pending, everything else done: the load balancer is
 *   paused, volumes are still provisioned;
 * - the StatefulSet's create pending as well: volumes are paused too, so its
 *   pod waits for its claim. The resumed create applies the StatefulSet the
 *   dead process made again; this failed with "Server-Side Apply field
 *   conflict" until every object got one fixed field manager
 *   (FIELD_MANAGER in components/ondemand/naming.ts) instead of the
 *   provider's random one per create.
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
const SERVICE_TYPE = "kubernetes:core/v1:Service";
const STATEFULSET_TYPE = "kubernetes:apps/v1:StatefulSet";
// Two attempts: the one killed and the one resumed.
const ENV = { DBAAS_OPERATION_MAX_ATTEMPTS: "2" };

interface KillPoint {
    readonly name: string;
    /** What of the SIMULATED cloud is paused until the restart. */
    readonly pause: "balancer" | "with volumes";
    /** The creates the kill leaves pending: exactly these resource types. */
    readonly pending: readonly string[];
    /** An object the dead process made that the resumed create must adopt (same uid), not make again. */
    readonly adopted: readonly [kind: string, name: string];
}
const KILL_POINTS: readonly KillPoint[] = [
    { name: "e2e-crash", pause: "balancer", pending: [SERVICE_TYPE], adopted: ["namespace", ""] },
    { name: "e2e-crash-sts", pause: "with volumes", pending: [SERVICE_TYPE, STATEFULSET_TYPE], adopted: ["statefulset", "postgres"] },
];

let e2e: KubernetesE2e;
let db: Awaited<ReturnType<typeof childDatabase>>;

type DatabaseView = { state: string; failure_reason: string | null; endpoint: { host: string; port: number } | null; last_operation: { status: string; attempts: number } };
const sql = <T extends Record<string, unknown>>(text: string, params: unknown[] = []) => sqlIn<T>(e2e.pg, db.databaseUrl, text, params);
const operation = async (name: string) => (await sql<{ id: number; status: string; attempts: number }>(
    "SELECT o.id, o.status, o.attempts FROM operations o JOIN databases d ON d.id = o.database_id WHERE d.name = $1 AND o.kind = 'create'", [name]))[0];
const adoptedUid = ([kind, object]: KillPoint["adopted"], ns: string) =>
    e2e.adminJson<{ metadata: { uid: string } }>(kind === "namespace" ? ["get", "namespace", ns] : ["get", kind, "-n", ns, object]).metadata.uid;

describe.skipIf(missing)("crash recovery through the API process and the real engine (kubernetes target)", () => {
    beforeAll(async () => {
        e2e = await setUpKubernetesE2e("crash-e2e");
        db = await childDatabase(e2e);
    }, 600_000);

    afterAll(async () => {
        await e2e?.tearDown(KILL_POINTS.map((k) => `${PREFIX}${k.name}`));
    }, 600_000);

    describe.each(KILL_POINTS)("killed with $pending.length create(s) pending ($name)", (point) => {
        const NAME = point.name;
        const NS = `${PREFIX}${NAME}`;
        let first: ApiProcess | undefined;
        let second: ApiProcess | undefined;
        afterAll(async () => {
            await first?.killGroup();
            await second?.stop();
            e2e?.resumeCloud();
        }, 120_000);

        it("a SIGKILL of the API's process group mid-up leaves the operation running, the stack locked and the creates pending", async () => {
            e2e.pauseCloud(point.pause);
            first = await startApiProcess(e2e, db, ENV);
            const r = await first.call("alice", "POST", "/databases", createBody(NAME, { source_ranges: ["203.0.113.0/24"] }));
            expect(r.status, JSON.stringify(r.body)).toBe(202);
            // The provider waits for what the paused cloud never gives (the LoadBalancer's address; with volumes
            // paused, the StatefulSet's ready pod too) while the rest completes: the kill comes with exactly
            // those creates pending.
            const expected = [...point.pending].sort();
            const pending = await waitFor(`the creates of ${expected.join(", ")} pending and the rest done`, () => {
                const latest = stackFiles(e2e.stateRoot, NAME).checkpoint?.latest;
                const ops = latest?.pending_operations ?? [];
                const types = ops.map((o) => o.resource.type).sort();
                // Everything else is done: the NetworkPolicy, and the StatefulSet unless it is one of the pending.
                const done = ["kubernetes:networking.k8s.io/v1:NetworkPolicy", STATEFULSET_TYPE].filter((t) => !expected.includes(t));
                const rest = done.every((t) => (latest?.resources ?? []).some((res) => res.type === t));
                return rest && ops.every((o) => o.type === "creating") && JSON.stringify(types) === JSON.stringify(expected) ? ops : undefined;
            }, 180_000, 200);
            expect(e2e.admin(["get", "service", "-n", NS, "postgres"]).status, "the Service exists in the cluster").toBe(0);
            expect(e2e.admin(["get", "statefulset", "-n", NS, "postgres"]).status, "the StatefulSet exists in the cluster").toBe(0);
            const pgid = first.pid;
            await first.killGroup();
            first = undefined;
            expect(groupAlive(pgid), "no CLI, language host or provider outlives the kill").toBe(false);

            expect(await operation(NAME)).toMatchObject({ status: "running", attempts: 1 });
            const left = stackFiles(e2e.stateRoot, NAME);
            expect(left.locks.length, "the dead update's lock file").toBeGreaterThan(0);
            expect(left.checkpoint?.latest?.pending_operations?.map((o) => o.resource.urn).sort(), "the creates are left pending").toEqual(pending.map((o) => o.resource.urn).sort());
            expect(left.checkpoint?.latest?.resources?.some((res) => res.type === "kubernetes:core/v1:Namespace"), "the namespace is in the state").toBe(true);
        }, 300_000);

        it("the next start cancels the stale lock, clears the pending create and resumes the create to ready", async () => {
            const uid = adoptedUid(point.adopted, NS);
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
            for (const type of point.pending) {
                expect(after.checkpoint?.latest?.resources?.filter((res) => res.type === type).length, `one ${type} in the state`).toBe(1);
            }
            // The resumed update adopted what the dead one had made rather than making it again.
            expect(adoptedUid(point.adopted, NS), `the ${point.adopted[0]} the dead process made`).toBe(uid);

            const op = await operation(NAME);
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
});
