/** The Certificates component on its own: which certificate, and the key a secret in both modes. */
import { describe, expect, it, vi } from "vitest";
import { installMocks, isSecretOutput, promiseOf, settle } from "../../support/harness";

async function load() {
    vi.resetModules();
    const rec = await installMocks({ project: "dbaas", stack: "dev", preview: false, config: {} });
    const tlsMod = await import("../../../components/tls");
    return { rec, tlsMod };
}

describe("Certificates", () => {
    it("selfSigned: a stack-CA signed server certificate for the domain, localhost and 127.0.0.1; key secret", async () => {
        const { rec, tlsMod } = await load();
        const ca = new tlsMod.StackCa("ca", { commonName: "test CA" });
        const c = new tlsMod.Certificates("web-tls", { mode: "selfSigned", ca, domain: "dbaas.localhost" });
        await settle();
        const csr = rec.one("tls:index/certRequest:CertRequest");
        expect(csr.inputs.dnsNames).toEqual(["dbaas.localhost", "localhost"]);
        expect(csr.inputs.ipAddresses).toEqual(["127.0.0.1"]);
        expect(await isSecretOutput(c.privateKeyPem)).toBe(true);
        const chain = await promiseOf(c.chainPem);
        expect(chain.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    });

    it("selfSigned for localhost itself does not list it twice", async () => {
        const { rec, tlsMod } = await load();
        const ca = new tlsMod.StackCa("ca", { commonName: "test CA" });
        new tlsMod.Certificates("web-tls", { mode: "selfSigned", ca, domain: "localhost" });
        await settle();
        expect(rec.one("tls:index/certRequest:CertRequest").inputs.dnsNames).toEqual(["localhost"]);
    });

    it("provided: passes the chain through and makes the key a secret even when handed in plain", async () => {
        const { rec, tlsMod } = await load();
        const c = new tlsMod.Certificates("web-tls", { mode: "provided", certificateChainPem: "CHAIN", privateKeyPem: "KEY" });
        await settle();
        expect(rec.ofType("tls:index/certRequest:CertRequest")).toHaveLength(0);
        expect(await promiseOf(c.chainPem)).toBe("CHAIN");
        expect(await promiseOf(c.privateKeyPem)).toBe("KEY");
        expect(await isSecretOutput(c.privateKeyPem)).toBe(true);
    });
});
