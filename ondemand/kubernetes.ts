/**
 * The kubernetes target (EKS): one namespace per database with its quota and
 * limits, the Postgres workload (password Secret, restore ConfigMap,
 * StatefulSet), its Service and NetworkPolicy. The cluster comes from the
 * environment the API runs the program in (KUBECONFIG), through the default
 * provider. Only real data dependencies order the resources: everything but
 * the namespace itself waits for the namespace alone.
 * With `volume_snapshot_class` (the restored-backup cache, docs/cache.md) the
 * fetch step reports the backup's identity (read back from the pod's status
 * into the `restore` output); `clone_from` makes the PVC from the golden
 * snapshot (CloneSnapshotSource) and `cache_fill` snapshots the restored
 * volume (GoldenSnapshot, the `cache_snapshot` output). Without the class:
 * no snapshot object, no report, a restore every time.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
    DatabaseEndpoint, DatabaseNamespace, DatabaseNetworkPolicy, DatabaseService, DATABASE_USER, databaseLabels,
    namespaceName, PostgresWorkload, selectorLabels, SERVICE_NAME, stableLabels,
} from "../components/ondemand";
import { CloneSnapshotSource } from "../components/ondemand/CloneSnapshotSource";
import { GoldenSnapshot } from "../components/ondemand/GoldenSnapshot";
import { POD_NAME, reportFromPodStatus, type PodStatusLike } from "../components/ondemand/snapshots";
import type { GoldenSnapshot as GoldenSnapshotOutput, RestoreReport } from "../contracts/cache";
import { readFetchScript, readRestoreScript } from "./restore";
import { DatabaseSpec, KubernetesTarget } from "../contracts/database";
import { RESTORE_MARKER } from "../contracts/restore";

/** `password`: the superuser password (secret stack config `dbaas-db:password`). */
export interface KubernetesDeployment extends DatabaseEndpoint {
    /** What the fetch step reported (cache on, after an `up`; undefined in a preview or without the class). */
    readonly restore: pulumi.Output<RestoreReport | undefined>;
    /** The golden snapshot of this restore (cache_fill only). */
    readonly cacheSnapshot: pulumi.Output<GoldenSnapshotOutput | undefined>;
}

export function deployKubernetes(spec: DatabaseSpec, target: KubernetesTarget, password: pulumi.Input<string>): KubernetesDeployment {
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

    const snapshotClass = spec.backup_location === undefined ? undefined : target.volume_snapshot_class;
    const clone = snapshotClass === undefined ? undefined : target.clone_from;
    const source = clone === undefined || snapshotClass === undefined ? undefined : new CloneSnapshotSource(`${spec.name}-clone-source`, {
        namespace: namespace.name, cloneFrom: clone, snapshotClass, labels: podLabels,
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
        ...(snapshotClass === undefined ? {} : {
            cache: source === undefined || clone === undefined ? {} : {
                cloneFrom: { snapshot: source.snapshot, sourceDatabase: clone.source_database, identity: clone.identity },
            },
        }),
    });

    const fill = snapshotClass !== undefined && clone === undefined && target.cache_fill === true && spec.fresh !== true
        ? new GoldenSnapshot(`${spec.name}-golden`, { namespace: namespace.name, snapshotClass, labels: podLabels, after: workload.statefulSet })
        : undefined;

    return {
        host: service.host, port: service.port, database: spec.name, user: DATABASE_USER, password: workload.password,
        restore: snapshotClass === undefined ? pulumi.output(undefined) : fetchReport(spec.name, namespace.name, workload.statefulSet),
        cacheSnapshot: fill?.golden ?? pulumi.output(undefined),
    };
}

/**
 * The fetch step's report from the pod's status (its termination message): Pulumi reads no
 * init container's log. Read after the StatefulSet is Ready, never in a preview (no pod yet).
 */
function fetchReport(name: string, namespace: pulumi.Output<string>, after: pulumi.Resource): pulumi.Output<RestoreReport | undefined> {
    if (pulumi.runtime.isDryRun()) return pulumi.output(undefined);
    const pod = k8s.core.v1.Pod.get(`${name}-pod`, pulumi.interpolate`${namespace}/${POD_NAME}`, { dependsOn: [after] });
    return pod.status.apply((status) => reportFromPodStatus(status as PodStatusLike | undefined));
}
