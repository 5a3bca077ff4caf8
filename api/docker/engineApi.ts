/**
 * The API's one client of the Docker Engine API: plain HTTP over the engine's
 * socket (or tcp://), the few documented calls the cache's golden volumes and
 * the in-target backup runner make. No client library: none is in the
 * dependencies (dockerode / docker-modem would bring ssh2 and its native
 * build for the two things needed here, a request and an attach). No Pulumi imports.
 *
 * The attach stream of a container without a TTY is multiplexed: frames of
 * an 8-byte header (stream type 0 stdin / 1 stdout / 2 stderr, three zero
 * bytes, the payload's length as a big-endian uint32) and the payload
 * (https://docs.docker.com/engine/api/v1.41/#operation/ContainerAttach).
 * `DockerStreamDemuxer` splits it incrementally, so a dump of any size
 * streams through without being held in memory.
 */
import * as http from "node:http";
import type { Duplex } from "node:stream";
import { dockerEndpoint } from "../engine/targetReadiness";

export interface DockerAnswer {
    readonly status: number;
    readonly body: Buffer;
}

export class DockerApiError extends Error {
    constructor(readonly status: number, message: string) {
        super(message);
        this.name = "DockerApiError";
    }
}

/** The start of an engine's error answer, on one line (what a failure message quotes). */
function excerpt(body: Buffer | string): string {
    return (typeof body === "string" ? body : body.toString("utf8")).slice(0, 300).replace(/\s+/g, " ");
}

function notCallable(dockerHost: string): Error {
    return new Error(`the API talks to Docker over a unix:// or tcp:// Docker host, not ${dockerHost.split("://")[0] ?? "?"}://`);
}

/** One Engine API call; rejects only when the engine cannot be reached. */
export function dockerCall(dockerHost: string, method: string, path: string, body?: unknown, timeoutMs = 60_000): Promise<DockerAnswer> {
    const endpoint = dockerEndpoint(dockerHost);
    if (endpoint === undefined) return Promise.reject(notCallable(dockerHost));
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
        const req = http.request({
            ...endpoint, method, path, timeout: timeoutMs,
            headers: payload === undefined ? {} : { "content-type": "application/json", "content-length": String(payload.length) },
        }, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        });
        req.on("timeout", () => req.destroy(new Error(`Docker did not answer ${method} ${path.split("?")[0] ?? ""} within ${timeoutMs} ms`)));
        req.on("error", reject);
        req.end(payload);
    });
}

/** `dockerCall` that rejects with a `DockerApiError` (status and the start of the engine's message) unless the status is one of `ok`. */
export async function dockerExpect(dockerHost: string, method: string, path: string, ok: readonly number[], body?: unknown, timeoutMs?: number): Promise<DockerAnswer> {
    const a = await dockerCall(dockerHost, method, path, body, timeoutMs);
    if (!ok.includes(a.status)) {
        throw new DockerApiError(a.status, `Docker answered ${method} ${path.split("?")[0] ?? ""} with HTTP ${a.status}: ${excerpt(a.body)}`);
    }
    return a;
}

/**
 * POST /containers/<id>/attach as a hijacked connection (HTTP upgrade to
 * `tcp`, as the docker CLI does): the socket carries the container's stdin
 * one way and its multiplexed stdout/stderr the other. Resolves once the
 * engine switched protocols, with the bytes it already sent after the answer.
 */
export function dockerAttach(dockerHost: string, container: string, o: { stdin: boolean; timeoutMs?: number }): Promise<{ socket: Duplex; head: Buffer }> {
    const endpoint = dockerEndpoint(dockerHost);
    if (endpoint === undefined) return Promise.reject(notCallable(dockerHost));
    const query = `stream=1&stdout=1&stderr=1${o.stdin ? "&stdin=1" : ""}`;
    return new Promise((resolve, reject) => {
        const req = http.request({
            ...endpoint, method: "POST", path: `/containers/${encodeURIComponent(container)}/attach?${query}`, timeout: o.timeoutMs ?? 60_000,
            headers: { connection: "Upgrade", upgrade: "tcp" },
        });
        req.on("upgrade", (res, socket, head) => {
            // The request's timeout must not cut a long dump: from here on the caller owns the socket.
            socket.setTimeout(0);
            if (res.statusCode !== 101) {
                socket.destroy();
                reject(new DockerApiError(res.statusCode ?? 0, `Docker answered the attach of ${container} with HTTP ${res.statusCode ?? "?"}`));
                return;
            }
            resolve({ socket, head });
        });
        req.on("response", (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => reject(new DockerApiError(res.statusCode ?? 0, `Docker answered the attach of ${container} with HTTP ${res.statusCode ?? "?"}: ${excerpt(Buffer.concat(chunks))}`)));
        });
        req.on("timeout", () => req.destroy(new Error(`Docker did not answer the attach of ${container} within ${o.timeoutMs ?? 60_000} ms`)));
        req.on("error", reject);
        req.end();
    });
}

