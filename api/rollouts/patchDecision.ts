/**
 * Whether moving a database from one image to another is a patch a rollout
 * may apply, and of which type; and the bounded, redacted excerpt of a patch's
 * output that a rollout step keeps. Pure: no I/O. The image grammar is the
 * catalog's (contracts/catalog.ts), the dotted-version arithmetic the
 * reports' (domain/reports.ts), so "unpatched" and "patchable" agree.
 */
import { parseImageReference, postgresMajor } from "../../contracts/catalog";
import { compareVersions, imageVersion } from "../domain/reports";

/** `database`: a newer PostgreSQL minor of the same major; `os`: the same tag rebuilt (new digest: base image, libraries). */
export type PatchType = "database" | "os";

export const PATCH_REFUSALS = ["major_change", "older_image", "different_image", "nothing_to_patch"] as const;
export type PatchRefusal = (typeof PATCH_REFUSALS)[number];

export type PatchDecision =
    | { readonly ok: true; readonly type: PatchType }
    | { readonly ok: false; readonly refusal: PatchRefusal; readonly reason: string };

const refuse = (refusal: PatchRefusal, reason: string): PatchDecision => ({ ok: false, refusal, reason });

/** Whether `from` → `to` is a patch (and which), or why not. */
export function decidePatch(from: string, to: string): PatchDecision {
    if (from === to) return refuse("nothing_to_patch", `already on ${to}`);
    const a = parseImageReference(from);
    const b = parseImageReference(to);
    if (a === undefined || b === undefined) return refuse("different_image", `${a === undefined ? from : to} is not an image reference`);
    if (a.name !== b.name) return refuse("different_image", `${to} is another repository than ${from} (${b.name} instead of ${a.name}); moving between images is not a patch`);
    if (a.tag === b.tag) {
        // Same tag (or both digest-only): only the digest differs, i.e. the same PostgreSQL rebuilt.
        if (a.digest === b.digest) return refuse("nothing_to_patch", `already on ${to}`);
        if (a.tag === undefined) return refuse("different_image", `${from} and ${to} are pinned by digest only, so their versions cannot be compared; give the catalog image a tag`);
        return { ok: true, type: "os" };
    }
    if (a.tag === undefined || b.tag === undefined) return refuse("different_image", `${from} → ${to}: one has no tag, so their versions cannot be compared`);
    const va = imageVersion(from);
    const vb = imageVersion(to);
    const ma = postgresMajor(from);
    const mb = postgresMajor(to);
    if (va === undefined || vb === undefined || ma === undefined || mb === undefined) {
        return refuse("different_image", `the tags ${a.tag} and ${b.tag} are not both PostgreSQL versions, so they cannot be compared`);
    }
    const order = compareVersions(va, vb);
    if (order > 0) return refuse("older_image", `${to} is older than ${from}; a rollout only moves forward`);
    if (ma !== mb) return refuse("major_change", `${from} → ${to} changes the major version (${ma} → ${mb}); that needs an upgrade, not a patch`);
    // Same numbers, another flavour (17.2 → 17.2-alpine): a different image, not a newer one.
    if (order === 0) return refuse("different_image", `${from} → ${to} is another flavour of the same version, not a patch`);
    return { ok: true, type: "database" };
}

/** What replaces a secret in an excerpt. */
export const REDACTED = "[redacted]";

// postgres:// and postgresql:// URLs with a password: `scheme://user:password@`.
const PG_URL_PASSWORD = /(postgres(?:ql)?:\/\/[^\s:/@]*:)[^\s@]*@/gi;

/**
 * The last `limit` characters of `output` (where a failure's reason is) after
 * every given secret and every postgres:// password is replaced by
 * `[redacted]`. Redaction comes first, so a bound cannot cut a secret into a
 * part that escapes it.
 */
export function outputExcerpt(output: string, secrets: readonly string[], limit: number): string {
    let text = output;
    // Longest first: a secret that contains another is replaced whole.
    for (const s of [...secrets].filter((s) => s !== "").sort((x, y) => y.length - x.length)) text = text.split(s).join(REDACTED);
    text = text.replace(PG_URL_PASSWORD, `$1${REDACTED}@`);
    if (text.length <= limit) return text;
    if (limit <= 1) return text.slice(text.length - Math.max(0, limit));
    return `…${text.slice(text.length - (limit - 1))}`;
}
