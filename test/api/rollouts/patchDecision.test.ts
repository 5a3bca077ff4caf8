/** decidePatch and outputExcerpt: which image changes a rollout applies, and what a step keeps of the output. */
import { describe, expect, it } from "vitest";
import { knownSecrets } from "../../../api/rollouts/driver";
import { decidePatch, outputExcerpt, REDACTED } from "../../../api/rollouts/patchDecision";

const D1 = `sha256:${"a".repeat(64)}`;
const D2 = `sha256:${"b".repeat(64)}`;

describe("decidePatch", () => {
    it.each([
        ["postgres:17.2", "postgres:17.3"],
        ["postgres:17.2", "postgres:17.10"],
        ["postgres:17", "postgres:17.3"],
        ["postgres:16.4-alpine", "postgres:16.5-alpine"],
        ["registry.example.com:5000/team/postgres:17.2", "registry.example.com:5000/team/postgres:17.3"],
        [`postgres:17.2@${D1}`, `postgres:17.3@${D2}`],
    ])("%s → %s is a database patch", (from, to) => {
        expect(decidePatch(from, to)).toEqual({ ok: true, type: "database" });
    });

    it.each([
        [`postgres:17.2@${D1}`, `postgres:17.2@${D2}`],
        ["postgres:17.2", `postgres:17.2@${D2}`],
        [`postgres:17.2@${D1}`, "postgres:17.2"],
    ])("%s → %s (same tag, new digest) is an os patch", (from, to) => {
        expect(decidePatch(from, to)).toEqual({ ok: true, type: "os" });
    });

    it.each([
        ["postgres:17.2", "postgres:18.1", "major_change", /changes the major version \(17 → 18\); that needs an upgrade, not a patch/],
        ["postgres:16.6", "postgres:17.0", "major_change", /needs an upgrade, not a patch/],
        ["postgres:17.3", "postgres:17.2", "older_image", /older than postgres:17.3/],
        ["postgres:17.3", "postgres:16.9", "older_image", /older/],
        ["postgres:17.2", "ghcr.io/x/postgres:17.3", "different_image", /another repository/],
        ["postgres:17.2", "postgres:17.2-alpine", "different_image", /another flavour/],
        ["postgres:17.2", "postgres:bookworm", "different_image", /cannot be compared/],
        [`postgres@${D1}`, `postgres@${D2}`, "different_image", /digest only/],
        ["postgres:17.2", `postgres@${D2}`, "different_image", /no tag/],
        ["not an image!", "postgres:17.3", "different_image", /not an image reference/],
        ["postgres:17.2", "postgres:17.2", "nothing_to_patch", /already on postgres:17.2/],
        [`postgres:17.2@${D1}`, `postgres:17.2@${D1}`, "nothing_to_patch", /already on/],
    ])("%s → %s is refused: %s", (from, to, refusal, reason) => {
        const d = decidePatch(from, to);
        expect(d.ok).toBe(false);
        if (d.ok) return;
        expect(d.refusal).toBe(refusal);
        expect(d.reason).toMatch(reason);
    });
});

describe("outputExcerpt", () => {
    it.each([
        ["given secrets", "password is hunter2-xyz, again hunter2-xyz", ["hunter2-xyz"], 200, `password is ${REDACTED}, again ${REDACTED}`],
        ["postgres:// passwords", "connect postgresql://owner:s3cr3t@db:5432/app failed", [], 200, `connect postgresql://owner:${REDACTED}@db:5432/app failed`],
        ["postgres:// with an empty user", "postgres://:pw@h/x", [], 200, `postgres://:${REDACTED}@h/x`],
        ["a URL without a password", "postgres://owner@h/x ok", [], 200, "postgres://owner@h/x ok"],
        ["the longer of two overlapping secrets whole", "key=abcdef", ["abc", "abcdef"], 200, `key=${REDACTED}`],
        ["nothing when empty secrets are given", "plain", [""], 200, "plain"],
        ["to the last characters, marked", "0123456789", [], 5, "…6789"],
        ["to exactly the limit when it fits", "01234", [], 5, "01234"],
    ])("redacts or bounds %s", (_what, output, secrets, limit, expected) => {
        expect(outputExcerpt(output, secrets, limit)).toBe(expected);
    });

    it("redacts before bounding, so a secret cut by the bound does not leak its tail", () => {
        const out = outputExcerpt(`start ${"x".repeat(50)} token=TOPSECRETVALUE end`, ["TOPSECRETVALUE"], 20);
        expect(out).not.toMatch(/SECRET|VALUE|ECRETV/);
        expect(out.length).toBe(20);
        expect(out.endsWith(`${REDACTED} end`)).toBe(true);
    });
});

describe("knownSecrets", () => {
    it.each([
        ["no backup location", undefined, []],
        ["a location without a query", "https://backups.example.com/db.dump", []],
        ["a signed URL: the query and each long value", "https://api.example.com/backups/x/content?expires=1700000000&sig=abcdef0123456789", ["expires=1700000000&sig=abcdef0123456789", "1700000000", "abcdef0123456789"]],
        ["short values are not treated as secrets", "https://h.example.com/x?a=1", []],
    ])("%s", (_what, location, expected) => {
        const spec = location === undefined ? {} : { backup_location: location };
        expect(knownSecrets({ spec } as Parameters<typeof knownSecrets>[0])).toEqual(expected);
    });
});
