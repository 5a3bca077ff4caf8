/**
 * What the docker-target tests of the restored-backup cache (cacheDocker.e2e)
 * and `npm run bench:clone` share: the docker CLI against the private engine
 * of `e2e:up`, the check that says what is missing, an internal network on a
 * free /24 (the engine is shared, so the first free one of a few), and an
 * HTTPS backup server container on it. The server answers `/<file>` from its
 * directory with an ETag read from the file `etag` there (none when it is
 * absent), and logs each request's method and path, so a test can tell a
 * HEAD-only hit from a download.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { selfSignedCertificate } from "../support/tls";
import { waitFor } from "../support/testApi";
import { enginePath } from "./engine";

export interface DockerResult { readonly status: number | null; readonly stdout: string; readonly stderr: string }

/** The docker CLI (DOCKER_HOST: the private engine). */
export function docker(args: readonly string[], timeoutMs = 120_000): DockerResult {
    const r = spawnSync("docker", args, { encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** Why the docker target cannot run here (engine, the stand-in `images`, the provider), or undefined. */
export function dockerProblem(images: readonly string[]): string | undefined {
    if (process.env.DOCKER_HOST === undefined) return "DOCKER_HOST is unset (the private engine of e2e:up)";
    if (docker(["info"]).status !== 0) return `the Docker engine at ${process.env.DOCKER_HOST} does not answer (docker info failed)`;
    for (const image of images) {
        if (docker(["image", "inspect", image]).status !== 0) return `the stand-in image ${image} is missing (scripts/e2e/docker.sh images)`;
    }
    const plugin = enginePath().split(path.delimiter).some((d) => d !== "" && fs.existsSync(path.join(d, "pulumi-resource-docker")));
    if (!plugin) return "no pulumi-resource-docker on PATH (scripts/e2e/docker-provider.sh, run by tools.sh)";
    return undefined;
}

/**
 * Creates the internal network `name` on the first free /24 of 11.0.0.0/8 among a few (outside
 * every range the backup address check blocks; other tests on this engine hold some of them).
 * Returns the subnet's first three octets with a trailing dot.
 */
export function createBackupNetwork(name: string, label: string, base = 60): string {
    for (const third of [0, 20, 40, 60, 80].map((b) => base + b + (process.pid % 20))) {
        const created = docker(["network", "create", "--internal", "--subnet", `11.${third % 250}.0.0/24`, "--label", `dbaas.io/e2e=${label}`, name]);
        if (created.status === 0) return `11.${third % 250}.0.`;
        if (!/overlaps/.test(created.stderr)) throw new Error(`docker network create ${name} failed: ${created.stderr.trim()}`);
    }
    throw new Error(`no free /24 for the backup network ${name} (every one tried is in use)`);
}

const SERVE_JS = [
    'const https = require("node:https"), fs = require("node:fs"), path = require("node:path");',
    'const opts = { cert: fs.readFileSync("/srv/cert.pem"), key: fs.readFileSync("/srv/key.pem") };',
    "https.createServer(opts, (req, res) => {",
    '    const name = path.basename(new URL(req.url, "https://x").pathname);',
    "    console.log(`request ${req.method} /${name}`);",
    '    const file = path.join("/srv", name);',
    '    if (name === "" || name.endsWith(".pem") || name === "etag" || !fs.existsSync(file)) return void res.writeHead(404).end();',
    '    const etag = fs.existsSync("/srv/etag") ? { etag: fs.readFileSync("/srv/etag", "utf8") } : {};',
    '    res.writeHead(200, { "content-length": fs.statSync(file).size, ...etag });',
    '    if (req.method === "HEAD") return void res.end();',
    "    fs.createReadStream(file).pipe(res);",
    '}).listen(443, () => console.log("listening"));',
    "",
].join("\n");

export interface BackupServer {
    /** The server's address on the network (what the API's DNS answer for `host` must say). */
    readonly address: string;
    /** The CA the fetch step trusts (DBAAS_BACKUP_CA_FILE). */
    readonly caFile: string;
    /** The directory it serves (`/srv`, read-only in the container). */
    readonly dir: string;
    /** Every request so far as its method (GET, HEAD), in order. */
    requests(): string[];
    /** The ETag sent from now on (quoted by the caller, e.g. '"v2"'). */
    setEtag(etag: string): void;
    /** Removes the container and the network. */
    stop(): void;
}

/**
 * Starts the backup server container `name` on a new internal network `network` (alias `host`),
 * serving `dir` (created here, with its certificate, key, CA and `serve.js`). Files to serve go
 * into `dir` (mode 0644: the container's node runs as another uid).
 */
export async function startBackupServer(o: { name: string; network: string; host: string; dir: string; label: string; etag?: string; subnetBase?: number }): Promise<BackupServer> {
    fs.mkdirSync(o.dir, { recursive: true, mode: 0o755 });
    const cert = selfSignedCertificate(o.host, [o.host]);
    fs.writeFileSync(path.join(o.dir, "cert.pem"), cert.certPem, { mode: 0o644 });
    fs.writeFileSync(path.join(o.dir, "key.pem"), cert.keyPem, { mode: 0o644 });
    fs.writeFileSync(path.join(o.dir, "ca.pem"), cert.certPem, { mode: 0o644 });
    fs.writeFileSync(path.join(o.dir, "serve.js"), SERVE_JS, { mode: 0o644 });
    const setEtag = (etag: string) => fs.writeFileSync(path.join(o.dir, "etag"), etag, { mode: 0o644 });
    if (o.etag !== undefined) setEtag(o.etag);
    const subnet = createBackupNetwork(o.network, o.label, o.subnetBase);
    const stop = () => {
        docker(["rm", "-f", o.name]);
        docker(["network", "rm", o.network]);
    };
    try {
        const run = docker(["run", "-d", "--name", o.name, "--network", o.network, "--network-alias", o.host, "--label", `dbaas.io/e2e=${o.label}`,
            "-v", `${o.dir}:/srv:ro`, "--memory", "128m", "dbaas-e2e/node:20", "node", "/srv/serve.js"]);
        if (run.status !== 0) throw new Error(`docker run of the backup server failed: ${run.stderr.trim()}`);
        await waitFor("the backup server to listen", () => (docker(["logs", o.name]).stdout.includes("listening") ? true : undefined), 30_000, 200);
        const address = docker(["inspect", "-f", `{{(index .NetworkSettings.Networks "${o.network}").IPAddress}}`, o.name]).stdout.trim();
        if (!address.startsWith(subnet)) throw new Error(`the backup server's address ${address} is not in ${subnet}0/24`);
        return {
            address, caFile: path.join(o.dir, "ca.pem"), dir: o.dir, setEtag, stop,
            requests: () => docker(["logs", o.name]).stdout.split("\n").filter((l) => l.startsWith("request ")).map((l) => l.split(" ")[1] ?? ""),
        };
    } catch (e) {
        stop();
        throw e;
    }
}
