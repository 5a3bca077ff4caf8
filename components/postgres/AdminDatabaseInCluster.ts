/**
 * The API's admin database inside the cluster (platform target `kubernetes`
 * with `platform.adminDatabase: inCluster`), where a team does not want RDS:
 * one PostgreSQL StatefulSet in the API's namespace with a volume claim, the
 * same postgresql.conf and pg_hba.conf as the docker target's PostgresInstance
 * (TLS required, scram-sha-256), a server certificate from the stack CA, and
 * the owner and read-only roles made at initialisation by the image's init
 * script (roles.ts roleInitScript; no postgresql provider runs). A ClusterIP
 * Service and a NetworkPolicy that admits only the API's pods on 5432.
 * Restricted pod security: uid 999, read-only root, no capabilities.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { POSTGRES_UID, postgresMajor } from "../../contracts/catalog";
import { MANAGED_BY } from "../../contracts/labels";
import { POSTGRES_PORT } from "../../contracts/ports";
import { guaranteedResources, restrictedContainerSecurityContext, restrictedPodSecurityContext } from "../kubernetes";
import { ServerCertificate, type StackCa } from "../tls";
import { connectionUrl, CONTAINER_PATHS, dataLayout, postgresCommand, renderPgHba, renderPostgresqlConf } from "./pgConf";
import { roleInitScript, roleNames } from "./roles";

export interface AdminDatabaseInClusterArgs {
    /** Namespace (the API's, `devdb`; an Output, so the objects wait for it). Required. */
    namespace: pulumi.Input<string>;
    /** Its name, for the server certificate's DNS names. Required. */
    namespaceName: string;
    /** The catalog image to run (the admin version's). Required. */
    image: string;
    /** Signs the server certificate; clients verify with its certificate. Required. */
    ca: StackCa;
    /** Labels of the pods allowed to connect (the API's). Required. */
    clientPodLabels: Record<string, string>;
    /** Memory (MiB) and CPU (millicores): requests = limits. Required. */
    memoryMb: number;
    cpuMillicores: number;
    /** Size of the volume claim in GiB. Required. */
    storageGb: number;
    /** StorageClass of the claim. Default: the cluster's default class. */
    storageClass?: string;
    /** Application name: the database and role names (`dbaas` → dbaas, dbaas_owner, dbaas_readonly). Default: "dbaas". */
    application?: string;
}

/** Object names in the namespace (the Service's is the host clients connect to). */
export const ADMIN_DB_NAME = "dbaas-admin-db";
const SECRETS_DIR = "/run/secrets/admin-db";
const INIT_SCRIPT = "10-dbaas-roles.sh";

export class AdminDatabaseInCluster extends pulumi.ComponentResource {
    /** `<service>.<namespace>.svc`, the name on the server certificate. */
    readonly host: pulumi.Output<string>;
    /** The owner's URL for the API (sslmode=verify-full against `caCertPem`); a secret. */
    readonly apiConnectionUrl: pulumi.Output<string>;
    /** The stack CA's certificate, which the server's chains to. */
    readonly caCertPem: pulumi.Output<string>;

