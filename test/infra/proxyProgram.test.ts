/**
 * The web tier of the platform program under mocks on the docker platform
 * target, for the committed dev and prod stack files (prod with
 * platform.target docker): nginx and API containers, ports, memory limits, uploaded
 * files, replica count, certificates, and secrets kept secret.
 */
import { beforeAll, describe, expect, it, vi } from "vitest";
import { installMocks, plain, PROD_ON_DOCKER, promiseOf, settle, stackConfig, type RecordedResource, type Recorder } from "../support/harness";
import { requireBinaries } from "../support/requirements";
import { selfSignedCertificate, type TestCertificate } from "../support/tls";

const missing = requireBinaries(["openssl"], "apt-get install openssl");
let cert: TestCertificate;
beforeAll(() => {
    if (!missing) cert = selfSignedCertificate("dbaas.example.com");
});

const CONTAINER = "docker:index/container:Container";

interface Upload { file: string; content?: string; permissions?: string; owner?: string }

function uploads(r: RecordedResource): Upload[] {
    return (plain(r.inputs.uploads) ?? []) as Upload[];
}
function upload(r: RecordedResource, file: string): Upload {
    const u = uploads(r).find((x) => x.file === file);
    if (!u) throw new Error(`${r.name} has no upload ${file}: ${uploads(r).map((x) => x.file).join(", ")}`);
    return u;
}

async function run(stack: "dev" | "prod"): Promise<{ rec: Recorder; mod: Record<string, unknown> }> {
    vi.resetModules();
    const secrets = stack === "prod" ? { "dbaas:tlsCertificateChain": cert.certPem, "dbaas:tlsPrivateKey": cert.keyPem } : {};
    // prod's file on the docker platform target: its containers, as a stack that sets platform.target docker gets them
    // (prod itself runs on kubernetes: test/infra/kubernetesProgram.test.ts).
    const overrides = stack === "prod" ? PROD_ON_DOCKER : {};
    const rec = await installMocks({
        project: "dbaas", stack, preview: false,
        config: stackConfig(`Pulumi.${stack}.yaml`, { ...secrets, ...overrides }), secretKeys: Object.keys(secrets),
    });
    const mod = (await import("../../infra")) as Record<string, unknown>;
    await settle();
    return { rec, mod };
}

