/**
 * The kubernetes target with the restored-backup cache, under mocks: without
 * a VolumeSnapshotClass nothing changes (no snapshot object, the plain fetch
 * step, no report); with it the fetch step reports to its termination
 * message (read back from the pod's status into the `restore` output);
 * cache_fill snapshots the restored PVC once the StatefulSet is ready and
 * exports the bound content's driver and handle; clone_from makes the PVC
 * from a pre-provisioned VolumeSnapshotContent + VolumeSnapshot pair in the
 * clone's own namespace and adds the prepare and clone init steps, the clone
 * reading only its own password from its own Secret.
 */
import type * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { promiseOf, type Recorder } from "../support/harness";
import { CONFIGURED_PASSWORD, kubernetesSpec, runProgram } from "./fixtures";
import { FETCH_REPORT_PREFIX } from "../../contracts/cache";
import { cloneScript, snapshotPrepareScript } from "../../contracts/cacheScripts";
import { parseDatabaseSpec } from "../../contracts/database";

const T = {
    sts: "kubernetes:apps/v1:StatefulSet",
    pod: "kubernetes:core/v1:Pod",
    snapshot: "kubernetes:snapshot.storage.k8s.io/v1:VolumeSnapshot",
    content: "kubernetes:snapshot.storage.k8s.io/v1:VolumeSnapshotContent",
} as const;
const CLASS = "ebs-snapshots";
const HANDLE = "snap-0123456789abcdef0";
const SHA = "d".repeat(64);

interface Container { name: string; image: string; command: string[]; env: { name: string; value?: string }[]; volumeMounts: { name: string; mountPath: string }[] }
interface Sts {
    spec: {
        template: { spec: { initContainers: Container[]; containers: Container[]; volumes: { name: string; secret?: { secretName: string; defaultMode: number; items: unknown[] } }[] } };
        volumeClaimTemplates: { spec: { dataSource?: unknown } }[];
    };
}
const sts = (rec: Recorder) => rec.one(T.sts).inputs as unknown as Sts;
const envOf = (c: Container) => Object.fromEntries(c.env.map((e) => [e.name, e.value]));

type Target = ReturnType<typeof kubernetesSpec>["target"];
const spec = (target: Partial<Record<string, unknown>>) => {
    const base = kubernetesSpec();
    return { ...base, target: { ...(base.target), ...target } as Target };
};
const cloneFrom = { cache_id: 7, driver: "ebs.csi.aws.com", snapshot_handle: HANDLE, source_database: "first", identity: { etag: '"v1"' } };

/** The pod's status as the kubelet leaves it: the fetch step's termination message. */
const podWithReport = (lines: string[]) => (args: { type: string }) => args.type === T.pod
    ? { status: { initContainerStatuses: [{ name: "fetch-backup", state: { terminated: { exitCode: 0, message: lines.map((l) => FETCH_REPORT_PREFIX + l).join("\n") } } }] } }
    : undefined;
const readyGolden = (args: { type: string; name: string }) => {
    if (args.type === T.snapshot && args.name === "orders-golden") return { status: { readyToUse: true, boundVolumeSnapshotContentName: "snapcontent-1234" } };
    if (args.type === T.content) return { spec: { driver: "ebs.csi.aws.com" }, status: { snapshotHandle: HANDLE } };
    return undefined;
};

