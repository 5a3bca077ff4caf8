/**
 * The one test harness for resource graphs: installs Pulumi mocks for a given
 * project/stack/config (preview or update), records every registered resource
 * (type, name, inputs, parent URN), waits until all registrations have
 * settled, and reads Outputs as promises.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parse as parseYaml } from "yaml";

/** One resource as the program registered it. */
export interface RecordedResource {
    readonly urn: string;
    readonly type: string;
    readonly name: string;
    /** Inputs as the provider would receive them (secrets unwrapped, see `secretInputs`). */
    readonly inputs: Record<string, unknown>;
    /** Top-level input keys whose values were marked secret by the program. */
    readonly secretInputs: ReadonlySet<string>;
    readonly custom: boolean;
    /** URN of the parent resource, when it has one other than the stack. */
    readonly parent?: string;
    /** Provider reference (`urn::id`) when an explicit provider was passed. */
    readonly provider?: string;
    /** URNs this resource explicitly depends on (dependsOn and input dependencies). */
    readonly dependencies: readonly string[];
    /** The `import` resource option's id, when the program adopts an existing object. */
    readonly importId?: string;
}

export type MockState = Record<string, unknown>;
export type ResourceOutputs = (args: pulumi.runtime.MockResourceArgs) => MockState | undefined;
export type CallResults = (args: pulumi.runtime.MockCallArgs) => Record<string, unknown> | undefined;