describe.skipIf(missing)("web tier in the platform program", () => {
    describe.each([
        { stack: "dev" as const, replicas: 1, apiMemory: 512, nginxMemory: 128, domain: "dbaas.localhost", hsts: 300 },
        { stack: "prod" as const, replicas: 3, apiMemory: 1024, nginxMemory: 256, domain: "dbaas.example.com", hsts: 63072000 },
    ])("stack $stack", ({ stack, replicas, apiMemory, nginxMemory, domain, hsts }) => {
        let rec: Recorder;
        let mod: Record<string, unknown>;
        let nginx: RecordedResource;
        let apis: RecordedResource[];
        beforeAll(async () => {
            ({ rec, mod } = await run(stack));
            const containers = rec.ofType(CONTAINER);
            nginx = rec.one(CONTAINER, "nginx-container");
            apis = containers.filter((c) => /^api-\d+$/.test(c.name));
        });

        it("runs one API container per configured replica, each with its alias and memory limit", () => {
            expect(apis.map((a) => a.name).sort()).toEqual(Array.from({ length: replicas }, (_, i) => `api-${i}`));
            for (const [i, a] of apis.entries()) {
                expect(a.inputs.memory).toBe(apiMemory);
                expect(a.inputs.restart).toBe("unless-stopped");
                const nets = a.inputs.networksAdvanced as { name: string; aliases: string[] }[];
                expect(nets).toEqual([{ name: `dbaas-${stack}`, aliases: [`api-${a.name.split("-")[1] ?? i}`] }]);
                expect((a.inputs.healthcheck as { tests: string[] }).tests.join(" ")).toContain("http://127.0.0.1:5000/healthz");
                expect(a.inputs.user).toBe("1000:1000");
            }
        });

        it("lists every replica in the nginx upstream", () => {
            const conf = upload(nginx, "/etc/nginx/nginx.conf").content ?? "";
            const servers = [...conf.matchAll(/^\s*server (api-\d+):5000 max_fails=3 fail_timeout=10s;$/gm)].map((m) => m[1]);
            expect(servers).toEqual(Array.from({ length: replicas }, (_, i) => `api-${i}`));
            expect(conf).toContain(`server_name ${domain};`);
            expect(conf).toContain(`max-age=${hsts}`);
        });

        it("publishes nginx on the configured ports with its memory limit, restart policy and health check", () => {
            expect(nginx.inputs.ports).toEqual([expect.objectContaining({ internal: 80, external: 80 }), expect.objectContaining({ internal: 443, external: 443 })]);
            expect(nginx.inputs.memory).toBe(nginxMemory);
            expect(nginx.inputs.restart).toBe("unless-stopped");
            expect((nginx.inputs.networksAdvanced as { name: string }[])[0]?.name).toBe(`dbaas-${stack}`);
            expect((nginx.inputs.healthcheck as { tests: string[] }).tests).toEqual(["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1/nginx-health"]);
            expect(rec.one("docker:index/remoteImage:RemoteImage", "nginx-image").inputs.name).toBe("nginx:1.27.3-alpine");
        });

        it("uploads the config, the chain and the key, with the uploads marked secret", () => {
            expect(uploads(nginx).map((u) => u.file).sort()).toEqual(["/etc/nginx/nginx.conf", "/etc/nginx/tls/fullchain.pem", "/etc/nginx/tls/privkey.pem"]);
            expect(nginx.secretInputs.has("uploads")).toBe(true);
            expect(upload(nginx, "/etc/nginx/tls/privkey.pem").permissions).toBe("0600");
            const labels = plain(nginx.inputs.labels) as { label: string; value: string }[];
            expect(labels.find((l) => l.label === "dbaas.io/config-hash")?.value).toMatch(/^[0-9a-f]{16}$/);
        });

        it("serves the right certificate: stack-CA signed for the domain and localhost in dev, the provided one in prod", () => {
            const chain = upload(nginx, "/etc/nginx/tls/fullchain.pem").content ?? "";
            const key = upload(nginx, "/etc/nginx/tls/privkey.pem").content ?? "";
            const webCsr = rec.ofType("tls:index/certRequest:CertRequest").filter((r) => r.name.startsWith("web-tls"));
            if (stack === "dev") {
                expect(webCsr).toHaveLength(1);
                expect(webCsr[0]?.inputs.dnsNames).toEqual([domain, "localhost"]);
                expect(webCsr[0]?.inputs.ipAddresses).toEqual(["127.0.0.1"]);
                expect(key).toContain("web-tls-server-key");
                expect(chain.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
            } else {
                expect(webCsr).toHaveLength(0);
                expect(chain).toBe(cert.certPem);
                expect(key).toBe(cert.keyPem);
            }
        });

        it("passes secrets to the API only as secret files, never in plain env", () => {
            for (const a of apis) {
                const env = plain(a.inputs.envs) as string[];
                const files = uploads(a);
                expect(a.secretInputs.has("uploads")).toBe(true);
                expect(a.secretInputs.has("envs")).toBe(false);
                expect(env).toContain("DATABASE_URL_FILE=/run/secrets/dbaas/database-url");
                expect(env).toContain("DBAAS_PULUMI_PASSPHRASE_FILE=/run/secrets/dbaas/pulumi-passphrase");
                const dbUrl = upload(a, "/run/secrets/dbaas/database-url");
                expect(dbUrl.content).toMatch(/^postgresql:\/\//);
                expect(dbUrl.permissions).toBe("0400");
                const secretValues = files.filter((f) => f.file.startsWith("/run/secrets/")).map((f) => f.content ?? "");
                expect(secretValues.length).toBeGreaterThanOrEqual(2);
                for (const v of secretValues) {
                    expect(v.length).toBeGreaterThan(8);
                    for (const e of env) expect(e).not.toContain(v);
                }
                // Nothing else that looks like a credential either.
                for (const e of env) expect(e).not.toMatch(/postgres(ql)?:\/\/[^@\s]+:[^@\s]+@|PRIVATE KEY|pw-/);
                expect(env).toContain(`DBAAS_TARGET=${stack === "dev" ? "docker" : "kubernetes"}`);
                expect(JSON.parse((env.find((e) => e.startsWith("DBAAS_CATALOG=")) ?? "").slice("DBAAS_CATALOG=".length))).toEqual(
                    expect.arrayContaining([{ label: "PostgreSQL 17", image: "postgres:17.2" }]),
                );
            }
        });

        it("builds the API image from the repo's Dockerfile with a content tag, not latest", () => {
            const image = rec.one("docker:index/image:Image", "api-image");
            expect(image.inputs.imageName).toMatch(/:c-[0-9a-f]{16}$/);
            const build = image.inputs.build as { context: string; dockerfile: string; args: Record<string, string> };
            expect(build.dockerfile).toBe(`${build.context}/Dockerfile`);
            expect(build.args.PULUMI_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
            for (const a of apis) expect(a.inputs.image).toBe(image.inputs.imageName);
            if (stack === "dev") {
                expect(image.inputs.imageName).toMatch(/^dbaas-api:/);
                expect(image.inputs.skipPush).toBe(true);
            } else {
                // Pushed to the ECR repository with the registry's token as a secret.
                expect(image.inputs.imageName).toMatch(/^123456789012\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/database-migration-anonymized-api:c-/);
                expect(image.inputs.skipPush ?? false).toBe(false);
                expect(plain(image.inputs.registry)).toMatchObject({ server: "123456789012.dkr.ecr.eu-west-1.amazonaws.com", password: "ecr-token" });
                expect(image.secretInputs.has("registry")).toBe(true);
            }
        });

        it("mounts the Docker socket into the API only for the docker target (dev), and the shared data volume always", () => {
            for (const a of apis) {
                const volumes = a.inputs.volumes as { hostPath?: string; volumeName?: string; containerPath: string }[];
                expect(volumes).toContainEqual(expect.objectContaining({ volumeName: `dbaas-${stack}-api-data`, containerPath: "/data" }));
                const socket = volumes.find((v) => v.hostPath === "/var/run/docker.sock");
                expect(socket !== undefined).toBe(stack === "dev");
            }
        });

        it("adds the Docker socket's group (dbaas:api.dockerSocketGroupId) to the API only where the socket is mounted", () => {
            for (const a of apis) expect(a.inputs.groupAdds).toEqual(stack === "dev" ? ["999"] : undefined);
        });

        it("gives the API the devdb kubeconfig as a secret file in prod only", () => {
            for (const a of apis) {
                const env = plain(a.inputs.envs) as string[];
                const files = uploads(a).map((u) => u.file);
                if (stack === "prod") {
                    expect(env).toContain("KUBECONFIG=/run/secrets/dbaas/kubeconfig");
                    expect(files).toContain("/run/secrets/dbaas/kubeconfig");
                    expect(upload(a, "/run/secrets/dbaas/kubeconfig").content).toContain("apiVersion");
                } else {
                    expect(env.some((e) => e.startsWith("KUBECONFIG="))).toBe(false);
                    expect(files).not.toContain("/run/secrets/dbaas/kubeconfig");
                }
            }
        });

        it("exports the https URL and nothing secret in plain", async () => {
            expect(mod.url).toBe(`https://${domain}`);
            expect(await promiseOf(mod.caCertificate as string)).toContain("BEGIN CERTIFICATE");
            for (const [k, v] of Object.entries(mod)) {
                if (typeof v === "string") expect(v, k).not.toMatch(/PRIVATE KEY/);
            }
        });
    });

    it("passes the configured socket group to every API replica, a number as its string", async () => {
        vi.resetModules();
        const api = JSON.parse(stackConfig("Pulumi.dev.yaml")["dbaas:api"] ?? "{}") as Record<string, unknown>;
        const rec = await installMocks({ project: "dbaas", stack: "dev", preview: false, config: stackConfig("Pulumi.dev.yaml", { "dbaas:api": { ...api, replicas: 2, dockerSocketGroupId: 4242 } }) });
        await import("../../infra");
        await settle();
        const apis = rec.ofType(CONTAINER).filter((c) => /^api-\d+$/.test(c.name));
        expect(apis).toHaveLength(2);
        for (const a of apis) expect(a.inputs.groupAdds).toEqual(["4242"]);
    });

    it("stops at preview when the dev stack lacks the socket group, saying how to find and set it", async () => {
        vi.resetModules();
        const { dockerSocketGroupId: _g, ...api } = JSON.parse(stackConfig("Pulumi.dev.yaml")["dbaas:api"] ?? "{}") as Record<string, unknown>;
        const rec = await installMocks({ project: "dbaas", stack: "dev", preview: true, config: stackConfig("Pulumi.dev.yaml", { "dbaas:api": api }) });
        const failure = import("../../infra");
        await expect(failure).rejects.toThrow("dbaas:api.dockerSocketGroupId = (not set): expected the numeric group id that owns /var/run/docker.sock");
        await expect(failure).rejects.toThrow("stat -c %g /var/run/docker.sock");
        await expect(failure).rejects.toThrow("Fix: pulumi config set --path 'dbaas:api.dockerSocketGroupId' 999");
        await settle();
        expect(rec.resources).toEqual([]);
    });

    it("a replica added in config adds exactly one API container and one upstream server", async () => {
        vi.resetModules();
        const dev = stackConfig("Pulumi.dev.yaml");
        const api = JSON.parse(dev["dbaas:api"] ?? "{}") as Record<string, unknown>;
        const rec = await installMocks({ project: "dbaas", stack: "dev", preview: false, config: stackConfig("Pulumi.dev.yaml", { "dbaas:api": { ...api, replicas: 2 } }) });
        await import("../../infra");
        await settle();
        const apis = rec.ofType(CONTAINER).filter((c) => /^api-\d+$/.test(c.name));
        expect(apis.map((a) => a.name).sort()).toEqual(["api-0", "api-1"]);
        const conf = upload(rec.one(CONTAINER, "nginx-container"), "/etc/nginx/nginx.conf").content ?? "";
        expect([...conf.matchAll(/server (api-\d+:5000) max_fails/g)].map((m) => m[1])).toEqual(["api-0:5000", "api-1:5000"]);
    });
});
