/**
 * Runs CrossGuard policies outside the Pulumi CLI the way @pulumi/policy's
 * policy server (server.js) runs them inside it:
 * - props travel as a protobuf Struct and are read back with the pack's own
 *   `deserializeProperties` and wrapped in `unknownCheckingProxy`, so secrets
 *   arrive unwrapped and unknown values throw, as in `pulumi preview`;
 * - `notApplicable()` throws, and the throw is caught per validator and
 *   recorded, as the server does; an unknown value becomes an advisory
 *   "can't run during preview" diagnostic; any other error fails the run;
 * - `getConfig()` returns the policy's config with its configSchema defaults
 *   filled in first (as the CLI reconciles it), enforcementLevel removed;
 * - enforcement = pack config, else the policy's own level, else the pack's.
 */
import { createRequire } from "node:module";
import * as pulumi from "@pulumi/pulumi";
import type {
    EnforcementLevel, Policy, PolicyPackConfig, PolicyProviderResource, PolicyResource, PolicyResourceOptions,
    ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy,
} from "@pulumi/policy";
import type { RecordedResource } from "../support/harness";

// The deserializer and protobuf Struct the policy server itself uses (internal
// to @pulumi/policy, so loaded from its own location).
const policyRequire = createRequire(require.resolve("@pulumi/policy"));
interface WireStruct { toJavaScript(): Record<string, unknown> }
const { Struct } = policyRequire("google-protobuf/google/protobuf/struct_pb") as { Struct: { fromJavaScript: (v: Record<string, unknown>) => WireStruct } };
const { deserializeProperties } = policyRequire("./deserialize") as {
    deserializeProperties: (s: WireStruct, proxySecrets: boolean) => Record<string, unknown>;
};
// Exported by @pulumi/policy but marked @internal, so its .d.ts is empty.
const { unknownCheckingProxy, UnknownValueError } = policyRequire("./proxy") as {
    unknownCheckingProxy: <T extends object>(props: T) => T;
    UnknownValueError: new (...args: never[]) => Error;
};

export type AnyPolicy = ResourceValidationPolicy | StackValidationPolicy;

/** A resource as the harness feeds it to policies. */
export interface TestResource {
    readonly type: string;
    readonly name: string;
    readonly props: Record<string, unknown>;
    readonly urn?: string;
    readonly parent?: string;
    /** Provider reference `urn::id`. */
    readonly provider?: string;
    readonly dependencies?: readonly string[];
}

export interface Diagnostic {
    readonly policy: string;
    readonly enforcementLevel: EnforcementLevel;
    /** What the policy passed to reportViolation. */
    readonly message: string;
    /** What the CLI prints: the description, a newline, the message. */
    readonly fullMessage: string;
    readonly urn?: string;
    /** The resource the diagnostic is about (its name), when known. */
    readonly resource?: string;
}

export interface Outcome {
    readonly violations: Diagnostic[];
    readonly notApplicable: { policy: string; resource?: string; reason?: string }[];
}

export interface RunOptions {
    /** `--policy-pack-config` content: policy name -> level, or object with enforcementLevel and properties. */
    readonly config?: PolicyPackConfig;
    readonly stackTags?: Record<string, string>;
    /** The pack's default level (index.ts uses advisory). */
    readonly packEnforcementLevel?: EnforcementLevel;
}

class NotApplicableError extends Error {
    constructor(readonly reason?: string) {
        super(reason ?? "Policy does not apply");
    }
}
const throwNotApplicable = (reason?: string): never => {
    throw new NotApplicableError(reason);
};

export function urnOf(type: string, name: string): string {
    return `urn:pulumi:test::dbaas::${type}::${name}`;
}

/** JSON the Struct can carry: drops undefined, turns assets/resources into plain markers. */
function toWire(value: unknown): unknown {
    if (value === null || typeof value !== "object") return value;
    if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : toWire(v)));
    if (pulumi.asset.Asset.isInstance(value) || pulumi.asset.Archive.isInstance(value)) return "[asset]";
    if (pulumi.Resource.isInstance(value)) return "[resource]";
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => [k, toWire(v)]));
}

/** Props as the policy server hands them to a validator: deserialized from the wire, unknown-checking. */
export function wireProps(props: Record<string, unknown>): Record<string, unknown> {
    const struct = Struct.fromJavaScript(toWire(props) as Record<string, unknown>);
    return unknownCheckingProxy(deserializeProperties(struct, false));
}

function levelOf(policy: Policy, opts: RunOptions): EnforcementLevel {
    const configured = opts.config?.[policy.name];
    const fromConfig = typeof configured === "string" ? configured : configured?.enforcementLevel;
    const level = fromConfig ?? policy.enforcementLevel ?? opts.packEnforcementLevel ?? "advisory";
    return level === "remediate" ? "mandatory" : level;
}

