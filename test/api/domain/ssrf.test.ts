import { describe, expect, it } from "vitest";
import { checkBackupLocation, isPublicAddress } from "../../../api/domain/ssrf";
import { blockedReason } from "../../../contracts/egress";
import { fakeResolver } from "../../support/testApi";

const ALLOWED = ["backups.example.com", "loopback.example.com", "private10.example.com", "private172.example.com", "private192.example.com",
    "metadata.example.com", "v6loop.example.com", "ula.example.com", "mapped.example.com", "cgnat.example.com", "zero.example.com",
    "nat64.example.com", "mixed.example.com", "empty.example.com", "nxdomain.example.com", "linklocal6.example.com", "multicast.example.com"];

const resolve = fakeResolver({
    "backups.example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
    "loopback.example.com": ["127.0.0.1"],
    "private10.example.com": ["10.1.2.3"],
    "private172.example.com": ["172.16.5.4"],
    "private192.example.com": ["192.168.1.1"],
    "metadata.example.com": ["169.254.169.254"],
    "v6loop.example.com": ["::1"],
    "ula.example.com": ["fd00:ec2::254"],
    "mapped.example.com": ["::ffff:127.0.0.1"],
    "cgnat.example.com": ["100.100.100.200"],
    "zero.example.com": ["0.0.0.0"],
    "nat64.example.com": ["64:ff9b::a00:1"],
    "mixed.example.com": ["93.184.216.34", "10.0.0.5"],
    "empty.example.com": [],
    "linklocal6.example.com": ["fe80::1"],
    "multicast.example.com": ["224.0.0.1"],
});

const REFUSED: readonly [string, string, RegExp][] = [
    ["plain http", "http://backups.example.com/db.dump", /https/],
    ["file", "file:///etc/passwd", /https/],
    ["gopher", "gopher://backups.example.com:70/_x", /https/],
    ["ftp", "ftp://backups.example.com/db.dump", /https/],
    ["relative", "//backups.example.com/db.dump", /absolute/],
    ["not a URL", "backups.example.com/db.dump", /absolute/],
    ["localhost name (not allowed)", "https://localhost/db.dump", /allow-list/],
    ["loopback literal", "https://127.0.0.1/db.dump", /IP address/],
    ["short loopback", "https://127.1/db.dump", /IP address/],
    ["decimal loopback", "https://2130706433/db.dump", /IP address.*loopback/],
    ["hex loopback", "https://0x7f000001/db.dump", /IP address.*loopback/],
    ["octal loopback", "https://017700000001/db.dump", /IP address.*loopback/],
    ["dotted octal loopback", "https://0177.0.0.1/db.dump", /IP address.*loopback/],
    ["10/8 literal", "https://10.0.0.1/db.dump", /IP address.*private/],
    ["172.16/12 literal", "https://172.16.0.1/db.dump", /IP address.*private/],
    ["192.168/16 literal", "https://192.168.0.1/db.dump", /IP address.*private/],
    ["metadata literal", "https://169.254.169.254/latest/meta-data/", /IP address.*the cloud metadata service \(169\.254\.169\.254\)/],
    ["decimal metadata", "https://2852039166/latest/meta-data/", /IP address.*the cloud metadata service \(169\.254\.169\.254\)/],
    ["[::1]", "https://[::1]/db.dump", /IP address.*loopback/],
    ["[fd00:ec2::254]", "https://[fd00:ec2::254]/latest/meta-data/", /IP address.*the cloud metadata service \(fd00:ec2::254\)/],
    ["IPv4-mapped loopback literal", "https://[::ffff:127.0.0.1]/db.dump", /IP address.*IPv4-mapped \(::ffff:0:0\/96\)/],
    ["userinfo pointing elsewhere", "https://backups.example.com@evil.example.net/db.dump", /userinfo/],
    ["userinfo with password", "https://user:pass@backups.example.com/db.dump", /userinfo/],
    ["fragment trick", "https://evil.example.net#@backups.example.com/db.dump", /allow-list/],
    ["backslash trick", "https://evil.example.net\\@backups.example.com/db.dump", /userinfo|allow-list/],
    ["suffix trick", "https://backups.example.com.evil.example.net/db.dump", /allow-list/],
    ["prefix trick", "https://evilbackups.example.com/db.dump", /allow-list/],
    ["off the allow-list", "https://example.org/db.dump", /allow-list/],
    ["non-default port", "https://backups.example.com:8443/db.dump", /port 443/],
    ["allowed name resolving to loopback", "https://loopback.example.com/db.dump", /loopback/],
    ["allowed name resolving to 10/8", "https://private10.example.com/db.dump", /private/],
    ["allowed name resolving to 172.16/12", "https://private172.example.com/db.dump", /private/],
    ["allowed name resolving to 192.168/16", "https://private192.example.com/db.dump", /private/],
    ["allowed name resolving to metadata", "https://metadata.example.com/db.dump", /resolves to 169\.254\.169\.254, which is the cloud metadata service \(169\.254\.169\.254\)/],
    ["allowed name resolving to ::1", "https://v6loop.example.com/db.dump", /loopback/],
    ["allowed name resolving to fd00:ec2::254", "https://ula.example.com/db.dump", /the cloud metadata service \(fd00:ec2::254\)/],
    ["allowed name resolving to IPv4-mapped loopback", "https://mapped.example.com/db.dump", /IPv4-mapped/],
    ["allowed name resolving to CGNAT (Alibaba metadata)", "https://cgnat.example.com/db.dump", /carrier-grade NAT \(100\.64\.0\.0\/10\)/],
    ["allowed name resolving to 0.0.0.0", "https://zero.example.com/db.dump", /"this network" \(0\.0\.0\.0\/8\)/],
    ["allowed name resolving to NAT64 of 10.0.0.1", "https://nat64.example.com/db.dump", /NAT64 \(64:ff9b::\/96\)/],
    ["allowed name resolving to IPv6 link-local", "https://linklocal6.example.com/db.dump", /link-local \(fe80::\/10\)/],
    ["allowed name resolving to multicast", "https://multicast.example.com/db.dump", /multicast \(224\.0\.0\.0\/4\)/],
    ["one public and one private address", "https://mixed.example.com/db.dump", /resolves to 10\.0\.0\.5, which is private \(10\.0\.0\.0\/8\)/],
    ["no addresses", "https://empty.example.com/db.dump", /no addresses/],
    ["does not resolve", "https://nxdomain.example.com/db.dump", /does not/],
];

