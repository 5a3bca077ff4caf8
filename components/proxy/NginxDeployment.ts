import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { LABELS, MANAGED_BY } from "../../contracts/labels";
import { disruptionBudgetSpec, guaranteedResources, restrictedContainerSecurityContext, restrictedPodSecurityContext, ROLLING_UPDATE, zoneAndNodeSpread } from "../kubernetes/restricted";
import { renderNginxConf } from "./nginxConf";
import { configHash } from "./nginxContainer";
import {
    ingressAnnotations, NGINX_POD_LABELS, NGINX_POD_PATHS, NGINX_POD_PORTS, NGINX_UID, nginxProbe, nginxServiceSpec, tlsMountDir, tlsSecretItems, type NginxExposure,
} from "./nginxPod";

/**
 * nginx on Kubernetes (platform target `kubernetes`): the nginx.conf that
 * `renderNginxConf` renders for the container too, as a ConfigMap; the served
 * certificate as a TLS Secret; a Deployment of non-root, read-only pods;
 * a Service that is a LoadBalancer admitting only the declared source ranges
 * (closed, i.e. ClusterIP, without them), or an Ingress of an existing
 * ingress-nginx.
 */
export interface NginxDeploymentArgs {
    /** Namespace of every object (`devdb`). */
    namespace: pulumi.Input<string>;
    /** nginx image, e.g. `nginx:1.27.3-alpine` (its `nginx` user, uid 101, runs it). */
    image: string;
    /** Public DNS name (server_name, and the Ingress host). */
    domain: string;
    /** The API as `host:port` (ApiDeployment.upstream). */
    upstream: pulumi.Input<string>;
    /** Certificate chain (PEM, server first). */
    certificateChainPem: pulumi.Input<string>;
    /** Private key (PEM); stored only in the TLS Secret. */
    privateKeyPem: pulumi.Input<string>;
    /** How clients reach nginx (see nginxExposure). */
    exposure: NginxExposure;
    /** Pods. Default: 2. */
    replicas?: number;
    /** Memory of each pod in MiB (request = limit). Default: 128. */
    memoryMb?: number;
    /** CPU of each pod in millicores (request = limit). Default: 250. */
    cpuMillicores?: number;
    /** HSTS max-age in seconds. Default: 300. */
    hstsMaxAgeSeconds?: number;
    /** nginx `client_max_body_size`. Default: "1m". */
    clientMaxBodySize?: string;
}

export class NginxDeployment extends pulumi.ComponentResource {
    /** The rendered nginx.conf (no secrets in it). */
    readonly nginxConf: pulumi.Output<string>;
    /** The Service's name. */
    readonly serviceName: pulumi.Output<string>;

    constructor(name: string, args: NginxDeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
        const resources = guaranteedResources(args.cpuMillicores ?? 250, args.memoryMb ?? 128);
        super("dbaas:web:NginxDeployment", name, {}, opts);
        const child = { parent: this };
        const labels = { ...NGINX_POD_LABELS, [LABELS.managedBy]: MANAGED_BY };
        const baseName = "dbaas-nginx";

        this.nginxConf = pulumi.output(args.upstream).apply((upstream) => renderNginxConf({
            domain: args.domain,
            upstreams: [upstream],
            listen: NGINX_POD_PORTS,
            publicHttpsPort: 443,
            hstsMaxAgeSeconds: args.hstsMaxAgeSeconds ?? 300,
            clientMaxBodySize: args.clientMaxBodySize ?? "1m",
            paths: NGINX_POD_PATHS,
        }));
        const config = new k8s.core.v1.ConfigMap(`${name}-config`, {
            metadata: { name: `${baseName}-config`, namespace: args.namespace, labels },
            data: { "nginx.conf": this.nginxConf },
        }, child);
        const tlsSecretName = `${baseName}-tls`;
        const tls = new k8s.core.v1.Secret(`${name}-tls`, {
            metadata: { name: tlsSecretName, namespace: args.namespace, labels },
            type: "kubernetes.io/tls",
            stringData: { "tls.crt": args.certificateChainPem, "tls.key": pulumi.secret(args.privateKeyPem) },
        }, child);
        // The config and the chain decide the pods; a new certificate or config rolls them.
        const hash = pulumi.all([this.nginxConf, args.certificateChainPem]).apply(([conf, chain]) => configHash([conf, chain]));
        const probe = nginxProbe(args.image);
        new k8s.apps.v1.Deployment(`${name}-deployment`, {
            metadata: { name: baseName, namespace: args.namespace, labels },
            spec: {
                replicas: args.replicas ?? 2,
                selector: { matchLabels: { ...NGINX_POD_LABELS } },
                strategy: ROLLING_UPDATE,
                template: {
                    metadata: { labels, annotations: { "dbaas.io/config-hash": hash } },
                    spec: {
                        // nginx needs no Kubernetes API access at all.
                        automountServiceAccountToken: false,
                        securityContext: restrictedPodSecurityContext(NGINX_UID),
                        topologySpreadConstraints: zoneAndNodeSpread(NGINX_POD_LABELS),
                        containers: [{
                            name: "nginx",
                            image: args.image,
                            ports: [
                                { name: "http", containerPort: NGINX_POD_PORTS.http, protocol: "TCP" },
                                { name: "https", containerPort: NGINX_POD_PORTS.https, protocol: "TCP" },
                            ],
                            resources,
                            securityContext: restrictedContainerSecurityContext(),
                            livenessProbe: probe,
                            readinessProbe: probe,
                            volumeMounts: [
                                { name: "config", mountPath: "/etc/nginx/nginx.conf", subPath: "nginx.conf", readOnly: true },
                                { name: "tls", mountPath: tlsMountDir(), readOnly: true },
                                { name: "tmp", mountPath: "/tmp" },
                                // The image's compiled-in temp root; nginx checks it exists even with the paths moved.
                                { name: "cache", mountPath: "/var/cache/nginx" },
                            ],
                        }],
                        volumes: [
                            { name: "config", configMap: { name: config.metadata.name } },
                            { name: "tls", secret: { secretName: tlsSecretName, defaultMode: 0o440, items: tlsSecretItems() } },
                            { name: "tmp", emptyDir: {} },
                            { name: "cache", emptyDir: {} },
                        ],
                    },
                },
            },
        }, { ...child, dependsOn: [config, tls] });
        const service = new k8s.core.v1.Service(`${name}-service`, {
            metadata: { name: baseName, namespace: args.namespace, labels },
            spec: nginxServiceSpec(args.exposure),
        }, child);
        new k8s.policy.v1.PodDisruptionBudget(`${name}-budget`, {
            metadata: { name: baseName, namespace: args.namespace, labels },
            spec: disruptionBudgetSpec(NGINX_POD_LABELS),
        }, child);
        if (args.exposure.kind === "ingress") {
            new k8s.networking.v1.Ingress(`${name}-ingress`, {
                metadata: { name: baseName, namespace: args.namespace, labels, annotations: ingressAnnotations(args.exposure) },
                spec: {
                    ingressClassName: args.exposure.ingressClassName,
                    tls: [{ hosts: [args.domain], secretName: tlsSecretName }],
                    rules: [{ host: args.domain, http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: baseName, port: { name: "https" } } } }] } }],
                },
            }, { ...child, dependsOn: [service, tls] });
        }
        this.serviceName = service.metadata.name;
        this.registerOutputs({ serviceName: this.serviceName });
    }
}