/** getConfig as the policy sees it: configSchema defaults, then the given properties; never enforcementLevel. */
export function policyConfig(policy: Policy, opts: RunOptions): Record<string, unknown> {
    const defaults = Object.fromEntries(
        Object.entries(policy.configSchema?.properties ?? {}).flatMap(([k, schema]) => (schema.default === undefined ? [] : [[k, schema.default]])),
    );
    const configured = opts.config?.[policy.name];
    const given: Record<string, unknown> = typeof configured === "object" ? { ...(configured as Record<string, unknown>) } : {};
    delete given.enforcementLevel;
    const merged = { ...defaults, ...given };
    for (const key of policy.configSchema?.required ?? []) {
        if (!(key in merged)) throw new Error(`policy ${policy.name}: required config property ${key} is missing`);
    }
    return merged;
}

const freeze = (tags: Record<string, string> = {}): ReadonlyMap<string, string> => new Map(Object.entries(tags));

const defaultOptions = (parent?: string): PolicyResourceOptions => ({
    protect: false,
    ignoreChanges: [],
    aliases: [],
    customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
    additionalSecretOutputs: [],
    ...(parent ? { parent } : {}),
});

function providerOf(ref: string | undefined): PolicyProviderResource | undefined {
    if (!ref) return undefined;
    const urn = ref.split("::").slice(0, -1).join("::");
    const parts = urn.split("::");
    return { type: parts[2] ?? "", name: parts[3] ?? "", urn, props: {} };
}

/** Real ResourceValidationArgs for one resource and one policy. */
export function resourceArgs(policy: Policy, r: TestResource, opts: RunOptions = {}): ResourceValidationArgs {
    const props = wireProps(r.props);
    const provider = providerOf(r.provider);
    const type = r.type;
    return {
        type,
        props,
        urn: r.urn ?? urnOf(r.type, r.name),
        name: r.name,
        opts: defaultOptions(r.parent),
        stackTags: freeze(opts.stackTags),
        // The typed helpers compare Pulumi type tokens, as the server's isTypeOf does.
        isType: (cls) => (cls as unknown as { __pulumiType?: string }).__pulumiType === type,
        asType: <TResource extends pulumi.Resource, TArgs>(cls: { new (name: string, args: TArgs, ...rest: never[]): TResource }) =>
            ((cls as unknown as { __pulumiType?: string }).__pulumiType === type ? props : undefined) as pulumi.Unwrap<NonNullable<TArgs>> | undefined,
        getConfig: <T extends object>() => policyConfig(policy, opts) as T,
        notApplicable: throwNotApplicable,
        ...(provider ? { provider } : {}),
    };
}

function collect(policy: Policy, level: EnforcementLevel, out: Diagnostic[], resource?: TestResource): ReportViolation {
    return (message: string, urn?: string) => {
        out.push({
            policy: policy.name,
            enforcementLevel: level,
            message,
            fullMessage: message ? `${policy.description}\n${message}` : policy.description,
            ...(urn ?? resource?.urn ? { urn: urn ?? resource?.urn } : {}),
            ...(resource ? { resource: resource.name } : {}),
        });
    };
}

const isResourcePolicy = (p: AnyPolicy): p is ResourceValidationPolicy => "validateResource" in p && p.validateResource !== undefined;
const isStackPolicy = (p: AnyPolicy): p is StackValidationPolicy => typeof (p as Partial<StackValidationPolicy>).validateStack === "function";

/** Runs one resource policy on one resource, as the server's `analyze` does. */
export async function runResourcePolicy(policy: AnyPolicy, r: TestResource, opts: RunOptions = {}): Promise<Outcome> {
    const outcome: Outcome = { violations: [], notApplicable: [] };
    const level = levelOf(policy, opts);
    if (level === "disabled" || !isResourcePolicy(policy) || !policy.validateResource) return outcome;
    const validations = Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource];
    const fastType = validations.length === 1 ? (validations[0] as { __pulumiType?: string }).__pulumiType : undefined;
    if (fastType && fastType !== r.type) {
        outcome.notApplicable.push({ policy: policy.name, resource: r.name, reason: `Policy only applies to resources of type '${fastType}'` });
        return outcome;
    }
    const report = collect(policy, level, outcome.violations, { ...r, urn: r.urn ?? urnOf(r.type, r.name) });
    for (const validation of validations) {
        try {
            await validation(resourceArgs(policy, r, opts), report);
        } catch (e) {
            if (e instanceof NotApplicableError) {
                outcome.notApplicable.push({ policy: policy.name, resource: r.name, ...(e.reason ? { reason: e.reason } : {}) });
            } else if (e instanceof UnknownValueError) {
                outcome.violations.push({ policy: policy.name, enforcementLevel: "advisory", message: `can't run policy '${policy.name}' during preview: ${e.message}`, fullMessage: e.message, resource: r.name });
            } else {
                throw new Error(`policy ${policy.name} failed on ${r.type} ${r.name}: ${(e as Error).stack ?? String(e)}`);
            }
        }
    }
    return outcome;
}

