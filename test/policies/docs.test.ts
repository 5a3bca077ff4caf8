/**
 * The policy table of docs/policies.md lists exactly the
 * pack's policies with their levels, and its config table names real keys.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { catalogImages, versionCatalogSchema } from "../../contracts/catalog";
import { policies } from "../../policies/rules";
import { ROOT, stackConfig } from "../support/harness";

const doc = fs.readFileSync(path.join(ROOT, "docs", "policies.md"), "utf8");

describe("docs/policies.md", () => {
    it("starts with a level-1 heading", () => {
        expect(doc.split("\n")[0]).toMatch(/^# /);
    });

    it("lists every policy once, with its enforcement level", () => {
        const byName = (a: { name?: string }, b: { name?: string }) => (a.name ?? "").localeCompare(b.name ?? "");
        const rows = [...doc.matchAll(/^\| `([a-z0-9-]+)` \| (mandatory|advisory) \|/gm)].map((m) => ({ name: m[1], level: m[2] }));
        expect(rows.sort(byName)).toEqual(policies.map((p) => ({ name: p.name, level: p.enforcementLevel })).sort(byName));
    });

    it("documents config keys the policies declare", () => {
        const declared = new Set(policies.flatMap((p) => Object.keys(p.configSchema?.properties ?? {})));
        const documented = [...doc.matchAll(/^\| `[^|]+` \| ([^|]+) \|/gm)].flatMap((m) => [...(m[1] ?? "").matchAll(/`([A-Za-z]+)`/g)].map((k) => k[1]));
        expect(new Set(documented)).toEqual(declared);
    });
});

describe("npx tsx policies/config.ts Pulumi.<stack>.yaml", () => {
    const tsx = path.join(ROOT, "node_modules", ".bin", "tsx");

    it.each(["dev", "staging", "prod"])("prints the %s stack's policy config: its catalog, for policies and keys that exist", (stack) => {
        const run = spawnSync(tsx, ["policies/config.ts", `Pulumi.${stack}.yaml`], { cwd: ROOT, encoding: "utf8" });
        expect(run.status, run.stderr).toBe(0);
        const config = JSON.parse(run.stdout) as Record<string, Record<string, unknown>>;
        const versions = JSON.parse(stackConfig(`Pulumi.${stack}.yaml`)["dbaas:postgres"] ?? "{}") as { versions: unknown };
        expect(config["postgres-image-from-catalog"]?.allowedImages).toEqual(catalogImages(versionCatalogSchema.parse(versions.versions)));
        for (const [name, props] of Object.entries(config)) {
            const policy = policies.find((p) => p.name === name);
            expect(policy, name).toBeDefined();
            expect(Object.keys(props).every((k) => k in (policy?.configSchema?.properties ?? {})), name).toBe(true);
        }
    });

    it("says how to use it when called without a stack file", () => {
        const run = spawnSync(tsx, ["policies/config.ts"], { cwd: ROOT, encoding: "utf8" });
        expect(run.status).toBe(2);
        expect(run.stderr).toContain("usage: npx tsx policies/config.ts Pulumi.<stack>.yaml");
    });
});
