/**
 * The import-boundary rule of eslint.config.mjs (docs/architecture.md) on
 * fixtures: a backward import fails `npm run lint` with a message naming both
 * parts, an allowed one passes, and an import cycle is found. The fixtures are
 * linted as text under paths of the real tree, so the imported files are the
 * project's own and nothing is written to disk.
 */
import * as path from "node:path";
import { ESLint, type Linter } from "eslint";
import tseslint from "typescript-eslint";
import { beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../support/harness";

let eslint: ESLint;

beforeAll(async () => {
    // eslint.config.mjs is plain ESM without types; its export is ESLint flat config.
    const config = (await import(path.join(ROOT, "eslint.config.mjs"))) as { importBoundaries: Linter.Config[] };
    eslint = new ESLint({
        cwd: ROOT,
        overrideConfigFile: true,
        // The boundary rules need no type information, so no project service is started for the fixtures.
        overrideConfig: [{ files: ["**/*.ts"], languageOptions: { parser: tseslint.parser } }, ...config.importBoundaries],
    });
});

async function problems(file: string, code: string): Promise<string[]> {
    const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, file) });
    return (result?.messages ?? []).map((m) => `${m.ruleId ?? "parse"}: ${m.message}`);
}

describe("the import-boundary rule", () => {
    it.each([
        ["contracts/probe.ts", 'import { renderNginxConf } from "../components/proxy";', /"contracts" to elements of type "components"/],
        ["contracts/probe.ts", 'import { loadConfig } from "../infra/config";', /"contracts" to elements of type "infra"/],
        ["components/proxy/probe.ts", 'import { loadConfig } from "../../infra/config";', /"components" to elements of type "infra"/],
        ["components/ondemand/probe.ts", 'import { readRestoreScript } from "../../ondemand/restore";', /"components" to elements of type "ondemand"/],
        ["api/probe.ts", 'import { NginxProxy } from "../components/proxy";', /"api" to elements of type "components"/],
        ["api/probe.ts", 'import { readRestoreScript } from "../ondemand/restore";', /"api" to elements of type "ondemand"/],
        ["dashboard/src/probe.ts", 'import { hashToken } from "../../api/http/auth";', /"dashboard" to elements of type "api"/],
        ["policies/probe.ts", 'import { loadApiConfig } from "../api/config";', /"policies" to elements of type "api"/],
        ["ondemand/probe.ts", 'import { loadConfig } from "../infra/config";', /"ondemand" to elements of type "infra"/],
    ])("refuses %s: %s", async (file, code, message) => {
        const found = await problems(file, `${code}\nexport const used = [];\n`);
        expect(found.some((p) => p.startsWith("boundaries/dependencies:") && message.test(p)), found.join("\n")).toBe(true);
    });

    it.each([
        ["contracts/probe.ts", 'import * as fs from "node:fs";'],
        ["contracts/probe.ts", 'import * as pulumi from "@pulumi/pulumi";'],
        ["dashboard/src/probe.ts", 'import * as path from "node:path";'],
    ])("keeps %s pure: %s", async (file, code) => {
        const found = await problems(file, `${code}\nexport const used = [];\n`);
        expect(found.some((p) => p.startsWith("no-restricted-imports:") && p.includes("stay pure")), found.join("\n")).toBe(true);
    });

    it.each([
        ["infra/probe.ts", 'import { NginxProxy } from "../components/proxy";\nimport { defaultVersion } from "../contracts/catalog";'],
        ["ondemand/probe.ts", 'import { DatabaseNamespace } from "../components/ondemand";\nimport { parseDatabaseSpec } from "../contracts/database";'],
        ["components/postgres/probe.ts", 'import { StackCa } from "../tls";\nimport { POSTGRES_PORT } from "../../contracts/ports";'],
        ["api/probe.ts", 'import { createDatabaseBody } from "../contracts/api";\nimport { loadApiConfig } from "./config";'],
        ["dashboard/src/probe.ts", 'import { isBusy } from "../../contracts/api";'],
        ["policies/probe.ts", 'import { LABELS } from "../contracts/labels";'],
    ])("allows %s", async (file, code) => {
        expect(await problems(file, `${code}\nexport const used = [];\n`)).toEqual([]);
    });

    it("finds an import cycle through the project's own files", async () => {
        // api/domain/databases.ts imports stateMachine.ts; this makes stateMachine.ts import it back.
        const found = await problems("api/domain/stateMachine.ts", 'import * as databases from "./databases";\nexport const used = databases;\n');
        expect(found).toContain("import-x/no-cycle: Dependency cycle detected");
    });
});
