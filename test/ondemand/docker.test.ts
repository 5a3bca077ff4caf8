/**
 * The docker target under mocks: the container, its volume, labels, the
 * password as an uploaded file, the published port, and the fetch step that
 * must finish before the server is created.
 */
import type * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import { describe, expect, it, vi } from "vitest";
import { isSecretOutput, promiseOf, type RecordedResource } from "../support/harness";
import { BACKUP_URL, CONFIGURED_PASSWORD, DOCKER_HOST_PORT, dockerSpec, runProgram, unwrapSecret } from "./fixtures";
import { LABELS } from "../../contracts/labels";
import { RESTORE_MARKER } from "../../contracts/restore";
import { renderBlockedEgress } from "../../ondemand/restore";

const CONTAINER = "docker:index/container:Container";
interface Upload { file: string; content?: string; owner?: string; permissions?: string; executable?: boolean }
interface ContainerInputs {
    name: string;
    image: string;
    envs: string[];
    memory: number;
    labels: { label: string; value: string }[];
    mounts: { type: string; source: string; target: string }[];
    uploads: Upload[];
    ports: { internal: number; ip: string; external?: number }[];
    healthcheck: { tests: string[] };
    wait: boolean;
    attach?: boolean;
    user?: string;
}
const inputsOf = (r: RecordedResource): ContainerInputs => {
    const inputs = r.inputs as unknown as ContainerInputs;
    return { ...inputs, uploads: unwrapSecret<Upload[]>(inputs.uploads) ?? [] };
};

