import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { CA_VALIDITY_HOURS, caSubject, EARLY_RENEWAL_HOURS } from "./certificatePolicy";

/**
 * The stack's own certificate authority, made by Pulumi (`@pulumi/tls`). It
 * signs the certificates services use among themselves (nginx in dev,
 * PostgreSQL in every stack); clients trust it through the `certPem` stack
 * output. Its key never leaves Pulumi state, where it is a secret.
 */
export interface StackCaArgs {
    /** Common name of the CA certificate, e.g. "dbaas dev CA". */
    commonName: string;
    /** Validity in hours. Default: CA_VALIDITY_HOURS (10 years). */
    validityHours?: number;
}

export class StackCa extends pulumi.ComponentResource {
    /** CA certificate (PEM), safe to publish. */
    readonly certPem: pulumi.Output<string>;
    /** CA private key (PEM), a secret. */
    readonly privateKeyPem: pulumi.Output<string>;

    constructor(name: string, args: StackCaArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dbaas:tls:StackCa", name, {}, opts);
        const key = new tls.PrivateKey(`${name}-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent: this });
        const cert = new tls.SelfSignedCert(`${name}-cert`, {
            privateKeyPem: key.privateKeyPem,
            isCaCertificate: true,
            subject: caSubject(args.commonName),
            validityPeriodHours: args.validityHours ?? CA_VALIDITY_HOURS,
            earlyRenewalHours: EARLY_RENEWAL_HOURS,
            allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
        }, { parent: this });
        this.certPem = cert.certPem;
        this.privateKeyPem = pulumi.secret(key.privateKeyPem);
        this.registerOutputs({ certPem: this.certPem });
    }
}
