/** The engine's pure decisions: event mapping, error classification, redaction, settings, restart targets, the password plan. */
import type { EngineEvent as PulumiEngineEvent } from "@pulumi/pulumi/automation";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { classifyCliFailure, policyViolationsInOutput, programFailureReason, redact, REASON_MAX } from "../../../api/engine/errors";
import { summaryMessage, toProgressEvent, urnName } from "../../../api/engine/events";
import { generatePassword, planPassword, withoutSecret } from "../../../api/engine/password";
import { PhaseClock } from "../../../api/engine/automation";
import { restartTargets } from "../../../api/engine/restart";
import {
    ConcurrentUpdateError,
    EngineUnavailableError,
    OperationAbortedError,
    ProgramError,
    StackNotFoundError,
} from "../../../api/engine/types";
import {
    fileBackendDir,
    CATALOG_POLICIES,
    cliEnvironment,
    engineSettingsFromEnv,
    EngineSettingsError,
    NAMESPACE_LABELS_POLICY,
    ondemandPolicyConfig,
    POLICY_PACK_DIR,
    projectSettingsFor,
    workDirFor,
} from "../../../api/engine/workspace";
import { policies } from "../../../policies/rules";

const urn = "urn:pulumi:db1::dbaas-db::docker:index/container:Container::db1";
const meta = (op: string, type = "docker:index/container:Container", u = urn) => ({ op, urn: u, type, provider: "" });
const ev = (e: object): PulumiEngineEvent => ({ sequence: 1, timestamp: 1_800_000_000, ...e });

describe("toProgressEvent", () => {
    it.each([
        ["resource pre → start", { resourcePreEvent: { metadata: meta("create") } }, { kind: "resource-start", name: "db1", op: "create", urn }],
        ["outputs → done", { resOutputsEvent: { metadata: meta("update") } }, { kind: "resource-done", name: "db1", op: "update" }],
        ["failure → failed, error", { resOpFailedEvent: { metadata: meta("create"), status: 1, steps: 1 } }, { kind: "resource-failed", severity: "error" }],
        ["warning diagnostic", { diagnosticEvent: { message: "warning: slow\n", color: "never", severity: "warning" } }, { kind: "diagnostic", severity: "warning", message: "warning: slow" }],
        ["mandatory policy violation → error diagnostic naming the policy", { policyEvent: { resourceUrn: urn, message: "Containers set a memory limit.\ncontainer \"db1\" has no memory limit", color: "never", policyName: "memory-limits", policyPackName: "dbaas", policyPackVersion: "0.1.0", policyPackVersionTag: "0.1.0", enforcementLevel: "mandatory" } }, { kind: "diagnostic", severity: "error", name: "db1", message: "[mandatory] memory-limits: Containers set a memory limit. container \"db1\" has no memory limit" }],
        ["advisory policy violation → warning", { policyEvent: { message: "prefer a digest", color: "never", policyName: "images-pinned-by-digest", policyPackName: "dbaas", policyPackVersion: "0.1.0", policyPackVersionTag: "0.1.0", enforcementLevel: "warning" } }, { kind: "diagnostic", severity: "warning", message: "[advisory] images-pinned-by-digest: prefer a digest" }],
        ["summary", { summaryEvent: { maybeCorrupt: false, durationSeconds: 12.4, resourceChanges: { create: 3, same: 1 }, policyPacks: {} } }, { kind: "summary", severity: "info", message: "create 3, 1 unchanged (12s)" }],
        ["corrupt summary warns", { summaryEvent: { maybeCorrupt: true, durationSeconds: 1, resourceChanges: {}, policyPacks: {} } }, { kind: "summary", severity: "warning", message: "no changes (1s)" }],
    ])("%s", (_label, input, expected) => {
        const out = toProgressEvent(ev(input));
        expect(out).toMatchObject(expected);
        expect(out?.at).toBe(new Date(1_800_000_000_000).toISOString());
    });

    it.each([
        ["same steps", { resourcePreEvent: { metadata: meta("same") } }],
        ["planning steps", { resourcePreEvent: { metadata: meta("create"), planning: true } }],
        ["the stack resource", { resOutputsEvent: { metadata: meta("create", "pulumi:pulumi:Stack", "urn:pulumi:db1::dbaas-db::pulumi:pulumi:Stack::dbaas-db-db1") } }],
        ["the prelude (echoes config)", { preludeEvent: { config: { "dbaas-db:database": "{...}" } } }],
        ["program stdout", { stdoutEvent: { message: "password is hunter2", color: "never" } }],
        ["ephemeral diagnostics", { diagnosticEvent: { message: "x", color: "never", severity: "info", ephemeral: true } }],
        ["debug diagnostics", { diagnosticEvent: { message: "x", color: "never", severity: "debug" } }],
        ["cancel events", { cancelEvent: {} }],
    ])("drops %s", (_label, input) => {
        expect(toProgressEvent(ev(input))).toBeUndefined();
    });

    it("redacts, strips colour and truncates diagnostic messages", () => {
        const long = `\u001b[31mcould not reach postgresql://app:hunter2@db:5432/app <{%reset%}>${"x".repeat(2000)}`;
        const out = toProgressEvent(ev({ diagnosticEvent: { message: long, color: "always", severity: "error" } }));
        expect(out?.message).not.toContain("hunter2");
        expect(out?.message).not.toContain("\u001b");
        expect(out?.message).not.toContain("<{%");
        expect(out?.message?.length).toBeLessThanOrEqual(500);
    });

    it("urnName and summaryMessage", () => {
        expect(urnName(urn)).toBe("db1");
        expect(summaryMessage({ delete: 2, create: 1 }, 3)).toBe("create 1, delete 2 (3s)");
    });
});

