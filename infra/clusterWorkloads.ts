/**
 * The platform's objects on the cluster (platform target `kubernetes`): the
 * devdb namespace, ServiceAccount and grants (DevDbAccess, projected token),
 * the API Deployment and nginx. Their AWS inputs (the IRSA role, the state
 * bucket and key, the admin database's URL, the image by digest) are inputs
 * here: kubernetesPlatform passes EKS's, RDS's and ECR's; the e2e fixture
 * (test/e2e/programs/platform-kubernetes) passes stand-ins and applies this
 * part with the real CLI to a local API server.
 */
import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { API_POD_LABELS, ApiDeployment, type ApiDeploymentArgs } from "../components/api";
import { DevDbAccess, IRSA_ROLE_ANNOTATION, type ClusterEndpoint } from "../components/aws";
import { AdminDatabaseInCluster } from "../components/postgres";
import { NginxDeployment, nginxExposure } from "../components/proxy";
import type { StackCa } from "../components/tls";
import { DEVDB_NAMESPACE } from "../contracts/devdb";
import { apiSettings, type PlatformConfig } from "./config";

export interface ClusterWorkloadInputs {
    /** Provider of the cluster; every object goes there. */
    readonly provider: k8s.Provider;
    /** The cluster as a kubeconfig names it (DevDbAccess's checks). */
    readonly cluster: pulumi.Input<ClusterEndpoint>;
    /** The API's AWS role, annotated on the ServiceAccount (IRSA). */
    readonly roleArn: pulumi.Input<string>;
    /** The API image, by digest. */
    readonly image: pulumi.Input<string>;
    /**
     * The API's admin database: one outside the cluster (RDS) by its URL (secret) and the CA
     * bundle it is verified with, when configured; or one declared here, in the namespace
     * (platform.adminDatabase: inCluster), with a certificate of the stack CA.
     */
    readonly adminDatabase:
        | { readonly kind: "external"; readonly url: pulumi.Input<string>; readonly trustedCaPem?: string }
        | { readonly kind: "inCluster"; readonly image: string; readonly ca: StackCa };
    /** The Automation API's state backend and secrets provider (and the S3 backup store, when configured). */
    readonly state: NonNullable<ApiDeploymentArgs["state"]>;
    /** The certificate nginx serves. */
    readonly certificate: { certificateChainPem: pulumi.Input<string>; privateKeyPem: pulumi.Input<string> };
}

export interface ClusterWorkloads {
    readonly access: DevDbAccess;
    readonly api: ApiDeployment;
    readonly nginx: NginxDeployment;
    /** With `adminDatabase.kind: inCluster`. */
    readonly adminDatabase?: AdminDatabaseInCluster;
}

export function clusterWorkloads(config: PlatformConfig, inputs: ClusterWorkloadInputs): ClusterWorkloads {
    const platform = config.platform;
    const k8sOpts = { provider: inputs.provider };
    const access = new DevDbAccess("devdb", {
        provider: inputs.provider,
        cluster: inputs.cluster,
        namespacePrefix: config.ondemand.namespacePrefix,
        apiCredential: "projected",
        serviceAccountAnnotations: { [IRSA_ROLE_ANNOTATION]: inputs.roleArn },
        adoptExisting: platform.adoptExisting,
    });
    const db = inputs.adminDatabase;
    const inCluster = db.kind === "inCluster" ? new AdminDatabaseInCluster("admin-db", {
        namespace: access.namespaceName,
        namespaceName: DEVDB_NAMESPACE,
        image: db.image,
        ca: db.ca,
        clientPodLabels: { ...API_POD_LABELS },
        memoryMb: config.postgres.memoryMb,
        cpuMillicores: platform.inCluster.cpuMillicores,
        storageGb: platform.inCluster.storageGb,
        ...(platform.inCluster.storageClass === undefined ? {} : { storageClass: platform.inCluster.storageClass }),
    }, { provider: inputs.provider }) : undefined;
    const trustedCaPem = db.kind === "inCluster" ? inCluster?.caCertPem : db.trustedCaPem;
    const api = new ApiDeployment("api", {
        namespace: access.namespaceName,
        serviceAccountName: access.serviceAccountName,
        image: inputs.image,
        replicas: config.api.replicas,
        memoryMb: config.api.memoryMb,
        cpuMillicores: platform.apiCpuMillicores,
        settings: apiSettings(config),
        adminDatabaseUrl: inCluster?.apiConnectionUrl ?? (db.kind === "external" ? db.url : ""),
        ...(trustedCaPem === undefined ? {} : { trustedCaPem }),
        ...(config.smtpUrl === undefined ? {} : { smtpUrl: pulumi.secret(config.smtpUrl.reveal()) }),
        state: inputs.state,
        dependsOn: [access.admissionBinding],
    }, k8sOpts);
    const nginx = new NginxDeployment("nginx", {
        namespace: access.namespaceName,
        image: config.nginx.image,
        domain: config.domain,
        upstream: api.upstream,
        ...inputs.certificate,
        exposure: nginxExposure(platform.exposure, platform.sourceRanges, platform.ingressClassName),
        replicas: platform.nginxReplicas,
        memoryMb: config.nginx.memoryMb,
        cpuMillicores: platform.nginxCpuMillicores,
        hstsMaxAgeSeconds: config.tls.hstsMaxAgeSeconds,
        clientMaxBodySize: config.nginx.clientMaxBodySize,
    }, k8sOpts);
    return { access, api, nginx, ...(inCluster === undefined ? {} : { adminDatabase: inCluster }) };
}
