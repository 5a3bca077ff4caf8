/**
 * The real programs' graphs through the whole pack: the platform program for
 * the dev and prod stack files and the on-demand program for both targets run
 * under mocks; every custom resource they register goes through every
 * resource policy, and the whole graph through every stack policy, with the
 * policy config generated from the stack file (as `policies/config.ts` does)
 * or from the environment the Pulumi CLI gives a policy pack. No mandatory
 * policy may report anything.
 */
import { createHash } from "node:crypto";
import * as path from "node:path";
import type * as pulumi from "@pulumi/pulumi";
import type { PolicyPackConfig } from "@pulumi/policy";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { resetConfigCache } from "../../infra/config";
import { ONDEMAND_PASSWORD_KEY, ONDEMAND_PROJECT, ONDEMAND_SPEC_KEY } from "../../contracts/database";
import type { DatabaseSpecInput } from "../../contracts/database";
import { policyPackConfigFromStackFile } from "../../policies/packConfig";
import { policies } from "../../policies/rules";
import { catalogOfStackConfig, readStackFileConfig } from "../../policies/lib/stackSource";
import { defaultOutputs, installMocks, PROD_ON_DOCKER, ROOT, settle, stackConfig, type MockState, type Recorder } from "../support/harness";
import { requireBinaries } from "../support/requirements";
import { selfSignedCertificate, type TestCertificate } from "../support/tls";
import { fromRecorded, runPack, type Diagnostic, type Outcome, type TestResource } from "./policyHarness";

const missing = requireBinaries(["openssl"], "apt-get install openssl");
let cert: TestCertificate;
beforeAll(() => {
    if (!missing) cert = selfSignedCertificate();
});
afterEach(() => {
    vi.unstubAllEnvs();
});

const hex = (text: string) => createHash("sha256").update(text).digest("hex");

/** Provider outputs with real shapes: image IDs are sha256 hex, Docker picks a host port, the LB gets a hostname. */
function outputs(args: pulumi.runtime.MockResourceArgs): MockState | undefined {
    const inputs = args.inputs as Record<string, unknown>;
    switch (args.type) {
        case "docker:index/remoteImage:RemoteImage":
            return { imageId: `sha256:${hex(String(inputs.name))}`, repoDigest: `${String(inputs.name)}@sha256:${hex(`digest-${String(inputs.name)}`)}` };
        case "docker:index/container:Container": {
            const ports = (inputs.ports as { internal: number }[] | undefined) ?? [];
            return { ports: ports.map((p, i) => ({ ...p, external: 49153 + i, protocol: "tcp" })), exitCode: 0, containerLogs: "" };
        }
        case "kubernetes:core/v1:Service":
            return { status: { loadBalancer: { ingress: [{ hostname: "k8s-devdb-postgres.elb.eu-west-1.amazonaws.com" }] } } };
        default:
            return undefined;
    }
}

/** Every custom resource, props = inputs plus the outputs the mocks returned (stack policies read outputs). */
function graphOf(rec: Recorder): TestResource[] {
    return rec.resources.filter((r) => r.custom).map((r) => {
        const args = { type: r.type, name: r.name, inputs: r.inputs, custom: true } as pulumi.runtime.MockResourceArgs;
        return fromRecorded(r, { ...defaultOutputs(args), ...(outputs(args) ?? {}) });
    });
}

function describeViolations(vs: readonly Diagnostic[]): string {
    return vs.map((v) => `  [${v.policy}] ${v.resource ?? "(stack)"}: ${v.message}`).join("\n");
}

const mandatory = (o: Outcome) => o.violations.filter((v) => v.enforcementLevel === "mandatory");

/** Policies that did not apply to any resource of the graph (a pass that checked nothing). */
function unchecked(o: Outcome, graph: readonly TestResource[], names: readonly string[]): string[] {
    return names.filter((name) => {
        const skipped = o.notApplicable.filter((n) => n.policy === name);
        return skipped.some((n) => n.resource === undefined) || skipped.length >= graph.length;
    });
}

