/**
 * moto_server (PyPI `moto[server]`): a local simulation of S3 on 127.0.0.1, for
 * the S3 backup store's tests. It is not AWS: it accepts any credentials and
 * does not check IAM or KMS; what it shows is that the store speaks S3 the
 * way the SDK does. .ci/run installs it into a venv in the user's cache and
 * names it in DBAAS_MOTO_SERVER; outside CI a missing one skips with the reason.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { freePort } from "../../api/freePort";
import { findBinary, IN_CI } from "./requirements";

const INSTALL = "bash .ci/run installs it, or: python3 -m venv ~/.cache/dbaas/moto && ~/.cache/dbaas/moto/bin/pip install 'moto[server]', then DBAAS_MOTO_SERVER=~/.cache/dbaas/moto/bin/moto_server";

/** The moto_server to run: DBAAS_MOTO_SERVER, else the one on PATH, else one of the venvs .ci/run leaves in the cache (the last by name), else undefined. */
export function findMotoServer(): string | undefined {
    const named = process.env.DBAAS_MOTO_SERVER;
    if (named !== undefined && named !== "") return fs.existsSync(named) ? named : undefined;
    const onPath = findBinary("moto_server");
    if (onPath !== undefined) return onPath;
    const cache = path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "dbaas");
    const venvs = fs.existsSync(cache) ? fs.readdirSync(cache).filter((d) => d.startsWith("moto-")).sort().reverse() : [];
    return venvs.map((d) => path.join(cache, d, "bin", "moto_server")).find((f) => fs.existsSync(f));
}

/** The reason the moto tests cannot run (printed, and thrown under CI=true), or undefined. */
export function requireMotoServer(): string | undefined {
    if (findMotoServer() !== undefined) return undefined;
    const named = process.env.DBAAS_MOTO_SERVER;
    const reason = `missing moto_server${named ? ` (DBAAS_MOTO_SERVER=${named} does not exist)` : ""} (install: ${INSTALL})`;
    if (IN_CI) throw new Error(`CI=true but ${reason}`);
    console.warn(`SKIPPED: ${reason}`);
    return reason;
}

export interface MotoServer {
    /** `http://127.0.0.1:<port>`: the S3 endpoint (path-style). */
    readonly endpoint: string;
    /** What it printed (requests it logged), for assertions that nothing secret went over the wire in clear. */
    output(): string;
    stop(): Promise<void>;
}

/** Starts moto_server on a free loopback port and waits until it answers. */
export async function startMotoServer(): Promise<MotoServer> {
    const bin = findMotoServer();
    if (bin === undefined) throw new Error(`moto_server not found (${INSTALL})`);
    const port = await freePort();
    // Its own HOME: moto writes nothing there, but no ~/.aws of the user is read by anything it starts.
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-moto-"));
    const child: ChildProcess = spawn(bin, ["-H", "127.0.0.1", "-p", String(port)], {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home },
        stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout?.on("data", (d: Buffer) => { out += d.toString(); });
    child.stderr?.on("data", (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const endpoint = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 30_000;
    for (;;) {
        if (child.exitCode !== null) throw new Error(`moto_server exited with ${child.exitCode}: ${out.slice(-1000)}`);
        try {
            const r = await fetch(`${endpoint}/moto-api/`);
            if (r.status < 500) {
                await r.body?.cancel();
                break;
            }
        } catch {
            // not listening yet
        }
        if (Date.now() > deadline) {
            child.kill("SIGKILL");
            throw new Error(`moto_server did not answer on ${endpoint} within 30 s: ${out.slice(-1000)}`);
        }
        await new Promise((r) => setTimeout(r, 200));
    }
    return {
        endpoint,
        output: () => out,
        async stop() {
            if (child.exitCode === null) child.kill("SIGTERM");
            await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
            if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
            fs.rmSync(home, { recursive: true, force: true });
        },
    };
}
