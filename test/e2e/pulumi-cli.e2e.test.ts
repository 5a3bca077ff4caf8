/**
 * The REAL Pulumi CLI (built from Go modules by scripts/e2e/tools.sh, at the
 * version of @pulumi/pulumi in the lock) reads the platform project as users
 * run it: Pulumi.dev.yaml and Pulumi.prod.yaml against Pulumi.yaml's declared
 * config, and every `pulumi config set --secret` / `--path` command the docs
 * show works as written and leaves a config the program accepts.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parsePlatformConfig } from "../../contracts/stackConfig";
import { selfSignedCertificate } from "../support/tls";
import { pulumiCli, pulumiEnv, requirePulumi } from "./engine";

const ROOT = path.resolve(__dirname, "..", "..");
const missing = requirePulumi();
let dir: string;

function cliEnv(): NodeJS.ProcessEnv {
    return pulumiEnv(path.join(dir, "state"));
}

function pulumi(args: string[], input?: string): string {
    const r = spawnSync("pulumi", args, { cwd: dir, env: cliEnv(), encoding: "utf8", input, timeout: 60_000 });
    if (r.status !== 0) throw new Error(`pulumi ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
    return r.stdout;
}

/** `pulumi config --json` as key → value (secrets shown). */
function configOf(stack: string): Record<string, { value?: string; objectValue?: unknown; secret: boolean }> {
    return JSON.parse(pulumi(["config", "--stack", stack, "--json", "--show-secrets"])) as Record<string, { value?: string; objectValue?: unknown; secret: boolean }>;
}

/** The program's view of a stack's config: what `pulumi config` holds, parsed by the program's own schema. */
function platformConfig(stack: string) {
    const raw: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(configOf(stack))) {
        if (v.value === "" || v.value === undefined) continue;
        const name = key.replace(/^dbaas:/, "");
        raw[name] = v.objectValue ?? v.value;
    }
    return parsePlatformConfig(raw);
}

/** Every `pulumi config set ...` command line the docs show (README and docs/), as written. */
function documentedConfigCommands(): { file: string; line: string }[] {
    const files = ["README.md", ...fs.readdirSync(path.join(ROOT, "docs"), { recursive: true, encoding: "utf8" })
        .filter((f) => f.endsWith(".md")).map((f) => path.join("docs", f))];
    return files.flatMap((file) => fs.readFileSync(path.join(ROOT, file), "utf8").split("\n")
        .map((l) => l.trim())
        .filter((l) => /^(npx )?pulumi config set /.test(l))
        .map((line) => ({ file, line })));
}

describe.skipIf(missing)("the real Pulumi CLI on the platform project", () => {
    beforeAll(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-cli-"));
        for (const f of fs.readdirSync(ROOT).filter((f) => /^Pulumi(\.[a-z]+)?\.yaml$/.test(f))) fs.copyFileSync(path.join(ROOT, f), path.join(dir, f));
        fs.mkdirSync(path.join(dir, "state"));
        const cert = selfSignedCertificate("dbaas.example.com");
        fs.writeFileSync(path.join(dir, "fullchain.pem"), cert.certPem);
        fs.writeFileSync(path.join(dir, "privkey.pem"), cert.keyPem);
    });
    afterAll(() => {
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("is the version of @pulumi/pulumi in the lock", () => {
        const lock = JSON.parse(fs.readFileSync(path.join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { version?: string }> };
        expect(pulumiCli()?.version).toBe(`v${lock.packages["node_modules/@pulumi/pulumi"]?.version}`);
    });

    it.each(["dev", "staging", "prod"])("reads Pulumi.%s.yaml against Pulumi.yaml: every value as the file has it, the program's schema accepts it", (stack) => {
        pulumi(["stack", "init", stack]);
        const file = parseYaml(fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> };
        const cli = configOf(stack);
        for (const [key, value] of Object.entries(file.config)) {
            const got = cli[key];
            expect(got, key).toBeDefined();
            expect(got?.objectValue ?? got?.value, key).toEqual(typeof value === "object" ? value : String(value as string | number | boolean));
        }
        // Keys the stack file leaves out come from Pulumi.yaml's defaults (the optional secrets are "").
        expect(cli["dbaas:tlsCertificateChain"]?.value).toBe("");
        if (stack === "dev") expect(() => platformConfig(stack)).not.toThrow();
    });

    it("every documented `pulumi config set` command works as written and leaves a config the program accepts", () => {
        const commands = documentedConfigCommands();
        expect(commands.length).toBeGreaterThanOrEqual(4);
        for (const { file, line } of commands) {
            const stack = /--stack (\S+)/.exec(line)?.[1] ?? "prod";
            pulumi(["stack", "select", stack]);
            // The docs' own shell line, with the repository's pulumi swapped for the built one.
            const r = spawnSync("sh", ["-c", line.replace(/^npx /, "")], { cwd: dir, env: cliEnv(), encoding: "utf8", timeout: 60_000 });
            expect(r.status, `${file}: ${line}\n${r.stderr}`).toBe(0);
        }
        const prod = configOf("prod");
        expect(prod["dbaas:tlsCertificateChain"]).toMatchObject({ secret: true, value: fs.readFileSync(path.join(dir, "fullchain.pem"), "utf8").trim() });
        expect(prod["dbaas:tlsPrivateKey"]?.secret).toBe(true);
        // Stored encrypted: the stack file never holds the PEM.
        expect(fs.readFileSync(path.join(dir, "Pulumi.prod.yaml"), "utf8")).not.toContain("BEGIN");
        expect(() => platformConfig("prod")).not.toThrow();
        const dev = platformConfig("dev");
        expect(dev.postgres.versions.map((v) => v.label)).toContain("PostgreSQL 18");
    });

    it("refuses a stack whose config breaks the program's schema, naming the key and the fix", () => {
        pulumi(["config", "set", "--stack", "dev", "--path", "dbaas:postgres.versions[1].label", "PostgreSQL 17"]);
        expect(() => platformConfig("dev")).toThrow(/postgres\.versions\[1\]\.label/);
        expect(() => platformConfig("dev")).toThrow(/pulumi config set --path 'dbaas:postgres\.versions\[1\]\.label'/);
    });
});
