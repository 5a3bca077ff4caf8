import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { catalogFromStackFile, loadApiConfig, REPO_ROOT } from "../../api/config";
import { selfSignedCertificate } from "../support/tls";

describe("API configuration from the environment", () => {
    it("has documented defaults and the dev stack's catalog", () => {
        const c = loadApiConfig({});
        expect(c).toMatchObject({
            port: 5000, host: "127.0.0.1", ttlHoursDefault: 24, ttlHoursMax: 168, allowOpenSourceRanges: false,
            maxConcurrentOperations: 4, operationTimeoutMs: 1_800_000, maxAttempts: 5, rateLimitPerMinute: 600, bodyLimitBytes: 65536,
            dataDir: path.join(REPO_ROOT, ".dbaas-data"), tokensFile: path.join(REPO_ROOT, ".dbaas-data", "tokens"),
            target: { kind: "docker", docker_host: "unix:///var/run/docker.sock", memory_mb: 1024, publish_ip: "127.0.0.1" },
        });
        expect(c.databaseUrl).toBeUndefined();
        expect(c.catalog).toEqual(catalogFromStackFile(path.join(REPO_ROOT, "Pulumi.dev.yaml")));
        expect(c.backupHosts).toEqual([]);
    });

    it("reads lists, booleans, the kubernetes target and an inline catalog", () => {
        const c = loadApiConfig({
            DBAAS_BACKUP_HOSTS: "a.example.com, b.example.com,",
            DBAAS_ALLOW_OPEN_SOURCE_RANGES: "true",
            DBAAS_TARGET: "kubernetes",
            DBAAS_STORAGE_CLASS: "gp3",
            DBAAS_CATALOG: '[{"label":"PostgreSQL 16","image":"postgres:16.6"}]',
            PORT: "8080",
        });
        expect(c.backupHosts).toEqual(["a.example.com", "b.example.com"]);
        expect(c.allowOpenSourceRanges).toBe(true);
        expect(c.target).toMatchObject({ kind: "kubernetes", namespace_prefix: "devdb-", memory_mb: 1024, cpu_millicores: 1000, storage_gb: 10, storage_class: "gp3" });
        expect(c.catalog.map((v) => v.label)).toEqual(["PostgreSQL 16"]);
        expect(c.port).toBe(8080);
    });

    it.each([
        [{ PORT: "http" }, /PORT = "http": expected/],
        [{ DBAAS_TTL_HOURS_DEFAULT: "100", DBAAS_TTL_HOURS_MAX: "50" }, /DBAAS_TTL_HOURS_DEFAULT = 100: expected at most DBAAS_TTL_HOURS_MAX \(50\)/],
        [{ DBAAS_BACKUP_HOSTS: "Bad_Host" }, /DBAAS_BACKUP_HOSTS = "Bad_Host": expected lowercase DNS names/],
        [{ DBAAS_TARGET: "nomad" }, /DBAAS_TARGET = "nomad": expected "docker" or "kubernetes"/],
        [{ DBAAS_CATALOG: "[]" }, /DBAAS_CATALOG .*at least one version/],
        [{ DATABASE_URL: "mysql://x" }, /DATABASE_URL = "mysql:\/\/x": expected a postgresql:\/\/ URL/],
        [{ DBAAS_ALLOW_OPEN_SOURCE_RANGES: "yes" }, /DBAAS_ALLOW_OPEN_SOURCE_RANGES = "yes": expected "true" or "false"/],
        [{ DBAAS_OPERATION_TIMEOUT_SECONDS: "0" }, /DBAAS_OPERATION_TIMEOUT_SECONDS = "0"/],
    ])("refuses %j naming the variable and the rule", (env, message) => {
        expect(() => loadApiConfig(env)).toThrow(message);
    });

    it("reads the admin database URL from DATABASE_URL_FILE, without echoing its content in errors", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-config-"));
        const good = path.join(dir, "url");
        fs.writeFileSync(good, "postgresql://app:s3cret@db:5432/dbaas?sslmode=verify-full\n");
        expect(loadApiConfig({ DATABASE_URL_FILE: good }).databaseUrl).toBe("postgresql://app:s3cret@db:5432/dbaas?sslmode=verify-full");
        const bad = path.join(dir, "bad");
        fs.writeFileSync(bad, "mysql://root:s3cret@db");
        expect(() => loadApiConfig({ DATABASE_URL_FILE: bad })).toThrow(/expected the file to hold a postgresql:\/\/ URL/);
        expect(() => loadApiConfig({ DATABASE_URL_FILE: bad })).not.toThrow(/s3cret/);
        expect(() => loadApiConfig({ DATABASE_URL_FILE: path.join(dir, "missing") })).toThrow(/expected a readable file \(ENOENT\)/);
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("sets the restore's download step for both targets: its image, the CA bundle it trusts, and (docker) its network", () => {
        expect(loadApiConfig({}).target).toMatchObject({ fetch_image: "curlimages/curl:8.11.1" });
        expect(loadApiConfig({}).target.restore_ca_pem).toBeUndefined();
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-ca-"));
        try {
            const a = selfSignedCertificate("ca-a.example.com");
            const b = selfSignedCertificate("ca-b.example.com");
            const file = path.join(dir, "ca.pem");
            fs.writeFileSync(file, `${a.certPem}\n${b.certPem}`);
            const docker = loadApiConfig({ DBAAS_FETCH_IMAGE: "registry.example.com/tools/curl:8.11.1", DBAAS_BACKUP_CA_FILE: file, DBAAS_FETCH_NETWORK: "backups" });
            expect(docker.target).toMatchObject({ kind: "docker", fetch_image: "registry.example.com/tools/curl:8.11.1", fetch_network: "backups" });
            expect(docker.target.restore_ca_pem?.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
            const k8s = loadApiConfig({ DBAAS_TARGET: "kubernetes", DBAAS_BACKUP_CA_FILE: file });
            expect(k8s.target).toMatchObject({ kind: "kubernetes", restore_ca_pem: docker.target.restore_ca_pem });

            // A private key in the bundle is refused without echoing it; so are non-PEM text and a broken certificate.
            fs.writeFileSync(file, `${a.certPem}${a.keyPem}`);
            const withKey = (() => { try { loadApiConfig({ DBAAS_BACKUP_CA_FILE: file }); return ""; } catch (e) { return (e as Error).message; } })();
            expect(withKey).toMatch(/DBAAS_BACKUP_CA_FILE = ".*ca\.pem": the file holds a private key; expected CA certificates only/);
            expect(withKey).not.toContain(a.keyPem.split("\n")[1]);
            fs.writeFileSync(file, "not a certificate\n");
            expect(() => loadApiConfig({ DBAAS_BACKUP_CA_FILE: file })).toThrow(/DBAAS_BACKUP_CA_FILE = .*: expected at most 65536 characters of PEM certificates/);
            fs.writeFileSync(file, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
            expect(() => loadApiConfig({ DBAAS_BACKUP_CA_FILE: file })).toThrow(/certificate 1 of 1 does not parse/);
            expect(() => loadApiConfig({ DBAAS_BACKUP_CA_FILE: path.join(dir, "absent.pem") })).toThrow(/DBAAS_BACKUP_CA_FILE = .*: expected a readable PEM file of CA certificates \(ENOENT\)/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
        expect(() => loadApiConfig({ DBAAS_FETCH_IMAGE: "curl image" })).toThrow(/DBAAS_FETCH_IMAGE = "curl image": expected/);
        expect(() => loadApiConfig({ DBAAS_TARGET: "kubernetes", DBAAS_FETCH_NETWORK: "backups" })).toThrow(/DBAAS_FETCH_NETWORK = "backups": a Docker network applies to DBAAS_TARGET=docker only/);
    });

    it("reads the cache's VolumeSnapshotClass for the kubernetes target only, and drops it when the cache is off", () => {
        expect(loadApiConfig({ DBAAS_TARGET: "kubernetes", DBAAS_K8S_VOLUME_SNAPSHOT_CLASS: "ebs-snapshots" }).target).toMatchObject({ volume_snapshot_class: "ebs-snapshots" });
        expect(loadApiConfig({ DBAAS_TARGET: "kubernetes" }).target).not.toHaveProperty("volume_snapshot_class");
        expect(loadApiConfig({ DBAAS_TARGET: "kubernetes", DBAAS_K8S_VOLUME_SNAPSHOT_CLASS: "ebs-snapshots", DBAAS_CACHE: "false" }).target).not.toHaveProperty("volume_snapshot_class");
        expect(() => loadApiConfig({ DBAAS_TARGET: "kubernetes", DBAAS_K8S_VOLUME_SNAPSHOT_CLASS: "EBS_Snapshots" })).toThrow(/DBAAS_K8S_VOLUME_SNAPSHOT_CLASS = "EBS_Snapshots": expected a VolumeSnapshotClass name/);
        expect(() => loadApiConfig({ DBAAS_K8S_VOLUME_SNAPSHOT_CLASS: "ebs-snapshots" })).toThrow(/applies to DBAAS_TARGET=kubernetes only/);
    });

    it("treats empty values as unset", () => {
        expect(loadApiConfig({ PORT: "", DATABASE_URL: "" })).toMatchObject({ port: 5000 });
    });
});
