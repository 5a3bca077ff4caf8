/**
 * The signed URL a new database's restore step fetches a stored backup from
 * (contracts/backup.ts has the path, the query names and what is signed):
 * HMAC-SHA256 with the API's key, bound to one backup id and an expiry.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { BACKUP_CONTENT_QUERY, backupContentMessage, backupContentPath } from "../../contracts/backup";

export function signBackupContent(key: Buffer, id: string, expiresUnix: number): string {
    return createHmac("sha256", key).update(backupContentMessage(id, expiresUnix)).digest("hex");
}

/** `<base>/backups/<id>/content?expires=<unix>&sig=<hex>`, valid until `expiresAt`. */
export function backupContentUrl(baseUrl: string, key: Buffer, id: string, expiresAt: Date): string {
    const expires = Math.ceil(expiresAt.getTime() / 1000);
    const q = new URLSearchParams({ [BACKUP_CONTENT_QUERY.expires]: String(expires), [BACKUP_CONTENT_QUERY.signature]: signBackupContent(key, id, expires) });
    return `${baseUrl.replace(/\/+$/, "")}${backupContentPath(id)}?${q.toString()}`;
}

export type SignatureCheck = "ok" | "expired" | "invalid";

/** Checks a presented signature in constant time; an expired URL is refused even when its signature is right. */
export function verifyBackupContent(key: Buffer, id: string, expiresUnix: number, signature: string, now: Date): SignatureCheck {
    const expected = Buffer.from(signBackupContent(key, id, expiresUnix), "hex");
    const given = Buffer.from(signature, "hex");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return "invalid";
    return now.getTime() / 1000 > expiresUnix ? "expired" : "ok";
}
