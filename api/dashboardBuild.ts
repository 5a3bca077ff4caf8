/**
 * `npm start` builds the dashboard itself when it is missing or older than
 * its sources, so a fresh clone needs no `npm run build:web`. Which files are
 * its sources is what the bundler read: each build writes them, with the
 * build's time, to `<outDir>/.sources.json`; a later start rebuilds when any
 * of them changed, disappeared, or a file was added under dashboard/src. Where vite
 * is not installed (the production image, built with the page inside), the
 * page is served as it is.
 */
import * as fs from "node:fs";
import * as path from "node:path";

export const SOURCES_MANIFEST = ".sources.json";

export interface SourcesManifest {
    /** ms since the epoch, when the build started. */
    readonly builtAt: number;
    /** Absolute paths of every file the build bundled. */
    readonly files: readonly string[];
}

/** Why the page must be (re)built, or undefined when the build in `outDir` is current. */
export function staleReason(outDir: string, srcDir: string, statMtime: (file: string) => number | undefined = mtimeOf): string | undefined {
    if (statMtime(path.join(outDir, "index.html")) === undefined) return "not built yet";
    let manifest: SourcesManifest;
    try {
        manifest = JSON.parse(fs.readFileSync(path.join(outDir, SOURCES_MANIFEST), "utf8")) as SourcesManifest;
    } catch {
        return `no ${SOURCES_MANIFEST} (built by another command)`;
    }
    for (const file of manifest.files) {
        const m = statMtime(file);
        if (m === undefined) return `${file} was removed`;
        if (m > manifest.builtAt) return `${file} changed`;
    }
    const known = new Set(manifest.files);
    const added = listFiles(srcDir).find((f) => !known.has(f) && (statMtime(f) ?? 0) > manifest.builtAt);
    return added === undefined ? undefined : `${added} was added`;
}

function mtimeOf(file: string): number | undefined {
    try {
        return fs.statSync(file).mtimeMs;
    } catch {
        return undefined;
    }
}

function listFiles(dir: string): string[] {
    let entries: fs.Dirent[];
    try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
        return [];
    }
    return entries.flatMap((e) => (e.isDirectory() ? listFiles(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

/** The files a rollup output bundled (its modules' ids, without virtual ones). */
function bundledFiles(result: unknown): string[] {
    const outputs = (Array.isArray(result) ? result : [result]) as { output?: { modules?: Record<string, unknown> }[] }[];
    const ids = outputs.flatMap((o) => (o.output ?? []).flatMap((chunk) => Object.keys(chunk.modules ?? {})));
    return [...new Set(ids.filter((id) => path.isAbsolute(id) && fs.existsSync(id)))].sort();
}

export interface EnsureDashboardOptions {
    /** dashboard/vite.config.ts */
    readonly configFile: string;
    /** Where the page goes (default: the config's, dashboard/dist). */
    readonly outDir: string;
    /** dashboard/src: a new file there means a rebuild. */
    readonly srcDir: string;
    readonly log: (message: string) => void;
    /** Build even when current (`npm run build:web`). */
    readonly force?: boolean;
}

/** Builds the page when it is stale; says what it did. */
export async function ensureDashboard(o: EnsureDashboardOptions): Promise<"current" | "built" | "no-vite"> {
    const why = o.force === true ? "a build was asked for" : staleReason(o.outDir, o.srcDir);
    if (why === undefined) return "current";
    let vite: typeof import("vite");
    try {
        vite = await import("vite");
    } catch {
        o.log(`dashboard: ${why}, and vite is not installed to build it (npm ci installs it); serving ${o.outDir} as it is`);
        return "no-vite";
    }
    o.log(`dashboard: ${why}; building it into ${o.outDir}`);
    const builtAt = Date.now();
    const index = path.join(path.dirname(o.configFile), "index.html");
    const result = await vite.build({ configFile: o.configFile, logLevel: "error", build: { outDir: o.outDir, emptyOutDir: true } });
    const files = [...new Set([index, o.configFile, ...bundledFiles(result)])].sort();
    const manifest: SourcesManifest = { builtAt, files };
    fs.writeFileSync(path.join(o.outDir, SOURCES_MANIFEST), `${JSON.stringify(manifest, null, 1)}\n`);
    o.log(`dashboard: built in ${((Date.now() - builtAt) / 1000).toFixed(1)} s`);
    return "built";
}
