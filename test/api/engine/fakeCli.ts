/**
 * Helpers around the recording fake CLI (test/api/engine/fake-pulumi/bin/pulumi,
 * a TEST DOUBLE): a scratch directory per test with its scenario, the engine
 * settings pointing at the fake, and the recorded calls.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach } from "vitest";
import { AutomationEngine, type EngineLogger } from "../../../api/engine/automation";
import { ONDEMAND_PROGRAM_DIR, POLICY_PACK_DIR, type EngineSettings } from "../../../api/engine/workspace";
import { parseDatabaseSpec, type DatabaseSpec } from "../../../contracts/database";

/** `PulumiCommand.get({ root })` runs `<root>/bin/pulumi`. */
export const FAKE_ROOT = path.join(__dirname, "fake-pulumi");
/** The passphrase the tests hand the engine as a FILE; it must never show up in argv or env values. */
export const PASSPHRASE = "correct-horse-battery-staple-7f3a";

export interface FakeResponse {
    readonly events?: readonly object[];
    readonly sleepMs?: number;
    readonly exitCode?: number;
    readonly stderr?: string;
    readonly stdout?: string;
}

export interface Scenario {
    readonly version?: string;
    readonly stacks?: readonly string[];
    readonly outputs?: Readonly<Record<string, unknown>>;
    readonly secretOutputs?: readonly string[];
    readonly resources?: readonly object[];
    readonly responses?: Readonly<Record<string, FakeResponse | readonly FakeResponse[]>>;
}

export interface RecordedCall {
    readonly argv: string[];
    readonly cwd: string;
    readonly pid: number;
    readonly env: Record<string, string>;
    readonly key?: string;
    readonly signal?: string;
}

export interface FakeCli {
    readonly dir: string;
    readonly settings: EngineSettings;
    calls(): RecordedCall[];
    scenario(s: Scenario): void;
    cleanup(): void;
}

/** A fresh scratch directory wired to the fake (via FAKE_PULUMI_DIR, which the CLI inherits). */
export function fakeCli(scenario: Scenario = {}, overrides: Partial<EngineSettings> = {}): FakeCli {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-engine-"));
    fs.writeFileSync(path.join(dir, "passphrase"), PASSPHRASE, { mode: 0o600 });
    process.env.FAKE_PULUMI_DIR = dir;
    const write = (s: Scenario): void => fs.writeFileSync(path.join(dir, "scenario.json"), JSON.stringify(s));
    write(scenario);
    const stateRoot = path.join(dir, "stacks");
    return {
        dir,
        settings: {
            stateRoot,
            backendUrl: `file://${path.join(stateRoot, ".state")}`,
            passphraseFile: path.join(dir, "passphrase"),
            pulumiRoot: FAKE_ROOT,
            programDir: ONDEMAND_PROGRAM_DIR,
            outputsTimeoutMs: 30_000,
            tsconfigPath: path.resolve(__dirname, "..", "..", "..", "tsconfig.json"),
            policyPackDir: POLICY_PACK_DIR,
            ...overrides,
        },
        calls: () => {
            const file = path.join(dir, "calls.jsonl");
            if (!fs.existsSync(file)) return [];
            return fs.readFileSync(file, "utf8").trim().split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as RecordedCall);
        },
        scenario: write,
        cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
    };
}

/** A valid docker-target spec; the backup URL carries a signed-URL token that must stay off command lines. */
export function dockerSpec(name: string): DatabaseSpec {
    return parseDatabaseSpec({
        name,
        owner: "alice",
        project_id: "proj-1",
        db_type: "postgres",
        version: "PostgreSQL 17",
        image: "postgres:17.6",
        backup_location: "https://backups.example.com/db.dump?X-Amz-Signature=deadbeefsignature",
        expires_at: "2030-01-01T00:00:00.000Z",
        source_ranges: [],
        target: { kind: "docker", docker_host: "unix:///var/run/docker.sock", memory_mb: 512, publish_ip: "127.0.0.1" },
    });
}

/** Resolves once `predicate` holds, polling every 20 ms, or rejects after `ms`. */
export async function waitFor(predicate: () => boolean, ms = 10_000): Promise<void> {
    const start = Date.now();
    while (!predicate()) {
        if (Date.now() - start > ms) throw new Error("waitFor: timed out");
        await new Promise((r) => setTimeout(r, 20));
    }
}

/** Whether a process id is still alive. */
export function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
}

/** Run options of an engine call that nobody cancels or listens to. */
export const NOOP_RUN = { signal: new AbortController().signal, onEvent: () => undefined };

/**
 * A fake CLI per test, removed after each, and the engine on it: call the
 * returned function in a test (`const { cli, engine } = setup(scenario)`).
 */
export function fakeEngineSetup(): (scenario?: Scenario, overrides?: Partial<EngineSettings>, engine?: { logger?: EngineLogger }) => { cli: FakeCli; engine: AutomationEngine } {
    let cli: FakeCli | undefined;
    afterEach(() => cli?.cleanup());
    return (scenario = {}, overrides = {}, engine = {}) => {
        cli = fakeCli(scenario, overrides);
        return { cli, engine: new AutomationEngine({ settings: cli.settings, ...(engine.logger === undefined ? {} : { logger: engine.logger }) }) };
    };
}