describe("kubernetes target without a VolumeSnapshotClass", async () => {
    const { rec, mod } = await runProgram(kubernetesSpec(), false, podWithReport(["made=restored"]));

    it("declares no snapshot object, reads no pod and keeps the plain fetch step", async () => {
        expect(rec.ofType(T.snapshot)).toEqual([]);
        expect(rec.ofType(T.content)).toEqual([]);
        expect(rec.ofType(T.pod)).toEqual([]);
        const s = sts(rec);
        expect(s.spec.template.spec.initContainers.map((c) => c.name)).toEqual(["fetch-backup"]);
        expect(s.spec.template.spec.initContainers[0]?.command.join(" ")).not.toContain("cache-report");
        expect(s.spec.volumeClaimTemplates[0]?.spec.dataSource).toBeUndefined();
        expect(await promiseOf(mod.restore as pulumi.Output<unknown>)).toBeUndefined();
        expect(await promiseOf(mod.cache_snapshot as pulumi.Output<unknown>)).toBeUndefined();
    });

    it("refuses clone_from or cache_fill without the class, naming the field", () => {
        expect(() => parseDatabaseSpec(spec({ clone_from: cloneFrom }))).toThrow(/target\.volume_snapshot_class: expected clone_from and cache_fill need volume_snapshot_class/);
        expect(() => parseDatabaseSpec(spec({ cache_fill: true }))).toThrow(/volume_snapshot_class/);
        expect(() => parseDatabaseSpec(spec({ volume_snapshot_class: "Bad_Class" }))).toThrow(/target\.volume_snapshot_class: expected a VolumeSnapshotClass name/);
    });
});

describe("kubernetes target with the class, a restore that fills the cache", async () => {
    const { rec, mod } = await runProgram(spec({ volume_snapshot_class: CLASS, cache_fill: true }), false,
        (args) => ({ ...podWithReport(['etag="v1"', "content-length=42", `sha256=${SHA}`, "made=restored"])(args), ...readyGolden(args) }));

    it("runs the cache's fetch step, which writes its report to the termination message and checks no golden copy", () => {
        const [fetch, ...rest] = sts(rec).spec.template.spec.initContainers;
        expect(rest).toEqual([]);
        expect(fetch?.command.join(" ")).toContain(">/dev/termination-log");
        expect(fetch?.command.join(" ")).not.toContain("chown");
        expect(envOf(fetch as Container)).toMatchObject({ CACHE_GOLDEN_READY: "", CACHE_ETAG: "" });
    });

    it("snapshots the PVC with the class, after the StatefulSet is ready, waiting for readyToUse, kept when forgotten", () => {
        const golden = rec.one(T.snapshot, "orders-golden");
        expect(golden.inputs).toMatchObject({
            apiVersion: "snapshot.storage.k8s.io/v1",
            kind: "VolumeSnapshot",
            metadata: { name: "dbaas-golden", namespace: "devdb-orders", annotations: { "pulumi.com/waitFor": "jsonpath={.status.readyToUse}=true" } },
            spec: { volumeSnapshotClassName: CLASS, source: { persistentVolumeClaimName: "data-postgres-0" } },
        });
        expect(golden.dependencies).toContain(rec.one(T.sts).urn);
        expect(rec.ofType(T.content)).toHaveLength(1); // the read of the bound content, not a new object
    });

    it("exports the fetch step's report and the golden snapshot's driver and handle", async () => {
        expect(await promiseOf(mod.restore as pulumi.Output<unknown>)).toEqual({ made: "restored", identity: { etag: '"v1"', content_length: 42, sha256: SHA } });
        expect(await promiseOf(mod.cache_snapshot as pulumi.Output<unknown>)).toEqual({
            namespace: "devdb-orders", name: "dbaas-golden", content: "snapcontent-1234", driver: "ebs.csi.aws.com", snapshot_handle: HANDLE,
        });
    });
});

describe("kubernetes target with the class and no cache_fill (fresh, or a later up)", async () => {
    const { rec } = await runProgram(spec({ volume_snapshot_class: CLASS }));
    it("takes no snapshot", () => {
        expect(rec.ofType(T.snapshot)).toEqual([]);
    });
});

