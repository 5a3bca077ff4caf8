/**
 * The production `StackEngine`: one Pulumi stack `dbaas-db/<name>` per
 * database, driven through `@pulumi/pulumi/automation`.
 *
 * Why a LOCAL program (a `Pulumi.yaml` in the work directory whose `main`
 * points at `ondemand/`) rather than an inline one: the CLI then starts
 * its own language host for every operation, so each `up` runs the program in
 * a fresh Node.js process. Inline programs run inside the API process, where
 * they share process-wide state (unhandled-rejection handlers, the Pulumi
 * runtime's module-level settings, the module cache), so two databases being
 * created at once could interfere, and a crashing program would take the API
 * down with it.
 *
 * Why one persistent work directory per database (`<stateRoot>/<name>/`):
 * the stack settings file there holds the stack config and, with a passphrase
 * secrets provider, the encryption salt; losing it between requests makes the
 * stack unreadable. Separate directories also keep concurrent operations on
 * different databases from racing on one workspace file. The directory is
 * removed only after the stack is.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { LocalWorkspace, PulumiCommand, StackAlreadyExistsError, type EngineEvent as PulumiEngineEvent, type OutputMap, type Stack } from "@pulumi/pulumi/automation";
import { z } from "zod";
import { restoreReportSchema } from "../../contracts/cache";
import { ONDEMAND_PASSWORD_KEY, ONDEMAND_SPEC_KEY } from "../../contracts/database";
import { parseDatabaseSpec, type DatabaseSpec } from "../../contracts/database";
import { abortReasonText, classifyCliFailure, errorText, logSafeOutput, type PolicyViolation } from "./errors";
import { toProgressEvent, urnName } from "./events";
import { planPassword, withoutSecret } from "./password";
import { restartTargets, type StateResource } from "./restart";
import { readDatabaseSize } from "./size";
import {
    EngineUnavailableError,
    OperationAbortedError,
    ProgramError,
    StackNotFoundError,
    type DatabaseOutputs,
    type DatabaseSize,
    type EngineEvent,
    type EngineReadiness,
    type OperationOptions,
    type StackEngine,
} from "./types";
import { cliEnvironment, fileBackendDir, policyConfigFileFor, projectSettingsFor, workDirFor, type EngineSettings } from "./workspace";

/** The subset of a pino logger the engine writes to. */
export interface EngineLogger {
    info(obj: object, msg?: string): void;
    warn(obj: object, msg?: string): void;
    error(obj: object, msg?: string): void;
}

const silentLogger: EngineLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

export interface AutomationEngineOptions {
    readonly settings: EngineSettings;
    /** Server log for full (redacted, truncated) CLI output. Default: silent. */
    readonly logger?: EngineLogger;
    /** Skip the SDK's minimum CLI version check. Default: false. */
    readonly skipVersionCheck?: boolean;
}

/** Options of a refresh (crash recovery). */
export interface RefreshOptions extends OperationOptions {
    /** Drop pending creates left in the state by a process that died mid-create. */
    readonly clearPendingCreates: boolean;
}

const outputsSchema = z.object({
    host: z.string(),
    port: z.coerce.number().int(),
    database: z.string(),
    user: z.string(),
    password: z.string(),
    uri: z.string(),
    version: z.string(),
    expiresAt: z.string(),
    // Optional: stacks made before the cache, and databases without a backup, have none.
    restore: restoreReportSchema.nullish().transform((r) => r ?? undefined),
});

type Located = { readonly ok: true; readonly command: PulumiCommand } | { readonly ok: false; readonly reason: string };

export class AutomationEngine implements StackEngine {
    private readonly settings: EngineSettings;
    private readonly log: EngineLogger;
    /** The CLI, located once at construction; never rejects. */
    private readonly located: Promise<Located>;

