/** The signed content URL: what it looks like, and every way a presented one is refused. */
import { describe, expect, it } from "vitest";
import { backupContentUrl, signBackupContent, verifyBackupContent } from "../../../api/backups/signedUrl";
import { backupContentQuery } from "../../../contracts/backup";

const key = Buffer.alloc(32, 7);
const other = Buffer.alloc(32, 8);
const id = "6f1c2b0e-3a4d-4c5e-8f90-123456789abc";
const now = new Date("2026-12-02T04:00:00Z");
const expires = Math.floor(now.getTime() / 1000) + 600;

describe("signed backup content URLs", () => {
    it("names the backup, its expiry and a hex HMAC under the base URL (one trailing slash or none)", () => {
        for (const base of ["https://dbaas.example.com", "https://dbaas.example.com/"]) {
            const url = new URL(backupContentUrl(base, key, id, new Date(expires * 1000)));
            expect(`${url.origin}${url.pathname}`).toBe(`https://dbaas.example.com/backups/${id}/content`);
            expect(url.searchParams.get("expires")).toBe(String(expires));
            expect(url.searchParams.get("sig")).toBe(signBackupContent(key, id, expires));
            expect(backupContentQuery.safeParse(Object.fromEntries(url.searchParams)).success).toBe(true);
        }
    });

    it("accepts its own signature until it expires", () => {
        const sig = signBackupContent(key, id, expires);
        expect(verifyBackupContent(key, id, expires, sig, now)).toBe("ok");
        expect(verifyBackupContent(key, id, expires, sig, new Date((expires + 1) * 1000))).toBe("expired");
    });

    it.each([
        ["another key", () => signBackupContent(other, id, expires), id, expires],
        ["another backup", () => signBackupContent(key, "6f1c2b0e-3a4d-4c5e-8f90-000000000000", expires), id, expires],
        ["a moved expiry", () => signBackupContent(key, id, expires), id, expires + 3600],
        ["a short signature", () => "ab", id, expires],
        ["an empty signature", () => "", id, expires],
    ])("refuses a signature made with %s", (_what, sig, forId, forExpires) => {
        expect(verifyBackupContent(key, forId, forExpires, sig(), now)).toBe("invalid");
    });
});