describe("kubernetes target, a clone from a golden snapshot", async () => {
    const { rec, mod } = await runProgram(spec({ volume_snapshot_class: CLASS, clone_from: cloneFrom, cache_fill: true }), false,
        podWithReport(['etag="v1"', "made=cloned"]));
    const s = sts(rec);
    const init = s.spec.template.spec.initContainers;

    it("pre-provisions a Retain VolumeSnapshotContent at the golden handle, bound to a VolumeSnapshot in the clone's namespace", () => {
        expect(rec.one(T.content).inputs).toMatchObject({
            metadata: { name: "dbaas-clone-devdb-orders" },
            spec: { deletionPolicy: "Retain", driver: "ebs.csi.aws.com", source: { snapshotHandle: HANDLE }, volumeSnapshotClassName: CLASS, volumeSnapshotRef: { namespace: "devdb-orders", name: "dbaas-clone-source" } },
        });
        expect(rec.one(T.snapshot).inputs).toMatchObject({
            metadata: { name: "dbaas-clone-source", namespace: "devdb-orders" },
            spec: { source: { volumeSnapshotContentName: "dbaas-clone-devdb-orders" } },
        });
    });

    it("makes the PVC from that snapshot, and never replaces the StatefulSet for it later", () => {
        expect(s.spec.volumeClaimTemplates[0]?.spec.dataSource).toEqual({ apiGroup: "snapshot.storage.k8s.io", kind: "VolumeSnapshot", name: "dbaas-clone-source" });
        expect(rec.one(T.sts).dependencies).toContain(rec.one(T.snapshot).urn);
    });

    it("takes no golden snapshot of a clone", () => {
        expect(rec.ofType(T.snapshot).map((r) => r.name)).toEqual(["orders-clone-source-snapshot"]);
    });

    it("moves the snapshot's data aside, lets the fetch step decide against the live backup, then clones in place", () => {
        expect(init.map((c) => c.name)).toEqual(["clone-prepare", "fetch-backup", "clone"]);
        const [prepare, fetch, clone] = init as [Container, Container, Container];
        expect(prepare.command).toEqual(["sh", "-c", snapshotPrepareScript()]);
        expect(envOf(fetch)).toMatchObject({ CACHE_GOLDEN_READY: "/var/lib/postgresql/data/dbaas-golden/golden-ready", CACHE_ETAG: '"v1"' });
        expect(clone.image).toBe("postgres:17.2");
        expect(clone.command).toEqual(["sh", "-c", cloneScript({ goldenInVolume: true })]);
        expect(envOf(clone)).toMatchObject({ DATABASE_NAME: "orders", GOLDEN_SOURCE_DATABASE: "first", PASSWORD_FILE: "/run/dbaas/postgres-password", GOLDEN_PGDATA: "/var/lib/postgresql/data/dbaas-golden/pgdata" });
    });

    it("gives the clone step its own password as a group-readable file of its own Secret, never a value", () => {
        const volume = s.spec.template.spec.volumes.find((v) => v.name === "password");
        expect(volume?.secret).toMatchObject({ secretName: "postgres-password", defaultMode: 0o440 });
        expect(JSON.stringify(init)).not.toContain(CONFIGURED_PASSWORD);
        expect(s.spec.template.spec.containers[0]?.volumeMounts.map((m) => m.name)).not.toContain("password");
    });

    it("reports the clone", async () => {
        expect(await promiseOf(mod.restore as pulumi.Output<unknown>)).toEqual({ made: "cloned", identity: { etag: '"v1"' } });
    });
});

describe("kubernetes target with the class, in a preview", async () => {
    const { rec, mod } = await runProgram(spec({ volume_snapshot_class: CLASS, cache_fill: true }), true);
    it("declares the golden snapshot but reads neither the pod nor the content (they do not exist yet)", async () => {
        expect(rec.ofType(T.snapshot)).toHaveLength(1);
        expect(rec.ofType(T.pod)).toEqual([]);
        expect(rec.ofType(T.content)).toEqual([]);
        expect(await promiseOf(mod.restore as pulumi.Output<unknown>)).toBeUndefined();
    });
});
