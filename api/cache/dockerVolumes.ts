/**
 * Golden volumes on a Docker engine, through the Engine API over its socket
 * (the calls are few and documented; no client library). A fill stops the database's server cleanly (the image's stop
 * signal, SIGINT: a fast shutdown with a checkpoint), runs the fill script of
 * contracts/cache.ts in a one-shot container of the database's own image (uid
 * 999, no network, every capability dropped, the source volume read-only),
 * and leaves the server stopped: the caller starts it again through the
 * engine (RestoreCache.wrap: a `docker start` would publish the port on
 * another ephemeral host port than the stack's outputs say). The Engine API
 * calls go through api/docker/engineApi.ts. No Pulumi imports.
 */
import { GOLDEN_DATABASE } from "../../contracts/cache";
import { fillScript } from "../../contracts/cacheScripts";
import { POSTGRES_UID } from "../../contracts/catalog";
import { dockerObjectName, LABELS, MANAGED_BY } from "../../contracts/labels";
import { DATA_MOUNT, PGDATA } from "../../contracts/restore";
import type { GoldenVolumes } from "./cache";
import { demuxLogs, dockerCall, dockerExpect } from "../docker/engineApi";

/** Where the fill helper sees the source database's volume (read-only). */
const SOURCE_MOUNT = "/var/lib/dbaas-source";
/** The label that marks a golden volume. */
export const CACHE_LABEL = "dbaas.io/cache";

export function dockerGoldenVolumes(): GoldenVolumes {
    return {
        async fill({ dockerHost, database, image, volume, signal }) {
            const server = dockerObjectName(database);
            const helper = `${volume}-fill`;
            await dockerExpect(dockerHost, "POST", `/containers/${encodeURIComponent(server)}/stop?t=120`, [204, 304], undefined, 180_000);
            signal.throwIfAborted();
            await dockerExpect(dockerHost, "POST", "/volumes/create", [201], { Name: volume, Labels: { [LABELS.managedBy]: MANAGED_BY, [CACHE_LABEL]: "golden" } });
            await dockerExpect(dockerHost, "POST", `/containers/create?name=${encodeURIComponent(helper)}`, [201], {
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
                await dockerExpect(dockerHost, "POST", `/containers/${encodeURIComponent(helper)}/start`, [204, 304]);
                const waited = await dockerExpect(dockerHost, "POST", `/containers/${encodeURIComponent(helper)}/wait`, [200], undefined, 3_600_000);
                const code = (JSON.parse(waited.body.toString("utf8")) as { StatusCode?: number }).StatusCode;
                const logs = demuxLogs((await dockerExpect(dockerHost, "GET", `/containers/${encodeURIComponent(helper)}/logs?stdout=1&stderr=1&tail=50`, [200])).body);
                if (code !== 0) throw new Error(`the fill helper exited ${code ?? "?"}: ${logs.trim().split("\n").pop() ?? ""}`);
                const bytes = /^bytes=([0-9]+)$/m.exec(logs)?.[1];
                if (bytes === undefined) throw new Error(`the fill helper reported no size; ${GOLDEN_DATABASE} copy not trusted`);
                return { bytes: Number(bytes) };
            } finally {
                await dockerCall(dockerHost, "DELETE", `/containers/${encodeURIComponent(helper)}?force=1`).catch(() => undefined);
            }
        },

        async remove(dockerHost, volume) {
            await dockerExpect(dockerHost, "DELETE", `/volumes/${encodeURIComponent(volume)}`, [204, 404]);
        },
    };
}
