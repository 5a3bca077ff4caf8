/**
 * The in-target dump on the docker target: a one-shot container of the
 * database's own image (the image its server container runs, so pg_dump is
 * the server's own major) in the server's network namespace, through the
 * Docker Engine API (api/docker/engineApi.ts). The order:
 *
 *   inspect the server container (running? which image?) → create the dump
 *   container → attach (hijacked: stdin, stdout, stderr) → register a wait
 *   for its removal → start → the password line on stdin, stdin closed →
 *   stdout frames into the staged file, stderr frames kept (the tail) →
 *   the stream ends → the wait's exit code.
 *
 * A dump succeeds only with exit code 0, the script's info line seen, and
 * the stream ended between frames; anything else rejects with a
 * `BackupFailure` (the caller discards the staged file). A stop (timeout,
 * shutdown) removes the container, which ends the stream and the wait.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import type { Duplex } from "node:stream";
import { dockerObjectName } from "../../contracts/labels";
import { POSTGRES_PORT } from "../../contracts/ports";
import { truncate } from "../engine/errors";
import { dockerAttach, dockerCall, dockerExpect, DockerStreamDemuxer, dockerWaitRegistered } from "../docker/engineApi";
import {
    dumpContainerName, dumpContainerSpec, EXIT_NO_PASSWORD, EXIT_PROBE_FAILED, keepTail, parseDumpInfo, passwordProblem, withoutDumpInfo,
} from "./dumpContainer";
import { abortText, BackupFailure, pgDumpFailureLine, type BackupRunner, type DumpInfo, type DumpOptions, type DumpSource } from "./runner";

export interface DockerDumpRunnerOptions {
    /** The docker target's engine (`unix://` or `tcp://`). */
    readonly dockerHost: string;
    /** Memory limit of the dump container in MiB (DBAAS_BACKUP_DUMP_MEMORY_MB). */
    readonly memoryMb: number;
}

/** What the dump container did: its exit code, its stderr's tail, its info line, whether the stream was cut. */
export interface DumpRun {
    readonly exitCode: number;
    readonly stderr: string;
    readonly info: DumpInfo | undefined;
    /** Undefined when the stream ended between frames, else what was cut. */
    readonly cut: string | undefined;
}

/** The failure reason of a finished dump container, or undefined when the dump is complete. Short, secret-free. */
export function dumpFailure(run: DumpRun, o: { database: string; user: string; password: string; memoryMb: number }): string | undefined {
    const line = pgDumpFailureLine(withoutDumpInfo(run.stderr), o.password);
    if (run.cut !== undefined) return `the dump container's output was cut (${run.cut}); the dump is incomplete`;
    if (run.exitCode === 0) return run.info === undefined ? "the dump container exited 0 without reporting the server's version; the dump is not trusted" : undefined;
    if (run.exitCode === EXIT_NO_PASSWORD) return "the dump container got no password line on its stdin (the attach connection closed early?)";
    if (run.exitCode === EXIT_PROBE_FAILED || run.info === undefined && run.exitCode !== 137) {
        return `could not connect to the database at 127.0.0.1:${POSTGRES_PORT} in ${dockerObjectName(o.database)}'s network as ${o.user} (exit ${run.exitCode}): ${line}`;
    }
    if (run.exitCode === 137) return `the dump container was killed (exit 137): out of memory above DBAAS_BACKUP_DUMP_MEMORY_MB (${o.memoryMb} MiB), or stopped`;
    return `pg_dump ${run.info?.serverMajor ?? "?"} (the database's image) failed (exit ${run.exitCode}): ${line}`;
}

interface ContainerJson {
    readonly Image?: string;
    readonly Config?: { readonly Image?: string };
    readonly State?: { readonly Status?: string; readonly Running?: boolean };
}

export class DockerDumpRunner implements BackupRunner {
    constructor(private readonly o: DockerDumpRunnerOptions) {}

