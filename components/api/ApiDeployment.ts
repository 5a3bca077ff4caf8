import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { API_UID, apiEnvironment, STACK_CA_FILE, type ApiSettings, type SecretFileKey } from "../../contracts/apiEnv";
import { API_PORT } from "../../contracts/ports";
import { LABELS, MANAGED_BY } from "../../contracts/labels";
import { disruptionBudgetSpec, guaranteedResources, restrictedContainerSecurityContext, restrictedPodSecurityContext, ROLLING_UPDATE, zoneAndNodeSpread } from "../kubernetes/restricted";
import { API_POD_LABELS, API_SERVICE_NAME, apiProbes, apiServiceUpstream, apiVolumes, k8sEnv, secretFileName } from "./apiPod";

/**
 * The DBaaS API on Kubernetes (platform target `kubernetes`): a Deployment of
 * `replicas` pods running as the given ServiceAccount with a projected,
 * short-lived token (no token Secret, no kubeconfig), restricted pod security,
 * requests = limits, spread over zones and nodes, a PodDisruptionBudget, and a
 * ClusterIP Service nginx proxies to. The environment is the same contract the
 * Docker replicas get (`apiEnvironment`); the admin database URL is a Secret
 * mounted as a file (`DATABASE_URL_FILE`).
 */
export interface ApiDeploymentArgs {
    /** Namespace of every object (the API's own, `devdb`). */
    namespace: pulumi.Input<string>;
    /** The ServiceAccount the pods run as (`devdb`); its identity is the API's in the cluster and, through IRSA, in AWS. */
    serviceAccountName: pulumi.Input<string>;
    /** Image by digest (`<repository>@sha256:...`), so every replica runs exactly the pushed build. */
    image: pulumi.Input<string>;
    /** Pods (stack config `api.replicas`). */
    replicas: number;
    /** Memory of each pod in MiB, request = limit (`api.memoryMb`). */
    memoryMb: number;
    /** CPU of each pod in millicores, request = limit (`platform.apiCpuMillicores`). */
    cpuMillicores: number;
    /** API settings (catalog, TTLs, backup hosts, on-demand target, state backend...). */
    settings: Omit<ApiSettings, "secrets" | "trustStackCa">;
    /** Admin database URL (secret) → Secret → file `DATABASE_URL_FILE`. */
    adminDatabaseUrl: pulumi.Input<string>;
    /** The SMTP server URL (secret: it may hold a password) → Secret → file `DBAAS_SMTP_URL_FILE`. Default: none (no email). */
    smtpUrl?: pulumi.Input<string>;
    /** A CA the API trusts besides the public ones (NODE_EXTRA_CA_CERTS), e.g. the RDS bundle. Default: none. */
    trustedCaPem?: pulumi.Input<string>;
    /**
     * The on-demand stacks' backend and secrets provider (PULUMI_BACKEND_URL,
     * DBAAS_SECRETS_PROVIDER), e.g. from ApiStateAccess; reached with the pod's
     * web identity. Default: `settings`' (a file backend in the pod's scratch
     * volume, lost with the pod: only for tests).
     */
    state?: {
        backendUrl: pulumi.Input<string>;
        secretsProvider: pulumi.Input<string>;
        region: string;
        /** With `settings.backups.store` s3: the bucket and KMS key the backups go to (under `prefix`), e.g. ApiStateAccess's. */
        backups?: { bucket: pulumi.Input<string>; keyArn: pulumi.Input<string>; prefix: string };
    };
    /** Resources the pods wait for, e.g. the admission policy that confines the ServiceAccount. Default: none. */
    dependsOn?: pulumi.Resource[];
}

export class ApiDeployment extends pulumi.ComponentResource {
    /** `host:port` nginx proxies to: the Service's cluster DNS name. */
    readonly upstream: pulumi.Output<string>;
    /** The Deployment's name. */
    readonly deploymentName: pulumi.Output<string>;

