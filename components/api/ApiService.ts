import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { API_DATA_DIR, API_UID, apiEnvironment, CONTAINER_DOCKER_SOCKET, apiReplicaAlias, apiUpstreams, mountedDockerSocket, SECRET_FILES, STACK_CA_FILE, type ApiSettings, type SecretFileKey } from "../../contracts/apiEnv";
import { API_PORT } from "../../contracts/ports";
import { apiImage, type ApiImageArgs } from "./apiImage";

/**
 * The DBaaS API: its image, built from the repository's Dockerfile (pushed to
 * ECR in prod, kept local in dev), and N identical replica containers on the
 * shared network, each reachable by nginx as `api-<i>:5000`. Plain settings go
 * in as env; secrets go in as files (secret uploads) named by `*_FILE` env.
 */
export interface ApiServiceArgs extends ApiImageArgs {
    /** Number of replica containers (1-16). */
    replicas: number;
    /** Memory limit per replica in MiB. */
    memoryMb: number;
    /** Network shared with nginx and the admin database. */
    network: docker.Network;
    /** API settings (catalog → `DBAAS_CATALOG`, TTLs, backup hosts, on-demand target...). `secrets` is filled in here. */
    settings: Omit<ApiSettings, "secrets" | "trustStackCa">;
    /** Admin database URL (secret) → `DATABASE_URL_FILE`. Default: none (the API then starts an embedded Postgres in its data dir). */
    adminDatabaseUrl?: pulumi.Input<string>;
    /** The stack CA certificate, trusted by the API (NODE_EXTRA_CA_CERTS) to verify the admin database's certificate. Default: none. */
    caCertPem?: pulumi.Input<string>;
    /** Kubeconfig for the kubernetes target (secret) → `KUBECONFIG`. Default: none. */
    kubeconfig?: pulumi.Input<string>;
    /** Bearer tokens file content (secret) → `DBAAS_TOKENS_FILE`. Default: none (the API's own default path in its data dir). */
    tokens?: pulumi.Input<string>;
    /** The SMTP server URL (secret: it may hold a password) → `DBAAS_SMTP_URL_FILE`. Default: none (no email). */
    smtpUrl?: pulumi.Input<string>;
    /**
     * Group id that owns the Docker socket on the host (`stat -c %g /var/run/docker.sock`), added to
     * the replicas when the socket is mounted (see `mountedDockerSocket`) so the non-root API can use it.
     * The platform config requires it then (`dbaas:api.dockerSocketGroupId`). Default: none.
     */
    dockerSocketGroupId?: string;
    /** Docker provider of the platform's Docker host. Default: the inherited/default provider. */
    provider?: docker.Provider;
}

export class ApiService extends pulumi.ComponentResource {
    /** `alias:port` of every replica, for the nginx upstream. */
    readonly upstreams: string[];
    /** The image reference the replicas run. */
    readonly imageRef: pulumi.Output<string>;
    /** The replica containers (nginx depends on them: it resolves their aliases at start). */
    readonly containers: docker.Container[];

    constructor(name: string, args: ApiServiceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dbaas:web:ApiService", name, {}, opts);
        if (!Number.isInteger(args.replicas) || args.replicas < 1) throw new Error(`ApiService ${name}: replicas must be a whole number >= 1, got ${args.replicas}`);
        const stack = pulumi.getStack();
        const providerOpts = args.provider ? { provider: args.provider } : {};
        const childOpts = { parent: this, ...providerOpts };

        const image = apiImage(`${name}-image`, args, childOpts);
        this.imageRef = image.imageName;

        // Secrets provider of the on-demand stacks the API runs (passphrase).
        const passphrase = new random.RandomPassword(`${name}-pulumi-passphrase`, { length: 40, special: false }, { parent: this });
        const secretInputs: [SecretFileKey, pulumi.Input<string> | undefined][] = [
            ["databaseUrl", args.adminDatabaseUrl],
            ["kubeconfig", args.kubeconfig],
            ["tokens", args.tokens],
            ["pulumiPassphrase", passphrase.result],
            ["smtpUrl", args.smtpUrl],
        ];
        const present = secretInputs.filter((e): e is [SecretFileKey, pulumi.Input<string>] => e[1] !== undefined);
        const env = apiEnvironment({ ...args.settings, secrets: new Set(present.map(([k]) => k)), trustStackCa: args.caCertPem !== undefined });
        const uploads = [
            ...present.map(([key, value]) => ({
                file: SECRET_FILES[key].file,
                content: pulumi.secret(value),
                owner: String(API_UID),
                group: String(API_UID),
                permissions: "0400",
            })),
            ...(args.caCertPem === undefined ? [] : [{ file: STACK_CA_FILE, content: args.caCertPem, permissions: "0644" }]),
        ];

        const data = new docker.Volume(`${name}-data`, { name: `dbaas-${stack}-${name}-data` }, childOpts);
        const socket = mountedDockerSocket(args.settings.ondemand.target, args.settings.dockerHost);
        this.upstreams = apiUpstreams(args.replicas);
        this.containers = Array.from({ length: args.replicas }, (_, i) => new docker.Container(`${name}-${i}`, {
            name: `dbaas-${stack}-${name}-${i}`,
            image: image.imageName,
            restart: "unless-stopped",
            memory: args.memoryMb,
            user: `${API_UID}:${API_UID}`,
            envs: env,
            uploads,
            networksAdvanced: [{ name: args.network.name, aliases: [apiReplicaAlias(i)] }],
            volumes: [
                { volumeName: data.name, containerPath: API_DATA_DIR },
                ...(socket ? [{ hostPath: socket, containerPath: CONTAINER_DOCKER_SOCKET }] : []),
            ],
            ...(socket && args.dockerSocketGroupId ? { groupAdds: [args.dockerSocketGroupId] } : {}),
            securityOpts: ["no-new-privileges:true"],
            capabilities: { drops: ["ALL"] },
            healthcheck: {
                tests: ["CMD", "node", "-e", `fetch('http://127.0.0.1:${API_PORT}/healthz').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))`],
                interval: "15s",
                timeout: "5s",
                retries: 3,
                startPeriod: "20s",
            },
        }, { ...childOpts, deleteBeforeReplace: true }));
        this.registerOutputs({ imageRef: this.imageRef });
    }
}
