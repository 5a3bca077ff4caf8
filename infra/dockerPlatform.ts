/**
 * Platform target `docker` (dev; or any stack that sets it): nginx, the API
 * replicas and the admin PostgreSQL as containers on `dockerHost`, the
 * catalog's images pre-pulled there. With AWS enabled the API reaches EKS from
 * outside the cluster with the devdb ServiceAccount's kubeconfig.
 */
import * as path from "node:path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { DevDbAccess, type EcrRepositories, type EksConnection } from "../components/aws";
import { CatalogImages, PostgresInstance } from "../components/postgres";
import { ApiService } from "../components/api";
import { NginxProxy } from "../components/proxy";
import { Certificates, type StackCa } from "../components/tls";
import { defaultVersion, findVersion } from "../contracts/catalog";
import { apiImageBuild, apiSettings, type PlatformConfig } from "./config";

/** What the target hands back to the program's exports. */
export interface DockerPlatform {
    readonly postgresCatalogJson: string;
    readonly adminDatabaseHost: string;
    readonly apiKubeconfig: pulumi.Output<string> | undefined;
    readonly apiImage: pulumi.Output<string>;
    readonly nginxContainer: pulumi.Output<string>;
}

export function dockerPlatform(config: PlatformConfig, ca: StackCa, aws: { ecr?: EcrRepositories; eks?: EksConnection }): DockerPlatform {
    const stack = pulumi.getStack();
    /** Every container of the platform runs on this Docker host. */
    const dockerProvider = new docker.Provider("docker", { host: config.dockerHost });
    /** nginx, the API replicas and Postgres talk over this network only. */
    const network = new docker.Network("dbaas", { name: `dbaas-${stack}`, driver: "bridge" }, { provider: dockerProvider });

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

    /** The API's identity on EKS from outside the cluster: `devDbAccess.apiKubeconfig` (secret) goes to ApiService. Undefined without AWS. */
    const devDbAccess = aws.eks ? new DevDbAccess("devdb", { provider: aws.eks.provider, cluster: aws.eks.cluster, namespacePrefix: config.ondemand.namespacePrefix }) : undefined;
    const ecr = aws.ecr;

    // ---- web tier: the API replicas and nginx in front of them ----
    const repoRoot = path.resolve(__dirname, "..");
    /** The API replicas; their image is built from the repo's Dockerfile with a content tag. */
    const api = new ApiService("api", {
        build: apiImageBuild(config, repoRoot),
        imageName: config.api.imageName,
        replicas: config.api.replicas,
        memoryMb: config.api.memoryMb,
        network,
        settings: apiSettings(config),
        adminDatabaseUrl: adminDatabase.apiConnectionUrl,
        caCertPem: ca.certPem,
        // AWS enabled: push to the ECR repository, and reach EKS as the devdb ServiceAccount.
        ...(ecr ? {
            registry: {
                repositoryUrl: ecr.apiRepositoryUrl,
                server: ecr.registryAuth.apply((a) => a.server),
                username: ecr.registryAuth.apply((a) => a.username),
                password: ecr.registryAuth.apply((a) => a.password),
            },
        } : {}),
        ...(devDbAccess?.apiKubeconfig ? { kubeconfig: devDbAccess.apiKubeconfig } : {}),
        // Secret config; the parser checked it is an smtp(s):// URL.
        ...(config.smtpUrl === undefined ? {} : { smtpUrl: pulumi.secret(config.smtpUrl.reveal()) }),
        // dev (docker target on the local socket): the socket's group, so the non-root API may use it; the config requires it then.
        ...(config.api.dockerSocketGroupId === undefined ? {} : { dockerSocketGroupId: config.api.dockerSocketGroupId }),
        provider: dockerProvider,
    });
    /** nginx on 80/443: TLS, HTTP→HTTPS redirect, ACME path, proxy to the API replicas. */
    const proxy = new NginxProxy("nginx", {
        image: config.nginx.image,
        domain: config.domain,
        upstreams: api.upstreams,
        network,
        ...servedCertificate(config, ca),
        publishIp: config.nginx.publishIp,
        httpPort: config.nginx.httpPort,
        httpsPort: config.nginx.httpsPort,
        hstsMaxAgeSeconds: config.tls.hstsMaxAgeSeconds,
        clientMaxBodySize: config.nginx.clientMaxBodySize,
        acmeChallengeHostDir: config.tls.acmeChallengeDir,
        memoryMb: config.nginx.memoryMb,
        provider: dockerProvider,
    }, { dependsOn: api.containers });

    return {
        postgresCatalogJson: catalogImages.catalogJson,
        adminDatabaseHost: adminDatabase.host,
        apiKubeconfig: devDbAccess?.apiKubeconfig,
        apiImage: api.imageRef,
        nginxContainer: proxy.containerName,
    };
}

/** The certificate nginx serves: from the stack CA (selfSigned) or the provided chain and key. Both targets use it. */
export function servedCertificate(config: PlatformConfig, ca: StackCa): { certificateChainPem: pulumi.Output<string>; privateKeyPem: pulumi.Output<string> } {
    const certificates = config.tls.mode === "selfSigned"
        ? new Certificates("web-tls", { mode: "selfSigned", ca, domain: config.domain })
        : new Certificates("web-tls", {
            mode: "provided",
            // Both keys are secret config; the parser already checked they are PEM of the right kind.
            certificateChainPem: pulumi.secret(config.tlsCertificateChain?.reveal() ?? ""),
            privateKeyPem: pulumi.secret(config.tlsPrivateKey?.reveal() ?? ""),
        });
    return { certificateChainPem: certificates.chainPem, privateKeyPem: certificates.privateKeyPem };
}
