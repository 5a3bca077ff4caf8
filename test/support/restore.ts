/**
 * Fixtures for the restore step's tests and benchmark: a loopback HTTPS
 * server with a self-signed certificate, a small dataset dumped by the
 * Debian pg_dump (15) in plain, gzip and custom format, and runners that
 * call fetch.sh, restore.sh, or both in turn, with a clean environment.
 */
import { execFile, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as https from "node:https";
import type * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { FETCH_SCRIPT_PATH, RESTORE_SCRIPT_PATH } from "../../ondemand/restore";
import type { PostgresServer } from "./postgres";
import { selfSignedCertificate } from "./tls";
import { RESTORE_MARKER } from "../../contracts/restore";

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface BackupServer {
    readonly port: number;
    /** PEM file curl trusts (RESTORE_CA_FILE). */
    readonly caFile: string;
    url(route: string, host?: string): string;
    /** Serves `body` at `route`: with Content-Length, or chunked when `chunked`. */
    serve(route: string, body: Buffer | string, opts?: { status?: number; contentType?: string; chunked?: boolean }): void;
    handle(route: string, handler: Handler): void;
    close(): Promise<void>;
}

/** An HTTPS server on 127.0.0.1 (certificate for localhost and 127.0.0.1). */
export async function startBackupServer(dir: string): Promise<BackupServer> {
    const cert = selfSignedCertificate("localhost", ["localhost"]);
    const caFile = path.join(dir, "ca.pem");
    fs.writeFileSync(caFile, cert.certPem);
    const routes = new Map<string, Handler>();
    const server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
        const handler = routes.get((req.url ?? "/").split("?")[0] ?? "/");
        if (handler) return handler(req, res);
        res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    return {
        port,
        caFile,
        url: (route, host = "127.0.0.1") => `https://${host}:${port}${route}`,
        serve(route, body, opts = {}) {
            const data = typeof body === "string" ? Buffer.from(body) : body;
            routes.set(route, (_req, res) => {
                const headers: Record<string, string | number> = { "content-type": opts.contentType ?? "application/octet-stream" };
                if (!opts.chunked) headers["content-length"] = data.length;
                res.writeHead(opts.status ?? 200, headers);
                if (!opts.chunked) return void res.end(data);
                // Several writes so the response really is chunked.
                const step = Math.max(1, Math.ceil(data.length / 8));
                for (let i = 0; i < data.length; i += step) res.write(data.subarray(i, i + step));
                res.end();
            });
        },
        handle: (route, handler) => void routes.set(route, handler),
        close: () =>
            new Promise<void>((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            }),
    };
}

/** Row counts of the test dataset, by table. */
export const DATASET = { customers: 1000, orders: 5000, notes: 250 } as const;
export type TableName = keyof typeof DATASET;

/**
 * Creates the dataset in `database` of a (15) server: three tables with a
 * primary key, a foreign key and an index, and notes whose text has tabs,
 * newlines, backslashes and non-ASCII, which COPY must escape.
 */
export async function createDataset(server: PostgresServer, database: string): Promise<void> {
    await server.query(`CREATE DATABASE ${database}`);
    const sql = `
        CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
        INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, ${DATASET.customers}) g;
        CREATE TABLE orders (
            id bigint PRIMARY KEY,
            customer_id int NOT NULL REFERENCES customers,
            amount numeric(10, 2) NOT NULL,
            created timestamptz NOT NULL
        );
        INSERT INTO orders SELECT g, 1 + g % ${DATASET.customers}, (g % 997) / 7.0, timestamptz '2024-01-01' + g * interval '1 minute'
            FROM generate_series(1, ${DATASET.orders}) g;
        CREATE INDEX orders_customer ON orders (customer_id);
        CREATE TABLE notes (id serial PRIMARY KEY, body text);
        INSERT INTO notes (body) SELECT E'line one\\tcol\\nline two \\\\ ' || g || ' größe ✓' FROM generate_series(1, ${DATASET.notes}) g;
    `;
    const c = server.client(database);
    await c.connect();
    try {
        await c.query(sql);
    } finally {
        await c.end();
    }
}

export async function rowCounts(server: PostgresServer, database: string): Promise<Record<TableName, number>> {
    const rows = await server.query<{ t: TableName; n: string }>(
        "SELECT 'customers' AS t, count(*) AS n FROM customers UNION ALL SELECT 'orders', count(*) FROM orders UNION ALL SELECT 'notes', count(*) FROM notes",
        [],
        database,
    );
    return Object.fromEntries(rows.map((r) => [r.t, Number(r.n)])) as Record<TableName, number>;
}

export interface Dumps {
    plain: Buffer;
    gzip: Buffer;
    custom: Buffer;
}

/** Dumps `database` with the Debian pg_dump in plain SQL and custom format; gzip is the plain dump compressed. */
export function dumpDatabase(server: PostgresServer, database: string, dir: string, extra: string[] = []): Dumps {
    const env = { ...process.env, PGPASSWORD: server.password };
    const base = ["-h", "127.0.0.1", "-p", String(server.port), "-U", server.user, "-d", database, ...extra];
    const plainFile = path.join(dir, `${database}.sql`);
    const customFile = path.join(dir, `${database}.dump`);
    execFileSync("pg_dump", [...base, "-f", plainFile], { env, stdio: "pipe" });
    execFileSync("pg_dump", [...base, "-Fc", "-f", customFile], { env, stdio: "pipe" });
    const plain = fs.readFileSync(plainFile);
    return { plain, gzip: zlib.gzipSync(plain), custom: fs.readFileSync(customFile) };
}

export interface RunResult {
    code: number | null;
    stdout: string;
    stderr: string;
    /** The completion marker's content, or undefined when there is none. */
    marker: string | undefined;
}

/** libpq variables for `database` on `server`. */
export function pgEnv(server: PostgresServer, database: string): Record<string, string> {
    return { PGHOST: "127.0.0.1", PGPORT: String(server.port), PGUSER: server.user, PGPASSWORD: server.password, PGDATABASE: database };
}

/**
 * Debian's /usr/bin/psql and pg_restore are a Perl wrapper that picks a
 * version; putting the newest client's own bin directory first on PATH saves
 * a Perl start on every call the script makes.
 */
function clientBinDir(): string | undefined {
    const root = "/usr/lib/postgresql";
    if (!fs.existsSync(root)) return undefined;
    const majors = fs.readdirSync(root).filter((d) => /^\d+$/.test(d) && fs.existsSync(path.join(root, d, "bin", "psql")));
    const newest = majors.sort((a, b) => Number(b) - Number(a))[0];
    return newest === undefined ? undefined : path.join(root, newest, "bin");
}
const CLIENT_BIN = clientBinDir();
const TEST_PATH = [CLIENT_BIN, process.env.PATH ?? "/usr/bin:/bin"].filter((p) => p !== undefined).join(":");

function runScript(script: string, shell: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
        execFile(shell, [script, ...args], { env, timeout: 60_000 }, (error, stdout, stderr) => {
            const code = error ? (typeof error.code === "number" ? error.code : null) : 0;
            resolve({ code, stdout, stderr });
        });
    });
}

