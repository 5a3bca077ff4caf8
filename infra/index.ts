/**
 * The platform program: `pulumi up --stack dev|staging|prod`. It validates the
 * stack config, then composes the components on the stack's platform target
 * (`platform.target`): `docker` (dockerPlatform.ts) or `kubernetes`
 * (kubernetesPlatform.ts). Everything environment-specific comes from the
 * stack's config (Pulumi.<stack>.yaml).
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { EcrRepositories, eksConnection } from "../components/aws";
import { StackCa } from "../components/tls";
import { defaultVersion } from "../contracts/catalog";
import { loadConfig } from "./config";
import { dockerPlatform } from "./dockerPlatform";
import { kubernetesPlatform } from "./kubernetesPlatform";

const config = loadConfig();
const stack = pulumi.getStack();

/** Signs the certificates services use among themselves (and nginx's with tls.mode selfSigned). */
const ca = new StackCa("stack-ca", { commonName: `dbaas ${stack} CA` });

/** Clients trust the stack's services through this certificate. */
export const caCertificate = ca.certPem;

/** The validated, non-secret settings, so `pulumi stack output` shows what this stack runs. */
export const settings = {
    domain: config.domain,
    tlsMode: config.tls.mode,
    platformTarget: config.platform.target,
    apiReplicas: config.api.replicas,
    postgresVersions: config.postgres.versions.map((v) => v.label),
    defaultPostgresVersion: defaultVersion(config.postgres.versions).label,
    awsEnabled: config.aws.enabled,
    ondemandTarget: config.ondemand.target,
};

// ---- AWS (aws.enabled): ECR repositories and the connection to the EKS cluster ----
const awsTarget = config.aws.enabled && config.aws.region && config.aws.clusterName ? { region: config.aws.region, clusterName: config.aws.clusterName } : undefined;
const awsProvider = awsTarget ? new aws.Provider("aws", { region: awsTarget.region }) : undefined;
/** Where the API image is pushed: `ecr.apiRegistry` (password secret). Undefined without AWS. */
const ecr = awsTarget && awsProvider ? new EcrRepositories("ecr", {
    repositories: config.aws.repositories,
    keepTaggedImages: config.aws.keepTaggedImages,
    untaggedExpiryDays: config.aws.untaggedExpiryDays,
}, { providers: [awsProvider] }) : undefined;
const eks = awsTarget && awsProvider ? eksConnection("eks", { ...awsTarget, awsProvider }) : undefined;
export const ecrRepositoryUrls = ecr?.repositoryUrls;

// ---- the platform itself, on its target ----
const onKubernetes = config.platform.target === "kubernetes";
if (onKubernetes && !(awsTarget && awsProvider && ecr && eks)) {
    // The schema refuses this already; kept so the types below need no casts.
    throw new pulumi.RunError("dbaas:platform.target is kubernetes but aws is not enabled: set dbaas:aws.enabled, aws.region and aws.clusterName");
}
const k8sPlatform = onKubernetes && awsTarget && awsProvider && ecr && eks
    ? kubernetesPlatform(config, ca, { region: awsTarget.region, provider: awsProvider, ecr, eks })
    : undefined;
const dockerHostPlatform = k8sPlatform ? undefined : dockerPlatform(config, ca, { ...(ecr ? { ecr } : {}), ...(eks ? { eks } : {}) });

/** The catalog as the API reads it (JSON of `postgres.versions`). */
export const postgresCatalogJson = k8sPlatform?.postgresCatalogJson ?? dockerHostPlatform?.postgresCatalogJson;
export const adminDatabaseHost = k8sPlatform?.adminDatabaseHost ?? dockerHostPlatform?.adminDatabaseHost;
/** Kubeconfig of the devdb ServiceAccount (secret), only when the API runs outside the cluster (docker target with AWS). */
export const apiKubeconfig = dockerHostPlatform?.apiKubeconfig;
/** Where the API is reached. */
export const url = config.platform.target === "kubernetes" || config.nginx.httpsPort === 443 ? `https://${config.domain}` : `https://${config.domain}:${config.nginx.httpsPort}`;
export const apiImage = k8sPlatform?.apiImage ?? dockerHostPlatform?.apiImage;
export const nginxContainer = dockerHostPlatform?.nginxContainer;
/** kubernetes target: nginx's Service (its LoadBalancer address is where DNS points), the API's IAM role and state backend. */
export const nginxService = k8sPlatform?.nginxService;
export const apiRoleArn = k8sPlatform?.apiRoleArn;
export const stateBackendUrl = k8sPlatform?.stateBackendUrl;
