/**
 * The kubernetes target (EKS): one namespace per database with its quota and
 * limits, the Postgres workload (password Secret, restore ConfigMap,
 * StatefulSet), its Service and NetworkPolicy. The cluster comes from the
 * environment the API runs the program in (KUBECONFIG), through the default
 * provider. Only real data dependencies order the resources: everything but
 * the namespace itself waits for the namespace alone.
 */
import type * as pulumi from "@pulumi/pulumi";
import {
    DatabaseEndpoint, DatabaseNamespace, DatabaseNetworkPolicy, DatabaseService, DATABASE_USER, databaseLabels,
    namespaceName, PostgresWorkload, selectorLabels, SERVICE_NAME, stableLabels,
} from "../components/ondemand";
import { readFetchScript, readRestoreScript } from "./restore";
import { DatabaseSpec, KubernetesTarget } from "../contracts/database";
import { RESTORE_MARKER } from "../contracts/restore";

/** `password`: the superuser password (secret stack config `dbaas-db:password`). */
export function deployKubernetes(spec: DatabaseSpec, target: KubernetesTarget, password: pulumi.Input<string>): DatabaseEndpoint {
    const labels = databaseLabels(spec);
    const podLabels = stableLabels(spec);
    const selector = selectorLabels(spec.name);
    const exposed = spec.source_ranges.length > 0;

    const namespace = new DatabaseNamespace(spec.name, {
        namespace: namespaceName(target.namespace_prefix, spec.name),
        labels,
        size: target,
        exposed,
    });

    const service = new DatabaseService(`${spec.name}-service`, {
        namespace: namespace.name,
        selector,
        labels: podLabels,
        sourceRanges: spec.source_ranges,
    });

    new DatabaseNetworkPolicy(`${spec.name}-network`, {
        namespace: namespace.name,
        podSelector: selector,
        sourceRanges: spec.source_ranges,
        fetchesBackup: spec.backup_location !== undefined,
        labels: podLabels,
    });

    const workload = new PostgresWorkload(`${spec.name}-postgres`, {
        namespace: namespace.name,
        image: spec.image,
        database: spec.name,
        labels: podLabels,
        selector,
        password,
        secretDependsOn: [namespace.secretsGrant],
        memoryMb: target.memory_mb,
        cpuMillicores: target.cpu_millicores,
        storageGb: target.storage_gb,
        ...(target.storage_class === undefined ? {} : { storageClass: target.storage_class }),
        // A name, not the Service's Output: the StatefulSet need not wait for a load balancer.
        serviceName: SERVICE_NAME,
        ...(spec.backup_location === undefined ? {} : {
            restore: {
                backupUrl: spec.backup_location,
                fetchImage: target.fetch_image,
                fetchScript: readFetchScript(),
                script: readRestoreScript(),
                markerName: RESTORE_MARKER,
                limits: target,
            },
        }),
    });

    return { host: service.host, port: service.port, database: spec.name, user: DATABASE_USER, password: workload.password };
}