/** What each graph must actually exercise, so "no violation" is not "nothing checked". */
const PLATFORM_CHECKS = ["images-pinned", "postgres-image-from-catalog", "memory-limits", "docker-published-ports", "no-host-access", "no-plaintext-secrets", "no-privileged-containers"];
const AWS_CHECKS = ["rbac-no-wildcards-or-escalation", "ecr-immutable-tags", "ecr-scan-on-push", "ecr-lifecycle-policy"];
const K8S_CHECKS = ["postgres-image-from-catalog", "postgres-requests-equal-limits", "run-as-non-root", "no-privilege-escalation", "drop-all-capabilities", "no-host-access", "no-plaintext-secrets", "ondemand-namespace-labels"];
/** The kubernetes platform target (staging, prod): the API and nginx as Deployments, the admin database on RDS. */
const KUBE_PLATFORM_CHECKS = ["images-pinned", "memory-limits", "no-privileged-containers", "run-as-non-root", "no-privilege-escalation", "drop-all-capabilities", "no-host-access", "no-plaintext-secrets", "loadbalancer-source-ranges", "rds-encrypted-and-private", "deployment-restricted-pods"];
const DOCKER_CHECKS = ["images-pinned", "memory-limits", "docker-published-ports", "postgres-image-id-from-catalog", "no-plaintext-secrets"];

type PlatformStack = "dev" | "staging" | "prod";
/** The prod stack file on the docker platform target (the API outside the cluster, with the ServiceAccount's kubeconfig). */
const ON_DOCKER = PROD_ON_DOCKER;
/** The staging stack with the admin database in the cluster instead of on RDS. */
const STAGING_PLATFORM = JSON.parse(stackConfig("Pulumi.staging.yaml")["dbaas:platform"] ?? "{}") as Record<string, unknown>;
const IN_CLUSTER = { "dbaas:platform": { ...STAGING_PLATFORM, adminDatabase: "inCluster", rds: undefined } };
/** What the in-cluster admin database is checked by besides the Deployments' policies (its StatefulSet's image and resources). */
const IN_CLUSTER_CHECKS = [...KUBE_PLATFORM_CHECKS.filter((c) => c !== "rds-encrypted-and-private"), "postgres-image-from-catalog", "postgres-requests-equal-limits"];

async function platformGraph(stack: PlatformStack, overrides: Record<string, unknown> = {}): Promise<TestResource[]> {
    vi.resetModules();
    resetConfigCache();
    const secrets = stack === "dev" ? {} : { "dbaas:tlsCertificateChain": cert.certPem, "dbaas:tlsPrivateKey": cert.keyPem };
    const rec = await installMocks({
        project: "dbaas", stack, preview: false, outputs,
        config: stackConfig(`Pulumi.${stack}.yaml`, { ...secrets, ...overrides }), secretKeys: Object.keys(secrets),
    });
    await import("../../infra/index");
    await settle();
    return graphOf(rec);
}

/** A spec as the API builds it from a platform stack's config: its default catalog image and target settings. */
function specFor(kind: "docker" | "kubernetes", sourceRanges: string[]): DatabaseSpecInput {
    const stackFile = path.join(ROOT, kind === "docker" ? "Pulumi.dev.yaml" : "Pulumi.prod.yaml");
    const config = readStackFileConfig(stackFile);
    const image = catalogOfStackConfig(config)?.[0];
    if (!image) throw new Error(`${stackFile} has no catalog`);
    const ondemand = config["dbaas:ondemand"] as { memoryMb?: number; cpuMillicores?: number; storageGb?: number; namespacePrefix?: string };
    return {
        name: "orders",
        owner: "alice@example.com",
        project_id: "proj-42",
        db_type: "postgres",
        version: "PostgreSQL 17",
        image,
        backup_location: "https://backups.example.com/orders/2026-11-01.dump",
        expires_at: "2026-11-24T16:00:00Z",
        source_ranges: sourceRanges,
        target: kind === "docker"
            ? { kind, docker_host: String(config["dbaas:dockerHost"]), memory_mb: ondemand.memoryMb ?? 1024, publish_ip: "127.0.0.1" }
            : { kind, namespace_prefix: ondemand.namespacePrefix ?? "devdb-", memory_mb: ondemand.memoryMb ?? 1024, cpu_millicores: ondemand.cpuMillicores ?? 1000, storage_gb: ondemand.storageGb ?? 10 },
    };
}

