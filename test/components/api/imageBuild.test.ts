/**
 * The API image's build, read from the files that make it: the build args
 * (apiImageBuildArgs), the .dockerignore allow-list and the Dockerfile's
 * COPY sources against API_IMAGE_SOURCES (the context the content tag hashes),
 * the offline build (no `# syntax=` line, the Pulumi source switch), the
 * compiled entry point, and the package root the compiled API finds. The image
 * itself is built and run by test/e2e/apiImage.e2e.test.ts.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";
import { describe, expect, it } from "vitest";
import { packageRootOf } from "../../../api/paths";
import { API_IMAGE_SOURCES, apiImageBuildArgs, type ApiImageBuild } from "../../../components/api";
import { ROOT } from "../../support/harness";

const dockerfile = fs.readFileSync(path.join(ROOT, "Dockerfile"), "utf8");
/** Instructions with their continuation lines joined, comments dropped. */
const instructions = dockerfile.replace(/\\\n/g, " ").split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
const inSources = (p: string) => API_IMAGE_SOURCES.some((s) => p === s || p.startsWith(`${s}/`));

function readJsonc(file: string): { compilerOptions?: Record<string, unknown>; include?: string[] } {
    const parsed = ts.parseConfigFileTextToJson(file, fs.readFileSync(path.join(ROOT, file), "utf8"));
    if (parsed.error !== undefined) throw new Error(`${file}: ${ts.flattenDiagnosticMessageText(parsed.error.messageText, "\n")}`);
    return parsed.config as { compilerOptions?: Record<string, unknown>; include?: string[] };
}

describe("apiImageBuildArgs", () => {
    it.each<[string, ApiImageBuild, Record<string, string>]>([
        ["the default build: only the version (so the content tag infra computes is unchanged)", { pulumiVersion: "3.248.0" }, { PULUMI_VERSION: "3.248.0" }],
        ["another base image", { pulumiVersion: "3.248.0", nodeImage: "dbaas-e2e/node:20" }, { PULUMI_VERSION: "3.248.0", NODE_IMAGE: "dbaas-e2e/node:20" }],
        ["the download source named", { pulumiVersion: "3.248.0", pulumiSource: "download" }, { PULUMI_VERSION: "3.248.0", PULUMI_SOURCE: "download" }],
        ["a locally built set", { pulumiVersion: "3.248.0", pulumiSource: "local", pulumiLocalImage: "dbaas-e2e/pulumi:3.248.0" },
            { PULUMI_VERSION: "3.248.0", PULUMI_SOURCE: "local", PULUMI_LOCAL_IMAGE: "dbaas-e2e/pulumi:3.248.0" }],
    ])("%s", (_what, build, args) => {
        expect(apiImageBuildArgs(build)).toEqual(args);
    });
    it.each<[string, ApiImageBuild, RegExp]>([
        ["a local source without an image", { pulumiVersion: "3.248.0", pulumiSource: "local" }, /pulumiSource "local" needs pulumiLocalImage/],
        ["a local image with the download source", { pulumiVersion: "3.248.0", pulumiLocalImage: "dbaas-e2e/pulumi:3.248.0" }, /only used with pulumiSource "local"/],
    ])("refuses %s", (_what, build, message) => {
        expect(() => apiImageBuildArgs(build)).toThrow(message);
    });
    it("names only args the Dockerfile declares", () => {
        const declared = new Set(instructions.filter((l) => l.startsWith("ARG ")).map((l) => l.slice(4).split("=")[0]));
        const all = apiImageBuildArgs({ pulumiVersion: "1.2.3", nodeImage: "n:1", pulumiSource: "local", pulumiLocalImage: "p:1" });
        expect(Object.keys(all).filter((k) => !declared.has(k))).toEqual([]);
    });
});

describe("the build context", () => {
    it(".dockerignore lets through exactly API_IMAGE_SOURCES", () => {
        const lines = fs.readFileSync(path.join(ROOT, ".dockerignore"), "utf8").split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
        expect(lines[0]).toBe("*");
        const allowed = lines.filter((l) => l.startsWith("!")).map((l) => l.slice(1));
        expect([...allowed].sort()).toEqual([...API_IMAGE_SOURCES].sort());
    });
    it("every file the Dockerfile copies from the context is in API_IMAGE_SOURCES", () => {
        const copies = instructions.filter((l) => /^COPY\s/.test(l) && !/--from=/.test(l));
        expect(copies.length).toBeGreaterThan(0);
        const sources = copies.flatMap((l) => l.split(/\s+/).slice(1).filter((w) => !w.startsWith("--")).slice(0, -1));
        expect(sources.filter((s) => !inSources(s))).toEqual([]);
    });
    it("npm run build compiles only folders of the context, into dist/<folder>", () => {
        const build = readJsonc("tsconfig.build.json");
        expect(build.compilerOptions?.rootDir).toBe(".");
        const folders = (build.include ?? []).map((p) => p.split("/")[0] ?? "");
        expect(folders.length).toBeGreaterThan(0);
        expect(folders.filter((f) => !inSources(f))).toEqual([]);
        expect(folders).toContain("api");
    });
});

