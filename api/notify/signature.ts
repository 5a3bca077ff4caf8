/**
 * Webhook signatures: HMAC-SHA256 over `<timestamp>.<body>` with the
 * contact's secret, sent as `X-Dbaas-Signature: v1=<hex>` beside
 * `X-Dbaas-Timestamp: <unix seconds>`. A receiver recomputes the HMAC over
 * the timestamp header, a dot and the raw body, compares in constant time,
 * and refuses a timestamp more than the replay window away from its clock
 * (docs/activities-and-notifications.md has the recipe). Pure apart from
 * node:crypto.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export const TIMESTAMP_HEADER = "x-dbaas-timestamp";
export const SIGNATURE_HEADER = "x-dbaas-signature";
export const DELIVERY_HEADER = "x-dbaas-delivery";
/** How far a timestamp may be from the receiver's clock (seconds) before the request counts as a replay. */
export const REPLAY_WINDOW_SECONDS = 300;

/** A new per-contact secret: 256 random bits with a recognisable prefix. */
export function generateContactSecret(): string {
    return `whsec_${randomBytes(32).toString("base64url")}`;
}

/** The signature header's value for `body` sent at `timestampSeconds`. */
export function signWebhook(secret: string, timestampSeconds: number, body: string): string {
    return `v1=${createHmac("sha256", secret).update(`${timestampSeconds}.${body}`, "utf8").digest("hex")}`;
}

export type VerifyResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** What a receiver does: check the timestamp is fresh, then the signature, in constant time. */
export function verifyWebhook(secret: string, headers: { timestamp: string | undefined; signature: string | undefined }, body: string, nowSeconds: number, windowSeconds = REPLAY_WINDOW_SECONDS): VerifyResult {
    const ts = headers.timestamp;
    if (ts === undefined || !/^\d{1,12}$/.test(ts)) return { ok: false, reason: "no valid timestamp header" };
    if (Math.abs(nowSeconds - Number(ts)) > windowSeconds) return { ok: false, reason: `timestamp outside the ${windowSeconds} s replay window` };
    const expected = Buffer.from(signWebhook(secret, Number(ts), body), "utf8");
    const given = Buffer.from(headers.signature ?? "", "utf8");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: "signature does not match" };
    return { ok: true };
}