const PASS: readonly [string, string, string][] = [
    ["allowed host, public v4 and v6", "https://backups.example.com/db.dump", "https://backups.example.com/db.dump"],
    ["explicit default port", "https://backups.example.com:443/2026/db.dump?v=1", "https://backups.example.com/2026/db.dump?v=1"],
    ["upper case and trailing dot", "https://BACKUPS.Example.com./db.dump", "https://backups.example.com./db.dump"],
];

describe("backup_location SSRF guard", () => {
    it.each(REFUSED)("refuses %s: %s", async (_what, url, rule) => {
        const r = await checkBackupLocation(url, ALLOWED, resolve);
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.rule).toMatch(rule);
    });

    it.each(PASS)("accepts %s: %s", async (_what, url, normalised) => {
        expect(await checkBackupLocation(url, ALLOWED, resolve)).toEqual({ ok: true, url: normalised });
    });

    it("refuses everything when no host is allowed, saying so", async () => {
        const r = await checkBackupLocation("https://backups.example.com/db.dump", [], resolve);
        expect(r).toEqual({ ok: false, rule: expect.stringMatching(/DBAAS_BACKUP_HOSTS is empty/) as unknown });
    });

    it("does not resolve hosts that are off the allow-list", async () => {
        const asked: string[] = [];
        await checkBackupLocation("https://example.org/x", ALLOWED, (h) => {
            asked.push(h);
            return Promise.resolve([{ address: "93.184.216.34", family: 4 }]);
        });
        expect(asked).toEqual([]);
    });

    it.each([
        ["127.0.0.1", "loopback (127.0.0.0/8)"], ["10.0.0.1", "private (10.0.0.0/8)"], ["169.254.169.254", "the cloud metadata service (169.254.169.254)"],
        ["169.254.1.1", "link-local (169.254.0.0/16)"], ["100.64.0.1", "shared carrier-grade NAT (100.64.0.0/10)"], ["::1", "loopback (::1)"],
        ["fd00:ec2::254", "the cloud metadata service (fd00:ec2::254)"], ["fd00::1", "unique-local (fc00::/7)"], ["::ffff:10.0.0.1", "IPv4-mapped (::ffff:0:0/96)"],
        ["::ffff:a00:1", "IPv4-mapped (::ffff:0:0/96)"], ["::ffff:8.8.8.8", "IPv4-mapped (::ffff:0:0/96)"], ["fe80::1", "link-local (fe80::/10)"], ["::", "unspecified (::)"],
        ["8.8.8.8", undefined], ["2001:4860:4860::8888", undefined], ["nonsense", '"nonsense" is not an IP address'],
    ])("refuses %s as %s (the shared table)", (addr, reason) => {
        expect(blockedReason(addr)).toBe(reason);
        expect(isPublicAddress(addr)).toBe(reason === undefined);
    });
});