describe("the Dockerfile", () => {
    it("builds offline with the daemon's own frontend: no `# syntax=` line", () => {
        expect(dockerfile).not.toMatch(/^#\s*syntax\s*=/im);
    });
    it("takes the Pulumi CLI from the stage PULUMI_SOURCE names (download, with its checksum, or local)", () => {
        const stages = instructions.filter((l) => l.startsWith("FROM ")).map((l) => /\bAS\s+(\S+)$/i.exec(l)?.[1]);
        expect(stages).toEqual(expect.arrayContaining(["pulumi-download", "pulumi-local", "pulumi", "runtime"]));
        expect(instructions).toContain("FROM pulumi-${PULUMI_SOURCE} AS pulumi");
        expect(instructions).toContain("FROM ${PULUMI_LOCAL_IMAGE} AS pulumi-local");
        expect(dockerfile).toMatch(/sha256sum -c/);
    });
    it("bakes a plugin for every provider package the per-database program imports, at the locked SDK's version", () => {
        const files = ["ondemand", "components/ondemand"].flatMap((dir) =>
            fs.readdirSync(path.join(ROOT, dir), { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts")).map((f) => path.join(dir, f)));
        const imported = new Set(files.flatMap((f) => ts.preProcessFile(fs.readFileSync(path.join(ROOT, f), "utf8")).importedFiles.map((i) => i.fileName))
            .map((spec) => /^@pulumi\/([a-z-]+)$/.exec(spec)?.[1])
            .filter((name): name is string => name !== undefined)
            .filter((name) => (JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules/@pulumi", name, "package.json"), "utf8")) as { pulumi?: { resource?: boolean } }).pulumi?.resource === true));
        expect([...imported].sort()).toEqual(["docker", "kubernetes"]);
        const declared = instructions.find((l) => l.startsWith("ARG PULUMI_PLUGINS="));
        expect(declared?.replace(/^ARG PULUMI_PLUGINS="(.*)"$/, "$1").split(" ").sort()).toEqual([...imported].sort());
        for (const name of imported) {
            // The version comes from the SDK package the lock installed, copied from the deps stage.
            expect(instructions).toContain(`COPY --from=deps /app/node_modules/@pulumi/${name}/package.json /tmp/sdk/${name}.json`);
        }
        expect(dockerfile).toMatch(/pulumi plugin install resource "\$\{name\}" "\$\{version\}"/);
        expect(dockerfile).toMatch(/PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true/);
        // The local set (scripts/e2e/pulumi-image.sh) carries the same plugins.
        const tools = /^readonly TOOLS=\((.*)\)$/m.exec(fs.readFileSync(path.join(ROOT, "scripts/e2e/pulumi-image.sh"), "utf8"))?.[1]?.split(" ") ?? [];
        expect(tools).toEqual(expect.arrayContaining([...imported].map((name) => `pulumi-resource-${name}`)));
    });
    it("runs the compiled API as the unprivileged node user, under tini", () => {
        expect(instructions.at(-1)).toBe('CMD ["node", "dist/api/main.js"]');
        expect(instructions).toContain('ENTRYPOINT ["/usr/bin/tini", "--"]');
        expect(instructions.filter((l) => l.startsWith("USER ")).at(-1)).toBe("USER node");
        expect(dockerfile).not.toMatch(/--import[= ]tsx/);
    });
});

describe("packageRootOf", () => {
    const exists = (file: string) => file === path.join("/app", "package.json");
    it.each([
        ["the sources", "/app/api"],
        ["the compiled API", "/app/dist/api"],
        ["a compiled subfolder", "/app/dist/api/http"],
    ])("finds the package from %s", (_what, from) => {
        expect(packageRootOf(from, exists)).toBe("/app");
    });
    it("says where it looked when there is no package.json", () => {
        expect(() => packageRootOf("/srv/x", () => false)).toThrow(/no package\.json in \/srv\/x or any folder above it/);
    });
    it("is this repository for the API's own files", () => {
        expect(packageRootOf(path.join(ROOT, "dist", "api"))).toBe(ROOT);
    });
});
