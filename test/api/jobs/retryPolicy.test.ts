import { describe, expect, it } from "vitest";
import { ConcurrentUpdateError, EngineUnavailableError, OperationAbortedError, ProgramError, StackNotFoundError, type EngineEvent } from "../../../api/engine/types";
import { backoffMs, decideOutcome, publicReason, sanitizeEvent } from "../../../api/jobs/retryPolicy";

const retry = { baseMs: 1000, maxMs: 30_000, random: 0.5 };

describe("job runner policy", () => {
    it.each([
        [1, 0, 500], [1, 1, 1000], [2, 0, 1000], [3, 1, 4000], [5, 1, 16_000], [6, 1, 30_000], [20, 0, 15_000],
    ])("backoff of attempt %i with random %s is %i ms", (attempt, random, ms) => {
        expect(backoffMs(attempt, 1000, 30_000, random)).toBe(ms);
    });

    it.each([
        ["EngineUnavailableError", new EngineUnavailableError("down")],
        ["ConcurrentUpdateError", new ConcurrentUpdateError("dbaas-db/x")],
    ])("retries a transient %s while attempts remain, then fails saying it gave up", (_n, err) => {
        expect(decideOutcome(err, undefined, 1, 3, retry)).toEqual({ kind: "retry", delayMs: 750, reason: expect.any(String) as unknown });
        const last = decideOutcome(err, undefined, 3, 3, retry);
        expect(last.kind).toBe("failed");
        expect(last.kind === "failed" && last.reason).toMatch(/gave up after 3 attempts/);
    });

    it.each([
        ["program error", new ProgramError("restore failed: not a pg_dump archive", { detail: "password=hunter2" }), "restore failed: not a pg_dump archive"],
        ["missing stack", new StackNotFoundError("dbaas-db/x"), "the database's stack does not exist"],
        ["unknown error", new Error("stderr: password=hunter2"), "the provisioning engine failed (details are in the server log)"],
        ["a thrown string", "boom hunter2", "the provisioning engine failed (details are in the server log)"],
    ])("fails at once on a %s with a secret-free reason", (_n, err, reason) => {
        const o = decideOutcome(err, undefined, 1, 5, retry);
        expect(o).toEqual({ kind: "failed", reason });
        expect(JSON.stringify(o)).not.toContain("hunter2");
    });

    it.each([
        [{ kind: "cancel", reason: "cancelled by alice" } as const, { kind: "cancelled", reason: "cancelled by alice" }],
        [{ kind: "timeout", afterMs: 90_000 } as const, { kind: "failed", reason: "timed out after 90 s" }],
        [{ kind: "shutdown" } as const, { kind: "hand-back" }],
        [{ kind: "lease-lost" } as const, { kind: "abandon" }],
    ])("an abort %j decides %j whatever the error", (cause, outcome) => {
        expect(decideOutcome(new OperationAbortedError(), cause, 1, 5, retry)).toEqual(outcome);
        expect(decideOutcome(new EngineUnavailableError("x"), cause, 1, 5, retry)).toEqual(outcome);
    });

    it("publicReason names why the engine is unavailable (its reasons say what is missing and the fix)", () => {
        const r = publicReason(new EngineUnavailableError("no Docker engine answers at unix:///var/run/docker.sock (ENOENT): start Docker"));
        expect(r).toBe("the provisioning engine is unavailable: no Docker engine answers at unix:///var/run/docker.sock (ENOENT): start Docker");
    });

    it("publicReason truncates long program reasons", () => {
        expect(publicReason(new ProgramError("x".repeat(1000))).length).toBeLessThanOrEqual(300);
    });

    it("stores known event fields only, bounded", () => {
        const e = { kind: "resource-start", urn: "urn:x", name: "n", op: "create", message: "m".repeat(2000), severity: "info", at: "2026-01-01T00:00:00.000Z", password: "hunter2" } as EngineEvent;
        const s = sanitizeEvent(e);
        expect(s?.kind).toBe("resource-start");
        expect(Object.keys(s?.data ?? {}).sort()).toEqual(["at", "message", "name", "op", "severity", "urn"]);
        expect(String(s?.data.message).length).toBeLessThanOrEqual(500);
        expect(JSON.stringify(s)).not.toContain("hunter2");
    });

    it("drops events of unknown kinds and repairs a bad timestamp", () => {
        expect(sanitizeEvent({ kind: "secret-dump", at: "x" } as unknown as EngineEvent)).toBeUndefined();
        const s = sanitizeEvent({ kind: "summary", at: "not a date" });
        expect(Number.isNaN(Date.parse(String(s?.data.at)))).toBe(false);
    });
});
