/** renderNginxConf and the other pure decisions of the web tier, table-driven. */
import { describe, expect, it } from "vitest";
import { API_IMAGE_SOURCES, contentTag, readSourceFiles } from "../../../components/api";
import { configHash, httpsRedirectTarget, MOZILLA_INTERMEDIATE_CIPHERS, NGINX_PATHS, nginxHealthcheck, renderNginxConf, type NginxConfOptions } from "../../../components/proxy";
import { CONTENT_SECURITY_POLICY } from "../../../contracts/csp";
import { apiDockerHost, apiEnvironment, apiUpstreams, dockerSocketPath, mountedDockerSocket, type ApiSettings } from "../../../contracts/apiEnv";
import { ROOT } from "../../support/harness";

const base: NginxConfOptions = {
    domain: "dbaas.example.com",
    upstreams: ["api-0:5000", "api-1:5000"],
    listen: { http: 80, https: 443 },
    hstsMaxAgeSeconds: 63072000,
    clientMaxBodySize: "1m",
    paths: NGINX_PATHS,
};

/** The body of the first block opened by a line matching `header` (brace-matched). */
function block(conf: string, header: RegExp): string {
    const m = header.exec(conf);
    if (!m) throw new Error(`no block ${String(header)}`);
    let depth = 0;
    for (let i = conf.indexOf("{", m.index); i < conf.length; i++) {
        if (conf[i] === "{") depth++;
        if (conf[i] === "}" && --depth === 0) return conf.slice(m.index, i + 1);
    }
    throw new Error("unbalanced braces");
}

