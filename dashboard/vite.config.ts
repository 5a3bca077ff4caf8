/**
 * Builds the dashboard (web/) into web/dist, which the API serves at `/`
 * (infra/api/dashboard.ts). The page validates the create form with the same
 * zod fields the API uses (infra/ondemand/spec.ts); that module's import
 * chain reaches the restore-script helper, whose two Node imports are
 * replaced by stubs that fail loudly if the browser ever calls them.
 */
import * as path from "node:path";
import { defineConfig } from "vite";

const here = path.resolve(__dirname);

export default defineConfig({
    root: here,
    base: "/",
    // Nothing public/ to copy; keeps the output to index.html + assets/.
    publicDir: false,
    logLevel: "warn",
    resolve: {
        alias: {
            "node:fs": path.join(here, "src/shims/nodeFs.ts"),
            "node:path": path.join(here, "src/shims/nodePath.ts"),
        },
    },
    define: {
        // restore/index.ts computes a script path from __dirname at import time; the value is never used here.
        __dirname: JSON.stringify("/"),
    },
    build: {
        outDir: path.join(here, "dist"),
        emptyOutDir: true,
        target: "es2022",
        sourcemap: false,
        // The CSP allows only same-origin scripts and styles: no inline modulepreload polyfill.
        modulePreload: { polyfill: false },
        assetsInlineLimit: 0,
        reportCompressedSize: false,
        rollupOptions: {
            // zod's sources carry comments rollup cannot place; harmless, and noisy in every test run.
            onwarn(warning, warn) {
                if (warning.code !== "INVALID_ANNOTATION") warn(warning);
            },
        },
    },
});
