/**
 * Where the Automation API engine keeps things and what it hands the Pulumi
 * CLI: the engine settings read from the environment, the per-database work
 * directory layout, the project file written into it, and the CLI's
 * environment. Pure apart from `engineSettingsFromEnv` reading `path`s; no
 * Pulumi imports.
 */
import * as path from "node:path";
import { DATABASE_NAME_PATTERN, ONDEMAND_PROJECT } from "../../contracts/database";
import { REPO_ROOT } from "../config";

/** The on-demand database program, run by the CLI as a local program. */
export const ONDEMAND_PROGRAM_DIR = path.join(REPO_ROOT, "ondemand");
/** The CrossGuard pack (policies/) every `up` of the program runs under. */
export const POLICY_PACK_DIR = path.join(REPO_ROOT, "policies");
/** Policy names of the pack whose config the engine sets (a test checks they exist in policies/rules.ts). */
export const CATALOG_POLICIES = ["postgres-image-from-catalog", "postgres-image-id-from-catalog"] as const;
export const NAMESPACE_LABELS_POLICY = "ondemand-namespace-labels";

/** A `--policy-pack-config` document: policy name → that policy's config. */
export type PolicyPackConfig = Readonly<Record<string, Readonly<Record<string, unknown>>>>;

/** Everything the engine needs that differs between machines. */
export interface EngineSettings {
    /** One work directory per database lives here: `<stateRoot>/<name>/`. */
    readonly stateRoot: string;
    /** `PULUMI_BACKEND_URL`: `file://...`, `s3://bucket/prefix`, `https://api.pulumi.com`. */
    readonly backendUrl: string;
    /** File holding the passphrase of the passphrase secrets provider; handed to the CLI as `PULUMI_CONFIG_PASSPHRASE_FILE`. */
    readonly passphraseFile?: string;
    /** A non-passphrase secrets provider for new stacks, e.g. `awskms://alias/dbaas`. */
    readonly secretsProvider?: string;
    /** Installation root of the CLI (`<root>/bin/pulumi`); unset = `pulumi` on PATH. */
    readonly pulumiRoot?: string;
    /** Directory of the program run for every database. */
    readonly programDir: string;
    /**
     * Upper bound of `outputs`, the one call no caller deadline covers (the API
     * passes DBAAS_OPERATION_TIMEOUT_SECONDS). Operations (up, destroy,
     * restart, refresh) end when the caller's signal fires: the job runner's
     * timeout.
     */
    readonly outputsTimeoutMs: number;
    /** tsconfig the program is transpiled with (the repository's: it sets `noCheck`). */
    readonly tsconfigPath: string;
    /** The CrossGuard pack passed to every `up` (`--policy-pack`); a mandatory violation fails the operation. */
    readonly policyPackDir: string;
    /**
     * Handed to the pack with `--policy-pack-config` (written into the work
     * directory before each `up`). Unset: the pack's own defaults, which read
     * the catalog from the repository's `Pulumi.<stack>.yaml` files.
     */
    readonly policyConfig?: PolicyPackConfig;
}

export class EngineSettingsError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "EngineSettingsError";
    }
}

/**
 * Reads the engine settings. Defaults: `DBAAS_STATE_ROOT` = `<DBAAS_DATA_DIR or
 * <repo>/.dbaas-data>/stacks`, `PULUMI_BACKEND_URL` = `file://<stateRoot>/.state`,
 * `DBAAS_PULUMI_ROOT` unset (PATH),
 * `DBAAS_POLICY_PACK_DIR` = `<repo>/policies` (there is no off switch: the
 * pack is what keeps API-made stacks inside the guardrails).
 * Exactly one of `DBAAS_PULUMI_PASSPHRASE_FILE` and `DBAAS_SECRETS_PROVIDER`
 * should be set; with neither the CLI fails at `stack init` with its own
 * message, which readiness cannot know in advance, so it is refused here.
 */
/** The settings the environment gives; the timeout and the pack config come from the API's own config (load.ts). */
export type EngineEnvSettings = Omit<EngineSettings, "outputsTimeoutMs" | "policyConfig">;