/**
 * POST /containers/<id>/wait?condition=<condition>, registered: the engine
 * sends the answer's status line as soon as the wait is registered and the
 * body (the exit code) when the condition is met, so this resolves once the
 * wait cannot miss the exit (a container started afterwards with AutoRemove
 * is waited for, not a 404). `exit` resolves with the StatusCode.
 */
export function dockerWaitRegistered(dockerHost: string, container: string, condition: "not-running" | "next-exit" | "removed", timeoutMs = 86_400_000): Promise<{ exit: Promise<number> }> {
    const endpoint = dockerEndpoint(dockerHost);
    if (endpoint === undefined) return Promise.reject(notCallable(dockerHost));
    const what = `the wait for ${container}`;
    return new Promise((resolve, reject) => {
        const req = http.request({ ...endpoint, method: "POST", path: `/containers/${encodeURIComponent(container)}/wait?condition=${condition}`, timeout: timeoutMs }, (res) => {
            const chunks: Buffer[] = [];
            const exit = new Promise<number>((done, fail) => {
                res.on("data", (c: Buffer) => chunks.push(c));
                res.on("error", fail);
                res.on("close", () => {
                    if (!res.complete) fail(new Error(`the connection to Docker closed during ${what}`));
                });
                res.on("end", () => {
                    const text = Buffer.concat(chunks).toString("utf8");
                    if (res.statusCode !== 200) return fail(new DockerApiError(res.statusCode ?? 0, `Docker answered ${what} with HTTP ${res.statusCode ?? "?"}: ${excerpt(text)}`));
                    try {
                        const body = JSON.parse(text) as { StatusCode?: unknown; Error?: { Message?: string } | null };
                        if (typeof body.StatusCode !== "number") return fail(new Error(`Docker answered ${what} without a StatusCode${body.Error?.Message === undefined ? "" : `: ${body.Error.Message}`}`));
                        done(body.StatusCode);
                    } catch {
                        fail(new Error(`Docker answered ${what} with a body that is not JSON: ${text.slice(0, 100)}`));
                    }
                });
            });
            // Handled by whoever awaits `exit`; this keeps an early failure from counting as unhandled meanwhile.
            exit.catch(() => undefined);
            resolve({ exit });
        });
        req.on("timeout", () => req.destroy(new Error(`Docker did not answer ${what} within ${timeoutMs} ms`)));
        req.on("error", reject);
        req.end();
    });
}

/** One stream of a multiplexed attach or log stream. */
export type DockerStreamType = "stdin" | "stdout" | "stderr";
const STREAMS: readonly DockerStreamType[] = ["stdin", "stdout", "stderr"];

/** A frame header that is not one: the stream is not multiplexed (a TTY's) or is corrupt. */
export class DockerStreamError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "DockerStreamError";
    }
}

/**
 * Splits a multiplexed stream incrementally: `push` the chunks as they come
 * (headers and payloads may be cut anywhere), each payload piece is handed to
 * `onPayload` with its stream as soon as it arrived (a large stdout frame is
 * not buffered whole). `end` says whether the stream stopped inside a frame.
 */
export class DockerStreamDemuxer {
    #header = Buffer.alloc(0);
    #stream: DockerStreamType | undefined;
    #left = 0;

    constructor(private readonly onPayload: (stream: DockerStreamType, payload: Buffer) => void) {}

    push(chunk: Buffer): void {
        let at = 0;
        while (at < chunk.length) {
            if (this.#left > 0 && this.#stream !== undefined) {
                const n = Math.min(this.#left, chunk.length - at);
                this.onPayload(this.#stream, chunk.subarray(at, at + n));
                this.#left -= n;
                at += n;
                continue;
            }
            const need = 8 - this.#header.length;
            this.#header = Buffer.concat([this.#header, chunk.subarray(at, at + need)]);
            at += Math.min(need, chunk.length - at);
            if (this.#header.length < 8) return;
            const h = this.#header;
            this.#header = Buffer.alloc(0);
            const stream = STREAMS[h[0] ?? 9];
            if (stream === undefined || h[1] !== 0 || h[2] !== 0 || h[3] !== 0) {
                throw new DockerStreamError(`not a multiplexed Docker stream (frame header ${h.toString("hex")}); was the container made with a TTY?`);
            }
            this.#stream = stream;
            this.#left = h.readUInt32BE(4);
        }
    }

    /** Undefined when the stream ended between frames, else what was cut. */
    end(): string | undefined {
        if (this.#left > 0) return `the stream ended ${this.#left} bytes short of the end of a ${this.#stream ?? "?"} frame`;
        if (this.#header.length > 0) return `the stream ended inside a frame header (${this.#header.length} of 8 bytes)`;
        return undefined;
    }
}

/** The text of a container's multiplexed log stream (what parses as frames), or the raw text of a TTY's. */
export function demuxLogs(raw: Buffer): string {
    const out: Buffer[] = [];
    try {
        new DockerStreamDemuxer((_s, p) => out.push(p)).push(raw);
    } catch (e) {
        if (!(e instanceof DockerStreamError)) throw e;
    }
    return out.length === 0 ? raw.toString("utf8") : Buffer.concat(out).toString("utf8");
}
