/** The pure decisions behind PostgresInstance and CatalogImages, tested directly. */
import { describe, expect, it } from "vitest";
import { parseCatalogJson } from "../../../contracts/catalog";
import {
    catalogImageNames, connectionUrl, dataLayout, DEFAULT_PRIVILEGES, grantStatements, GRANTS, hbaRules, imageResourceName,
    memorySettings, postgresCommand, renderPgHba, renderPostgresqlConf, roleNames,
} from "../../../components/postgres";

/** `key = value` lines of a rendered postgresql.conf. */
function confValues(text: string): Map<string, string> {
    return new Map(text.split("\n").filter((l) => l.includes(" = ")).map((l) => {
        const [k = "", v = ""] = l.split(" = ");
        return [k, v];
    }));
}

describe("memorySettings", () => {
    it.each([
        [128, 32, 96, 16, 2],
        [512, 128, 384, 32, 10],
        [1024, 256, 768, 64, 20],
        [2048, 512, 1536, 128, 40],
        [65536, 16384, 49152, 1024, 1310],
    ])("%i MiB → shared_buffers %i, effective_cache_size %i, maintenance %i, work_mem %i", (mb, shared, cache, maint, work) => {
        expect(memorySettings(mb)).toEqual({ sharedBuffersMb: shared, effectiveCacheSizeMb: cache, maintenanceWorkMemMb: maint, workMemMb: work });
    });

    it.each([0, 64, 127, 512.5])("refuses %s MiB, naming the config key", (mb) => {
        expect(() => memorySettings(mb)).toThrow(/dbaas:postgres.memoryMb/);
    });

    it("never plans more than the limit for shared buffers plus a quarter of the connections sorting", () => {
        for (const mb of [128, 300, 1000, 4096, 30000]) {
            const m = memorySettings(mb);
            expect(m.sharedBuffersMb + m.workMemMb * 25).toBeLessThanOrEqual(mb);
        }
    });
});

describe("renderPostgresqlConf", () => {
    const conf = confValues(renderPostgresqlConf({ memoryMb: 1024 }));

    it.each([
        ["ssl", "on"],
        ["ssl_min_protocol_version", "'TLSv1.2'"],
        ["password_encryption", "'scram-sha-256'"],
        ["listen_addresses", "'*'"],
        ["port", "5432"],
        ["shared_buffers", "'256MB'"],
        ["effective_cache_size", "'768MB'"],
        ["ssl_cert_file", "'/etc/postgresql/dbaas/tls/server.crt'"],
        ["ssl_key_file", "'/etc/postgresql/dbaas/tls/server.key'"],
    ])("sets %s = %s", (key, value) => {
        expect(conf.get(key)).toBe(value);
    });

    it("quotes file paths it is given", () => {
        const c = confValues(renderPostgresqlConf({ memoryMb: 256, certFile: "it's.crt", keyFile: "server.key", port: 6543 }));
        expect(c.get("ssl_cert_file")).toBe("'it''s.crt'");
        expect(c.get("port")).toBe("6543");
    });

    it("the container command points postgres at the rendered files", () => {
        expect(postgresCommand()).toEqual(["postgres", "-c", "config_file=/etc/postgresql/dbaas/postgresql.conf", "-c", "hba_file=/etc/postgresql/dbaas/pg_hba.conf"]);
    });
});

describe("pg_hba rules", () => {
    const rules = hbaRules();
    const network = rules.filter((r) => r.type !== "local");

    it("accepts network connections only over TLS with scram-sha-256", () => {
        const accepting = network.filter((r) => r.method !== "reject");
        expect(accepting.length).toBeGreaterThan(0);
        for (const r of accepting) expect([r.type, r.method]).toEqual(["hostssl", "scram-sha-256"]);
    });

    it("rejects non-TLS connections before any rule could accept them, and ends with a reject", () => {
        const firstNoSsl = network.findIndex((r) => r.type === "hostnossl" || r.type === "host");
        expect(network[firstNoSsl]).toMatchObject({ type: "hostnossl", address: "all", method: "reject" });
        expect(network.at(-1)).toMatchObject({ type: "host", address: "all", method: "reject" });
    });

    it("covers every IPv4 and IPv6 address with the TLS lines", () => {
        expect(network.filter((r) => r.type === "hostssl").map((r) => r.address).sort()).toEqual(["0.0.0.0/0", "::/0"]);
    });

    it("the local socket uses peer (the image's entrypoint runs as OS user postgres)", () => {
        expect(rules.filter((r) => r.type === "local")).toEqual([expect.objectContaining({ database: "all", user: "all", method: "peer" })]);
    });

    it("the rendered file holds no trust, md5 or password method", () => {
        const lines = renderPgHba().split("\n").filter((l) => l && !l.startsWith("#"));
        expect(lines).toHaveLength(rules.length);
        for (const l of lines) expect(l.split("\t").at(-1)).toMatch(/^(peer|scram-sha-256|reject)$/);
        expect(lines.flatMap((l) => l.split("\t")).filter((t) => ["trust", "md5", "password", "ident"].includes(t))).toEqual([]);
    });
});

