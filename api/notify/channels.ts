/**
 * The two ways a notification leaves the API. Webhooks: an HTTPS POST to the
 * address the SSRF check approved (the connection's DNS lookup is pinned to
 * it, so a second lookup cannot be answered differently), no redirects
 * followed, the answer's body discarded, a timeout. Email: SMTP through
 * nodemailer when DBAAS_SMTP_URL is set; otherwise there is no mailer and
 * email deliveries are marked skipped.
 */
import * as https from "node:https";
import type { LookupFunction } from "node:net";
import nodemailer from "nodemailer";
import type { ResolvedAddress } from "../domain/ssrf";

export interface WebhookRequest {
    readonly url: string;
    /** The checked address to connect to. */
    readonly address: ResolvedAddress;
    readonly headers: Readonly<Record<string, string>>;
    readonly body: string;
    readonly timeoutMs: number;
}

/** Sends one webhook; resolves with the HTTP status, rejects when no answer came. */
export type WebhookSender = (r: WebhookRequest) => Promise<{ readonly status: number }>;

export const httpsWebhookSender: WebhookSender = (r) => new Promise((resolve, reject) => {
    const url = new URL(r.url);
    const { address, family } = r.address;
    // Node asks with `all: true` when it tries several families (autoSelectFamily); answer both forms.
    const lookup: LookupFunction = (_host, options, cb) => {
        if (options.all === true) cb(null, [{ address, family }]);
        else cb(null, address, family);
    };
    const req = https.request(url, {
        method: "POST", lookup, servername: url.hostname, timeout: r.timeoutMs,
        headers: { ...r.headers, "content-length": String(Buffer.byteLength(r.body)) },
    }, (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0 }));
        res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "ETIMEDOUT" })));
    req.on("error", reject);
    req.end(r.body);
});

export interface MailMessage {
    readonly to: string;
    readonly subject: string;
    readonly text: string;
}

export interface Mailer {
    send(m: MailMessage): Promise<void>;
    close(): void;
}

/** A mailer over SMTP (`smtp://` or `smtps://` URL, credentials in it if any). */
export function smtpMailer(smtpUrl: string, from: string, timeoutMs: number): Mailer {
    // The URL may hold a password; nodemailer keeps it in the transport, never in a message or a log here.
    const transport = nodemailer.createTransport({ url: smtpUrl, connectionTimeout: timeoutMs, greetingTimeout: timeoutMs, socketTimeout: timeoutMs }, { from });
    return {
        async send(m) {
            await transport.sendMail({ from, to: m.to, subject: m.subject, text: m.text });
        },
        close() {
            transport.close();
        },
    };
}

/** What an attempt's error is stored as: its code or class, never its message (which may hold a URL with a token). */
export function attemptError(e: unknown): string {
    const code = (e as { code?: unknown } | undefined)?.code;
    if (typeof code === "string" && /^[A-Z0-9_]{2,40}$/.test(code)) return `connection failed (${code})`;
    const responseCode = (e as { responseCode?: unknown } | undefined)?.responseCode;
    if (typeof responseCode === "number") return `SMTP server answered ${responseCode}`;
    return "connection failed";
}
