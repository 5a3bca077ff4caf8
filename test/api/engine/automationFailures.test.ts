/**
 * The Automation API engine at the CLI boundary, against the recording fake
 * CLI (a TEST DOUBLE in test/api/engine/fake-pulumi/bin/pulumi): cancellation
 * and timeouts, CLI failures mapped to engine errors, delete, restart and
 * crash recovery. The rest is in automation.test.ts.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { clearStaleUpdate } from "../../../api/engine/recovery";
import {
    ConcurrentUpdateError,
    EngineError,
    EngineUnavailableError,
    OperationAbortedError,
    ProgramError,
    StackNotFoundError,
} from "../../../api/engine/types";
import { alive, dockerSpec, fakeEngineSetup, NOOP_RUN as noop, waitFor } from "./fakeCli";

const setup = fakeEngineSetup();

describe("cancellation and timeouts", () => {
    it("aborting the signal interrupts the CLI and rejects with OperationAbortedError", async () => {
        const { cli, engine } = setup({ stacks: ["db4"], responses: { up: { sleepMs: 30_000 } } });
        const ac = new AbortController();
        const started = Date.now();
        const running = engine.up(dockerSpec("db4"), { signal: ac.signal, onEvent: () => undefined });
        await waitFor(() => cli.calls().some((c) => c.key === "up"));
        ac.abort(new Error("cancelled by alice"));
        const err = await running.catch((e: unknown) => e);
        expect(err).toBeInstanceOf(OperationAbortedError);
        expect((err as Error).message).toMatch(/cancelled by alice/);
        expect(Date.now() - started).toBeLessThan(10_000);
        const up = cli.calls().find((c) => c.key === "up");
        expect(cli.calls().some((c) => c.signal === "SIGINT")).toBe(true);
        await waitFor(() => up !== undefined && !alive(up.pid), 5000);
    });

    it("an operation longer than the caller's deadline is interrupted and reported as timed out", async () => {
        const { cli, engine } = setup({ stacks: ["db5"], responses: { up: { sleepMs: 30_000 } } });
        const started = Date.now();
        // 8 s: an existing stack's up first tries `stack init` ("already exists"), then selects it.
        const err = await engine.up(dockerSpec("db5"), { signal: AbortSignal.timeout(8000), onEvent: () => undefined }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(OperationAbortedError);
        expect((err as Error).message).toMatch(/timed out/);
        expect(Date.now() - started).toBeGreaterThanOrEqual(8000);
        expect(Date.now() - started).toBeLessThan(18_000);
        expect(cli.calls().some((c) => c.signal === "SIGINT")).toBe(true);
    });

    it("an already aborted signal runs nothing", async () => {
        const { cli, engine } = setup();
        const ac = new AbortController();
        ac.abort();
        await expect(engine.up(dockerSpec("db6"), { signal: ac.signal, onEvent: () => undefined })).rejects.toBeInstanceOf(OperationAbortedError);
        expect(cli.calls().filter((c) => c.argv[0] !== "version")).toEqual([]);
    });
});

describe("CLI failures map to engine errors", () => {
    const programDiagnostic = {
        diagnosticEvent: {
            urn: "urn:pulumi:db7::dbaas-db::pulumi:pulumi:Stack::dbaas-db-db7",
            message: "Error: invalid database spec (stack config dbaas-db:database):\n  - name: expected a DNS-1035 label\n",
            color: "never",
            severity: "error",
        },
    };
    it.each([
        ["a 409 from the service", { exitCode: 255, stderr: "error: [409] Conflict: Another update is currently in progress.\nTo learn more..." }, ConcurrentUpdateError, /being updated/],
        ["a DIY backend lock", { exitCode: 255, stderr: "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`." }, ConcurrentUpdateError, /being updated/],
        ["an unreadable checkpoint", { exitCode: 255, stderr: "error: failed to load checkpoint: blob (key \".pulumi/stacks/dbaas-db/db7.json\") (code=Unknown): RequestError: send request failed" }, EngineUnavailableError, /failed to load checkpoint/],
        ["a refused connection", { exitCode: 255, stderr: "error: could not get stack: Get \"https://api.pulumi.com/api/stacks\": dial tcp 127.0.0.1:443: connect: connection refused" }, EngineUnavailableError, /connection refused/],
        ["a Docker engine that is down", { exitCode: 255, stderr: "error: 1 error occurred:\n\t* Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" }, EngineUnavailableError, /Docker daemon/],
        ["a program error", { exitCode: 255, events: [programDiagnostic], stderr: "error: update failed", stdout: "Diagnostics:\n  pulumi:pulumi:Stack (dbaas-db-db7):\n    error: Running program failed\n" }, ProgramError, /^invalid database spec \(stack config dbaas-db:database\):$/],
        ["a resource error carrying a connection URI", { exitCode: 255, stderr: "error: update failed", stdout: "    error: restore failed: could not connect to postgresql://app:hunter2@10.0.0.5:5432/app\n" }, ProgramError, /^restore failed: could not connect to postgresql:\/\/\*\*\*@10\.0\.0\.5:5432\/app$/],
    ])("%s", async (_label, response, errorClass, reason) => {
        const { engine } = setup({ stacks: ["db7"], responses: { up: response } });
        const err = await engine.up(dockerSpec("db7"), noop).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(errorClass);
        const text = err instanceof ProgramError ? err.reason : (err as Error).message;
        expect(text).toMatch(reason);
        expect(text).not.toContain("hunter2");
    });

    it("outputs of a database without a stack reject with StackNotFoundError", async () => {
        const { engine } = setup();
        await expect(engine.outputs("nodb")).rejects.toBeInstanceOf(StackNotFoundError);
    });
});

describe("delete (destroy)", () => {
    it("destroys, removes the stack, then its work dir", async () => {
        const { cli, engine } = setup();
        await engine.up(dockerSpec("db8"), noop);
        const workDir = path.join(cli.settings.stateRoot, "db8");
        expect(fs.existsSync(workDir)).toBe(true);
        await engine.destroy("db8", noop);
        const keys = cli.calls().map((c) => c.key).filter((k) => k !== undefined);
        expect(keys.slice(keys.lastIndexOf("destroy"))).toEqual(["destroy", "stack history", "stack rm"]);
        expect(fs.existsSync(workDir)).toBe(false);
    });

    it("a database whose stack is already gone is deleted cleanly, leftover work dir included", async () => {
        const { cli, engine } = setup();
        const workDir = path.join(cli.settings.stateRoot, "gone");
        fs.mkdirSync(workDir, { recursive: true });
        await expect(engine.destroy("gone", noop)).resolves.toBeUndefined();
        expect(fs.existsSync(workDir)).toBe(false);
        expect(cli.calls().some((c) => c.key === "destroy")).toBe(false);
    });
});

describe("restart", () => {
    it("replaces only the database container (named after the database), keeping the rest of the stack", async () => {
        const urn = (t: string, n: string) => `urn:pulumi:db9::dbaas-db::${t}::${n}`;
        const { cli, engine } = setup({
            resources: [
                { urn: urn("pulumi:pulumi:Stack", "dbaas-db-db9"), type: "pulumi:pulumi:Stack" },
                { urn: urn("docker:index/volume:Volume", "db9"), type: "docker:index/volume:Volume", inputs: {} },
                { urn: urn("docker:index/container:Container", "db9-fetch"), type: "docker:index/container:Container", inputs: { image: "sha256:curl" } },
                // The on-demand program runs the image by id (RemoteImage.imageId), not by its reference.
                { urn: urn("docker:index/container:Container", "db9"), type: "docker:index/container:Container", inputs: { image: "sha256:postgres" } },
            ],
        });
        await engine.up(dockerSpec("db9"), noop);
        await engine.restart("db9", noop);
        const ups = cli.calls().filter((c) => c.key === "up");
        const argv = ups[ups.length - 1]?.argv ?? [];
        const container = urn("docker:index/container:Container", "db9");
        expect(argv).toEqual(expect.arrayContaining(["--replace", container, "--target", container, "--target-dependents"]));
        expect(argv.join(" ")).not.toContain("db9-fetch");
    });
});

describe("crash recovery (clearStaleUpdate, then the operation runs again)", () => {
    it("cancels (ignoring 'nothing to cancel'), refreshes with --clear-pending-creates, then resumes the create", async () => {
        const { cli, engine } = setup({
            stacks: ["db10"],
            responses: { cancel: { exitCode: 255, stderr: "error: [409] Conflict: The Update has already completed" } },
        });
        await clearStaleUpdate(engine, "db10", noop);
        const outputs = await engine.up(dockerSpec("db10"), noop);
        expect(outputs).toMatchObject({ database: "app" });
        const keys = cli.calls().map((c) => c.key).filter((k) => k !== undefined);
        const i = { cancel: keys.indexOf("cancel"), refresh: keys.indexOf("refresh"), up: keys.indexOf("up") };
        expect(i.cancel).toBeGreaterThanOrEqual(0);
        expect(i.refresh).toBeGreaterThan(i.cancel);
        expect(i.up).toBeGreaterThan(i.refresh);
        expect(cli.calls().find((c) => c.key === "refresh")?.argv).toContain("--clear-pending-creates");
    });

    it("a create that died before its stack existed resumes without a refresh", async () => {
        const { cli, engine } = setup();
        await clearStaleUpdate(engine, "db11", noop);
        await expect(engine.up(dockerSpec("db11"), noop)).resolves.toMatchObject({ database: "app" });
        const keys = cli.calls().map((c) => c.key);
        expect(keys).not.toContain("refresh");
        expect(keys).toContain("stack init");
    });

    it("a cancelled operation (no refresh options) only has its lock cleared", async () => {
        const { cli, engine } = setup({ stacks: ["db13"] });
        await clearStaleUpdate(engine, "db13");
        const keys = cli.calls().map((c) => c.key);
        expect(keys).toContain("cancel");
        expect(keys).not.toContain("refresh");
    });

    it("reports a failure to clear the stale update with the short reason and whether a retry may help", async () => {
        const { engine } = setup({ stacks: ["db12"], responses: { refresh: { exitCode: 255, stderr: "error: failed to load checkpoint: connection refused" } } });
        const err = await clearStaleUpdate(engine, "db12", noop).then(() => undefined, (e: unknown) => e);
        expect(err).toBeInstanceOf(EngineError);
        expect(err).toMatchObject({ transient: true });
        expect((err as Error).message).toMatch(/failed to load checkpoint/);
    });
});
