/**
 * The progress of a database's current operation, from its SSE stream:
 * each resource as a step (started, done, failed), status lines, and a
 * progress bar of finished steps over steps seen so far. Calls `onEnd` when
 * the operation's `end` event arrives (or the stream drops), so the page can
 * reload the database.
 */
import type { Api } from "./api";
import { append, h } from "./dom";
import type { SseEvent } from "./sse";

interface StepData {
    readonly urn?: string;
    readonly name?: string;
    readonly type?: string;
    readonly op?: string;
    readonly message?: string;
    readonly status?: string;
    readonly state?: string;
    readonly reason?: string;
}

export interface Progress {
    readonly element: HTMLElement;
    stop(): void;
}

function parse(data: string): StepData {
    try {
        const v: unknown = JSON.parse(data);
        return typeof v === "object" && v !== null ? (v) : {};
    } catch {
        return {};
    }
}

export function watchProgress(api: Api, name: string, kind: string, onEnd: (ok: boolean) => void): Progress {
    const bar = h("progress", { id: "progress-bar", max: 1, "aria-describedby": "progress-text" });
    const text = h("p", { id: "progress-text", "aria-live": "polite" }, `Waiting for the ${kind} to start…`);
    const steps = h("ul", { class: "steps", "aria-label": "Steps" });
    const element = h("section", { class: "card progress", "aria-labelledby": "progress-heading" },
        h("h2", { id: "progress-heading" }, `Progress of the ${kind}`),
        h("label", { for: "progress-bar", class: "visually-hidden" }, "Progress"), bar, text, steps);
    const items = new Map<string, HTMLLIElement>();
    let done = 0;
    let ended = false;

    function update(): void {
        const total = items.size;
        if (total === 0 || ended) return;
        // The engine does not announce how many steps come; one more is always possible until the end event.
        bar.max = total + 1;
        bar.value = done;
        text.textContent = `${done} of ${total} ${total === 1 ? "step" : "steps"} done so far`;
    }

    function onEvent(e: SseEvent): void {
        const d = parse(e.data);
        switch (e.event) {
            case "resource-start": {
                const key = d.urn ?? d.name ?? String(items.size);
                if (items.has(key)) return;
                const li = h("li", { class: "step running" }, h("span", { class: "step-state" }, "working"), ` ${d.op ?? "update"} ${d.name ?? key}`);
                items.set(key, li);
                append(steps, li);
                return update();
            }
            case "resource-done":
            case "resource-failed": {
                const li = items.get(d.urn ?? d.name ?? "");
                if (li === undefined) return;
                const ok = e.event === "resource-done";
                if (li.classList.contains("running")) done++;
                li.className = `step ${ok ? "done" : "failed"}`;
                const state = li.querySelector(".step-state");
                if (state !== null) state.textContent = ok ? "done" : "failed";
                return update();
            }
            case "status":
            case "summary":
            case "diagnostic":
                if (d.message !== undefined) append(steps, h("li", { class: `step note ${e.event}` }, d.message));
                return;
            case "end": {
                ended = true;
                const ok = d.status === "succeeded";
                if (ok) {
                    bar.max = 1;
                    bar.value = 1;
                }
                text.textContent = ok ? `The ${kind} finished.` : `The ${kind} ended: ${d.status ?? "unknown"}${d.reason === undefined ? "" : ` (${d.reason})`}.`;
                onEnd(ok);
                return;
            }
            default:
        }
    }

    const abort = new AbortController();
    api.events(name, abort.signal, onEvent).then(() => {
        if (!ended && !abort.signal.aborted) onEnd(false);
    }, () => {
        if (!ended && !abort.signal.aborted) {
            text.textContent = "The progress stream was interrupted; the page checks the state again.";
            onEnd(false);
        }
    });
    return { element, stop: () => abort.abort() };
}
