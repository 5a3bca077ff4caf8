/**
 * Tests that need a binary (nginx, psql, chromium, shellcheck, pulumi, ...)
 * ask here. Outside CI a missing binary skips the test with a printed reason;
 * in CI (`CI=true`, where .ci/run installs everything) it fails instead.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";

export const IN_CI = process.env.CI === "true";

/** Absolute path of an executable on PATH (or the given absolute path), or undefined. */
export function findBinary(name: string): string | undefined {
    if (name.startsWith("/")) return fs.existsSync(name) ? name : undefined;
    try {
        return execFileSync("sh", ["-c", `command -v ${JSON.stringify(name)}`], { encoding: "utf8" }).trim() || undefined;
    } catch {
        return undefined;
    }
}

/**
 * Returns the missing binaries' reason, or undefined when all are present.
 * In CI a missing binary throws, so the suite fails loudly instead of skipping.
 * Use as: `const missing = requireBinaries(["nginx"]); describe.skipIf(missing)(...)`.
 */
export function requireBinaries(names: readonly string[], installHint = "see .ci/run"): string | undefined {
    const missing = names.filter((n) => findBinary(n) === undefined);
    if (missing.length === 0) return undefined;
    const reason = `missing ${missing.join(", ")} (install: ${installHint})`;
    if (IN_CI) throw new Error(`CI=true but ${reason}`);
    console.warn(`SKIPPED: ${reason}`);
    return reason;
}
