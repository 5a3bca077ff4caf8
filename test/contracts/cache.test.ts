/**
 * The cache's pure decisions: the key's URL, identity from headers and from
 * the fetch step's report, the match rule (ETag, Last-Modified + length,
 * SHA-256), the candidate for a new database, and eviction by age and size.
 */
import { describe, expect, it } from "vitest";
import {
    cacheKeyUrl, chooseCandidate, chooseEvictions, cloneFromSchema, FETCH_REPORT_PREFIX, goldenVolumeName, hasValidators, identityFromHeaders,
    identityMatches, parseFetchReport, type CacheCandidate,
} from "../../contracts/cache";

const SHA_A = "a".repeat(64);
const SHA_B = "b".repeat(64);
const now = new Date("2026-12-02T12:00:00Z");
const hoursAgo = (h: number) => new Date(now.getTime() - h * 3_600_000);

const entry = (over: Partial<CacheCandidate> & { id: number }): CacheCandidate => ({
    url: "https://backups.example.com/orders.dump",
    docker_host: "unix:///var/run/docker.sock",
    image: "postgres:17.2",
    state: "ready",
    identity: { etag: '"v1"', sha256: SHA_A },
    bytes: 100,
    last_used_at: hoursAgo(1),
    ...over,
});

describe("cacheKeyUrl", () => {
    it("drops a presigned URL's query and fragment (a secret that changes on every request)", () => {
        expect(cacheKeyUrl("https://s3.example.com/b/orders.dump?X-Amz-Signature=abc&X-Amz-Expires=60#x")).toBe("https://s3.example.com/b/orders.dump");
    });
    it("keeps a non-default port", () => expect(cacheKeyUrl("https://h.example.com:8443/a")).toBe("https://h.example.com:8443/a"));
});

describe("identityFromHeaders", () => {
    it("reads ETag, Last-Modified and Content-Length in any case", () => {
        expect(identityFromHeaders({ ETag: '"abc"', "last-modified": "Tue, 01 Dec 2026 10:00:00 GMT", "Content-Length": "358000000" }))
            .toEqual({ etag: '"abc"', last_modified: "Tue, 01 Dec 2026 10:00:00 GMT", content_length: 358_000_000 });
    });
    it("drops a weak ETag (it does not promise equal bytes) and a length that is not a number", () => {
        expect(identityFromHeaders({ etag: 'W/"abc"', "content-length": "12x" })).toEqual({});
    });
});

describe("identityMatches", () => {
    it.each([
        ["same ETag", { etag: '"1"' }, { etag: '"1"', sha256: SHA_B }, true],
        ["changed ETag", { etag: '"1"' }, { etag: '"2"' }, false],
        ["ETag gone", { etag: '"1"' }, { last_modified: "x", content_length: 1 }, false],
        ["same Last-Modified and length", { last_modified: "x", content_length: 5 }, { last_modified: "x", content_length: 5 }, true],
        ["same Last-Modified, other length", { last_modified: "x", content_length: 5 }, { last_modified: "x", content_length: 6 }, false],
        ["no validators, same checksum", { sha256: SHA_A }, { sha256: SHA_A }, true],
        ["no validators, changed checksum", { sha256: SHA_A }, { sha256: SHA_B }, false],
        ["nothing to compare", {}, {}, false],
    ])("%s", (_what, expected, seen, result) => expect(identityMatches(expected, seen)).toBe(result));

    it("needs a strong ETag or Last-Modified with the length to skip the download", () => {
        expect(hasValidators({ etag: '"1"' })).toBe(true);
        expect(hasValidators({ last_modified: "x" })).toBe(false);
        expect(hasValidators({ sha256: SHA_A })).toBe(false);
    });
});

