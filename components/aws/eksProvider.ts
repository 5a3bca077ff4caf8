import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { clusterVersionProblem, execKubeconfig, type ClusterEndpoint } from "./kubeconfig";

/**
 * A Kubernetes provider for an existing EKS cluster, looked up by name. Its
 * kubeconfig runs `aws eks get-token` on every call, so no cluster token is
 * ever written to Pulumi state; whoever runs `pulumi up` needs
 * `eks:DescribeCluster` and a cluster-admin-equivalent access entry.
 */
export interface EksProviderArgs {
    /** EKS cluster name (stack config `aws.clusterName`). */
    clusterName: string;
    /** AWS region of the cluster (stack config `aws.region`); passed to `aws eks get-token`. */
    region: string;
    /** AWS provider for the lookup. Default: the ambient provider. */
    awsProvider?: aws.Provider;
    /** Parent of the provider resource. Default: none (the stack). */
    parent?: pulumi.Resource;
}

/** The provider and the cluster facts other components need (e.g. a ServiceAccount kubeconfig). */
export interface EksConnection {
    readonly provider: k8s.Provider;
    readonly cluster: pulumi.Output<ClusterEndpoint>;
    /** The exec kubeconfig the provider uses (holds no credential, still marked secret). */
    readonly kubeconfig: pulumi.Output<string>;
    /** The cluster's OIDC issuer URL (IRSA trusts it); "" when the cluster reports none. */
    readonly oidcIssuerUrl: pulumi.Output<string>;
    /** The security group EKS created for the cluster (nodes and pods use it); "" when it reports none. */
    readonly clusterSecurityGroupId: pulumi.Output<string>;
}

/** Looks the cluster up and creates the Kubernetes provider `name` for it. */
export function eksConnection(name: string, args: EksProviderArgs): EksConnection {
    const invokeOpts: pulumi.InvokeOutputOptions = {
        ...(args.awsProvider ? { provider: args.awsProvider } : {}),
        ...(args.parent ? { parent: args.parent } : {}),
    };
    const found = aws.eks.getClusterOutput({ name: args.clusterName }, invokeOpts);
    const cluster = found.apply((c): ClusterEndpoint => {
        // A cluster too old for ValidatingAdmissionPolicy v1 stops the run here, before anything is created.
        const problem = clusterVersionProblem(args.clusterName, c.version);
        if (problem) throw new Error(problem);
        return { name: c.name, endpoint: c.endpoint, certificateAuthorityData: c.certificateAuthorities[0]?.data ?? "" };
    });
    const kubeconfig = pulumi.secret(cluster.apply((c) => execKubeconfig(c, args.region)));
    const provider = new k8s.Provider(name, {
        kubeconfig,
        // Only a different cluster replaces the provider (and with it every object it manages).
        clusterIdentifier: found.arn,
        enableServerSideApply: true,
    }, args.parent ? { parent: args.parent } : {});
    const oidcIssuerUrl = found.identities.apply((ids) => ids[0]?.oidcs[0]?.issuer ?? "");
    const clusterSecurityGroupId = found.vpcConfig.apply((v) => v.clusterSecurityGroupId);
    return { provider, cluster, kubeconfig, oidcIssuerUrl, clusterSecurityGroupId };
}
