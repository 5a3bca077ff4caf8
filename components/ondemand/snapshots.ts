/**
 * The CSI VolumeSnapshot objects of the restored-backup cache on the
 * kubernetes target (docs/cache.md), as pure functions: the golden snapshot of
 * a restored database's PVC, and, for a clone, the pre-provisioned
 * VolumeSnapshotContent + VolumeSnapshot pair in the clone's own namespace
 * that points at the golden snapshot's handle (a PVC's dataSource must be in
 * its own namespace; this is the standard cross-namespace approach), and the
 * fetch step's report read back from its termination message. No Pulumi imports.
 */
import { parseFetchReport, type RestoreReport, type SnapshotCloneFrom } from "../../contracts/cache";

export const SNAPSHOT_API_GROUP = "snapshot.storage.k8s.io";
export const SNAPSHOT_API_VERSION = `${SNAPSHOT_API_GROUP}/v1`;
/** The VolumeSnapshot in a clone's namespace its PVC is made from. */
export const CLONE_SOURCE_SNAPSHOT = "dbaas-clone-source";
/** The StatefulSet's claim template and pod: the PVC is `<template>-<pod>`. */
export const DATA_CLAIM = "data";
export const POD_NAME = "postgres-0";
export const DATA_PVC = `${DATA_CLAIM}-${POD_NAME}`;
/** The fetch init container, whose termination message carries its cache report on kubernetes. */
export const FETCH_CONTAINER = "fetch-backup";
/** Where a container's termination message is written (the kubelet's default terminationMessagePath). */
export const TERMINATION_LOG = "/dev/termination-log";
/** The provider waits on a custom resource only when told what to wait for (pulumi-kubernetes ≥ 4.18). */
export const WAIT_FOR_ANNOTATION = "pulumi.com/waitFor";

/** The cluster-scoped VolumeSnapshotContent of a clone: one per clone namespace, so the name is the namespace's. */
export const cloneContentName = (namespace: string): string => `dbaas-clone-${namespace}`;

/**
 * The spec of a clone's pre-provisioned VolumeSnapshotContent: the golden snapshot's
 * handle, bound to CLONE_SOURCE_SNAPSHOT in the clone's namespace. `Retain`: deleting
 * the clone never deletes the golden copy's backing snapshot.
 */
export function cloneContentSpec(clone: Pick<SnapshotCloneFrom, "driver" | "snapshot_handle">, namespace: string, snapshotClass: string) {
    return {
        deletionPolicy: "Retain",
        driver: clone.driver,
        source: { snapshotHandle: clone.snapshot_handle },
        volumeSnapshotClassName: snapshotClass,
        volumeSnapshotRef: { namespace, name: CLONE_SOURCE_SNAPSHOT },
    };
}

/** The spec of the clone's VolumeSnapshot: bound to its pre-provisioned content. */
export function cloneSnapshotSpec(contentName: string) {
    return { source: { volumeSnapshotContentName: contentName } };
}

/** The spec of the golden VolumeSnapshot of a restored database's PVC. */
export function goldenSnapshotSpec(snapshotClass: string) {
    return { volumeSnapshotClassName: snapshotClass, source: { persistentVolumeClaimName: DATA_PVC } };
}

/** A PVC's dataSource naming a VolumeSnapshot of its namespace. */
export function snapshotDataSource(snapshot: string) {
    return { apiGroup: SNAPSHOT_API_GROUP, kind: "VolumeSnapshot", name: snapshot };
}

/** The part of a Pod's status the report is read from. */
export interface PodStatusLike {
    readonly initContainerStatuses?: readonly {
        readonly name: string;
        readonly state?: { readonly terminated?: { readonly message?: string } };
        readonly lastState?: { readonly terminated?: { readonly message?: string } };
    }[];
}

/**
 * What the fetch step reported in its termination message (cacheFetchScript's
 * reportFile), or undefined: no such container, it did not finish, or the
 * database already existed (a restarted pod prints no report).
 */
export function reportFromPodStatus(status: PodStatusLike | undefined): RestoreReport | undefined {
    const fetch = status?.initContainerStatuses?.find((c) => c.name === FETCH_CONTAINER);
    return parseFetchReport(fetch?.state?.terminated?.message ?? fetch?.lastState?.terminated?.message);
}
