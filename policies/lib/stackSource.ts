/**
 * The platform facts a policy needs (the version catalog, the on-demand
 * namespace prefix, the ACME directory nginx mounts) come from one place: the platform stack's config, i.e.
 * `Pulumi.<stack>.yaml`. A policy gets them, in this order, from
 *   1. its policy config (`--policy-pack-config`, generated from the stack file
 *      by `npx tsx policies/config.ts Pulumi.<stack>.yaml`);
 *   2. the config of the stack being previewed, which the Pulumi CLI hands to
 *      the policy pack in PULUMI_CONFIG (when that stack is a platform stack);
 *   3. `Pulumi.<stack>.yaml` in the repository (PULUMI_STACK names it);
 *   4. every platform stack file in the repository together (the on-demand
 *      project has no platform config of its own: any platform stack's value
 *      is accepted).
 * No Pulumi imports.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { catalogImages, versionCatalogSchema } from "../../contracts/catalog";
import { platformConfigSchema, PROJECT } from "../../contracts/stackConfig";
import { ONDEMAND_SPEC_KEY } from "../../contracts/database";
import { asRecord, asString } from "./values";

/** The repository root (policies/lib/ is two levels down). */
export const REPO_ROOT = path.resolve(__dirname, "..", "..");

/** What the Pulumi CLI tells a policy pack about the stack under preview (all optional). */
export interface StackEnvironment {
    readonly project?: string;
    readonly stack?: string;
    /** Full keys (`dbaas:postgres`) to values as the CLI passes them: strings, structured ones JSON-encoded. */
    readonly config?: Readonly<Record<string, string>>;
}

/** Reads PULUMI_PROJECT / PULUMI_STACK / PULUMI_CONFIG as the CLI sets them for a policy pack. */
export function stackEnvironment(env: NodeJS.ProcessEnv = process.env): StackEnvironment {
    let config: Record<string, string> | undefined;
    const raw = env.PULUMI_CONFIG;
    if (raw) {
        try {
            const parsed = asRecord(JSON.parse(raw) as unknown);
            if (parsed) config = Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === "string"));
        } catch {
            config = undefined;
        }
    }
    const project = env.PULUMI_PROJECT ?? env.PULUMI_NODEJS_PROJECT;
    const stack = env.PULUMI_STACK ?? env.PULUMI_NODEJS_STACK;
    return { ...(project ? { project } : {}), ...(stack ? { stack } : {}), ...(config ? { config } : {}) };
}

/** The catalog images of a platform stack's config, or undefined when it has no valid catalog. */
export function catalogOfStackConfig(config: Readonly<Record<string, unknown>>): string[] | undefined {
    const parsed = versionCatalogSchema.safeParse(asRecord(section(config, "postgres"))?.versions);
    return parsed.success ? catalogImages(parsed.data) : undefined;
}

/** The `config:` section of a stack file (`Pulumi.prod.yaml`). Throws with the file name when unreadable. */
export function readStackFileConfig(file: string): Record<string, unknown> {
    let doc: unknown;
    try {
        doc = parseYaml(fs.readFileSync(file, "utf8")) as unknown;
    } catch (e) {
        throw new Error(`cannot read stack file ${file}: ${(e as Error).message}`);
    }
    return { ...(asRecord(asRecord(doc)?.config) ?? {}) };
}

/** The platform stack files in a directory: `Pulumi.<stack>.yaml`, sorted. */
export function platformStackFiles(root: string): string[] {
    try {
        return fs.readdirSync(root).filter((f) => /^Pulumi\.[^.]+\.ya?ml$/.test(f)).sort().map((f) => path.join(root, f));
    } catch {
        return [];
    }
}

/** Values found for a platform fact, and where they came from (for messages). */
export interface Resolution<T> {
    /** Empty when no platform stack config had the fact. */
    readonly values: readonly T[];
    readonly source: string;
}

