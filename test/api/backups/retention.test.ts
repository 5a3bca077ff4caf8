/** Which backups the roll-off job picks: count per database, age, never a running one. */
import { describe, expect, it } from "vitest";
import { selectRollOff, type RetentionCandidate } from "../../../api/backups/retention";

const DAY = 86_400_000;
const now = new Date("2026-12-02T00:00:00Z");
const b = (id: string, databaseId: number, daysAgo: number, status: RetentionCandidate["status"] = "succeeded"): RetentionCandidate =>
    ({ id, databaseId, status, startedAt: new Date(now.getTime() - daysAgo * DAY) });

describe("selectRollOff", () => {
    it.each([
        { name: "nothing beyond the count or the age", backups: [b("a", 1, 1), b("b", 1, 2)], keep: 2, maxDays: 30, out: [] },
        { name: "the oldest beyond the count", backups: [b("a", 1, 1), b("b", 1, 3), b("c", 1, 2)], keep: 2, maxDays: 30, out: ["b count"] },
        { name: "the count is per database", backups: [b("a", 1, 1), b("b", 1, 2), b("c", 2, 3), b("d", 2, 4)], keep: 1, maxDays: 30, out: ["b count", "d count"] },
        { name: "age removes within the count", backups: [b("a", 1, 1), b("b", 1, 31)], keep: 5, maxDays: 30, out: ["b age"] },
        { name: "a failed backup does not use up the count, and goes by age", backups: [b("f", 1, 0, "failed"), b("a", 1, 1), b("old-f", 1, 40, "failed")], keep: 1, maxDays: 30, out: ["old-f age"] },
        { name: "a running backup is never picked, however old", backups: [b("r", 1, 90, "running"), b("a", 1, 1)], keep: 1, maxDays: 30, out: [] },
        { name: "exactly at the age limit is kept", backups: [b("a", 1, 30)], keep: 1, maxDays: 30, out: [] },
    ])("$name", ({ backups, keep, maxDays, out }) => {
        const picked = selectRollOff(backups, { keepCount: keep, maxAgeMs: maxDays * DAY }, now);
        expect(picked.map((p) => `${p.id} ${p.reason}`).sort()).toEqual([...out].sort());
    });

    it("never picks a backup a database being created is restored from; it still counts as kept", () => {
        const rows = [b("a", 1, 1), b("used", 1, 2), b("c", 1, 3), b("old-used", 1, 40)];
        const picked = selectRollOff(rows, { keepCount: 2, maxAgeMs: 30 * DAY }, now, new Set(["used", "old-used"]));
        expect(picked.map((p) => `${p.id} ${p.reason}`)).toEqual(["c count"]);
        expect(selectRollOff(rows, { keepCount: 2, maxAgeMs: 30 * DAY }, now).map((p) => `${p.id} ${p.reason}`).sort()).toEqual(["c count", "old-used count"]);
    });

    it("keeps the newest whatever order the rows come in", () => {
        const rows = [b("d", 1, 4), b("a", 1, 1), b("c", 1, 3), b("b", 1, 2)];
        expect(selectRollOff(rows, { keepCount: 2, maxAgeMs: 365 * DAY }, now).map((p) => p.id).sort()).toEqual(["c", "d"]);
        expect(selectRollOff([...rows].reverse(), { keepCount: 2, maxAgeMs: 365 * DAY }, now).map((p) => p.id).sort()).toEqual(["c", "d"]);
    });
});
