import * as pulumi from "@pulumi/pulumi";
import { ServerCertificate } from "./ServerCertificate";
import type { StackCa } from "./StackCa";

/**
 * The certificate nginx serves. `selfSigned` (dev): a server certificate from
 * the stack CA for the domain, `localhost` and 127.0.0.1. `provided` (prod):
 * the chain and key from secret stack config (validated as PEM of the right
 * kind by the config parser before anything is deployed). The key is a
 * Pulumi secret either way.
 */
export type CertificatesArgs =
    | {
        mode: "selfSigned";
        /** The stack CA that signs the dev certificate. */
        ca: StackCa;
        /** Public DNS name; first SAN and subject. `localhost` and 127.0.0.1 are always added. */
        domain: string;
    }
    | {
        mode: "provided";
        /** PEM chain, server certificate first (from `dbaas:tlsCertificateChain`). */
        certificateChainPem: pulumi.Input<string>;
        /** PEM private key (from `dbaas:tlsPrivateKey`); wrapped as a secret here whatever it was. */
        privateKeyPem: pulumi.Input<string>;
    };

export class Certificates extends pulumi.ComponentResource {
    /** Chain nginx sends (server certificate first). */
    readonly chainPem: pulumi.Output<string>;
    /** The server's private key, a secret. */
    readonly privateKeyPem: pulumi.Output<string>;

    constructor(name: string, args: CertificatesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dbaas:web:Certificates", name, {}, opts);
        if (args.mode === "selfSigned") {
            const dnsNames = [...new Set([args.domain, "localhost"])];
            const server = new ServerCertificate(`${name}-server`, { ca: args.ca, dnsNames, ipAddresses: ["127.0.0.1"] }, { parent: this });
            this.chainPem = server.chainPem;
            this.privateKeyPem = server.privateKeyPem;
        } else {
            this.chainPem = pulumi.output(args.certificateChainPem);
            this.privateKeyPem = pulumi.secret(args.privateKeyPem);
        }
        this.registerOutputs({ chainPem: this.chainPem });
    }
}
