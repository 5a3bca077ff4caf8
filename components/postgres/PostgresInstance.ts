import * as docker from "@pulumi/docker";
import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { defaultVersion, findVersion, postgresMajor, type VersionCatalog } from "../../contracts/catalog";
import { ServerCertificate, type StackCa } from "../tls";
import {
    CONTAINER_PATHS, connectionUrl, dataLayout, healthcheckCommand, postgresCommand, renderPgHba, renderPostgresqlConf,
} from "./pgConf";
import { DEFAULT_PRIVILEGES, GRANTS, roleNames, type Grantee } from "./roles";
import { POSTGRES_PORT } from "../../contracts/ports";
import { POSTGRES_UID } from "../../contracts/catalog";
import { MANAGED_BY } from "../../contracts/labels";

/**
 * A PostgreSQL server in a container of a catalog image, with its data on a
 * named volume (replacing the container keeps the data), TLS from the stack
 * CA, scram-only network access, a generated admin password handed over as
 * a file, and an application database with an owner role and a read-only
 * role declared through `@pulumi/postgresql`.
 */
export interface PostgresInstanceArgs {
    /** The version catalog (config `postgres.versions`). */
    catalog: VersionCatalog;
    /** Catalog label to run. Default: the catalog default (first entry). */
    version?: string;
    /**
     * The image the container runs, e.g. the pulled image's id from
     * CatalogImages (so the container depends on the pull). Default: the
     * catalog image reference of `version`.
     */
    image?: pulumi.Input<string>;
    /** Memory limit in MiB (no swap); drives shared_buffers etc. */
    memoryMb: number;
    /** /dev/shm size in MiB. */
    shmSizeMb: number;
    /** Docker provider of the host the container runs on. */
    dockerProvider: docker.Provider;
    /** The platform network; the container joins it with `alias`. */
    network: docker.Network;
    /** Network alias (and certificate name) other containers use. Default: `name`. */
    alias?: string;
    /** Container name on the Docker host; the data volume is `<dockerName>-data`. Default: `name`. */
    dockerName?: string;
    /** Signs the server certificate. */
    ca: StackCa;
    /** Application the owner/read-only roles are for; names the database and roles (`app` → app_owner, app_readonly). */
    application: string;
    /**
     * Host address the port is published on. The `@pulumi/postgresql`
     * provider connects through it, so `pulumi up` must reach it.
     * Default: 127.0.0.1 (only the Docker host itself).
     */
    publishIp?: string;
    /** Host port. Default: POSTGRES_PORT (5432). */
    publishPort?: number;
    /** Extra container labels. Default: none. */
    labels?: Record<string, string>;
}

export class PostgresInstance extends pulumi.ComponentResource {
    /** Host name on the platform network. */
    readonly host: string;
    /** Port on the platform network. */
    readonly port: number;
    /** Application database name. */
    readonly database: string;
    readonly ownerRole: string;
    readonly readOnlyRole: string;
    /** Superuser `postgres` password (secret). */
    readonly adminPassword: pulumi.Output<string>;
    /** Owner role password (secret). */
    readonly ownerPassword: pulumi.Output<string>;
    /** Read-only role password (secret). */
    readonly readOnlyPassword: pulumi.Output<string>;
    /** CA certificate clients verify the server with. */
    readonly caCertPem: pulumi.Output<string>;
    /** Owner connection URL over the platform network, sslmode=verify-full (secret); clients must trust `caCertPem`. */
    readonly apiConnectionUrl: pulumi.Output<string>;
    /** Read-only connection URL over the platform network, sslmode=verify-full (secret). */
    readonly readOnlyConnectionUrl: pulumi.Output<string>;

