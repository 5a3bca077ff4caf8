/**
 * Golden volumes on a Docker engine, through the Engine API over its socket
 * (the calls are few and documented, as in dockerRuntime.ts; no client
 * library). A fill stops the database's server cleanly (the image's stop
 * signal, SIGINT: a fast shutdown with a checkpoint), runs the fill script of
 * contracts/cache.ts in a one-shot container of the database's own image (uid
 * 999, no network, every capability dropped, the source volume read-only),
 * and leaves the server stopped: the caller starts it again through the
 * engine (RestoreCache.wrap: a `docker start` would publish the port on
 * another ephemeral host port than the stack's outputs say). No Pulumi imports.
 */
import * as http from "node:http";
import { GOLDEN_DATABASE } from "../../contracts/cache";
import { fillScript } from "../../contracts/cacheScripts";
import { POSTGRES_UID } from "../../contracts/catalog";
import { dockerObjectName, LABELS, MANAGED_BY } from "../../contracts/labels";
import { DATA_MOUNT, PGDATA } from "../../contracts/restore";
import type { GoldenVolumes } from "./cache";
import { dockerEndpoint } from "../engine/targetReadiness";

/** Where the fill helper sees the source database's volume (read-only). */
const SOURCE_MOUNT = "/var/lib/dbaas-source";
/** The label that marks a golden volume. */
export const CACHE_LABEL = "dbaas.io/cache";

interface Answer {
    readonly status: number;
    readonly body: Buffer;
}

export class DockerApiError extends Error {
    constructor(readonly status: number, message: string) {
        super(message);
        this.name = "DockerApiError";
    }
}

/** One Engine API call; rejects only when the engine cannot be reached. */
export function dockerCall(dockerHost: string, method: string, path: string, body?: unknown, timeoutMs = 60_000): Promise<Answer> {
    const endpoint = dockerEndpoint(dockerHost);
    if (endpoint === undefined) return Promise.reject(new Error(`the cache needs a unix:// or tcp:// Docker host, not ${dockerHost.split("://")[0] ?? "?"}://`));
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

/** The text of a container's multiplexed log stream (8-byte frame headers), or the raw text of a TTY's. */
export function demuxLogs(raw: Buffer): string {
    const out: Buffer[] = [];
    let at = 0;
    while (at + 8 <= raw.length && raw[at + 1] === 0 && raw[at + 2] === 0 && raw[at + 3] === 0 && (raw[at] ?? 9) <= 2) {
        const size = raw.readUInt32BE(at + 4);
        out.push(raw.subarray(at + 8, at + 8 + size));
        at += 8 + size;
    }
    return at === 0 ? raw.toString("utf8") : Buffer.concat(out).toString("utf8");
}

export function dockerGoldenVolumes(): GoldenVolumes {
    const expect = async (host: string, method: string, path: string, ok: readonly number[], body?: unknown, timeoutMs?: number): Promise<Answer> => {
        const a = await dockerCall(host, method, path, body, timeoutMs);
        if (!ok.includes(a.status)) {
            const text = a.body.toString("utf8").slice(0, 300).replace(/\s+/g, " ");
            throw new DockerApiError(a.status, `Docker answered ${method} ${path.split("?")[0] ?? ""} with HTTP ${a.status}: ${text}`);
        }
        return a;
    };

    return {
        async fill({ dockerHost, database, image, volume, signal }) {
            const server = dockerObjectName(database);
            const helper = `${volume}-fill`;
            await expect(dockerHost, "POST", `/containers/${encodeURIComponent(server)}/stop?t=120`, [204, 304], undefined, 180_000);
            signal.throwIfAborted();
            await expect(dockerHost, "POST", "/volumes/create", [201], { Name: volume, Labels: { [LABELS.managedBy]: MANAGED_BY, [CACHE_LABEL]: "golden" } });
            await expect(dockerHost, "POST", `/containers/create?name=${encodeURIComponent(helper)}`, [201], {
                Image: image,
                User: `${POSTGRES_UID}:${POSTGRES_UID}`,
                Entrypoint: ["sh", "-c"],
                Cmd: [fillScript()],
                Env: [`SOURCE_PGDATA=${SOURCE_MOUNT}/${PGDATA.slice(DATA_MOUNT.length + 1)}`, `PGDATA=${PGDATA}`, `DATABASE_NAME=${database}`],
                Labels: { [LABELS.managedBy]: MANAGED_BY, [CACHE_LABEL]: "fill" },
                NetworkDisabled: true,
                HostConfig: {
                    NetworkMode: "none",
                    CapDrop: ["ALL"],
                    SecurityOpt: ["no-new-privileges:true"],
                    // The golden volume at the image's data directory: an empty named volume takes
                    // that directory's owner (the postgres uid), so the helper may write into it.
                    Mounts: [
                        { Type: "volume", Source: dockerObjectName(database, "data"), Target: SOURCE_MOUNT, ReadOnly: true },
                        { Type: "volume", Source: volume, Target: DATA_MOUNT },
                    ],
                },
            });
            try {
                await expect(dockerHost, "POST", `/containers/${encodeURIComponent(helper)}/start`, [204, 304]);
                const waited = await expect(dockerHost, "POST", `/containers/${encodeURIComponent(helper)}/wait`, [200], undefined, 3_600_000);
                const code = (JSON.parse(waited.body.toString("utf8")) as { StatusCode?: number }).StatusCode;
                const logs = demuxLogs((await expect(dockerHost, "GET", `/containers/${encodeURIComponent(helper)}/logs?stdout=1&stderr=1&tail=50`, [200])).body);
                if (code !== 0) throw new Error(`the fill helper exited ${code ?? "?"}: ${logs.trim().split("\n").pop() ?? ""}`);
                const bytes = /^bytes=([0-9]+)$/m.exec(logs)?.[1];
                if (bytes === undefined) throw new Error(`the fill helper reported no size; ${GOLDEN_DATABASE} copy not trusted`);
                return { bytes: Number(bytes) };
            } finally {
                await dockerCall(dockerHost, "DELETE", `/containers/${encodeURIComponent(helper)}?force=1`).catch(() => undefined);
            }
        },

        async remove(dockerHost, volume) {
            await expect(dockerHost, "DELETE", `/volumes/${encodeURIComponent(volume)}`, [204, 404]);
        },
    };
}
