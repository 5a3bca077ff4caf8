/**
 * Platform target `kubernetes` (staging, prod): the API as a Deployment in
 * namespace devdb running as the devdb ServiceAccount (projected token, IRSA
 * role for its state on S3 + KMS), nginx as a Deployment behind a
 * closed-by-default LoadBalancer or an existing ingress-nginx, the admin
 * database on Amazon RDS. No Docker host is used; only the image is built
 * (where `pulumi up` runs, on `dockerHost`) and pushed to ECR.
 */
import * as path from "node:path";
import type * as awsSdk from "@pulumi/aws";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { AdminDatabaseRds, ApiStateAccess, DevDbAccess, IRSA_ROLE_ANNOTATION, type EcrRepositories, type EksConnection } from "../components/aws";
import { ApiDeployment, apiImage, contentTag, readSourceFiles } from "../components/api";
import { NginxDeployment, nginxExposure } from "../components/proxy";
import type { StackCa } from "../components/tls";
import { defaultVersion, findVersion, postgresMajor } from "../contracts/catalog";
import { DEVDB_NAMESPACE, DEVDB_SERVICE_ACCOUNT } from "../contracts/devdb";
import { apiSettings, type PlatformConfig } from "./config";
import { servedCertificate } from "./dockerPlatform";

export interface KubernetesPlatform {
    readonly postgresCatalogJson: string;
    readonly adminDatabaseHost: pulumi.Output<string>;
    readonly apiImage: pulumi.Output<string>;
    readonly apiRoleArn: pulumi.Output<string>;
    readonly stateBackendUrl: pulumi.Output<string>;
    readonly nginxService: pulumi.Output<string>;
}

export function kubernetesPlatform(config: PlatformConfig, ca: StackCa, aws: { region: string; provider: awsSdk.Provider; ecr: EcrRepositories; eks: EksConnection }): KubernetesPlatform {
    const platform = config.platform;
    const rds = platform.rds;
    // The schema requires it on this target; this keeps the types honest.
    if (rds === undefined) throw new pulumi.RunError("dbaas:platform.rds is required when platform.target is kubernetes");
    const k8sOpts = { provider: aws.eks.provider };

    // ---- identity: the ServiceAccount, its AWS role, its state ----
    const state = new ApiStateAccess("api-state", {
        region: aws.region,
        oidcIssuerUrl: aws.eks.oidcIssuerUrl,
        serviceAccount: { namespace: DEVDB_NAMESPACE, name: DEVDB_SERVICE_ACCOUNT },
        prefix: platform.stateBucketPrefix,
        ...(config.backups.store === "s3" ? { backupPrefix: config.backups.s3.prefix } : {}),
    }, { providers: [aws.provider] });
    const access = new DevDbAccess("devdb", {
        provider: aws.eks.provider,
        cluster: aws.eks.cluster,
        namespacePrefix: config.ondemand.namespacePrefix,
        apiCredential: "projected",
        serviceAccountAnnotations: { [IRSA_ROLE_ANNOTATION]: state.roleArn },
        adoptExisting: platform.adoptExisting,
    });

    // ---- the admin database on RDS ----
    const adminVersion = findVersion(config.postgres.versions, config.postgres.adminVersion ?? defaultVersion(config.postgres.versions).label) ?? defaultVersion(config.postgres.versions);
    const major = postgresMajor(adminVersion.image);
    if (major === undefined) throw new pulumi.RunError(`dbaas:postgres.versions: the admin version's image ${adminVersion.image} has no major version tag (e.g. postgres:17.2), which RDS needs`);
    const adminDatabase = new AdminDatabaseRds("admin-db", {
        major,
        vpcId: rds.vpcId,
        subnetIds: rds.subnetIds,
        clusterSecurityGroupId: rds.clusterSecurityGroupId ?? aws.eks.clusterSecurityGroupId,
        instanceClass: rds.instanceClass,
        allocatedStorageGb: rds.allocatedStorageGb,
        maxAllocatedStorageGb: rds.maxAllocatedStorageGb,
        multiAz: rds.multiAz,
        backupRetentionDays: rds.backupRetentionDays,
        verifyCertificate: rds.caBundlePem !== undefined,
    }, { providers: [aws.provider] });

    // ---- the API image, pushed to ECR and run by digest ----
    const repoRoot = path.resolve(__dirname, "..");
    /** Builds where `pulumi up` runs (its Docker engine); nothing runs on it. */
    const buildProvider = new docker.Provider("image-build", { host: config.dockerHost });
    const image = apiImage("api-image", {
        build: {
            context: repoRoot,
            tag: contentTag(readSourceFiles(repoRoot), { PULUMI_VERSION: config.api.pulumiVersion }),
            pulumiVersion: config.api.pulumiVersion,
        },
        imageName: config.api.imageName,
        registry: aws.ecr.apiRegistry,
    }, { provider: buildProvider });

    const api = new ApiDeployment("api", {
        namespace: access.namespaceName,
        serviceAccountName: access.serviceAccountName,
        image: image.repoDigest,
        replicas: config.api.replicas,
        memoryMb: config.api.memoryMb,
        cpuMillicores: platform.apiCpuMillicores,
        settings: apiSettings(config),
        adminDatabaseUrl: adminDatabase.apiConnectionUrl,
        ...(rds.caBundlePem === undefined ? {} : { trustedCaPem: rds.caBundlePem }),
        ...(config.smtpUrl === undefined ? {} : { smtpUrl: pulumi.secret(config.smtpUrl.reveal()) }),
        state: {
            backendUrl: state.backendUrl, secretsProvider: state.secretsProvider, region: aws.region,
            // The S3 store in the state bucket, with its key, under the prefix the role is granted (ApiStateAccess backupPrefix).
            ...(config.backups.store === "s3" ? { backups: { bucket: state.bucketName, keyArn: state.keyArn, prefix: config.backups.s3.prefix } } : {}),
        },
        dependsOn: [access.admissionBinding],
    }, k8sOpts);

    const nginx = new NginxDeployment("nginx", {
        namespace: access.namespaceName,
        image: config.nginx.image,
        domain: config.domain,
        upstream: api.upstream,
        ...servedCertificate(config, ca),
        exposure: nginxExposure(platform.exposure, platform.sourceRanges, platform.ingressClassName),
        replicas: platform.nginxReplicas,
        memoryMb: config.nginx.memoryMb,
        cpuMillicores: platform.nginxCpuMillicores,
        hstsMaxAgeSeconds: config.tls.hstsMaxAgeSeconds,
        clientMaxBodySize: config.nginx.clientMaxBodySize,
    }, k8sOpts);

    return {
        postgresCatalogJson: JSON.stringify(config.postgres.versions),
        adminDatabaseHost: adminDatabase.host,
        apiImage: image.repoDigest,
        apiRoleArn: state.roleArn,
        stateBackendUrl: state.backendUrl,
        nginxService: nginx.serviceName,
    };
}
