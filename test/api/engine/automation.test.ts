/**
 * The Automation API engine at the CLI boundary, against the recording fake
 * CLI (a TEST DOUBLE in test/api/engine/fake-pulumi/bin/pulumi): locating
 * it, create, the password config and the policy pack. Cancellation, failures,
 * delete, restart and crash recovery are in automationFailures.test.ts (two
 * files, so two integration workers share them).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { describe, expect, it } from "vitest";
import type { EngineLogger } from "../../../api/engine/automation";
import { EngineUnavailableError, ProgramError, type EngineEvent } from "../../../api/engine/types";
import { engineSettingsFromEnv, ONDEMAND_PROGRAM_DIR, ondemandPolicyConfig, POLICY_PACK_DIR } from "../../../api/engine/workspace";
import { parseDatabaseSpec } from "../../../contracts/database";
import { dockerSpec, fakeEngineSetup, NOOP_RUN as noop, PASSPHRASE, type FakeCli, type RecordedCall } from "./fakeCli";

const setup = fakeEngineSetup();

describe("locating the CLI", () => {
    it("reports ready when the CLI answers `version`", async () => {
        const { engine } = setup();
        expect(await engine.readiness()).toEqual({ ok: true, reasons: [] });
    });

    it("reports a missing CLI through readiness and fails operations as unavailable, without crashing at start", async () => {
        const { engine } = setup({}, { pulumiRoot: "/nonexistent/pulumi-root" });
        const r = await engine.readiness();
        expect(r.ok).toBe(false);
        expect(r.reasons.join("\n")).toMatch(/pulumi CLI not found \(\/nonexistent\/pulumi-root\/bin\/pulumi\)/);
        await expect(engine.up(dockerSpec("db1"), noop)).rejects.toBeInstanceOf(EngineUnavailableError);
    });

    it("reports an unreadable passphrase file", async () => {
        const { engine } = setup({}, { passphraseFile: "/nonexistent/passphrase" });
        const r = await engine.readiness();
        expect(r.reasons.join("\n")).toMatch(/passphrase file \/nonexistent\/passphrase/);
    });
});

describe("create (up)", () => {
    it("creates the stack in its own work dir with the configured environment and no secret on any command line (but the password's own `config set`, below)", async () => {
        const { cli, engine } = setup();
        const events: EngineEvent[] = [];
        const spec = dockerSpec("db1");
        const outputs = await engine.up(spec, { signal: new AbortController().signal, onEvent: (e) => events.push(e) });
        expect(outputs).toMatchObject({ host: "127.0.0.1", port: 49153, user: "app", password: "fake-secret-password" });

        const workDir = path.join(cli.settings.stateRoot, "db1");
        const calls = cli.calls().filter((c) => c.argv[0] !== "version");
        // A new stack: init (no select first), no outputs read before the update (there are none).
        expect(calls.map((c) => c.key)).toEqual(["stack init", "config set", "preview", "up", "stack output", "stack output", "stack history"]);
        for (const c of calls) {
            expect(c.cwd).toBe(workDir);
            expect(c.env.PULUMI_BACKEND_URL).toBe(cli.settings.backendUrl);
            expect(c.env.PULUMI_CONFIG_PASSPHRASE_FILE).toBe(cli.settings.passphraseFile);
            expect(c.env.PULUMI_SKIP_UPDATE_CHECK).toBe("true");
            expect(c.env.PULUMI_CONFIG_PASSPHRASE).toBeUndefined();
            const visible = JSON.stringify([c.argv, c.env]);
            expect(visible).not.toContain(PASSPHRASE);
            expect(visible).not.toContain("deadbeefsignature");
            expect(visible).not.toContain("fake-secret-password");
        }
        const up = calls.find((c) => c.key === "up");
        expect(up?.argv).toEqual(expect.arrayContaining(["--stack", "db1", "--exec-kind", "auto.local", "--event-log"]));

        // The project file points at the shared program; the stack file holds the spec and keeps the salt.
        const project = parseYaml(fs.readFileSync(path.join(workDir, "Pulumi.yaml"), "utf8")) as { name: string; main: string };
        expect(project.name).toBe("dbaas-db");
        expect(path.resolve(workDir, project.main)).toBe(ONDEMAND_PROGRAM_DIR);
        const stackFile = parseYaml(fs.readFileSync(path.join(workDir, "Pulumi.db1.yaml"), "utf8")) as { encryptionsalt?: string; config: Record<string, string> };
        expect(stackFile.encryptionsalt).toMatch(/^v1:/);
        expect(JSON.parse(stackFile.config["dbaas-db:database"] ?? "null")).toEqual(parseDatabaseSpec(spec));

        // Engine events arrive in order, compacted: the prelude and the stack resource are dropped.
        expect(events.map((e) => `${e.kind}:${e.name ?? ""}`)).toEqual([
            "resource-start:db1",
            "resource-done:db1",
            "summary:",
        ]);
        expect(events[2]?.message).toBe("create 1 (1s)");
    });

    it("delivers events over the gRPC event stream newer CLIs use (version > 3.205.0)", async () => {
        const { engine } = setup({ version: "3.230.0" });
        const events: EngineEvent[] = [];
        await engine.up(dockerSpec("db2"), { signal: new AbortController().signal, onEvent: (e) => events.push(e) });
        expect(events.map((e) => e.kind)).toEqual(["resource-start", "resource-done", "summary"]);
    });

    it("a retry after a failed create resumes the existing stack instead of answering 'already exists'", async () => {
        const { cli, engine } = setup({
            responses: { up: [{ exitCode: 255, stderr: "error: update failed" }, {}] },
        });
        await expect(engine.up(dockerSpec("db3"), noop)).rejects.toBeInstanceOf(ProgramError);
        await expect(engine.up(dockerSpec("db3"), noop)).resolves.toMatchObject({ database: "app" });
        const keys = cli.calls().map((c) => c.key).filter((k) => k !== undefined);
        // The retry's `stack init` is answered "already exists" and the stack left behind is selected.
        expect(keys.filter((k) => k === "stack init")).toHaveLength(2);
        expect(keys[keys.lastIndexOf("stack init") + 1]).toBe("stack select");
        expect(keys.filter((k) => k === "up")).toHaveLength(2);
    });
});

describe("the password config (dbaas-db:password)", () => {
    const KEY = "dbaas-db:password";
    const configSets = (c: FakeCli): RecordedCall[] => c.calls().filter((x) => x.key === "config set");
    /** The value a `config set ... -- <value>` call set. */
    const valueOf = (c: RecordedCall): string => c.argv[c.argv.indexOf("--") + 1] ?? "";
    const stackFile = (c: FakeCli, name: string): { config: Record<string, unknown> } =>
        parseYaml(fs.readFileSync(path.join(c.settings.stateRoot, name, `Pulumi.${name}.yaml`), "utf8")) as { config: Record<string, unknown> };
    function capturingLogger(): { logger: EngineLogger; lines: () => string } {
        const seen: unknown[] = [];
        const log = (obj: object, msg?: string): void => void seen.push([obj, msg]);
        return { logger: { info: log, warn: log, error: log }, lines: () => JSON.stringify(seen) };
    }

    it("the first up of a new stack sets a generated password once, as a secret, before the update; a second up keeps it", async () => {
        const { logger, lines } = capturingLogger();
        const { cli, engine } = setup({}, {}, { logger });
        await engine.up(dockerSpec("pw1"), noop);

        const [set, ...more] = configSets(cli);
        expect(more).toEqual([]);
        expect(set?.argv).toEqual(expect.arrayContaining(["config", "set", KEY, "--stack", "pw1", "--secret"]));
        expect(set?.argv).not.toContain("--plaintext");
        const password = valueOf(set as RecordedCall);
        expect(password).toMatch(/^[A-Za-z0-9_-]{32}$/);
        const keys = cli.calls().map((c) => c.key);
        expect(keys.indexOf("config set")).toBeLessThan(keys.indexOf("up"));
        // Encrypted by the CLI in the stack file, next to the spec; nowhere else in clear.
        const config = stackFile(cli, "pw1").config;
        expect(config[KEY]).toEqual({ secure: expect.stringMatching(/^v1:/) as unknown });
        expect(config["dbaas-db:database"]).toEqual(expect.any(String));
        const stackDir = path.join(cli.settings.stateRoot, "pw1");
        for (const file of fs.readdirSync(stackDir)) expect(fs.readFileSync(path.join(stackDir, file), "utf8"), file).not.toContain(password);
        for (const c of cli.calls().filter((x) => x.key !== "config set")) expect(JSON.stringify([c.argv, c.env]), c.key).not.toContain(password);
        expect(JSON.stringify(set?.env)).not.toContain(password);
        expect(lines()).toContain("password config set");
        expect(lines()).not.toContain(password);

        await engine.up(dockerSpec("pw1"), noop);
        expect(configSets(cli)).toHaveLength(1);
        expect(cli.calls().filter((c) => c.key === "up")).toHaveLength(2);
        // Writing the spec again kept the encrypted value.
        expect(stackFile(cli, "pw1").config[KEY]).toEqual(config[KEY]);
    });

    it("an existing stack whose work dir is gone (another API replica) gets its current password back, not a new one", async () => {
        const { cli, engine } = setup({ stacks: ["pw2"] });
        await engine.up(dockerSpec("pw2"), noop);
        const sets = configSets(cli);
        expect(sets).toHaveLength(1);
        expect(valueOf(sets[0] as RecordedCall)).toBe("fake-secret-password");
        expect(sets[0]?.argv).toContain("--secret");
        const keys = cli.calls().map((c) => c.key);
        expect(keys.indexOf("stack output")).toBeLessThan(keys.indexOf("config set"));
    });

    it("a restart of a stack made before the password moved into config sets it from the password output", async () => {
        const { cli, engine } = setup({
            stacks: ["pw3"],
            resources: [{ urn: "urn:pulumi:pw3::dbaas-db::docker:index/container:Container::pw3", type: "docker:index/container:Container", inputs: {} }],
        });
        // A work dir as an older API left it: the spec, no password key.
        const workDir = path.join(cli.settings.stateRoot, "pw3");
        fs.mkdirSync(workDir, { recursive: true });
        fs.writeFileSync(path.join(workDir, "Pulumi.pw3.yaml"), `config:\n  dbaas-db:database: '${JSON.stringify(dockerSpec("pw3"))}'\n`);
        await engine.restart("pw3", noop);
        expect(configSets(cli).map(valueOf)).toEqual(["fake-secret-password"]);
        await engine.restart("pw3", noop);
        expect(configSets(cli)).toHaveLength(1);
    });

    it("a failing config set stops the up, and neither the error nor the log carries the password", async () => {
        const { logger, lines } = capturingLogger();
        const { cli, engine } = setup({ stacks: ["pw4"], responses: { "config set": { exitCode: 255, stderr: "error: could not set config" } } }, {}, { logger });
        const err = await engine.up(dockerSpec("pw4"), noop).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ProgramError);
        expect(cli.calls().some((c) => c.key === "up")).toBe(false);
        const shown = JSON.stringify([(err as ProgramError).reason, (err as ProgramError).message, (err as Error).stack, ((err as Error).cause as Error | undefined)?.message, lines()]);
        expect(shown).toContain("could not set config");
        expect(shown).not.toContain("fake-secret-password");
    });
});

