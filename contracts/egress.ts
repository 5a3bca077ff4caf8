/**
 * The one table of addresses a database's backup fetch may never reach: the
 * API refuses a `backup_location` whose host resolves into it
 * (api/domain/ssrf.ts), the NetworkPolicy excludes it from HTTPS egress
 * (components/ondemand/networkPolicy.ts), and the fetch step refuses to
 * connect to it (ondemand/restore/fetch.sh, whose table block is rendered
 * from this one by ondemand/restore/index.ts). test/contracts/egress.test.ts
 * checks that the three agree.
 *
 * Every range ipaddr.js does not call `unicast` is here, plus all IPv6 space
 * outside 2000::/3 (unassigned today, so nothing public lives there). An
 * address gets the reason of the most specific range holding it, so the
 * metadata service is named as such, not as link-local. No Pulumi, no I/O.
 */
import ipaddr from "ipaddr.js";

export interface BlockedRange {
    /** The range, as a CIDR in canonical form. */
    readonly cidr: string;
    /** Why, phrased to follow "is": `... resolves to 10.1.2.3, which is private (10.0.0.0/8)`. */
    readonly reason: string;
    /** Loopback: the one kind a test switch (RESTORE_ALLOW_LOOPBACK=1) may open for the fetch step. */
    readonly loopback?: true;
}

const OUTSIDE_2000_3 = "not global unicast (outside 2000::/3)";

/** Most specific first within each family (the order does not change the result; it reads better). */
export const BLOCKED_EGRESS: readonly BlockedRange[] = [
    { cidr: "0.0.0.0/8", reason: '"this network" (0.0.0.0/8)' },
    { cidr: "10.0.0.0/8", reason: "private (10.0.0.0/8)" },
    { cidr: "100.64.0.0/10", reason: "shared carrier-grade NAT (100.64.0.0/10)" },
    { cidr: "127.0.0.0/8", reason: "loopback (127.0.0.0/8)", loopback: true },
    { cidr: "169.254.169.254/32", reason: "the cloud metadata service (169.254.169.254)" },
    { cidr: "169.254.0.0/16", reason: "link-local (169.254.0.0/16)" },
    { cidr: "172.16.0.0/12", reason: "private (172.16.0.0/12)" },
    { cidr: "192.0.0.0/24", reason: "IETF protocol assignments (192.0.0.0/24)" },
    { cidr: "192.0.2.0/24", reason: "documentation (192.0.2.0/24)" },
    { cidr: "192.31.196.0/24", reason: "AS112 (192.31.196.0/24)" },
    { cidr: "192.52.193.0/24", reason: "AMT relay (192.52.193.0/24)" },
    { cidr: "192.88.99.0/24", reason: "6to4 relay anycast (192.88.99.0/24)" },
    { cidr: "192.168.0.0/16", reason: "private (192.168.0.0/16)" },
    { cidr: "192.175.48.0/24", reason: "AS112 (192.175.48.0/24)" },
    { cidr: "198.18.0.0/15", reason: "benchmarking (198.18.0.0/15)" },
    { cidr: "198.51.100.0/24", reason: "documentation (198.51.100.0/24)" },
    { cidr: "203.0.113.0/24", reason: "documentation (203.0.113.0/24)" },
    { cidr: "224.0.0.0/4", reason: "multicast (224.0.0.0/4)" },
    { cidr: "240.0.0.0/4", reason: "reserved or broadcast (240.0.0.0/4)" },
    { cidr: "::/128", reason: "unspecified (::)" },
    { cidr: "::1/128", reason: "loopback (::1)", loopback: true },
    { cidr: "::ffff:0:0/96", reason: "IPv4-mapped (::ffff:0:0/96)" },
    { cidr: "64:ff9b::/96", reason: "NAT64 (64:ff9b::/96)" },
    { cidr: "64:ff9b:1::/48", reason: "local NAT64 (64:ff9b:1::/48)" },
    { cidr: "100::/64", reason: "discard (100::/64)" },
    { cidr: "::/3", reason: OUTSIDE_2000_3 },
    { cidr: "2001::/23", reason: "IETF protocol assignments (2001::/23: Teredo, benchmarking, ORCHID and others)" },
    { cidr: "2001:db8::/32", reason: "documentation (2001:db8::/32)" },
    { cidr: "2002::/16", reason: "6to4 (2002::/16)" },
    { cidr: "2620:4f:8000::/48", reason: "AS112 (2620:4f:8000::/48)" },
    { cidr: "3fff::/20", reason: "documentation (3fff::/20)" },
    { cidr: "4000::/2", reason: OUTSIDE_2000_3 },
    { cidr: "fd00:ec2::254/128", reason: "the cloud metadata service (fd00:ec2::254)" },
    { cidr: "fc00::/7", reason: "unique-local (fc00::/7)" },
    { cidr: "fe80::/10", reason: "link-local (fe80::/10)" },
    { cidr: "fec0::/10", reason: "deprecated site-local (fec0::/10)" },
    { cidr: "ff00::/8", reason: "multicast (ff00::/8)" },
    { cidr: "8000::/1", reason: OUTSIDE_2000_3 },
];

