/**
 * README.md is assembled from docs/readme/*.md (in file-name order), so each
 * area keeps its own section next to its peers. `npm run readme` rewrites it;
 * a test fails when README.md and the sections disagree.
 */
import * as fs from "node:fs";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..");
const SECTIONS = path.join(ROOT, "docs", "readme");

export function renderReadme(): string {
    const files = fs.readdirSync(SECTIONS).filter((f) => f.endsWith(".md")).sort();
    const body = files.map((f) => fs.readFileSync(path.join(SECTIONS, f), "utf8").trim()).join("\n\n");
    return `<!-- Generated from docs/readme/*.md by \`npm run readme\`; edit those files. -->\n${body}\n`;
}

if (require.main === module) {
    fs.writeFileSync(path.join(ROOT, "README.md"), renderReadme());
}
