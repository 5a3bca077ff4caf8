import { defineConfig } from "vitest/config";

/**
 * Test files that start something: a real PostgreSQL, nginx, Chromium, a
 * shell script, or a child process (the API, the fake Pulumi CLI, tsx, the
 * policy pack). Every other test file is a unit test: pure functions and
 * Pulumi mock graphs, no servers and no binaries but `openssl` for fixture
 * certificates. A new file that starts PostgreSQL in the unit project fails
 * with a message naming this list (see test/support/postgres.ts).
 */
const INTEGRATION = [
    "test/api/http/auth.test.ts", // runs scripts/token.ts in a child process
    "test/api/createBatch.test.ts", // PostgreSQL
    "test/api/freshStart.test.ts", // PostgreSQL, the API as a child process
    "test/api/http/http.test.ts", // PostgreSQL
    "test/api/http/metricsReports.test.ts", // PostgreSQL
    "test/api/lifecycle.test.ts", // PostgreSQL
    "test/api/rollouts.test.ts", // PostgreSQL
    "test/api/activities.test.ts", // PostgreSQL, a webhook receiver and an SMTP sink on 127.0.0.1
    "test/api/backups.test.ts", // PostgreSQL 15 and 17, pg_dump, pg_restore
    "test/api/backups/s3Store.test.ts", // moto_server (a local S3 simulation), PostgreSQL 15 and 17, pg_dump, pg_restore
    "test/api/cache.test.ts", // PostgreSQL
    "test/api/cache/dockerVolumes.test.ts", // a stand-in Docker Engine API socket
    "test/api/backups/dockerDumpRunner.test.ts", // a stand-in Docker Engine API socket (attach upgraded to tcp)
    "test/api/property.test.ts", // PostgreSQL
    "test/api/restart.test.ts", // PostgreSQL, the API as a child process it kills
    "test/api/adminRestart.test.ts", // a PostgreSQL of its own, restarted
    "test/api/jobs/watcher.test.ts", // PostgreSQL, a stand-in Docker Engine API socket
    "test/dashboard/dashboard.test.ts", // Chromium, PostgreSQL, a vite build
    "test/dashboard/reports.test.ts", // Chromium, PostgreSQL, a vite build
    "test/dashboard/views.test.ts", // Chromium, PostgreSQL 15 and 17, pg_dump, a vite build
    "test/dashboard/rollouts.test.ts", // Chromium, PostgreSQL, a vite build
    "test/api/engine/api.test.ts", // PostgreSQL, the fake Pulumi CLI
    "test/api/engine/automation.test.ts", // the fake Pulumi CLI
    "test/api/engine/automationFailures.test.ts", // the fake Pulumi CLI
    "test/components/ondemand/decisions.test.ts", // sh, shellcheck
    "test/contracts/egress.test.ts", // the fetch script under bash and busybox sh
    "test/components/postgres/server.test.ts", // PostgreSQL 15-18
    "test/components/postgres/initScript.test.ts", // PostgreSQL 17, psql
    "test/policies/docs.test.ts", // tsx child processes
    "test/policies/pack.test.ts", // the policy pack's gRPC server as a child process
    "test/ondemand/restore/restore.test.ts", // PostgreSQL 15-18, the restore script, an HTTPS server
    "test/ondemand/restore/script.test.ts", // the restore script, shellcheck
    "test/ondemand/restore/cacheScripts.test.ts", // the cache fill and clone scripts, PostgreSQL 17 in single-user mode and served, fetch.sh over HTTPS, shellcheck
    "test/components/proxy/nginx.test.ts", // nginx
];

/** Owned by the e2e config (real engines), never run by `npm test`. */
const E2E = "test/e2e/**";

export default defineConfig({
    test: {
        environment: "node",
        // Real servers (PostgreSQL, nginx, Chromium) start inside the integration suites.
        testTimeout: 60_000,
        hookTimeout: 120_000,
        // Vitest's default is one fewer worker than cores: one on the two-core
        // machines this runs on. The integration files mostly wait (servers,
        // child processes, timeouts), so two keep both cores busy.
        maxWorkers: 2,
        projects: [
            {
                extends: true,
                test: {
                    name: "unit",
                    include: ["test/**/*.test.ts"],
                    exclude: [...INTEGRATION, E2E],
                    env: { DBAAS_TEST_PROJECT: "unit" },
                    pool: "forks",
                    isolate: false,
                },
            },
            {
                extends: true,
                test: {
                    name: "integration",
                    include: INTEGRATION,
                    exclude: [E2E],
                    // One PostgreSQL 17 for the files that only need an admin store.
                    globalSetup: ["test/support/sharedPostgres.ts"],
                    pool: "forks",
                    // These files mostly wait on servers and child processes: a third worker keeps
                    // two cores busy (165 s with two, after issue 20's suites).
                    maxWorkers: 3,
                },
            },
        ],
    },
});
