/**
 * Kubeconfig documents for the EKS cluster: one for Pulumi itself (short-lived
 * tokens from `aws eks get-token`, nothing stored in state) and one for the
 * API (the devdb ServiceAccount's token). Plus the cluster version check. No
 * Pulumi imports: tested directly.
 */
import { stringify } from "yaml";

/** What a kubeconfig needs to know about the cluster. */
export interface ClusterEndpoint {
    /** EKS cluster name. */
    readonly name: string;
    /** API server URL (https://...). */
    readonly endpoint: string;
    /** The cluster CA certificate, base64-encoded PEM (as EKS returns it). */
    readonly certificateAuthorityData: string;
}

/** Kubernetes version from which ValidatingAdmissionPolicy is GA (admissionregistration.k8s.io/v1). */
export const MIN_KUBERNETES_VERSION = { major: 1, minor: 30 } as const;

function checkEndpoint(cluster: ClusterEndpoint): void {
    if (!cluster.endpoint.startsWith("https://")) throw new Error(`EKS cluster "${cluster.name}" has endpoint "${cluster.endpoint}"; expected an https:// URL`);
    if (cluster.certificateAuthorityData === "") throw new Error(`EKS cluster "${cluster.name}" returned no certificate authority data`);
}

function document(cluster: ClusterEndpoint, user: string, userEntry: Record<string, unknown>): string {
    checkEndpoint(cluster);
    return stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: cluster.name, cluster: { server: cluster.endpoint, "certificate-authority-data": cluster.certificateAuthorityData } }],
        users: [{ name: user, user: userEntry }],
        contexts: [{ name: cluster.name, context: { cluster: cluster.name, user } }],
        "current-context": cluster.name,
    });
}

/**
 * Kubeconfig whose credentials come from `aws eks get-token` on every use, as
 * whoever runs `pulumi up` (AWS profile or role from the environment).
 */
export function execKubeconfig(cluster: ClusterEndpoint, region: string): string {
    return document(cluster, "aws", {
        exec: {
            apiVersion: "client.authentication.k8s.io/v1beta1",
            command: "aws",
            args: ["eks", "get-token", "--cluster-name", cluster.name, "--region", region],
            interactiveMode: "Never",
        },
    });
}

/** Kubeconfig that authenticates with a ServiceAccount token (the API's credential). */
export function tokenKubeconfig(cluster: ClusterEndpoint, user: string, token: string): string {
    if (token === "") throw new Error(`the ServiceAccount token Secret for ${user} has no data.token yet; run pulumi up again once the token controller has filled it`);
    return document(cluster, user, { token });
}

/** The token of a `kubernetes.io/service-account-token` Secret's `data` (base64). */
export function tokenFromSecretData(data: Readonly<Record<string, string>> | undefined): string {
    const encoded = data?.["token"] ?? "";
    return Buffer.from(encoded, "base64").toString("utf8");
}

/**
 * Why a cluster version cannot run the devdb admission policy, or undefined.
 * EKS reports versions as "1.31"; an unknown version is not refused here
 * (the API server refuses the policy kind itself).
 */
export function clusterVersionProblem(clusterName: string, version: string | undefined): string | undefined {
    if (version === undefined || version === "") return undefined;
    const m = /^(\d+)\.(\d+)/.exec(version);
    if (!m) return `EKS cluster "${clusterName}" reports version "${version}", which is not MAJOR.MINOR`;
    const [major, minor] = [Number(m[1]), Number(m[2])];
    const { major: needMajor, minor: needMinor } = MIN_KUBERNETES_VERSION;
    if (major < needMajor || (major === needMajor && minor < needMinor)) {
        return `EKS cluster "${clusterName}" runs Kubernetes ${version}; the devdb admission policy needs ValidatingAdmissionPolicy v1, GA from ${needMajor}.${needMinor}. Upgrade the cluster (aws eks update-cluster-version --name ${clusterName} --kubernetes-version ${needMajor}.${needMinor})`;
    }
    return undefined;
}
