/**
 * The benchmarks' dataset (bench:restore, bench:clone): 358 MB of table data
 * at scale 1 (BENCH_RESTORE_SCALE scales the rows) in three tables, 3 million
 * rows, 3 primary keys and 2 indexes, built in PostgreSQL by generate_series,
 * and how to tell two copies apart: the row count and an order-independent
 * checksum of every table.
 */
import type { PostgresServer } from "../test/support/postgres";
import type pg from "pg";

export const SCALE = Number(process.env.BENCH_RESTORE_SCALE ?? "1");
export const ROWS = { items: Math.round(800_000 * SCALE), events: Math.round(1_500_000 * SCALE), logs: Math.round(700_000 * SCALE) };
export const TABLES = Object.keys(ROWS) as (keyof typeof ROWS)[];

export const DATASET_SQL = `
    CREATE TABLE items (id bigint PRIMARY KEY, sku text NOT NULL, name text NOT NULL, price numeric(12, 2) NOT NULL, created timestamptz NOT NULL);
    INSERT INTO items SELECT g, 'SKU-' || g, md5(g::text) || ' ' || md5((g * 7)::text), (g % 100000) / 100.0, timestamptz '2020-01-01' + g * interval '1 second'
        FROM generate_series(1, ${ROWS.items}) g;
    CREATE INDEX items_sku ON items (sku);
    CREATE TABLE events (id bigint PRIMARY KEY, item_id bigint NOT NULL, kind smallint NOT NULL, at timestamptz NOT NULL, note text);
    INSERT INTO events SELECT g, 1 + (g::bigint * 7919) % ${ROWS.items}, g % 7, timestamptz '2021-01-01' + g * interval '1 second', md5(g::text)
        FROM generate_series(1, ${ROWS.events}) g;
    CREATE INDEX events_item ON events (item_id);
    CREATE TABLE logs (id bigint PRIMARY KEY, line text NOT NULL);
    INSERT INTO logs SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, ${ROWS.logs}) g;
`;

/** Creates `database` on `server` and fills it with the dataset; answers its table data and total size in bytes. */
export async function buildDataset(server: PostgresServer, database: string): Promise<{ dataBytes: number; totalBytes: number }> {
    await server.query(`CREATE DATABASE ${database}`);
    const c = server.client(database);
    await c.connect();
    try {
        await c.query(DATASET_SQL);
    } finally {
        await c.end();
    }
    const [size] = await server.query<{ data: string; total: string }>(
        `SELECT sum(pg_table_size(c.oid))::bigint AS data, sum(pg_total_relation_size(c.oid))::bigint AS total
           FROM pg_class c WHERE relname IN (${TABLES.map((t) => `'${t}'`).join(", ")})`,
        [],
        database,
    );
    return { dataBytes: Number(size?.data), totalBytes: Number(size?.total) };
}

/** Per table: the row count and the sum of the first 60 bits of each row's md5 (order-independent; UTC, so timestamps print alike). */
export type TableChecksums = Record<keyof typeof ROWS, { rows: number; checksum: string }>;

export async function tableChecksums(client: pg.Client): Promise<TableChecksums> {
    await client.query("SET TimeZone = 'UTC'");
    const out: Partial<TableChecksums> = {};
    for (const t of TABLES) {
        const r = await client.query<{ n: string; sum: string }>(
            `SELECT count(*) AS n, coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint::numeric), 0)::text AS sum FROM ${t} t`);
        out[t] = { rows: Number(r.rows[0]?.n), checksum: r.rows[0]?.sum ?? "" };
    }
    return out as TableChecksums;
}
