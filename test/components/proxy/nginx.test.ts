/**
 * The rendered nginx.conf with a real nginx: `nginx -t` for the dev and prod
 * settings, then nginx on loopback high ports in front of a small upstream,
 * checked over real connections (redirects, ACME, TLS versions, headers, SSE).
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as path from "node:path";
import * as tls from "node:tls";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireBinaries } from "../../support/requirements";
import { selfSignedCertificate, type TestCertificate } from "../../support/tls";
import { freePort, nginxTest, preparePrefix, startNginx, type NginxPrefix, type RunningNginx } from "./nginxServer";

const execFileAsync = promisify(execFile);
const missing = requireBinaries(["nginx", "openssl", "curl"], "apt-get install nginx-light openssl curl");
const DOMAIN = "dbaas.localhost";

/** What the upstream saw, and the SSE handshake between it and the test. */
interface Upstream {
    server: http.Server;
    port: number;
    requests: http.IncomingHttpHeaders[];
    /** Resolved by the test once the client holds event 1; the upstream then writes event 2. */
    releaseSecondEvent: () => void;
    /** Whether the upstream's SSE response was still open when the test released it. */
    sseStillOpenAtRelease: boolean | undefined;
}

async function startUpstream(): Promise<Upstream> {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => { release = r; });
    const up: Upstream = { server: http.createServer(), port: 0, requests: [], releaseSecondEvent: () => undefined, sseStillOpenAtRelease: undefined };
    up.server.on("request", (req, res) => {
        up.requests.push(req.headers);
        if (/^\/databases\/[^/]+\/events$/.test(req.url ?? "")) {
            res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
            res.write("id: 1\nevent: progress\ndata: {\"step\":1}\n\n");
            up.releaseSecondEvent = () => {
                up.sseStillOpenAtRelease = !res.writableEnded && !res.destroyed;
                release();
            };
            void gate.then(() => {
                res.write("id: 2\nevent: progress\ndata: {\"step\":2}\n\n");
                res.end();
            });
            return;
        }
        req.resume();
        req.on("end", () => {
            res.writeHead(200, { "content-type": "application/json" });
            res.end(JSON.stringify({ url: req.url }));
        });
    });
    await new Promise<void>((r) => up.server.listen(0, "127.0.0.1", r));
    up.port = (up.server.address() as { port: number }).port;
    return up;
}

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: string }

function request(url: string, opts: https.RequestOptions & { body?: Buffer } = {}): Promise<Reply> {
    return new Promise((resolve, reject) => {
        const mod = url.startsWith("https:") ? https : http;
        const req = mod.request(url, { agent: false, ...opts }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (d: string) => { body += d; });
            res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        });
        req.on("error", reject);
        req.end(opts.body);
    });
}

/** Completes a TLS handshake pinned to one protocol version; resolves with the negotiated version or the error. */
function handshake(port: number, version: tls.SecureVersion, ca: string): Promise<{ protocol: string | null } | { error: string }> {
    return new Promise((resolve) => {
        const socket = tls.connect({
            host: "127.0.0.1", port, servername: "localhost", ca,
            minVersion: version, maxVersion: version,
            // Security level 0 lets this client offer TLS 1.0/1.1 at all, so a
            // failure is the server's refusal, not the client's.
            ciphers: "DEFAULT@SECLEVEL=0",
        }, () => {
            const protocol = socket.getProtocol();
            socket.end();
            resolve({ protocol });
        });
        socket.once("error", (e: Error) => resolve({ error: e.message }));
    });
}

