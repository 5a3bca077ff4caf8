import { describe, expect, it } from "vitest";
import { catalogImages, defaultVersion, findVersion, isValidImageReference, parseCatalogJson, parseImageReference, postgresMajor, type VersionCatalog } from "../../contracts/catalog";

describe("image references", () => {
    it.each([
        ["postgres:17", true],
        ["postgres:17.2", true],
        ["postgres:16.4-alpine", true],
        ["registry.example.com/team/postgres:16", true],
        ["registry.example.com:5000/postgres:16", true],
        [`postgres@sha256:${"a".repeat(64)}`, true],
        [`postgres:17@sha256:${"b".repeat(64)}`, true],
        ["postgres", false],
        ["postgres:latest", false],
        ["postgres 17", false],
        ["Postgres:17", false],
        ["postgres:", false],
        [`postgres@sha256:${"a".repeat(63)}`, false],
        ["http://postgres:17", false],
    ])("%s -> %s", (ref, ok) => expect(isValidImageReference(ref)).toBe(ok));

    it.each([
        ["postgres:17", 17],
        ["postgres:16.4-alpine", 16],
        ["registry.example.com:5000/postgres:15.10", 15],
        [`postgres@sha256:${"a".repeat(64)}`, undefined],
        ["postgres:bookworm", undefined],
    ])("postgresMajor(%s) = %s", (ref, major) => expect(postgresMajor(ref)).toBe(major));
});

describe("catalog", () => {
    const catalog: VersionCatalog = [
        { label: "PostgreSQL 17", image: "postgres:17.2" },
        { label: "PostgreSQL 16", image: "postgres:16.6" },
        { label: "PostgreSQL 16 (pinned)", image: "postgres:16.6" },
    ];
    it("the first entry is the default", () => expect(defaultVersion(catalog).label).toBe("PostgreSQL 17"));
    it("finds by label, then by image", () => {
        expect(findVersion(catalog, "PostgreSQL 16")?.image).toBe("postgres:16.6");
        expect(findVersion(catalog, "postgres:17.2")?.label).toBe("PostgreSQL 17");
        expect(findVersion(catalog, "PostgreSQL 9.5")).toBeUndefined();
    });
    it("lists each image once", () => expect(catalogImages(catalog)).toEqual(["postgres:17.2", "postgres:16.6"]));
    it("parses the JSON handed to the API and names the bad entry", () => {
        expect(parseCatalogJson(JSON.stringify(catalog))).toEqual(catalog);
        expect(() => parseCatalogJson("[]")).toThrow("version catalog: expected at least one version (the first is the default)");
        expect(() => parseCatalogJson('[{"label":"x","image":"postgres:latest"}]')).toThrow("version catalog[0].image: expected an image with a tag or digest");
        expect(() => parseCatalogJson("{")).toThrow("version catalog is not valid JSON");
    });
});

describe("parseImageReference (the grammar the catalog and the policy pack share)", () => {
    it.each<[string, { name: string; tag?: string; digest?: string } | undefined]>([
        ["postgres:17", { name: "postgres", tag: "17" }],
        ["localhost:5000/team/pg:16.4-alpine", { name: "localhost:5000/team/pg", tag: "16.4-alpine" }],
        [`postgres@sha256:${"a".repeat(64)}`, { name: "postgres", digest: `sha256:${"a".repeat(64)}` }],
        [`ghcr.io/x/pg:17@sha512:${"b".repeat(128)}`, { name: "ghcr.io/x/pg", tag: "17", digest: `sha512:${"b".repeat(128)}` }],
        ["postgres", { name: "postgres" }],
        ["Postgres:17", undefined],
        ["postgres:", undefined],
        ["postgres@sha256:short", undefined],
    ])("%s", (ref, parts) => {
        expect(parseImageReference(ref)).toEqual(parts);
    });

    it("a catalog entry pins by sha256 only, though the grammar reads other digests", () => {
        expect(isValidImageReference(`ghcr.io/x/pg:17@sha512:${"b".repeat(128)}`)).toBe(false);
        expect(isValidImageReference(`ghcr.io/x/pg:17@sha256:${"b".repeat(64)}`)).toBe(true);
    });
});
