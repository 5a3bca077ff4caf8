/**
 * The NetworkPolicy rules of one database: who may connect (only the spec's
 * source ranges, on 5432) and where the pod may connect (DNS, and HTTPS for
 * the backup download). The backup host's addresses are not knowable when the
 * policy is declared, so HTTPS egress is open to public addresses only: every
 * range of the blocked-egress table (private, loopback, link-local and cloud
 * metadata, shared, multicast, reserved) is excluded.
 * No Pulumi imports.
 */
import { blockedEgressCidrs, isIpv6Cidr } from "../../contracts/egress";
import { POSTGRES_PORT } from "../../contracts/ports";

/** Non-public IPv4 ranges the pod may never reach over HTTPS (the shared table, contracts/egress.ts). */
export const BLOCKED_EGRESS_V4: readonly string[] = blockedEgressCidrs("ipv4");
/** Non-public IPv6 ranges (the same table): everything outside 2000::/3 and the special ranges inside it. */
export const BLOCKED_EGRESS_V6: readonly string[] = blockedEgressCidrs("ipv6");

export interface NetworkPolicyInput {
    /** Labels selecting the database's pods. */
    readonly podSelector: Record<string, string>;
    /** CIDRs allowed to connect to Postgres; empty = nobody. */
    readonly sourceRanges: readonly string[];
    /** Whether the pod downloads a backup (HTTPS egress) at all. */
    readonly fetchesBackup: boolean;
}

/** The `spec` of the NetworkPolicy. */
export function networkPolicySpec(input: NetworkPolicyInput) {
    const ingress = input.sourceRanges.length === 0 ? [] : [{
        from: input.sourceRanges.map((cidr) => ({ ipBlock: { cidr } })),
        ports: [{ protocol: "TCP", port: POSTGRES_PORT }],
    }];
    const dns = {
        to: [{
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
            podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
        }],
        ports: [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }],
    };
    const https = {
        to: [
            { ipBlock: { cidr: "0.0.0.0/0", except: [...BLOCKED_EGRESS_V4] } },
            { ipBlock: { cidr: "::/0", except: [...BLOCKED_EGRESS_V6] } },
        ],
        ports: [{ protocol: "TCP", port: 443 }],
    };
    return {
        podSelector: { matchLabels: { ...input.podSelector } },
        policyTypes: ["Ingress", "Egress"],
        ingress,
        egress: input.fetchesBackup ? [dns, https] : [dns],
    };
}

/** Every CIDR the policy lets in, split by family (for reading the rule back in tests and docs). */
export function ingressCidrs(spec: ReturnType<typeof networkPolicySpec>): { v4: string[]; v6: string[] } {
    const all = spec.ingress.flatMap((rule) => rule.from.map((f) => f.ipBlock.cidr));
    return { v4: all.filter((c) => !isIpv6Cidr(c)), v6: all.filter(isIpv6Cidr) };
}
