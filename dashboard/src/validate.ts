/**
 * Client-side checks of the create form: the API's own zod fields
 * (contracts/database.ts), so the page and the API cannot disagree on a
 * name, a CIDR or a URL. What only the server can know (a taken name, the
 * backup host allow-list and its DNS, TTL bounds from its config) comes back
 * as problem+json and is mapped onto the same fields.
 */
import { z } from "zod";
import { createDatabaseFields, databaseSpecSchema } from "../../contracts/database";

export const FORM_FIELDS = ["project_id", "owner", "name", "version", "backup_location", "backup_id", "ttl_hours", "source_ranges"] as const;
export type FormField = (typeof FORM_FIELDS)[number];
export type FormValues = Record<FormField, string>;
export type FieldErrors = Partial<Record<FormField, string>>;

const bodySchema = z.object({
    ...createDatabaseFields,
    // The spec's stricter form: an https:// URL (the API then checks the host and its addresses).
    backup_location: databaseSpecSchema.shape.backup_location,
}).strict();

/** Source ranges as typed: one per line or separated by commas/spaces. */
export function splitRanges(text: string): string[] {
    return text.split(/[\s,]+/).filter((s) => s !== "");
}

/** The request body for the form values: trimmed, optional fields left out when empty. */
export function toBody(v: FormValues): Record<string, unknown> {
    const body: Record<string, unknown> = {
        project_id: v.project_id.trim(),
        owner: v.owner.trim(),
        name: v.name.trim(),
        db_type: "postgres",
    };
    if (v.version !== "") body.version = v.version;
    if (v.backup_location.trim() !== "") body.backup_location = v.backup_location.trim();
    if (v.backup_id.trim() !== "") body.backup_id = v.backup_id.trim();
    if (v.ttl_hours.trim() !== "") body.ttl_hours = Number(v.ttl_hours.trim());
    const ranges = splitRanges(v.source_ranges);
    if (ranges.length > 0) body.source_ranges = ranges;
    return body;
}

/** The form field an API error names (`body.source_ranges[1]` → `source_ranges`), if it is one. */
export function formFieldOf(apiField: string): FormField | undefined {
    const m = /^body\.([a-z_]+)/.exec(apiField);
    const f = m?.[1];
    return (FORM_FIELDS as readonly string[]).includes(f ?? "") ? (f as FormField) : undefined;
}

/** Messages read "Expected <rule>", the way the API's details do. */
export function expected(rule: string): string {
    const r = rule.replace(/^Invalid input: expected /, "").replace(/^Invalid /, "a valid ");
    return `Expected ${r}`;
}

/** Checks the form; the first message per field. */
export function checkCreateForm(v: FormValues): FieldErrors {
    const body = toBody(v);
    const errors: FieldErrors = {};
    if (v.ttl_hours.trim() !== "" && !/^\d+$/.test(v.ttl_hours.trim())) errors.ttl_hours = expected("a whole number of hours");
    // The API's rule (api/domain/databases.ts), in its words: one source at most.
    if (body.backup_id !== undefined && body.backup_location !== undefined) errors.backup_id = expected("either backup_id or backup_location, not both");
    const parsed = bodySchema.safeParse(body);
    if (!parsed.success) {
        for (const issue of parsed.error.issues) {
            const f = issue.path[0];
            if (typeof f !== "string" || !(FORM_FIELDS as readonly string[]).includes(f)) continue;
            const field = f as FormField;
            if (errors[field] !== undefined) continue;
            const which = field === "source_ranges" && typeof issue.path[1] === "number" ? ` (${String(splitRanges(v.source_ranges)[issue.path[1]])})` : "";
            errors[field] = expected(issue.message) + which;
        }
    }
    return errors;
}
