/** Validity and subjects of the certificates dbaas makes itself. No Pulumi imports. */

/** 10 years: the CA is replaced deliberately, not by expiry. */
export const CA_VALIDITY_HOURS = 24 * 365 * 10;
/** 90 days, like public CAs, so renewal is routine. */
export const SERVER_VALIDITY_HOURS = 24 * 90;
/** `pulumi up` re-issues a certificate in its last 30 days. */
export const EARLY_RENEWAL_HOURS = 24 * 30;

export const ORGANIZATION = "dbaas";

export function caSubject(commonName: string) {
    return { commonName, organization: ORGANIZATION };
}

export function serverSubject(commonName: string) {
    return { commonName, organization: ORGANIZATION };
}
