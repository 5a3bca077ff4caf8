/**
 * What the e2e tests need of the real engines, and the one place that decides
 * to skip: outside CI a missing engine skips the file with a printed reason
 * (run `npm run e2e:up`, then `npm run test:e2e`); with CI=true it fails.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { IN_CI } from "../support/requirements";

/**
 * PATH without the node_modules/.bin folders npm and npx put first: the npm
 * `pulumi` package there is a downloader, not the CLI, and cannot work here.
 */
export function enginePath(): string {
    return (process.env.PATH ?? "").split(path.delimiter).filter((d) => !d.split(path.sep).includes("node_modules")).join(path.delimiter);
}

/**
 * The environment of a `pulumi` run in the e2e tests: the engines' PATH, a
 * file backend in `backendDir`, a fixed passphrase (test stacks only), no
 * update check and no plugin download.
 */
export function pulumiEnv(backendDir: string): NodeJS.ProcessEnv {
    return {
        ...process.env,
        PATH: enginePath(),
        PULUMI_BACKEND_URL: `file://${backendDir}`,
        PULUMI_CONFIG_PASSPHRASE: "e2e-passphrase",
        PULUMI_CONFIG_PASSPHRASE_FILE: "",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    };
}

/** The `pulumi` the e2e environment put first on PATH (see enginePath), and its version. */
export function pulumiCli(): { path: string; version: string } | undefined {
    const dir = enginePath().split(path.delimiter).find((d) => d !== "" && fs.existsSync(path.join(d, "pulumi")));
    if (dir === undefined) return undefined;
    const cli = path.join(dir, "pulumi");
    try {
        const version = execFileSync(cli, ["version"], { encoding: "utf8", env: { ...process.env, PULUMI_SKIP_UPDATE_CHECK: "true" }, timeout: 30_000 }).trim();
        return { path: cli, version };
    } catch {
        return undefined;
    }
}

/** The reason to skip (printed), or undefined; throws in CI. */
export function engineMissing(what: string, problem: string | undefined): string | undefined {
    if (problem === undefined) return undefined;
    const reason = `${what}: ${problem} (npm run e2e:up, then npm run test:e2e)`;
    if (IN_CI) throw new Error(`CI=true but ${reason}`);
    console.warn(`SKIPPED: ${reason}`);
    return reason;
}

export function requirePulumi(): string | undefined {
    return engineMissing("the Pulumi CLI", pulumiCli() === undefined ? "no pulumi built by scripts/e2e/tools.sh (or installed) on PATH" : undefined);
}

export function requireKubernetes(): string | undefined {
    const file = process.env.KUBECONFIG;
    return engineMissing("the Kubernetes control plane", file === undefined || !fs.existsSync(file) ? "KUBECONFIG is unset or missing" : undefined);
}