/**
 * Runs restore.sh with `shell` (/bin/sh is dash here, which hands over to
 * bash) and only `env` (plus PATH and HOME), a fresh marker directory unless
 * one is given, and reads back the marker.
 */
export async function runRestore(env: Record<string, string>, args: string[] = [], markerDir?: string, shell = "/bin/sh"): Promise<RunResult> {
    const dir = markerDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-restore-marker-"));
    const fullEnv: Record<string, string> = { PATH: TEST_PATH, HOME: os.tmpdir(), RESTORE_MARKER_DIR: dir, ...env };
    const markerDirUsed = fullEnv.RESTORE_MARKER_DIR ?? dir;
    const result = await runScript(RESTORE_SCRIPT_PATH, shell, args, fullEnv);
    try {
        const markerFile = path.join(markerDirUsed, fullEnv.RESTORE_MARKER ?? RESTORE_MARKER);
        const marker = fs.existsSync(markerFile) ? fs.readFileSync(markerFile, "utf8") : undefined;
        const leftovers = fs.existsSync(markerDirUsed) ? fs.readdirSync(markerDirUsed).filter((f) => f.includes(".tmp.")) : [];
        if (leftovers.length > 0) throw new Error(`partial marker files left behind: ${leftovers.join(", ")}`);
        return { ...result, marker };
    } finally {
        if (markerDir === undefined) fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** Runs fetch.sh (`FILE` or `check`) with `shell` and only `env` (plus PATH and HOME); it writes no marker. */
export async function runFetch(env: Record<string, string>, args: string[], shell = "/bin/sh"): Promise<RunResult> {
    const result = await runScript(FETCH_SCRIPT_PATH, shell, args, { PATH: TEST_PATH, HOME: os.tmpdir(), ...env });
    return { ...result, marker: undefined };
}

/**
 * What the on-demand program does with a BACKUP_URL: fetch.sh into a local
 * file, then restore.sh with BACKUP_FILE (without BACKUP_URL). Returns the
 * failing step's result, or the restore's with both steps' stdout. A failed
 * fetch must leave neither the file nor its `.part` behind.
 */
export async function fetchAndRestore(env: Record<string, string>, markerDir?: string, shell = "/bin/sh"): Promise<RunResult> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-fetched-"));
    const file = path.join(dir, "backup");
    try {
        const fetched = await runFetch(env, [file], shell);
        if (fetched.code !== 0) {
            const left = fs.readdirSync(dir);
            if (left.length > 0) throw new Error(`a failed fetch left files behind: ${left.join(", ")}`);
            return fetched;
        }
        const { BACKUP_URL: _fetched, ...rest } = env;
        const restored = await runRestore({ ...rest, BACKUP_FILE: file }, [], markerDir, shell);
        return { ...restored, stdout: fetched.stdout + restored.stdout };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/**
 * The failure contract: a non-zero exit, stderr is exactly one line
 * `restore: <what failed>: <detail> — <what to check>`, and no marker.
 */
export function failureLine(r: RunResult): string {
    const lines = r.stderr.split("\n").filter((l) => l.trim() !== "");
    if (r.code === 0 || lines.length !== 1 || !/^restore: [^:]+: .+ — .+$/.test(lines[0] ?? "") || r.marker !== undefined) {
        throw new Error(`expected one failure line and no marker, got exit ${r.code}, marker ${JSON.stringify(r.marker)}, stderr:\n${r.stderr}\nstdout:\n${r.stdout}`);
    }
    return lines[0] ?? "";
}

/** Every external command the two scripts run besides curl, getent, psql, pg_restore and vacuumdb. */
export const SCRIPT_TOOLS = ["cat", "cut", "date", "grep", "gzip", "head", "mktemp", "mv", "od", "rm", "sed", "sha256sum", "sleep", "sync", "tr", "wc"] as const;

/**
 * A bin directory like the Alpine-based fetch image's: sh and every tool
 * from busybox, real curl/psql/pg_restore/vacuumdb, and a getent that, like musl's,
 * knows `hosts` but not `ahosts`.
 */
export function busyboxBin(dir: string, busybox: string): string {
    const bin = path.join(dir, "busybox-bin");
    fs.mkdirSync(bin, { recursive: true });
    for (const tool of ["sh", ...SCRIPT_TOOLS]) fs.symlinkSync(busybox, path.join(bin, tool));
    for (const tool of ["curl", "psql", "pg_restore", "vacuumdb"]) {
        const found = execFileSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim();
        fs.symlinkSync(found, path.join(bin, tool));
    }
    const getent = execFileSync("sh", ["-c", "command -v getent"], { encoding: "utf8" }).trim();
    fs.writeFileSync(path.join(bin, "getent"), `#!/bin/sh\n[ "$1" = hosts ] || { echo "Unknown database: $1" >&2; exit 1; }\nexec ${getent} hosts "$2"\n`, { mode: 0o755 });
    return bin;
}
