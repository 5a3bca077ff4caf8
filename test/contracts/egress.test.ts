/**
 * One blocked-egress table (contracts/egress.ts), three users: the API's
 * backup_location check, the NetworkPolicy's HTTPS except list and the fetch
 * script. They must refuse the same addresses for the same reasons; the
 * script is run for real (`fetch.sh check`, under bash and busybox sh).
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import ipaddr from "ipaddr.js";
import { describe, expect, it } from "vitest";
import { checkBackupLocation } from "../../api/domain/ssrf";
import { BLOCKED_EGRESS_V4, BLOCKED_EGRESS_V6, networkPolicySpec } from "../../components/ondemand";
import { BLOCKED_EGRESS, blockedEgressCidrs, blockedRange, blockedReason } from "../../contracts/egress";
import { blockedEgressBlock, FETCH_SCRIPT_PATH, readFetchScript, renderBlockedEgress } from "../../ondemand/restore";
import { findBinary } from "../support/requirements";

/** Both sides of range boundaries, each table range's first and last address, and public addresses. */
function sampleAddresses(): string[] {
    const out = new Set<string>([
        "8.8.8.8", "52.216.8.1", "9.255.255.255", "11.0.0.1", "172.15.255.255", "172.32.0.1", "100.63.255.255", "100.128.0.1",
        "169.253.255.255", "169.254.169.253", "169.254.169.255", "192.169.0.1", "223.255.255.255", "255.255.255.255",
        "2606:4700:4700::1111", "2a00:1450:4001:82a::200e", "2600::1", "1fff:ffff::1", "3fff:1000::1", "2001:200::1", "2001:db7:ffff::1",
        "::ffff:8.8.8.8", "::8.8.8.8", "fd00:ec2::253", "fd00:ec2::255", "febf::1", "fec0::1", "5f00::1", "4000::1", "ffff::1",
    ]);
    for (const { cidr } of BLOCKED_EGRESS) {
        const [net, len] = ipaddr.parseCIDR(cidr);
        out.add(net.toString());
        out.add(net.kind() === "ipv4" ? ipaddr.IPv4.broadcastAddressFromCIDR(cidr).toString() : lastV6(net as ipaddr.IPv6, len));
    }
    return [...out];
}

function lastV6(net: ipaddr.IPv6, len: number): string {
    const parts = net.parts.map((p, i) => {
        const keep = Math.max(0, Math.min(16, len - 16 * i));
        return keep === 16 ? p : (p | (0xffff >> keep)) & 0xffff;
    });
    return new ipaddr.IPv6(parts).toString();
}

const inAny = (address: string, cidrs: readonly string[]): boolean => {
    const a = ipaddr.parse(address);
    return cidrs.some((c) => {
        const range = ipaddr.parseCIDR(c);
        return range[0].kind() === a.kind() && a.match(range);
    });
};

const ADDRESSES = sampleAddresses();

describe("the table", () => {
    it("parses: every range is a canonical CIDR, listed once, with a reason", () => {
        for (const { cidr, reason } of BLOCKED_EGRESS) {
            const [net, len] = ipaddr.parseCIDR(cidr);
            expect(`${net.toString()}/${len}`, cidr).toBe(cidr);
            expect(reason.length, cidr).toBeGreaterThan(3);
        }
        expect(new Set(BLOCKED_EGRESS.map((e) => e.cidr)).size).toBe(BLOCKED_EGRESS.length);
    });

    it("refuses everything ipaddr.js does not call unicast, and beyond that only IPv6 outside 2000::/3", () => {
        for (const address of ADDRESSES) {
            const parsed = ipaddr.parse(address);
            const outside2000 = parsed.kind() === "ipv6" && !parsed.match(ipaddr.parseCIDR("2000::/3"));
            const expected = parsed.range() !== "unicast" || outside2000;
            expect(blockedReason(address) !== undefined, `${address} (${parsed.range()})`).toBe(expected);
        }
    });

    it("names the metadata services, not their wider ranges", () => {
        expect(blockedReason("169.254.169.254")).toBe("the cloud metadata service (169.254.169.254)");
        expect(blockedReason("fd00:ec2::254")).toBe("the cloud metadata service (fd00:ec2::254)");
        expect(blockedReason("169.254.169.253")).toBe("link-local (169.254.0.0/16)");
    });
});

