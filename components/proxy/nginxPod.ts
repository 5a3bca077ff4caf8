/**
 * Decisions about nginx as a non-root pod (platform target `kubernetes`):
 * unprivileged ports, writable paths on emptyDirs, the certificate from a TLS
 * Secret, how it is exposed (a LoadBalancer open only to the declared source
 * ranges, an Ingress of an existing ingress-nginx, or nothing outside the
 * cluster). The nginx.conf is the same `renderNginxConf` the container gets.
 * No Pulumi imports: tested directly.
 */
import { NGINX_PATHS, nginxHealthcheck } from "./nginxContainer";
import type { NginxConfPaths } from "./nginxConf";

/** uid/gid of the `nginx` user in the official images; the pod runs as it, so nginx listens above 1024. */
export const NGINX_UID = 101;
/** Ports inside the pod (non-root nginx cannot bind 80/443); the Service maps 80/443 to them. */
export const NGINX_POD_PORTS = { http: 8080, https: 8443 } as const;
/** Labels of nginx's pods. */
export const NGINX_POD_LABELS = { "app.kubernetes.io/name": "dbaas-nginx", "app.kubernetes.io/part-of": "dbaas" } as const;

/** The container's paths with the root filesystem read-only: pid and temp files go to the /tmp emptyDir. */
export const NGINX_POD_PATHS: NginxConfPaths = { ...NGINX_PATHS, pid: "/tmp/nginx.pid", tempDir: "/tmp" };

/** The TLS Secret's keys (type kubernetes.io/tls) mapped to the files nginx.conf names. */
export function tlsSecretItems(): { key: string; path: string }[] {
    const file = (p: string) => p.slice(p.lastIndexOf("/") + 1);
    return [
        { key: "tls.crt", path: file(NGINX_POD_PATHS.certificate) },
        { key: "tls.key", path: file(NGINX_POD_PATHS.privateKey) },
    ];
}

/** The directory the TLS Secret is mounted at (both files are in it). */
export function tlsMountDir(): string {
    const cert = NGINX_POD_PATHS.certificate;
    const dir = cert.slice(0, cert.lastIndexOf("/"));
    if (NGINX_POD_PATHS.privateKey.slice(0, NGINX_POD_PATHS.privateKey.lastIndexOf("/")) !== dir) throw new Error("nginx's certificate and key must share a directory to come from one Secret");
    return dir;
}

/** The exec probe: the container health check of the image, on the pod's HTTP port. */
export function nginxProbe(image: string): Record<string, unknown> {
    const check = nginxHealthcheck(image, NGINX_POD_PORTS.http);
    return { exec: { command: check.tests.slice(1) }, periodSeconds: 15, timeoutSeconds: 5, failureThreshold: 3 };
}

/** How clients reach nginx. */
export type NginxExposure =
    /** A Service of type LoadBalancer that admits only `sourceRanges`. */
    | { kind: "loadBalancer"; sourceRanges: readonly string[] }
    /** An Ingress for an existing ingress-nginx, admitting only `sourceRanges`. */
    | { kind: "ingress"; ingressClassName: string; sourceRanges: readonly string[] }
    /** Nothing outside the cluster (ClusterIP only): what `loadBalancer` becomes without source ranges. */
    | { kind: "closed" };

/** Closed by default: a LoadBalancer without source ranges would be open to the Internet, so it is not made at all. */
export function nginxExposure(kind: "loadBalancer" | "ingress", sourceRanges: readonly string[], ingressClassName: string): NginxExposure {
    if (sourceRanges.some((r) => /\/0$/.test(r.trim()))) throw new Error(`nginx source ranges ${sourceRanges.join(", ")}: a /0 range admits every address; list the client CIDRs`);
    if (kind === "ingress") {
        if (sourceRanges.length === 0) throw new Error("an Ingress for nginx needs at least one source range (platform.sourceRanges)");
        return { kind, ingressClassName, sourceRanges };
    }
    return sourceRanges.length === 0 ? { kind: "closed" } : { kind, sourceRanges };
}

/** The nginx Service's spec for an exposure: LoadBalancer with the ranges (client addresses kept), else ClusterIP. */
export function nginxServiceSpec(exposure: NginxExposure): Record<string, unknown> {
    const ports = [
        { name: "http", port: 80, targetPort: "http", protocol: "TCP" },
        { name: "https", port: 443, targetPort: "https", protocol: "TCP" },
    ];
    const selector = { ...NGINX_POD_LABELS };
    if (exposure.kind === "loadBalancer") {
        // Local: the client's own address reaches nginx (and the source-range check), not a node's.
        return { type: "LoadBalancer", selector, ports, loadBalancerSourceRanges: [...exposure.sourceRanges], externalTrafficPolicy: "Local" };
    }
    return { type: "ClusterIP", selector, ports };
}

/** ingress-nginx annotations: TLS to nginx too (it terminates again with the same certificate), and the allowed client ranges. */
export function ingressAnnotations(exposure: Extract<NginxExposure, { kind: "ingress" }>): Record<string, string> {
    return {
        "nginx.ingress.kubernetes.io/backend-protocol": "HTTPS",
        "nginx.ingress.kubernetes.io/whitelist-source-range": exposure.sourceRanges.join(","),
        "nginx.ingress.kubernetes.io/force-ssl-redirect": "true",
    };
}
