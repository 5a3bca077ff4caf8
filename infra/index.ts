/**
 * The platform program: `pulumi up --stack dev|prod`. It validates the stack
 * config, then composes the components; everything environment-specific comes
 * from the stack's config (see Pulumi.dev.yaml / Pulumi.prod.yaml).
 */
import { loadConfig } from "./config";
import { defaultVersion } from "./catalog";

const config = loadConfig();

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
