/**
 * The pack as the Pulumi CLI runs it. `pulumi preview --policy-pack policies`
 * starts `@pulumi/pulumi/cmd/run-policy-pack <engine> .` in the policies/
 * directory (the analyzer plugin's pwd), which registers ts-node with type
 * checking, requires the directory (package.json main = index.ts) and prints
 * the port of the Analyzer gRPC server. This test does exactly that and then
 * speaks the Analyzer protocol the CLI speaks: GetAnalyzerInfo, Configure,
 * Analyze, AnalyzeStack. So a pack that does not load (type error, missing
 * package.json version, second @pulumi/pulumi) fails here, not in a user's preview.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { policies } from "../../policies/rules";
import { ROOT } from "../support/harness";
import { dockerPostgres, ecrRepository } from "./fixtures";

// The CLI-side protocol objects, from the one @pulumi/pulumi the pack uses.
const protoRequire = createRequire(require.resolve("@pulumi/pulumi/proto/analyzer_pb"));
/** A protobuf message; its generated accessors are called through `invoke`. */
type Msg = object;
type ProtoMessage = new () => Msg;

function invoke(msg: Msg, method: string, ...args: unknown[]): unknown {
    const fn = (msg as Record<string, unknown>)[method];
    if (typeof fn !== "function") throw new Error(`protobuf message has no ${method}`);
    return (fn as (...a: unknown[]) => unknown).apply(msg, args);
}
const pb = protoRequire("./analyzer_pb") as Record<string, ProtoMessage> & { EnforcementLevel: Record<string, number> };
const { AnalyzerClient } = protoRequire("./analyzer_grpc_pb") as { AnalyzerClient: new (address: string, credentials: unknown) => Record<string, (req: unknown, cb: (err: Error | null, res: Msg) => void) => void> & { close(): void } };
const grpc = protoRequire("@grpc/grpc-js") as { credentials: { createInsecure(): unknown } };
const { Struct } = protoRequire("google-protobuf/google/protobuf/struct_pb") as { Struct: { fromJavaScript(v: unknown): unknown } };
const { Empty } = protoRequire("google-protobuf/google/protobuf/empty_pb") as { Empty: new () => unknown };

const LEVEL = Object.fromEntries(Object.entries(pb.EnforcementLevel).map(([k, v]) => [v, k.toLowerCase()]));
const STARTUP_TIMEOUT_MS = 90_000;

let server: ChildProcess | undefined;
let client: ReturnType<typeof connect> | undefined;
let stderr = "";

function connect(port: string) {
    const raw = new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const call = (method: string, req: unknown): Promise<Msg> =>
        new Promise((resolve, reject) => {
            const fn = raw[method];
            if (!fn) return reject(new Error(`no method ${method}`));
            fn.call(raw, req, (err, res) => (err ? reject(err) : resolve(res)));
        });
    return { call, close: () => raw.close() };
}

function message(name: string, fields: Record<string, unknown>): Msg {
    const Ctor = pb[name];
    if (!Ctor) throw new Error(`no message ${name}`);
    const m = new Ctor();
    for (const [setter, value] of Object.entries(fields)) invoke(m, setter, value);
    return m;
}

function analyzeRequest(type: string, name: string, props: Record<string, unknown>): Msg {
    return message("AnalyzeRequest", {
        setType: type,
        setName: name,
        setUrn: `urn:pulumi:dev::dbaas::${type}::${name}`,
        setProperties: Struct.fromJavaScript(props),
        setOptions: message("AnalyzerResourceOptions", {}),
    });
}

function diagnostics(res: Msg): { policy: string; level: string; message: string }[] {
    return (invoke(res, "getDiagnosticsList") as Msg[]).map((d) => ({
        policy: invoke(d, "getPolicyname") as string,
        level: LEVEL[invoke(d, "getEnforcementlevel") as number] ?? "?",
        message: invoke(d, "getMessage") as string,
    }));
}

