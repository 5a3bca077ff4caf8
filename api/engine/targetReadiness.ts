/**
 * Can the engine reach the place databases are made? The docker target needs
 * a Docker engine that answers `/_ping`; the kubernetes target needs
 * credentials the provider will find (in-cluster ServiceAccount token, or a
 * kubeconfig file). Each problem names what is missing and how to fix it, so
 * /readyz and a refused `POST /databases` say the same thing.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import type { Target } from "../config";
import type { EngineReadiness, StackEngine } from "./types";
import { canRefresh } from "./recovery";

export const SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/** Where a `DOCKER_HOST`-style URL points: a unix socket path or a TCP host and port (ssh cannot be probed from here). */
export function dockerEndpoint(url: string): { socketPath: string } | { host: string; port: number } | undefined {
    if (url.startsWith("unix://")) return { socketPath: url.slice("unix://".length) };
    const tcp = /^tcp:\/\/(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/?$/.exec(url);
    if (tcp?.[1] !== undefined) return { host: tcp[1].replace(/^\[|\]$/g, ""), port: Number(tcp[2] ?? "2375") };
    return undefined;
}

/** GET /_ping of a Docker engine: undefined when it answers OK, else why not. */
export function pingDocker(url: string, timeoutMs = 2000): Promise<string | undefined> {
    const endpoint = dockerEndpoint(url);
    if (endpoint === undefined) return Promise.resolve(undefined);
    return new Promise((resolve) => {
        const req = http.get({ ...endpoint, path: "/_ping", timeout: timeoutMs }, (res) => {
            res.resume();
            resolve(res.statusCode === 200 ? undefined : `answered /_ping with HTTP ${res.statusCode ?? "?"}`);
        });
        req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
        req.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
}

/** The kubeconfig files the provider would read (KUBECONFIG's list, else ~/.kube/config). */
export function kubeconfigCandidates(env: Readonly<Record<string, string | undefined>>): string[] {
    const list = env.KUBECONFIG;
    if (list !== undefined && list !== "") return list.split(path.delimiter).filter((f) => f !== "");
    return [path.join(env.HOME ?? os.homedir(), ".kube", "config")];
}

/** Why the target cannot be used now, with the fix; empty when it can. */
export async function targetProblems(target: Target, env: Readonly<Record<string, string | undefined>>): Promise<string[]> {
    if (target.kind === "docker") {
        const why = await pingDocker(target.docker_host);
        return why === undefined ? [] : [
            `no Docker engine answers at ${target.docker_host} (${why}): start Docker, or point DBAAS_DOCKER_HOST (or DOCKER_HOST) at one`,
        ];
    }
    const inCluster = env.KUBERNETES_SERVICE_HOST !== undefined && fs.existsSync(SERVICE_ACCOUNT_TOKEN);
    if (inCluster) return [];
    const files = kubeconfigCandidates(env);
    if (files.some((f) => fs.existsSync(f))) return [];
    return [
        `no Kubernetes credentials: not in a cluster (no KUBERNETES_SERVICE_HOST and ${SERVICE_ACCOUNT_TOKEN}) and no kubeconfig at ${files.join(", ")}: ` +
        "run the API in the cluster as its ServiceAccount, or set KUBECONFIG, or use DBAAS_TARGET=docker",
    ];
}

/**
 * The engine with the target's check added to its readiness. A good answer
 * is kept for `okCacheMs` (each POST asks), a bad one is asked again next time.
 */
export function withTargetReadiness(
    engine: StackEngine,
    target: Target,
    env: Readonly<Record<string, string | undefined>>,
    okCacheMs = 1000,
): StackEngine {
    let okUntil = 0;
    const check = async (): Promise<string[]> => {
        if (Date.now() < okUntil) return [];
        const problems = await targetProblems(target, env);
        if (problems.length === 0) okUntil = Date.now() + okCacheMs;
        return problems;
    };
    return {
        up: (spec, options) => engine.up(spec, options),
        destroy: (name, options) => engine.destroy(name, options),
        outputs: (name) => engine.outputs(name),
        restart: (name, options) => engine.restart(name, options),
        cancel: (name) => engine.cancel(name),
        // Crash recovery asks canRefresh(engine): without this the pending creates of a dead process were never cleared.
        ...(canRefresh(engine) ? { refresh: (name: string, options: Parameters<typeof engine.refresh>[1]) => engine.refresh(name, options) } : {}),
        async readiness(): Promise<EngineReadiness> {
            const [own, target_] = await Promise.all([engine.readiness(), check()]);
            const reasons = [...own.reasons, ...target_];
            return { ok: reasons.length === 0, reasons };
        },
    };
}
