import { defineConfig } from "vitest/config";

/**
 * The e2e tier: real engines (a private Docker engine with locally built
 * images, a Pulumi CLI built from Go modules, a Kubernetes control plane).
 * Never part of `npm test` (vitest.config.ts excludes test/e2e/**). Each file
 * skips with a printed reason when its engine is not there, and fails
 * instead with CI=true. Files run one at a time: every engine is heavy on
 * two cores.
 */
export default defineConfig({
    test: {
        name: "e2e",
        include: ["test/e2e/**/*.e2e.test.ts"],
        environment: "node",
        testTimeout: 120_000,
        hookTimeout: 120_000,
        pool: "forks",
        fileParallelism: false,
    },
});
