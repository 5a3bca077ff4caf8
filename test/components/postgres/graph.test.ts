/**
 * The platform program's Postgres part under mocks (dev stack file): a
 * catalog edit maps to exactly one pulled image, no container gets a plain
 * password, the admin database's read-only role gets exactly the grants of
 * roles.ts, and the server only accepts TLS on the network.
 */
import { parse as parseYaml } from "yaml";
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { CONTAINER_PATHS, DEFAULT_PRIVILEGES, GRANTS, renderPgHba, renderPostgresqlConf, roleNames } from "../../../components/postgres";
import { installMocks, ROOT, settle, stackConfig, type Recorder } from "../../support/harness";

const REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage";
const CONTAINER = "docker:index/container:Container";

interface Version { label: string; image: string }
const devFile = parseYaml(fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8")) as { config: Record<string, unknown> };
const devPostgres = devFile.config["dbaas:postgres"] as { versions: Version[]; memoryMb: number; shmSizeMb: number };

async function run(versions?: Version[], extra: Record<string, unknown> = {}): Promise<Recorder> {
    vi.resetModules();
    const overrides = versions === undefined ? {} : { "dbaas:postgres": { ...devPostgres, versions, ...extra } };
    const rec = await installMocks({ project: "dbaas", stack: "dev", preview: false, config: stackConfig("Pulumi.dev.yaml", overrides) });
    await import("../../../infra");
    await settle();
    return rec;
}

/** A whole input marked secret arrives wrapped as { <sig key>: <sig>, value }; this returns the value. */
function unwrapSecret(v: unknown): unknown {
    if (v && typeof v === "object" && "value" in v && Object.values(v).includes("1b47061264138c4ac30d75fd1eb44270")) return (v).value;
    return v;
}

const key = (r: { type: string; name: string }) => `${r.type}::${r.name}`;

/** Resources added and removed between two runs, by (type, name), and those whose inputs changed. */
function graphDiff(before: Recorder, after: Recorder) {
    const b = new Map(before.resources.map((r) => [key(r), r]));
    const a = new Map(after.resources.map((r) => [key(r), r]));
    return {
        added: [...a.keys()].filter((k) => !b.has(k)).sort(),
        removed: [...b.keys()].filter((k) => !a.has(k)).sort(),
        changed: [...a.entries()].filter(([k, r]) => b.has(k) && JSON.stringify(b.get(k)?.inputs) !== JSON.stringify(r.inputs)).map(([k, r]) => ({ key: k, inputs: JSON.stringify(r.inputs) })),
    };
}

let base: Recorder;
beforeAll(async () => {
    base = await run();
});

describe("catalog edits (dev stack)", () => {
    it("adding one version adds exactly one pulled image (and changes only inputs carrying the catalog)", async () => {
        const added = await run([...devPostgres.versions, { label: "PostgreSQL 18", image: "postgres:18.1" }]);
        const diff = graphDiff(base, added);
        expect(diff.added).toEqual([`${REMOTE_IMAGE}::pg-image-postgres-18.1`]);
        expect(diff.removed).toEqual([]);
        // Anything else that changed must be the catalog handed over (e.g. to the API).
        for (const c of diff.changed) expect(c.inputs, c.key).toContain("PostgreSQL 18");
        expect(added.one(REMOTE_IMAGE, "pg-image-postgres-18.1").inputs).toMatchObject({ name: "postgres:18.1", keepLocally: true });
        console.info(`catalog +1 version: added ${diff.added.join(", ")}; inputs changed: ${diff.changed.map((c) => c.key).join(", ") || "none"}`);
    });

    it("removing an unused version removes exactly its image", async () => {
        const unused = devPostgres.versions.at(-1) as Version;
        const removed = await run(devPostgres.versions.filter((v) => v !== unused));
        const diff = graphDiff(base, removed);
        expect(diff.removed).toEqual([`${REMOTE_IMAGE}::pg-image-${unused.image.replace(":", "-")}`]);
        expect(diff.added).toEqual([]);
        for (const c of diff.changed) expect(c.inputs, c.key).not.toContain(unused.image);
    });

    it("pulls each distinct image once, kept on the host", () => {
        const rec = base;
        const pulled = rec.ofType(REMOTE_IMAGE).filter((r) => r.name.startsWith("pg-image-"));
        expect(pulled.map((r) => r.inputs.name).sort()).toEqual([...new Set(devPostgres.versions.map((v) => v.image))].sort());
        for (const r of pulled) expect(r.inputs.keepLocally).toBe(true);
    });
});

describe("the admin database (dev stack)", () => {
    const names = roleNames("dbaas");

    it("gives no container a plain password; the admin password arrives as a secret file", () => {
        const rec = base;
        const passwords = rec.ofType("random:index/randomPassword:RandomPassword").map((r) => `pw-${r.name}-0123456789abcdef`);
        expect(passwords.length).toBeGreaterThanOrEqual(3);
        for (const c of rec.ofType(CONTAINER)) {
            const envs = (c.inputs.envs ?? []) as string[];
            for (const e of envs) {
                expect(e, `${c.name} env`).not.toMatch(/^POSTGRES_PASSWORD=/);
                for (const p of passwords) expect(e, `${c.name} env`).not.toContain(p);
            }
            for (const p of passwords) expect(JSON.stringify(c.inputs.command ?? []), `${c.name} command`).not.toContain(p);
        }
        const admin = rec.one(CONTAINER, "admin-db");
        expect(admin.inputs.envs).toContain(`POSTGRES_PASSWORD_FILE=${CONTAINER_PATHS.passwordFile}`);
        expect(admin.secretInputs.has("uploads")).toBe(true);
        const uploads = unwrapSecret(admin.inputs.uploads) as { file: string; content: string; owner?: string; permissions?: string }[];
        const pwFile = uploads.find((u) => u.file === CONTAINER_PATHS.passwordFile);
        expect(pwFile).toMatchObject({ content: "pw-admin-db-admin-password-0123456789abcdef", owner: "999", permissions: "0400" });
        expect(uploads.find((u) => u.file === CONTAINER_PATHS.keyFile)).toMatchObject({ owner: "999", permissions: "0600" });
    });

    it("runs the catalog image with a named volume below PGDATA, limits, health check and a network alias", () => {
        const rec = base;
        const admin = rec.one(CONTAINER, "admin-db");
        const volume = rec.one("docker:index/volume:Volume", "admin-db-data");
        expect(volume.inputs.name).toBe("dbaas-dev-admin-db-data");
        expect(admin.inputs).toMatchObject({
            name: "dbaas-dev-admin-db",
            image: "sha256:pg-image-postgres-17.2",
            memory: devPostgres.memoryMb,
            memorySwap: devPostgres.memoryMb,
            shmSize: devPostgres.shmSizeMb,
            restart: "unless-stopped",
            volumes: [{ volumeName: "dbaas-dev-admin-db-data", containerPath: "/var/lib/postgresql/data" }],
            networksAdvanced: [{ name: "dbaas-dev", aliases: ["admin-db"] }],
            ports: [{ internal: 5432, external: 5432, ip: "127.0.0.1" }],
        });
        expect(admin.inputs.envs).toContain("PGDATA=/var/lib/postgresql/data/pgdata");
        expect((admin.inputs.healthcheck as { tests: string[] }).tests).toEqual(["CMD", "pg_isready", "-U", "postgres", "-h", "127.0.0.1", "-p", "5432"]);
        const uploads = unwrapSecret(admin.inputs.uploads) as { file: string; content: string }[];
        expect(uploads.find((u) => u.file === CONTAINER_PATHS.postgresqlConf)?.content).toBe(renderPostgresqlConf({ memoryMb: devPostgres.memoryMb }));
        expect(uploads.find((u) => u.file === CONTAINER_PATHS.pgHba)?.content).toBe(renderPgHba());
    });

    it("runs postgres.adminVersion when it is set", async () => {
        const rec = await run(devPostgres.versions, { adminVersion: "PostgreSQL 16" });
        expect(rec.one(CONTAINER, "admin-db").inputs.image).toBe("sha256:pg-image-postgres-16.6");
    });

    it("signs the server certificate with the stack CA for the alias and localhost", () => {
        const rec = base;
        const csr = rec.one("tls:index/certRequest:CertRequest", "admin-db-tls-csr");
        expect(csr.inputs.dnsNames).toEqual(["admin-db", "localhost"]);
        const signed = rec.one("tls:index/locallySignedCert:LocallySignedCert", "admin-db-tls-cert");
        expect(signed.inputs.caCertPem).toBe(`-----BEGIN CERTIFICATE-----\nstack-ca-cert\n-----END CERTIFICATE-----\n`);
    });

    it("declares roles over TLS; the read-only role gets exactly USAGE on the schema and SELECT on tables, now and later", () => {
        const rec = base;
        const provider = rec.one("pulumi:providers:postgresql", "admin-db-pg");
        // provider inputs arrive as strings
        expect(provider.inputs).toMatchObject({ host: "127.0.0.1", port: "5432", username: "postgres", sslmode: "require" });
        expect(provider.secretInputs.has("password")).toBe(true);
        for (const r of rec.ofType("postgresql:index/role:Role")) expect(r.secretInputs.has("password"), r.name).toBe(true);
        expect(rec.one("postgresql:index/database:Database").inputs).toMatchObject({ name: names.database, owner: names.owner });

        const grants = rec.ofType("postgresql:index/grant:Grant").map((g) => g.inputs as { role: string; objectType: string; schema?: string; privileges: string[]; database: string });
        const readOnly = grants.filter((g) => g.role === names.readOnly).map((g) => [g.objectType, g.schema, g.privileges]);
        expect(readOnly).toEqual([["schema", "public", ["USAGE"]], ["table", "public", ["SELECT"]]]);
        // and that is what roles.ts declares
        expect(readOnly).toEqual(GRANTS.filter((g) => g.grantee === "readOnly").map((g) => [g.objectType, g.schema, [...g.privileges]]));
        expect(grants.filter((g) => g.role === "public").map((g) => [g.objectType, g.privileges])).toEqual([["database", ["CONNECT"]], ["schema", ["USAGE"]]]);
        for (const g of grants) expect(g.database).toBe(names.database);

        const defaults = rec.ofType("postgresql:index/defaultPrivileges:DefaultPrivileges").map((d) => d.inputs);
        expect(defaults).toEqual([expect.objectContaining({ role: names.readOnly, owner: names.owner, objectType: "table", schema: "public", privileges: ["SELECT"] })]);
        expect(defaults).toHaveLength(DEFAULT_PRIVILEGES.length);
        for (const r of [...rec.ofType("postgresql:index/grant:Grant"), ...rec.ofType("postgresql:index/role:Role")]) {
            expect(r.provider, r.name).toContain("admin-db-pg");
        }
    });
});
