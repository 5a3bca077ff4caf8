/**
 * The pure parts of the backups, activities and contacts views, without a
 * browser: the contact forms' bodies agree with the API's schemas (and say
 * what the schemas cannot: one channel at least, an expiry in the future),
 * an API refusal lands on the field it names, the create-from-backup link
 * round-trips through the create form's route, and an activity's detail reads
 * as text. The views themselves are driven in Chromium by views.test.ts.
 */
import { describe, expect, it } from "vitest";
import { createContactBody, patchContactBody } from "../../contracts/activities";
import { detailText } from "../../dashboard/src/activities";
import { ApiError } from "../../dashboard/src/api";
import { createFromBackupHash } from "../../dashboard/src/backups";
import { createRequest, localInput, patchRequest, type ContactValues } from "../../dashboard/src/contacts";
import { prefillOf } from "../../dashboard/src/create";
import { problemMessages } from "../../dashboard/src/forms";

const NOW = Date.parse("2026-12-02T12:00:00Z");
const empty: ContactValues = { name: "", email: "", webhook_url: "", expires_at: "" };

describe("contact form bodies", () => {
    it("leaves empty fields out of a create, and the API's schema accepts it", () => {
        const r = createRequest({ ...empty, name: " On call ", email: "ops@example.com" }, NOW);
        expect(r).toEqual({ body: { name: "On call", email: "ops@example.com" } });
        if ("body" in r) expect(createContactBody.safeParse(r.body).success).toBe(true);
    });

    it("sends every field of an edit, an empty one as null (which clears it)", () => {
        const r = patchRequest({ ...empty, webhook_url: "https://hooks.example.com/x", expires_at: "2026-12-03T08:30:00Z" }, NOW);
        expect(r).toEqual({ body: { name: null, email: null, webhook_url: "https://hooks.example.com/x", expires_at: "2026-12-03T08:30:00.000Z" } });
        if ("body" in r) expect(patchContactBody.safeParse(r.body).success).toBe(true);
    });

    it.each<[string, Partial<ContactValues>, keyof ContactValues, RegExp]>([
        ["no channel", { name: "x" }, "email", /an email address or a webhook URL/],
        ["a bad email", { email: "ops-at-example" }, "email", /email address/],
        ["an expiry in the past", { email: "ops@example.com", expires_at: "2026-12-01T00:00:00Z" }, "expires_at", /in the future.*remove it/],
        ["an expiry that is no time", { email: "ops@example.com", expires_at: "soon" }, "expires_at", /date and time/],
        ["a name too long", { email: "ops@example.com", name: "n".repeat(101) }, "name", /at most 100/],
    ])("refuses %s on its field, in both forms", (_what, change, key, message) => {
        for (const r of [createRequest({ ...empty, ...change }, NOW), patchRequest({ ...empty, ...change }, NOW)]) {
            expect("errors" in r ? Object.keys(r.errors) : r).toEqual([key]);
            if ("errors" in r) expect(r.errors[key]).toMatch(message);
            if ("errors" in r) expect(r.errors[key]).toMatch(/^Expected /);
        }
    });

    it("shows an instant in the datetime-local form of this zone and reads it back", () => {
        const iso = "2026-12-03T08:30:15.000Z";
        expect(new Date(localInput(iso)).toISOString()).toBe(iso);
        expect(localInput(null)).toBe("");
    });
});

describe("API refusals on form fields", () => {
    const refusal = (errors: { field: string; rule: string }[]) =>
        new ApiError({ status: 400, title: "Invalid request", detail: "the request does not match the schema", errors });

    it("puts body.<field> at its field, in the API's words", () => {
        const r = problemMessages(refusal([{ field: "body.ticket_url", rule: "an https:// URL (got http)" }]), ["text", "ticket_url"]);
        expect(r).toEqual({ byField: { ticket_url: "Expected an https:// URL (got http)" }, other: [] });
    });

    it("keeps what names no field of the form, and the detail when nothing is named", () => {
        expect(problemMessages(refusal([{ field: "params.id", rule: "an activity id" }]), ["text"]).other).toEqual(["params.id: Expected an activity id"]);
        expect(problemMessages(new ApiError({ status: 404, title: "Not Found", detail: "no database orders" }), ["text"]))
            .toEqual({ byField: {}, other: ["Not Found: no database orders"] });
        expect(problemMessages(new Error("offline"), ["text"]).other).toEqual(["offline"]);
    });
});

describe("create from a backup", () => {
    it("passes the backup, the project and the version to the create form's route", () => {
        const hash = createFromBackupHash({ id: "3b0e6a1c-5f0d-4c52-9a57-2b8f1e7d9c10" }, { project_id: "shop.eu", version: "PostgreSQL 15" });
        expect(hash).toMatch(/^#\/new\?/);
        expect(prefillOf(hash)).toEqual({ backupId: "3b0e6a1c-5f0d-4c52-9a57-2b8f1e7d9c10", project: "shop.eu", version: "PostgreSQL 15" });
        expect(prefillOf("#/new")).toEqual({ backupId: "", project: "", version: "" });
    });
});

describe("activity detail", () => {
    it("reads plain values as text and leaves nested ones out", () => {
        expect(detailText({ reason: "the container did not become healthy", exit_code: 137, planned_by: { a: 1 } }))
            .toBe("reason: the container did not become healthy; exit code: 137");
        expect(detailText({})).toBe("");
    });
});
