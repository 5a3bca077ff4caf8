/**
 * RFC 9457 problem details: every error the API answers is one of these,
 * rendered by the single error handler in app.ts as application/problem+json.
 * Details name the field and the rule; they never carry secrets, stack traces
 * or engine/CLI output.
 */
import { z } from "zod";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";
const TYPE_BASE = "https://dbaas.dev/problems/";

/** One field-level reason: where (e.g. `body.name`) and which rule it broke. */
export interface FieldProblem {
    readonly field: string;
    readonly rule: string;
}

export class ApiProblem extends Error {
    constructor(
        readonly status: number,
        /** Short slug, becomes the `type` URI. */
        readonly slug: string,
        readonly title: string,
        readonly detail: string,
        readonly extra: Readonly<Record<string, unknown>> = {},
    ) {
        super(detail);
        this.name = "ApiProblem";
    }
}

export const problemSchema = z.object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string(),
    errors: z.array(z.object({ field: z.string(), rule: z.string() })).optional(),
    state: z.string().optional(),
}).loose();

export type ProblemBody = z.output<typeof problemSchema>;

export function problemBody(p: ApiProblem, requestId: string): ProblemBody {
    return { type: TYPE_BASE + p.slug, title: p.title, status: p.status, detail: p.detail, instance: requestId, ...p.extra };
}

/** 400/422 naming every field and rule. */
export function invalidRequest(errors: readonly FieldProblem[], status = 400): ApiProblem {
    const detail = errors.map((e) => `${e.field}: expected ${e.rule}`).join("; ");
    return new ApiProblem(status, "invalid-request", "The request is not valid", detail, { errors });
}

export function invalidField(field: string, rule: string, status = 422): ApiProblem {
    return invalidRequest([{ field, rule }], status);
}

/** Every detail starts with the field it is about, then the rule ("expected ..."), as validation errors do. */
export const problems = {
    unauthorized: (why: string) => new ApiProblem(401, "unauthorized", "Authentication required", `header.authorization: expected a valid bearer token (${why})`, { errors: [{ field: "header.authorization", rule: "a valid bearer token: Authorization: Bearer <token>" }] }),
    forbidden: (field: string, rule: string) => new ApiProblem(403, "forbidden", "Not allowed", `${field}: expected ${rule}`, { errors: [{ field, rule }] }),
    notFound: (what: string, field = "params.name") => new ApiProblem(404, "not-found", "Not found", `${field}: expected an existing database you own (${what} does not exist or is not yours)`, { errors: [{ field, rule: "an existing database you own" }] }),
    routeNotFound: (method: string, url: string) => new ApiProblem(404, "not-found", "Not found", `url: expected a route listed in /openapi.json (no route ${method} ${(url.split("?")[0] ?? "").slice(0, 200)})`, { errors: [{ field: "url", rule: "a route listed in /openapi.json" }] }),
    conflict: (field: string, rule: string, state?: string) => new ApiProblem(409, "conflict", "Conflict with the current state", `${field}: expected ${rule}`, { errors: [{ field, rule }], ...(state === undefined ? {} : { state }) }),
    tooLarge: (limit: number) => new ApiProblem(413, "payload-too-large", "Request body too large", `body: expected at most ${limit} bytes`, { errors: [{ field: "body", rule: `at most ${limit} bytes` }] }),
    unsupportedMediaType: (type: string) => new ApiProblem(415, "unsupported-media-type", "Unsupported media type", `header.content-type: expected application/json, got ${JSON.stringify(type.slice(0, 60))}`, { errors: [{ field: "header.content-type", rule: "application/json" }] }),
    rateLimited: (after: string) => new ApiProblem(429, "rate-limited", "Too many requests", `header.authorization: expected fewer requests per minute for this token; retry after ${after}`, { errors: [{ field: "header.authorization", rule: "fewer requests per minute for this token" }] }),
    unavailable: (reasons: readonly string[]) => new ApiProblem(503, "unavailable", "Service unavailable", reasons.join("; "), { reasons }),
    internal: () => new ApiProblem(500, "internal", "Internal error", "the server failed to handle the request; the request id identifies it in the server log"),
};
