/**
 * The golden volumes' Docker Engine API calls against a STAND-IN of the
 * engine on a unix socket (the real engine is the e2e tier's): the order of a
 * fill (stop, volume, helper with the fill script, wait, logs, helper removed;
 * the server left stopped for the engine to start), the helper's isolation,
 * the helper removed when the copy fails, and the removal of a volume in use.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { dockerGoldenVolumes } from "../../../api/cache/dockerVolumes";
import { demuxLogs } from "../../../api/docker/engineApi";

interface Call { method: string; path: string; body: unknown }

/** A multiplexed log frame (stream 1 = stdout). */
const frame = (text: string) => {
    const payload = Buffer.from(text);
    const header = Buffer.alloc(8);
    header[0] = 1;
    header.writeUInt32BE(payload.length, 4);
    return Buffer.concat([header, payload]);
};

describe("golden volumes through the Docker Engine API (stand-in)", () => {
    let dir: string;
    let server: http.Server;
    const calls: Call[] = [];
    let helperExit = 0;
    let helperLogs = "bytes=409600\nfill: golden copy ready\n";
    let volumeInUse = false;

    beforeAll(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-docker-standin-"));
        server = http.createServer((req, res) => {
            const chunks: Buffer[] = [];
            req.on("data", (c: Buffer) => chunks.push(c));
            req.on("end", () => {
                const text = Buffer.concat(chunks).toString("utf8");
                const url = req.url ?? "/";
                calls.push({ method: req.method ?? "?", path: url, body: text === "" ? undefined : JSON.parse(text) as unknown });
                const send = (status: number, body?: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(body === undefined ? undefined : JSON.stringify(body));
                if (url.endsWith("/stop?t=120") || url.endsWith("/start")) return send(204);
                if (url === "/volumes/create") return send(201, { Name: "dbaas-cache-7" });
                if (url.startsWith("/containers/create")) return send(201, { Id: "helper" });
                if (url.endsWith("/wait")) return send(200, { StatusCode: helperExit });
                if (url.includes("/logs?")) return void res.writeHead(200).end(frame(helperLogs));
                if (url.includes("/json")) return send(200, { State: { Status: "running", Health: { Status: "healthy" } } });
                if (req.method === "DELETE" && url.startsWith("/containers/")) return send(204);
                if (req.method === "DELETE" && url.startsWith("/volumes/")) return volumeInUse ? send(409, { message: "volume is in use - [abc]" }) : send(204);
                send(404, { message: "no such route in the stand-in" });
            });
        });
        await new Promise<void>((resolve) => server.listen(path.join(dir, "docker.sock"), resolve));
    });
    afterAll(async () => {
        await new Promise((resolve) => server.close(resolve));
        fs.rmSync(dir, { recursive: true, force: true });
    });
    beforeEach(() => {
        calls.length = 0;
        helperExit = 0;
        helperLogs = "bytes=409600\nfill: golden copy ready\n";
        volumeInUse = false;
    });

    const host = () => `unix://${path.join(dir, "docker.sock")}`;
    const fill = () => dockerGoldenVolumes().fill({ dockerHost: host(), database: "orders", image: "postgres:17.2", volume: "dbaas-cache-7", signal: new AbortController().signal });

    it("stops the server, fills the volume in an isolated helper, and leaves the server stopped for the engine to start", async () => {
        expect(await fill()).toEqual({ bytes: 409_600 });
        expect(calls.map((c) => `${c.method} ${c.path.split("?")[0] ?? ""}`)).toEqual([
            "POST /containers/dbaas-db-orders/stop",
            "POST /volumes/create",
            "POST /containers/create",
            "POST /containers/dbaas-cache-7-fill/start",
            "POST /containers/dbaas-cache-7-fill/wait",
            "GET /containers/dbaas-cache-7-fill/logs",
            "DELETE /containers/dbaas-cache-7-fill",
        ]);
        const helper = calls[2]?.body as { Image: string; User: string; Cmd: string[]; Env: string[]; HostConfig: { NetworkMode: string; CapDrop: string[]; Mounts: { Source: string; Target: string; ReadOnly?: boolean }[] } };
        expect(helper).toMatchObject({ Image: "postgres:17.2", User: "999:999" });
        expect(helper.HostConfig.NetworkMode).toBe("none");
        expect(helper.HostConfig.CapDrop).toEqual(["ALL"]);
        expect(helper.HostConfig.Mounts).toEqual([
            { Type: "volume", Source: "dbaas-db-orders-data", Target: "/var/lib/dbaas-source", ReadOnly: true },
            { Type: "volume", Source: "dbaas-cache-7", Target: "/var/lib/postgresql/data" },
        ]);
        expect(helper.Env).toEqual(["SOURCE_PGDATA=/var/lib/dbaas-source/pgdata", "PGDATA=/var/lib/postgresql/data/pgdata", "DATABASE_NAME=orders"]);
        expect(helper.Cmd[0]).toContain("PASSWORD NULL");
    });

    it("a failed copy rejects with the helper's last line, and the helper is removed", async () => {
        helperExit = 1;
        helperLogs = "fill: copy failed: cp of /var/lib/dbaas-source/pgdata failed (check the free space of the cache volume)\n";
        await expect(fill()).rejects.toThrow("the fill helper exited 1: fill: copy failed");
        expect(calls.map((c) => `${c.method} ${c.path.split("?")[0] ?? ""}`).slice(-1)).toEqual(["DELETE /containers/dbaas-cache-7-fill"]);
        expect(calls.some((c) => c.path.endsWith("/start") && c.path.includes("dbaas-db-orders"))).toBe(false);
    });

    it("removes a volume, and rejects naming the call while it is in use", async () => {
        const volumes = dockerGoldenVolumes();
        await volumes.remove(host(), "dbaas-cache-7");
        volumeInUse = true;
        await expect(volumes.remove(host(), "dbaas-cache-7")).rejects.toThrow(/DELETE \/volumes\/dbaas-cache-7 with HTTP 409: .*in use/);
    });

    it("reads multiplexed and raw log streams", () => {
        expect(demuxLogs(Buffer.concat([frame("a\n"), frame("b\n")]))).toBe("a\nb\n");
        expect(demuxLogs(Buffer.from("plain tty text\n"))).toBe("plain tty text\n");
    });
});