describe("the NetworkPolicy excludes exactly the table", () => {
    const spec = networkPolicySpec({ podSelector: {}, sourceRanges: [], fetchesBackup: true });
    const https = spec.egress.find((e) => e.ports.some((p) => p.port === 443));
    const blocks = (https?.to ?? []).flatMap((t) => ("ipBlock" in t ? [t.ipBlock] : []));

    it("opens 0.0.0.0/0 and ::/0 except the table's ranges (the shortest list covering them)", () => {
        expect(blocks.map((b) => b.cidr)).toEqual(["0.0.0.0/0", "::/0"]);
        expect(blocks[0]?.except).toEqual([...BLOCKED_EGRESS_V4]);
        expect(blocks[1]?.except).toEqual([...BLOCKED_EGRESS_V6]);
        expect(BLOCKED_EGRESS_V4).toEqual(blockedEgressCidrs("ipv4"));
        for (const cidr of [...BLOCKED_EGRESS_V4, ...BLOCKED_EGRESS_V6]) expect(BLOCKED_EGRESS.map((e) => e.cidr)).toContain(cidr);
    });

    it.each(ADDRESSES)("%s: the policy blocks it exactly when the table does", (address) => {
        const except = [...BLOCKED_EGRESS_V4, ...BLOCKED_EGRESS_V6];
        expect(inAny(address, except)).toBe(blockedReason(address) !== undefined);
    });
});

describe("the API refuses a host resolving into the table with the table's reason", () => {
    it.each(ADDRESSES)("%s", async (address) => {
        const r = await checkBackupLocation("https://backups.example.com/db.dump", ["backups.example.com"], () => Promise.resolve([{ address, family: address.includes(":") ? 6 : 4 }]));
        const reason = blockedReason(address);
        if (reason === undefined) expect(r.ok).toBe(true);
        else expect(r).toEqual({ ok: false, rule: `a host resolving only to public addresses (backups.example.com resolves to ${address}, which is ${reason})` });
    });
});

describe("fetch.sh carries the table", () => {
    it("the checked-in block is the rendered table (re-render it from contracts/egress.ts when this fails)", () => {
        const block = blockedEgressBlock(fs.readFileSync(FETCH_SCRIPT_PATH, "utf8"));
        expect(block, `replace the BLOCKED_EGRESS='...' block in ${FETCH_SCRIPT_PATH} with:\n${renderBlockedEgress()}`).toBe(renderBlockedEgress());
        expect(readFetchScript()).toBe(fs.readFileSync(FETCH_SCRIPT_PATH, "utf8"));
    });
});

/** Runs `fetch.sh check` for a URL on `address` with `shell` (a command and its leading arguments). */
function fetchCheck(shell: readonly string[], address: string, allowLoopback = false): Promise<{ code: number; stdout: string; stderr: string }> {
    const url = address.includes(":") ? `https://[${address}]/backup.sql` : `https://${address}/backup.sql`;
    const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", BACKUP_URL: url, RESTORE_ALLOW_LOOPBACK: allowLoopback ? "1" : "0" };
    const [cmd = "bash", ...args] = shell;
    return new Promise((resolve) => {
        execFile(cmd, [...args, FETCH_SCRIPT_PATH, "check"], { env, timeout: 30_000 }, (error, stdout, stderr) => {
            resolve({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr });
        });
    });
}

const busybox = findBinary("busybox");
const SHELLS: [string, string[] | undefined][] = [["bash", ["bash"]], ["busybox sh", busybox === undefined ? undefined : [busybox, "sh"]]];

describe.each(SHELLS)("fetch.sh under %s refuses the same addresses with the same reasons", (_name, shell) => {
    const run = (address: string, loopback = false) => fetchCheck(shell ?? [], address, loopback);

    it.skipIf(shell === undefined).concurrent.each(ADDRESSES)("%s", async (address) => {
        const r = await run(address);
        const reason = blockedReason(address);
        if (reason === undefined) {
            expect(r.stderr).toBe("");
            expect(r.stdout).toMatch(/^restore: ok: /);
        } else {
            expect(r.code).toBe(1);
            const hint = blockedRange(address)?.loopback ? " (tests set RESTORE_ALLOW_LOOPBACK=1, which production never does)" : "";
            expect(r.stderr).toBe(`restore: refused BACKUP_URL: address ${address} is ${reason} — give a URL on a public host${hint}\n`);
        }
    });

    it.skipIf(shell === undefined)("RESTORE_ALLOW_LOOPBACK=1 opens the table's loopback ranges and nothing else", async () => {
        for (const { cidr, loopback } of BLOCKED_EGRESS) {
            const address = ipaddr.parseCIDR(cidr)[0].toString();
            const r = await run(address, true);
            expect(r.code === 0, `${cidr}: ${r.stderr}`).toBe(loopback === true);
        }
    });
});
