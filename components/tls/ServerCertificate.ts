import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { EARLY_RENEWAL_HOURS, SERVER_VALIDITY_HOURS, serverSubject } from "./certificatePolicy";
import type { StackCa } from "./StackCa";

/**
 * A TLS server certificate signed by the stack's CA, for the DNS names and IP
 * addresses a service is reached by. Renewed by `pulumi up` once it is inside
 * its early-renewal window.
 */
export interface ServerCertificateArgs {
    /** The CA that signs it. */
    ca: StackCa;
    /** DNS names (SANs); the first is also the subject common name. At least one. */
    dnsNames: string[];
    /** IP address SANs. Default: none. */
    ipAddresses?: string[];
    /** Validity in hours. Default: SERVER_VALIDITY_HOURS (90 days). */
    validityHours?: number;
}

export class ServerCertificate extends pulumi.ComponentResource {
    /** The server certificate (PEM). */
    readonly certPem: pulumi.Output<string>;
    /** Server certificate followed by the CA certificate, as servers send it. */
    readonly chainPem: pulumi.Output<string>;
    /** The server's private key (PEM), a secret. */
    readonly privateKeyPem: pulumi.Output<string>;
    /** The signing CA's certificate (PEM). */
    readonly caCertPem: pulumi.Output<string>;

    constructor(name: string, args: ServerCertificateArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dbaas:tls:ServerCertificate", name, {}, opts);
        const [commonName] = args.dnsNames;
        if (commonName === undefined) throw new Error(`ServerCertificate ${name}: dnsNames needs at least one name`);
        const key = new tls.PrivateKey(`${name}-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent: this });
        const request = new tls.CertRequest(`${name}-csr`, {
            privateKeyPem: key.privateKeyPem,
            subject: serverSubject(commonName),
            dnsNames: args.dnsNames,
            ipAddresses: args.ipAddresses ?? [],
        }, { parent: this });
        const cert = new tls.LocallySignedCert(`${name}-cert`, {
            certRequestPem: request.certRequestPem,
            caPrivateKeyPem: args.ca.privateKeyPem,
            caCertPem: args.ca.certPem,
            validityPeriodHours: args.validityHours ?? SERVER_VALIDITY_HOURS,
            earlyRenewalHours: EARLY_RENEWAL_HOURS,
            allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
        }, { parent: this });
        this.certPem = cert.certPem;
        this.caCertPem = args.ca.certPem;
        this.chainPem = pulumi.all([cert.certPem, args.ca.certPem]).apply(([c, ca]) => `${c.trimEnd()}\n${ca.trimEnd()}\n`);
        this.privateKeyPem = pulumi.secret(key.privateKeyPem);
        this.registerOutputs({ certPem: this.certPem });
    }
}
