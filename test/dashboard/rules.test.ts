/**
 * The dashboard's pure parts, without a browser: the create form's checks
 * agree with the API's rules (same zod fields), API errors land on the right
 * form field, SSE frames are split correctly across chunk boundaries, and the
 * list sorts and filters as the user asked.
 */
import { describe, expect, it } from "vitest";
import { DATABASE_NAME_MAX_LENGTH } from "../../contracts/database";
import { createDatabaseBody } from "../../contracts/api";
import type { DatabaseView } from "../../dashboard/src/api";
import { arrange } from "../../dashboard/src/list";
import { parseSseFrames } from "../../dashboard/src/sse";
import { checkCreateForm, formFieldOf, splitRanges, toBody, type FormValues } from "../../dashboard/src/validate";

const good: FormValues = {
    project_id: "proj-1", owner: "alice", name: "app-db", version: "PostgreSQL 17",
    backup_location: "", backup_id: "", ttl_hours: "", source_ranges: "",
};
const BACKUP_ID = "3b0e6a1c-5f0d-4c52-9a57-2b8f1e7d9c10";

describe("create form checks", () => {
    it.each<[string, Partial<FormValues>, string, RegExp]>([
        ["an upper-case name", { name: "App" }, "name", /DNS-1035/],
        ["a name ending in a hyphen", { name: "app-" }, "name", /DNS-1035/],
        ["a name starting with a digit", { name: "1app" }, "name", /DNS-1035/],
        ["a too long name", { name: "a".repeat(DATABASE_NAME_MAX_LENGTH + 1) }, "name", new RegExp(`at most ${DATABASE_NAME_MAX_LENGTH}`)],
        ["an empty project", { project_id: "" }, "project_id", /project/],
        ["an empty owner", { owner: " " }, "owner", /owner/],
        ["an http backup URL", { backup_location: "http://backups.example.com/x.dump" }, "backup_location", /https:\/\//],
        ["a backup location that is no URL", { backup_location: "backups" }, "backup_location", /URL|url/],
        ["a fractional TTL", { ttl_hours: "1.5" }, "ttl_hours", /whole number/],
        ["a zero TTL", { ttl_hours: "0" }, "ttl_hours", /positive/],
        ["a bad CIDR", { source_ranges: "10.0.0.0/8\n300.1.1.1/8" }, "source_ranges", /CIDR.*\(300\.1\.1\.1\/8\)/],
        ["a stored backup id that is no UUID", { backup_id: "latest" }, "backup_id", /backup id/],
        ["both a stored backup and a backup URL", { backup_id: BACKUP_ID, backup_location: "https://backups.example.com/x.dump" }, "backup_id", /either backup_id or backup_location, not both/],
    ])("refuses %s on its field", (_what, change, field, message) => {
        const errors = checkCreateForm({ ...good, ...change });
        expect(Object.keys(errors)).toEqual([field]);
        expect(errors[field as keyof FormValues]).toMatch(message);
        expect(errors[field as keyof FormValues]).toMatch(/^Expected /);
    });

    it.each<[string, Partial<FormValues>]>([
        ["the minimum", {}],
        ["every field", { backup_location: "https://backups.example.com/x.dump", ttl_hours: "12", source_ranges: "203.0.113.0/24, 2001:db8::/48" }],
        ["a 40-character name", { name: `a${"b".repeat(DATABASE_NAME_MAX_LENGTH - 1)}` }],
        ["a stored backup as the source", { backup_id: ` ${BACKUP_ID} ` }],
    ])("accepts %s, and the API's schema accepts the same body", (_what, change) => {
        const v = { ...good, ...change };
        expect(checkCreateForm(v)).toEqual({});
        expect(createDatabaseBody.safeParse(toBody(v)).success).toBe(true);
    });

    it("leaves empty optional fields out of the body", () => {
        expect(toBody(good)).toEqual({ project_id: "proj-1", owner: "alice", name: "app-db", db_type: "postgres", version: "PostgreSQL 17" });
        expect(splitRanges(" 10.0.0.0/8,\n\n192.0.2.0/24 ")).toEqual(["10.0.0.0/8", "192.0.2.0/24"]);
    });

    it.each([
        ["body.name", "name"],
        ["body.source_ranges[2]", "source_ranges"],
        ["body.backup_location", "backup_location"],
        ["body.backup_id", "backup_id"],
        ["body", undefined],
        ["header.authorization", undefined],
        ["body.db_type", undefined],
    ])("maps the API's field %s to the form field %s", (api, form) => {
        expect(formFieldOf(api)).toBe(form);
    });
});

describe("SSE frames", () => {
    const stream = "retry: 2000\n\nid: 1\nevent: status\ndata: {\"message\":\"queued\"}\n\n: heartbeat\n\nid: 2\nevent: end\ndata: {\"status\":\"succeeded\"}\n\n";
    it.each([1, 3, 7, 1000])("gives the same events in order when the stream arrives in %i-character chunks", (size) => {
        const events: { id?: string; event: string; data: string }[] = [];
        let rest = "";
        for (let i = 0; i < stream.length; i += size) {
            const r = parseSseFrames(rest + stream.slice(i, i + size));
            events.push(...r.events);
            rest = r.rest;
        }
        expect(rest).toBe("");
        expect(events).toEqual([
            { id: "1", event: "status", data: "{\"message\":\"queued\"}" },
            { id: "2", event: "end", data: "{\"status\":\"succeeded\"}" },
        ]);
    });

    it("joins multi-line data and accepts CRLF", () => {
        expect(parseSseFrames("data: a\r\ndata: b\r\n\r\n").events).toEqual([{ event: "message", data: "a\nb" }]);
    });
});

describe("list sorting and filtering", () => {
    const db = (name: string, owner: string, state: DatabaseView["state"], created: string) =>
        ({ name, owner, state, project_id: "p", version: "PostgreSQL 17", created_at: created, expires_at: created }) as DatabaseView;
    const rows = [
        db("beta", "bob", "ready", "2026-01-02T00:00:00Z"),
        db("alpha", "alice", "failed", "2026-01-03T00:00:00Z"),
        db("gamma", "alice", "deleted", "2026-01-01T00:00:00Z"),
    ];
    const v: Parameters<typeof arrange>[1] = { sort: "created_at", descending: true, text: "", state: "" };
    it.each<[string, Partial<typeof v>, string[]]>([
        ["newest first, deleted hidden", {}, ["alpha", "beta"]],
        ["by name", { sort: "name", descending: false }, ["alpha", "beta"]],
        ["by owner, descending", { sort: "owner", descending: true }, ["beta", "alpha"]],
        ["by owner text", { text: "ALI" }, ["alpha"]],
        ["deleted ones when asked", { state: "deleted" }, ["gamma"]],
        ["by state", { state: "ready" }, ["beta"]],
    ])("%s", (_what, change, names) => {
        expect(arrange(rows, { ...v, ...change }).map((d) => d.name)).toEqual(names);
    });
});