/** Real StackValidationArgs: every resource, parents and dependencies linked to the objects. */
export function stackArgs(policy: Policy, resources: readonly TestResource[], opts: RunOptions = {}): StackValidationArgs {
    const byUrn = new Map<string, PolicyResource>();
    const built = resources.map((r) => {
        const props = wireProps(r.props);
        const urn = r.urn ?? urnOf(r.type, r.name);
        const provider = providerOf(r.provider);
        const resource: PolicyResource = {
            type: r.type,
            props,
            urn,
            name: r.name,
            opts: defaultOptions(r.parent),
            dependencies: [],
            propertyDependencies: {},
            isType: (cls) => (cls as unknown as { __pulumiType?: string }).__pulumiType === r.type,
            asType: (cls) => ((cls as unknown as { __pulumiType?: string }).__pulumiType === r.type ? (props as never) : undefined),
            ...(provider ? { provider } : {}),
        };
        byUrn.set(urn, resource);
        return { resource, r };
    });
    for (const { resource, r } of built) {
        const parent = r.parent ? byUrn.get(r.parent) : undefined;
        if (parent) resource.parent = parent;
        resource.dependencies = (r.dependencies ?? []).flatMap((d) => byUrn.get(d) ?? []);
    }
    return {
        resources: built.map((b) => b.resource),
        stackTags: freeze(opts.stackTags),
        getConfig: <T extends object>() => policyConfig(policy, opts) as T,
        notApplicable: throwNotApplicable,
    };
}

/** Runs one stack policy over all resources, as the server's `analyzeStack` does. */
export async function runStackPolicy(policy: AnyPolicy, resources: readonly TestResource[], opts: RunOptions = {}): Promise<Outcome> {
    const outcome: Outcome = { violations: [], notApplicable: [] };
    const level = levelOf(policy, opts);
    if (level === "disabled" || !isStackPolicy(policy)) return outcome;
    const byUrn = new Map(resources.map((r) => [r.urn ?? urnOf(r.type, r.name), r]));
    const diagnostics: Diagnostic[] = [];
    const report = collect(policy, level, diagnostics);
    try {
        await policy.validateStack(stackArgs(policy, resources, opts), report);
    } catch (e) {
        if (e instanceof NotApplicableError) {
            outcome.notApplicable.push({ policy: policy.name, ...(e.reason ? { reason: e.reason } : {}) });
        } else if (e instanceof UnknownValueError) {
            diagnostics.push({ policy: policy.name, enforcementLevel: "advisory", message: `can't run policy '${policy.name}' during preview: ${e.message}`, fullMessage: e.message });
        } else {
            throw new Error(`stack policy ${policy.name} failed: ${(e as Error).stack ?? String(e)}`);
        }
    }
    for (const d of diagnostics) {
        const name = d.urn ? byUrn.get(d.urn)?.name : undefined;
        outcome.violations.push(name ? { ...d, resource: name } : d);
    }
    return outcome;
}

/** Runs a policy on a resource or a stack, whichever kind it is. */
export async function runPolicy(policy: AnyPolicy, resources: readonly TestResource[], opts: RunOptions = {}): Promise<Outcome> {
    if (isStackPolicy(policy)) return runStackPolicy(policy, resources, opts);
    const outcomes = await Promise.all(resources.map((r) => runResourcePolicy(policy, r, opts)));
    return { violations: outcomes.flatMap((o) => o.violations), notApplicable: outcomes.flatMap((o) => o.notApplicable) };
}

/** The whole pack over a graph: every resource policy on every resource, then every stack policy. */
export async function runPack(policies: readonly AnyPolicy[], resources: readonly TestResource[], opts: RunOptions = {}): Promise<Outcome> {
    const outcomes = await Promise.all(policies.map((p) => runPolicy(p, resources, opts)));
    return { violations: outcomes.flatMap((o) => o.violations), notApplicable: outcomes.flatMap((o) => o.notApplicable) };
}

/**
 * A custom resource recorded by test/support/harness.ts as a policy input. `state`
 * adds the provider outputs the mocks returned, for stack policies (which the
 * server feeds outputs, not inputs).
 */
export function fromRecorded(r: RecordedResource, state: Record<string, unknown> = {}): TestResource {
    return {
        type: r.type,
        name: r.name,
        props: { ...r.inputs, ...state },
        ...(r.urn ? { urn: r.urn } : {}),
        ...(r.parent ? { parent: r.parent } : {}),
        ...(r.provider ? { provider: r.provider } : {}),
        dependencies: r.dependencies,
    };
}
