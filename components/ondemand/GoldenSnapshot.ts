/**
 * The golden copy of a restored database on the kubernetes target
 * (docs/cache.md): a VolumeSnapshot of its PVC, taken once the StatefulSet is
 * Ready (the restore finished) while the server runs. Such a snapshot is
 * crash-consistent, which is enough for Postgres: the clone's single-user
 * start replays the WAL, as after a power loss. The provider waits until the
 * snapshot is readyToUse; the bound VolumeSnapshotContent is then read for the
 * CSI driver and handle later clones point at. Kept when Pulumi forgets it
 * (retainOnDelete): an `up` that does not ask for it again leaves it, and the
 * class must have `deletionPolicy: Retain`, so the content outlives the namespace.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { GOLDEN_SNAPSHOT, type GoldenSnapshot as GoldenSnapshotOutput } from "../../contracts/cache";
import { FIELD_MANAGER_ANNOTATIONS } from "./naming";
import { goldenSnapshotSpec, SNAPSHOT_API_VERSION, WAIT_FOR_ANNOTATION } from "./snapshots";

export interface GoldenSnapshotArgs {
    /** The database's namespace. Required. */
    readonly namespace: pulumi.Input<string>;
    /** VolumeSnapshotClass (target.volume_snapshot_class). Required. */
    readonly snapshotClass: string;
    /** Labels of the snapshot. Required. */
    readonly labels: Record<string, string>;
    /** What the snapshot waits for: the StatefulSet (ready = restored). Required. */
    readonly after: pulumi.Resource;
    /** How long a snapshot may take to become readyToUse. Default "30m". */
    readonly timeout?: string;
}

interface ContentStatus {
    readonly spec?: { readonly driver?: string };
    readonly status?: { readonly snapshotHandle?: string };
}

export class GoldenSnapshot extends pulumi.ComponentResource {
    /** Where the golden copy is, or undefined in a preview (nothing is read then). */
    readonly golden: pulumi.Output<GoldenSnapshotOutput | undefined>;

    constructor(name: string, args: GoldenSnapshotArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dbaas:ondemand:GoldenSnapshot", name, {}, opts);

        const snapshot = new k8s.apiextensions.CustomResource(name, {
            apiVersion: SNAPSHOT_API_VERSION,
            kind: "VolumeSnapshot",
            metadata: {
                name: GOLDEN_SNAPSHOT, namespace: args.namespace, labels: args.labels,
                annotations: { ...FIELD_MANAGER_ANNOTATIONS, [WAIT_FOR_ANNOTATION]: "jsonpath={.status.readyToUse}=true" },
            },
            spec: goldenSnapshotSpec(args.snapshotClass),
            // Named (undefined) so the provider's `status` becomes an output of this resource.
            status: undefined,
        }, { parent: this, dependsOn: [args.after], retainOnDelete: true, customTimeouts: { create: args.timeout ?? "30m" } });

        // CustomResource's typed outputs stop at metadata; the status is read as the provider returned it.
        const status = (snapshot as unknown as { status: pulumi.Output<{ boundVolumeSnapshotContentName?: string } | undefined> }).status;
        this.golden = pulumi.runtime.isDryRun() ? pulumi.output(undefined) : pulumi.all([snapshot.metadata.namespace, status]).apply<GoldenSnapshotOutput | undefined>(([ns, st]) => {
            const contentName = st?.boundVolumeSnapshotContentName;
            if (contentName === undefined || contentName === "") return pulumi.output<GoldenSnapshotOutput | undefined>(undefined);
            // A read (opts.id), as CustomResource.get does, but with spec and status named as outputs (get names none).
            // Made inside apply because the name is known only now; in a preview nothing is read.
            const content = new k8s.apiextensions.CustomResource(`${name}-content`, {
                apiVersion: SNAPSHOT_API_VERSION, kind: "VolumeSnapshotContent", spec: undefined, status: undefined,
            }, { parent: this, id: contentName });
            const fields = content as unknown as { spec: pulumi.Output<ContentStatus["spec"]>; status: pulumi.Output<ContentStatus["status"]> };
            return pulumi.all([fields.spec, fields.status]).apply(([spec, cs]): GoldenSnapshotOutput | undefined => {
                const driver = spec?.driver;
                const handle = cs?.snapshotHandle;
                if (driver === undefined || handle === undefined) return undefined;
                return { namespace: ns, name: GOLDEN_SNAPSHOT, content: contentName, driver, snapshot_handle: handle };
            });
        });

        this.registerOutputs({ golden: this.golden });
    }
}