    constructor(options: AutomationEngineOptions) {
        this.settings = options.settings;
        this.log = options.logger ?? silentLogger;
        const root = options.settings.pulumiRoot;
        this.located = PulumiCommand.get({ ...(root === undefined ? {} : { root }), skipVersionCheck: options.skipVersionCheck ?? false })
            .then((command): Located => ({ ok: true, command }))
            .catch((e: unknown): Located => {
                const where = root === undefined ? "pulumi on PATH" : `${root}/bin/pulumi`;
                const text = errorText(e);
                const detail = /stderr: *(\S.*)/.exec(text)?.[1] ?? firstLine(text);
                const reason = `pulumi CLI not found (${where}): ${detail.slice(0, 200)}; install it or set DBAAS_PULUMI_ROOT`;
                this.log.error({ err: logSafeOutput(errorText(e)) }, "pulumi CLI not usable");
                return { ok: false, reason };
            });
    }

    async readiness(): Promise<EngineReadiness> {
        const reasons: string[] = [];
        const cli = await this.located;
        if (!cli.ok) reasons.push(cli.reason);
        try {
            await fs.promises.mkdir(this.settings.stateRoot, { recursive: true });
            await fs.promises.access(this.settings.stateRoot, fs.constants.W_OK);
        } catch (e) {
            reasons.push(`state root ${this.settings.stateRoot} is not writable: ${firstLine(errorText(e))}`);
        }
        const pack = await this.policyPackProblem();
        if (pack !== undefined) reasons.push(pack);
        if (this.settings.passphraseFile !== undefined) {
            try {
                await fs.promises.access(this.settings.passphraseFile, fs.constants.R_OK);
            } catch {
                reasons.push(`passphrase file ${this.settings.passphraseFile} (DBAAS_PULUMI_PASSPHRASE_FILE) is not readable`);
            }
        }
        return { ok: reasons.length === 0, reasons };
    }

    async up(spec: DatabaseSpec, options: OperationOptions): Promise<DatabaseOutputs> {
        const valid = parseDatabaseSpec(spec);
        return this.operation(valid.name, options, async (signal, onEvent) => {
            const clock = new PhaseClock();
            const { stack, created } = await this.openForUp(valid.name);
            clock.lap("open");
            await this.writeSpec(stack, valid, created);
            const policies = await this.policyOptions(valid.name);
            clock.lap("config");
            signal.throwIfAborted();
            // The Automation API's `up` skips the preview, and without one the pack judges each
            // resource as it is registered: a violation would stop the update only after the
            // resources before it were created. A preview under the pack first stops it before any.
            await stack.preview({ signal, color: "never", ...policies });
            clock.lap("preview");
            signal.throwIfAborted();
            // up's result holds the outputs (the Automation API reads them once after the update):
            // reading them again would be one more CLI call, about a second.
            const result = await stack.up({ signal, onEvent: clock.steps(onEvent), color: "never", ...policies });
            clock.lap("up");
            this.log.info({ stack: valid.name, phases_ms: clock.phases, steps_ms: clock.stepTimes }, "pulumi up: where the time went");
            return parseOutputs(result.outputs);
        });
    }

    async destroy(name: string, options: OperationOptions): Promise<void> {
        await this.operation(name, options, async (signal, onEvent) => {
            const stack = await this.openExisting(name);
            if (stack === undefined) return;
            await stack.destroy({ signal, onEvent, color: "never" });
            await stack.workspace.removeStack(name);
            await this.removeWorkDir(name);
        });
    }

    async outputs(name: string): Promise<DatabaseOutputs> {
        // No caller deadline covers this read (the owner asked for credentials): the engine bounds it.
        return this.operation(name, { signal: AbortSignal.timeout(this.settings.outputsTimeoutMs), onEvent: () => undefined }, async () => {
            const stack = await this.openExisting(name);
            if (stack === undefined) throw new StackNotFoundError(name);
            return this.readOutputs(stack);
        });
    }

    /**
     * The database's size as its owner sees it (size.ts), from the stack's outputs; the
     * volume's size stays unknown. Fails when the API cannot reach the database (source
     * ranges, a NetworkPolicy): the sampler then skips it and logs why.
     */
    async size(name: string, signal: AbortSignal): Promise<DatabaseSize> {
        const out = await this.outputs(name);
        return { databaseBytes: await readDatabaseSize(out, signal), volumeBytes: null };
    }

