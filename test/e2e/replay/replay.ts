/**
 * A REPLAY of the platform program onto a real Docker engine, for machines
 * where the Pulumi tls, random and postgresql providers cannot be built (their
 * Terraform upstreams are not served by the Go module proxy; docs/e2e-docker.md).
 * The program runs unchanged under Pulumi's mocks; each resource it registers
 * is carried out here, in dependency order (the SDK waits for a resource's
 * inputs and `dependsOn` before registering it):
 *   - docker: networks, volumes, images (built with the docker CLI, pulled
 *     ones must already be on the engine), containers with their uploads,
 *     env, mounts, ports, health checks, memory, user, waiting for healthy
 *     where `wait` is set — through the Docker Engine API;
 *   - tls: real keys (node:crypto) and certificates (openssl);
 *   - random: passwords from node:crypto;
 *   - postgresql: roles, database and grants as SQL over the declared
 *     connection (the same statements components/postgres/roles.ts defines).
 * An input the replay does not carry out (mapping.ts) fails the resource.
 * It is not `pulumi up`: no state, no diff, no replace, no delete; `remove()`
 * deletes what it created.
 */
import { execFile } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { promisify } from "node:util";
import * as pulumi from "@pulumi/pulumi";
import { Client } from "pg";
import { defaultPrivilegeSql, grantSql } from "../../../components/postgres/roles";
import { plain, settle } from "../../support/harness";
import { containerCreateBody, opensslSubject, opensslUsages, unmappedInputs } from "./mapping";

const execFileAsync = promisify(execFile);
const DOCKER_CLI = fs.existsSync("/usr/bin/docker") ? "/usr/bin/docker" : "docker";

/** One thing the replay made on the engine, for `remove()`. */
interface Made {
    readonly kind: "container" | "network" | "volume";
    readonly id: string;
    readonly name: string;
}

/** What one resource's replay did and how long it took. */
export interface ReplayStep {
    readonly type: string;
    readonly name: string;
    readonly seconds: number;
    readonly error?: string;
}

interface EngineAnswer {
    status: number;
    body: string;
}

/** One Docker Engine API request over the unix socket of `host` (unix:///path). */
function engine(host: string, method: string, route: string, body?: unknown, contentType = "application/json"): Promise<EngineAnswer> {
    if (!host.startsWith("unix://")) throw new Error(`replay: docker host ${host} is not a unix:// socket`);
    const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
        const req = http.request({
            socketPath: host.slice("unix://".length), method, path: `/v1.41${route}`,
            headers: payload === undefined ? {} : { "Content-Type": contentType, "Content-Length": payload.length },
        }, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        });
        req.on("error", reject);
        req.setTimeout(120_000, () => req.destroy(new Error(`docker engine ${method} ${route}: no answer in 120 s`)));
        req.end(payload);
    });
}

async function engineJson<T>(host: string, method: string, route: string, body?: unknown, contentType?: string): Promise<T> {
    const answer = await engine(host, method, route, body, contentType);
    if (answer.status >= 300) throw new Error(`docker engine ${method} ${route}: ${answer.status} ${answer.body.trim().slice(0, 400)}`);
    return (answer.body === "" ? {} : JSON.parse(answer.body)) as T;
}

const str = (v: unknown, what: string): string => {
    if (typeof v !== "string") throw new Error(`replay: ${what} is ${JSON.stringify(v)}, expected a string`);
    return v;
};

export interface ReplayOptions {
    readonly project: string;
    readonly stack: string;
    /** Full config keys to string values, as the CLI hands them over. */
    readonly config: Record<string, string>;
    readonly secretKeys: readonly string[];
    /** Private scratch directory (certificates, upload staging). */
    readonly workDir: string;
    /** Loads the program (a dynamic import of it) once the mocks are set. */
    readonly program: () => Promise<Record<string, unknown>>;
    /** Seconds to wait for the whole graph. */
    readonly timeoutSeconds: number;
}

export class PlatformReplay {
    readonly steps: ReplayStep[] = [];
    /** The outputs each resource got, by `type::name` (tests read generated passwords from here). */
    readonly results = new Map<string, Record<string, unknown>>();
    readonly #made: Made[] = [];
    readonly #dockerHosts = new Map<string, string>();
    readonly #pgProviders = new Map<string, Record<string, unknown>>();
    #seq = 0;

    constructor(readonly opts: ReplayOptions) {}

