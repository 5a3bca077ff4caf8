/**
 * The docker target with the restored-backup cache, under mocks: a spec with
 * clone_from gives the fetch step the golden volume read-only and the expected
 * identity, adds a clone step (the database's own image and uid, no network,
 * no capabilities, the password as a secret file) that runs before the
 * server, and exports what the fetch step reported as the `restore` output.
 */
import type * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { promiseOf, type RecordedResource } from "../support/harness";
import { CONFIGURED_PASSWORD, dockerSpec, runProgram, unwrapSecret } from "./fixtures";
import { FETCH_REPORT_PREFIX, goldenVolumeName } from "../../contracts/cache";
import { cloneFailure } from "../../ondemand/docker";

const CONTAINER = "docker:index/container:Container";
const SHA = "c".repeat(64);
interface Inputs {
    image: string; user?: string; envs: string[]; networkMode?: string; entrypoints?: string[]; command: string[]; securityOpts?: string[];
    capabilities?: { drops?: string[]; adds?: string[] }; mounts: { type: string; source: string; target: string; readOnly?: boolean }[];
    uploads: { file: string; content?: string; owner?: string; permissions?: string }[];
}
const inputsOf = (r: RecordedResource): Inputs => {
    const i = r.inputs as unknown as Inputs;
    return { ...i, uploads: unwrapSecret<Inputs["uploads"]>(i.uploads) ?? [] };
};
const cloneFrom = { cache_id: 3, volume: goldenVolumeName(3), identity: { etag: '"v1"', content_length: 42 } };
const withClone = () => {
    const spec = dockerSpec();
    return { ...spec, target: { ...spec.target, kind: "docker" as const, docker_host: "unix:///var/run/docker.sock", memory_mb: 1024, clone_from: cloneFrom } };
};
const fetchLogs = (lines: string[]) => (args: { type: string; name: string }) =>
    args.type === CONTAINER && args.name === "orders-fetch" ? { containerLogs: ["fetch: downloading ...", ...lines.map((l) => FETCH_REPORT_PREFIX + l)].join("\n") } : undefined;

describe("docker target, a cache candidate (clone_from)", async () => {
    const { rec, mod } = await runProgram(withClone(), false, fetchLogs(['etag="v1"', "content-length=42", "made=cloned"]));
    const fetch = rec.one(CONTAINER, "orders-fetch");
    const clone = rec.one(CONTAINER, "orders-clone");
    const server = rec.one(CONTAINER, "orders");
    const f = inputsOf(fetch);
    const c = inputsOf(clone);

    it("gives the fetch step the golden volume read-only and the identity to compare", () => {
        expect(f.mounts).toContainEqual({ type: "volume", source: "dbaas-cache-3", target: "/var/lib/dbaas-cache", readOnly: true });
        expect(f.envs).toEqual(expect.arrayContaining(['CACHE_ETAG="v1"', "CACHE_CONTENT_LENGTH=42", "CACHE_LAST_MODIFIED=", "CACHE_SHA256=", "CACHE_GOLDEN_READY=/var/lib/dbaas-cache/golden-ready"]));
        expect(f.command.join(" ")).toContain("sh /opt/dbaas/restore/fetch.sh head");
    });

    it("clones in a container of the database's own image, dropped to the postgres uid at once, without network", () => {
        expect(c.image).toBe(inputsOf(server).image);
        expect(c.user).toBeUndefined();
        expect(c.networkMode).toBe("none");
        expect(c.capabilities).toEqual({ drops: ["ALL"], adds: ["SETUID", "SETGID"] });
        expect(c.securityOpts).toEqual(["no-new-privileges:true"]);
        expect(c.entrypoints).toEqual(["setpriv", "--reuid=999", "--regid=999", "--clear-groups", "sh", "-c"]);
        expect(c.command[0]).toContain("postgres --single");
        expect(c.mounts).toEqual([
            { type: "volume", source: "dbaas-db-orders-data", target: "/var/lib/postgresql/data" },
            { type: "volume", source: "dbaas-cache-3", target: "/var/lib/dbaas-cache", readOnly: true },
        ]);
        expect(c.envs).toEqual(expect.arrayContaining(["DATABASE_NAME=orders", "DATABASE_USER=postgres", "GOLDEN_PGDATA=/var/lib/dbaas-cache/pgdata"]));
    });

    it("hands the clone this database's password as a secret file only", () => {
        expect(clone.secretInputs.has("uploads")).toBe(true);
        expect(c.uploads).toEqual([expect.objectContaining({ file: "/run/dbaas/postgres-password", content: CONFIGURED_PASSWORD, owner: "999", permissions: "0400" })]);
        expect(c.envs.join("\n")).not.toContain(CONFIGURED_PASSWORD);
        expect(c.command.join("\n")).not.toContain(CONFIGURED_PASSWORD);
    });

    it("runs fetch, then clone, then the server", () => {
        expect(clone.dependencies).toContain(fetch.urn);
        expect(server.dependencies).toContain(clone.urn);
    });

    it("exports what the fetch step reported", async () => {
        expect(await promiseOf(mod.restore as pulumi.Output<unknown>)).toEqual({ made: "cloned", identity: { etag: '"v1"', content_length: 42 } });
    });
});

describe("docker target, a backup without a cache candidate", async () => {
    const { rec, mod } = await runProgram(dockerSpec(), false, fetchLogs(["content-length=42", `sha256=${SHA}`, "made=restored"]));

    it("has no clone step and no golden volume; the fetch step's cache check has nothing to compare", () => {
        expect(rec.ofType(CONTAINER).map((r) => r.name).sort()).toEqual(["orders", "orders-fetch"]);
        const f = inputsOf(rec.one(CONTAINER, "orders-fetch"));
        expect(f.mounts).toHaveLength(1);
        expect(f.envs).toContain("CACHE_GOLDEN_READY=");
    });

    it("reports the restore with the backup's identity, for the API to fill the cache", async () => {
        expect(await promiseOf(mod.restore as pulumi.Output<unknown>)).toEqual({ made: "restored", identity: { content_length: 42, sha256: SHA } });
    });
});

describe("cloneFailure", () => {
    it("is the clone step's last line, with what to do", () => {
        expect(cloneFailure(1, "clone: copy failed: cp of /x failed (check the free space of the data volume)\n"))
            .toBe('cloning the cached restore failed (exit 1): clone: copy failed: cp of /x failed (check the free space of the data volume); create with "fresh": true to restore instead');
        expect(cloneFailure(0, "")).toBeUndefined();
        expect(cloneFailure(undefined, undefined)).toBeUndefined();
    });
});