    constructor(name: string, args: AdminDatabaseInClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dbaas:postgres:AdminDatabaseInCluster", name, {}, opts);
        const child = { parent: this };
        const names = roleNames(args.application ?? "dbaas");
        const layout = dataLayout(postgresMajor(args.image));
        const labels = { "app.kubernetes.io/name": ADMIN_DB_NAME, "app.kubernetes.io/managed-by": MANAGED_BY };
        const password = (suffix: string) => pulumi.secret(new random.RandomPassword(`${name}-${suffix}-password`, { length: 32, special: false }, child).result);
        const passwords = { superuser: password("admin"), owner: password("owner"), readOnly: password("readonly") };

        this.host = pulumi.output(`${ADMIN_DB_NAME}.${args.namespaceName}.svc`);
        const cert = new ServerCertificate(`${name}-tls`, {
            ca: args.ca,
            dnsNames: [`${ADMIN_DB_NAME}.${args.namespaceName}.svc`, `${ADMIN_DB_NAME}.${args.namespaceName}.svc.cluster.local`, ADMIN_DB_NAME],
        }, child);
        this.caCertPem = cert.caCertPem;

        const meta = (suffix: string) => ({ name: `${ADMIN_DB_NAME}${suffix}`, namespace: args.namespace, labels });
        const secret = new k8s.core.v1.Secret(`${name}-secrets`, {
            metadata: meta(""),
            type: "Opaque",
            stringData: { "superuser-password": passwords.superuser, "owner-password": passwords.owner, "readonly-password": passwords.readOnly, "server.crt": cert.chainPem, "server.key": cert.privateKeyPem },
        }, child);
        const files = { owner: `${SECRETS_DIR}/owner-password`, readOnly: `${SECRETS_DIR}/readonly-password` };
        const config = new k8s.core.v1.ConfigMap(`${name}-config`, {
            metadata: meta("-config"),
            data: {
                "postgresql.conf": renderPostgresqlConf({ memoryMb: args.memoryMb, certFile: `${SECRETS_DIR}/server.crt`, keyFile: `${SECRETS_DIR}/server.key` }),
                "pg_hba.conf": renderPgHba(),
                [INIT_SCRIPT]: roleInitScript(names, files),
            },
        }, child);

        const selector = { "app.kubernetes.io/name": ADMIN_DB_NAME };
        const confDir = CONTAINER_PATHS.postgresqlConf.slice(0, CONTAINER_PATHS.postgresqlConf.lastIndexOf("/"));
        const service = new k8s.core.v1.Service(`${name}-service`, {
            metadata: meta(""),
            spec: { type: "ClusterIP", selector, ports: [{ name: "postgres", port: POSTGRES_PORT, targetPort: "postgres", protocol: "TCP" }] },
        }, child);
        new k8s.networking.v1.NetworkPolicy(`${name}-ingress`, {
            metadata: meta(""),
            spec: {
                podSelector: { matchLabels: selector },
                policyTypes: ["Ingress"],
                ingress: [{ from: [{ podSelector: { matchLabels: args.clientPodLabels } }], ports: [{ protocol: "TCP", port: POSTGRES_PORT }] }],
            },
        }, child);
        new k8s.apps.v1.StatefulSet(`${name}-statefulset`, {
            metadata: meta(""),
            spec: {
                replicas: 1,
                serviceName: service.metadata.name,
                selector: { matchLabels: selector },
                persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
                template: {
                    metadata: { labels: { ...labels, ...selector } },
                    spec: {
                        securityContext: restrictedPodSecurityContext(POSTGRES_UID),
                        automountServiceAccountToken: false,
                        enableServiceLinks: false,
                        terminationGracePeriodSeconds: 60,
                        containers: [{
                            name: "postgres",
                            image: args.image,
                            command: ["docker-entrypoint.sh"],
                            args: postgresCommand(),
                            ports: [{ name: "postgres", containerPort: POSTGRES_PORT, protocol: "TCP" }],
                            env: [
                                { name: "POSTGRES_PASSWORD_FILE", value: `${SECRETS_DIR}/superuser-password` },
                                { name: "PGDATA", value: layout.pgdata },
                            ],
                            securityContext: restrictedContainerSecurityContext(),
                            resources: guaranteedResources(args.cpuMillicores, args.memoryMb),
                            volumeMounts: [
                                { name: "data", mountPath: layout.mountPath },
                                { name: "config", mountPath: confDir, readOnly: true },
                                { name: "config", mountPath: `/docker-entrypoint-initdb.d/${INIT_SCRIPT}`, subPath: INIT_SCRIPT, readOnly: true },
                                { name: "secrets", mountPath: SECRETS_DIR, readOnly: true },
                                { name: "socket", mountPath: "/var/run/postgresql" },
                                { name: "tmp", mountPath: "/tmp" },
                            ],
                            readinessProbe: { exec: { command: ["pg_isready", "-h", "127.0.0.1", "-p", String(POSTGRES_PORT)] }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
                            livenessProbe: { exec: { command: ["pg_isready", "-h", "127.0.0.1", "-p", String(POSTGRES_PORT)] }, initialDelaySeconds: 60, periodSeconds: 20, timeoutSeconds: 5, failureThreshold: 6 },
                        }],
                        volumes: [
                            { name: "config", configMap: { name: config.metadata.name, items: [
                                { key: "postgresql.conf", path: "postgresql.conf" }, { key: "pg_hba.conf", path: "pg_hba.conf" }, { key: INIT_SCRIPT, path: INIT_SCRIPT, mode: 0o555 },
                            ] } },
                            // Root-owned, group 999 (fsGroup), 0440: what PostgreSQL accepts for a key it does not own.
                            { name: "secrets", secret: { secretName: secret.metadata.name, defaultMode: 0o440 } },
                            { name: "socket", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } },
                            { name: "tmp", emptyDir: {} },
                        ],
                    },
                },
                volumeClaimTemplates: [{
                    metadata: { name: "data", labels: selector },
                    spec: {
                        accessModes: ["ReadWriteOnce"],
                        ...(args.storageClass === undefined ? {} : { storageClassName: args.storageClass }),
                        resources: { requests: { storage: `${args.storageGb}Gi` } },
                    },
                }],
            },
        }, child);

        this.apiConnectionUrl = pulumi.secret(pulumi.all([this.host, passwords.owner]).apply(([host, pw]) =>
            connectionUrl({ user: names.owner, password: pw, host, port: POSTGRES_PORT, database: names.database, sslmode: "verify-full" })));
        this.registerOutputs({ host: this.host, caCertPem: this.caCertPem });
    }
}
