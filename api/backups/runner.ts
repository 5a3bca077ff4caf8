/**
 * How a dump is taken. `BackupRunner` is the seam: `LocalPgDumpRunner` runs a
 * pg_dump on the API host against the database's endpoint with the
 * credentials the engine reports; `DockerDumpRunner` (dockerDumpRunner.ts)
 * runs it in-target, in a one-shot container of the database's own image,
 * whose pg_dump always matches the server; `chooseRunner.ts` picks one per
 * dump (docs/backups.md).
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import pg from "pg";
import { truncate } from "../engine/errors";
import { choosePgDump, findPgDumps, missingPgDumpReason, type PgDumpBinary } from "./pgDump";

/** Where and as whom to connect; the password is a secret (never logged, never on a command line). */
export interface DumpSource {
    /** The on-demand database (its stack and containers are named for it); default `database`, which is the same on both targets. */
    readonly name?: string;
    readonly host: string;
    readonly port: number;
    readonly database: string;
    readonly user: string;
    readonly password: string;
}

export interface DumpInfo {
    /** pg_database_size when the dump started. */
    readonly dbSizeBytes: number;
    readonly serverMajor: number;
}

export interface DumpOptions {
    readonly signal: AbortSignal;
    /** Called once the server was reached, before the dump runs (the sizes are shown while it runs). */
    readonly onInfo?: (info: DumpInfo) => void | Promise<void>;
}

export interface BackupRunner {
    /**
     * Writes `pg_dump -Fc` of `source` into the file `out` (it exists, empty,
     * mode 0600). Rejects with `BackupFailure` whose reason is short and
     * secret-free; the caller removes `out` on any failure.
     */
    dump(source: DumpSource, out: string, options: DumpOptions): Promise<DumpInfo>;
}

/** A dump that failed, with the reason users see (short; no credentials, no full tool output). */
export class BackupFailure extends Error {
    constructor(readonly reason: string) {
        super(reason);
        this.name = "BackupFailure";
    }
}

/** A line of a libpq password file: `:` and `\` are escaped with `\`. */
export function passfileLine(s: DumpSource): string {
    const esc = (v: string) => v.replace(/[\\:]/g, (c) => `\\${c}`);
    return `${[s.host, String(s.port), s.database, s.user, s.password].map(esc).join(":")}\n`;
}

/**
 * The environment of the pg_dump child: the connection as libpq variables and
 * the password in a file (PGPASSFILE), nothing inherited from the API (whose
 * own PG* or DATABASE_URL must not leak into the dump).
 */
export function pgDumpEnv(s: DumpSource, passfile: string): Record<string, string> {
    return {
        PGHOST: s.host, PGPORT: String(s.port), PGDATABASE: s.database, PGUSER: s.user,
        PGPASSFILE: passfile, PGCONNECT_TIMEOUT: "10", PGAPPNAME: "dbaas-backup", LC_ALL: "C",
    };
}

/** The last meaningful line of pg_dump's stderr, without the password should it appear. */
export function pgDumpFailureLine(stderr: string, secret: string): string {
    const lines = stderr.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !/^pg_dump: detail:/.test(l));
    const last = lines.find((l) => /error:/.test(l)) ?? lines[lines.length - 1] ?? "no output";
    return truncate(secret === "" ? last : last.split(secret).join("[redacted]"), 200);
}

export interface LocalPgDumpRunnerOptions {
    /** Searched for pg_dump binaries, in order (see pgDump.ts searchDirs). */
    readonly searchDirs: readonly string[];
}

export class LocalPgDumpRunner implements BackupRunner {
    #found: Promise<PgDumpBinary[]> | undefined;

    constructor(private readonly o: LocalPgDumpRunnerOptions) {}

    /** The pg_dump binaries on this host (looked up once per process). */
    binaries(): Promise<PgDumpBinary[]> {
        this.#found ??= findPgDumps(this.o.searchDirs);
        return this.#found;
    }

