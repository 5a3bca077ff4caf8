/**
 * Specs and a runner for the on-demand program under mocks: installs the
 * harness for project dbaas-db with the spec and the (secret) password as
 * stack config, imports the program afresh and waits for its registrations.
 */
import { vi } from "vitest";
import { installMocks, settle, type Recorder, type ResourceOutputs } from "../support/harness";
import { ONDEMAND_PASSWORD_KEY, ONDEMAND_PROJECT, ONDEMAND_SPEC_KEY } from "../../contracts/database";
import type { DatabaseSpecInput } from "../../contracts/database";

export const BACKUP_URL = "https://backups.example.com/orders/2026-11-01.dump";
export const LB_HOSTNAME = "k8s-devdbord-postgres-0123456789.elb.eu-west-1.amazonaws.com";
export const DOCKER_HOST_PORT = 49153;
/** The superuser password the API would have set as secret config `dbaas-db:password`. */
export const CONFIGURED_PASSWORD = "Cfg-pw_0123456789abcdefghijklmnop";

export function kubernetesSpec(overrides: Partial<DatabaseSpecInput> = {}): DatabaseSpecInput {
    return {
        name: "orders",
        owner: "alice@example.com",
        project_id: "proj-42",
        db_type: "postgres",
        version: "PostgreSQL 17",
        image: "postgres:17.2",
        backup_location: BACKUP_URL,
        expires_at: "2026-11-24T16:00:00Z",
        source_ranges: ["203.0.113.0/24", "2001:db8::/48"],
        target: { kind: "kubernetes", namespace_prefix: "devdb-", memory_mb: 2048, cpu_millicores: 1500, storage_gb: 20, storage_class: "gp3" },
        ...overrides,
    };
}

export function dockerSpec(overrides: Partial<DatabaseSpecInput> = {}): DatabaseSpecInput {
    return kubernetesSpec({
        source_ranges: [],
        target: { kind: "docker", docker_host: "unix:///var/run/docker.sock", memory_mb: 1024, publish_ip: "127.0.0.1" },
        ...overrides,
    });
}

/** Provider outputs the program reads: the load balancer's address, Docker's chosen port, the fetch exit code. */
const outputs: ResourceOutputs = (args) => {
    const inputs = args.inputs as Record<string, unknown>;
    if (args.type === "kubernetes:core/v1:Service" && (inputs.spec as { type?: string } | undefined)?.type === "LoadBalancer") {
        return { status: { loadBalancer: { ingress: [{ hostname: LB_HOSTNAME }] } } };
    }
    if (args.type === "docker:index/container:Container") {
        const ports = (inputs.ports as { internal: number; ip?: string }[] | undefined) ?? [];
        return { ports: ports.map((p) => ({ ...p, external: DOCKER_HOST_PORT, protocol: "tcp" })), exitCode: 0, containerLogs: "" };
    }
    return undefined;
};

export interface ProgramRun {
    rec: Recorder;
    mod: Record<string, unknown>;
}

/** Runs the program for `spec` (raw, as the API would put it into config) with CONFIGURED_PASSWORD as secret config. */
export async function runProgram(spec: unknown, preview = false, extraOutputs?: ResourceOutputs): Promise<ProgramRun> {
    vi.resetModules();
    const rec = await installMocks({
        project: ONDEMAND_PROJECT,
        stack: "db",
        config: { [ONDEMAND_SPEC_KEY]: JSON.stringify(spec), [ONDEMAND_PASSWORD_KEY]: CONFIGURED_PASSWORD },
        secretKeys: [ONDEMAND_PASSWORD_KEY],
        preview,
        outputs: (args) => ({ ...(outputs(args) ?? {}), ...(extraOutputs?.(args) ?? {}) }),
    });
    const mod = (await import("../../ondemand")) as Record<string, unknown>;
    await settle();
    return { rec, mod };
}

/** A recorded input as the program meant it: secret values arrive wrapped as `{<sig>: ..., value}`. */
export function unwrapSecret<T>(input: unknown): T {
    const SIG_KEY = "4dabf18193072939515e22adb298388d";
    if (input !== null && typeof input === "object" && SIG_KEY in input) return (input as unknown as { value: T }).value;
    return input as T;
}