describe("redact", () => {
    it.each([
        ["postgresql://app:s3cr3t@h:5432/db", "s3cr3t"],
        ["https://user:tok123@github.com/x", "tok123"],
        ["PGPASSWORD=s3cr3t psql", "s3cr3t"],
        ["password: s3cr3t", "s3cr3t"],
        ["https://b.example.com/x.dump?X-Amz-Signature=abcdef0123&X-Amz-Credential=AKIAABCDEFGHIJKLMNOP", "abcdef0123"],
        ["Authorization: Bearer abcdefghijklmnop", "abcdefghijklmnop"],
        ["key AKIAABCDEFGHIJKLMNOP", "AKIAABCDEFGHIJKLMNOP"],
    ])("masks the secret in %s", (input, secret) => {
        expect(redact(input)).not.toContain(secret);
    });

    it("leaves ordinary text alone", () => {
        expect(redact("container db1 failed to start: exit code 1")).toBe("container db1 failed to start: exit code 1");
    });
});

describe("classifyCliFailure", () => {
    const cmdErr = (stderr: string): Error => Object.assign(new Error(`code: 255\n stdout: \n stderr: ${stderr}\n err?: `), { name: "CommandError" });
    it.each([
        ["error: [409] Conflict: Another update is currently in progress.", ConcurrentUpdateError],
        ["error: the stack is currently locked by 1 lock(s).", ConcurrentUpdateError],
        ["error: no stack named 'db1' found", StackNotFoundError],
        ["error: failed to load checkpoint: open x: permission denied", EngineUnavailableError],
        ["error: dial tcp 10.0.0.1:443: connect: connection refused", EngineUnavailableError],
        ["error: getting user info: [401] Unauthorized", EngineUnavailableError],
        ["error: incorrect passphrase", EngineUnavailableError],
        ["Command failed with ENOENT: pulumi version\nspawn pulumi ENOENT", EngineUnavailableError],
        ["error: Running program '/x' failed with an unhandled exception:\nError: boom", ProgramError],
    ])("%s", (stderr, cls) => {
        expect(classifyCliFailure({ stackName: "db1", error: cmdErr(stderr) })).toBeInstanceOf(cls);
    });

    it("an aborted run is aborted whatever the CLI printed", () => {
        const err = classifyCliFailure({ stackName: "db1", error: cmdErr("error: [409] Conflict: Another update is currently in progress."), abortReason: new DOMException("t", "TimeoutError") });
        expect(err).toBeInstanceOf(OperationAbortedError);
        expect(err.message).toMatch(/timed out/);
    });

    it("program errors keep the full output server-side and a short reason for users", () => {
        const output = `stdout: Diagnostics:\n    error: restore failed: archive is not a pg_dump file\n${"noise\n".repeat(5000)}error: update failed`;
        const err = classifyCliFailure({ stackName: "db1", error: cmdErr(output) });
        expect(err).toBeInstanceOf(ProgramError);
        expect((err as ProgramError).reason).toBe("restore failed: archive is not a pg_dump file");
        expect(err.message.length).toBeLessThanOrEqual(8000);
    });

    it("a mandatory policy violation in the CLI's Policies block is a program error naming the policy and the resource", () => {
        const stdout = [
            "Policies:",
            "    ❌ dbaas@v0.1.0 (local: /app/policies)",
            "        - [mandatory]  no-plaintext-secrets  (docker:index/container:Container: db1)",
            "          Secrets are not in plain container env or ConfigMaps.",
            "          env POSTGRES_PASSWORD=hunter2 is plain text; use POSTGRES_PASSWORD_FILE",
            "        - [advisory]  restart-policy-set  (docker:index/container:Container: db1)",
            "          Docker containers restart.",
            "",
        ].join("\n");
        expect(policyViolationsInOutput(stdout)).toEqual([{
            policy: "no-plaintext-secrets",
            resource: "docker:index/container:Container: db1",
            message: "Secrets are not in plain container env or ConfigMaps.\nenv POSTGRES_PASSWORD=hunter2 is plain text; use POSTGRES_PASSWORD_FILE",
        }]);
        const err = classifyCliFailure({ stackName: "db1", error: cmdErr(`error: update failed\n stdout: ${stdout}`) });
        expect(err).toBeInstanceOf(ProgramError);
        const reason = (err as ProgramError).reason;
        expect(reason).toMatch(/^policy no-plaintext-secrets blocked the update on docker:index\/container:Container: db1: Secrets are not/);
        expect(reason).not.toContain("hunter2");
    });

    it("policy events win over other output and count the further violations", () => {
        const err = classifyCliFailure({
            stackName: "db1",
            error: cmdErr("error: update failed"),
            policyViolations: [
                { policy: "memory-limits", urn, message: "Containers set a memory limit.\ncontainer \"db1\" has no memory limit" },
                { policy: "images-pinned", urn, message: "x" },
            ],
        });
        expect((err as ProgramError).reason).toBe('policy memory-limits blocked the update on docker:index/container:Container "db1": Containers set a memory limit. container "db1" has no memory limit (and 1 more violation)');
    });

    it("prefers engine diagnostics and caps the reason length", () => {
        expect(programFailureReason(["x".repeat(1000)], "error: other")).toHaveLength(REASON_MAX);
        expect(programFailureReason([], "error: update failed")).toMatch(/details in the server log/);
    });

    it("gives a program's own failure without the SDK's serialization preface", () => {
        const failure = "fetching backup_location failed (exit 1): restore: format not recognised: an HTML or XML page";
        expect(programFailureReason([`error serializing property "envs": ${failure}`], "")).toBe(failure);
        // As an Error (not a RunError) it came inspected, with a back reference first.
        expect(programFailureReason([`<ref *1> Error: error serializing property "envs": ${failure}`], "")).toBe(failure);
        expect(programFailureReason([`the "envs" property is wrong: ${failure}`], "")).toBe(`the "envs" property is wrong: ${failure}`);
    });

    it("keeps an admission policy's own message in the reason: the URN shortened to type and name, the binding's name dropped", () => {
        const refusal = "no load balancer is available: the load-balancer quota is used up";
        const urn = "urn:pulumi:db1::dbaas-db::dbaas:ondemand:DatabaseService$kubernetes:core/v1:Service::db1-service";
        const line = `resource "${urn}" was not successfully created by the Kubernetes API server: services "postgres" is forbidden: ValidatingAdmissionPolicy 'no-lb' with binding 'no-lb-in-${"x".repeat(200)}' denied request: ${refusal}`;
        expect(programFailureReason([line], "")).toBe(`kubernetes:core/v1:Service "db1-service" was not created: services "postgres" is forbidden: ValidatingAdmissionPolicy 'no-lb' denied the request: ${refusal}`);
    });
});

