/** The runtime watcher's pure parts: the Engine API's container JSON as an observation, and what a change audits. */
import { describe, expect, it } from "vitest";
import { observationOf } from "../../../api/engine/dockerRuntime";
import { runtimeChanges } from "../../../api/jobs/watcher";
import type { RuntimeView } from "../../../contracts/api";

const running: RuntimeView = { status: "running", health: "healthy", restarts: 0, started_at: "2026-12-02T05:00:00.000Z", exit_code: null, since: "2026-12-02T05:00:01.000Z" };
const actions = (prev: RuntimeView | null, next: Omit<RuntimeView, "since">) => runtimeChanges("orders", prev, next).map((a) => a.action);

describe("observationOf (GET /containers/<name>/json)", () => {
    it("maps a running container with its health, restarts and start time", () => {
        expect(observationOf({ RestartCount: 2, State: { Status: "running", StartedAt: "2026-12-02T05:00:00.123456789Z", ExitCode: 0, Health: { Status: "healthy" } } }))
            .toEqual({ status: "running", health: "healthy", restarts: 2, started_at: "2026-12-02T05:00:00.123Z", exit_code: null });
    });
    it("keeps the exit code of a stopped one, drops its stale health, and calls a 404 missing", () => {
        expect(observationOf({ RestartCount: 0, State: { Status: "exited", StartedAt: "2026-12-02T05:00:00Z", ExitCode: 137, Health: { Status: "unhealthy" } } }))
            .toMatchObject({ status: "exited", health: null, exit_code: 137 });
        expect(observationOf({ State: { Status: "created", StartedAt: "0001-01-01T00:00:00Z" } })).toMatchObject({ status: "exited", started_at: null });
        expect(observationOf(undefined)).toEqual({ status: "missing", health: null, restarts: 0, started_at: null, exit_code: null });
        expect(observationOf({ State: { Status: "something-new" } }).status).toBe("dead");
    });
});

describe("runtimeChanges", () => {
    it("audits nothing on the first look at a running server, or when only health changes", () => {
        expect(actions(null, running)).toEqual([]);
        expect(actions(running, { ...running, health: "unhealthy" })).toEqual([]);
    });
    it("an engine restart (restart policy) is an unplanned restart; a down server is down; its return is up", () => {
        expect(actions(running, { ...running, restarts: 1, started_at: "2026-12-02T05:10:00.000Z" })).toEqual(["database.unplanned_restart"]);
        expect(actions(running, { ...running, status: "exited", health: null, exit_code: 137 })).toEqual(["database.down"]);
        expect(actions(running, { ...running, status: "restarting", restarts: 1 })).toEqual(["database.unplanned_restart", "database.down"]);
        expect(actions({ ...running, status: "missing" }, running)).toEqual(["database.up"]);
        expect(actions(null, { ...running, status: "missing" })).toEqual(["database.down"]);
    });
    it("entries are the system's, outcome noticed, with what was seen", () => {
        expect(runtimeChanges("orders", running, { ...running, status: "exited", exit_code: 137 })[0])
            .toEqual({ actor: "system", action: "database.down", database: "orders", outcome: "noticed", detail: { status: "exited", exit_code: 137 } });
    });
});