describe("dataLayout", () => {
    it.each([
        [15, "/var/lib/postgresql/data", "/var/lib/postgresql/data/pgdata"],
        [17, "/var/lib/postgresql/data", "/var/lib/postgresql/data/pgdata"],
        [undefined, "/var/lib/postgresql/data", "/var/lib/postgresql/data/pgdata"],
        [18, "/var/lib/postgresql", "/var/lib/postgresql/18/docker"],
    ])("major %s mounts %s with PGDATA %s below it", (major, mountPath, pgdata) => {
        const layout = dataLayout(major);
        expect(layout).toEqual({ mountPath, pgdata });
        expect(layout.pgdata.startsWith(`${layout.mountPath}/`)).toBe(true);
    });
});

describe("image resource names", () => {
    it.each([
        ["postgres:17.2", "pg-image-postgres-17.2"],
        ["postgres:16.4-alpine", "pg-image-postgres-16.4-alpine"],
        ["registry.example.com:5000/team/postgres:16", "pg-image-registry.example.com-5000-team-postgres-16"],
        [`postgres@sha256:${"ab".repeat(32)}`, "pg-image-postgres-sha256-abababababab"],
    ])("%s → %s", (ref, name) => {
        expect(imageResourceName(ref)).toBe(name);
    });

    it("one name per distinct image, independent of position", () => {
        const catalog = parseCatalogJson(JSON.stringify([
            { label: "A", image: "postgres:17.2" },
            { label: "B", image: "postgres:16.6" },
            { label: "C", image: "postgres:17.2" },
        ]));
        const reordered = parseCatalogJson(JSON.stringify([{ label: "B", image: "postgres:16.6" }, { label: "A", image: "postgres:17.2" }]));
        expect(catalogImageNames(catalog).map((n) => n.resourceName).sort()).toEqual(catalogImageNames(reordered).map((n) => n.resourceName).sort());
        expect(catalogImageNames(catalog)).toHaveLength(2);
    });
});

describe("roles as data", () => {
    it("the read-only role gets exactly USAGE on the schema and SELECT on its tables, now and later", () => {
        expect(GRANTS.filter((g) => g.grantee === "readOnly").map((g) => [g.objectType, g.schema, [...g.privileges]])).toEqual([
            ["schema", "public", ["USAGE"]],
            ["table", "public", ["SELECT"]],
        ]);
        expect(DEFAULT_PRIVILEGES.map((d) => [d.grantee, d.creator, d.objectType, d.schema, [...d.privileges]])).toEqual([["readOnly", "owner", "table", "public", ["SELECT"]]]);
    });

    it("PUBLIC keeps only CONNECT on the database and USAGE on the schema (no TEMP, no CREATE)", () => {
        expect(GRANTS.filter((g) => g.grantee === "public").map((g) => [g.objectType, [...g.privileges]])).toEqual([
            ["database", ["CONNECT"]],
            ["schema", ["USAGE"]],
        ]);
    });

    it("renders the same grants as SQL, each revoking before granting", () => {
        const sql = grantStatements(roleNames("app"));
        expect(sql).toEqual([
            'REVOKE ALL ON DATABASE "app" FROM PUBLIC',
            'GRANT CONNECT ON DATABASE "app" TO PUBLIC',
            'REVOKE ALL ON SCHEMA "public" FROM PUBLIC',
            'GRANT USAGE ON SCHEMA "public" TO PUBLIC',
            'REVOKE ALL ON SCHEMA "public" FROM "app_readonly"',
            'GRANT USAGE ON SCHEMA "public" TO "app_readonly"',
            'REVOKE ALL ON ALL TABLES IN SCHEMA "public" FROM "app_readonly"',
            'GRANT SELECT ON ALL TABLES IN SCHEMA "public" TO "app_readonly"',
            'ALTER DEFAULT PRIVILEGES FOR ROLE "app_owner" IN SCHEMA "public" GRANT SELECT ON TABLES TO "app_readonly"',
        ]);
    });

    it.each(["App", "1app", "a-b", "a".repeat(42), ""])("refuses the application name %j", (app) => {
        expect(() => roleNames(app)).toThrow(/lowercase letter/);
    });
});

describe("connectionUrl", () => {
    it("percent-encodes credentials and states the sslmode", () => {
        expect(connectionUrl({ user: "app_owner", password: "p@ss/word", host: "admin-db", port: 5432, database: "app", sslmode: "verify-full" }))
            .toBe("postgresql://app_owner:p%40ss%2Fword@admin-db:5432/app?sslmode=verify-full");
    });
});
