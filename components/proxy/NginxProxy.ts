import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { renderNginxConf } from "./nginxConf";
import { NGINX_PATHS, configHash, nginxHealthcheck } from "./nginxContainer";

/**
 * nginx in its own container: TLS termination with the stack's certificate,
 * HTTP→HTTPS redirect, the ACME http-01 path, and proxying to the API
 * replicas over the shared network. The rendered nginx.conf and the
 * certificate are uploaded into the container (the key as a secret); a label
 * with their hash makes any change replace the container.
 */
export interface NginxProxyArgs {
    /** nginx image, e.g. `nginx:1.27.3-alpine` (pulled as a RemoteImage). */
    image: string;
    /** Public DNS name (server_name). */
    domain: string;
    /** API replicas as `alias:port` on `network` (see `ApiService.upstreams`). */
    upstreams: pulumi.Input<string[]>;
    /** Network shared with the API. */
    network: docker.Network;
    /** Certificate chain (PEM, server first). */
    certificateChainPem: pulumi.Input<string>;
    /** Private key (PEM); uploaded as a secret. */
    privateKeyPem: pulumi.Input<string>;
    /** Host address both ports are published on. Default: "0.0.0.0" (every address of the host). */
    publishIp?: string;
    /** Host port published for HTTP. Default: 80. */
    httpPort?: number;
    /** Host port published for HTTPS (also used in the redirect). Default: 443. */
    httpsPort?: number;
    /** HSTS max-age in seconds. Default: 300. */
    hstsMaxAgeSeconds?: number;
    /** nginx `client_max_body_size`. Default: "1m". */
    clientMaxBodySize?: string;
    /** Host directory mounted read-only as the ACME challenge web root. Default: the same path as inside, `/var/www/acme`. */
    acmeChallengeHostDir?: string;
    /** Memory limit in MiB. Default: 128. */
    memoryMb?: number;
    /** Docker provider of the platform's Docker host. Default: the inherited/default provider. */
    provider?: docker.Provider;
}

export class NginxProxy extends pulumi.ComponentResource {
    /** The container's name on the Docker host. */
    readonly containerName: pulumi.Output<string>;
    /** The rendered nginx.conf (no secrets in it). */
    readonly nginxConf: pulumi.Output<string>;

    constructor(name: string, args: NginxProxyArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dbaas:web:NginxProxy", name, {}, opts);
        const httpsPort = args.httpsPort ?? 443;
        const childOpts = { parent: this, ...(args.provider ? { provider: args.provider } : {}) };
        this.nginxConf = pulumi.output(args.upstreams).apply((upstreams) => renderNginxConf({
            domain: args.domain,
            upstreams,
            listen: { http: 80, https: 443 },
            publicHttpsPort: httpsPort,
            hstsMaxAgeSeconds: args.hstsMaxAgeSeconds ?? 300,
            clientMaxBodySize: args.clientMaxBodySize ?? "1m",
            paths: NGINX_PATHS,
            user: "nginx",
        }));
        const image = new docker.RemoteImage(`${name}-image`, { name: args.image, keepLocally: true }, childOpts);
        // Hashing inside the secret-aware Output keeps the key's hash a secret too.
        const hash = pulumi.all([this.nginxConf, args.certificateChainPem, pulumi.secret(args.privateKeyPem)])
            .apply(([conf, chain, key]) => configHash([conf, chain, key]));
        const container = new docker.Container(`${name}-container`, {
            name: `dbaas-${pulumi.getStack()}-${name}`,
            image: image.imageId,
            restart: "unless-stopped",
            memory: args.memoryMb ?? 128,
            ports: [
                { internal: 80, external: args.httpPort ?? 80, ip: args.publishIp ?? "0.0.0.0" },
                { internal: 443, external: httpsPort, ip: args.publishIp ?? "0.0.0.0" },
            ],
            networksAdvanced: [{ name: args.network.name }],
            uploads: [
                { file: "/etc/nginx/nginx.conf", content: this.nginxConf, permissions: "0644" },
                { file: NGINX_PATHS.certificate, content: args.certificateChainPem, permissions: "0644" },
                // Read by the root master process only.
                { file: NGINX_PATHS.privateKey, content: pulumi.secret(args.privateKeyPem), permissions: "0600" },
            ],
            volumes: [{ hostPath: args.acmeChallengeHostDir ?? NGINX_PATHS.acmeChallengeDir, containerPath: NGINX_PATHS.acmeChallengeDir, readOnly: true }],
            // Uploads need a writable root filesystem (Docker refuses to copy
            // into a read-only one), so instead: no new privileges.
            securityOpts: ["no-new-privileges:true"],
            healthcheck: nginxHealthcheck(args.image),
            labels: [{ label: "dbaas.io/config-hash", value: hash }],
        }, { ...childOpts, replaceOnChanges: ["labels", "uploads"], deleteBeforeReplace: true });
        this.containerName = container.name;
        this.registerOutputs({ containerName: this.containerName });
    }
}
