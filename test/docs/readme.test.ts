import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { renderReadme } from "../../scripts/readme";
import { ROOT } from "../support/harness";

describe("README", () => {
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    it("is the assembly of docs/readme/*.md (run `npm run readme`)", () => {
        expect(readme).toBe(renderReadme());
    });
    it("names the test command that .ci/run calls", () => {
        const ci = fs.readFileSync(path.join(ROOT, ".ci", "run"), "utf8");
        expect(ci).toMatch(/^npm test$/m);
        expect(readme).toContain("npm test");
    });
});
