/**
 * The whole nginx.conf of the TLS proxy, rendered from typed options. No
 * Pulumi imports: the same function renders the container's config and the
 * configs the tests run with a real nginx (non-root, own prefix, high ports).
 */
import { CONTENT_SECURITY_POLICY } from "../../contracts/csp";

/** Mozilla "intermediate" TLS 1.2 suites (ECDHE only: no dhparam file is shipped, so the DHE suites could never be chosen). TLS 1.3 suites are OpenSSL's defaults. */
export const MOZILLA_INTERMEDIATE_CIPHERS = [
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
] as const;
/** The SSE progress stream of one database: never buffered, long-lived. */
export const EVENTS_LOCATION = "~ ^/databases/[^/]+/events$";
/** Plain-HTTP path answered by nginx itself, for the container health check (loopback only). */
export const HEALTH_PATH = "/nginx-health";

export interface NginxConfPaths {
    /** PEM chain, server certificate first. */
    readonly certificate: string;
    /** PEM private key. */
    readonly privateKey: string;
    /** Web root of the ACME http-01 challenge: files are served from `<dir>/.well-known/acme-challenge/` (certbot `--webroot -w <dir>`). */
    readonly acmeChallengeDir: string;
    readonly pid: string;
    /** `/dev/stderr` in the container. */
    readonly errorLog: string;
    /** `/dev/stdout` in the container. */
    readonly accessLog: string;
    /** Directory for nginx's temp paths (client bodies, proxy buffers); must be writable by the workers. */
    readonly tempDir: string;
}

export interface NginxConfOptions {
    /** The public DNS name (server_name). */
    readonly domain: string;
    /** API replicas as `host:port`, e.g. `["api-0:5000", "api-1:5000"]`. At least one. */
    readonly upstreams: readonly string[];
    /** Ports nginx listens on (inside its container: 80 and 443). */
    readonly listen: { readonly http: number; readonly https: number; readonly address?: string };
    /** Port clients reach HTTPS on, used in the redirect. Default: 443 (no port in the URL). */
    readonly publicHttpsPort?: number;
    /** HSTS max-age; long (2 years) in prod, short in dev so a test certificate is not pinned for long. */
    readonly hstsMaxAgeSeconds: number;
    /** nginx size such as `1m`. */
    readonly clientMaxBodySize: string;
    readonly paths: NginxConfPaths;
    /** Worker user; only meaningful when the master runs as root. Default: not set (nginx's built-in default). */
    readonly user?: string;
    /** Default: "auto". */
    readonly workerProcesses?: number | "auto";
    /** Read timeout of the SSE stream in seconds. Default: 3600. */
    readonly eventsReadTimeoutSeconds?: number;
}

const SIZE = /^\d+[kKmM]?$/;
const UPSTREAM = /^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?:\d{1,5}$/;
const DOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function checkPort(what: string, port: number): void {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`renderNginxConf: ${what} must be a port 1-65535, got ${port}`);
}