describe("renderNginxConf", () => {
    const conf = renderNginxConf(base);
    const httpServer = block(conf, /server \{\s*listen 80 /);
    const httpsServer = block(conf, /server \{\s*#[^\n]*\n(\s*#[^\n]*\n)*\s*listen 443 /);
    const events = block(httpsServer, /location ~ \^\/databases/);

    it.each<[string, string, string | RegExp]>([
        ["http: ACME challenge from the web root", httpServer, /location \^~ \/\.well-known\/acme-challenge\/ \{\s*root \/var\/www\/acme;/],
        ["http: everything else 301 to https", httpServer, "return 301 https://$host$request_uri;"],
        ["https: http2 in the listen directive (nginx 1.22 and newer)", httpsServer, "listen 443 ssl http2 default_server;"],
        ["https: TLS 1.2 and 1.3 only", httpsServer, "ssl_protocols TLSv1.2 TLSv1.3;"],
        ["https: Mozilla intermediate ciphers", httpsServer, `ssl_ciphers ${MOZILLA_INTERMEDIATE_CIPHERS.join(":")};`],
        ["https: client chooses among them", httpsServer, "ssl_prefer_server_ciphers off;"],
        ["https: session cache", httpsServer, "ssl_session_cache shared:SSL:10m;"],
        ["https: no session tickets", httpsServer, "ssl_session_tickets off;"],
        ["https: HSTS from the option", httpsServer, 'add_header Strict-Transport-Security "max-age=63072000" always;'],
        ["https: nosniff", httpsServer, 'add_header X-Content-Type-Options "nosniff" always;'],
        ["https: no framing", httpsServer, 'add_header X-Frame-Options "DENY" always;'],
        ["https: referrer policy", httpsServer, 'add_header Referrer-Policy "no-referrer" always;'],
        ["https: CSP", httpsServer, `add_header Content-Security-Policy "${CONTENT_SECURITY_POLICY}" always;`],
        ["https: body size", httpsServer, "client_max_body_size 1m;"],
        ["https: keepalive to upstream needs HTTP/1.1", httpsServer, "proxy_http_version 1.1;"],
        ["https: and no Connection: close", httpsServer, 'proxy_set_header Connection "";'],
        ["https: Host", httpsServer, "proxy_set_header Host $host;"],
        ["https: X-Forwarded-For replaced by the client address", httpsServer, "proxy_set_header X-Forwarded-For $remote_addr;"],
        ["https: X-Forwarded-Proto", httpsServer, "proxy_set_header X-Forwarded-Proto https;"],
        ["https: request id", httpsServer, "proxy_set_header X-Request-ID $request_id;"],
        ["events: unbuffered", events, "proxy_buffering off;"],
        ["events: uncached", events, "proxy_cache off;"],
        ["events: long read timeout", events, "proxy_read_timeout 3600s;"],
        ["log: JSON escaping", conf, /log_format json escape=json '\{"time":"\$time_iso8601"/],
        ["log: used", conf, "access_log /dev/stdout json;"],
        ["upstream: keepalive", block(conf, /upstream dbaas_api/), "keepalive 32;"],
    ])("%s", (_what, text, expected) => {
        if (typeof expected === "string") expect(text).toContain(expected);
        else expect(text).toMatch(expected);
    });

    it("lists every upstream with passive health checks, in order", () => {
        expect([...conf.matchAll(/server (\S+) max_fails=3 fail_timeout=10s;/g)].map((m) => m[1])).toEqual(["api-0:5000", "api-1:5000"]);
    });

    it("sets headers only at server level, so no location silently drops them", () => {
        const locations = httpsServer.match(/^\s*location [^{]+\{[^}]*\}/gm) ?? [];
        expect(locations).toHaveLength(2);
        for (const loc of locations) {
            expect(loc).not.toMatch(/add_header|proxy_set_header/);
        }
    });

    it.each([
        [{ hstsMaxAgeSeconds: 300 }, 'Strict-Transport-Security "max-age=300"'],
        [{ clientMaxBodySize: "512k" }, "client_max_body_size 512k;"],
        [{ listen: { http: 18080, https: 18443, address: "127.0.0.1" } }, "listen 127.0.0.1:18443 ssl http2 default_server;"],
        [{ publicHttpsPort: 8443 }, "return 301 https://$host:8443$request_uri;"],
        [{ user: "nginx" }, /^user nginx;$/m],
        [{ workerProcesses: 1 }, "worker_processes 1;"],
        [{ eventsReadTimeoutSeconds: 120 }, "proxy_read_timeout 120s;"],
    ] as [Partial<NginxConfOptions>, string | RegExp][])("renders option %j", (override, expected) => {
        const out = renderNginxConf({ ...base, ...override });
        if (typeof expected === "string") expect(out).toContain(expected);
        else expect(out).toMatch(expected);
    });

    it("omits the user directive unless asked", () => {
        expect(conf).not.toMatch(/^user /m);
    });

    it.each([
        [{ upstreams: [] }, "upstreams needs at least one"],
        [{ upstreams: ["api-0"] }, 'upstream "api-0" must be host:port'],
        [{ domain: "Bad Domain" }, "domain must be a lowercase DNS name"],
        [{ clientMaxBodySize: "1g" }, "clientMaxBodySize must be an nginx size"],
        [{ hstsMaxAgeSeconds: -1 }, "hstsMaxAgeSeconds must be a whole number >= 0"],
        [{ listen: { http: 0, https: 443 } }, "listen.http must be a port"],
        [{ paths: { ...NGINX_PATHS, privateKey: "/etc/nginx/x; evil" } }, "paths.privateKey must be an absolute path"],
        [{ paths: { ...NGINX_PATHS, tempDir: "relative" } }, "paths.tempDir must be an absolute path"],
    ] as [Partial<NginxConfOptions>, string][])("refuses %j", (override, message) => {
        expect(() => renderNginxConf({ ...base, ...override })).toThrow(message);
    });

    it.each([[443, "https://$host$request_uri"], [8443, "https://$host:8443$request_uri"]])("redirect target for public port %i", (port, target) => {
        expect(httpsRedirectTarget(port)).toBe(target);
    });
});

describe("nginx container decisions", () => {
    it.each([
        ["nginx:1.27.3-alpine", "wget"],
        ["nginx:1.27-alpine@sha256:" + "a".repeat(64), "wget"],
        ["nginx:1.27.3", "nginx"],
        ["registry.example.com/alpine-mirror/nginx:1.27", "nginx"],
        ["registry.example.com:5000/nginx:1.27-alpine", "wget"],
        ["registry.example.com:5000/alpine/nginx", "nginx"],
    ])("health check for %s uses %s", (image, binary) => {
        expect(nginxHealthcheck(image).tests[1]).toBe(binary);
    });

    it("config hash changes with any part and only then", () => {
        const h = configHash(["conf", "chain", "key"]);
        expect(configHash(["conf", "chain", "key"])).toBe(h);
        expect(configHash(["conf", "chain", "key2"])).not.toBe(h);
        expect(configHash(["confc", "hain", "key"])).not.toBe(h);
    });
});

describe("API container environment", () => {
    const settings: ApiSettings = {
        catalog: [{ label: "PostgreSQL 17", image: "postgres:17.2" }],
        ttlHoursDefault: 8, ttlHoursMax: 72, allowedBackupHosts: ["a.example.com", "b.example.com"],
        allowOpenSourceRanges: false, maxConcurrentOperations: 4,
        ondemand: { target: "docker", namespacePrefix: "devdb-", memoryMb: 512, cpuMillicores: 1000, storageGb: 10, defaultSourceRanges: ["10.0.0.0/8"] },
        dockerHost: "unix:///var/run/docker.sock",
        secrets: new Set(["databaseUrl", "pulumiPassphrase"]),
    };
    const env = Object.fromEntries(apiEnvironment(settings).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));

    it.each([
        ["HOST", "0.0.0.0"], ["PORT", "5000"], ["DBAAS_TRUST_PROXY", "true"], ["DBAAS_TTL_HOURS_DEFAULT", "8"], ["DBAAS_TTL_HOURS_MAX", "72"],
        ["DBAAS_BACKUP_HOSTS", "a.example.com,b.example.com"], ["DBAAS_TARGET", "docker"], ["DBAAS_DEFAULT_SOURCE_RANGES", "10.0.0.0/8"],
        ["DATABASE_URL_FILE", "/run/secrets/dbaas/database-url"], ["DBAAS_PULUMI_PASSPHRASE_FILE", "/run/secrets/dbaas/pulumi-passphrase"],
        ["DBAAS_CATALOG", '[{"label":"PostgreSQL 17","image":"postgres:17.2"}]'],
    ])("%s=%s", (key, value) => {
        expect(env[key]).toBe(value);
    });

    it("announces only the secret files that are present, and never a secret value variable", () => {
        expect(env.KUBECONFIG).toBeUndefined();
        expect(env.DATABASE_URL).toBeUndefined();
        expect(env.PULUMI_CONFIG_PASSPHRASE).toBeUndefined();
        const withKube = apiEnvironment({ ...settings, secrets: new Set(["kubeconfig"]) });
        expect(withKube).toContain("KUBECONFIG=/run/secrets/dbaas/kubeconfig");
        // One variable per file: nothing reads a second name for the kubeconfig.
        expect(withKube.filter((e) => e.includes("/run/secrets/dbaas/kubeconfig"))).toEqual(["KUBECONFIG=/run/secrets/dbaas/kubeconfig"]);
    });

    it.each([[1, ["api-0:5000"]], [2, ["api-0:5000", "api-1:5000"]], [3, ["api-0:5000", "api-1:5000", "api-2:5000"]]])("%i replicas → upstreams %j", (n, ups) => {
        expect(apiUpstreams(n)).toEqual(ups);
    });

    it.each([["unix:///var/run/docker.sock", "/var/run/docker.sock"], ["tcp://docker:2376", undefined], ["ssh://u@h", undefined]])("docker socket of %s", (host, socket) => {
        expect(dockerSocketPath(host)).toBe(socket);
    });

    it.each([
        ["docker", "unix:///var/run/docker.sock", "/var/run/docker.sock"],
        ["docker", "ssh://u@h", undefined],
        ["kubernetes", "unix:///var/run/docker.sock", undefined],
    ] as const)("the %s target on %s mounts the socket %s into the API (and then needs its group)", (target, host, socket) => {
        expect(mountedDockerSocket(target, host)).toBe(socket);
    });

    it.each([
        ["docker", "unix:///root/.cache/dbaas/e2e/run/docker.sock", "unix:///var/run/docker.sock"],
        ["docker", "unix:///var/run/docker.sock", "unix:///var/run/docker.sock"],
        ["docker", "ssh://u@h", "ssh://u@h"],
        ["kubernetes", "unix:///run/docker.sock", "unix:///run/docker.sock"],
    ] as const)("the %s target on %s: the API reaches the engine at %s (a mounted socket at one container path)", (target, host, apiHost) => {
        expect(apiDockerHost(target, host)).toBe(apiHost);
        expect(apiEnvironment({ ...settings, ondemand: { ...settings.ondemand, target }, dockerHost: host })).toContain(`DBAAS_DOCKER_HOST=${apiHost}`);
    });
});

describe("API image content tag", () => {
    const a = { path: "a.ts", content: Buffer.from("x") };
    const b = { path: "b.ts", content: Buffer.from("y") };
    it("is deterministic and independent of file order", () => {
        expect(contentTag([a, b])).toBe(contentTag([b, a]));
        expect(contentTag([a, b])).toMatch(/^c-[0-9a-f]{16}$/);
    });
    it.each([
        ["a file's content", [a, { ...b, content: Buffer.from("z") }], {}],
        ["a file's path", [a, { ...b, path: "c.ts" }], {}],
        ["a file added", [a, b, { path: "d.ts", content: Buffer.from("") }], {}],
        ["a build arg", [a, b], { PULUMI_VERSION: "3.171.0" }],
    ])("changes with %s", (_what, files, args) => {
        expect(contentTag(files, args)).not.toBe(contentTag([a, b]));
    });
    it("hashes the repository's real build context (Dockerfile and the API's sources included; node_modules and the platform program not)", () => {
        const files = readSourceFiles(ROOT);
        const paths = files.map((f) => f.path);
        expect(paths).toContain("Dockerfile");
        expect(paths).toContain("api/main.ts");
        expect(paths).toContain("components/ondemand/index.ts");
        // An edit to the platform program or its components does not rebuild the API image.
        expect(paths.some((p) => p.startsWith("infra/") || p.startsWith("components/proxy/") || p.startsWith("components/aws/"))).toBe(false);
        expect(paths.some((p) => p.includes("node_modules"))).toBe(false);
        expect(paths.every((p) => API_IMAGE_SOURCES.some((s) => p === s || p.startsWith(`${s}/`)))).toBe(true);
    });
});
