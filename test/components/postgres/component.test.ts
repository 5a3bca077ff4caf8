/** PostgresInstance and CatalogImages on their own under mocks: version choice, layout, outputs, errors. */
import * as docker from "@pulumi/docker";
import { beforeAll, describe, expect, it } from "vitest";
import { parseCatalogJson, type VersionCatalog } from "../../../contracts/catalog";
import { CatalogImages, PostgresInstance } from "../../../components/postgres";
import { StackCa } from "../../../components/tls";
import { installMocks, isSecretOutput, promiseOf, settle, type Recorder } from "../../support/harness";

const catalog: VersionCatalog = parseCatalogJson(JSON.stringify([
    { label: "PostgreSQL 17", image: "postgres:17.2" },
    { label: "PostgreSQL 18", image: "postgres:18.1" },
    { label: "Also 17", image: "postgres:17.2" },
]));

let rec: Recorder;
let pg18: PostgresInstance;
let images: CatalogImages;
let provider: docker.Provider;
let network: docker.Network;
let ca: StackCa;

beforeAll(async () => {
    rec = await installMocks({ project: "dbaas", stack: "test", preview: false, config: {} });
    provider = new docker.Provider("docker", { host: "unix:///var/run/docker.sock" });
    network = new docker.Network("net", { name: "dbaas-test" }, { provider });
    ca = new StackCa("ca", { commonName: "test CA" });
    images = new CatalogImages("catalog", { catalog, dockerProvider: provider });
    pg18 = new PostgresInstance("pg18", {
        catalog, version: "PostgreSQL 18", memoryMb: 256, shmSizeMb: 64, dockerProvider: provider, network, ca, application: "shop", publishPort: 15432,
    });
    await settle();
});

describe("CatalogImages", () => {
    it("pulls each distinct image once, named after the image", () => {
        expect(rec.ofType("docker:index/remoteImage:RemoteImage").map((r) => r.name).sort()).toEqual(["pg-image-postgres-17.2", "pg-image-postgres-18.1"]);
    });

    it("hands over the catalog as JSON the API parses back", () => {
        expect(parseCatalogJson(images.catalogJson)).toEqual(catalog);
    });

    it("refuses an image that is not in the catalog", () => {
        expect(() => images.imageFor("postgres:9.5.3")).toThrow("image postgres:9.5.3 is not in the version catalog");
    });
});

describe("PostgresInstance", () => {
    it("runs the chosen version's image; from 18 the volume is mounted where that image keeps PGDATA", () => {
        const c = rec.one("docker:index/container:Container", "pg18");
        expect(c.inputs.image).toBe("postgres:18.1");
        expect(c.inputs.volumes).toEqual([{ volumeName: "pg18-data", containerPath: "/var/lib/postgresql" }]);
        expect(c.inputs.envs).toContain("PGDATA=/var/lib/postgresql/18/docker");
        expect(c.inputs.ports).toEqual([{ internal: 5432, external: 15432, ip: "127.0.0.1" }]);
        expect(rec.one("pulumi:providers:postgresql", "pg18-pg").inputs.port).toBe("15432");
    });

    it("names the database and roles after the application", () => {
        expect(rec.ofType("postgresql:index/role:Role").map((r) => r.inputs.name).sort()).toEqual(["shop_owner", "shop_readonly"]);
        expect(rec.one("postgresql:index/database:Database").inputs).toMatchObject({ name: "shop", owner: "shop_owner" });
    });

    it("exposes connection URLs and passwords as secrets only", async () => {
        for (const o of [pg18.apiConnectionUrl, pg18.readOnlyConnectionUrl, pg18.adminPassword, pg18.ownerPassword, pg18.readOnlyPassword]) {
            expect(await isSecretOutput(o)).toBe(true);
        }
        expect(await promiseOf(pg18.apiConnectionUrl)).toBe("postgresql://shop_owner:pw-pg18-owner-password-0123456789abcdef@pg18:5432/shop?sslmode=verify-full");
        expect(await promiseOf(pg18.readOnlyConnectionUrl)).toBe("postgresql://shop_readonly:pw-pg18-readonly-password-0123456789abcdef@pg18:5432/shop?sslmode=verify-full");
        expect(await isSecretOutput(pg18.caCertPem)).toBe(false);
    });

    it("parents every child to the instance", () => {
        const component = rec.resources.find((r) => r.type === "dbaas:postgres:PostgresInstance");
        const children = rec.resources.filter((r) => r.name.startsWith("pg18-") && !r.type.startsWith("tls:") && r.type !== "dbaas:tls:ServerCertificate");
        expect(children.length).toBeGreaterThan(5);
        for (const r of children) expect(r.parent, `${r.type} ${r.name}`).toBe(component?.urn);
    });

    it("refuses a version that is not in the catalog, listing the labels", () => {
        expect(() => new PostgresInstance("bad", {
            catalog, version: "PostgreSQL 9.5", memoryMb: 256, shmSizeMb: 64, dockerProvider: provider, network, ca, application: "bad",
        })).toThrow('version "PostgreSQL 9.5" is not in the catalog (PostgreSQL 17, PostgreSQL 18, Also 17)');
    });
});