function checkPath(what: string, value: string): void {
    // Paths go into the config unquoted-safe only without whitespace, quotes, ';' or braces.
    if (!/^\/[^\s;{}"'$]*$/.test(value)) throw new Error(`renderNginxConf: paths.${what} must be an absolute path without spaces, quotes, ';', '{', '}' or '$', got ${JSON.stringify(value)}`);
}

/** Validates options; throws an Error naming the bad option. */
export function validateNginxConfOptions(o: NginxConfOptions): void {
    if (!DOMAIN.test(o.domain)) throw new Error(`renderNginxConf: domain must be a lowercase DNS name, got ${JSON.stringify(o.domain)}`);
    if (o.upstreams.length === 0) throw new Error("renderNginxConf: upstreams needs at least one API replica (host:port)");
    for (const u of o.upstreams) {
        if (!UPSTREAM.test(u)) throw new Error(`renderNginxConf: upstream ${JSON.stringify(u)} must be host:port`);
    }
    checkPort("listen.http", o.listen.http);
    checkPort("listen.https", o.listen.https);
    if (o.publicHttpsPort !== undefined) checkPort("publicHttpsPort", o.publicHttpsPort);
    if (o.listen.address !== undefined && !/^[0-9.]+$|^\[[0-9a-fA-F:]+\]$/.test(o.listen.address)) {
        throw new Error(`renderNginxConf: listen.address must be an IPv4 address or [IPv6], got ${JSON.stringify(o.listen.address)}`);
    }
    if (!Number.isInteger(o.hstsMaxAgeSeconds) || o.hstsMaxAgeSeconds < 0) throw new Error(`renderNginxConf: hstsMaxAgeSeconds must be a whole number >= 0, got ${o.hstsMaxAgeSeconds}`);
    if (!SIZE.test(o.clientMaxBodySize)) throw new Error(`renderNginxConf: clientMaxBodySize must be an nginx size such as 1m, got ${JSON.stringify(o.clientMaxBodySize)}`);
    for (const [k, v] of Object.entries(o.paths) as [string, string][]) checkPath(k, v);
}

/** `https://$host[:port]$request_uri`: the port only when clients do not use 443. */
export function httpsRedirectTarget(publicHttpsPort = 443): string {
    return publicHttpsPort === 443 ? "https://$host$request_uri" : `https://$host:${publicHttpsPort}$request_uri`;
}

/** Renders the whole nginx.conf. Throws on invalid options (see validateNginxConfOptions). */
export function renderNginxConf(o: NginxConfOptions): string {
    validateNginxConfOptions(o);
    const p = o.paths;
    const at = (port: number) => (o.listen.address === undefined ? String(port) : `${o.listen.address}:${port}`);
    const upstreamServers = o.upstreams.map((u) => `        server ${u} max_fails=3 fail_timeout=10s;`).join("\n");
    return `# Rendered by components/proxy/nginxConf.ts (renderNginxConf); do not edit by hand.
${o.user === undefined ? "" : `user ${o.user};\n`}worker_processes ${o.workerProcesses ?? "auto"};
pid ${p.pid};
error_log ${p.errorLog} warn;

events {
    worker_connections 1024;
}

http {
    # Self-contained: no mime.types include, the API answers with its own types.
    default_type application/octet-stream;
    server_tokens off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65s;

    client_body_temp_path ${p.tempDir}/client_body;
    proxy_temp_path ${p.tempDir}/proxy;
    fastcgi_temp_path ${p.tempDir}/fastcgi;
    uwsgi_temp_path ${p.tempDir}/uwsgi;
    scgi_temp_path ${p.tempDir}/scgi;

    log_format json escape=json '{"time":"$time_iso8601","request_id":"$request_id",'
        '"remote_addr":"$remote_addr","method":"$request_method","uri":"$request_uri",'
        '"protocol":"$server_protocol","status":$status,"bytes_sent":$body_bytes_sent,'
        '"request_time":$request_time,"upstream_addr":"$upstream_addr",'
        '"upstream_status":"$upstream_status","upstream_response_time":"$upstream_response_time",'
        '"tls_protocol":"$ssl_protocol","user_agent":"$http_user_agent"}';
    access_log ${p.accessLog} json;

    upstream dbaas_api {
${upstreamServers}
        keepalive 32;
    }

    # Port 80: only the ACME http-01 challenge (Let's Encrypt needs plain HTTP
    # before a certificate exists) and the container health check; all else
    # is redirected to HTTPS.
    server {
        listen ${at(o.listen.http)} default_server;
        server_name ${o.domain};

        location ^~ /.well-known/acme-challenge/ {
            root ${p.acmeChallengeDir};
            default_type text/plain;
            try_files $uri =404;
        }

        location = ${HEALTH_PATH} {
            allow 127.0.0.1;
            deny all;
            access_log off;
            default_type text/plain;
            return 200 "ok\\n";
        }

        location / {
            return 301 ${httpsRedirectTarget(o.publicHttpsPort)};
        }
    }

    server {
        # "listen ... ssl http2" rather than the 1.25+ "http2 on;": Debian's
        # nginx 1.22 (the tests) only knows this form, and newer nginx (the
        # image) still accepts it with a deprecation notice.
        listen ${at(o.listen.https)} ssl http2 default_server;
        server_name ${o.domain};

        ssl_certificate ${p.certificate};
        ssl_certificate_key ${p.privateKey};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ciphers ${MOZILLA_INTERMEDIATE_CIPHERS.join(":")};
        ssl_prefer_server_ciphers off;
        ssl_session_cache shared:SSL:10m;
        ssl_session_timeout 1d;
        ssl_session_tickets off;

        client_max_body_size ${o.clientMaxBodySize};

        # add_header and proxy_set_header are set here only: a location that
        # set either would silently drop all of these (nginx does not merge).
        add_header Strict-Transport-Security "max-age=${o.hstsMaxAgeSeconds}" always;
        add_header X-Content-Type-Options "nosniff" always;
        add_header X-Frame-Options "DENY" always;
        add_header Referrer-Policy "no-referrer" always;
        add_header Content-Security-Policy "${CONTENT_SECURITY_POLICY}" always;
        # Clients can quote it when reporting a problem; the API logs the same id.
        add_header X-Request-ID $request_id always;

        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        # nginx is the edge: the client address replaces any X-Forwarded-For it
        # sent, and the request id is always nginx's own ($request_id), so
        # neither can be forged from outside.
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header X-Forwarded-Proto https;
        proxy_set_header X-Forwarded-Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Request-ID $request_id;
        proxy_connect_timeout 5s;
        proxy_read_timeout 60s;
        proxy_next_upstream error timeout;

        # Server-Sent Events: every event must reach the client as it is
        # written (no buffering, no cache), and the stream may stay open long.
        # The API also sends "X-Accel-Buffering: no", which nginx honours too.
        location ${EVENTS_LOCATION} {
            proxy_pass http://dbaas_api;
            proxy_buffering off;
            proxy_cache off;
            proxy_read_timeout ${o.eventsReadTimeoutSeconds ?? 3600}s;
            proxy_next_upstream off;
        }

        location / {
            proxy_pass http://dbaas_api;
        }
    }
}
`;
}
