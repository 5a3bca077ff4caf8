import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml, stringify } from "yaml";
import { CONFIG_KEYS, SECRET_KEYS } from "../../contracts/stackConfig";
import { ROOT } from "../support/harness";
import { checkStackFile, type ProjectFile } from "../support/stackFiles";

const projectYaml = fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8");
const read = (stack: string) => fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8");

function edit(stack: string, change: (config: Record<string, unknown>) => void): string {
    const doc = parseYaml(read(stack)) as { config: Record<string, unknown> };
    change(doc.config);
    return stringify(doc);
}

describe("stack files against Pulumi.yaml", () => {
    it.each(["dev", "staging", "prod", "e2e"])("Pulumi.%s.yaml declares only known keys of the right type", (stack) => {
        expect(checkStackFile(projectYaml, read(stack), stack)).toEqual([]);
    });

    it("Pulumi.yaml declares exactly the keys the program reads, with types and descriptions", () => {
        const project = parseYaml(projectYaml) as ProjectFile;
        const declared = Object.keys(project.config ?? {}).map((k) => k.replace(/^dbaas:/, "")).sort();
        expect(declared).toEqual([...CONFIG_KEYS].sort());
        for (const [key, decl] of Object.entries(project.config ?? {})) {
            expect(decl.type, key).toBeDefined();
            expect(decl.description?.length, key).toBeGreaterThan(10);
            expect(Boolean(decl.secret), key).toBe(SECRET_KEYS.has(key.replace(/^dbaas:/, "")));
        }
    });

    it("fails when a key is misspelled", () => {
        const yaml = edit("dev", (c) => {
            c["dbaas:domian"] = c["dbaas:domain"];
            delete c["dbaas:domain"];
        });
        expect(checkStackFile(projectYaml, yaml, "dev")).toEqual([
            "Pulumi.dev.yaml: dbaas:domian is not declared in Pulumi.yaml",
            "Pulumi.dev.yaml: required key dbaas:domain is missing",
        ]);
    });

    it("fails when a value has the wrong type", () => {
        const yaml = edit("dev", (c) => {
            c["dbaas:postgres"] = "PostgreSQL 17";
            c["dbaas:domain"] = 42;
        });
        expect(checkStackFile(projectYaml, yaml, "dev")).toEqual([
            "Pulumi.dev.yaml: dbaas:domain should be of type string, got 42",
            'Pulumi.dev.yaml: dbaas:postgres should be of type object, got "PostgreSQL 17"',
        ]);
    });

    it("fails when a secret key holds a plain value", () => {
        const yaml = edit("prod", (c) => {
            c["dbaas:tlsPrivateKey"] = "-----BEGIN PRIVATE KEY-----";
        });
        expect(checkStackFile(projectYaml, yaml, "prod")).toEqual([
            "Pulumi.prod.yaml: dbaas:tlsPrivateKey is secret; set it with pulumi config set --secret",
        ]);
    });

    it("no DBAAS_ENV switch remains in code or stack files", () => {
        const offenders: string[] = [];
        const walk = (dir: string) => {
            for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
                if (["node_modules", ".git", "dist", "docs"].includes(entry.name) || entry.name.startsWith(".pulumi")) continue;
                const p = path.join(dir, entry.name);
                if (entry.isDirectory()) walk(p);
                else if (/\.(ts|ya?ml|json|sh)$|Dockerfile$/.test(entry.name) && p !== __filename) {
                    if (fs.readFileSync(p, "utf8").includes("DBAAS_ENV")) offenders.push(path.relative(ROOT, p));
                }
            }
        };
        walk(ROOT);
        expect(offenders).toEqual([]);
    });
});