    async dump(source: DumpSource, out: string, options: DumpOptions): Promise<DumpInfo> {
        const info = await probe(source);
        await options.onInfo?.(info);
        const binary = choosePgDump(await this.binaries(), info.serverMajor);
        if (binary === undefined) throw new BackupFailure(missingPgDumpReason(info.serverMajor, await this.binaries()));
        const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), "dbaas-pgpass-"));
        try {
            const passfile = path.join(dir, "pgpass");
            await fs.promises.writeFile(passfile, passfileLine(source), { mode: 0o600 });
            await runPgDump(binary, pgDumpEnv(source, passfile), out, source.password, options.signal);
        } finally {
            await fs.promises.rm(dir, { recursive: true, force: true });
        }
        return info;
    }
}

/** Connects as the dump will, and reads the server's major and the database's size. */
async function probe(s: DumpSource): Promise<DumpInfo> {
    const c = new pg.Client({ host: s.host, port: s.port, database: s.database, user: s.user, password: s.password, connectionTimeoutMillis: 10_000, application_name: "dbaas-backup" });
    c.on("error", () => undefined);
    try {
        await c.connect();
        const r = await c.query<{ num: string; size: string }>("SELECT current_setting('server_version_num') AS num, pg_database_size(current_database())::text AS size");
        const row = r.rows[0];
        if (row === undefined) throw new BackupFailure("the database answered no server version");
        return { serverMajor: Math.floor(Number(row.num) / 10_000), dbSizeBytes: Number(row.size) };
    } catch (e) {
        if (e instanceof BackupFailure) throw e;
        const err = e as Error & { code?: string };
        // node-postgres messages name the user or the address, never the password; cut it anyway should one echo it.
        const text = truncate(s.password === "" ? err.message : err.message.split(s.password).join("[redacted]"), 160);
        throw new BackupFailure(`could not connect to the database at ${s.host}:${s.port} as ${s.user}: ${text}${err.code === undefined ? "" : ` (${err.code})`}`);
    } finally {
        await c.end().catch(() => undefined);
    }
}

function runPgDump(binary: PgDumpBinary, env: Record<string, string>, out: string, secret: string, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
        if (signal.aborted) return reject(new BackupFailure(abortText(signal)));
        const file = fs.createWriteStream(out, { flags: "w", mode: 0o600 });
        const child = spawn(binary.path, ["--format=custom", "--no-password"], { env, stdio: ["ignore", "pipe", "pipe"] });
        let stderr = "";
        child.stderr.setEncoding("utf8");
        child.stderr.on("data", (d: string) => {
            if (stderr.length < 16_384) stderr += d;
        });
        child.stdout.pipe(file);
        const onAbort = () => child.kill("SIGTERM");
        signal.addEventListener("abort", onAbort, { once: true });
        let spawnError: Error | undefined;
        child.on("error", (e) => {
            spawnError = e;
        });
        const fileDone = new Promise<void>((res, rej) => {
            file.on("finish", res);
            file.on("error", (e) => {
                // A full disk: pg_dump would block on its full pipe; stop it, the close handler reports the write error.
                child.kill("SIGTERM");
                rej(e);
            });
        });
        // Handled in the close handler below; this keeps an early write error from counting as unhandled meanwhile.
        fileDone.catch(() => undefined);
        child.on("close", (code, sig) => {
            signal.removeEventListener("abort", onAbort);
            fileDone.then(() => {
                if (signal.aborted) return reject(new BackupFailure(abortText(signal)));
                if (spawnError !== undefined) return reject(new BackupFailure(`pg_dump ${binary.major} could not be started (${(spawnError as NodeJS.ErrnoException).code ?? spawnError.message})`));
                if (code === 0) return resolve();
                reject(new BackupFailure(`pg_dump ${binary.major} failed (${code === null ? `signal ${sig ?? "?"}` : `exit ${code}`}): ${pgDumpFailureLine(stderr, secret)}`));
            }, (e: Error) => reject(new BackupFailure(`writing the dump failed: ${truncate(e.message, 160)}`)));
        });
    });
}

/** The reason a stopped dump fails with (the abort reason the backups gave, e.g. the timeout). */
export function abortText(signal: AbortSignal): string {
    const r: unknown = signal.reason;
    return typeof r === "string" ? r : r instanceof Error && r.name !== "AbortError" ? r.message : "the backup was stopped";
}
