import { describe, expect, it } from "vitest";
import { coalesced } from "../../api/coalesce";

/** A run the test ends by hand. */
function gate(): { wait: Promise<void>; open: () => void } {
    let open = () => undefined as void;
    const wait = new Promise<void>((resolve) => (open = resolve));
    return { wait, open };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("coalesced", () => {
    it("starts a run within the request", () => {
        let runs = 0;
        const task = coalesced(() => {
            runs++;
        });
        task();
        expect(runs).toBe(1);
    });

    it("requests during a run cause exactly one more run, after it", async () => {
        const gates = [gate(), gate()];
        let runs = 0;
        let running = 0;
        let most = 0;
        const task = coalesced(async () => {
            running++;
            most = Math.max(most, running);
            await gates[runs++]?.wait;
            running--;
        });
        task();
        task();
        task();
        task();
        expect(runs).toBe(1);
        gates[0]?.open();
        await turn();
        expect(runs).toBe(2);
        gates[1]?.open();
        await task.idle();
        expect(runs).toBe(2);
        expect(most).toBe(1);
    });

    it("a request the run makes itself counts as one more run", async () => {
        let runs = 0;
        const task = coalesced(() => {
            runs++;
            if (runs === 1) task();
        });
        task();
        await task.idle();
        expect(runs).toBe(2);
    });

    it("with nextTurn, every request of one turn shares one run, started after the turn", async () => {
        const seen: number[][] = [];
        let pending: number[] = [];
        const task = coalesced(() => {
            seen.push(pending);
            pending = [];
        }, { nextTurn: true });
        for (const n of [1, 2, 3]) {
            pending.push(n);
            task();
        }
        expect(seen).toEqual([]);
        await task.idle();
        expect(seen).toEqual([[1, 2, 3]]);
        pending.push(4);
        task();
        await task.idle();
        expect(seen).toEqual([[1, 2, 3], [4]]);
    });

    it("with nextTurn, a run asked for during a run also waits for a turn", async () => {
        const order: string[] = [];
        const task = coalesced(() => {
            order.push("run");
            if (order.length === 1) {
                task();
                setImmediate(() => order.push("same turn"));
            }
        }, { nextTurn: true });
        task();
        await task.idle();
        expect(order).toEqual(["run", "same turn", "run"]);
    });

    it("idle resolves at once when nothing is asked for, and after the last run otherwise", async () => {
        const g = gate();
        let finished = false;
        const task = coalesced(async () => {
            await g.wait;
            finished = true;
        });
        await task.idle();
        task();
        const idle = task.idle();
        g.open();
        await idle;
        expect(finished).toBe(true);
    });
});
