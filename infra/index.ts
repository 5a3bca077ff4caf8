/**
 * The platform program: `pulumi up --stack dev|prod`. It validates the stack
 * config, then composes the components; everything environment-specific comes
 * from the stack's config (see Pulumi.dev.yaml / Pulumi.prod.yaml).
 */
import * as path from "node:path";
import * as aws from "@pulumi/aws";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { DevDbAccess, EcrRepositories, eksConnection } from "../components/aws";
import { CatalogImages, PostgresInstance } from "../components/postgres";
import { ApiService, contentTag, readSourceFiles } from "../components/api";
import { NginxProxy } from "../components/proxy";
import { Certificates, StackCa } from "../components/tls";
import { defaultVersion, findVersion } from "../contracts/catalog";
import { loadConfig } from "./config";

const config = loadConfig();
const stack = pulumi.getStack();

// ---- shared foundation: the Docker host, its network, the stack's CA ----
/** Every container of the platform runs on this Docker host. */
const dockerProvider = new docker.Provider("docker", { host: config.dockerHost });
/** nginx, the API replicas and Postgres talk over this network only. */
const network = new docker.Network("dbaas", { name: `dbaas-${stack}`, driver: "bridge" }, { provider: dockerProvider });
/** Signs the certificates services use among themselves (and nginx's in dev). */
const ca = new StackCa("stack-ca", { commonName: `dbaas ${stack} CA` });

/** Clients trust the stack's services through this certificate. */
export const caCertificate = ca.certPem;

/** The validated, non-secret settings, so `pulumi stack output` shows what this stack runs. */
export const settings = {
    domain: config.domain,
    tlsMode: config.tls.mode,
    apiReplicas: config.api.replicas,
    postgresVersions: config.postgres.versions.map((v) => v.label),
    defaultPostgresVersion: defaultVersion(config.postgres.versions).label,
    awsEnabled: config.aws.enabled,
    ondemandTarget: config.ondemand.target,
};

// The sections below (Postgres, AWS, web tier) use `config`, `dockerProvider`,
// `network` and `ca` from above.

// ---- Postgres: the version catalog's images and the API's admin database ----
/** Every catalog image, pulled ahead so creating a database never waits for a pull. */
const catalogImages = new CatalogImages("postgres-catalog", { catalog: config.postgres.versions, dockerProvider });
const adminVersion = findVersion(config.postgres.versions, config.postgres.adminVersion ?? defaultVersion(config.postgres.versions).label) ?? defaultVersion(config.postgres.versions);
/** The API's own database (jobs, audit log, database rows); the API connects with `adminDatabase.apiConnectionUrl` (secret). */
const adminDatabase = new PostgresInstance("admin-db", {
    catalog: config.postgres.versions,
    version: adminVersion.label,
    image: catalogImages.imageFor(adminVersion.image),
    memoryMb: config.postgres.memoryMb,
    shmSizeMb: config.postgres.shmSizeMb,
    dockerProvider,
    network,
    alias: "admin-db",
    dockerName: `dbaas-${stack}-admin-db`,
    ca,
    application: "dbaas",
});
/** The catalog as the API reads it (JSON of `postgres.versions`). */
export const postgresCatalogJson = catalogImages.catalogJson;
export const adminDatabaseHost = adminDatabase.host;

// ---- AWS (only when aws.enabled, i.e. prod): ECR repositories and the API's access to EKS ----
const awsTarget = config.aws.enabled && config.aws.region && config.aws.clusterName ? { region: config.aws.region, clusterName: config.aws.clusterName } : undefined;
const awsProvider = awsTarget ? new aws.Provider("aws", { region: awsTarget.region }) : undefined;
/** Where the API image is pushed: `ecr.apiRegistry` (ApiService `registry`; password secret), or `ecr.apiRepositoryUrl` + `ecr.registryAuth` (secret). Undefined without AWS. */
const ecr = awsTarget && awsProvider ? new EcrRepositories("ecr", {
    repositories: config.aws.repositories,
    keepTaggedImages: config.aws.keepTaggedImages,
    untaggedExpiryDays: config.aws.untaggedExpiryDays,
}, { providers: [awsProvider] }) : undefined;
const eks = awsTarget && awsProvider ? eksConnection("eks", { ...awsTarget, awsProvider }) : undefined;
/** The API's identity on EKS: `devDbAccess.apiKubeconfig` (secret) goes to ApiService. Undefined without AWS. */
const devDbAccess = eks ? new DevDbAccess("devdb", { provider: eks.provider, cluster: eks.cluster, namespacePrefix: config.ondemand.namespacePrefix }) : undefined;
export const ecrRepositoryUrls = ecr?.repositoryUrls;
/** Kubeconfig of the devdb ServiceAccount (secret). */
export const apiKubeconfig = devDbAccess?.apiKubeconfig;

