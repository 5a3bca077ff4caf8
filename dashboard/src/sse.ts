/**
 * Server-Sent Events over fetch(): the API authenticates the event stream
 * with the bearer header like every other route, and EventSource cannot send
 * headers, so the dashboard reads `text/event-stream` from a streaming body.
 */

export interface SseEvent {
    readonly id?: string;
    readonly event: string;
    readonly data: string;
}

/** Splits complete frames off `buffer`; returns them and the unfinished rest. Comments and retry: lines are dropped. */
export function parseSseFrames(buffer: string): { events: SseEvent[]; rest: string } {
    const events: SseEvent[] = [];
    const text = buffer.replace(/\r\n?/g, "\n");
    const blocks = text.split("\n\n");
    const rest = blocks.pop() ?? "";
    for (const block of blocks) {
        let id: string | undefined;
        let event = "message";
        const data: string[] = [];
        for (const line of block.split("\n")) {
            if (line === "" || line.startsWith(":")) continue;
            const i = line.indexOf(":");
            const field = i < 0 ? line : line.slice(0, i);
            const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
            if (field === "id") id = value;
            else if (field === "event") event = value;
            else if (field === "data") data.push(value);
        }
        if (data.length > 0) events.push({ ...(id === undefined ? {} : { id }), event, data: data.join("\n") });
    }
    return { events, rest };
}

/** Reads the stream at `url` until it ends or `signal` aborts, calling `onEvent` for each event in order. */
export async function readEventStream(url: string, token: string, signal: AbortSignal, onEvent: (e: SseEvent) => void): Promise<void> {
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" }, signal, cache: "no-store" });
    if (!res.ok || res.body === null) throw new Error(`the progress stream answered ${res.status}`);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        const parsed = parseSseFrames(buffer + value);
        buffer = parsed.rest;
        parsed.events.forEach(onEvent);
    }
}
