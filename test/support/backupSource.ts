/**
 * What the backup suites (test/api/backups.test.ts, test/api/backups/s3Store.test.ts)
 * dump: a database on a real PostgreSQL, and the one pg_dump the runner may use.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { findPgDumps, searchDirs, type PgDumpBinary } from "../../api/backups/pgDump";
import { REPO_ROOT } from "../../api/config";
import type { PostgresServer } from "./postgres";

/** The role that may read `items` but not `secrets`: pg_dump as it fails half-way, after writing its header. */
export const LIMITED = { user: "limited", password: "limited-pw" } as const;

/** Database `orders` on `server`: `rows` items (`item <n>`), a `secrets` table, and the LIMITED role. */
export async function seedOrders(server: PostgresServer, rows: number): Promise<void> {
    await server.query("CREATE DATABASE orders");
    await server.query(`CREATE TABLE items (id int PRIMARY KEY, label text NOT NULL); INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, ${rows}) g;
        CREATE TABLE secrets (v text); INSERT INTO secrets VALUES ('s');
        CREATE ROLE ${LIMITED.user} LOGIN PASSWORD '${LIMITED.password}'; GRANT SELECT ON items TO ${LIMITED.user};`, [], "orders");
}

/** The oldest pg_dump of this host, alone in a new temporary directory (remove `binDir` afterwards). */
export async function oldestPgDumpOnly(): Promise<{ binDir: string; pgDump: PgDumpBinary }> {
    const found = await findPgDumps(searchDirs([], process.env.PATH, path.join(REPO_ROOT, "node_modules")));
    const oldest = [...found].sort((x, y) => x.major - y.major)[0];
    if (oldest === undefined) throw new Error("pg_dump is on PATH but findPgDumps found none");
    const binDir = fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-pgdump-bin-"));
    fs.symlinkSync(oldest.path, path.join(binDir, "pg_dump"));
    return { binDir, pgDump: { path: path.join(binDir, "pg_dump"), major: oldest.major } };
}