describe("the policy pack", () => {
    const argvOf = (c: FakeCli, key: string): string[][] => c.calls().filter((x) => x.key === key).map((x) => x.argv);
    const flagValues = (argv: string[], flag: string): string[] => argv.flatMap((a, i) => (a === flag ? [argv[i + 1] ?? ""] : []));

    it("every up (create and restart) runs under policies/ with the API's catalog as the pack config", async () => {
        const policyConfig = ondemandPolicyConfig(["postgres:17.6"]);
        const { cli, engine } = setup({}, { policyConfig });
        await engine.up(dockerSpec("pol1"), noop);
        cli.scenario({ resources: [{ urn: "urn:pulumi:pol1::dbaas-db::docker:index/container:Container::pol1", type: "docker:index/container:Container", inputs: {} }] });
        await engine.restart("pol1", noop);
        const ups = argvOf(cli, "up");
        expect(ups).toHaveLength(2);
        const configFile = path.join(cli.settings.stateRoot, "pol1", "policy-config.json");
        for (const argv of ups) {
            expect(flagValues(argv, "--policy-pack")).toEqual([POLICY_PACK_DIR]);
            expect(flagValues(argv, "--policy-pack-config")).toEqual([configFile]);
        }
        expect(JSON.parse(fs.readFileSync(configFile, "utf8"))).toEqual(policyConfig);
    });

    it("a create previews under the pack before its up, so a violation stops it before any resource is made", async () => {
        const { cli, engine } = setup({}, { policyConfig: ondemandPolicyConfig(["postgres:17.6"]) });
        await engine.up(dockerSpec("pol0"), noop);
        const keys = cli.calls().map((c) => c.key).filter((k) => k === "preview" || k === "up");
        expect(keys).toEqual(["preview", "up"]);
        expect(flagValues(argvOf(cli, "preview")[0] ?? [], "--policy-pack")).toEqual([POLICY_PACK_DIR]);
    });

    it("DBAAS_POLICY_PACK_DIR replaces the pack", async () => {
        const pack = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-pack-")), "policies");
        fs.mkdirSync(pack);
        fs.writeFileSync(path.join(pack, "PulumiPolicy.yaml"), "runtime: nodejs\n");
        try {
            const { policyPackDir } = engineSettingsFromEnv({ DBAAS_PULUMI_PASSPHRASE_FILE: "/run/p", DBAAS_POLICY_PACK_DIR: pack });
            const { cli, engine } = setup({}, { policyPackDir });
            await engine.up(dockerSpec("pol2"), noop);
            expect(flagValues(argvOf(cli, "up")[0] ?? [], "--policy-pack")).toEqual([pack]);
            expect(argvOf(cli, "up")[0]).not.toContain("--policy-pack-config");
        } finally {
            fs.rmSync(path.dirname(pack), { recursive: true, force: true });
        }
    });

    it("a pack directory without PulumiPolicy.yaml makes the engine not ready and runs no update without it", async () => {
        const { cli, engine } = setup({}, { policyPackDir: "/nonexistent/policies" });
        const r = await engine.readiness();
        expect(r.ok).toBe(false);
        expect(r.reasons.join("\n")).toMatch(/policy pack \/nonexistent\/policies \(DBAAS_POLICY_PACK_DIR\) has no readable PulumiPolicy.yaml/);
        await expect(engine.up(dockerSpec("pol3"), noop)).rejects.toBeInstanceOf(EngineUnavailableError);
        expect(argvOf(cli, "up")).toEqual([]);
    });

    it("a mandatory violation fails the up with a reason naming the policy and the resource, and is streamed as an error", async () => {
        const containerUrn = "urn:pulumi:pol4::dbaas-db::docker:index/container:Container::pol4";
        const { engine } = setup({
            responses: {
                up: {
                    exitCode: 255,
                    stderr: "error: update failed",
                    stdout: "Policies:\n    ❌ dbaas@v0.1.0 (local: policies)\n        - [mandatory]  memory-limits  (docker:index/container:Container: pol4)\n          Containers set a memory limit.\n          container \"pol4\" has no memory limit\n",
                    events: [
                        { preludeEvent: { config: {} } },
                        { policyEvent: { resourceUrn: containerUrn, message: "Containers set a memory limit.\ncontainer \"pol4\" has no memory limit (postgresql://app:hunter2@db/app)", color: "never", policyName: "memory-limits", policyPackName: "dbaas", policyPackVersion: "0.1.0", policyPackVersionTag: "0.1.0", enforcementLevel: "mandatory" } },
                    ],
                },
            },
        });
        const events: EngineEvent[] = [];
        const err = await engine.up(dockerSpec("pol4"), { signal: new AbortController().signal, onEvent: (e) => events.push(e) }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ProgramError);
        const reason = (err as ProgramError).reason;
        expect(reason).toMatch(/^policy memory-limits blocked the update on docker:index\/container:Container "pol4": Containers set a memory limit\. container "pol4" has no memory limit/);
        expect(reason).not.toContain("hunter2");
        expect(events).toContainEqual(expect.objectContaining({ kind: "diagnostic", severity: "error", name: "pol4", message: expect.stringMatching(/^\[mandatory\] memory-limits: /) as unknown }));
        expect(JSON.stringify(events)).not.toContain("hunter2");
    });
});
