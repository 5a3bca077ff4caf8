/**
 * README.md is hand-written and short; the details live in docs/*.md. What
 * can silently rot is checked here: the README's length, links (to files and
 * headings that exist, never outside the repository) and the npm scripts the
 * README tells people to run.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "..", "..");
const read = (rel: string) => fs.readFileSync(path.join(ROOT, rel), "utf8");

const README = "README.md";
const PAGES = [README, ...fs.readdirSync(path.join(ROOT, "docs")).filter((f) => f.endsWith(".md")).sort().map((f) => `docs/${f}`)];

/** The text a reader sees as prose: fenced code blocks and inline code removed (a URL in a command is not a link). */
function prose(markdown: string): string {
    return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "").replace(/`[^`\n]*`/g, "");
}

/** Link targets: inline links and images `[x](target)`, and autolinks `<scheme:...>`. */
function linkTargets(markdown: string): string[] {
    const text = prose(markdown);
    const inline = [...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1] ?? "");
    const auto = [...text.matchAll(/<([a-z][a-z0-9+.-]*:[^>\s]+)>/gi)].map((m) => m[1] ?? "");
    return [...inline, ...auto];
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function headingAnchors(markdown: string): Set<string> {
    const anchors = new Set<string>();
    const seen = new Map<string, number>();
    for (const m of markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "").matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
        const base = (m[1] ?? "").toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").trim().replace(/\s/g, "-");
        const n = seen.get(base) ?? 0;
        seen.set(base, n + 1);
        anchors.add(n === 0 ? base : `${base}-${n}`);
    }
    return anchors;
}

describe("README.md", () => {
    const readme = read(README);

    it("is at most 200 lines", () => {
        expect(readme.split("\n").length - (readme.endsWith("\n") ? 1 : 0)).toBeLessThanOrEqual(200);
    });

    it("names only npm scripts that package.json has", () => {
        const scripts = Object.keys((JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts);
        const named = [...readme.matchAll(/npm run ([a-z][\w:.-]*)/g)].map((m) => m[1] ?? "");
        expect(named.length).toBeGreaterThan(0);
        expect([...new Set(named)].filter((s) => !scripts.includes(s))).toEqual([]);
    });

    it("names the test command that .ci/run calls", () => {
        expect(read(".ci/run")).toMatch(/^npm test$/m);
        expect(readme).toContain("npm test");
    });
});

describe.each(PAGES)("links in %s", (page) => {
    const targets = linkTargets(read(page));
    const dir = path.dirname(path.join(ROOT, page));

    it("point inside the repository (no URL, no path above the root)", () => {
        const outside = targets.filter((t) => {
            if (/^[a-z][a-z0-9+.-]*:/i.test(t) || t.startsWith("//")) return true;
            if (t.startsWith("#")) return false;
            const rel = path.relative(ROOT, path.resolve(dir, decodeURIComponent(t.split("#")[0] ?? "")));
            return rel.startsWith("..") || path.isAbsolute(rel);
        });
        expect(outside).toEqual([]);
    });

    it("resolve to files and headings that exist", () => {
        const broken = targets.filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t) && !t.startsWith("//")).filter((t) => {
            const [file = "", anchor] = t.split("#");
            const target = file === "" ? path.join(ROOT, page) : path.resolve(dir, decodeURIComponent(file));
            if (!fs.existsSync(target)) return true;
            if (anchor === undefined || anchor === "" || !target.endsWith(".md")) return false;
            return !headingAnchors(fs.readFileSync(target, "utf8")).has(anchor);
        });
        expect(broken).toEqual([]);
    });
});

describe("the link checker itself", () => {
    it("finds inline links, images and autolinks, not URLs inside code", () => {
        const md = "See [a](docs/a.md#x) and ![img](b.png), <https://example.com>.\n`[c](nope.md)`\n```sh\ncurl https://get.example.com [d](e.md)\n```\n";
        expect(linkTargets(md)).toEqual(["docs/a.md#x", "b.png", "https://example.com"]);
    });

    it("makes GitHub's anchors", () => {
        expect([...headingAnchors("# Restoring a backup: `restore.sh`\n## API: `npm run bench:api`\n## Run it\n## Run it\n")])
            .toEqual(["restoring-a-backup-restoresh", "api-npm-run-benchapi", "run-it", "run-it-1"]);
    });
});