    /** Runs the program and carries out its graph; resolves with the program's exports (Outputs). */
    async run(): Promise<Record<string, unknown>> {
        await pulumi.runtime.setMocks({
            newResource: (args) => this.#newResource(args),
            call: (args) => {
                throw new Error(`replay: provider function ${args.token} is not replayed`);
            },
        }, this.opts.project, this.opts.stack, false);
        pulumi.runtime.setAllConfig(this.opts.config, [...this.opts.secretKeys]);
        const mod = await this.opts.program();
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`replay: the graph did not settle in ${this.opts.timeoutSeconds} s; steps so far: ${this.steps.map((s) => s.name).join(", ")}`)), this.opts.timeoutSeconds * 1000);
        });
        try {
            await Promise.race([settle(), timeout]);
        } finally {
            clearTimeout(timer);
        }
        return mod;
    }

    /** The steps that failed, with their reasons. */
    failures(): ReplayStep[] {
        return this.steps.filter((s) => s.error !== undefined);
    }

    /** Deletes every container, network and volume the replay made (containers first). */
    async remove(): Promise<void> {
        const host = [...this.#dockerHosts.values()][0];
        if (host === undefined) return;
        const order = { container: 0, network: 1, volume: 2 } as const;
        for (const m of [...this.#made].sort((a, b) => order[a.kind] - order[b.kind])) {
            const route = m.kind === "container" ? `/containers/${m.id}?force=true&v=true` : m.kind === "network" ? `/networks/${m.id}` : `/volumes/${m.id}?force=true`;
            await engine(host, "DELETE", route).catch(() => undefined);
        }
    }

    async #newResource(args: pulumi.runtime.MockResourceArgs): Promise<{ id: string | undefined; state: Record<string, unknown> }> {
        const inputs = plain(args.inputs) as Record<string, unknown>;
        if (args.custom === false) return { id: undefined, state: {} };
        const started = Date.now();
        try {
            const unmapped = unmappedInputs(args.type, inputs);
            if (unmapped.length > 0) throw new Error(`replay: ${args.type} ${args.name}: inputs not carried out: ${unmapped.join(", ")}`);
            const { id, outputs } = await this.#carryOut(args, inputs);
            this.steps.push({ type: args.type, name: args.name, seconds: (Date.now() - started) / 1000 });
            this.results.set(`${args.type}::${args.name}`, outputs);
            return { id, state: { ...inputs, ...outputs } };
        } catch (e) {
            const error = (e as Error).message;
            this.steps.push({ type: args.type, name: args.name, seconds: (Date.now() - started) / 1000, error });
            throw e;
        }
    }

    #dockerHost(provider: string | undefined): string {
        const host = provider === undefined ? undefined : this.#dockerHosts.get(provider.slice(provider.lastIndexOf("::") + 2));
        if (host === undefined) throw new Error("replay: a docker resource without an explicit docker provider");
        return host;
    }

    async #carryOut(args: pulumi.runtime.MockResourceArgs, inputs: Record<string, unknown>): Promise<{ id: string; outputs: Record<string, unknown> }> {
        const id = `${args.name}-${++this.#seq}`;
        switch (args.type) {
            case "pulumi:providers:docker":
                this.#dockerHosts.set(id, str(inputs.host, "docker provider host"));
                return { id, outputs: {} };
            case "pulumi:providers:postgresql":
                this.#pgProviders.set(id, inputs);
                return { id, outputs: {} };
            case "docker:index/network:Network": {
                const host = this.#dockerHost(args.provider);
                const made = await engineJson<{ Id: string }>(host, "POST", "/networks/create", { Name: inputs.name, Driver: inputs.driver ?? "bridge", CheckDuplicate: true });
                this.#made.push({ kind: "network", id: made.Id, name: str(inputs.name, "network name") });
                return { id: made.Id, outputs: {} };
            }
            case "docker:index/volume:Volume": {
                const host = this.#dockerHost(args.provider);
                const labels = Object.fromEntries(((inputs.labels ?? []) as { label: string; value: string }[]).map((l) => [l.label, l.value]));
                const made = await engineJson<{ Name: string }>(host, "POST", "/volumes/create", { Name: inputs.name, Labels: labels });
                this.#made.push({ kind: "volume", id: made.Name, name: made.Name });
                return { id: made.Name, outputs: { name: made.Name } };
            }
            case "docker:index/remoteImage:RemoteImage": {
                // No registry here: the image must already be on the engine (scripts/e2e/docker.sh builds the stand-ins).
                const host = this.#dockerHost(args.provider);
                const name = str(inputs.name, "image name");
                const answer = await engine(host, "GET", `/images/${encodeURIComponent(name)}/json`);
                if (answer.status === 404) throw new Error(`replay: image ${name} is not on the engine (no registry is reached): run scripts/e2e/docker.sh images`);
                const image = JSON.parse(answer.body) as { Id: string; RepoDigests?: string[] };
                return { id: `${image.Id}${name}`, outputs: { imageId: image.Id, repoDigest: image.RepoDigests?.[0] ?? "" } };
            }
            case "docker:index/image:Image":
                return { id, outputs: await this.#build(this.#dockerHost(args.provider), inputs) };
            case "docker:index/container:Container":
                return this.#container(this.#dockerHost(args.provider), inputs);
            case "random:index/randomPassword:RandomPassword":
                return { id, outputs: { result: randomPassword(Number(inputs.length), inputs.special === true) } };
            case "tls:index/privateKey:PrivateKey":
                return { id, outputs: privateKey(inputs) };
            case "tls:index/selfSignedCert:SelfSignedCert":
            case "tls:index/certRequest:CertRequest":
            case "tls:index/locallySignedCert:LocallySignedCert":
                return { id, outputs: await this.#certificate(args.type, id, inputs) };
            case "postgresql:index/role:Role":
            case "postgresql:index/database:Database":
            case "postgresql:index/grant:Grant":
            case "postgresql:index/defaultPrivileges:DefaultPrivileges":
                await this.#sql(args.type, args.provider, inputs);
                return { id, outputs: {} };
            default:
                throw new Error(`replay: ${args.type} is not replayed`);
        }
    }

    async #build(host: string, inputs: Record<string, unknown>): Promise<Record<string, unknown>> {
        const build = (inputs.build ?? {}) as { context: string; dockerfile?: string; platform?: string; args?: Record<string, string>; network?: string };
        if (inputs.skipPush !== true) throw new Error("replay: docker.Image without skipPush: the replay pushes to no registry");
        const imageName = str(inputs.imageName, "imageName");
        const argv = ["build", "--progress", "plain", "-t", imageName, "-f", build.dockerfile ?? path.join(build.context, "Dockerfile"),
            ...(build.platform === undefined ? [] : ["--platform", build.platform]),
            ...(build.network === undefined ? [] : ["--network", build.network]),
            ...Object.entries(build.args ?? {}).flatMap(([k, v]) => ["--build-arg", `${k}=${v}`]),
            build.context];
        try {
            await execFileAsync(DOCKER_CLI, argv, { env: { ...process.env, DOCKER_HOST: host, DOCKER_BUILDKIT: "1" }, timeout: 20 * 60_000, maxBuffer: 256 * 1024 * 1024 });
        } catch (e) {
            const err = e as { stderr?: string; message: string };
            throw new Error(`replay: docker build of ${imageName} failed: ${(err.stderr ?? err.message).split("\n").slice(-30).join("\n")}`);
        }
        return { imageName, repoDigest: "" };
    }

    async #container(host: string, inputs: Record<string, unknown>): Promise<{ id: string; outputs: Record<string, unknown> }> {
        const name = str(inputs.name, "container name");
        const made = await engineJson<{ Id: string }>(host, "POST", `/containers/create?name=${encodeURIComponent(name)}`, containerCreateBody(inputs));
        this.#made.push({ kind: "container", id: made.Id, name });
        for (const upload of (inputs.uploads ?? []) as { file: string; content: string; owner?: string; group?: string; permissions?: string }[]) {
            await engineJson(host, "PUT", `/containers/${made.Id}/archive?path=/`, await this.#tarOf(upload), "application/x-tar");
        }
        for (const net of ((inputs.networksAdvanced ?? []) as { name: string; aliases?: string[] }[]).slice(1)) {
            await engineJson(host, "POST", `/networks/${encodeURIComponent(net.name)}/connect`, { Container: made.Id, EndpointConfig: { Aliases: net.aliases ?? [] } });
        }
        await engineJson(host, "POST", `/containers/${made.Id}/start`);
        if (inputs.wait === true) await waitHealthy(host, made.Id, name, Number(inputs.waitTimeout ?? 60));
        const state = await engineJson<{ NetworkSettings: { Networks: Record<string, { IPAddress: string }> } }>(host, "GET", `/containers/${made.Id}/json`);
        const networks = Object.entries(state.NetworkSettings.Networks).map(([networkName, n]) => ({ networkName, ipAddress: n.IPAddress }));
        return { id: made.Id, outputs: { ipAddress: networks[0]?.ipAddress ?? "", networkDatas: networks } };
    }

    /** One upload as a tar archive rooted at `/`: the file with its owner, group and mode, as the provider copies it. */
    async #tarOf(upload: { file: string; content: string; owner?: string; group?: string; permissions?: string }): Promise<Buffer> {
        const dir = fs.mkdtempSync(path.join(this.opts.workDir, "upload-"));
        try {
            const rel = upload.file.replace(/^\/+/, "");
            fs.mkdirSync(path.join(dir, path.dirname(rel)), { recursive: true });
            fs.writeFileSync(path.join(dir, rel), upload.content, { mode: 0o600 });
            fs.chmodSync(path.join(dir, rel), parseInt(upload.permissions ?? "0644", 8));
            const { stdout } = await execFileAsync("tar", ["-C", dir, "--numeric-owner", `--owner=${upload.owner ?? "0"}`, `--group=${upload.group ?? "0"}`, "-cf", "-", rel],
                { encoding: "buffer", maxBuffer: 64 * 1024 * 1024 });
            return stdout;
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    }

    async #certificate(type: string, id: string, inputs: Record<string, unknown>): Promise<Record<string, unknown>> {
        const dir = path.join(this.opts.workDir, "tls", id);
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        const file = (name: string, content: unknown) => {
            const p = path.join(dir, name);
            fs.writeFileSync(p, str(content, name), { mode: 0o600 });
            return p;
        };
        const days = String(Math.max(1, Math.ceil(Number(inputs.validityPeriodHours ?? 24) / 24)));
        const uses = (inputs.allowedUses ?? []) as string[];
        const ext = (lines: string[]) => file("ext.cnf", `[req]\ndistinguished_name = dn\n[dn]\n[ext]\n${lines.join("\n")}\n`);
        const openssl = async (args: string[]) => {
            try {
                await execFileAsync("openssl", args, { cwd: dir, timeout: 30_000 });
            } catch (e) {
                throw new Error(`replay: openssl ${args[0] ?? ""} failed: ${(e as { stderr?: string }).stderr ?? (e as Error).message}`);
            }
        };
        if (type === "tls:index/selfSignedCert:SelfSignedCert") {
            const cfg = ext(opensslUsages(uses, inputs.isCaCertificate === true));
            await openssl(["req", "-x509", "-new", "-sha256", "-key", file("key.pem", inputs.privateKeyPem), "-subj", opensslSubject((inputs.subject ?? {}) as Record<string, unknown>),
                "-days", days, "-config", cfg, "-extensions", "ext", "-out", "cert.pem"]);
            return { certPem: fs.readFileSync(path.join(dir, "cert.pem"), "utf8") };
        }
        if (type === "tls:index/certRequest:CertRequest") {
            const san = [...((inputs.dnsNames ?? []) as string[]).map((d) => `DNS:${d}`), ...((inputs.ipAddresses ?? []) as string[]).map((ip) => `IP:${ip}`)];
            const cfg = ext(san.length === 0 ? [] : [`subjectAltName = ${san.join(",")}`]);
            await openssl(["req", "-new", "-sha256", "-key", file("key.pem", inputs.privateKeyPem), "-subj", opensslSubject((inputs.subject ?? {}) as Record<string, unknown>),
                "-config", cfg, "-reqexts", "ext", "-out", "csr.pem"]);
            return { certRequestPem: fs.readFileSync(path.join(dir, "csr.pem"), "utf8") };
        }
        const cfg = ext(opensslUsages(uses, false));
        await openssl(["x509", "-req", "-sha256", "-in", file("csr.pem", inputs.certRequestPem), "-CA", file("ca.pem", inputs.caCertPem), "-CAkey", file("ca-key.pem", inputs.caPrivateKeyPem),
            "-set_serial", `0x${crypto.randomBytes(16).toString("hex")}`, "-days", days, "-copy_extensions", "copy", "-extfile", cfg, "-extensions", "ext", "-out", "cert.pem"]);
        return { certPem: fs.readFileSync(path.join(dir, "cert.pem"), "utf8") };
    }

    async #sql(type: string, provider: string | undefined, inputs: Record<string, unknown>): Promise<void> {
        const conf = provider === undefined ? undefined : this.#pgProviders.get(provider.slice(provider.lastIndexOf("::") + 2));
        if (conf === undefined) throw new Error(`replay: ${type} without an explicit postgresql provider`);
        const onDatabase = type === "postgresql:index/role:Role" || type === "postgresql:index/database:Database"
            || (type === "postgresql:index/grant:Grant" && inputs.objectType === "database")
            ? str(conf.database ?? "postgres", "provider database") : str(inputs.database, "database");
        const client = new Client({
            host: str(conf.host, "provider host"), port: Number(conf.port), user: str(conf.username, "provider username"), password: str(conf.password, "provider password"),
            database: onDatabase,
            // The provider's `require`: encrypted, the server's certificate not verified (the provider takes the CA only as a file).
            ssl: conf.sslmode === "disable" ? false : { rejectUnauthorized: conf.sslmode === "verify-full" },
            connectionTimeoutMillis: Number(conf.connectTimeout ?? 30) * 1000,
        });
        await client.connect();
        try {
            const statements = type === "postgresql:index/role:Role"
                ? [`CREATE ROLE ${client.escapeIdentifier(str(inputs.name, "role name"))}${inputs.login === true ? " LOGIN" : ""} PASSWORD ${client.escapeLiteral(str(inputs.password, "role password"))}`]
                : type === "postgresql:index/database:Database"
                    ? [`CREATE DATABASE ${client.escapeIdentifier(str(inputs.name, "database name"))} OWNER ${client.escapeIdentifier(str(inputs.owner, "database owner"))}`]
                    : type === "postgresql:index/grant:Grant"
                        ? grantSql({
                            database: str(inputs.database, "grant database"), role: str(inputs.role, "grant role"),
                            objectType: inputs.objectType as "database" | "schema" | "table",
                            ...(typeof inputs.schema === "string" ? { schema: inputs.schema } : {}), privileges: (inputs.privileges ?? []) as string[],
                        })
                        : [defaultPrivilegeSql({ owner: str(inputs.owner, "owner"), role: str(inputs.role, "role"), schema: str(inputs.schema, "schema"), privileges: (inputs.privileges ?? []) as string[] })];
            if (type === "postgresql:index/defaultPrivileges:DefaultPrivileges" && inputs.objectType !== "table") throw new Error(`replay: default privileges on ${String(inputs.objectType)} are not mapped`);
            if (type === "postgresql:index/grant:Grant" && !["database", "schema", "table"].includes(String(inputs.objectType))) throw new Error(`replay: grants on ${String(inputs.objectType)} are not mapped`);
            for (const sql of statements) await client.query(sql);
        } finally {
            await client.end();
        }
    }
}