    async restart(name: string, options: OperationOptions): Promise<DatabaseOutputs> {
        return this.operation(name, options, async (signal, onEvent) => {
            const stack = await this.openExisting(name);
            if (stack === undefined) throw new StackNotFoundError(name);
            const spec = await this.readSpec(stack);
            // A stack made before the password moved into config has none yet.
            await this.ensurePassword(stack, (await stack.workspace.stackSettings(stack.name)).config);
            const state = await stack.exportStack();
            const resources = ((state.deployment as { resources?: StateResource[] } | undefined)?.resources) ?? [];
            const urns = restartTargets(resources, spec.name);
            if (urns.length === 0) throw new ProgramError("nothing to restart: the stack has no database container or workload");
            const policies = await this.policyOptions(name);
            signal.throwIfAborted();
            await stack.up({ signal, onEvent, color: "never", replace: urns, target: urns, targetDependents: true, ...policies });
            // A replaced container may be published on another host port: the endpoint is read again.
            return this.readOutputs(stack);
        });
    }

    async cancel(name: string): Promise<void> {
        const stack = await this.wrap(name, undefined, { diagnostics: [], policyViolations: [] }, () => this.openExisting(name));
        if (stack === undefined) return;
        try {
            await stack.cancel();
        } catch (e) {
            const err = classifyCliFailure({ stackName: name, error: e });
            if (err instanceof EngineUnavailableError) throw err;
            // "no update in progress" and its variants: nothing was running.
            this.log.info({ stack: name, output: logSafeOutput(errorText(e)) }, "pulumi cancel: nothing to cancel");
        }
    }

    /**
     * Re-reads the real resources into the state. With `clearPendingCreates`
     * it also drops creates a dead process left pending, which otherwise
     * block every later update. Resolves when the stack does not exist.
     */
    async refresh(name: string, options: RefreshOptions): Promise<void> {
        await this.operation(name, options, async (signal, onEvent) => {
            const stack = await this.openExisting(name);
            if (stack === undefined) return;
            await stack.refresh({ signal, onEvent, color: "never", clearPendingCreates: options.clearPendingCreates });
        });
    }

    /**
     * Runs one operation: abort, event mapping and error classification around
     * `body`. Its deadline is the caller's signal (the job runner's timeout).
     */
    private async operation<T>(
        name: string,
        options: OperationOptions,
        body: (signal: AbortSignal, onEvent: (e: PulumiEngineEvent) => void) => Promise<T>,
    ): Promise<T> {
        const { signal } = options;
        const diagnostics: string[] = [];
        const policyViolations: PolicyViolation[] = [];
        const onEvent = (e: PulumiEngineEvent): void => {
            const p = e.policyEvent;
            if (p?.enforcementLevel === "mandatory") {
                policyViolations.push({ policy: p.policyName, message: p.message, ...(p.resourceUrn ? { urn: p.resourceUrn } : {}) });
            }
            const progress = toProgressEvent(e);
            if (progress === undefined) return;
            if (progress.kind === "diagnostic" && progress.severity === "error" && progress.message !== undefined) diagnostics.push(progress.message);
            emit(options.onEvent, progress);
        };
        return this.wrap(name, signal, { diagnostics, policyViolations }, () => {
            signal.throwIfAborted();
            return body(signal, onEvent);
        });
    }

    private async wrap<T>(
        name: string,
        signal: AbortSignal | undefined,
        seen: { readonly diagnostics: readonly string[]; readonly policyViolations: readonly PolicyViolation[] },
        body: () => Promise<T>,
    ): Promise<T> {
        try {
            return await body();
        } catch (e) {
            const abortReason = signal?.aborted === true ? (signal.reason as unknown) : undefined;
            const err = classifyCliFailure({ stackName: name, error: e, abortReason, ...seen });
            if (err instanceof OperationAbortedError) {
                this.log.warn({ stack: name, reason: abortReasonText(abortReason) }, "pulumi operation aborted");
            } else {
                this.log.error({ stack: name, kind: err.name, output: logSafeOutput(errorText(e)) }, "pulumi operation failed");
            }
            throw err;
        }
    }

