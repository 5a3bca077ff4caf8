/**
 * DockerDumpRunner against a STAND-IN of the Docker Engine API on a unix
 * socket (the real engine is the e2e tier's, backupInTargetDocker.e2e): the
 * order of the calls (inspect, create, attach, wait registered, start), the
 * password arriving as the one stdin line over the hijacked attach and in no
 * request body, stdout frames into the file byte for byte, the exit code and
 * the stream's end deciding success, the reasons of each failure, and the
 * container removed on a stop.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import type { Duplex } from "node:stream";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DockerDumpRunner } from "../../../api/backups/dockerDumpRunner";
import { BackupFailure, type DumpInfo } from "../../../api/backups/runner";
import { frame } from "../../support/dockerStream";

const PASSWORD = "pa:ss\\w'o\"rd";
const source = { name: "orders", host: "127.0.0.1", port: 5999, database: "orders", user: "owner", password: PASSWORD };

interface Scenario {
    running: boolean;
    /** What the container "writes" once started and its stdin line arrived: frames, then maybe a cut. */
    output: Buffer[];
    exitCode: number;
    /** Keep the stream open after the output (a stop must end it). */
    hang: boolean;
}

describe("the in-target dump through the Docker Engine API (stand-in)", () => {
    let dir: string;
    let server: http.Server;
    const calls: string[] = [];
    const bodies: string[] = [];
    let stdin = "";
    let scenario: Scenario;
    let attached: Duplex | undefined;
    let waitRes: http.ServerResponse | undefined;
    let finish: (() => void) | undefined;

    const sock = () => path.join(dir, "docker.sock");
    const runner = (host = `unix://${sock()}`) => new DockerDumpRunner({ dockerHost: host, memoryMb: 128 });
    const exit = () => {
        attached?.end();
        waitRes?.end(JSON.stringify({ StatusCode: scenario.exitCode, Error: null }));
    };

    beforeAll(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-docker-dump-standin-"));
        server = http.createServer((req, res) => {
            const chunks: Buffer[] = [];
            req.on("data", (c: Buffer) => chunks.push(c));
            req.on("end", () => {
                const url = req.url ?? "";
                calls.push(`${req.method ?? "?"} ${url.split("?")[0] ?? ""}`);
                bodies.push(Buffer.concat(chunks).toString("utf8"));
                if (req.method === "GET" && url === "/containers/dbaas-db-orders/json") {
                    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({
                        Image: "sha256:0123", State: { Running: scenario.running, Status: scenario.running ? "running" : "exited" },
                    }));
                } else if (req.method === "POST" && url.startsWith("/containers/create?name=dbaas-db-orders-backup-")) {
                    res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify({ Id: "c0ffee" }));
                } else if (req.method === "POST" && /\/wait\?condition=removed$/.test(url)) {
                    // As the engine does: the status line once the wait is registered, the body at the exit.
                    res.writeHead(200, { "content-type": "application/json" });
                    res.flushHeaders();
                    waitRes = res;
                } else if (req.method === "POST" && url.endsWith("/start")) {
                    res.writeHead(204).end();
                    finish = () => {
                        for (const b of scenario.output) attached?.write(b);
                        if (!scenario.hang) exit();
                    };
                    if (stdin.includes("\n")) finish();
                } else if (req.method === "DELETE") {
                    res.writeHead(204).end();
                    scenario.exitCode = 137;
                    exit();
                } else {
                    res.writeHead(404).end(`{"message":"no such route in the stand-in: ${req.method ?? "?"} ${url}"}`);
                }
            });
        });
        server.on("upgrade", (req: http.IncomingMessage, socket: Duplex) => {
            calls.push(`UPGRADE ${(req.url ?? "").split("?")[0] ?? ""} ${req.url?.split("?")[1] ?? ""}`);
            attached = socket;
            socket.write("HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n");
            socket.on("data", (c: Buffer) => {
                stdin += c.toString("utf8");
                if (stdin.includes("\n")) finish?.();
            });
            socket.on("error", () => undefined);
        });
        await new Promise<void>((resolve) => server.listen(sock(), resolve));
    });

    afterAll(async () => {
        attached?.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        fs.rmSync(dir, { recursive: true, force: true });
    });

    beforeEach(() => {
        calls.length = 0;
        bodies.length = 0;
        stdin = "";
        attached = undefined;
        waitRes = undefined;
        finish = undefined;
        scenario = { running: true, output: [], exitCode: 0, hang: false };
    });

    const out = () => path.join(dir, "out.dump");
    const dump = (signal = AbortSignal.timeout(10_000), onInfo?: (i: DumpInfo) => void) =>
        runner().dump(source, out(), { signal, ...(onInfo === undefined ? {} : { onInfo }) });
    const reasonOf = (p: Promise<unknown>) => p.then(() => "resolved", (e: unknown) => (e instanceof BackupFailure ? e.reason : `not a BackupFailure: ${String(e)}`));

    const DUMP = Buffer.concat([Buffer.from("PGDMP"), Buffer.from([1, 0, 0, 0, 8, 0x0a, 0x0d]), Buffer.alloc(70_000, 0x5a)]);

    it("inspects, creates, attaches, registers the wait, starts; the password is the one stdin line and in no request body; stdout lands byte for byte", async () => {
        scenario.output = [frame(2, "dbaas-dump-info 170010 4242\n"), frame(1, DUMP.subarray(0, 3)), frame(1, DUMP.subarray(3))];
        const seen: DumpInfo[] = [];
        const info = await dump(undefined, (i) => void seen.push(i));
        expect(info).toEqual({ serverMajor: 17, dbSizeBytes: 4242 });
        expect(seen).toEqual([info]);
        expect(fs.readFileSync(out()).equals(DUMP)).toBe(true);
        expect(calls.slice(0, 5)).toEqual([
            "GET /containers/dbaas-db-orders/json",
            "POST /containers/create",
            expect.stringMatching(/^UPGRADE \/containers\/dbaas-db-orders-backup-[0-9a-f]{8}\/attach stream=1&stdout=1&stderr=1&stdin=1$/),
            expect.stringMatching(/^POST \/containers\/dbaas-db-orders-backup-[0-9a-f]{8}\/wait$/),
            expect.stringMatching(/^POST \/containers\/dbaas-db-orders-backup-[0-9a-f]{8}\/start$/),
        ]);
        expect(stdin).toBe(`${PASSWORD}\n`);
        const create = JSON.parse(bodies[1] ?? "{}") as { Image: string; HostConfig: { NetworkMode: string; Memory: number } };
        expect(create.Image).toBe("sha256:0123");
        expect(create.HostConfig).toMatchObject({ NetworkMode: "container:dbaas-db-orders", Memory: 128 * 1024 * 1024 });
        expect(bodies.join("\n")).not.toContain(PASSWORD);
    });

    it("fails with pg_dump's last error line and its exit code, the password redacted should it be echoed", async () => {
        scenario.output = [frame(2, "dbaas-dump-info 170010 1\n"), frame(1, "PGDMP partial"), frame(2, `pg_dump: error: query failed: ERROR:  permission denied for table secrets ${PASSWORD}\npg_dump: detail: Query was: LOCK TABLE secrets\n`)];
        scenario.exitCode = 1;
        const reason = await reasonOf(dump());
        expect(reason).toMatch(/^pg_dump 17 \(the database's image\) failed \(exit 1\): pg_dump: error: query failed: ERROR: {2}permission denied for table secrets \[redacted\]$/);
    });

    it("does not trust an exit 0 whose stream was cut inside a frame", async () => {
        scenario.output = [frame(2, "dbaas-dump-info 170010 1\n"), frame(1, DUMP).subarray(0, 1000)];
        expect(await reasonOf(dump())).toMatch(/^the dump container's output was cut \(the stream ended \d+ bytes short of the end of a stdout frame\); the dump is incomplete$/);
    });

    it("names a server container that is not running, and makes no dump container", async () => {
        scenario.running = false;
        expect(await reasonOf(dump())).toBe("the database's container dbaas-db-orders is exited, not running; start the database, then back it up");
        expect(calls).toEqual(["GET /containers/dbaas-db-orders/json"]);
    });

    it("names the step and the engine when the engine cannot be reached", async () => {
        const gone = `unix://${path.join(dir, "nothing.sock")}`;
        expect(await reasonOf(runner(gone).dump(source, out(), { signal: AbortSignal.timeout(5000) }))).toBe(`inspecting dbaas-db-orders failed: ENOENT (the Docker engine at ${gone})`);
    });

    it("removes the container on a stop and fails with the stop's reason", async () => {
        scenario.output = [frame(2, "dbaas-dump-info 170010 1\n"), frame(1, "PGDMP")];
        scenario.hang = true;
        const c = new AbortController();
        const reason = await reasonOf(dump(c.signal, () => setTimeout(() => c.abort("the dump took longer than DBAAS_BACKUP_TIMEOUT_SECONDS (10 s)"), 50)));
        expect(reason).toBe("the dump took longer than DBAAS_BACKUP_TIMEOUT_SECONDS (10 s)");
        expect(calls).toContainEqual(expect.stringMatching(/^DELETE \/containers\/dbaas-db-orders-backup-[0-9a-f]{8}$/));
    });

    it("fails with the write error on a full disk and removes the container", async (ctx) => {
        if (!fs.existsSync("/dev/full")) ctx.skip("no /dev/full on this host");
        scenario.output = [frame(2, "dbaas-dump-info 170010 1\n"), ...Array.from({ length: 50 }, () => frame(1, DUMP))];
        scenario.hang = true;
        const reason = await reasonOf(runner().dump(source, "/dev/full", { signal: AbortSignal.timeout(10_000) }));
        expect(reason).toMatch(/^writing the dump failed: .*ENOSPC/);
        expect(calls).toContainEqual(expect.stringMatching(/^DELETE \/containers\/dbaas-db-orders-backup-[0-9a-f]{8}$/));
    });

    it("refuses a password it cannot pass as one line before calling the engine", async () => {
        expect(await reasonOf(runner().dump({ ...source, password: "a\nb" }, out(), { signal: AbortSignal.timeout(5000) }))).toMatch(/line break/);
        expect(calls).toEqual([]);
    });
});