async function ondemandGraph(spec: DatabaseSpecInput): Promise<TestResource[]> {
    vi.resetModules();
    const config = { [ONDEMAND_SPEC_KEY]: JSON.stringify(spec), [ONDEMAND_PASSWORD_KEY]: "graph-test-password" };
    const rec = await installMocks({ project: ONDEMAND_PROJECT, stack: spec.name, preview: false, outputs, config, secretKeys: [ONDEMAND_PASSWORD_KEY] });
    await import("../../ondemand");
    await settle();
    // What the CLI hands a policy pack about this stack (lib/stackSource.ts reads it).
    vi.stubEnv("PULUMI_PROJECT", ONDEMAND_PROJECT);
    vi.stubEnv("PULUMI_STACK", spec.name);
    vi.stubEnv("PULUMI_CONFIG", JSON.stringify(config));
    return graphOf(rec);
}

describe.skipIf(missing)("the real graphs pass every mandatory policy", () => {
    describe.each([
        ["dev", "docker", {}, PLATFORM_CHECKS],
        ["prod", "kubernetes", {}, [...KUBE_PLATFORM_CHECKS, ...AWS_CHECKS]],
        ["staging", "kubernetes", {}, [...KUBE_PLATFORM_CHECKS, ...AWS_CHECKS]],
        ["prod", "docker", ON_DOCKER, [...PLATFORM_CHECKS, ...AWS_CHECKS]],
        ["staging", "kubernetes (admin database in the cluster)", IN_CLUSTER, [...IN_CLUSTER_CHECKS, ...AWS_CHECKS]],
    ] as const)("platform program, stack %s on the %s target", (stack, _target, overrides, checks) => {
        let graph: TestResource[];
        beforeAll(async () => {
            graph = await platformGraph(stack, overrides);
        });

        it("with the policy config generated from the stack file", async () => {
            expect(graph.length).toBeGreaterThan(5);
            const config: PolicyPackConfig = policyPackConfigFromStackFile(path.join(ROOT, `Pulumi.${stack}.yaml`));
            const outcome = await runPack(policies, graph, { config });
            expect(mandatory(outcome), `mandatory violations in the ${stack} graph:\n${describeViolations(mandatory(outcome))}`).toEqual([]);
            expect(unchecked(outcome, graph, checks)).toEqual([]);
        });

        it("with the stack's config in PULUMI_CONFIG, as the CLI passes it (no policy config)", async () => {
            vi.stubEnv("PULUMI_PROJECT", "dbaas");
            vi.stubEnv("PULUMI_STACK", stack);
            vi.stubEnv("PULUMI_CONFIG", JSON.stringify(stackConfig(`Pulumi.${stack}.yaml`, overrides)));
            const outcome = await runPack(policies, graph);
            expect(mandatory(outcome), describeViolations(mandatory(outcome))).toEqual([]);
        });
    });

    describe.each([
        ["docker", []],
        ["kubernetes", ["203.0.113.0/24", "2001:db8::/48"]],
        ["kubernetes", []],
    ] as const)("on-demand program, target %s, source ranges %j", (kind, ranges) => {
        it("with the catalogs of the repository's stack files (no policy config)", async () => {
            const graph = await ondemandGraph(specFor(kind, [...ranges]));
            expect(graph.length).toBeGreaterThan(2);
            const outcome = await runPack(policies, graph);
            expect(mandatory(outcome), `mandatory violations in the on-demand ${kind} graph:\n${describeViolations(mandatory(outcome))}`).toEqual([]);
            const checks = kind === "docker" ? DOCKER_CHECKS : ranges.length > 0 ? [...K8S_CHECKS, "loadbalancer-source-ranges"] : K8S_CHECKS;
            expect(unchecked(outcome, graph, checks)).toEqual([]);
        });
    });

    it("would catch an off-catalog version in the on-demand graph (the check is live)", async () => {
        const graph = await ondemandGraph({ ...specFor("kubernetes", ["203.0.113.0/24"]), image: "postgres:14.1" });
        const outcome = await runPack(policies, graph);
        expect(mandatory(outcome).map((v) => v.policy)).toContain("postgres-image-from-catalog");
    });
});
