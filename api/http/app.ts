/**
 * The Fastify application: plugins (auth, rate limit, OpenAPI), the one
 * error handler that turns every failure into application/problem+json, and
 * the routes. `buildServer` takes everything it talks to as dependencies
 * (start.ts builds them once, so tests and the benchmark get them with a test
 * engine and a test database).
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import rateLimit from "@fastify/rate-limit";
import swagger from "@fastify/swagger";
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import {
    hasZodFastifySchemaValidationErrors, jsonSchemaTransform, jsonSchemaTransformObject, serializerCompiler, validatorCompiler,
    type ZodTypeProvider,
} from "fastify-type-provider-zod";
import { bearerToken, type Principal, type TokenSource } from "./auth";
import type { ApiConfig } from "../config";
import { ApiProblem, invalidField, invalidRequest, PROBLEM_CONTENT_TYPE, problemBody, problems, type FieldProblem } from "./problems";
import { activityRoutes } from "./routes/activities";
import { backupRoutes } from "./routes/backups";
import { cacheRoutes } from "./routes/cache";
import { databaseRoutes } from "./routes/databases";
import { eventRoutes } from "./routes/events";
import { meRoutes } from "./routes/me";
import { metricsRoutes } from "./routes/metrics";
import { reportRoutes } from "./routes/reports";
import { rolloutRoutes } from "./routes/rollouts";
import { systemRoutes } from "./routes/system";
import { dashboardRoutes } from "./dashboard";
import type { Activities } from "../domain/activities";
import type { Contacts } from "../domain/contacts";
import type { Backups } from "../backups/backups";
import type { Rollouts } from "../rollouts/rollouts";
import type { RestoreCache } from "../cache/cache";
import type { Databases } from "../domain/databases";
import { ApiMetrics, UNMATCHED_ROUTE } from "../metrics";
import type { NotificationHub } from "../store/notifications";
import type { AdminStore } from "../store/store";

declare module "fastify" {
    interface FastifyRequest {
        /** Who sent the request; set by the auth hook on every non-public route. */
        principal?: Principal;
    }
    interface FastifyContextConfig {
        /** No token needed (health, readiness, OpenAPI). */
        public?: boolean;
    }
}

export type AppConfig = Pick<ApiConfig, "catalog" | "rateLimitPerMinute" | "bodyLimitBytes" | "trustProxy" | "prices"> & Partial<Pick<ApiConfig, "cache">>;

export interface ServerDeps {
    readonly config: AppConfig;
    readonly store: AdminStore;
    /** The API's rules; the routes call them (the same instance the reaper uses). */
    readonly databases: Databases;
    /** Activities and notes, contacts and deliveries (routes/activities.ts). */
    readonly activities: Activities;
    readonly contacts: Contacts;
    /** Backups of databases; without them the backup routes are absent. */
    readonly backups?: Backups;
    /** Rolling patches (admins); without them the rollout routes are absent. */
    readonly rollouts?: Rollouts;
    /** The restored-backup cache; without it (or without config.cache) the cache routes are absent. */
    readonly cache?: RestoreCache;
    readonly tokens: TokenSource;
    /** LISTEN/NOTIFY hub for SSE; without it SSE streams poll. */
    readonly hub?: NotificationHub;
    /** A pino logger; by default pino at `logLevel`. */
    readonly logger?: FastifyBaseLogger;
    readonly logLevel?: string;
    /** SSE heartbeat comment interval (default 15 s). */
    readonly sseHeartbeatMs?: number;
    /** Check every response against its schema (default false; the tests turn it on). */
    readonly validateResponses?: boolean;
    /** Prometheus metrics: request durations are observed, GET /metrics serves them (default: a new registry). */
    readonly metrics?: ApiMetrics;
}

const REQUEST_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

/** The incoming X-Request-ID (from nginx) when it is sane, else a new UUID. */
export function requestIdFor(req: IncomingMessage): string {
    const h = req.headers["x-request-id"];
    return typeof h === "string" && REQUEST_ID.test(h) ? h : randomUUID();
}

/** Where a zod issue points, as `body.name`, `query.limit`, `params.name`. */
function fieldOf(context: string | undefined, instancePath: string): string {
    const base = context === "querystring" ? "query" : context === "headers" ? "header" : (context ?? "request");
    const parts = instancePath.split("/").filter((p) => p !== "");
    return parts.reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : `${acc}.${p}`), base);
}

