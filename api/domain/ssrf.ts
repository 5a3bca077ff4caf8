/**
 * Server-side request forgery guard for `backup_location` (the database's
 * restore step fetches that URL from inside our network) and for
 * notification webhooks (the API posts to them, checking again at every
 * delivery and connecting only to the address it checked, see
 * notify/worker.ts): neither may point at anything internal. Rules: the WHATWG URL parser (it normalises decimal,
 * octal and hex IPv4 forms the way clients do), https only, no userinfo, the
 * default port, a host on the configured allow-list, and no address the host
 * resolves to may lie in the blocked-egress table (contracts/egress.ts: the
 * table the NetworkPolicy and the fetch step use too, naming loopback,
 * private, link-local, the metadata services 169.254.169.254 and
 * fd00:ec2::254, CGNAT, multicast, reserved, NAT64/6to4 and IPv4-mapped
 * forms). The resolver is injected so tests can fake DNS.
 *
 * Limit: the check runs when the request is accepted; the fetch happens
 * later in the fetch step, which checks the addresses again against the same
 * table, connects only to the one it checked and follows no redirects.
 */
import { lookup } from "node:dns/promises";
import ipaddr from "ipaddr.js";
import { blockedReason } from "../../contracts/egress";

export interface ResolvedAddress {
    readonly address: string;
    readonly family: number;
}

/** Resolves a host name to all its addresses (dns.lookup with all: true in production). */
export type Resolver = (host: string) => Promise<readonly ResolvedAddress[]>;

export const systemResolver: Resolver = (host) => lookup(host, { all: true, verbatim: true });

export type BackupCheck = { readonly ok: true; readonly url: string } | { readonly ok: false; readonly rule: string };

/** Only addresses outside every blocked range may be fetched from. */
export { isPublicAddress } from "../../contracts/egress";

function stripBrackets(hostname: string): string {
    return hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
}

/** Checks a backup URL; the refusal rule is phrased to follow "expected". */
export async function checkBackupLocation(raw: string, allowedHosts: readonly string[], resolve: Resolver): Promise<BackupCheck> {
    const check = await checkEgressUrl(raw, resolve, {
        allowedHosts,
        emptyAllowList: "no backup_location: no backup hosts are allowed on this server (DBAAS_BACKUP_HOSTS is empty)",
    });
    return check.ok ? { ok: true, url: check.url } : { ok: false, rule: check.rule };
}

export type EgressCheck =
    | { readonly ok: true; readonly url: string; readonly host: string; readonly addresses: readonly ResolvedAddress[] }
    | { readonly ok: false; readonly rule: string; readonly blocked?: true };

/**
 * The rules above for any URL the API or a database fetches or posts to
 * (backup locations, notification webhooks). `allowedHosts` undefined means
 * any host name; a list (even empty) means only those. On success it answers
 * the resolved addresses, so the caller can connect to exactly the ones that
 * were checked (no second lookup an attacker's DNS could answer differently).
 * `blocked` marks a refusal that retrying cannot fix (an address in the table).
 */
export async function checkEgressUrl(raw: string, resolve: Resolver, o: { allowedHosts?: readonly string[]; emptyAllowList?: string } = {}): Promise<EgressCheck> {
    let url: URL;
    try {
        url = new URL(raw);
    } catch {
        return { ok: false, rule: "an absolute https:// URL" };
    }
    if (url.protocol !== "https:") return { ok: false, rule: `an https:// URL (got ${url.protocol.replace(/:$/, "")})` };
    if (url.username !== "" || url.password !== "") return { ok: false, rule: "a URL without user or password (userinfo is refused)" };
    if (url.port !== "") return { ok: false, rule: "a URL on the default https port 443" };
    const host = stripBrackets(url.hostname).replace(/\.$/, "").toLowerCase();
    if (ipaddr.isValid(host)) {
        // Allow-list entries are names; a literal address (in any spelling the parser normalised) is never on it.
        const literal = ipaddr.parse(host).toString();
        const why = blockedReason(literal);
        return { ok: false, rule: `a host name${o.allowedHosts === undefined ? "" : " on the allow-list"}, not an IP address (${literal} given, ${why === undefined ? "a public address" : `which is ${why}`})` };
    }
    const allowed = o.allowedHosts;
    if (allowed !== undefined && !allowed.includes(host)) {
        return { ok: false, rule: allowed.length === 0 ? (o.emptyAllowList ?? "no URL: no hosts are allowed on this server") : `a host on the allow-list (${allowed.join(", ")})` };
    }
    let addresses: readonly ResolvedAddress[];
    try {
        addresses = await resolve(host);
    } catch {
        return { ok: false, rule: `a host that resolves (${host} does not)` };
    }
    if (addresses.length === 0) return { ok: false, rule: `a host that resolves (${host} has no addresses)` };
    for (const a of addresses) {
        const why = blockedReason(a.address);
        if (why !== undefined) return { ok: false, blocked: true, rule: `a host resolving only to public addresses (${host} resolves to ${a.address}, which is ${why})` };
    }
    return { ok: true, url: url.href, host, addresses };
}
