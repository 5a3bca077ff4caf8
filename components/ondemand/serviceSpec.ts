/**
 * How one database is exposed. With source ranges it gets a LoadBalancer (an
 * internet-facing NLB) restricted to exactly those ranges; without them it is
 * not exposed outside the cluster (ClusterIP). `0.0.0.0/0` is never added by
 * default: it only appears when the spec lists it. No Pulumi imports.
 */
import { POSTGRES_PORT } from "../../contracts/ports";

/** The `spec` of the database's Service, selecting `selector`. */
export function serviceSpec(sourceRanges: readonly string[], selector: Record<string, string>) {
    const ports = [{ name: "postgres", port: POSTGRES_PORT, targetPort: POSTGRES_PORT, protocol: "TCP" }];
    if (sourceRanges.length === 0) {
        return { type: "ClusterIP", selector: { ...selector }, ports };
    }
    return {
        type: "LoadBalancer",
        selector: { ...selector },
        ports,
        loadBalancerSourceRanges: [...sourceRanges],
        // Keep the client's address, so the NetworkPolicy's ipBlocks see the real source.
        externalTrafficPolicy: "Local",
    };
}

/** Annotations for the AWS load balancer controller when the Service is a LoadBalancer. */
export function serviceAnnotations(sourceRanges: readonly string[]): Record<string, string> {
    if (sourceRanges.length === 0) return {};
    return {
        "service.beta.kubernetes.io/aws-load-balancer-type": "external",
        "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
        "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
        // IP targets see the NLB's address unless client IP preservation is on.
        "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes": "preserve_client_ip.enabled=true",
    };
}
