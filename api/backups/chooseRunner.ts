/**
 * Which runner takes a dump (DBAAS_BACKUP_RUNNER): `in-target` (a container of
 * the database's own image on the docker target's engine, dockerDumpRunner.ts),
 * `host` (a pg_dump on the API host, LocalPgDumpRunner), or `auto` (the
 * default): in-target when the target is docker and its engine answers a
 * ping at the time of the dump, else the host's pg_dump. When neither can
 * dump, the reason names both.
 */
import type { Target } from "../config";
import { dockerEndpoint, pingDocker } from "../engine/targetReadiness";
import { BackupFailure, type BackupRunner, type DumpInfo, type DumpOptions, type DumpSource } from "./runner";

export type BackupRunnerMode = "auto" | "in-target" | "host";

/** The runner of one dump: `in-target`, `host`, or why in-target was not taken (auto) / cannot be (forced). */
export type RunnerChoice =
    | { readonly runner: "in-target" }
    | { readonly runner: "host"; readonly inTargetSkipped?: string }
    | { readonly runner: "none"; readonly reason: string };

/**
 * The choice for one dump. `engineProblem`: undefined when the docker
 * target's engine answered its ping, else why not (not asked on kubernetes).
 */
export function chooseRunner(mode: BackupRunnerMode, target: Target, engineProblem: string | undefined): RunnerChoice {
    if (mode === "host") return { runner: "host" };
    if (target.kind !== "docker") {
        if (mode === "in-target") return { runner: "none", reason: "DBAAS_BACKUP_RUNNER=in-target is built for DBAAS_TARGET=docker only (the kubernetes Job variant is not built); set DBAAS_BACKUP_RUNNER=host or auto" };
        return { runner: "host", inTargetSkipped: "the in-target runner is built for the docker target only" };
    }
    if (engineProblem === undefined) return { runner: "in-target" };
    const why = `the Docker engine at ${target.docker_host} did not answer (${engineProblem})`;
    if (mode === "in-target") return { runner: "none", reason: `the in-target backup runner (DBAAS_BACKUP_RUNNER=in-target) could not run: ${why}; start it, or set DBAAS_BACKUP_RUNNER=host to use a pg_dump on the API host` };
    return { runner: "host", inTargetSkipped: why };
}

/** Why the docker target's engine cannot run a dump container now, or undefined when it answers. */
export async function dockerEngineProblem(dockerHost: string): Promise<string | undefined> {
    if (dockerEndpoint(dockerHost) === undefined) return `${dockerHost.split("://")[0] ?? "?"}:// is not a Docker host the API can call (unix:// or tcp:// only)`;
    return pingDocker(dockerHost);
}

export interface SelectingBackupRunnerOptions {
    readonly mode: BackupRunnerMode;
    readonly target: Target;
    readonly inTarget: BackupRunner;
    readonly host: BackupRunner;
    /** How the engine is asked (tests); default `dockerEngineProblem`. */
    readonly engineProblem?: (dockerHost: string) => Promise<string | undefined>;
}

/** A `BackupRunner` that picks the in-target or the host runner for each dump (`chooseRunner`). */
export class SelectingBackupRunner implements BackupRunner {
    constructor(private readonly o: SelectingBackupRunnerOptions) {}

    async dump(source: DumpSource, out: string, options: DumpOptions): Promise<DumpInfo> {
        const t = this.o.target;
        const problem = this.o.mode === "host" || t.kind !== "docker" ? undefined : await (this.o.engineProblem ?? dockerEngineProblem)(t.docker_host);
        const choice = chooseRunner(this.o.mode, t, problem);
        if (choice.runner === "none") throw new BackupFailure(choice.reason);
        if (choice.runner === "in-target") return this.o.inTarget.dump(source, out, options);
        try {
            return await this.o.host.dump(source, out, options);
        } catch (e) {
            // Neither works: say why the in-target runner was not used either.
            if (e instanceof BackupFailure && choice.inTargetSkipped !== undefined && /^no pg_dump of major/.test(e.reason)) {
                throw new BackupFailure(`${e.reason}; the in-target runner was not used: ${choice.inTargetSkipped}`);
            }
            throw e;
        }
    }
}
