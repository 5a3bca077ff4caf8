/**
 * The whole platform program under mocks, for both committed stack files, in
 * preview and update mode: it must validate its config and register its graph
 * without errors. Areas add their own assertions in their suites; this one
 * checks what every stack must have.
 */
import { beforeAll, describe, expect, it, vi } from "vitest";
import { installMocks, promiseOf, settle, stackConfig, type Recorder } from "../support/harness";
import { requireBinaries } from "../support/requirements";
import { selfSignedCertificate, type TestCertificate } from "../support/tls";

const missing = requireBinaries(["openssl"], "apt-get install openssl");
let cert: TestCertificate;
beforeAll(() => {
    if (!missing) cert = selfSignedCertificate();
});

type Stack = "dev" | "staging" | "prod";

/** Config of a stack as the CLI hands it over; the never-committed secrets of staging and prod get test values. */
function configFor(stack: Stack) {
    const secrets = stack === "dev" ? {} : { "dbaas:tlsCertificateChain": cert.certPem, "dbaas:tlsPrivateKey": cert.keyPem };
    return { config: stackConfig(`Pulumi.${stack}.yaml`, secrets), secretKeys: Object.keys(secrets) };
}

/** Types that only exist on a Docker host that runs the platform. */
const DOCKER_HOST_TYPES = ["docker:index/network:Network", "docker:index/container:Container", "docker:index/volume:Volume", "docker:index/remoteImage:RemoteImage"];

async function run(stack: Stack, preview: boolean): Promise<{ rec: Recorder; mod: Record<string, unknown> }> {
    vi.resetModules();
    const rec = await installMocks({ project: "dbaas", stack, preview, ...configFor(stack) });
    const mod = (await import("../../infra")) as Record<string, unknown>;
    await settle();
    return { rec, mod };
}

describe.skipIf(missing)("platform program", () => {
    describe.each([
        ["dev", true],
        ["dev", false],
        ["staging", true],
        ["staging", false],
        ["prod", true],
        ["prod", false],
    ] as const)("stack %s (preview=%s)", (stack, preview) => {
        it("registers its graph and exports the validated settings", async () => {
            const { rec, mod } = await run(stack, preview);
            const settings = await promiseOf(mod.settings as Record<string, unknown>);
            expect(settings).toMatchObject({
                tlsMode: stack === "dev" ? "selfSigned" : "provided",
                defaultPostgresVersion: "PostgreSQL 17",
                awsEnabled: stack !== "dev",
                ondemandTarget: stack === "dev" ? "docker" : "kubernetes",
                platformTarget: stack === "dev" ? "docker" : "kubernetes",
            });
            // One Docker provider either way: the platform's host in dev, the image build on kubernetes.
            expect(rec.resources.filter((r) => r.type === "pulumi:providers:docker")).toHaveLength(1);
            if (stack === "dev") {
                expect(rec.one("docker:index/network:Network").inputs.name).toBe(`dbaas-${stack}`);
            } else {
                // No Docker-host resources: nothing of the platform runs on a Docker host.
                expect(rec.resources.map((r) => r.type).filter((t) => DOCKER_HOST_TYPES.includes(t))).toEqual([]);
                expect(rec.one("docker:index/image:Image", "api-image").inputs.skipPush ?? false).toBe(false);
            }
            const types = rec.customTypes();
            const hasAws = types.some((t) => t.startsWith("aws:") || t.startsWith("kubernetes:"));
            expect(hasAws).toBe(stack !== "dev");
        });
    });

    it("stops with the config error before registering anything when a value is bad", async () => {
        vi.resetModules();
        const { config } = configFor("dev");
        const rec = await installMocks({ project: "dbaas", stack: "dev", preview: true, config: { ...config, "dbaas:ondemand": '{"target":"ec2"}' } });
        await expect(import("../../infra")).rejects.toThrow(`dbaas:ondemand.target = "ec2": expected one of "docker"`);
        await settle();
        expect(rec.resources).toEqual([]);
    });
});