beforeAll(async () => {
    const runPolicyPack = path.join(path.dirname(require.resolve("@pulumi/pulumi/package.json")), "cmd", "run-policy-pack");
    server = spawn(process.execPath, [runPolicyPack, "127.0.0.1:1", "."], {
        cwd: path.join(ROOT, "policies"),
        // What the CLI sets for a policy pack when previewing the dev stack.
        env: { ...process.env, PULUMI_PROJECT: "dbaas", PULUMI_STACK: "dev", PULUMI_CONFIG: JSON.stringify({ "dbaas:postgres": JSON.stringify({ versions: [{ label: "PostgreSQL 17", image: "postgres:17.2" }] }) }) },
        stdio: ["ignore", "pipe", "pipe"],
    });
    server.stderr?.on("data", (d: Buffer) => { stderr += d.toString(); });
    const port = await new Promise<string>((resolve, reject) => {
        let out = "";
        const timer = setTimeout(() => reject(new Error(`the pack printed no port within ${STARTUP_TIMEOUT_MS} ms; stderr:\n${stderr}`)), STARTUP_TIMEOUT_MS);
        server?.stdout?.on("data", (d: Buffer) => {
            out += d.toString();
            const m = /^(\d+)\s*$/m.exec(out);
            if (m?.[1]) {
                clearTimeout(timer);
                resolve(m[1]);
            }
        });
        server?.on("exit", (code) => reject(new Error(`the pack exited with ${String(code)} before serving; stderr:\n${stderr}`)));
    });
    client = connect(port);
}, STARTUP_TIMEOUT_MS + 10_000);

afterAll(() => {
    client?.close();
    server?.kill();
});

describe("the policy pack under the policy server", () => {
    it("describes itself: name, version from policies/package.json, every policy with its level and config schema", async () => {
        const info = await client!.call("getAnalyzerInfo", new Empty());
        const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "policies", "package.json"), "utf8")) as { version: string; dependencies?: unknown };
        expect(invoke(info, "getName")).toBe("dbaas");
        expect(invoke(info, "getVersion")).toBe(pkg.version);
        expect(pkg.dependencies).toBeUndefined();
        const served = (invoke(info, "getPoliciesList") as Msg[]).map((p) => ({ name: invoke(p, "getName") as string, level: LEVEL[invoke(p, "getEnforcementlevel") as number] }));
        expect(served).toEqual(policies.map((p) => ({ name: p.name, level: p.enforcementLevel })));
        const catalog = (invoke(info, "getPoliciesList") as Msg[]).find((p) => invoke(p, "getName") === "postgres-image-from-catalog");
        expect(catalog && invoke(catalog, "getConfigschema")).toBeDefined();
    });

    it("analyzes a resource: a plain password is a mandatory violation, its value never echoed", async () => {
        const res = await client!.call("analyze", analyzeRequest("docker:index/container:Container", "pg", dockerPostgres({ envs: ["POSTGRES_PASSWORD=hunter2"] }).props));
        const found = diagnostics(res);
        expect(found).toContainEqual({ policy: "no-plaintext-secrets", level: "mandatory", message: expect.stringContaining('"POSTGRES_PASSWORD" looks like a secret') as string });
        expect(JSON.stringify(found)).not.toContain("hunter2");
        expect(found.filter((d) => d.level === "mandatory").map((d) => d.policy)).toEqual(["no-plaintext-secrets"]);
    });

    it("reads the catalog from PULUMI_CONFIG, and from the policy config once configured", async () => {
        const pg16 = dockerPostgres({ image: "postgres:16.6" }).props;
        const before = diagnostics(await client!.call("analyze", analyzeRequest("docker:index/container:Container", "pg", pg16)));
        expect(before.map((d) => d.message).join("\n")).toMatch(/"postgres:16.6" is not in the version catalog from the config of stack dev: postgres:17.2/);

        const configure = message("ConfigureAnalyzerRequest", {});
        const config = message("PolicyConfig", { setEnforcementlevel: pb.EnforcementLevel.MANDATORY, setProperties: Struct.fromJavaScript({ allowedImages: ["postgres:16.6"] }) });
        (invoke(configure, "getPolicyconfigMap") as { set: (k: string, v: unknown) => void }).set("postgres-image-from-catalog", config);
        await client!.call("configure", configure);
        const after = diagnostics(await client!.call("analyze", analyzeRequest("docker:index/container:Container", "pg", pg16)));
        expect(after.filter((d) => d.policy === "postgres-image-from-catalog")).toEqual([]);
    });

    it("analyzes the stack: a repository without a lifecycle policy", async () => {
        const repo = ecrRepository();
        const resource = message("AnalyzerResource", {
            setType: repo.type,
            setName: repo.name,
            setUrn: `urn:pulumi:prod::dbaas::${repo.type}::${repo.name}`,
            setProperties: Struct.fromJavaScript(repo.props),
            setOptions: message("AnalyzerResourceOptions", {}),
        });
        const res = await client!.call("analyzeStack", message("AnalyzeStackRequest", { setResourcesList: [resource] }));
        expect(diagnostics(res)).toContainEqual({ policy: "ecr-lifecycle-policy", level: "mandatory", message: expect.stringContaining('ECR repository "api" has no aws.ecr.LifecyclePolicy') as string });
    });
});