    constructor(name: string, args: ApiDeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
        if (!Number.isInteger(args.replicas) || args.replicas < 1) throw new Error(`ApiDeployment ${name}: replicas must be a whole number >= 1, got ${args.replicas}`);
        const resources = guaranteedResources(args.cpuMillicores, args.memoryMb);
        super("dbaas:web:ApiDeployment", name, {}, opts);
        const child = { parent: this };
        const labels = { ...API_POD_LABELS, [LABELS.managedBy]: MANAGED_BY };

        const secretValues: [SecretFileKey, pulumi.Input<string> | undefined][] = [["databaseUrl", args.adminDatabaseUrl], ["smtpUrl", args.smtpUrl]];
        const present = secretValues.filter((e): e is [SecretFileKey, pulumi.Input<string>] => e[1] !== undefined);
        const secretKeys: SecretFileKey[] = present.map(([k]) => k);
        const secret = new k8s.core.v1.Secret(`${name}-secrets`, {
            metadata: { name: `${API_SERVICE_NAME}-secrets`, namespace: args.namespace, labels },
            type: "Opaque",
            stringData: Object.fromEntries(present.map(([k, v]) => [secretFileName(k), pulumi.secret(v)])),
        }, child);
        const caFile = STACK_CA_FILE.slice(STACK_CA_FILE.lastIndexOf("/") + 1);
        const ca = args.trustedCaPem === undefined ? undefined : new k8s.core.v1.ConfigMap(`${name}-trusted-ca`, {
            metadata: { name: `${API_SERVICE_NAME}-trusted-ca`, namespace: args.namespace, labels },
            data: { [caFile]: args.trustedCaPem },
        }, child);

        const state = args.state;
        const env = state === undefined
            ? pulumi.output(k8sEnv(apiEnvironment({ ...args.settings, secrets: new Set(secretKeys), trustStackCa: ca !== undefined })))
            : pulumi.all([state.backendUrl, state.secretsProvider, state.backups?.bucket, state.backups?.keyArn]).apply(([backendUrl, secretsProvider, bucket, keyArn]) => k8sEnv(apiEnvironment({
                ...args.settings,
                ...(args.settings.backups === undefined || state.backups === undefined || bucket === undefined ? {} : {
                    backups: { ...args.settings.backups, s3: { bucket, prefix: state.backups.prefix, region: state.region, ...(keyArn === undefined ? {} : { kmsKeyId: keyArn }) } },
                }),
                pulumiBackendUrl: backendUrl,
                secretsProvider,
                awsRegion: state.region,
                secrets: new Set(secretKeys),
                trustStackCa: ca !== undefined,
            })));
        const { volumes, mounts } = apiVolumes({ secretName: `${API_SERVICE_NAME}-secrets`, secretKeys, ...(ca ? { caConfigMapName: `${API_SERVICE_NAME}-trusted-ca` } : {}) });
        const deployment = new k8s.apps.v1.Deployment(`${name}-deployment`, {
            metadata: { name: API_SERVICE_NAME, namespace: args.namespace, labels },
            spec: {
                replicas: args.replicas,
                selector: { matchLabels: { ...API_POD_LABELS } },
                strategy: ROLLING_UPDATE,
                template: {
                    metadata: {
                        labels,
                        // A changed admin URL (new password) rolls the pods; the hash is of the secret, so it stays one.
                        annotations: { "dbaas.io/secrets-version": secret.metadata.resourceVersion.apply((v) => v ?? "") },
                    },
                    spec: {
                        serviceAccountName: args.serviceAccountName,
                        // The token is the projected volume below, nothing else.
                        automountServiceAccountToken: false,
                        securityContext: restrictedPodSecurityContext(API_UID),
                        topologySpreadConstraints: zoneAndNodeSpread(API_POD_LABELS),
                        terminationGracePeriodSeconds: 60,
                        containers: [{
                            name: "api",
                            image: args.image,
                            ports: [{ name: "http", containerPort: API_PORT, protocol: "TCP" }],
                            env,
                            resources,
                            securityContext: restrictedContainerSecurityContext(),
                            volumeMounts: mounts,
                            ...apiProbes(),
                        }],
                        volumes,
                    },
                },
            },
        }, { ...child, dependsOn: [secret, ...(ca ? [ca] : []), ...(args.dependsOn ?? [])] });
        new k8s.core.v1.Service(`${name}-service`, {
            metadata: { name: API_SERVICE_NAME, namespace: args.namespace, labels },
            spec: { type: "ClusterIP", selector: { ...API_POD_LABELS }, ports: [{ name: "http", port: API_PORT, targetPort: "http", protocol: "TCP" }] },
        }, child);
        new k8s.policy.v1.PodDisruptionBudget(`${name}-budget`, {
            metadata: { name: API_SERVICE_NAME, namespace: args.namespace, labels },
            spec: disruptionBudgetSpec(API_POD_LABELS),
        }, child);

        this.upstream = pulumi.output(args.namespace).apply(apiServiceUpstream);
        this.deploymentName = deployment.metadata.name;
        this.registerOutputs({ upstream: this.upstream, deploymentName: this.deploymentName });
    }
}