// ---- web tier: the API replicas and nginx in front of them (issue 3) ----
const repoRoot = path.resolve(__dirname, "..");
/** The API replicas; their image is built from the repo's Dockerfile with a content tag. */
const api = new ApiService("api", {
    build: {
        context: repoRoot,
        tag: contentTag(readSourceFiles(repoRoot), { PULUMI_VERSION: config.api.pulumiVersion }),
        pulumiVersion: config.api.pulumiVersion,
    },
    imageName: config.api.imageName,
    replicas: config.api.replicas,
    memoryMb: config.api.memoryMb,
    network,
    settings: {
        catalog: config.postgres.versions,
        ttlHoursDefault: config.api.ttlHoursDefault,
        ttlHoursMax: config.api.ttlHoursMax,
        allowedBackupHosts: config.api.allowedBackupHosts,
        allowOpenSourceRanges: config.api.allowOpenSourceRanges,
        maxConcurrentOperations: config.api.maxConcurrentOperations,
        ondemand: config.ondemand,
        dockerHost: config.dockerHost,
    },
    adminDatabaseUrl: adminDatabase.apiConnectionUrl,
    caCertPem: ca.certPem,
    // prod (AWS enabled): push to the ECR repository, and reach EKS as the devdb ServiceAccount.
    ...(ecr ? {
        registry: {
            repositoryUrl: ecr.apiRepositoryUrl,
            server: ecr.registryAuth.apply((a) => a.server),
            username: ecr.registryAuth.apply((a) => a.username),
            password: ecr.registryAuth.apply((a) => a.password),
        },
    } : {}),
    ...(devDbAccess ? { kubeconfig: devDbAccess.apiKubeconfig } : {}),
    // dev (docker target on the local socket): the socket's group, so the non-root API may use it; the config requires it then.
    ...(config.api.dockerSocketGroupId === undefined ? {} : { dockerSocketGroupId: config.api.dockerSocketGroupId }),
    provider: dockerProvider,
});
/** The certificate nginx serves: from the stack CA (dev) or the provided chain and key (prod). */
const certificates = config.tls.mode === "selfSigned"
    ? new Certificates("web-tls", { mode: "selfSigned", ca, domain: config.domain })
    : new Certificates("web-tls", {
        mode: "provided",
        // Both keys are secret config; the parser already checked they are PEM of the right kind.
        certificateChainPem: pulumi.secret(config.tlsCertificateChain?.reveal() ?? ""),
        privateKeyPem: pulumi.secret(config.tlsPrivateKey?.reveal() ?? ""),
    });
/** nginx on 80/443: TLS, HTTP→HTTPS redirect, ACME path, proxy to the API replicas. */
const proxy = new NginxProxy("nginx", {
    image: config.nginx.image,
    domain: config.domain,
    upstreams: api.upstreams,
    network,
    certificateChainPem: certificates.chainPem,
    privateKeyPem: certificates.privateKeyPem,
    httpPort: config.nginx.httpPort,
    httpsPort: config.nginx.httpsPort,
    hstsMaxAgeSeconds: config.tls.hstsMaxAgeSeconds,
    clientMaxBodySize: config.nginx.clientMaxBodySize,
    acmeChallengeHostDir: config.tls.acmeChallengeDir,
    memoryMb: config.nginx.memoryMb,
    provider: dockerProvider,
}, { dependsOn: api.containers });

/** Where the API is reached. */
export const url = config.nginx.httpsPort === 443 ? `https://${config.domain}` : `https://${config.domain}:${config.nginx.httpsPort}`;
export const apiImage = api.imageRef;
export const nginxContainer = proxy.containerName;