    /** Why the policy pack cannot run, or undefined when its directory holds a readable PulumiPolicy.yaml. */
    private async policyPackProblem(): Promise<string | undefined> {
        try {
            await fs.promises.access(path.join(this.settings.policyPackDir, "PulumiPolicy.yaml"), fs.constants.R_OK);
            return undefined;
        } catch {
            return `policy pack ${this.settings.policyPackDir} (DBAAS_POLICY_PACK_DIR) has no readable PulumiPolicy.yaml`;
        }
    }

    /**
     * The policy options of an `up`: the pack and, when configured, its config
     * written into the database's work directory. Refuses (retryable, as an
     * operator can fix it) rather than run an update without the pack.
     */
    private async policyOptions(name: string): Promise<{ policyPacks: string[]; policyPackConfigs?: string[] }> {
        const problem = await this.policyPackProblem();
        if (problem !== undefined) throw new EngineUnavailableError(problem);
        const policyPacks = [this.settings.policyPackDir];
        if (this.settings.policyConfig === undefined) return { policyPacks };
        const file = policyConfigFileFor(workDirFor(this.settings.stateRoot, name));
        await fs.promises.writeFile(file, `${JSON.stringify(this.settings.policyConfig, null, 2)}\n`, { mode: 0o600 });
        return { policyPacks, policyPackConfigs: [file] };
    }

    private async command(): Promise<PulumiCommand> {
        const cli = await this.located;
        if (!cli.ok) throw new EngineUnavailableError(cli.reason);
        return cli.command;
    }

    /**
     * The stack of an `up`, and whether this call created it. A create is the common case, so
     * `stack init` goes first (one CLI call, where select-then-init takes two); a retry of a
     * failed create finds the stack it left behind ("already exists") and selects it.
     */
    private async openForUp(name: string): Promise<{ stack: Stack; created: boolean }> {
        try {
            return { stack: await this.open(name, "create"), created: true };
        } catch (e) {
            if (!(e instanceof StackAlreadyExistsError)) throw e;
            return { stack: await this.open(name, "select"), created: false };
        }
    }

    /** Opens the stack in its work directory, creating the directory and project file as needed. */
    private async open(name: string, mode: "create" | "select"): Promise<Stack> {
        const pulumiCommand = await this.command();
        const workDir = workDirFor(this.settings.stateRoot, name);
        await fs.promises.mkdir(workDir, { recursive: true, mode: 0o700 });
        // The CLI's file backend opens its folder but never creates it.
        const fileBackend = fileBackendDir(this.settings.backendUrl);
        if (fileBackend !== undefined) await fs.promises.mkdir(fileBackend, { recursive: true, mode: 0o700 });
        const wsOptions = {
            pulumiCommand,
            envVars: cliEnvironment(this.settings),
            projectSettings: projectSettingsFor(workDir, this.settings.programDir),
            ...(this.settings.secretsProvider === undefined ? {} : { secretsProvider: this.settings.secretsProvider }),
        };
        const args = { stackName: name, workDir };
        return mode === "create"
            ? LocalWorkspace.createStack(args, wsOptions)
            : LocalWorkspace.selectStack(args, wsOptions);
    }

    /** The existing stack, or undefined (after removing a leftover work directory) when there is none. */
    private async openExisting(name: string): Promise<Stack | undefined> {
        try {
            return await this.open(name, "select");
        } catch (e) {
            if (classifyCliFailure({ stackName: name, error: e }) instanceof StackNotFoundError) {
                await this.removeWorkDir(name);
                return undefined;
            }
            throw e;
        }
    }

    private async removeWorkDir(name: string): Promise<void> {
        await fs.promises.rm(workDirFor(this.settings.stateRoot, name), { recursive: true, force: true });
    }

    /**
     * Writes the spec into the stack settings file (`Pulumi.<name>.yaml`) —
     * the same file `pulumi config set` writes — rather than through `config
     * set`, whose value would be on the CLI's command line (visible in `ps`;
     * a backup URL may carry a signed query string). The spec holds no
     * secrets, so it is plain config. Other keys (the encryption salt,
     * secrets provider, the encrypted password) are kept; then the password
     * config is made sure of (`created`: the stack is new, so it has no
     * outputs to read a password from).
     */
    private async writeSpec(stack: Stack, spec: DatabaseSpec, created: boolean): Promise<void> {
        const ws = stack.workspace;
        let settings: Awaited<ReturnType<typeof ws.stackSettings>> = {};
        try {
            settings = await ws.stackSettings(stack.name);
        } catch {
            // No settings file yet (a backend that keeps none): start empty.
        }
        const config = { ...(settings.config ?? {}), [ONDEMAND_SPEC_KEY]: JSON.stringify(spec) };
        await ws.saveStackSettings(stack.name, { ...settings, config });
        await this.ensurePassword(stack, config, created);
    }

