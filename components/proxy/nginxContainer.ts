/**
 * Decisions about the nginx container (paths inside it, health check, change
 * detection). No Pulumi imports: tested directly.
 */
import { createHash } from "node:crypto";
import { HEALTH_PATH, type NginxConfPaths } from "./nginxConf";

/** Where the official nginx image keeps things, and where the certificate goes. */
export const NGINX_PATHS: NginxConfPaths = {
    certificate: "/etc/nginx/tls/fullchain.pem",
    privateKey: "/etc/nginx/tls/privkey.pem",
    acmeChallengeDir: "/var/www/acme",
    pid: "/var/run/nginx.pid",
    errorLog: "/dev/stderr",
    accessLog: "/dev/stdout",
    tempDir: "/var/cache/nginx",
};

export interface Healthcheck {
    tests: string[];
    interval: string;
    timeout: string;
    retries: number;
    startPeriod: string;
}

/**
 * Alpine images have busybox `wget`, so the check is a real request to
 * nginx's loopback-only health path; Debian-based images have no HTTP client,
 * so there the check falls back to `nginx -t` (config still valid). `httpPort`:
 * where nginx listens for plain HTTP inside (80 in the container, 8080 in a
 * non-root pod).
 */
export function nginxHealthcheck(image: string, httpPort = 80): Healthcheck {
    // Only the tag says which base it is (`nginx:1.27-alpine`), not a registry path.
    const name = image.split("@")[0] ?? image;
    const tag = name.lastIndexOf(":") > name.lastIndexOf("/") ? name.slice(name.lastIndexOf(":") + 1) : "";
    const alpine = /alpine/.test(tag);
    return {
        tests: alpine
            ? ["CMD", "wget", "-q", "-O", "/dev/null", `http://127.0.0.1${httpPort === 80 ? "" : `:${httpPort}`}${HEALTH_PATH}`]
            : ["CMD", "nginx", "-t", "-q"],
        interval: "30s",
        timeout: "5s",
        retries: 3,
        startPeriod: "5s",
    };
}

/** A short hash of the files a container is given, so any change replaces it. */
export function configHash(parts: readonly string[]): string {
    const h = createHash("sha256");
    for (const p of parts) h.update(`${p.length}\0${p}`);
    return h.digest("hex").slice(0, 16);
}
