/**
 * Crash and restart: the API's real entry point runs as a child process
 * (test/api/serverEntry.ts: main.ts with the engine test double) against a
 * real admin database. It is killed with SIGKILL while an operation runs and
 * started again: the operation is resumed (after the engine's stale update is
 * cancelled) or, with no attempts left, marked failed with a reason; nothing
 * written to the audit log before the crash is lost. SIGTERM hands a running
 * operation back and exits cleanly.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as readline from "node:readline";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { tokenLine } from "../../api/http/auth";
import { REPO_ROOT } from "../../api/config";
import { sharedPostgres, type PostgresServer } from "../support/postgres";
import { CATALOG, createBody, freshDatabaseUrl, sqlIn, TOKENS, waitFor } from "../support/testApi";

let pg: PostgresServer;
let tmp: string;
const children = new Set<ChildProcess>();

beforeAll(async () => {
    pg = await sharedPostgres();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-restart-"));
    fs.writeFileSync(path.join(tmp, "tokens"), [tokenLine("alice", "user", TOKENS.alice), tokenLine("admin", "admin", TOKENS.admin)].join("\n"));
});
afterEach(() => {
    for (const c of children) c.kill("SIGKILL");
    children.clear();
});
afterAll(async () => {
    await pg?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
});

interface Child {
    readonly proc: ChildProcess;
    readonly url: string;
    readonly engineCalls: { method: string; name: string }[];
    readonly exited: Promise<number | null>;
}

async function startChild(databaseUrl: string, env: Record<string, string>): Promise<Child> {
    const proc = spawn(process.execPath, ["--import", "tsx", path.join("test", "api", "serverEntry.ts")], {
        cwd: REPO_ROOT,
        env: {
            PATH: process.env.PATH ?? "",
            HOME: process.env.HOME ?? tmp,
            DATABASE_URL: databaseUrl,
            PORT: "0",
            HOST: "127.0.0.1",
            LOG_LEVEL: "info",
            DBAAS_TOKENS_FILE: path.join(tmp, "tokens"),
            DBAAS_CATALOG: JSON.stringify(CATALOG),
            DBAAS_JOB_LEASE_SECONDS: "1",
            DBAAS_JOB_POLL_MS: "50",
            DBAAS_SHUTDOWN_GRACE_SECONDS: "0.2",
            DBAAS_REAPER_INTERVAL_SECONDS: "0",
            // Not dashboard/dist: main.ts would rebuild it there (stale after the dashboard tests' own
            // builds), emptying it under the dashboard tests running at the same time, and the build
            // would eat into this child's start-up timeout. This test is about crash recovery, not the page.
            DBAAS_DASHBOARD_DIR: path.join(tmp, "no-dashboard"),
            ...env,
        },
        stdio: ["ignore", "pipe", "pipe"],
    });
    children.add(proc);
    const engineCalls: { method: string; name: string }[] = [];
    const stderr: string[] = [];
    proc.stderr?.on("data", (d: Buffer) => stderr.push(d.toString()));
    const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => {
        children.delete(proc);
        resolve(code);
    }));
    const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`API child did not start: ${stderr.join("")}`)), 30_000);
        readline.createInterface({ input: proc.stdout }).on("line", (line) => {
            let msg: { url?: string; msg?: string; engineCall?: { method: string; name: string } };
            try {
                msg = JSON.parse(line) as typeof msg;
            } catch {
                return;
            }
            if (msg.engineCall) engineCalls.push(msg.engineCall);
            if (msg.msg === "dbaas API listening" && msg.url) {
                clearTimeout(timer);
                resolve(msg.url);
            }
        });
        void exited.then((code) => reject(new Error(`API child exited with ${code}: ${stderr.join("")}`)));
    });
    return { proc, url, engineCalls, exited };
}

async function call(child: Child, method: string, p: string, body?: unknown) {
    const res = await fetch(child.url + p, {
        method,
        headers: { authorization: `Bearer ${TOKENS.alice}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

type AuditRow = { id: number; actor: string; action: string; outcome: string; database: string; detail: unknown; at: Date };
const auditOf = (url: string) => sqlIn<AuditRow>(pg, url, "SELECT id, actor, action, outcome, database, detail, at FROM audit_log ORDER BY id");
const operationOf = async (url: string, name: string) => (await sqlIn<{ id: number; status: string; attempts: number; error: string | null }>(pg, url,
    "SELECT o.id, o.status, o.attempts, o.error FROM operations o JOIN databases d ON d.id = o.database_id WHERE d.name = $1 ORDER BY o.id DESC LIMIT 1", [name]))[0];

async function killWhileRunning(url: string, name: string): Promise<AuditRow[]> {
    const child = await startChild(url, { FAKE_ENGINE_DELAY_MS: "600000" });
    expect((await call(child, "POST", "/databases", createBody(name))).status).toBe(202);
    await waitFor("the operation to run and report progress", async () => {
        const op = await operationOf(url, name);
        const events = await sqlIn<{ n: number }>(pg, url, "SELECT count(*)::int AS n FROM operation_events WHERE kind = 'resource-start'");
        return op?.status === "running" && (events[0]?.n ?? 0) > 0 ? true : undefined;
    });
    const before = await auditOf(url);
    child.proc.kill("SIGKILL");
    await child.exited;
    expect((await operationOf(url, name))?.status).toBe("running");
    return before;
}

describe("restart after a crash", () => {
    it("resumes the operation that was running: stale update cancelled, run again, audit log intact", async () => {
        const url = await freshDatabaseUrl(pg);
        const before = await killWhileRunning(url, "db-crashed");
        expect(before.map((a) => [a.action, a.outcome])).toEqual([["database.create", "accepted"]]);

        const child = await startChild(url, { FAKE_ENGINE_DELAY_MS: "50" });
        const db = await waitFor("the database to be ready", async () => {
            const r = await call(child, "GET", "/databases/db-crashed");
            return r.body.state === "ready" ? r.body : undefined;
        });
        expect(db.last_operation).toMatchObject({ status: "succeeded", attempts: 2 });
        expect(child.engineCalls.filter((c) => c.name === "db-crashed").map((c) => c.method)).toEqual(["cancel", "up"]);

        const after = await auditOf(url);
        expect(after.slice(0, before.length)).toEqual(before);
        expect(after.slice(before.length).map((a) => [a.actor, a.action, a.outcome])).toEqual([
            ["system", "operation.create", "resumed"],
            ["system", "operation.create", "succeeded"],
        ]);
        const events = await sqlIn<{ kind: string; data: { message?: string } }>(pg, url, "SELECT kind, data FROM operation_events ORDER BY id");
        expect(events.some((e) => e.kind === "status" && /stopped; resuming/.test(e.data.message ?? ""))).toBe(true);
        expect(events.at(-1)?.kind).toBe("end");
        child.proc.kill("SIGTERM");
        expect(await child.exited).toBe(0);
    });

    it("marks the operation failed with a reason when no attempts are left", async () => {
        const url = await freshDatabaseUrl(pg);
        const before = await killWhileRunning(url, "db-gave-up");
        const child = await startChild(url, { FAKE_ENGINE_DELAY_MS: "50", DBAAS_OPERATION_MAX_ATTEMPTS: "1" });
        const db = await waitFor("the database to be failed", async () => {
            const r = await call(child, "GET", "/databases/db-gave-up");
            return r.body.state === "failed" ? r.body : undefined;
        });
        expect(db.failure_reason).toBe("the API process running it stopped during attempt 1 of 1; no attempts left");
        const after = await auditOf(url);
        expect(after.slice(0, before.length)).toEqual(before);
        expect(after.at(-1)).toMatchObject({ actor: "system", action: "operation.create", outcome: "failed" });

        expect((await call(child, "POST", "/databases/db-gave-up/retry")).status).toBe(202);
        await waitFor("the retry to succeed", async () => ((await call(child, "GET", "/databases/db-gave-up")).body.state === "ready" ? true : undefined));
        child.proc.kill("SIGTERM");
        await child.exited;
    });

    it("SIGTERM hands the running operation back and exits 0; the next start finishes it", async () => {
        const url = await freshDatabaseUrl(pg);
        const child = await startChild(url, { FAKE_ENGINE_DELAY_MS: "600000" });
        expect((await call(child, "POST", "/databases", createBody("db-term"))).status).toBe(202);
        await waitFor("the operation to run", async () => ((await operationOf(url, "db-term"))?.status === "running" ? true : undefined));
        child.proc.kill("SIGTERM");
        expect(await child.exited).toBe(0);
        expect(await operationOf(url, "db-term")).toMatchObject({ status: "queued", attempts: 0 });

        const next = await startChild(url, { FAKE_ENGINE_DELAY_MS: "50" });
        await waitFor("the database to be ready", async () => ((await call(next, "GET", "/databases/db-term")).body.state === "ready" ? true : undefined));
        expect(await operationOf(url, "db-term")).toMatchObject({ status: "succeeded", attempts: 1 });
        next.proc.kill("SIGTERM");
        await next.exited;
    });
});
