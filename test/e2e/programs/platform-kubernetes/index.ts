/**
 * clusterWorkloads as the staging stack declares it, against the cluster of
 * DBAAS_E2E_KUBE_SERVER / DBAAS_E2E_KUBE_CA through the admin KUBECONFIG.
 * The config is Pulumi.staging.yaml's, parsed by the platform's own parser;
 * the provided certificate comes from DBAAS_E2E_TLS_CHAIN / DBAAS_E2E_TLS_KEY
 * (files the test makes). STAND-INS for what AWS would give: the IRSA role's
 * ARN, the image digest (kwok SIMULATES the kubelets, so nothing is pulled),
 * the RDS URL, the S3 state backend, the backups' bucket and the KMS key.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { parse as parseYaml } from "yaml";
import { clusterWorkloads } from "../../../../infra/clusterWorkloads";
import { parsePlatformConfig } from "../../../../contracts/stackConfig";

function env(name: string): string {
    const value = process.env[name];
    if (value === undefined || value === "") throw new pulumi.RunError(`${name} is unset: run npm run e2e:up and source .e2e/env`);
    return value;
}

const file = parseYaml(fs.readFileSync(path.join(__dirname, "..", "..", "..", "..", "Pulumi.staging.yaml"), "utf8")) as { config: Record<string, unknown> };
const config = parsePlatformConfig({
    ...Object.fromEntries(Object.entries(file.config).map(([k, v]) => [k.replace(/^dbaas:/, ""), v])),
    tlsCertificateChain: fs.readFileSync(env("DBAAS_E2E_TLS_CHAIN"), "utf8"),
    tlsPrivateKey: fs.readFileSync(env("DBAAS_E2E_TLS_KEY"), "utf8"),
});

const provider = new k8s.Provider("e2e", { kubeconfig: fs.readFileSync(env("KUBECONFIG"), "utf8") });
const workloads = clusterWorkloads(config, {
    provider,
    cluster: { name: "e2e", endpoint: env("DBAAS_E2E_KUBE_SERVER"), certificateAuthorityData: fs.readFileSync(env("DBAAS_E2E_KUBE_CA")).toString("base64") },
    roleArn: "arn:aws:iam::123456789012:role/dbaas-e2e-api",
    image: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/dbaas-api@sha256:${"a".repeat(64)}`,
    adminDatabase: { kind: "external", url: pulumi.secret("postgresql://dbaas_owner:stand-in@admin-db.stand-in.internal:5432/dbaas?sslmode=verify-full") },
    state: {
        backendUrl: "s3://dbaas-e2e-state/staging/ondemand?region=eu-west-1", secretsProvider: "awskms://alias/dbaas-e2e?region=eu-west-1", region: "eu-west-1",
        ...(config.backups.store === "s3" ? { backups: { bucket: "dbaas-e2e-state", keyArn: "arn:aws:kms:eu-west-1:123456789012:key/stand-in", prefix: config.backups.s3.prefix } } : {}),
    },
    certificate: { certificateChainPem: config.tlsCertificateChain?.reveal() ?? "", privateKeyPem: pulumi.secret(config.tlsPrivateKey?.reveal() ?? "") },
});

export const nginxService = workloads.nginx.serviceName;
