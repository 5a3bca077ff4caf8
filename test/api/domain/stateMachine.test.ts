import { describe, expect, it } from "vitest";
import { DATABASE_ACTIONS, operationFor, transition, type DatabaseAction } from "../../../api/domain/stateMachine";
import { DATABASE_STATES, isBusy, type DatabaseState } from "../../../contracts/api";

// The life cycle from the issue, written out independently of the table under test.
const LEGAL: readonly [DatabaseState | "none", DatabaseAction, DatabaseState][] = [
    ["none", "create", "creating"],
    ["creating", "succeed", "ready"],
    ["creating", "fail", "failed"],
    ["creating", "cancel", "failed"],
    ["creating", "delete", "deleting"],
    ["creating", "extend", "creating"],
    ["ready", "restart", "restarting"],
    ["ready", "delete", "deleting"],
    ["ready", "extend", "ready"],
    ["ready", "patch", "restarting"],
    ["restarting", "succeed", "ready"],
    ["restarting", "fail", "failed"],
    ["restarting", "cancel", "failed"],
    ["restarting", "delete", "deleting"],
    ["restarting", "extend", "restarting"],
    ["failed", "retry", "creating"],
    ["failed", "delete", "deleting"],
    ["failed", "extend", "failed"],
    ["failed", "patch", "restarting"],
    ["deleting", "succeed", "deleted"],
    ["deleting", "fail", "failed"],
];

const ALL: [DatabaseState | "none", DatabaseAction][] = (["none", ...DATABASE_STATES] as const).flatMap((s) => DATABASE_ACTIONS.map((a) => [s, a] as [DatabaseState | "none", DatabaseAction]));
const legalKey = new Set(LEGAL.map(([s, a]) => `${s}/${a}`));
const ILLEGAL = ALL.filter(([s, a]) => !legalKey.has(`${s}/${a}`));

describe("database state machine", () => {
    it.each(LEGAL)("%s --%s--> %s", (from, action, to) => {
        expect(transition(from, action)).toEqual({ ok: true, next: to });
    });

    it.each(ILLEGAL)("%s refuses %s, naming the current state and what is allowed", (from, action) => {
        const r = transition(from, action);
        expect(r.ok).toBe(false);
        if (r.ok) return;
        expect(r.current).toBe(from);
        const allowed = LEGAL.filter(([s]) => s === from).map(([, a]) => a).sort();
        expect([...r.allowed].sort()).toEqual(allowed);
    });

    it("deleted is terminal", () => {
        expect(DATABASE_ACTIONS.every((a) => !transition("deleted", a).ok)).toBe(true);
    });

    it.each([
        ["create", "create"], ["retry", "create"], ["restart", "restart"], ["delete", "delete"],
        ["patch", "patch"], ["cancel", undefined], ["extend", undefined], ["succeed", undefined], ["fail", undefined],
    ] as const)("action %s starts operation %s", (action, kind) => {
        expect(operationFor(action)).toBe(kind);
    });

    it.each([["creating", true], ["restarting", true], ["deleting", true], ["ready", false], ["failed", false], ["deleted", false]] as const)("%s busy=%s", (s, busy) => {
        expect(isBusy(s)).toBe(busy);
    });
});