describe("parseFetchReport", () => {
    const report = (lines: string[]) => ["fetch: downloading https://h/x (pinned to 203.0.113.7)", ...lines.map((l) => FETCH_REPORT_PREFIX + l), ""].join("\n");
    it("reads a restore's identity", () => {
        expect(parseFetchReport(report(["made=restored", 'etag="v1"', "content-length=42", `sha256=${SHA_A}`])))
            .toEqual({ made: "restored", identity: { etag: '"v1"', content_length: 42, sha256: SHA_A } });
    });
    it("reads a clone (no download, so no checksum of its own)", () => {
        expect(parseFetchReport(report(["made=cloned", "last-modified=Tue, 01 Dec 2026 10:00:00 GMT", "content-length=7"])))
            .toEqual({ made: "cloned", identity: { last_modified: "Tue, 01 Dec 2026 10:00:00 GMT", content_length: 7 } });
    });
    it("is undefined without a report (no backup, or the database already existed)", () => {
        expect(parseFetchReport("fetch: database already initialised, nothing to download\n")).toBeUndefined();
        expect(parseFetchReport(undefined)).toBeUndefined();
    });
    it("ignores a malformed checksum rather than storing it", () => {
        expect(parseFetchReport(report(["made=restored", "sha256=nothex"]))?.identity).toEqual({});
    });
});

describe("chooseCandidate", () => {
    const want = { url: "https://backups.example.com/orders.dump?sig=1", docker_host: "unix:///var/run/docker.sock", image: "postgres:17.2", fresh: false };
    it("picks the most recently used ready entry of the same URL, host and image", () => {
        const entries = [entry({ id: 1, last_used_at: hoursAgo(5) }), entry({ id: 2, last_used_at: hoursAgo(2) }), entry({ id: 3, state: "evicted", last_used_at: hoursAgo(0) })];
        expect(chooseCandidate(entries, want)?.id).toBe(2);
    });
    it.each([
        ["another image (a data directory is major- and build-specific)", { image: "postgres:17.3" }],
        ["another Docker host", { docker_host: "tcp://other:2376" }],
        ["another path", { url: "https://backups.example.com/other.dump" }],
    ])("misses for %s", (_what, over) => expect(chooseCandidate([entry({ id: 1, ...over })], want)).toBeUndefined());
    it("skips the cache for fresh: true", () => expect(chooseCandidate([entry({ id: 1 })], { ...want, fresh: true })).toBeUndefined());
    it("never picks an entry with nothing to compare", () => expect(chooseCandidate([entry({ id: 1, identity: {} })], want)).toBeUndefined());
});

describe("chooseEvictions", () => {
    const limits = { maxBytes: 250, maxAgeHours: 24 };
    it("evicts entries unused longer than the age limit", () => {
        expect(chooseEvictions([entry({ id: 1, last_used_at: hoursAgo(25) }), entry({ id: 2 })], now, limits))
            .toEqual([{ id: 1, reason: "unused for more than 24 h" }]);
    });
    it("then the least recently used until the rest fit the size limit", () => {
        const entries = [entry({ id: 1, last_used_at: hoursAgo(3) }), entry({ id: 2, last_used_at: hoursAgo(1) }), entry({ id: 3, last_used_at: hoursAgo(2) })];
        expect(chooseEvictions(entries, now, limits).map((e) => e.id)).toEqual([1]);
        expect(chooseEvictions(entries, now, { ...limits, maxBytes: 100 }).map((e) => e.id)).toEqual([1, 3]);
    });
    it("leaves evicted entries and a cache within its limits alone", () => {
        expect(chooseEvictions([entry({ id: 1, state: "evicted", last_used_at: hoursAgo(99) }), entry({ id: 2 })], now, limits)).toEqual([]);
    });
});

describe("clone_from", () => {
    it("names a golden volume of the cache", () => {
        expect(cloneFromSchema.parse({ cache_id: 7, volume: goldenVolumeName(7), identity: { etag: '"1"' } }).volume).toBe("dbaas-cache-7");
        expect(() => cloneFromSchema.parse({ cache_id: 7, volume: "dbaas-db-other-data", identity: {} })).toThrow(/golden volume/);
    });
});
