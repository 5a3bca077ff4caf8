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
import { AdminDatabaseRds, ApiStateAccess, type EcrRepositories, type EksConnection } from "../components/aws";
import { apiImage } from "../components/api";
import type { StackCa } from "../components/tls";
import { defaultVersion, findVersion, postgresMajor } from "../contracts/catalog";
import { DEVDB_NAMESPACE, DEVDB_SERVICE_ACCOUNT } from "../contracts/devdb";
import { clusterWorkloads } from "./clusterWorkloads";
import { apiImageBuild, type PlatformConfig } from "./config";
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
    // ---- identity: the ServiceAccount, its AWS role, its state ----
    const state = new ApiStateAccess("api-state", {
        region: aws.region,
        oidcIssuerUrl: aws.eks.oidcIssuerUrl,
        serviceAccount: { namespace: DEVDB_NAMESPACE, name: DEVDB_SERVICE_ACCOUNT },
        prefix: platform.stateBucketPrefix,
        ...(config.backups.store === "s3" ? { backupPrefix: config.backups.s3.prefix } : {}),
    }, { providers: [aws.provider] });
    // ---- the admin database: on RDS, or a StatefulSet in devdb (platform.adminDatabase) ----
    const adminVersion = findVersion(config.postgres.versions, config.postgres.adminVersion ?? defaultVersion(config.postgres.versions).label) ?? defaultVersion(config.postgres.versions);
    const rds = platform.adminDatabase === "rds" ? rdsAdminDatabase(config, aws, adminVersion.image) : undefined;

    // ---- the API image, pushed to ECR and run by digest ----
    const repoRoot = path.resolve(__dirname, "..");
    /** Builds where `pulumi up` runs (its Docker engine); nothing runs on it. */
    const buildProvider = new docker.Provider("image-build", { host: config.dockerHost });
    const image = apiImage("api-image", {
        build: apiImageBuild(config, repoRoot),
        imageName: config.api.imageName,
        registry: aws.ecr.apiRegistry,
    }, { provider: buildProvider });

    // ---- on the cluster: devdb's identity, the API and nginx ----
    const { nginx, adminDatabase: inCluster } = clusterWorkloads(config, {
        provider: aws.eks.provider,
        cluster: aws.eks.cluster,
        roleArn: state.roleArn,
        image: image.repoDigest,
        adminDatabase: rds === undefined
            ? { kind: "inCluster", image: adminVersion.image, ca }
            : { kind: "external", url: rds.database.apiConnectionUrl, ...(rds.caBundlePem === undefined ? {} : { trustedCaPem: rds.caBundlePem }) },
        state: {
            backendUrl: state.backendUrl, secretsProvider: state.secretsProvider, region: aws.region,
            // The S3 store in the state bucket, with its key, under the prefix the role is granted (ApiStateAccess backupPrefix).
            ...(config.backups.store === "s3" ? { backups: { bucket: state.bucketName, keyArn: state.keyArn, prefix: config.backups.s3.prefix } } : {}),
        },
        certificate: servedCertificate(config, ca),
    });

    return {
        postgresCatalogJson: JSON.stringify(config.postgres.versions),
        adminDatabaseHost: rds?.database.host ?? inCluster?.host ?? pulumi.output(""),
        apiImage: image.repoDigest,
        apiRoleArn: state.roleArn,
        stateBackendUrl: state.backendUrl,
        nginxService: nginx.serviceName,
    };
}

/** The admin database on Amazon RDS, in the cluster's VPC (platform.rds; the schema requires it with adminDatabase "rds"). */
function rdsAdminDatabase(config: PlatformConfig, aws: { provider: awsSdk.Provider; eks: EksConnection }, image: string): { database: AdminDatabaseRds; caBundlePem?: string } {
    const rds = config.platform.rds;
    if (rds === undefined) throw new pulumi.RunError("dbaas:platform.rds is required when platform.target is kubernetes and platform.adminDatabase is rds");
    const major = postgresMajor(image);
    if (major === undefined) throw new pulumi.RunError(`dbaas:postgres.versions: the admin version's image ${image} has no major version tag (e.g. postgres:17.2), which RDS needs`);
    const database = new AdminDatabaseRds("admin-db", {
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
    return { database, ...(rds.caBundlePem === undefined ? {} : { caBundlePem: rds.caBundlePem }) };
}
