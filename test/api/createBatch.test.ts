/**
 * Creates that arrive together share one statement and one commit: the
 * Batcher on its own, then AdminStore.createDatabase against a real admin
 * database (every row of a shared batch gets its own operation, audit entry
 * and event; taken names and a faulty row fail alone).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Batcher } from "../../api/store/batch";
import { AdminStore, type NewDatabase } from "../../api/store/store";
import type { DatabaseSpec } from "../../contracts/database";
import { sharedPostgres, type PostgresServer } from "../support/postgres";
import { freshDatabaseUrl, sqlIn } from "../support/testApi";

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
    let resolve!: (v: T) => void;
    const promise = new Promise<T>((r) => (resolve = r));
    return { promise, resolve };
}

describe("Batcher", () => {
    it("sends items of one turn together and answers each caller with its own result, in order", async () => {
        const batches: number[][] = [];
        const b = new Batcher<number, number>((items) => {
            batches.push([...items]);
            return Promise.resolve(items.map((i) => i * 10));
        }, { maxBatch: 100, maxInFlight: 1 });
        const results = await Promise.all([1, 2, 3, 4, 5].map((i) => b.submit(i)));
        expect(results).toEqual([10, 20, 30, 40, 50]);
        expect(batches).toEqual([[1, 2, 3, 4, 5]]);
    });

    it("holds items while maxInFlight batches run, then sends them together, at most maxBatch at a time", async () => {
        const gate = deferred<void>();
        const batches: number[][] = [];
        let running = 0;
        let mostRunning = 0;
        const b = new Batcher<number, number>(async (items) => {
            batches.push([...items]);
            running++;
            mostRunning = Math.max(mostRunning, running);
            if (items[0] === 0) await gate.promise;
            running--;
            return items.map((i) => -i);
        }, { maxBatch: 3, maxInFlight: 1 });
        const first = b.submit(0);
        await new Promise((r) => setImmediate(r));
        const later = [1, 2, 3, 4, 5, 6, 7].map((i) => b.submit(i));
        await new Promise((r) => setTimeout(r, 20));
        expect(b.waiting).toBe(7);
        gate.resolve();
        expect(await first).toBe(-0);
        expect(await Promise.all(later)).toEqual([-1, -2, -3, -4, -5, -6, -7]);
        expect(batches).toEqual([[0], [1, 2, 3], [4, 5, 6], [7]]);
        expect(mostRunning).toBe(1);
    });

    it("runs a failed batch again item by item, so only the faulty item fails", async () => {
        const calls: number[][] = [];
        const b = new Batcher<number, string>((items) => {
            calls.push([...items]);
            if (items.includes(3)) return Promise.reject(new Error("item 3 is bad"));
            return Promise.resolve(items.map((i) => `ok ${i}`));
        }, { maxBatch: 10, maxInFlight: 2 });
        const settled = await Promise.allSettled([1, 2, 3, 4].map((i) => b.submit(i)));
        expect(settled.map((s) => (s.status === "fulfilled" ? s.value : (s.reason as Error).message))).toEqual(["ok 1", "ok 2", "item 3 is bad", "ok 4"]);
        expect(calls[0]).toEqual([1, 2, 3, 4]);
        expect(calls.slice(1).every((c) => c.length === 1)).toBe(true);
    });

    it("refuses options that would never send anything", () => {
        expect(() => new Batcher(() => Promise.resolve([]), { maxBatch: 0, maxInFlight: 1 })).toThrow(/maxBatch/);
        expect(() => new Batcher(() => Promise.resolve([]), { maxBatch: 1, maxInFlight: 0.5 })).toThrow(/maxInFlight/);
    });
});

describe("AdminStore.createDatabase with a real admin database", () => {
    let pg: PostgresServer;
    let url: string;
    let store: AdminStore;
    beforeAll(async () => {
        pg = await sharedPostgres();
        url = await freshDatabaseUrl(pg);
        store = new AdminStore(url, 4);
        await store.migrate();
    });
    afterAll(async () => {
        await store?.close();
        await pg?.stop();
    });

    const row = (name: string, extra: Partial<NewDatabase> = {}): NewDatabase => ({
        name, owner: "alice", projectId: "p", dbType: "postgres", version: "PostgreSQL 17",
        spec: { name } as unknown as DatabaseSpec, // the store keeps the spec as given; its schema is tested elsewhere
        ttlHours: 8, expiresAt: new Date("2030-01-01T00:00:00Z"), createdBy: "admin", requestId: `req-${name}`,
        auditDetail: { to: "creating" }, event: { message: `create ${name}` }, ...extra,
    });

    it("gives every create of a shared batch its own rows, and skips taken names", async () => {
        expect(await store.createDatabase(row("taken"))).toBeDefined();
        const names = Array.from({ length: 30 }, (_, i) => `burst-${i}`);
        const submitted = [...names, "dup", "dup", "taken"];
        const results = await Promise.all(submitted.map((n, i) => store.createDatabase(row(n, { requestId: `req-${i}` }))));

        const accepted = results.filter((r) => r !== undefined);
        expect(accepted).toHaveLength(31);
        expect(results[submitted.length - 1]).toBeUndefined(); // "taken"
        expect(results.filter((r, i) => submitted[i] === "dup" && r !== undefined)).toHaveLength(1);
        results.forEach((r, i) => {
            if (r === undefined) return;
            expect(r.database.name).toBe(submitted[i]);
            expect(r.database.state).toBe("creating");
            expect(r.database.current_operation_id).toBe(r.operation.id);
            expect(r.operation).toMatchObject({ database_id: r.database.id, kind: "create", status: "queued", request_id: `req-${i}` });
        });

        const rows = await sqlIn<{ name: string; op_db: string; audit_request: string; audit_op: string; events: number; tx: string }>(pg, url, `
            SELECT d.name, o.database_id = d.id AS op_db, a.request_id AS audit_request, (a.operation_id = o.id)::text AS audit_op,
                   (SELECT count(*)::int FROM operation_events e WHERE e.operation_id = o.id) AS events, d.xmin::text AS tx
            FROM databases d JOIN operations o ON o.id = d.current_operation_id
            JOIN audit_log a ON a.database = d.name AND a.action = 'database.create'
            WHERE d.name LIKE 'burst-%' OR d.name = 'dup'`);
        expect(rows).toHaveLength(31);
        for (const r of rows) {
            const i = results.findIndex((x) => x?.database.name === r.name);
            expect(r).toMatchObject({ op_db: true, audit_request: `req-${i}`, audit_op: "true", events: 1 });
        }
        // Shared statements: fewer transactions than creates.
        expect(new Set(rows.map((r) => r.tx)).size).toBeLessThan(rows.length);
    });

    it("fails only the faulty create of a batch", async () => {
        const results = await Promise.allSettled([
            store.createDatabase(row("fine-1")),
            store.createDatabase(row("bad", { ttlHours: 1e12 })), // out of range for the integer column
            store.createDatabase(row("fine-2")),
        ]);
        expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
        expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/out of range/);
        const names = await sqlIn<{ name: string }>(pg, url, "SELECT name FROM databases WHERE name IN ('fine-1', 'bad', 'fine-2') ORDER BY name");
        expect(names.map((n) => n.name)).toEqual(["fine-1", "fine-2"]);
    });

    it("commits without waiting for the disk, keeping the URL's own options; the main pool stays durable", async () => {
        const ownUrl = await freshDatabaseUrl(pg); // carries ?options=-c search_path=<schema>
        const own = new AdminStore(ownUrl, 2);
        try {
            await own.migrate();
            const progress = await own.progressPool.query<{ sc: string; sp: string }>("SELECT current_setting('synchronous_commit') AS sc, current_setting('search_path') AS sp");
            expect(progress.rows[0]?.sc).toBe("off");
            expect(progress.rows[0]?.sp).toMatch(/^t_[0-9a-f]+$/);
            const main = await own.pool.query<{ sc: string }>("SELECT current_setting('synchronous_commit') AS sc");
            expect(main.rows[0]?.sc).toBe("on");
        } finally {
            await own.close();
        }
    });
});
