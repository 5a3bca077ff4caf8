/**
 * What the docker-target e2e tests share: the docker CLI against the private
 * engine of `e2e:up`, the check that says why a test cannot run, and a backup
 * server (the stand-in Node image serving files over HTTPS on an internal
 * network of its own, reached by name as the fetch step reaches a real one).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Resolver } from "../../api/domain/ssrf";
import { fakeResolver, waitFor } from "../support/testApi";
import { selfSignedCertificate } from "../support/tls";
import { enginePath } from "./engine";

export interface DockerResult {
    readonly status: number | null;
    readonly stdout: string;
    readonly stderr: string;
}

/** The docker CLI against the private engine (DOCKER_HOST of .e2e/env); `input` goes to its stdin. */
export function docker(args: readonly string[], input?: string | Buffer, timeoutMs = 120_000): DockerResult {
    const r = spawnSync("docker", args, { encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, ...(input === undefined ? {} : { input }) });
    return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

export const containerExists = (name: string): boolean => docker(["container", "inspect", name]).status === 0;
export const volumeExists = (name: string): boolean => docker(["volume", "inspect", name]).status === 0;

/**
 * Why a docker-target test cannot run, or undefined: the engine, the stand-in
 * `images` and (unless the test runs no Pulumi program: `provider: false`) the
 * built docker provider on the engine PATH.
 */
export function dockerProblem(images: readonly string[], o: { provider?: boolean } = {}): string | undefined {
    if (process.env.DOCKER_HOST === undefined) return "DOCKER_HOST is unset (the private engine of e2e:up)";
    if (docker(["info"]).status !== 0) return `the Docker engine at ${process.env.DOCKER_HOST} does not answer (docker info failed)`;
    for (const image of images) {
        if (docker(["image", "inspect", image]).status !== 0) return `the stand-in image ${image} is missing (scripts/e2e/docker.sh images)`;
    }
    if (o.provider === false) return undefined;
    const plugin = enginePath().split(path.delimiter).some((d) => d !== "" && fs.existsSync(path.join(d, "pulumi-resource-docker")));
    if (!plugin) return "no pulumi-resource-docker on PATH (scripts/e2e/docker-provider.sh, run by tools.sh)";
    return undefined;
}

/**
 * An internal network on the first free /24 of `thirds` in 11.0.0.0/8 (outside
 * every range the address check blocks; tests running at the same time on this
 * engine take some of them). Returns the address prefix, e.g. "11.77.0.".
 */
export function createFreeNetwork(name: string, label: string, thirds: readonly number[]): string {
    for (const third of thirds) {
        const created = docker(["network", "create", "--internal", "--subnet", `11.${third}.0.0/24`, "--label", label, name]);
        if (created.status === 0) return `11.${third}.0.`;
        if (!/overlaps/.test(created.stderr)) throw new Error(`docker network create ${name}: ${created.stderr.trim()}`);
    }
    throw new Error(`no free /24 for ${name} among 11.{${thirds.join(",")}}.0.0`);
}

export interface BackupServer {
    /** The name the fetch step reaches it by (`https://HOST/<file>`). */
    readonly host: string;
    readonly network: string;
    readonly container: string;
    readonly address: string;
    /** API settings that point the fetch step at this server (allow-list, image, network, CA). */
    readonly env: Readonly<Record<string, string>>;
    /** Resolves `host` to the server's address (the API checks every backup URL's addresses). */
    readonly resolver: Resolver;
    /** The directory the served files are in (`/srv/files`, read-only in the container). */
    readonly files: string;
    /** Writes (or replaces) a served file; with `etag`, the server sends that ETag for it. */
    put(name: string, content: string, etag?: string): void;
    /** The ETag the server sends for `name` from now on (quoted by the caller, e.g. '"v2"'); undefined: none. */
    tag(name: string, etag: string | undefined): void;
    /** The requests seen so far, in order: "GET /orders.sql", "HEAD /orders.sql", ... */
    requests(): string[];
    stop(): void;
}

const HOST = "backups.e2e.test";

/**
 * The server: GET and HEAD of /<name> answer /srv/files/<name> (only the base
 * name counts, the query is ignored), with its length and, when
 * /srv/etags/<name> exists, that ETag; anything else is a 404. Every request
 * is logged as "request METHOD /name".
 */
const SERVE_JS = [
    'const https = require("node:https"), fs = require("node:fs"), path = require("node:path");',
    'const opts = { cert: fs.readFileSync("/srv/cert.pem"), key: fs.readFileSync("/srv/key.pem") };',
    "https.createServer(opts, (req, res) => {",
    '    const name = path.basename(new URL(req.url, "https://x").pathname);',
    "    console.log(`request ${req.method} /${name}`);",
    '    const file = path.join("/srv/files", name), tag = path.join("/srv/etags", name);',
    "    if (name === \"\" || !fs.existsSync(file)) { res.writeHead(404).end(); return; }",
    '    const headers = { "content-length": fs.statSync(file).size };',
    '    if (fs.existsSync(tag)) headers.etag = fs.readFileSync(tag, "utf8");',
    "    res.writeHead(200, headers);",
    '    if (req.method === "HEAD") return void res.end();',
    "    fs.createReadStream(file).pipe(res);",
    '}).listen(443, () => console.log("listening"));',
    "",
].join("\n");

/**
 * Starts a backup server in `tmp` (a directory of the test) for `files`, on a
 * free internal network named `${prefix}-net`, as container `${prefix}-server`.
 */
export async function startBackupServer(o: { tmp: string; prefix: string; label: string; thirds: readonly number[]; files: Readonly<Record<string, string>> }): Promise<BackupServer> {
    const dir = path.join(o.tmp, "backups");
    for (const sub of ["files", "etags"]) fs.mkdirSync(path.join(dir, sub), { recursive: true, mode: 0o755 });
    const cert = selfSignedCertificate(HOST, [HOST]);
    fs.writeFileSync(path.join(dir, "cert.pem"), cert.certPem, { mode: 0o644 });
    fs.writeFileSync(path.join(dir, "key.pem"), cert.keyPem, { mode: 0o644 });
    fs.writeFileSync(path.join(dir, "ca.pem"), cert.certPem, { mode: 0o644 });
    fs.writeFileSync(path.join(dir, "serve.js"), SERVE_JS, { mode: 0o644 });
    const tag = (name: string, etag: string | undefined): void => {
        const file = path.join(dir, "etags", name);
        if (etag === undefined) fs.rmSync(file, { force: true });
        else fs.writeFileSync(file, etag, { mode: 0o644 });
    };
    const put = (name: string, content: string, etag?: string): void => {
        fs.writeFileSync(path.join(dir, "files", name), content, { mode: 0o644 });
        tag(name, etag);
    };
    for (const [name, content] of Object.entries(o.files)) put(name, content);

    const network = `${o.prefix}-net`;
    const container = `${o.prefix}-server`;
    const subnet = createFreeNetwork(network, o.label, o.thirds);
    const stop = (): void => {
        docker(["rm", "-f", container]);
        docker(["network", "rm", network]);
    };
    let address: string;
    try {
        const run = docker(["run", "-d", "--name", container, "--network", network, "--network-alias", HOST, "--label", o.label,
            "-v", `${dir}:/srv:ro`, "--memory", "128m", "dbaas-e2e/node:20", "node", "/srv/serve.js"]);
        if (run.status !== 0) throw new Error(`the backup server did not start: ${run.stderr.trim()}`);
        await waitFor("the backup server to listen", () => (docker(["logs", container]).stdout.includes("listening") ? true : undefined), 30_000, 200);
        address = docker(["inspect", "-f", `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, container]).stdout.trim();
        if (!address.startsWith(subnet)) throw new Error(`the backup server's address ${address} is not on ${subnet}0/24`);
    } catch (e) {
        stop();
        throw e;
    }
    return {
        host: HOST,
        network,
        container,
        address,
        env: {
            DBAAS_BACKUP_HOSTS: HOST,
            DBAAS_FETCH_IMAGE: "dbaas-e2e/curl:7",
            DBAAS_FETCH_NETWORK: network,
            DBAAS_BACKUP_CA_FILE: path.join(dir, "ca.pem"),
        },
        resolver: fakeResolver({ [HOST]: [address] }),
        files: path.join(dir, "files"),
        put,
        tag,
        requests: () => docker(["logs", container]).stdout.split("\n").filter((l) => l.startsWith("request ")).map((l) => l.slice("request ".length)),
        stop,
    };
}