/** Plausible provider outputs for resource types whose outputs the programs read. */
export function defaultOutputs(args: pulumi.runtime.MockResourceArgs): MockState {
    const n = args.name;
    const inputs = args.inputs as Record<string, unknown>;
    const input = (key: string): string => (typeof inputs[key] === "string" ? inputs[key] : n);
    switch (args.type) {
        case "tls:index/privateKey:PrivateKey":
            return { privateKeyPem: `-----BEGIN PRIVATE KEY-----\n${n}\n-----END PRIVATE KEY-----\n`, publicKeyPem: `pub-${n}` };
        case "tls:index/selfSignedCert:SelfSignedCert":
        case "tls:index/locallySignedCert:LocallySignedCert":
            return { certPem: `-----BEGIN CERTIFICATE-----\n${n}\n-----END CERTIFICATE-----\n` };
        case "tls:index/certRequest:CertRequest":
            return { certRequestPem: `csr-${n}` };
        case "random:index/randomPassword:RandomPassword":
            return { result: `pw-${n}-0123456789abcdef`, bcryptHash: `bcrypt-${n}` };
        case "docker:index/remoteImage:RemoteImage":
            return { imageId: `sha256:${n}`, repoDigest: `${input("name")}@sha256:${"0".repeat(64)}` };
        case "docker:index/image:Image":
            return { imageName: input("imageName"), repoDigest: `${n}@sha256:${"1".repeat(64)}` };
        case "docker:index/container:Container":
            return { ipAddress: "172.18.0.10", networkDatas: [] };
        case "aws:ecr/repository:Repository":
            return { repositoryUrl: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/${input("name")}`, arn: `arn:aws:ecr:eu-west-1:123456789012:repository/${n}` };
        case "aws:rds/instance:Instance":
            return { address: `${n}.abcdefghijkl.eu-west-1.rds.amazonaws.com`, port: 5432, endpoint: `${n}.abcdefghijkl.eu-west-1.rds.amazonaws.com:5432` };
        case "aws:s3/bucket:Bucket":
            return { bucket: `${n}-0a1b2c3`, arn: `arn:aws:s3:::${n}-0a1b2c3` };
        case "aws:kms/key:Key":
            return { keyId: `key-${n}`, arn: `arn:aws:kms:eu-west-1:123456789012:key/${n}` };
        case "aws:iam/role:Role":
            return { arn: `arn:aws:iam::123456789012:role/${n}` };
        case "kubernetes:core/v1:Secret":
            // The token controller fills a ServiceAccount token Secret's data.token.
            return inputs.type === "kubernetes.io/service-account-token" ? { data: { token: Buffer.from(`sa-token-${n}`).toString("base64") } } : {};
        default:
            return {};
    }
}

/** Plausible results for the provider functions the programs call. */
export function defaultCalls(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
    const inputs = args.inputs as Record<string, unknown>;
    const clusterName = typeof inputs.name === "string" ? inputs.name : "cluster";
    switch (args.token) {
        case "aws:eks/getCluster:getCluster":
            return {
                name: clusterName,
                endpoint: "https://ABCDEF.gr7.eu-west-1.eks.amazonaws.com",
                certificateAuthorities: [{ data: "Y2EtZGF0YQ==" }],
                arn: `arn:aws:eks:eu-west-1:123456789012:cluster/${clusterName}`,
                identities: [{ oidcs: [{ issuer: "https://oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF" }] }],
                vpcConfig: { clusterSecurityGroupId: "sg-0c1a2b3c4d5e6f708", vpcId: "vpc-0a1b2c3d4e5f60718", subnetIds: [] },
            };
        case "aws:index/getPartition:getPartition":
            return { partition: "aws", dnsSuffix: "amazonaws.com", id: "aws" };
        case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            return { userName: "AWS", password: "ecr-token", proxyEndpoint: "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com" };
        case "aws:index/getCallerIdentity:getCallerIdentity":
            return { accountId: "123456789012", arn: "arn:aws:iam::123456789012:user/test", userId: "AIDTEST" };
        case "aws:index/getRegion:getRegion":
            return { name: "eu-west-1", region: "eu-west-1" };
        default:
            return {};
    }
}

export interface MockOptions {
    project: string;
    stack: string;
    /** Full config keys (`dbaas:domain`) to string values, as the CLI hands them over. */
    config: Record<string, string>;
    /** Full keys of config values that are secret. */
    secretKeys?: string[];
    /** true = `pulumi preview`, false = `pulumi up`. */
    preview: boolean;
    outputs?: ResourceOutputs;
    calls?: CallResults;
}

/** What a mocked run recorded. */
export class Recorder {
    readonly resources: RecordedResource[] = [];
    readonly calls: pulumi.runtime.MockCallArgs[] = [];

    ofType(type: string): RecordedResource[] {
        return this.resources.filter((r) => r.type === type);
    }
    /** The one resource of `type` (and `name`, when given); throws when there are none or several. */
    one(type: string, name?: string): RecordedResource {
        const found = this.ofType(type).filter((r) => name === undefined || r.name === name);
        if (found.length !== 1) {
            throw new Error(`expected one ${type}${name ? ` named ${name}` : ""}, found ${found.length}: ${found.map((r) => r.name).join(", ")}`);
        }
        return found[0] as RecordedResource;
    }
    byUrn(urn: string): RecordedResource | undefined {
        return this.resources.find((r) => r.urn === urn);
    }
    /** Type tokens of all custom resources, sorted (a compact picture of the graph). */
    customTypes(): string[] {
        return this.resources.filter((r) => r.custom).map((r) => r.type).sort();
    }
}

interface RegisterRequest {
    getType(): string;
    getName(): string;
    getParent(): string;
    getDependenciesList(): string[];
    getPropertydependenciesMap(): { forEach(cb: (v: { getUrnsList(): string[] }, k: string) => void): void };
    getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
    getImportid(): string;
}

const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

function containsSecret(v: unknown): boolean {
    if (!v || typeof v !== "object") return false;
    if ((v as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG) return true;
    return Object.values(v as Record<string, unknown>).some(containsSecret);
}

/** Top-level input keys whose value holds a secret anywhere inside. */
function secretTopLevelKeys(obj: Record<string, unknown> | undefined): Set<string> {
    return new Set(Object.entries(obj ?? {}).filter(([, v]) => containsSecret(v)).map(([k]) => k));
}
const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";

/** The mock monitor hands over values that contain a secret still wrapped; unwraps them, at any depth, for assertions. */
export function plain(v: unknown): unknown {
    if (Array.isArray(v)) return v.map(plain);
    if (v && typeof v === "object") {
        const o = v as Record<string, unknown>;
        if (SECRET_SIG_KEY in o) return plain(o.value);
        return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, plain(x)]));
    }
    return v;
}

/**
 * Installs mocks and config for one run. Import the program *after* this
 * (dynamically, after `vi.resetModules()`), then `await settle()`.
 */
export async function installMocks(opts: MockOptions): Promise<Recorder> {
    const recorder = new Recorder();
    const parents = new Map<string, { parent?: string; deps: string[]; secrets: Set<string>; importId?: string }>();
    await pulumi.runtime.setMocks(
        {
            newResource(args) {
                const state = { ...defaultOutputs(args), ...(opts.outputs?.(args) ?? {}) };
                const key = `${args.type}::${args.name}`;
                const meta = parents.get(key);
                recorder.resources.push({
                    urn: "",
                    type: args.type,
                    name: args.name,
                    inputs: args.inputs as Record<string, unknown>,
                    secretInputs: meta?.secrets ?? new Set(),
                    custom: args.custom ?? true,
                    ...(meta?.parent ? { parent: meta.parent } : {}),
                    ...(args.provider ? { provider: args.provider } : {}),
                    dependencies: meta?.deps ?? [],
                    ...(meta?.importId ? { importId: meta.importId } : {}),
                });
                return { id: args.custom === false ? undefined : `${args.name}-id`, state: { ...(args.inputs as Record<string, unknown>), ...state } };
            },
            call(args) {
                recorder.calls.push(args);
                return { ...defaultCalls(args), ...(opts.calls?.(args) ?? {}) };
            },
        },
        opts.project,
        opts.stack,
        opts.preview,
    );
    // The mock monitor hides the parent and dependencies from `newResource`;
    // wrap its registerResource to record them (and the URN it assigns).
    const monitor = pulumi.runtime.getMonitor() as unknown as {
        registerResource(req: RegisterRequest, cb: (err: unknown, resp?: { getUrn(): string }) => void): Promise<void>;
    };
    const original = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req, cb) => {
        const deps = new Set(req.getDependenciesList());
        req.getPropertydependenciesMap().forEach((v) => v.getUrnsList().forEach((u) => deps.add(u)));
        const parent = req.getParent();
        parents.set(`${req.getType()}::${req.getName()}`, {
            ...(parent && !parent.includes("pulumi:pulumi:Stack") ? { parent } : {}),
            deps: [...deps],
            secrets: secretTopLevelKeys(req.getObject()?.toJavaScript()),
            ...(req.getImportid() ? { importId: req.getImportid() } : {}),
        });
        return original(req, (err, resp) => {
            if (resp) {
                const rec = [...recorder.resources].reverse().find((r) => r.type === req.getType() && r.name === req.getName() && r.urn === "");
                if (rec) (rec as { urn: string }).urn = resp.getUrn();
            }
            cb(err, resp);
        });
    };
    pulumi.runtime.setAllConfig(opts.config, opts.secretKeys ?? []);
    return recorder;
}

/** Waits until every registration and Output the program started has settled. */
export async function settle(): Promise<void> {
    // waitForRPCs is internal to the SDK but is what `disconnect` uses to drain the queue.
    const settings = (await import("@pulumi/pulumi/runtime/settings")) as unknown as { waitForRPCs(): Promise<void> };
    for (let i = 0; i < 3; i++) {
        await settings.waitForRPCs();
        await new Promise((r) => setImmediate(r));
    }
}

/** The value of an Output (undefined while unknown in preview). */
export function promiseOf<T>(output: pulumi.Output<T> | pulumi.Input<T>): Promise<T> {
    return new Promise((resolve) => pulumi.output(output).apply((v) => { resolve(v as T); return v; }));
}

/** Whether an Output is marked secret. */
export function isSecretOutput(output: pulumi.Output<unknown>): Promise<boolean> {
    return pulumi.isSecret(output);
}

/** Repository root. */
export const ROOT = path.resolve(__dirname, "..", "..");

/**
 * A stack file's config as the CLI would hand it to the program: full keys,
 * string values (structured ones JSON-encoded). `overrides` replaces or adds
 * keys (e.g. test values for secret keys never committed).
 */
export function stackConfig(file: string, overrides: Record<string, unknown> = {}): Record<string, string> {
    const doc = parseYaml(fs.readFileSync(path.resolve(ROOT, file), "utf8")) as { config?: Record<string, unknown> } | null;
    const merged = { ...(doc?.config ?? {}), ...overrides };
    return Object.fromEntries(
        Object.entries(merged).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
    );
}

/**
 * Overrides that put the prod stack file on the docker platform target (the API
 * outside the cluster, with the ServiceAccount's kubeconfig). There is no
 * platform bucket there to keep backups in, so the S3 store names its own.
 */
export const PROD_ON_DOCKER = { "dbaas:platform": { target: "docker" }, "dbaas:backups": { store: "s3", s3: { bucket: "dbaas-prod-backups" } } } as const;
