/**
 * A deterministic tag for the API image: a hash of exactly the files the
 * Dockerfile copies (the same list .dockerignore lets through) and the build
 * args. Same sources → same tag (no rebuild, no new ECR image; ECR tags are
 * immutable); any change → a new tag. Never `latest`. No Pulumi imports.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

/** Paths (files or directories) of the repository that make up the API image's build context. */
export const API_IMAGE_SOURCES = ["Dockerfile", ".dockerignore", "package.json", "package-lock.json", "tsconfig.json", "tsconfig.build.json", "api", "contracts", "ondemand", "components/ondemand", "dashboard", "policies"] as const;

export interface SourceFile {
    /** Path relative to the build context, with forward slashes. */
    readonly path: string;
    readonly content: Uint8Array;
}

/** `c-<16 hex>`: sha256 over the sorted files (path, length, bytes) and the sorted build args. */
export function contentTag(files: readonly SourceFile[], buildArgs: Readonly<Record<string, string>> = {}): string {
    const hash = createHash("sha256");
    for (const f of [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
        // Length-prefixing keeps ("ab","c") and ("a","bc") apart.
        hash.update(`${f.path}\0${f.content.length}\0`);
        hash.update(f.content);
    }
    for (const [k, v] of Object.entries(buildArgs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        hash.update(`arg\0${k}=${v}\0`);
    }
    return `c-${hash.digest("hex").slice(0, 16)}`;
}

const SKIPPED_DIRS = new Set(["node_modules", "dist", ".git", ".pulumi-state", ".dbaas-data"]);

/** Reads the build context's files under `root` (skipping node_modules, dist and state dirs). Missing sources are skipped. */
export function readSourceFiles(root: string, sources: readonly string[] = API_IMAGE_SOURCES): SourceFile[] {
    const out: SourceFile[] = [];
    const walk = (rel: string): void => {
        const abs = path.join(root, rel);
        let stat: fs.Stats;
        try {
            stat = fs.statSync(abs);
        } catch {
            return;
        }
        if (stat.isDirectory()) {
            for (const entry of fs.readdirSync(abs).sort()) {
                if (!SKIPPED_DIRS.has(entry)) walk(`${rel}/${entry}`);
            }
        } else if (stat.isFile()) {
            out.push({ path: rel, content: fs.readFileSync(abs) });
        }
    };
    for (const s of sources) walk(s);
    return out;
}

/** How the API image is built, as the Dockerfile's build args name it. */
export interface ApiImageBuild {
    /** Pulumi CLI version baked into the image (PULUMI_VERSION); the image build fails when the CLI it gets reports another. */
    readonly pulumiVersion: string;
    /** Base image of every stage (NODE_IMAGE). Default: the Dockerfile's `node:20.19-bookworm-slim`. */
    readonly nodeImage?: string;
    /** Where the CLI comes from (PULUMI_SOURCE): the GitHub release, checksum-verified, or a locally built set. Default: "download". */
    readonly pulumiSource?: "download" | "local";
    /** With `pulumiSource: "local"`, the image holding the tools in /opt/pulumi (PULUMI_LOCAL_IMAGE), e.g. `dbaas-e2e/pulumi:3.248.0`. Default: none. */
    readonly pulumiLocalImage?: string;
}

/**
 * The build args of the API image. Only what is set goes in, so the default
 * build's args (and so its content tag) stay `{ PULUMI_VERSION }`. A local
 * source without an image, or an image with the download source, is refused:
 * either would build something other than what was asked for.
 */
export function apiImageBuildArgs(build: ApiImageBuild): Record<string, string> {
    const source = build.pulumiSource ?? "download";
    if (source === "local" && (build.pulumiLocalImage ?? "") === "") {
        throw new Error('API image: pulumiSource "local" needs pulumiLocalImage, an image holding the Pulumi tools in /opt/pulumi (scripts/e2e/pulumi-image.sh makes one)');
    }
    if (source === "download" && build.pulumiLocalImage !== undefined) {
        throw new Error(`API image: pulumiLocalImage ${JSON.stringify(build.pulumiLocalImage)} is only used with pulumiSource "local"; the download source fetches the CLI from GitHub`);
    }
    return {
        PULUMI_VERSION: build.pulumiVersion,
        ...(build.nodeImage === undefined ? {} : { NODE_IMAGE: build.nodeImage }),
        ...(build.pulumiSource === undefined ? {} : { PULUMI_SOURCE: build.pulumiSource }),
        ...(build.pulumiLocalImage === undefined ? {} : { PULUMI_LOCAL_IMAGE: build.pulumiLocalImage }),
    };
}