export function engineSettingsFromEnv(env: Readonly<Record<string, string | undefined>>): EngineEnvSettings {
    const get = (k: string): string | undefined => (env[k] === undefined || env[k] === "" ? undefined : env[k]);
    const dataDir = get("DBAAS_DATA_DIR") ?? path.join(REPO_ROOT, ".dbaas-data");
    const stateRoot = path.resolve(get("DBAAS_STATE_ROOT") ?? path.join(dataDir, "stacks"));
    const passphraseFile = get("DBAAS_PULUMI_PASSPHRASE_FILE");
    const secretsProvider = get("DBAAS_SECRETS_PROVIDER");
    if (passphraseFile === undefined && secretsProvider === undefined) {
        throw new EngineSettingsError(
            "DBAAS_PULUMI_PASSPHRASE_FILE and DBAAS_SECRETS_PROVIDER are both unset: expected a passphrase file " +
            "(e.g. DBAAS_PULUMI_PASSPHRASE_FILE=/run/secrets/pulumi-passphrase) or a KMS key (DBAAS_SECRETS_PROVIDER=awskms://alias/dbaas)",
        );
    }
    if (secretsProvider !== undefined && !/^(awskms|azurekeyvault|gcpkms|hashivault):\/\/.+/.test(secretsProvider)) {
        throw new EngineSettingsError(`DBAAS_SECRETS_PROVIDER = ${JSON.stringify(secretsProvider)}: expected a KMS URL such as awskms://alias/dbaas`);
    }
    const pulumiRoot = get("DBAAS_PULUMI_ROOT");
    return {
        stateRoot,
        backendUrl: get("PULUMI_BACKEND_URL") ?? `file://${path.join(stateRoot, ".state")}`,
        ...(passphraseFile === undefined ? {} : { passphraseFile: path.resolve(passphraseFile) }),
        ...(secretsProvider === undefined ? {} : { secretsProvider }),
        ...(pulumiRoot === undefined ? {} : { pulumiRoot: path.resolve(pulumiRoot) }),
        programDir: ONDEMAND_PROGRAM_DIR,
        tsconfigPath: path.join(REPO_ROOT, "tsconfig.json"),
        policyPackDir: path.resolve(get("DBAAS_POLICY_PACK_DIR") ?? POLICY_PACK_DIR),
    };
}

/**
 * The pack's config for the on-demand program: the API's own version catalog
 * (what requests were validated against; in the container no
 * `Pulumi.<stack>.yaml` exists for the pack to read it from) and, on
 * Kubernetes, the API's namespace prefix.
 */
export function ondemandPolicyConfig(allowedImages: readonly string[], namespacePrefix?: string): PolicyPackConfig {
    const catalog = Object.fromEntries(CATALOG_POLICIES.map((name) => [name, { allowedImages: [...allowedImages] }]));
    return namespacePrefix === undefined ? catalog : { ...catalog, [NAMESPACE_LABELS_POLICY]: { namespacePrefix } };
}

/** Where the pack config of one database's `up` is written (inside its work directory). */
export function policyConfigFileFor(workDir: string): string {
    return path.join(workDir, "policy-config.json");
}

/** The folder of a `file://` backend URL (query string dropped), or undefined for other backends. */
export function fileBackendDir(backendUrl: string): string | undefined {
    if (!backendUrl.startsWith("file://")) return undefined;
    const dir = backendUrl.slice("file://".length).split("?")[0] ?? "";
    return dir === "" ? undefined : dir.replace(/^~(?=\/)/, process.env.HOME ?? "~");
}

/** The work directory of one database. The name is a validated DNS label, so it cannot escape the root. */
export function workDirFor(stateRoot: string, name: string): string {
    if (!DATABASE_NAME_PATTERN.test(name)) throw new Error(`not a database name: ${JSON.stringify(name)}`);
    return path.join(stateRoot, name);
}

/**
 * The project file written into a work directory. `main` is relative (the
 * documented form: "relative to the location of Pulumi.yaml"), pointing at the
 * shared program, so the work directory holds only settings and stack config.
 * The config schema of ondemand/Pulumi.yaml is not copied: the spec is
 * stored as a JSON string (what `pulumi config set` would store), which the
 * program reads with `requireObject`.
 */
export function projectSettingsFor(workDir: string, programDir: string): {
    name: string;
    runtime: { name: "nodejs"; options: { typescript: boolean; packagemanager: string } };
    main: string;
    description: string;
} {
    return {
        name: ONDEMAND_PROJECT,
        runtime: { name: "nodejs", options: { typescript: true, packagemanager: "npm" } },
        main: path.relative(workDir, programDir) || ".",
        description: "One on-demand database (written by the dbaas API; do not edit)",
    };
}

/**
 * The environment of every CLI run. Secrets never go here as values: the
 * passphrase is a FILE path, and the CLI reads the file itself.
 */
export function cliEnvironment(settings: Pick<EngineSettings, "backendUrl" | "tsconfigPath" | "passphraseFile">): Record<string, string> {
    return {
        PULUMI_BACKEND_URL: settings.backendUrl,
        PULUMI_SKIP_UPDATE_CHECK: "true",
        // The API machine never has an interactive user; fail instead of prompting.
        PULUMI_SKIP_CONFIRMATIONS: "true",
        // The program is type-checked by `npm run typecheck`; the per-operation
        // language host only transpiles it, with the repository's settings.
        PULUMI_NODEJS_TSCONFIG_PATH: settings.tsconfigPath,
        PULUMI_NODEJS_TRANSPILE_ONLY: "true",
        ...(settings.passphraseFile === undefined ? {} : { PULUMI_CONFIG_PASSPHRASE_FILE: settings.passphraseFile }),
    };
}
