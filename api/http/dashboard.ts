/**
 * Serves the built dashboard (web/, built by `npm run build:web` into
 * dashboard/dist) at `/`: index.html and the hashed files under /assets/. These
 * routes need no token (the page itself asks for one and sends it to the
 * API); they carry the same Content-Security-Policy nginx adds, so the page
 * is checked against it even without the proxy in front. When the dashboard
 * is not built, `/` says how to build it instead of failing.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyPluginAsync } from "fastify";
import { CONTENT_SECURITY_POLICY } from "../../contracts/csp";
import { DASHBOARD_DIST_DIR } from "../paths";

/** dashboard/dist of this checkout; DBAAS_DASHBOARD_DIR overrides it. */
export const DEFAULT_DASHBOARD_DIR = DASHBOARD_DIST_DIR;

export interface DashboardOptions {
    /** Directory holding index.html and assets/ (default DBAAS_DASHBOARD_DIR, else dashboard/dist). */
    readonly root?: string;
}

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>dbaas</title></head>
<body><h1>dbaas API</h1><p>The dashboard is not built. Run <code>npm run build:web</code> and reload.
The API itself is described at <a href="/openapi.json">/openapi.json</a>.</p></body></html>`;

export const dashboardRoutes: FastifyPluginAsync<DashboardOptions> = async (app, opts) => {
    const root = opts.root ?? process.env.DBAAS_DASHBOARD_DIR ?? DEFAULT_DASHBOARD_DIR;
    // Only the reply decorator: the routes are declared here so they can be public and hidden from OpenAPI.
    await app.register(fastifyStatic, { root, serve: false, decorateReply: true, index: false, dotfiles: "deny" });
    const config = { public: true, rateLimit: false } as const;

    app.get("/", { config, schema: { hide: true } }, (_req, reply) => {
        reply.header("content-security-policy", CONTENT_SECURITY_POLICY);
        reply.header("x-content-type-options", "nosniff");
        // The page is small and names its hashed assets; always fetch it anew so a deploy shows at once.
        reply.header("cache-control", "no-cache");
        if (!fs.existsSync(path.join(root, "index.html"))) return reply.code(200).type("text/html; charset=utf-8").send(NOT_BUILT);
        return reply.sendFile("index.html", root, { cacheControl: false });
    });

    app.get("/assets/*", { config, schema: { hide: true } }, (req, reply) => {
        const file = (req.params as { "*": string })["*"];
        reply.header("x-content-type-options", "nosniff");
        // Vite names assets by content hash, so a file never changes under its name.
        return reply.sendFile(path.posix.join("assets", file), root, { maxAge: "365d", immutable: true });
    });
};
