/**
 * What a docker-target database's server is doing, read from the Docker
 * Engine API (`GET /containers/<name>/json` on the engine of the target's
 * docker_host), for the runtime watcher (jobs/watcher.ts), through the API's
 * Engine API client (api/docker/engineApi.ts). No Pulumi imports.
 */
import type { RuntimeView } from "../../contracts/api";
import { dockerObjectName } from "../../contracts/labels";
import { dockerCall } from "../docker/engineApi";
import { dockerEndpoint } from "./targetReadiness";

/** An observation without its `since` (the watcher stamps that). */
export type RuntimeObservation = Omit<RuntimeView, "since">;

/** Reads one database's server; rejects when the engine cannot be asked (the watcher logs and tries again). */
export type RuntimeInspector = (database: string) => Promise<RuntimeObservation>;

interface ContainerJson {
    readonly RestartCount?: number;
    readonly State?: { readonly Status?: string; readonly StartedAt?: string; readonly ExitCode?: number; readonly Health?: { readonly Status?: string } };
}

const STATUS: Record<string, RuntimeObservation["status"]> = {
    running: "running", paused: "paused", restarting: "restarting", exited: "exited", created: "exited", removing: "exited", dead: "dead",
};

/** Maps the Engine API's container JSON (undefined: 404, no such container). */
export function observationOf(json: ContainerJson | undefined): RuntimeObservation {
    if (json === undefined) return { status: "missing", health: null, restarts: 0, started_at: null, exit_code: null };
    const state = json.State ?? {};
    const status = STATUS[state.Status ?? ""] ?? "dead";
    const health = state.Health?.Status;
    return {
        status,
        health: status === "running" && (health === "starting" || health === "healthy" || health === "unhealthy") ? health : null,
        restarts: json.RestartCount ?? 0,
        // Docker reports 0001-01-01T00:00:00Z for a container that never started.
        started_at: state.StartedAt === undefined || state.StartedAt.startsWith("0001-") ? null : new Date(state.StartedAt).toISOString(),
        exit_code: status === "running" || state.ExitCode === undefined ? null : state.ExitCode,
    };
}

/** An inspector for the engine at `dockerHost` (unix:// or tcp://); undefined for hosts it cannot reach (ssh://). */
export function dockerInspector(dockerHost: string, timeoutMs = 5000): RuntimeInspector | undefined {
    if (dockerEndpoint(dockerHost) === undefined) return undefined;
    return async (database) => {
        const path = `/containers/${encodeURIComponent(dockerObjectName(database))}/json`;
        const a = await dockerCall(dockerHost, "GET", path, undefined, timeoutMs);
        if (a.status === 404) return observationOf(undefined);
        if (a.status !== 200) throw new Error(`Docker answered GET /containers/${dockerObjectName(database)}/json with HTTP ${a.status}`);
        try {
            return observationOf(JSON.parse(a.body.toString("utf8")) as ContainerJson);
        } catch (e) {
            throw new Error(`Docker's container JSON did not parse: ${(e as Error).message}`);
        }
    };
}
