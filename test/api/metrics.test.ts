/**
 * The metric names, types and labels of api/metrics.ts, without a database:
 * the hooks' counters and histograms, and the fleet gauges set from a
 * snapshot (label sets that disappear from the fleet disappear from the scrape).
 */
import { describe, expect, it } from "vitest";
import { ApiMetrics, METRIC, type FleetSnapshot } from "../../api/metrics";

const EMPTY: FleetSnapshot = { databases: [], sizes: [], queue: [], restores: [] };

async function text(m: ApiMetrics): Promise<string> {
    return m.registry.metrics();
}

describe("ApiMetrics", () => {
    it("declares every metric with its type", async () => {
        const m = new ApiMetrics({ processMetrics: false });
        const types: Record<string, string> = Object.fromEntries([...(await text(m)).matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((x) => [x[1] ?? "", x[2] ?? ""]));
        expect(types).toEqual({
            [METRIC.operations]: "counter", [METRIC.operationDuration]: "histogram", [METRIC.httpDuration]: "histogram",
            [METRIC.databases]: "gauge", [METRIC.sizeBytes]: "gauge", [METRIC.queued]: "gauge", [METRIC.running]: "gauge",
            [METRIC.oldestQueuedAge]: "gauge", [METRIC.restores]: "gauge",
            [METRIC.rolloutSteps]: "counter", [METRIC.rolloutsEnded]: "counter",
        });
    });

    it("counts rollout steps by outcome and ended rollouts by state", async () => {
        const m = new ApiMetrics({ processMetrics: false });
        m.observeRolloutStep("succeeded");
        m.observeRolloutStep("succeeded");
        m.observeRolloutStep("failed");
        m.observeRolloutEnd("stopped_on_failure");
        const t = await text(m);
        expect(t).toContain('dbaas_rollout_steps_total{outcome="succeeded"} 2');
        expect(t).toContain('dbaas_rollout_steps_total{outcome="failed"} 1');
        expect(t).toContain('dbaas_rollouts_ended_total{state="stopped_on_failure"} 1');
        expect(t).not.toContain('dbaas_rollouts_ended_total{state="succeeded"}');
    });

    it("adds prom-client's process metrics when asked (main.ts does)", async () => {
        const t = await text(new ApiMetrics({ processMetrics: true }));
        expect(t).toMatch(/^process_cpu_user_seconds_total /m);
        expect(t).toMatch(/^nodejs_eventloop_lag_seconds /m);
        expect(await text(new ApiMetrics({ processMetrics: false }))).not.toContain("process_cpu");
    });

    it("counts operations by kind and outcome and observes their durations", async () => {
        const m = new ApiMetrics({ processMetrics: false });
        m.observeOperation("create", "succeeded", 12);
        m.observeOperation("create", "succeeded", 0.2);
        m.observeOperation("restart", "retrying", 3);
        const t = await text(m);
        expect(t).toContain('dbaas_operations_total{kind="create",outcome="succeeded"} 2');
        expect(t).toContain('dbaas_operations_total{kind="restart",outcome="retrying"} 1');
        expect(t).toContain('dbaas_operation_duration_seconds_count{kind="create",outcome="succeeded"} 2');
        expect(t).toContain('dbaas_operation_duration_seconds_sum{kind="create",outcome="succeeded"} 12.2');
        expect(t).toContain('dbaas_operation_duration_seconds_bucket{le="0.5",kind="create",outcome="succeeded"} 1');
    });

    it("labels request durations by method, route template and status", async () => {
        const m = new ApiMetrics({ processMetrics: false });
        m.observeRequest("GET", "/databases/:name", 404, 0.003);
        expect(await text(m)).toContain('dbaas_http_request_duration_seconds_count{method="GET",route="/databases/:name",status="404"} 1');
    });

    it("sets the fleet gauges from a snapshot and drops label sets that are gone", async () => {
        const m = new ApiMetrics({ processMetrics: false });
        m.applyFleet({
            databases: [{ state: "ready", version: "PostgreSQL 17", target: "docker", count: 3 }],
            sizes: [{ database: "app-db", database_bytes: 8_000_000, volume_bytes: null }],
            queue: [{ status: "queued", kind: "create", count: 2, oldest_age_seconds: 42.5 }, { status: "running", kind: "delete", count: 1, oldest_age_seconds: null }],
            restores: [{ status: "failed", count: 1 }],
        });
        let t = await text(m);
        expect(t).toContain('dbaas_databases{state="ready",version="PostgreSQL 17",target="docker"} 3');
        expect(t).toContain('dbaas_database_size_bytes{database="app-db",kind="database"} 8000000');
        expect(t).not.toContain('kind="volume"');
        expect(t).toContain('dbaas_operations_queued{kind="create"} 2');
        expect(t).toContain('dbaas_operations_running{kind="delete"} 1');
        expect(t).toContain("dbaas_oldest_queued_operation_age_seconds 42.5");
        expect(t).toContain('dbaas_restore_operations{status="failed"} 1');
        m.applyFleet(EMPTY);
        t = await text(m);
        expect(t).not.toContain("app-db");
        expect(t).not.toMatch(/^dbaas_databases\{/m);
        expect(t).toContain("dbaas_oldest_queued_operation_age_seconds 0");
    });
});
