/**
 * Runs a real nginx (Debian's, as the tests' stand-in for the image's) with a
 * config from renderNginxConf under its own prefix on loopback high ports.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { renderNginxConf, type NginxConfOptions } from "../../../components/proxy/nginxConf";
import type { TestCertificate } from "../../support/tls";
import { freePort } from "../../../api/freePort";
export { freePort };

const execFileAsync = promisify(execFile);

export interface NginxPrefix {
    dir: string;
    conf: string;
    acmeDir: string;
    options: NginxConfOptions;
}

/**
 * Writes certificate, key, an ACME web root and the rendered nginx.conf under
 * a fresh temp prefix. Directories are world-readable: when the tests run as
 * root, nginx's workers run as `nobody` and must read the ACME files.
 */
export function preparePrefix(cert: TestCertificate, options: Omit<NginxConfOptions, "paths">): NginxPrefix {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-nginx-"));
    fs.chmodSync(dir, 0o755);
    for (const sub of ["logs", "tmp", "acme"]) fs.mkdirSync(path.join(dir, sub), { mode: 0o755 });
    fs.writeFileSync(path.join(dir, "fullchain.pem"), cert.certPem, { mode: 0o644 });
    fs.writeFileSync(path.join(dir, "privkey.pem"), cert.keyPem, { mode: 0o600 });
    const full: NginxConfOptions = {
        ...options,
        paths: {
            certificate: path.join(dir, "fullchain.pem"),
            privateKey: path.join(dir, "privkey.pem"),
            acmeChallengeDir: path.join(dir, "acme"),
            pid: path.join(dir, "nginx.pid"),
            errorLog: path.join(dir, "logs", "error.log"),
            accessLog: path.join(dir, "logs", "access.log"),
            tempDir: path.join(dir, "tmp"),
        },
    };
    const conf = path.join(dir, "nginx.conf");
    fs.writeFileSync(conf, renderNginxConf(full), { mode: 0o644 });
    return { dir, conf, acmeDir: full.paths.acmeChallengeDir, options: full };
}

/** `nginx -t` on the prefix's config; resolves with nginx's output, rejects with it on failure. */
export async function nginxTest(prefix: NginxPrefix): Promise<string> {
    try {
        const { stderr } = await execFileAsync("nginx", ["-t", "-p", prefix.dir, "-e", path.join(prefix.dir, "logs", "error.log"), "-c", prefix.conf]);
        return stderr;
    } catch (e) {
        const err = e as { stderr?: string; message: string };
        throw new Error(`nginx -t failed: ${err.stderr ?? err.message}`);
    }
}

async function waitForPort(port: number, child: ChildProcess, output: () => string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${output()}`);
        const ok = await new Promise<boolean>((resolve) => {
            const s = net.connect(port, "127.0.0.1", () => { s.destroy(); resolve(true); });
            s.once("error", () => resolve(false));
        });
        if (ok) return;
        if (Date.now() > deadline) throw new Error(`nginx did not listen on ${port} within ${timeoutMs} ms: ${output()}`);
        await new Promise((r) => setTimeout(r, 50));
    }
}

export interface RunningNginx {
    stop(): Promise<void>;
    errorLog(): string;
}

/** Starts nginx in the foreground as a child process; resolves once both ports accept connections. */
export async function startNginx(prefix: NginxPrefix): Promise<RunningNginx> {
    const child = spawn("nginx", ["-p", prefix.dir, "-e", path.join(prefix.dir, "logs", "error.log"), "-c", prefix.conf, "-g", "daemon off;"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => { out += d.toString(); });
    child.stderr.on("data", (d: Buffer) => { out += d.toString(); });
    const errorLog = () => {
        try {
            return fs.readFileSync(prefix.options.paths.errorLog, "utf8");
        } catch {
            return "";
        }
    };
    const stop = async () => {
        if (child.exitCode !== null) return;
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(timer);
    };
    try {
        await waitForPort(prefix.options.listen.http, child, () => out + errorLog());
        await waitForPort(prefix.options.listen.https, child, () => out + errorLog());
    } catch (e) {
        await stop();
        throw e;
    }
    return { stop, errorLog };
}