/**
 * Reads a fact from the platform stack configs, in the order described at the
 * top of this module (after the policy config, which callers check first):
 * the previewed platform stack's config, its stack file, every stack file.
 * `extract` returns undefined when a config lacks the fact.
 */
export function resolveFromStacks<T>(env: StackEnvironment, root: string, extract: (config: Readonly<Record<string, unknown>>) => readonly T[] | undefined): Resolution<T> {
    const isPlatform = env.project === undefined || env.project === PROJECT;
    if (isPlatform && env.config) {
        const values = extract(env.config);
        if (values) return { values, source: `the config of stack ${env.stack ?? "(unnamed)"}` };
    }
    if (isPlatform && env.stack) {
        const file = path.join(root, `Pulumi.${env.stack}.yaml`);
        if (fs.existsSync(file)) {
            const values = extract(readStackFileConfig(file));
            if (values) return { values, source: path.basename(file) };
        }
    }
    const found = platformStackFiles(root).flatMap((file) => {
        const values = extract(readStackFileConfig(file));
        return values ? [{ file: path.basename(file), values }] : [];
    });
    return {
        values: [...new Set(found.flatMap((f) => f.values))],
        source: found.length > 0 ? `the stack files ${found.map((f) => f.file).join(", ")}` : "nowhere (no policy config, stack config or stack file)",
    };
}

export interface CatalogResolution {
    /** Allowed Postgres images; empty when no catalog was found anywhere. */
    readonly images: readonly string[];
    /** Where they came from, for messages. */
    readonly source: string;
}

/** The version catalog: the policy config's `allowedImages`, else the platform stack config (see resolveFromStacks). */
export function resolveCatalog(configured: readonly string[] | undefined, env: StackEnvironment, root: string = REPO_ROOT): CatalogResolution {
    if (configured && configured.length > 0) return { images: configured, source: "the policy config (allowedImages)" };
    const { values, source } = resolveFromStacks(env, root, catalogOfStackConfig);
    return { images: values, source };
}

/** A structured config value, whether still JSON text (as the CLI passes it) or already parsed (stack file). */
function section(config: Readonly<Record<string, unknown>>, key: string): unknown {
    const value = config[`${PROJECT}:${key}`];
    return typeof value === "string" ? safeJson(value) : value;
}

/** The ACME challenge directory nginx mounts from the host (`dbaas:tls.acmeChallengeDir`, schema default when unset). */
export function acmeChallengeDirsOfStackConfig(config: Readonly<Record<string, unknown>>): string[] | undefined {
    const tls = asRecord(section(config, "tls"));
    if (!tls) return undefined;
    const parsed = platformConfigSchema.shape.tls.shape.acmeChallengeDir.safeParse(tls.acmeChallengeDir);
    return parsed.success ? [parsed.data] : undefined;
}

/** The on-demand namespace prefix of a platform stack's config, or the schema's default. */
export function namespacePrefixOfStackConfig(config: Readonly<Record<string, unknown>>): string {
    const schema = platformConfigSchema.shape.ondemand.shape.namespacePrefix;
    const parsed = schema.safeParse(asString(asRecord(section(config, "ondemand"))?.namespacePrefix));
    return parsed.success ? parsed.data : DEFAULT_NAMESPACE_PREFIX;
}

/** The default of `dbaas:ondemand.namespacePrefix`, read from the config schema (one source). */
export const DEFAULT_NAMESPACE_PREFIX: string = platformConfigSchema.shape.ondemand.shape.namespacePrefix.parse(undefined);

/** The publish address the on-demand stack's own spec asks for (`dbaas-db:database` target.publish_ip, or undefined). */
export function ondemandPublishIp(env: StackEnvironment): string | undefined {
    const raw = env.config?.[ONDEMAND_SPEC_KEY];
    const spec = raw === undefined ? undefined : asRecord(safeJson(raw));
    return asString(asRecord(spec?.target)?.publish_ip);
}

function safeJson(text: string): unknown {
    try {
        return JSON.parse(text) as unknown;
    } catch {
        return undefined;
    }
}