describe("workspace settings", () => {
    it("defaults: state under the data dir, file backend under the state root", () => {
        const s = engineSettingsFromEnv({ DBAAS_DATA_DIR: "/data", DBAAS_PULUMI_PASSPHRASE_FILE: "/run/p" });
        expect(s.stateRoot).toBe("/data/stacks");
        expect(s.backendUrl).toBe("file:///data/stacks/.state");
        expect(s.passphraseFile).toBe("/run/p");
        expect(s.pulumiRoot).toBeUndefined();
        // The operation timeout is the API's setting (config.test.ts: default 1_800_000 ms), not the engine's.
        expect(s).not.toHaveProperty("outputsTimeoutMs");
        expect(s.policyPackDir).toBe(POLICY_PACK_DIR);
        expect(path.relative(path.resolve(__dirname, "..", "..", ".."), s.policyPackDir)).toBe("policies");
    });

    it("DBAAS_POLICY_PACK_DIR points the engine at another pack", () => {
        const s = engineSettingsFromEnv({ DBAAS_PULUMI_PASSPHRASE_FILE: "/run/p", DBAAS_POLICY_PACK_DIR: "/opt/dbaas/policies" });
        expect(s.policyPackDir).toBe("/opt/dbaas/policies");
    });

    it("the pack config names policies the pack has, with the API's catalog and namespace prefix", () => {
        const names = new Set(policies.map((p) => p.name));
        const config = ondemandPolicyConfig(["postgres:17.2"], "team-");
        expect(Object.keys(config).every((n) => names.has(n))).toBe(true);
        expect(config).toEqual({
            ...Object.fromEntries(CATALOG_POLICIES.map((n) => [n, { allowedImages: ["postgres:17.2"] }])),
            [NAMESPACE_LABELS_POLICY]: { namespacePrefix: "team-" },
        });
        expect(Object.keys(ondemandPolicyConfig(["postgres:17.2"]))).not.toContain(NAMESPACE_LABELS_POLICY);
    });

    it("takes S3/Cloud backends and a KMS provider as given", () => {
        const s = engineSettingsFromEnv({ PULUMI_BACKEND_URL: "s3://bucket/dbaas", DBAAS_SECRETS_PROVIDER: "awskms://alias/dbaas", DBAAS_PULUMI_ROOT: "/opt/pulumi" });
        expect(s).toMatchObject({ backendUrl: "s3://bucket/dbaas", secretsProvider: "awskms://alias/dbaas", pulumiRoot: "/opt/pulumi" });
    });

    it.each([
        [{}, /DBAAS_PULUMI_PASSPHRASE_FILE and DBAAS_SECRETS_PROVIDER are both unset/],
        [{ DBAAS_SECRETS_PROVIDER: "passphrase" }, /DBAAS_SECRETS_PROVIDER = "passphrase": expected a KMS URL/],
    ])("refuses %j", (env, message) => {
        expect(() => engineSettingsFromEnv(env)).toThrow(EngineSettingsError);
        expect(() => engineSettingsFromEnv(env)).toThrow(message);
    });

    it("passes the passphrase as a file path, never as a value", () => {
        const env = cliEnvironment(engineSettingsFromEnv({ DBAAS_PULUMI_PASSPHRASE_FILE: "/run/p" }));
        expect(env.PULUMI_CONFIG_PASSPHRASE_FILE).toBe("/run/p");
        expect(env).not.toHaveProperty("PULUMI_CONFIG_PASSPHRASE");
        expect(env.PULUMI_SKIP_UPDATE_CHECK).toBe("true");
    });

    it("work dirs are per database and names cannot escape the root", () => {
        expect(workDirFor("/s", "db1")).toBe("/s/db1");
        expect(() => workDirFor("/s", "../etc")).toThrow(/not a database name/);
        const p = projectSettingsFor("/s/db1", "/repo/ondemand");
        expect(p.name).toBe("dbaas-db");
        expect(path.resolve("/s/db1", p.main)).toBe("/repo/ondemand");
    });
});

