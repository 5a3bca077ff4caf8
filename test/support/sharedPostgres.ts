/**
 * Global setup of the integration project: one PostgreSQL 17 for every API
 * test file instead of one per file (initdb and the first start cost seconds
 * each). Each file still gets its own database on it (see
 * `freshDatabaseUrl`), so advisory locks and LISTEN channels, which are
 * per database, stay per file as they were with a server per file. Files that
 * configure or restart the server (pginstance, restore) start their own.
 */
import type { TestProject } from "vitest/node";
import { startPostgres, type SharedPostgres } from "./postgres";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
    const server = await startPostgres(17, {
        // Throw-away data: skipping fsync makes initdb and every commit cheaper.
        initdbFlags: ["--no-sync"],
        // Several files (each with API instances and their pools) share it at once.
        postgresFlags: ["-c", "fsync=off", "-c", "max_connections=400"],
    });
    const shared: SharedPostgres = { major: 17, port: server.port, dataDir: server.dataDir, password: server.password };
    project.provide("sharedPostgres", shared);
    return () => server.stop();
}
