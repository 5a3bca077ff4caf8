/**
 * The real thing: create, read outputs and destroy a docker-target database
 * with the real Pulumi CLI and a real Docker engine. Runs whenever both are
 * present; otherwise it is skipped with the reason printed. Neither exists on
 * the development machines nor in CI (the CLI is not in npm or Debian), so
 * this suite deliberately does not use requireBinaries' CI-fail behaviour.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { AutomationEngine } from "../../../api/engine/automation";
import { ONDEMAND_PROGRAM_DIR, ondemandPolicyConfig, POLICY_PACK_DIR } from "../../../api/engine/workspace";
import { parseDatabaseSpec } from "../../../contracts/database";
import { findBinary } from "../../support/requirements";

function skipReason(): string | undefined {
    const reasons: string[] = [];
    try {
        execFileSync("docker", ["info"], { stdio: "ignore", timeout: 10_000 });
    } catch {
        reasons.push("no usable Docker engine (`docker info` failed)");
    }
    if (findBinary("pulumi") === undefined) {
        reasons.push("no pulumi CLI on PATH");
    } else if (reasons.length === 0) {
        // PATH may hold a wrapper (the npm package `pulumi`) that cannot fetch the real CLI offline.
        try {
            execFileSync("pulumi", ["version"], { stdio: "ignore", timeout: 30_000, env: { ...process.env, PULUMI_SKIP_UPDATE_CHECK: "true" } });
        } catch {
            reasons.push("the pulumi on PATH does not run (`pulumi version` failed)");
        }
    }
    return reasons.length === 0 ? undefined : reasons.join("; ");
}

const reason = skipReason();
if (reason !== undefined) console.warn(`SKIPPED: real Automation API integration test (create, outputs, destroy of a docker database): ${reason}`);

describe("AutomationEngine with the real pulumi CLI and Docker", () => {
    it.skipIf(reason !== undefined)("creates a docker database, reads its outputs, and destroys it", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-engine-it-"));
        fs.writeFileSync(path.join(dir, "passphrase"), "integration-test-passphrase", { mode: 0o600 });
        const stateRoot = path.join(dir, "stacks");
        const engine = new AutomationEngine({
            settings: {
                stateRoot,
                backendUrl: `file://${path.join(stateRoot, ".state")}`,
                passphraseFile: path.join(dir, "passphrase"),
                programDir: ONDEMAND_PROGRAM_DIR,
                outputsTimeoutMs: 600_000,
                tsconfigPath: path.resolve(__dirname, "..", "..", "..", "tsconfig.json"),
                policyPackDir: POLICY_PACK_DIR,
                // The image below is the test's own catalog (the pack refuses images outside the catalog).
                policyConfig: ondemandPolicyConfig(["postgres:17"]),
            },
        });
        expect(await engine.readiness()).toEqual({ ok: true, reasons: [] });
        const name = `it${Date.now().toString(36)}`;
        const spec = parseDatabaseSpec({
            name, owner: "it", project_id: "it", db_type: "postgres", version: "PostgreSQL 17", image: "postgres:17",
            expires_at: new Date(Date.now() + 3600_000).toISOString(), source_ranges: [],
            target: { kind: "docker", docker_host: process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock", memory_mb: 512 },
        });
        const options = { signal: new AbortController().signal, onEvent: () => undefined };
        try {
            const out = await engine.up(spec, options);
            expect(out.port).toBeGreaterThan(0);
            expect(out.uri).toMatch(/^postgresql:\/\//);
            expect(await engine.outputs(name)).toEqual(out);
        } finally {
            await engine.destroy(name, options);
            fs.rmSync(dir, { recursive: true, force: true });
        }
        expect(fs.existsSync(path.join(stateRoot, name))).toBe(false);
    }, 900_000);
});