type Parsed = [ipaddr.IPv4 | ipaddr.IPv6, number];

const PARSED: readonly (BlockedRange & { readonly range: Parsed })[] = BLOCKED_EGRESS.map((entry) => ({ ...entry, range: ipaddr.parseCIDR(entry.cidr) }));

export const isIpv6Cidr = (cidr: string): boolean => cidr.includes(":");

/**
 * The most specific blocked range holding `address`, or undefined for a
 * public address. An address that does not parse is refused as such.
 */
export function blockedRange(address: string): BlockedRange | undefined {
    if (!ipaddr.isValid(address)) return { cidr: "", reason: `${JSON.stringify(address)} is not an IP address` };
    const parsed = ipaddr.parse(withHexTail(address));
    let best: (typeof PARSED)[number] | undefined;
    for (const entry of PARSED) {
        if (entry.range[0].kind() !== parsed.kind()) continue;
        if (!parsed.match(entry.range) || (best !== undefined && best.range[1] >= entry.range[1])) continue;
        best = entry;
    }
    return best === undefined ? undefined : { cidr: best.cidr, reason: best.reason, ...(best.loopback ? { loopback: true as const } : {}) };
}

/**
 * ipaddr.js reads `::8.8.8.8` (IPv4-compatible, ::808:808) as `::ffff:8.8.8.8`
 * (IPv4-mapped); writing the dotted tail as two hex groups first keeps it the
 * address the URL parser and getent mean.
 */
function withHexTail(address: string): string {
    const m = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(address);
    if (!m || !ipaddr.IPv4.isValidFourPartDecimal(m[2] ?? "")) return address;
    const [a = 0, b = 0, c = 0, d = 0] = ipaddr.IPv4.parse(m[2] ?? "").octets;
    return `${m[1] ?? ""}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
}

/** Why `address` may not be fetched from, or undefined when it is public. */
export function blockedReason(address: string): string | undefined {
    return blockedRange(address)?.reason;
}

/** Only addresses outside every blocked range may be fetched from. */
export function isPublicAddress(address: string): boolean {
    return blockedRange(address) === undefined;
}

/**
 * The table as a NetworkPolicy `except` list for one family: the ranges not
 * already inside a wider blocked range (169.254.169.254/32 is inside
 * 169.254.0.0/16), so the list is as short as the union allows.
 */
export function blockedEgressCidrs(family: "ipv4" | "ipv6"): string[] {
    const ofFamily = PARSED.filter((e) => e.range[0].kind() === family);
    return ofFamily
        .filter((e) => !ofFamily.some((wider) => wider !== e && wider.range[1] < e.range[1] && e.range[0].match(wider.range)))
        .map((e) => e.cidr);
}