    async dump(source: DumpSource, out: string, options: DumpOptions): Promise<DumpInfo> {
        const database = source.name ?? source.database;
        const server = dockerObjectName(database);
        const problem = passwordProblem(source.password);
        if (problem !== undefined) throw new BackupFailure(problem);
        const image = await this.#serverImage(server);
        if (options.signal.aborted) throw new BackupFailure(abortText(options.signal));

        const helper = dumpContainerName(database, randomBytes(4).toString("hex"));
        const spec = dumpContainerSpec({ database, image, dbName: source.database, user: source.user, memoryMb: this.o.memoryMb });
        await this.#engine(`creating the dump container ${helper}`, () => dockerExpect(this.o.dockerHost, "POST", `/containers/create?name=${encodeURIComponent(helper)}`, [201], spec));
        let removed = false;
        const remove = async () => {
            if (removed) return;
            removed = true;
            await dockerCall(this.o.dockerHost, "DELETE", `/containers/${encodeURIComponent(helper)}?force=1`).catch(() => undefined);
        };
        const onAbort = () => void remove();
        options.signal.addEventListener("abort", onAbort, { once: true });
        let file: fs.WriteStream | undefined;
        let attached: Duplex | undefined;
        try {
            if (options.signal.aborted) throw new BackupFailure(abortText(options.signal));
            const { socket, head } = await this.#engine(`attaching to the dump container ${helper}`, () => dockerAttach(this.o.dockerHost, helper, { stdin: true }));
            attached = socket;
            const waited = await this.#engine(`waiting for the dump container ${helper}`, () => dockerWaitRegistered(this.o.dockerHost, helper, "removed"));
            file = fs.createWriteStream(out, { flags: "w", mode: 0o600 });
            const sink = file;
            let stderr = "";
            let info: DumpInfo | undefined;
            let infoDone: Promise<void> = Promise.resolve();
            let writeError: Error | undefined;
            let draining = false;
            const demux = new DockerStreamDemuxer((stream, payload) => {
                if (stream === "stdout") {
                    // Backpressure: a slow disk pauses the socket, which pauses the engine and pg_dump.
                    if (!sink.write(payload) && !draining) {
                        draining = true;
                        socket.pause();
                        sink.once("drain", () => {
                            draining = false;
                            socket.resume();
                        });
                    }
                } else if (stream === "stderr") {
                    stderr = keepTail(stderr, payload.toString("utf8"));
                    if (info === undefined) {
                        info = parseDumpInfo(stderr);
                        if (info !== undefined) {
                            infoDone = Promise.resolve(options.onInfo?.(info));
                            // Awaited after the stream; this keeps a failed write of the sizes from counting as unhandled meanwhile.
                            infoDone.catch(() => undefined);
                        }
                    }
                }
            });
            let demuxError: Error | undefined;
            const streamDone = new Promise<void>((resolve) => {
                const feed = (chunk: Buffer) => {
                    if (demuxError !== undefined) return;
                    try {
                        demux.push(chunk);
                    } catch (e) {
                        demuxError = e as Error;
                        void remove();
                    }
                };
                socket.on("data", feed);
                socket.on("end", () => resolve());
                socket.on("close", () => resolve());
                socket.on("error", () => resolve());
                if (head.length > 0) feed(head);
            });
            file.on("error", (e) => {
                // A full disk: stop the dump; the failure names the write error. A socket paused
                // for a drain that will not come is read on, so its end is seen.
                writeError ??= e;
                socket.resume();
                void remove();
            });

            await this.#engine(`starting the dump container ${helper}`, () => dockerExpect(this.o.dockerHost, "POST", `/containers/${encodeURIComponent(helper)}/start`, [204, 304]));
            socket.end(`${source.password}\n`);
            await streamDone;
            const fileDone = new Promise<void>((resolve) => {
                if (writeError !== undefined) return resolve();
                sink.end(() => resolve());
                sink.on("error", () => resolve());
            });
            await fileDone;
            const exitCode = await waited.exit.catch((e: Error) => {
                throw new BackupFailure(`the wait for the dump container failed: ${truncate(e.message, 160)}`);
            });
            removed = true;
            await infoDone;
            if (options.signal.aborted) throw new BackupFailure(abortText(options.signal));
            if (writeError !== undefined) throw new BackupFailure(`writing the dump failed: ${truncate(writeError.message, 160)}`);
            if (demuxError !== undefined) throw new BackupFailure(`reading the dump container's output failed: ${truncate(demuxError.message, 160)}`);
            const failure = dumpFailure({ exitCode, stderr, info, cut: demux.end() }, { database, user: source.user, password: source.password, memoryMb: this.o.memoryMb });
            if (failure !== undefined || info === undefined) throw new BackupFailure(failure ?? "the dump container reported no server version");
            return info;
        } catch (e) {
            if (options.signal.aborted) throw new BackupFailure(abortText(options.signal));
            throw e;
        } finally {
            options.signal.removeEventListener("abort", onAbort);
            attached?.destroy();
            if (file !== undefined && !file.closed) file.destroy();
            await remove();
        }
    }

    /** The image id the database's server container runs; it must be running (the dump joins its network namespace). */
    async #serverImage(server: string): Promise<string> {
        const a = await this.#engine(`inspecting ${server}`, () => dockerCall(this.o.dockerHost, "GET", `/containers/${encodeURIComponent(server)}/json`));
        if (a.status === 404) throw new BackupFailure(`the database's container ${server} is not on the Docker engine at ${this.o.dockerHost}`);
        if (a.status !== 200) throw new BackupFailure(`Docker answered the inspect of ${server} with HTTP ${a.status}`);
        const json = JSON.parse(a.body.toString("utf8")) as ContainerJson;
        if (json.State?.Running !== true) throw new BackupFailure(`the database's container ${server} is ${json.State?.Status ?? "not running"}, not running; start the database, then back it up`);
        if (json.Image === undefined || json.Image === "") throw new BackupFailure(`Docker reported no image for ${server}`);
        return json.Image;
    }

    /** An Engine API step; an unreachable engine or an unexpected answer becomes a short BackupFailure naming the step. */
    async #engine<T>(step: string, call: () => Promise<T>): Promise<T> {
        try {
            return await call();
        } catch (e) {
            if (e instanceof BackupFailure) throw e;
            const err = e as NodeJS.ErrnoException;
            throw new BackupFailure(`${step} failed: ${truncate(err.code ?? err.message, 200)} (the Docker engine at ${this.o.dockerHost})`);
        }
    }
}
