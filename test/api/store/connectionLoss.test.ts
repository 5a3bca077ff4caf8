import { describe, expect, it } from "vitest";
import { isConnectionLoss, retryOnConnectionLoss } from "../../../api/store/connectionLoss";

const withCode = (code: string, message = "x") => Object.assign(new Error(message), { code });

describe("isConnectionLoss", () => {
    it.each([
        ["a refused connect", withCode("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:5432")],
        ["a reset socket", withCode("ECONNRESET")],
        ["fast shutdown (57P01 terminating connection due to administrator command)", withCode("57P01")],
        ["a server starting up (57P03)", withCode("57P03", "the database system is starting up")],
        ["a connection exception (08006)", withCode("08006")],
        ["node-postgres's own message", new Error("Connection terminated unexpectedly")],
        ["a client that saw the error", new Error("Client has encountered a connection error and is not queryable")],
        ["every address refused", new AggregateError([withCode("ECONNREFUSED"), withCode("ECONNREFUSED")], "")],
    ])("%s is a connection loss", (_n, e) => {
        expect(isConnectionLoss(e)).toBe(true);
    });

    it.each([
        ["a unique violation (23505)", withCode("23505")],
        ["a syntax error (42601)", withCode("42601")],
        ["a serialization failure (40001): the transaction's own business", withCode("40001")],
        ["a wrong password (28P01)", withCode("28P01")],
        ["a plain error", new Error("boom")],
        ["a thrown string", "Connection terminated"],
        ["mixed causes", new AggregateError([withCode("ECONNREFUSED"), new Error("boom")], "")],
    ])("%s is not", (_n, e) => {
        expect(isConnectionLoss(e)).toBe(false);
    });
});

describe("retryOnConnectionLoss", () => {
    /** A clock the sleeps advance, so nothing waits. */
    function clock() {
        let t = 0;
        const slept: number[] = [];
        return { slept, now: () => t, sleep: (ms: number) => { slept.push(ms); t += ms; return Promise.resolve(); } };
    }

    it("retries a write that lost its connection, with doubling waits, until it succeeds", async () => {
        const c = clock();
        let calls = 0;
        const result = await retryOnConnectionLoss(() => (++calls < 5 ? Promise.reject(withCode("ECONNREFUSED")) : Promise.resolve("stored")), { forMs: 60_000, delayMs: 100, maxDelayMs: 500, ...c });
        expect(result).toBe("stored");
        expect(c.slept).toEqual([100, 200, 400, 500]);
    });

    it("does not retry any other error", async () => {
        const c = clock();
        let calls = 0;
        await expect(retryOnConnectionLoss(() => { calls++; return Promise.reject(withCode("23505", "duplicate key")); }, { forMs: 60_000, ...c })).rejects.toThrow("duplicate key");
        expect(calls).toBe(1);
    });

    it("gives up with the last error once its time is spent, or when told to stop", async () => {
        const c = clock();
        await expect(retryOnConnectionLoss(() => Promise.reject(withCode("57P03", "starting up")), { forMs: 1000, delayMs: 250, ...c })).rejects.toThrow("starting up");
        expect(c.slept.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(1000);
        let calls = 0;
        await expect(retryOnConnectionLoss(() => { calls++; return Promise.reject(withCode("ECONNRESET", "reset")); }, { forMs: 60_000, stop: () => true, ...clock() })).rejects.toThrow("reset");
        expect(calls).toBe(1);
    });
});
