/**
 * The in-cluster admin database's init script (roles.ts roleInitScript) on a
 * real PostgreSQL 17, run as the image's entrypoint runs it (`sh`, the
 * superuser in POSTGRES_USER, psql reaching the server; here over TCP with
 * PGHOST/PGPORT/PGPASSWORD instead of the init server's socket): the owner
 * and read-only roles get the passwords from their files, the owner owns the
 * database, the read-only role reads and never writes; nothing of a password
 * is in the script.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { roleInitScript, roleNames } from "../../../components/postgres";
import { startPostgres, type PostgresServer } from "../../support/postgres";
import { requireBinaries } from "../../support/requirements";

const missing = requireBinaries(["psql"], "apt-get install postgresql-client");
const names = roleNames("dbaas");

describe.skipIf(missing)("the in-cluster admin database's init script on PostgreSQL 17", () => {
    let server: PostgresServer;
    let dir: string;
    const passwords = { owner: "owner-Pa55-from-file", readOnly: "readonly-Pa55-from-file" };
    let script = "";
    const as = async (user: string, password: string, work: (c: pg.Client) => Promise<void>) => {
        const c = new pg.Client({ host: "127.0.0.1", port: server.port, user, password, database: names.database });
        await c.connect();
        try {
            await work(c);
        } finally {
            await c.end();
        }
    };

    beforeAll(async () => {
        server = await startPostgres(17, { initdbFlags: ["--no-sync"], postgresFlags: ["-c", "fsync=off"] });
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-initscript-"));
        const files = { owner: path.join(dir, "owner-password"), readOnly: path.join(dir, "readonly-password") };
        fs.writeFileSync(files.owner, passwords.owner, { mode: 0o600 });
        fs.writeFileSync(files.readOnly, passwords.readOnly, { mode: 0o600 });
        script = roleInitScript(names, files);
        fs.writeFileSync(path.join(dir, "10-roles.sh"), script, { mode: 0o755 });
        await promisify(execFile)("sh", [path.join(dir, "10-roles.sh")], {
            env: { PATH: process.env.PATH ?? "", POSTGRES_USER: server.user, PGHOST: "127.0.0.1", PGPORT: String(server.port), PGPASSWORD: server.password },
        });
    }, 120_000);

    afterAll(async () => {
        await server?.stop();
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("holds no password itself", () => {
        expect(script).not.toContain(passwords.owner);
        expect(script).not.toContain(passwords.readOnly);
    });

    it("makes the owner with the password from its file, owning the database", async () => {
        await as(names.owner, passwords.owner, async (c) => {
            expect((await c.query<{ owner: string }>("SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = current_database()")).rows[0]?.owner).toBe(names.owner);
            await c.query("CREATE TABLE jobs (id int PRIMARY KEY); INSERT INTO jobs VALUES (1)");
        });
        await expect(as(names.owner, "wrong", () => Promise.resolve())).rejects.toThrow(/password authentication failed/);
    });

    it("lets the read-only role read the owner's tables and nothing else", async () => {
        await as(names.readOnly, passwords.readOnly, async (c) => {
            expect((await c.query("SELECT count(*)::int AS n FROM jobs")).rows[0]).toEqual({ n: 1 });
            await expect(c.query("INSERT INTO jobs VALUES (2)")).rejects.toThrow(/permission denied/);
            await expect(c.query("CREATE TABLE mine (id int)")).rejects.toThrow(/permission denied/);
        });
    });
});