/** Waits until the container's health check passes (or, without one, it runs); fails with its last health output. */
async function waitHealthy(host: string, id: string, name: string, timeoutSeconds: number): Promise<void> {
    const deadline = Date.now() + timeoutSeconds * 1000;
    for (;;) {
        const s = await engineJson<{ State: { Status: string; Health?: { Status: string; Log?: { Output: string }[] } } }>(host, "GET", `/containers/${id}/json`);
        if (s.State.Health === undefined ? s.State.Status === "running" : s.State.Health.Status === "healthy") return;
        if (s.State.Status === "exited" || s.State.Status === "dead" || Date.now() > deadline) {
            const logs = await engine(host, "GET", `/containers/${id}/logs?stdout=true&stderr=true&tail=20`).then((a) => [...a.body].filter((c) => c >= " " || c === "\n").join("")).catch(() => "");
            throw new Error(`replay: container ${name} is ${s.State.Status}/${s.State.Health?.Status ?? "no health check"} after ${timeoutSeconds} s; last check: ${s.State.Health?.Log?.at(-1)?.Output.trim() ?? "-"}; logs: ${logs.trim().slice(-800)}`);
        }
        await new Promise((r) => setTimeout(r, 500));
    }
}

function privateKey(inputs: Record<string, unknown>): Record<string, unknown> {
    if (inputs.algorithm !== "ECDSA" || inputs.ecdsaCurve !== "P256") throw new Error(`replay: private keys other than ECDSA P256 are not mapped (got ${String(inputs.algorithm)} ${String(inputs.ecdsaCurve)})`);
    const { privateKey: key, publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
    return {
        // The tls provider's privateKeyPem of an ECDSA key is SEC1 ("EC PRIVATE KEY").
        privateKeyPem: key.export({ type: "sec1", format: "pem" }).toString(),
        privateKeyPemPkcs8: key.export({ type: "pkcs8", format: "pem" }).toString(),
        publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
    };
}

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const SPECIAL = "!@#$%&*()-_=+[]{}<>:?";

function randomPassword(length: number, special: boolean): string {
    if (!Number.isInteger(length) || length < 1) throw new Error(`replay: password length ${length}`);
    const alphabet = special ? ALNUM + SPECIAL : ALNUM;
    return Array.from({ length }, () => alphabet[crypto.randomInt(alphabet.length)]).join("");
}
