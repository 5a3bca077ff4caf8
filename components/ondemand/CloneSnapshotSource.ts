/**
 * The data source of a clone's PVC on the kubernetes target (docs/cache.md):
 * a pre-provisioned VolumeSnapshotContent pointing at the golden snapshot's
 * CSI handle (cluster-scoped, `Retain`: deleting the clone never deletes the
 * golden copy) and the VolumeSnapshot bound to it in the clone's namespace,
 * since a PVC's dataSource must be in its own namespace.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { SnapshotCloneFrom } from "../../contracts/cache";
import { FIELD_MANAGER_ANNOTATIONS } from "./naming";
import { CLONE_SOURCE_SNAPSHOT, cloneContentName, cloneContentSpec, cloneSnapshotSpec, SNAPSHOT_API_VERSION } from "./snapshots";

export interface CloneSnapshotSourceArgs {
    /** The clone's namespace (an Output of the namespace, so both wait for it). Required. */
    readonly namespace: pulumi.Input<string>;
    /** The golden snapshot's CSI driver and handle (the spec's target.clone_from). Required. */
    readonly cloneFrom: Pick<SnapshotCloneFrom, "driver" | "snapshot_handle">;
    /** VolumeSnapshotClass (target.volume_snapshot_class). Required. */
    readonly snapshotClass: string;
    /** Labels of both objects. Required. */
    readonly labels: Record<string, string>;
}

export class CloneSnapshotSource extends pulumi.ComponentResource {
    /** The VolumeSnapshot's name in the clone's namespace (for the PVC's dataSource), after both objects exist. */
    readonly snapshot: pulumi.Output<string>;

    constructor(name: string, args: CloneSnapshotSourceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dbaas:ondemand:CloneSnapshotSource", name, {}, opts);
        const ns = pulumi.output(args.namespace);

        const content = new k8s.apiextensions.CustomResource(`${name}-content`, {
            apiVersion: SNAPSHOT_API_VERSION,
            kind: "VolumeSnapshotContent",
            metadata: { name: ns.apply(cloneContentName), labels: args.labels, annotations: FIELD_MANAGER_ANNOTATIONS },
            spec: ns.apply((n) => cloneContentSpec(args.cloneFrom, n, args.snapshotClass)),
        }, { parent: this });

        const snapshot = new k8s.apiextensions.CustomResource(`${name}-snapshot`, {
            apiVersion: SNAPSHOT_API_VERSION,
            kind: "VolumeSnapshot",
            metadata: { name: CLONE_SOURCE_SNAPSHOT, namespace: ns, labels: args.labels, annotations: FIELD_MANAGER_ANNOTATIONS },
            spec: content.metadata.name.apply(cloneSnapshotSpec),
        }, { parent: this });
        this.snapshot = snapshot.metadata.name;

        this.registerOutputs({ snapshot: this.snapshot });
    }
}
