/**
 * The dev platform's e2e test is a REPLAY (test/e2e/replay/): the program under
 * mocks, each resource carried out on the Docker engine by our code, not by the
 * Pulumi providers. This checks the replay against the graphs it replays: every
 * input of every resource the dev and e2e stacks register is one the replay
 * carries out, and the Engine API body it sends is the one the inputs say.
 */
import { describe, expect, it, vi } from "vitest";
import { containerCreateBody, durationNs, MAPPED_INPUTS, opensslSubject, opensslUsages, unmappedInputs } from "../e2e/replay/mapping";
import { installMocks, plain, settle, stackConfig, type Recorder } from "../support/harness";

async function graph(stack: "dev" | "e2e"): Promise<Recorder> {
    vi.resetModules();
    const rec = await installMocks({ project: "dbaas", stack, preview: false, config: stackConfig(`Pulumi.${stack}.yaml`) });
    await import("../../infra");
    await settle();
    return rec;
}

describe("the replay of the platform program (test/e2e/replay)", () => {
    it.each(["dev", "e2e"] as const)("carries out every input of every resource of the %s stack", async (stack) => {
        const rec = await graph(stack);
        const custom = rec.resources.filter((r) => r.custom);
        expect(custom.length).toBeGreaterThan(20);
        const gaps = custom.flatMap((r) => unmappedInputs(r.type, plain(r.inputs) as Record<string, unknown>).map((gap) => `${r.type} ${r.name}: ${gap}`));
        expect(gaps).toEqual([]);
        // Every type the replay knows is one the graph uses (no dead mapping), the providers' included.
        const used = new Set(custom.map((r) => r.type));
        expect(Object.keys(MAPPED_INPUTS).filter((t) => !used.has(t))).toEqual([]);
    });

    it("names inputs and types it does not carry out", () => {
        expect(unmappedInputs("docker:index/container:Container", { name: "x", image: "i", privileged: true, healthcheck: { tests: ["CMD", "true"], startInterval: "1s" } }))
            .toEqual(["healthcheck.startInterval", "privileged"]);
        expect(unmappedInputs("docker:index/service:Service", { name: "x" })).toEqual(["docker:index/service:Service (the replay does not carry out this type)"]);
        expect(unmappedInputs("docker:index/image:Image", { imageName: "a", skipPush: true, build: { context: ".", args: { ANY: "1" }, target: "x" } })).toEqual(["build.target"]);
    });

    it("turns a container's inputs into the Engine API's create body", async () => {
        const rec = await graph("e2e");
        const adminDb = rec.resources.find((r) => r.type === "docker:index/container:Container" && r.name === "admin-db");
        expect(adminDb).toBeDefined();
        const body = containerCreateBody(plain(adminDb?.inputs) as Record<string, unknown>) as { HostConfig: Record<string, unknown>; Healthcheck: Record<string, unknown>; NetworkingConfig: unknown; Env: string[] };
        expect(body.HostConfig).toMatchObject({
            Memory: 512 * 1024 * 1024,
            ShmSize: 128 * 1024 * 1024,
            RestartPolicy: { Name: "unless-stopped" },
            PortBindings: { "5432/tcp": [{ HostIp: "127.0.0.1", HostPort: "5432" }] },
            NetworkMode: "dbaas-e2e",
        });
        expect(body.HostConfig.Binds).toEqual(["dbaas-e2e-admin-db-data:/var/lib/postgresql/data"]);
        expect(body.Healthcheck).toMatchObject({ Interval: 10e9, Timeout: 5e9, Retries: 5, StartPeriod: 60e9 });
        expect(body.NetworkingConfig).toEqual({ EndpointsConfig: { "dbaas-e2e": { Aliases: ["admin-db"] } } });
        expect(body.Env.some((e) => e.startsWith("POSTGRES_PASSWORD_FILE="))).toBe(true);
        // nginx: published on the e2e stack's loopback address only.
        const nginx = rec.resources.find((r) => r.type === "docker:index/container:Container" && r.name === "nginx-container");
        const nginxBody = containerCreateBody(plain(nginx?.inputs) as Record<string, unknown>) as { HostConfig: { PortBindings: Record<string, { HostIp: string }[]> } };
        expect(Object.values(nginxBody.HostConfig.PortBindings).flat().map((b) => b.HostIp)).toEqual(["127.0.0.1", "127.0.0.1"]);
    });

    it("reads durations, subjects and uses as the providers take them", () => {
        expect(durationNs("1m30s")).toBe(90e9);
        expect(durationNs("500ms")).toBe(5e8);
        expect(() => durationNs("ten seconds")).toThrow(/not a duration/);
        expect(opensslSubject({ commonName: "dbaas e2e CA", organization: "dbaas/dev" })).toBe("/CN=dbaas e2e CA/O=dbaas\\/dev");
        expect(() => opensslSubject({ streetAddresses: ["x"] })).toThrow(/streetAddresses is not mapped/);
        expect(opensslUsages(["cert_signing", "crl_signing", "digital_signature"], true)).toEqual(["basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"]);
        expect(opensslUsages(["digital_signature", "key_encipherment", "server_auth"], false)).toEqual(["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment", "extendedKeyUsage=serverAuth"]);
        expect(() => opensslUsages(["code_signing"], false)).toThrow(/code_signing are not mapped/);
    });
});