    /**
     * Gives the stack its secret password config when its settings lack it:
     * the stack's `password` output when it has one (an existing stack whose
     * work dir was lost, or one made before the password moved into config),
     * else a new one. Set through `pulumi config set --secret` so the CLI
     * encrypts it with the stack's secrets provider; this engine cannot
     * encrypt for it. The value is briefly on that command's argv (the
     * Automation API has no stdin); it is never logged, and a failure's text
     * has it cut out. A stack this operation `created` has no outputs: they
     * are not read (two CLI calls, about a second).
     */
    private async ensurePassword(stack: Stack, config: Readonly<Record<string, unknown>> | undefined, created = false): Promise<void> {
        const configured = config !== undefined && Object.hasOwn(config, ONDEMAND_PASSWORD_KEY);
        const previous: unknown = configured || created ? undefined : (await stack.outputs()).password?.value;
        const plan = planPassword(configured, previous);
        if (plan.action === "keep") return;
        try {
            await stack.setConfig(ONDEMAND_PASSWORD_KEY, { value: plan.password, secret: true });
        } catch (e) {
            throw withoutSecret(e, plan.password);
        }
        this.log.info({ stack: stack.name, key: ONDEMAND_PASSWORD_KEY, source: plan.action }, "password config set");
    }

    private async readSpec(stack: Stack): Promise<DatabaseSpec> {
        const settings = await stack.workspace.stackSettings(stack.name);
        const raw: unknown = settings.config?.[ONDEMAND_SPEC_KEY];
        if (typeof raw !== "string") throw new ProgramError(`the stack has no ${ONDEMAND_SPEC_KEY} config; run the create again`);
        return parseDatabaseSpec(JSON.parse(raw) as unknown);
    }

    private async readOutputs(stack: Stack): Promise<DatabaseOutputs> {
        return parseOutputs(await stack.outputs());
    }
}

function parseOutputs(outputs: OutputMap): DatabaseOutputs {
    const parsed = outputsSchema.safeParse(Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.value as unknown])));
    if (!parsed.success) {
        const fields = [...new Set(parsed.error.issues.map((i) => i.path.join(".")))].join(", ");
        throw new ProgramError(`the program's stack outputs are incomplete (${fields})`);
    }
    return parsed.data;
}

/**
 * Where an `up` spends its time, for the log: the phases of the operation, and
 * each resource's step from its pre-event to its outputs (by resource name).
 */
export class PhaseClock {
    readonly phases: Record<string, number> = {};
    readonly stepTimes: Record<string, number> = {};
    #last: number;
    readonly #started = new Map<string, number>();

    constructor(private readonly now: () => number = Date.now) {
        this.#last = now();
    }

    lap(phase: string): void {
        const t = this.now();
        this.phases[phase] = t - this.#last;
        this.#last = t;
    }

    /** `onEvent` that also times each resource's step. */
    steps(onEvent: (e: PulumiEngineEvent) => void): (e: PulumiEngineEvent) => void {
        return (e) => {
            const pre = e.resourcePreEvent?.metadata.urn;
            if (pre !== undefined) this.#started.set(pre, this.now());
            const done = e.resOutputsEvent?.metadata.urn;
            const t0 = done === undefined ? undefined : this.#started.get(done);
            if (done !== undefined && t0 !== undefined) this.stepTimes[urnName(done)] = this.now() - t0;
            onEvent(e);
        };
    }
}

function emit(onEvent: (e: EngineEvent) => void, event: EngineEvent): void {
    try {
        onEvent(event);
    } catch {
        // The contract says onEvent must not throw; a faulty listener must not fail the operation.
    }
}

function firstLine(text: string): string {
    return (text.split("\n").find((l) => l.trim().length > 0) ?? text).trim().slice(0, 200);
}
