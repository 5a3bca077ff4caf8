/**
 * DevDbAccess as the prod stack declares it, against the cluster of
 * DBAAS_E2E_KUBE_SERVER / DBAAS_E2E_KUBE_CA through the admin KUBECONFIG
 * (scripts/e2e/kube.sh up writes all three).
 */
import * as fs from "node:fs";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { DevDbAccess } from "../../../../components/aws/DevDbAccess";

function env(name: string): string {
    const value = process.env[name];
    if (value === undefined || value === "") throw new pulumi.RunError(`${name} is unset: run npm run e2e:up and source .e2e/env`);
    return value;
}

const provider = new k8s.Provider("e2e", { kubeconfig: fs.readFileSync(env("KUBECONFIG"), "utf8") });
const access = new DevDbAccess("devdb", {
    provider,
    cluster: { name: "e2e", endpoint: env("DBAAS_E2E_KUBE_SERVER"), certificateAuthorityData: fs.readFileSync(env("DBAAS_E2E_KUBE_CA")).toString("base64") },
    namespacePrefix: "devdb-",
});

export const apiKubeconfig = access.apiKubeconfig;