    constructor(name: string, args: PostgresInstanceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dbaas:postgres:PostgresInstance", name, {}, opts);
        const label = args.version ?? defaultVersion(args.catalog).label;
        const version = findVersion(args.catalog, label);
        if (version === undefined) {
            throw new Error(`PostgresInstance ${name}: version "${label}" is not in the catalog (${args.catalog.map((v) => v.label).join(", ")}); pick one of those labels or add it to dbaas:postgres.versions`);
        }
        const alias = args.alias ?? name;
        const dockerName = args.dockerName ?? name;
        const layout = dataLayout(postgresMajor(version.image));
        const names = roleNames(args.application);
        const publishIp = args.publishIp ?? "127.0.0.1";
        const publishPort = args.publishPort ?? POSTGRES_PORT;
        const dockerOpts = { parent: this, provider: args.dockerProvider };
        this.host = alias;
        this.port = POSTGRES_PORT;
        this.database = names.database;
        this.ownerRole = names.owner;
        this.readOnlyRole = names.readOnly;

        const password = (suffix: string) =>
            new random.RandomPassword(`${name}-${suffix}-password`, { length: 32, special: false }, { parent: this });
        this.adminPassword = pulumi.secret(password("admin").result);
        this.ownerPassword = pulumi.secret(password("owner").result);
        this.readOnlyPassword = pulumi.secret(password("readonly").result);

        const cert = new ServerCertificate(`${name}-tls`, { ca: args.ca, dnsNames: [alias, "localhost"], ipAddresses: ["127.0.0.1"] }, { parent: this });
        this.caCertPem = cert.caCertPem;

        const labels = { "app.kubernetes.io/managed-by": MANAGED_BY, "dbaas.io/postgres-instance": name, ...args.labels };
        const labelList = Object.entries(labels).map(([label, value]) => ({ label, value }));
        // Kept on `pulumi destroy` or when the instance is removed: data is
        // never deleted by a config change. Remove it with `docker volume rm`.
        const volume = new docker.Volume(`${name}-data`, { name: `${dockerName}-data`, labels: labelList }, { ...dockerOpts, retainOnDelete: true });

        const owned = { owner: String(POSTGRES_UID), group: String(POSTGRES_UID) };
        const container = new docker.Container(name, {
            name: dockerName,
            image: args.image ?? version.image,
            restart: "unless-stopped",
            memory: args.memoryMb,
            memorySwap: args.memoryMb,
            shmSize: args.shmSizeMb,
            envs: [`POSTGRES_PASSWORD_FILE=${CONTAINER_PATHS.passwordFile}`, `PGDATA=${layout.pgdata}`],
            command: postgresCommand(),
            uploads: [
                { file: CONTAINER_PATHS.passwordFile, content: this.adminPassword, ...owned, permissions: "0400" },
                { file: CONTAINER_PATHS.keyFile, content: cert.privateKeyPem, ...owned, permissions: "0600" },
                { file: CONTAINER_PATHS.certFile, content: cert.chainPem, ...owned, permissions: "0644" },
                { file: CONTAINER_PATHS.postgresqlConf, content: renderPostgresqlConf({ memoryMb: args.memoryMb }), ...owned, permissions: "0644" },
                { file: CONTAINER_PATHS.pgHba, content: renderPgHba(), ...owned, permissions: "0644" },
            ],
            volumes: [{ volumeName: volume.name, containerPath: layout.mountPath }],
            networksAdvanced: [{ name: args.network.name, aliases: [alias] }],
            ports: [{ internal: POSTGRES_PORT, external: publishPort, ip: publishIp }],
            healthcheck: { tests: healthcheckCommand(), interval: "10s", timeout: "5s", retries: 5, startPeriod: "60s" },
            labels: labelList,
            // Roles are declared right after; they need a server that accepts connections.
            wait: true,
            waitTimeout: 180,
        }, { ...dockerOpts, deleteBeforeReplace: true });

        // Connects through the published port; `require` because the provider
        // takes the CA only as a file path, and the port is on the host's loopback.
        const provider = new postgresql.Provider(`${name}-pg`, {
            host: publishIp === "0.0.0.0" ? "127.0.0.1" : publishIp,
            port: publishPort,
            username: "postgres",
            password: this.adminPassword,
            database: "postgres",
            sslmode: "require",
            superuser: true,
            connectTimeout: 30,
        }, { parent: this, dependsOn: [container] });
        const pgOpts = { parent: this, provider };

        const owner = new postgresql.Role(`${name}-owner`, { name: names.owner, login: true, password: this.ownerPassword }, pgOpts);
        const readOnly = new postgresql.Role(`${name}-readonly`, { name: names.readOnly, login: true, password: this.readOnlyPassword }, pgOpts);
        const database = new postgresql.Database(`${name}-db`, { name: names.database, owner: owner.name }, pgOpts);
        const grantee = (g: Grantee) => (g === "public" ? "public" : readOnly.name);
        // Grants on one database run one after another: concurrent GRANTs on
        // the same catalog row fail with "tuple concurrently updated".
        let previous: pulumi.Resource = database;
        for (const g of GRANTS) {
            previous = new postgresql.Grant(`${name}-${g.grantee.toLowerCase()}-${g.objectType}`, {
                database: database.name,
                role: grantee(g.grantee),
                objectType: g.objectType,
                ...(g.schema === undefined ? {} : { schema: g.schema }),
                privileges: [...g.privileges],
            }, { ...pgOpts, dependsOn: [previous] });
        }
        for (const d of DEFAULT_PRIVILEGES) {
            previous = new postgresql.DefaultPrivileges(`${name}-${d.grantee.toLowerCase()}-default-${d.objectType}`, {
                database: database.name,
                owner: owner.name,
                role: readOnly.name,
                objectType: d.objectType,
                schema: d.schema,
                privileges: [...d.privileges],
            }, { ...pgOpts, dependsOn: [previous] });
        }

        // Built from the resources' outputs so a URL exists only once its role, database and grants do.
        const url = (role: postgresql.Role, pw: pulumi.Output<string>) =>
            pulumi.secret(pulumi.all([role.name, database.name, pw, previous.urn]).apply(([user, db, p]) =>
                connectionUrl({ user, password: p, host: alias, port: POSTGRES_PORT, database: db, sslmode: "verify-full" })));
        this.apiConnectionUrl = url(owner, this.ownerPassword);
        this.readOnlyConnectionUrl = url(readOnly, this.readOnlyPassword);
        this.registerOutputs({ host: this.host, port: this.port, caCertPem: this.caCertPem, apiConnectionUrl: this.apiConnectionUrl });
    }
}