function ruleOf(v: { keyword: string; message?: string; params?: Record<string, unknown> }): string {
    const msg = v.message ?? "";
    if (v.keyword === "unrecognized_keys") {
        const keys = Array.isArray(v.params?.keys) ? (v.params.keys as unknown[]).map((k) => JSON.stringify(k)).join(", ") : "";
        return `no unknown fields (remove ${keys})`;
    }
    if (v.keyword === "invalid_type" && msg.startsWith("Invalid input")) {
        const expected = typeof v.params?.expected === "string" ? v.params.expected : "value";
        const article = /^[aeiou]/.test(expected) ? "an" : "a";
        return /received undefined/.test(msg) ? `${article} ${expected} (required)` : `${article} ${expected}`;
    }
    return msg.replace(/^Invalid input: expected /, "").replace(/^Invalid /, "a valid ");
}

/** Maps any error to a problem. Unknown errors become a bare 500; their text stays in the log. */
export function toProblem(err: FastifyError | Error): ApiProblem {
    if (err instanceof ApiProblem) return err;
    if (hasZodFastifySchemaValidationErrors(err)) {
        const context = (err as { validationContext?: string }).validationContext;
        const errors: FieldProblem[] = err.validation.map((v) => ({
            field: fieldOf(context, v.instancePath),
            rule: ruleOf(v as { keyword: string; message?: string; params?: Record<string, unknown> }),
        }));
        return invalidRequest(errors);
    }
    const code = (err as FastifyError).code;
    const status = (err as FastifyError).statusCode;
    switch (code) {
        case "FST_ERR_CTP_BODY_TOO_LARGE":
            return problems.tooLarge(Number((err as { limit?: number }).limit ?? 0) || 0);
        case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
            return problems.unsupportedMediaType(String(err.message.split(": ").pop() ?? ""));
        case "FST_ERR_CTP_EMPTY_JSON_BODY":
            return invalidField("body", "a JSON object (the body is empty)", 400);
        case "FST_ERR_CTP_INVALID_JSON_BODY":
            return invalidField("body", "valid JSON", 400);
        case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
            return invalidField("header.content-length", "the length of the body", 400);
        default:
    }
    if (err instanceof SyntaxError && status === 400) return invalidField("body", "valid JSON", 400);
    if (typeof status === "number" && status >= 400 && status < 500) {
        return new ApiProblem(status, "bad-request", "The request could not be handled", `request: refused (${status})`, { errors: [{ field: "request", rule: "a well-formed HTTP request" }] });
    }
    return problems.internal();
}

