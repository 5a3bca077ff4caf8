/**
 * The namespace of one on-demand database, with its guard rails: Pod Security
 * `restricted`, owner/project/expiry labels (the API lists and the reaper
 * expires databases by them), a ResourceQuota admitting exactly the database's
 * pod, volume and (when exposed) load balancer, a LimitRange, and the
 * RoleBinding that lets the `devdb` ServiceAccount use this namespace's
 * Secrets (ClusterRole `devdb-database`; it reads Secrets nowhere else).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { DEVDB_DATABASE_ROLE, DEVDB_NAMESPACE, DEVDB_SERVICE_ACCOUNT } from "../../contracts/devdb";
import { FIELD_MANAGER_ANNOTATIONS, podSecurityLabels } from "./naming";
import { DatabaseSize, limitRangeItems, quotaHard } from "./resources";

export interface DatabaseNamespaceArgs {
    /** Namespace name (`<prefix><database>`, see `namespaceName`). Required. */
    readonly namespace: string;
    /** Owner/project/expiry/managed-by labels (see `databaseLabels`). Required; Pod Security labels are added. */
    readonly labels: Record<string, string>;
    /** The database's memory, CPU and storage: the quota's and LimitRange's ceiling. Required. */
    readonly size: DatabaseSize;
    /** Whether a LoadBalancer is allowed in the quota. Default false. */
    readonly exposed?: boolean;
}

export class DatabaseNamespace extends pulumi.ComponentResource {
    /** The namespace's name, carrying the dependency on its creation. */
    readonly name: pulumi.Output<string>;
    /** The RoleBinding of `devdb-database` here: the database's Secret depends on it (created after, deleted before). */
    readonly secretsGrant: pulumi.Resource;

    constructor(name: string, args: DatabaseNamespaceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dbaas:ondemand:DatabaseNamespace", name, {}, opts);

        const namespace = new k8s.core.v1.Namespace(name, {
            metadata: { name: args.namespace, labels: { ...args.labels, ...podSecurityLabels() }, annotations: FIELD_MANAGER_ANNOTATIONS },
        }, { parent: this });
        this.name = namespace.metadata.name;
        // The namespaced grant: devdb reads and writes Secrets here, and in no namespace it did not make.
        this.secretsGrant = new k8s.rbac.v1.RoleBinding(`${name}-secrets-grant`, {
            metadata: { name: DEVDB_DATABASE_ROLE, namespace: this.name, labels: args.labels, annotations: FIELD_MANAGER_ANNOTATIONS },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: DEVDB_DATABASE_ROLE },
            subjects: [{ kind: "ServiceAccount", name: DEVDB_SERVICE_ACCOUNT, namespace: DEVDB_NAMESPACE }],
        }, { parent: this });

        new k8s.core.v1.ResourceQuota(`${name}-quota`, {
            metadata: { name: "database", namespace: this.name, labels: args.labels, annotations: FIELD_MANAGER_ANNOTATIONS },
            spec: { hard: quotaHard(args.size, args.exposed ?? false) },
        }, { parent: this });

        new k8s.core.v1.LimitRange(`${name}-limits`, {
            metadata: { name: "database", namespace: this.name, labels: args.labels, annotations: FIELD_MANAGER_ANNOTATIONS },
            spec: { limits: limitRangeItems(args.size) },
        }, { parent: this });

        this.registerOutputs({ name: this.name });
    }
}