describe("restartTargets", () => {
    it.each([
        ["docker: the database container only, not its fetch container", [
            { urn: "urn:pulumi:orders::dbaas-db::docker:index/container:Container::orders", type: "docker:index/container:Container", inputs: { image: "sha256:abc" } },
            { urn: "urn:pulumi:orders::dbaas-db::docker:index/container:Container::orders-fetch", type: "docker:index/container:Container", inputs: { image: "sha256:def" } },
            { urn: "urn:pulumi:orders::dbaas-db::docker:index/volume:Volume::orders", type: "docker:index/volume:Volume" },
        ], ["urn:pulumi:orders::dbaas-db::docker:index/container:Container::orders"]],
        ["kubernetes: the workload", [
            { urn: "ss", type: "kubernetes:apps/v1:StatefulSet" },
            { urn: "svc", type: "kubernetes:core/v1:Service" },
        ], ["ss"]],
        ["nothing to restart", [{ urn: "v", type: "docker:index/volume:Volume" }], []],
    ])("%s", (_label, resources, expected) => {
        expect(restartTargets(resources, "orders")).toEqual(expected);
    });
});

describe("the password plan (planPassword)", () => {
    const never = (): string => {
        throw new Error("generated a password that was not needed");
    };
    it.each([
        ["config already set: keep it, whatever the outputs say", true, "old-output-password", { action: "keep" }],
        ["config set, no outputs: keep it", true, undefined, { action: "keep" }],
        ["no config, the stack has a password output: reuse it", false, "old-output-password", { action: "reuse", password: "old-output-password" }],
    ] as const)("%s", (_label, configured, previous, expected) => {
        expect(planPassword(configured, previous, never)).toEqual(expected);
    });

    it.each([
        ["no output at all", undefined],
        ["an empty output", ""],
        ["an output that is not a string", 42],
    ])("no config and %s: generate one", (_label, previous) => {
        expect(planPassword(false, previous, () => "new-password")).toEqual({ action: "generate", password: "new-password" });
    });

    it("generates 32 url-safe characters from node:crypto, a different one each time", () => {
        const a = generatePassword();
        expect(a).toMatch(/^[A-Za-z0-9_-]{32}$/);
        expect(generatePassword()).not.toBe(a);
        expect(generatePassword((n) => Buffer.alloc(n, 0xff))).toBe("_".repeat(32));
        expect(planPassword(false, undefined).action).toBe("generate");
        expect((planPassword(false, undefined) as { password: string }).password).toMatch(/^[A-Za-z0-9_-]{32}$/);
    });

    it("cuts the password out of a failed config set's text and keeps no reference to the original", () => {
        const original = Object.assign(new Error("code: 255\n err?: Command failed: pulumi config set dbaas-db:password --secret -- s3cr3t-Value_x (s3cr3t-Value_x)"), { name: "CommandError" });
        const scrubbed = withoutSecret(original, "s3cr3t-Value_x");
        expect(scrubbed.message).toBe("code: 255\n err?: Command failed: pulumi config set dbaas-db:password --secret -- *** (***)");
        expect(scrubbed.name).toBe("CommandError");
        expect(scrubbed.cause).toBeUndefined();
        expect(JSON.stringify([scrubbed.message, scrubbed.stack])).not.toContain("s3cr3t-Value_x");
    });
});

