/**
 * Where the API finds the repository's files, the same whether it runs from
 * its TypeScript sources (`api/*.ts` through tsx or vitest) or compiled
 * (`dist/api/*.js`, the production image): the package root is the nearest
 * ancestor of this file holding package.json, so `api/` and `dist/api/` both
 * resolve to it. Files the API only reads (the dashboard build, the on-demand
 * program, the policy pack, tsconfig.json) are looked up from there, never
 * next to the compiled code. No Pulumi imports.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** The nearest directory at or above `from` that holds a package.json; throws naming `from` when there is none. */
export function packageRootOf(from: string, exists: (file: string) => boolean = fs.existsSync): string {
    for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
        if (exists(path.join(dir, "package.json"))) return dir;
        if (path.dirname(dir) === dir) throw new Error(`no package.json in ${from} or any folder above it: the API must run inside its package (sources or dist/)`);
    }
}

/** Root of the repository (or of the image's /app). */
export const PACKAGE_ROOT = packageRootOf(__dirname);

/** The dashboard's build output (vite's `dashboard/dist`). */
export const DASHBOARD_DIST_DIR = path.join(PACKAGE_ROOT, "dashboard", "dist");