describe.skipIf(missing)("nginx.conf with a real nginx", () => {
    let cert: TestCertificate;
    let prodCert: TestCertificate;
    const prefixes: NginxPrefix[] = [];
    beforeAll(() => {
        cert = selfSignedCertificate(DOMAIN, [DOMAIN, "localhost"]);
        prodCert = selfSignedCertificate("dbaas.example.com");
    });
    afterAll(() => {
        for (const p of prefixes) fs.rmSync(p.dir, { recursive: true, force: true });
    });

    it.each([
        { stack: "dev", domain: DOMAIN, hsts: 300, upstreams: ["127.0.0.1:15000"], size: "1m" },
        { stack: "prod", domain: "dbaas.example.com", hsts: 63072000, upstreams: ["127.0.0.1:15000", "127.0.0.1:15001", "127.0.0.1:15002"], size: "1m" },
    ])("nginx -t accepts the $stack config", async ({ stack, domain, hsts, upstreams, size }) => {
        const p = preparePrefix(stack === "dev" ? cert : prodCert, {
            domain, upstreams, listen: { http: 18080, https: 18443, address: "127.0.0.1" },
            hstsMaxAgeSeconds: hsts, clientMaxBodySize: size,
        });
        prefixes.push(p);
        const out = await nginxTest(p);
        expect(out).toContain("syntax is ok");
        expect(out).toContain("test is successful");
    });

    it("nginx -t rejects a config whose certificate does not exist (the check is real)", async () => {
        const p = preparePrefix(cert, { domain: DOMAIN, upstreams: ["127.0.0.1:15000"], listen: { http: 18080, https: 18443, address: "127.0.0.1" }, hstsMaxAgeSeconds: 300, clientMaxBodySize: "1m" });
        prefixes.push(p);
        fs.rmSync(p.options.paths.certificate);
        await expect(nginxTest(p)).rejects.toThrow(/fullchain\.pem/);
    });

    describe("running in front of an upstream", () => {
        let upstream: Upstream;
        let nginx: RunningNginx;
        let prefix: NginxPrefix;
        let httpPort: number;
        let httpsPort: number;
        const HSTS = 300;
        const base = () => `https://localhost:${httpsPort}`;
        const tlsOpts = () => ({ ca: cert.certPem });

        beforeAll(async () => {
            upstream = await startUpstream();
            httpPort = await freePort();
            httpsPort = await freePort();
            prefix = preparePrefix(cert, {
                domain: DOMAIN,
                upstreams: [`127.0.0.1:${upstream.port}`],
                listen: { http: httpPort, https: httpsPort, address: "127.0.0.1" },
                publicHttpsPort: httpsPort,
                hstsMaxAgeSeconds: HSTS,
                clientMaxBodySize: "1k",
                workerProcesses: 1,
            });
            prefixes.push(prefix);
            fs.mkdirSync(path.join(prefix.acmeDir, ".well-known", "acme-challenge"), { recursive: true, mode: 0o755 });
            fs.chmodSync(path.join(prefix.acmeDir, ".well-known"), 0o755);
            fs.writeFileSync(path.join(prefix.acmeDir, ".well-known", "acme-challenge", "tok-123"), "tok-123.thumbprint", { mode: 0o644 });
            nginx = await startNginx(prefix);
        });
        afterAll(async () => {
            await nginx?.stop();
            await new Promise((r) => upstream?.server.close(r));
        });

        it.each(["/", "/databases?owner=a", "/.well-known/other"])("redirects %s on plain HTTP with 301 to the same URL on https", async (p) => {
            const r = await request(`http://127.0.0.1:${httpPort}${p}`, { headers: { host: DOMAIN } });
            expect(r.status).toBe(301);
            expect(r.headers.location).toBe(`https://${DOMAIN}:${httpsPort}${p}`);
        });

        it("serves the ACME http-01 challenge over plain HTTP, and 404 for an unknown token (no redirect)", async () => {
            const ok = await request(`http://127.0.0.1:${httpPort}/.well-known/acme-challenge/tok-123`, { headers: { host: DOMAIN } });
            expect(ok.status).toBe(200);
            expect(ok.body).toBe("tok-123.thumbprint");
            expect(ok.headers["content-type"]).toBe("text/plain");
            const unknown = await request(`http://127.0.0.1:${httpPort}/.well-known/acme-challenge/nope`, { headers: { host: DOMAIN } });
            expect(unknown.status).toBe(404);
        });

        it("refuses TLS 1.0 and 1.1, which this same client can speak (control server)", async () => {
            // Control: the client settings really negotiate TLS 1.0/1.1 with a server that allows them.
            const control = tls.createServer({ cert: cert.certPem, key: cert.keyPem, minVersion: "TLSv1", ciphers: "DEFAULT@SECLEVEL=0" }, (s) => s.end());
            await new Promise<void>((r) => control.listen(0, "127.0.0.1", r));
            const controlPort = (control.address() as { port: number }).port;
            try {
                for (const v of ["TLSv1", "TLSv1.1"] as const) {
                    expect(await handshake(controlPort, v, cert.certPem)).toEqual({ protocol: v });
                    const refused = await handshake(httpsPort, v, cert.certPem);
                    expect(refused).toHaveProperty("error");
                }
            } finally {
                control.close();
            }
        });

        it.each(["TLSv1.2", "TLSv1.3"] as const)("accepts %s", async (v) => {
            expect(await handshake(httpsPort, v, cert.certPem)).toEqual({ protocol: v });
        });

        it("speaks HTTP/2 over TLS (ALPN)", async () => {
            const { stdout } = await execFileAsync("curl", ["-sS", "--http2", "--cacert", prefix.options.paths.certificate, "-o", "/dev/null", "-w", "%{http_version}", `${base()}/healthz`]);
            expect(stdout).toBe("2");
        });

        it("sends HSTS with the configured max-age and the security headers", async () => {
            const r = await request(`${base()}/healthz`, tlsOpts());
            expect(r.status).toBe(200);
            expect(r.headers["strict-transport-security"]).toBe(`max-age=${HSTS}`);
            expect(r.headers["x-content-type-options"]).toBe("nosniff");
            expect(r.headers["x-frame-options"]).toBe("DENY");
            expect(r.headers["referrer-policy"]).toBe("no-referrer");
            expect(r.headers["content-security-policy"]).toContain("frame-ancestors 'none'");
            expect(r.headers.server).toBe("nginx");
        });

        it("forwards Host, X-Forwarded-Proto https, the client address and nginx's own request id", async () => {
            const before = upstream.requests.length;
            const r = await request(`${base()}/databases`, { ...tlsOpts(), headers: { "x-request-id": "forged", "x-forwarded-for": "203.0.113.9", "x-forwarded-proto": "http" } });
            expect(r.status).toBe(200);
            const seen = upstream.requests[before];
            expect(seen).toBeDefined();
            expect(seen?.["x-forwarded-proto"]).toBe("https");
            expect(seen?.["x-forwarded-for"]).toBe("127.0.0.1");
            // $host: the name without the port, as the API builds its links for the public port 443.
            expect(seen?.host).toBe("localhost");
            expect(seen?.["x-request-id"]).toMatch(/^[0-9a-f]{32}$/);
            // The client gets the same id to quote.
            expect(r.headers["x-request-id"]).toBe(seen?.["x-request-id"]);
        });

        it("refuses a body over client_max_body_size with 413", async () => {
            const r = await request(`${base()}/databases`, { ...tlsOpts(), method: "POST", headers: { "content-type": "application/json" }, body: Buffer.alloc(4096, 0x20) });
            expect(r.status).toBe(413);
        });

        it("writes a JSON access log line per request", () => {
            const lines = fs.readFileSync(prefix.options.paths.accessLog, "utf8").trim().split("\n");
            const last = JSON.parse(lines[lines.length - 1] ?? "") as Record<string, unknown>;
            expect(typeof last.method).toBe("string");
            expect(typeof last.status).toBe("number");
            expect(last.request_id).toMatch(/^[0-9a-f]{32}$/);
            expect(last.tls_protocol).toMatch(/^TLSv1\.[23]$/);
        });

        it("streams Server-Sent Events event by event, before the upstream closes", async () => {
            const events: { id: string; at: number }[] = [];
            let upstreamOpenAtFirstEvent: boolean | undefined;
            await new Promise<void>((resolve, reject) => {
                const req = https.get(`${base()}/databases/db1/events`, { ...tlsOpts(), agent: false, headers: { accept: "text/event-stream" } }, (res) => {
                    expect(res.statusCode).toBe(200);
                    expect(res.headers["content-type"]).toBe("text/event-stream");
                    let buf = "";
                    res.setEncoding("utf8");
                    res.on("data", (chunk: string) => {
                        buf += chunk;
                        let idx: number;
                        while ((idx = buf.indexOf("\n\n")) >= 0) {
                            const block = buf.slice(0, idx);
                            buf = buf.slice(idx + 2);
                            const id = /^id: (\S+)$/m.exec(block)?.[1] ?? "";
                            events.push({ id, at: Date.now() });
                            if (id === "1") {
                                // The client holds event 1; only now may the upstream write event 2 and close.
                                upstream.releaseSecondEvent();
                                upstreamOpenAtFirstEvent = upstream.sseStillOpenAtRelease;
                            }
                        }
                    });
                    res.on("end", resolve);
                    res.on("error", reject);
                });
                req.on("error", reject);
                req.setTimeout(10_000, () => req.destroy(new Error("SSE stream stalled: event 1 never reached the client before the upstream closed")));
            });
            expect(events.map((e) => e.id)).toEqual(["1", "2"]);
            expect(upstreamOpenAtFirstEvent).toBe(true);
        });

        it("logged no errors", () => {
            expect(nginx.errorLog()).not.toMatch(/\[(emerg|alert|crit)\]/);
        });
    });
});