describe("fileBackendDir", () => {
    it.each([
        ["file:///srv/dbaas/.state", "/srv/dbaas/.state"],
        ["file:///srv/state?no_tmp_dir=true", "/srv/state"],
        ["s3://bucket/prefix", undefined],
        ["https://api.pulumi.com", undefined],
        ["file://", undefined],
    ])("%s → %s", (url, dir) => expect(fileBackendDir(url)).toBe(dir));
});

describe("PhaseClock (the log line of where an up's time went)", () => {
    it("times phases between laps and each resource from its pre-event to its outputs", () => {
        let t = 1000;
        const clock = new PhaseClock(() => t);
        t = 1250;
        clock.lap("open");
        const seen: PulumiEngineEvent[] = [];
        const on = clock.steps((e) => seen.push(e));
        const urn = "urn:pulumi:orders::dbaas-db::docker:index/container:Container::orders-fetch";
        const meta = { urn, type: "docker:index/container:Container", op: "create" } as unknown as NonNullable<PulumiEngineEvent["resourcePreEvent"]>["metadata"];
        on({ sequence: 1, timestamp: 0, resourcePreEvent: { metadata: meta } });
        t = 1700;
        on({ sequence: 2, timestamp: 0, resOutputsEvent: { metadata: meta } });
        t = 2000;
        clock.lap("up");
        expect(clock.phases).toEqual({ open: 250, up: 750 });
        expect(clock.stepTimes).toEqual({ "orders-fetch": 450 });
        expect(seen).toHaveLength(2);
    });
});
