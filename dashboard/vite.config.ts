/**
 * Builds the dashboard (dashboard/) into dashboard/dist, which the API serves
 * at `/` (api/http/dashboard.ts). The page imports only contracts/ (pure, no
 * Node built-ins): the create form is validated with the same zod fields the
 * API uses (contracts/database.ts) and responses are typed by
 * contracts/api.ts.
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
