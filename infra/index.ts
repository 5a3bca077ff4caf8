/**
 * The platform program: `pulumi up --stack dev|prod`. It validates the stack
 * config, then composes the components; everything environment-specific comes
 * from the stack's config (see Pulumi.dev.yaml / Pulumi.prod.yaml).
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { StackCa } from "../components/tls";
import { defaultVersion } from "./catalog";
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

// The component sections below are added by their areas (web tier, Postgres,
// AWS); each uses `config`, `dockerProvider`, `network` and `ca` from above.
void network;