describe("docker target, with a backup", async () => {
    const { rec, mod } = await runProgram(dockerSpec());
    const server = rec.one(CONTAINER, "orders");
    const s = inputsOf(server);
    const fetch = rec.one(CONTAINER, "orders-fetch");

    it("runs the catalog image with a memory limit, on the configured Docker host", () => {
        const image = rec.one("docker:index/remoteImage:RemoteImage", "orders-image");
        expect(image.inputs.name).toBe("postgres:17.2");
        expect(image.inputs.keepLocally).toBe(true);
        expect(s.memory).toBe(1024);
        expect(rec.one("pulumi:providers:docker").inputs.host).toBe("unix:///var/run/docker.sock");
        expect(server.provider).toContain("orders-docker");
        expect(s.envs).toContain("PGDATA=/var/lib/postgresql/data/pgdata");
    });

    it("keeps the data on a named volume", () => {
        const volume = rec.one("docker:index/volume:Volume");
        expect(volume.inputs.name).toBe("dbaas-db-orders-data");
        expect(s.mounts).toEqual([{ type: "volume", source: "dbaas-db-orders-data", target: "/var/lib/postgresql/data" }]);
    });

    it("labels the container with owner, project, expiry and managed-by", () => {
        const labels = Object.fromEntries(s.labels.map((l) => [l.label, l.value]));
        expect(labels).toMatchObject({
            [LABELS.owner]: "alice_example.com",
            [LABELS.project]: "proj-42",
            [LABELS.expiresAt]: "2026-11-24T16-00-00Z",
            [LABELS.managedBy]: "dbaas",
        });
    });

    it("hands the password over as a secret file, never as an env value", () => {
        expect(server.secretInputs.has("uploads")).toBe(true);
        const file = s.uploads.find((u) => u.file === "/run/dbaas/postgres-password");
        expect(file?.content).toBe(CONFIGURED_PASSWORD);
        expect(file).toMatchObject({ owner: "999", permissions: "0400" });
        expect(s.envs).toContain("POSTGRES_PASSWORD_FILE=/run/dbaas/postgres-password");
        expect(s.envs.some((e) => e.startsWith("POSTGRES_PASSWORD="))).toBe(false);
        for (const r of rec.resources.filter((x) => x !== server)) {
            expect(JSON.stringify(r.inputs), r.name).not.toContain(file?.content ?? "?");
        }
    });

    it("publishes 5432 on publish_ip and reports the port Docker chose", async () => {
        expect(s.ports).toEqual([{ internal: 5432, ip: "127.0.0.1" }]);
        expect(await promiseOf(mod.host as pulumi.Output<string>)).toBe("127.0.0.1");
        expect(await promiseOf(mod.port as pulumi.Output<number>)).toBe(DOCKER_HOST_PORT);
    });

    it("downloads the backup in a one-shot container before the server exists", () => {
        const f = inputsOf(fetch);
        expect(f.attach).toBe(true);
        expect(f.envs).toContain(`BACKUP_URL=${BACKUP_URL}`);
        expect(f.uploads.map((u) => u.file)).toEqual(["/opt/dbaas/restore/fetch.sh"]);
        // The fetch script as shipped carries the shared blocked-egress table.
        expect(f.uploads[0]?.content).toContain(renderBlockedEgress());
        expect(rec.one("docker:index/remoteImage:RemoteImage", "orders-fetch-image").inputs.name).toBe("curlimages/curl:8.11.1");
        expect(server.dependencies).toContain(fetch.urn);
    });

    it("restores through the init hook and is healthy only with the marker and pg_isready", () => {
        const hook = s.uploads.find((u) => u.file === "/docker-entrypoint-initdb.d/50-dbaas-restore.sh");
        expect(hook?.permissions).toBe("0555");
        expect(s.uploads.find((u) => u.file === "/opt/dbaas/restore/restore.sh")?.content).toMatch(/^#!\/bin\/sh\n/);
        expect(s.envs).toContain("BACKUP_FILE=/var/lib/postgresql/data/restore/backup");
        expect(s.envs.some((e) => e.startsWith("BACKUP_URL="))).toBe(false);
        const test = s.healthcheck.tests.join(" ");
        expect(test).toContain(RESTORE_MARKER);
        expect(test).toContain("pg_isready");
        expect(s.wait).toBe(true);
    });

    it("exports password and uri as secrets", async () => {
        expect(await isSecretOutput(mod.password as pulumi.Output<string>)).toBe(true);
        expect(await isSecretOutput(mod.uri as pulumi.Output<string>)).toBe(true);
        expect(await promiseOf(mod.uri as pulumi.Output<string>)).toMatch(new RegExp(`^postgresql://postgres:${CONFIGURED_PASSWORD}@127\\.0\\.0\\.1:${DOCKER_HOST_PORT}/orders$`));
    });

    it("takes the password from the secret config dbaas-db:password: no random resource, the file and the output carry exactly it", async () => {
        expect(rec.resources.filter((r) => r.type.startsWith("random:") || r.type === "pulumi:providers:random")).toEqual([]);
        expect(s.uploads.filter((u) => u.file === "/run/dbaas/postgres-password").map((u) => u.content)).toEqual([CONFIGURED_PASSWORD]);
        const password = mod.password as pulumi.Output<string>;
        expect(await isSecretOutput(password)).toBe(true);
        expect(await promiseOf(password)).toBe(CONFIGURED_PASSWORD);
    });
});

describe("docker target, a backup server with a private CA on its own network", async () => {
    const CA = "-----BEGIN CERTIFICATE-----\nMIIBfake0123456789abcdefghijklmnopqrstuvwxyzABCD\n-----END CERTIFICATE-----\n";
    const spec = dockerSpec();
    const { rec } = await runProgram({ ...spec, target: { ...spec.target, kind: "docker", docker_host: "unix:///var/run/docker.sock", memory_mb: 1024, restore_ca_pem: CA, fetch_network: "backups" } });
    const fetch = rec.one(CONTAINER, "orders-fetch");
    const f = inputsOf(fetch);
    const raw = fetch.inputs as { networkMode?: string; networksAdvanced?: { name: string }[] };

    it("uploads the CA bundle to the fetch step and points RESTORE_CA_FILE at it", () => {
        expect(f.uploads.find((u) => u.file === "/opt/dbaas/restore/backup-ca.pem")).toMatchObject({ content: CA, permissions: "0444" });
        expect(f.envs).toContain("RESTORE_CA_FILE=/opt/dbaas/restore/backup-ca.pem");
    });
    it("joins the configured network instead of the default bridge; the server does not", () => {
        expect(raw.networkMode).toBe("backups");
        expect(raw.networksAdvanced).toEqual([{ name: "backups" }]);
        expect((rec.one(CONTAINER, "orders").inputs as { networksAdvanced?: unknown }).networksAdvanced).toBeUndefined();
    });
    it("without them, no CA file, no RESTORE_CA_FILE and the default network", async () => {
        const plain = await runProgram(dockerSpec());
        const pf = inputsOf(plain.rec.one(CONTAINER, "orders-fetch"));
        expect(pf.uploads.map((u) => u.file)).toEqual(["/opt/dbaas/restore/fetch.sh"]);
        expect(pf.envs.some((e) => e.startsWith("RESTORE_CA_FILE="))).toBe(false);
        expect((plain.rec.one(CONTAINER, "orders-fetch").inputs as { networkMode?: string }).networkMode).toBeUndefined();
    });
});

describe("docker target, no backup", async () => {
    const { rec } = await runProgram(dockerSpec({ backup_location: undefined }));

    it("has no fetch step, no restore hook, and health is pg_isready alone", () => {
        expect(rec.ofType(CONTAINER).map((r) => r.name)).toEqual(["orders"]);
        const s = inputsOf(rec.one(CONTAINER));
        expect(s.uploads.map((u) => u.file)).toEqual(["/run/dbaas/postgres-password"]);
        expect(s.healthcheck.tests.join(" ")).not.toContain(RESTORE_MARKER);
    });
});

describe("docker target, replacing the server (a restart)", async () => {
    // The mocks hand no resource options to newResource: read them from the registration request.
    const register = vi.spyOn(MockMonitor.prototype, "registerResource");
    await runProgram(dockerSpec({ backup_location: undefined }));
    const requests = register.mock.calls.map(([req]) => req as { getType(): string; getName(): string; getDeletebeforereplace(): boolean });
    register.mockRestore();

    it("deletes the old container before creating the new one: Docker refuses a second container of the same name", () => {
        const server = requests.find((r) => r.getType() === CONTAINER && r.getName() === "orders");
        expect(server?.getDeletebeforereplace()).toBe(true);
    });
});