/** Malformed HTTP (the parser gave up): answer a minimal problem+json and close. */
function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
    if (!socket.writable) return;
    const status = err.code === "HPE_HEADER_OVERFLOW" ? 431 : 400;
    const body = JSON.stringify({ type: "https://dbaas.dev/problems/bad-request", title: "Malformed request", status, detail: "request: expected well-formed HTTP/1.1", instance: "none", errors: [{ field: "request", rule: "well-formed HTTP/1.1" }] });
    socket.end(`HTTP/1.1 ${status} Bad Request\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

export const REDACT_PATHS = ["req.headers.authorization", "req.headers.cookie", "*.password", "*.uri", "password", "uri", "*.credentials"];

/** Builds the application (routes and plugins, not listening, no job runner). */
export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
    const metrics = deps.metrics ?? new ApiMetrics({ processMetrics: false });
    const app = Fastify({
        ...(deps.logger
            ? { loggerInstance: deps.logger }
            : { logger: { level: deps.logLevel ?? "info", redact: { paths: REDACT_PATHS, censor: "[redacted]" } } }),
        genReqId: requestIdFor,
        // One log line per request (onResponse below) instead of Fastify's two.
        disableRequestLogging: true,
        bodyLimit: deps.config.bodyLimitBytes,
        trustProxy: deps.config.trustProxy,
        clientErrorHandler,
        // The router's own refusals (undecodable URL, over-long path parameter) are problems too.
        frameworkErrors: (err, req, reply) => {
            const p = err.code === "FST_ERR_MAX_PARAM_LENGTH"
                ? new ApiProblem(414, "uri-too-long", "URI too long", "url: expected path parameters of at most 100 characters", { errors: [{ field: "url", rule: "path parameters of at most 100 characters" }] })
                : err.code === "FST_ERR_BAD_URL"
                    ? invalidField("url", "a URL whose path is valid percent-encoding", 400)
                    : toProblem(err);
            void (reply as FastifyReply).code(p.status).type(PROBLEM_CONTENT_TYPE).send(problemBody(p, req.id));
        },
        // Node's default is 5 s; a little more than nginx's keepalive_timeout avoids races on reuse.
        keepAliveTimeout: 65_000,
    }).withTypeProvider<ZodTypeProvider>();
    // JSON only: a text/plain body would otherwise reach validation as a string.
    app.removeContentTypeParser("text/plain");
    app.setValidatorCompiler(validatorCompiler);
    // Responses are built by typed mappers (views.ts). Checking each one against its schema at run
    // time costs about 10% of the CPU of a list request (bench/api.ts), so by default they are
    // serialised directly; the tests turn `validateResponses` on, so every response they see is checked.
    app.setSerializerCompiler(deps.validateResponses === true ? serializerCompiler : () => (data) => JSON.stringify(data));

    app.setErrorHandler((err: FastifyError, req, reply) => {
        const p = toProblem(err);
        if (p.status >= 500 && p.slug === "internal") {
            req.log.error({ err: { type: err.name, message: err.message.slice(0, 500), code: err.code } }, "request failed");
        }
        if (p.status === 429) reply.header("retry-after", reply.getHeader("retry-after") ?? "60");
        return reply.code(p.status).type(PROBLEM_CONTENT_TYPE).send(problemBody(p, req.id));
    });
    app.setNotFoundHandler((req, reply) => {
        const p = problems.routeNotFound(req.method, req.url);
        return reply.code(404).type(PROBLEM_CONTENT_TYPE).send(problemBody(p, req.id));
    });

    app.addHook("onResponse", (req, reply, done) => {
        // The route template (`/databases/:name`), never the URL: names stay out of the labels.
        metrics.observeRequest(req.method, req.routeOptions.url ?? UNMATCHED_ROUTE, reply.statusCode, reply.elapsedTime / 1000);
        req.log.info({ method: req.method, url: req.url.split("?")[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10, subject: req.principal?.subject }, "request");
        done();
    });
    app.addHook("onSend", (req, reply, payload, done) => {
        reply.header("x-request-id", req.id);
        done(null, payload);
    });

    // Authentication runs first; public routes (health, readiness, OpenAPI) skip it.
    app.addHook("onRequest", (req: FastifyRequest, _reply, done) => {
        if (req.routeOptions.config.public === true) return done();
        const bearer = bearerToken(req.headers.authorization);
        if ("error" in bearer) return done(problems.unauthorized(bearer.error));
        const principal = deps.tokens.verify(bearer.token);
        if (principal === undefined) return done(problems.unauthorized("the bearer token is not valid"));
        req.principal = principal;
        done();
    });

    await app.register(rateLimit, {
        global: true,
        max: deps.config.rateLimitPerMinute,
        timeWindow: 60_000,
        // After authentication, so the limit is per token subject, not per address.
        hook: "preParsing",
        keyGenerator: (req) => (req.principal ? `subject:${req.principal.subject}` : `ip:${req.ip}`),
        errorResponseBuilder: (_req, ctx) => problems.rateLimited(ctx.after),
    });

    await app.register(swagger, {
        openapi: {
            openapi: "3.1.0",
            info: { title: "dbaas API", description: "On-demand PostgreSQL databases. Errors are application/problem+json.", version: "1.0.0" },
            components: { securitySchemes: { bearerAuth: { type: "http", scheme: "bearer" } } },
            security: [{ bearerAuth: [] }],
        },
        transform: jsonSchemaTransform,
        transformObject: jsonSchemaTransformObject,
    });

    const { databases } = deps;
    await app.register(systemRoutes, { databases, store: deps.store, catalog: deps.config.catalog });
    await app.register(meRoutes, { rateLimitPerMinute: deps.config.rateLimitPerMinute });
    await app.register(databaseRoutes, { databases });
    await app.register(activityRoutes, { activities: deps.activities, contacts: deps.contacts });
    if (deps.backups !== undefined) await app.register(backupRoutes, { backups: deps.backups });
    if (deps.rollouts !== undefined) await app.register(rolloutRoutes, { rollouts: deps.rollouts });
    if (deps.cache !== undefined && deps.config.cache !== undefined) await app.register(cacheRoutes, { cache: deps.cache, config: deps.config.cache });
    await app.register(eventRoutes, { databases, store: deps.store, hub: deps.hub, heartbeatMs: deps.sseHeartbeatMs ?? 15_000 });
    await app.register(metricsRoutes, { metrics, store: deps.store });
    await app.register(reportRoutes, { store: deps.store, catalog: deps.config.catalog, prices: deps.config.prices });
    await app.register(dashboardRoutes);
    return app;
}
