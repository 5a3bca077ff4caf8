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

/** Config of a stack as the CLI hands it over; prod's never-committed secrets get test values. */
function configFor(stack: "dev" | "prod") {
    const secrets = stack === "prod" ? { "dbaas:tlsCertificateChain": cert.certPem, "dbaas:tlsPrivateKey": cert.keyPem } : {};
    return { config: stackConfig(`Pulumi.${stack}.yaml`, secrets), secretKeys: Object.keys(secrets) };
}

async function run(stack: "dev" | "prod", preview: boolean): Promise<{ rec: Recorder; mod: Record<string, unknown> }> {
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
        ["prod", true],
        ["prod", false],
    ] as const)("stack %s (preview=%s)", (stack, preview) => {
        it("registers its graph and exports the validated settings", async () => {
            const { rec, mod } = await run(stack, preview);
            const settings = await promiseOf(mod.settings as Record<string, unknown>);
            expect(settings).toMatchObject({
                tlsMode: stack === "dev" ? "selfSigned" : "provided",
                defaultPostgresVersion: "PostgreSQL 17",
                awsEnabled: stack === "prod",
                ondemandTarget: stack === "dev" ? "docker" : "kubernetes",
            });
            expect(rec.one("docker:index/network:Network").inputs.name).toBe(`dbaas-${stack}`);
            expect(rec.resources.filter((r) => r.type === "pulumi:providers:docker")).toHaveLength(1);
            const types = rec.customTypes();
            const hasAws = types.some((t) => t.startsWith("aws:") || t.startsWith("kubernetes:"));
            expect(hasAws).toBe(stack === "prod");
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
