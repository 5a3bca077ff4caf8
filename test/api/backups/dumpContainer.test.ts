/**
 * The in-target dump's pure parts: the container it runs (hardening, the
 * server's namespace, no password anywhere in what the engine keeps or the
 * API could log), how a finished run becomes success or a reason, and the
 * choice between the in-target and the host runner.
 */
import { describe, expect, it } from "vitest";
import { chooseRunner, SelectingBackupRunner } from "../../../api/backups/chooseRunner";
import { dumpFailure, type DumpRun } from "../../../api/backups/dockerDumpRunner";
import {
    DUMP_SCRIPT, dumpContainerName, dumpContainerSpec, EXIT_NO_PASSWORD, EXIT_PROBE_FAILED, keepTail, parseDumpInfo, passwordProblem, withoutDumpInfo,
} from "../../../api/backups/dumpContainer";
import { BackupFailure, type BackupRunner } from "../../../api/backups/runner";
import type { Target } from "../../../api/config";
import { dockerTargetSchema, kubernetesTargetSchema } from "../../../contracts/database";

const PASSWORD = "s3cr3t:pa$$ word'\"`";
const args = { database: "orders-dev", image: "sha256:abc", dbName: "orders-dev", user: "postgres", memoryMb: 256 };

describe("the dump container", () => {
    const spec = dumpContainerSpec(args);

    it("runs the server's image as uid 999 with a read-only root, no capabilities, no privilege gain, memory and pids limits", () => {
        expect(spec.Image).toBe("sha256:abc");
        expect(spec.User).toBe("999:999");
        expect(spec.HostConfig).toMatchObject({
            ReadonlyRootfs: true, CapDrop: ["ALL"], SecurityOpt: ["no-new-privileges:true"],
            Memory: 256 * 1024 * 1024, MemorySwap: 256 * 1024 * 1024, AutoRemove: true,
        });
        expect(spec.HostConfig.PidsLimit).toBeGreaterThan(0);
        expect(spec.HostConfig).not.toHaveProperty("Privileged");
        expect(spec.HostConfig).not.toHaveProperty("CapAdd");
    });

    it("joins the server container's network namespace and connects to 127.0.0.1:5432 there", () => {
        expect(spec.HostConfig.NetworkMode).toBe("container:dbaas-db-orders-dev");
        expect(spec.Env).toEqual(expect.arrayContaining(["PGHOST=127.0.0.1", "PGPORT=5432", "PGDATABASE=orders-dev", "PGUSER=postgres"]));
    });

    it("has no TTY (it would mangle the binary dump), stdin open once for the password line, and logging off (no copy in the engine's logs)", () => {
        expect(spec).toMatchObject({ Tty: false, OpenStdin: true, StdinOnce: true, AttachStdin: true, AttachStdout: true, AttachStderr: true });
        expect(spec.HostConfig.LogConfig.Type).toBe("none");
    });

    it("carries no password in Cmd, Env or anywhere else of what the engine keeps, and takes none as input", () => {
        expect(JSON.stringify(spec)).not.toMatch(/PGPASSWORD=|PGPASSFILE|password=/i);
        expect(Object.keys(args)).not.toContain("password");
        expect(spec.Env.some((e) => e.startsWith("PGPASSWORD"))).toBe(false);
        // The script reads the password from stdin and passes it to libpq through its own environment only.
        expect(DUMP_SCRIPT).toContain("IFS= read -r PGPASSWORD");
        expect(DUMP_SCRIPT).not.toMatch(/--password|-W\b|PGPASSWORD=/);
        expect(spec.Cmd).toEqual([DUMP_SCRIPT]);
        expect(DUMP_SCRIPT.split("\n").pop()).toBe("exec pg_dump --format=custom --no-password");
    });

    it("is named for its database with a suffix, labelled as dbaas's", () => {
        expect(dumpContainerName("orders-dev", "0a1b2c3d")).toBe("dbaas-db-orders-dev-backup-0a1b2c3d");
        expect(spec.Labels).toEqual({ "app.kubernetes.io/managed-by": "dbaas", "dbaas.io/backup": "dump" });
    });

    it.each([
        ["a\nb", /line break/], ["a\rb", /line break/], ["", /empty password/],
    ])("refuses the password %j it could not pass as one line, without repeating it", (pw, reason) => {
        const p = passwordProblem(pw);
        expect(p).toMatch(reason);
        if (pw !== "") expect(p).not.toContain(pw);
    });

    it("takes any other password", () => {
        expect(passwordProblem(PASSWORD)).toBeUndefined();
    });
});

describe("reading the dump container's stderr", () => {
    it("finds the info line wherever it is and takes the major from server_version_num", () => {
        expect(parseDumpInfo("")).toBeUndefined();
        expect(parseDumpInfo("dbaas-dump-info 170010 7893475\n")).toEqual({ serverMajor: 17, dbSizeBytes: 7893475 });
        expect(parseDumpInfo("warning\ndbaas-dump-info 140020 1\npg_dump: error: x\n")).toEqual({ serverMajor: 14, dbSizeBytes: 1 });
        expect(parseDumpInfo("dbaas-dump-info 1700")).toBeUndefined(); // cut before its size: not yet
        expect(withoutDumpInfo("dbaas-dump-info 170010 1\npg_dump: error: boom\n")).toBe("pg_dump: error: boom\n");
    });

    it("keeps the tail of a long stderr", () => {
        expect(keepTail("abc", "def", 4)).toBe("cdef");
        expect(keepTail("ab", "c", 4)).toBe("abc");
    });
});

describe("a finished dump container", () => {
    const o = { database: "orders-dev", user: "owner", password: PASSWORD, memoryMb: 256 };
    const info = { serverMajor: 17, dbSizeBytes: 100 };
    const run = (r: Partial<DumpRun>): DumpRun => ({ exitCode: 0, stderr: "dbaas-dump-info 170010 100\n", info, cut: undefined, ...r });

    it.each<[string, Partial<DumpRun>, RegExp | undefined]>([
        ["exit 0 with its info line and a whole stream is complete", {}, undefined],
        ["exit 0 without the info line is not trusted", { info: undefined, stderr: "" }, /exited 0 without reporting the server's version/],
        ["a stream cut inside a frame is incomplete even with exit 0", { cut: "the stream ended 10 bytes short of the end of a stdout frame" }, /output was cut \(the stream ended 10 bytes short.*\); the dump is incomplete/],
        ["no password line", { exitCode: EXIT_NO_PASSWORD, info: undefined, stderr: "dump: no password line arrived on stdin\n" }, /got no password line on its stdin/],
        ["psql could not connect: its own line", {
            exitCode: EXIT_PROBE_FAILED, info: undefined,
            stderr: 'psql: error: connection to server at "127.0.0.1", port 5432 failed: FATAL:  password authentication failed for user "owner"\n',
        }, /^could not connect to the database at 127\.0\.0\.1:5432 in dbaas-db-orders-dev's network as owner \(exit 65\): psql: error: .*password authentication failed for user "owner"$/],
        ["pg_dump failed half-way: its error line, not the detail after it", {
            exitCode: 1, stderr: "dbaas-dump-info 170010 100\npg_dump: error: query failed: ERROR:  permission denied for table secrets\npg_dump: detail: Query was: LOCK TABLE public.secrets\n",
        }, /^pg_dump 17 \(the database's image\) failed \(exit 1\): pg_dump: error: query failed: ERROR: {2}permission denied for table secrets$/],
        ["killed: the memory limit named", { exitCode: 137, stderr: "dbaas-dump-info 170010 100\n" }, /killed \(exit 137\): out of memory above DBAAS_BACKUP_DUMP_MEMORY_MB \(256 MiB\), or stopped/],
        ["no pg_dump in the image", { exitCode: 127, stderr: "dbaas-dump-info 170010 100\nsh: 6: exec: pg_dump: not found\n" }, /^pg_dump 17 \(the database's image\) failed \(exit 127\): sh: 6: exec: pg_dump: not found$/],
    ])("%s", (_what, r, reason) => {
        const failure = dumpFailure(run(r), o);
        if (reason === undefined) expect(failure).toBeUndefined();
        else expect(failure).toMatch(reason);
    });

    it("never repeats the password, should a tool echo it", () => {
        const failure = dumpFailure(run({ exitCode: 1, stderr: `pg_dump: error: bad option ${PASSWORD}\n` }), o);
        expect(failure).toContain("[redacted]");
        expect(failure).not.toContain(PASSWORD);
    });
});

describe("which runner takes a dump", () => {
    const docker: Target = dockerTargetSchema.parse({ kind: "docker", docker_host: "unix:///var/run/docker.sock", memory_mb: 512 });
    const kube: Target = kubernetesTargetSchema.parse({ kind: "kubernetes", namespace_prefix: "dbaas-", memory_mb: 512, cpu_millicores: 500, storage_gb: 1 });

    it.each<[string, Parameters<typeof chooseRunner>, ReturnType<typeof chooseRunner>["runner"], RegExp | undefined]>([
        ["auto, docker, the engine answers: in-target", ["auto", docker, undefined], "in-target", undefined],
        ["auto, docker, no engine: host, saying why", ["auto", docker, "ECONNREFUSED"], "host", /Docker engine at unix:\/\/\/var\/run\/docker.sock did not answer \(ECONNREFUSED\)/],
        ["auto, kubernetes: host", ["auto", kube, undefined], "host", /docker target only/],
        ["in-target, docker, no engine: neither, naming the fix", ["in-target", docker, "ENOENT"], "none", /DBAAS_BACKUP_RUNNER=in-target.*did not answer \(ENOENT\); start it, or set DBAAS_BACKUP_RUNNER=host/],
        ["in-target, kubernetes: neither", ["in-target", kube, undefined], "none", /docker only .*set DBAAS_BACKUP_RUNNER=host or auto/],
        ["host, docker: host", ["host", docker, undefined], "host", undefined],
    ])("%s", (_what, input, runner, text) => {
        const c = chooseRunner(...input);
        expect(c.runner).toBe(runner);
        const said = c.runner === "none" ? c.reason : c.runner === "host" ? c.inTargetSkipped : undefined;
        if (text === undefined) expect(said).toBeUndefined();
        else expect(said).toMatch(text);
    });

    const fixed = (fail?: string): BackupRunner & { calls: number } => {
        const r = {
            calls: 0,
            dump: () => {
                r.calls++;
                return fail === undefined ? Promise.resolve({ serverMajor: 17, dbSizeBytes: 1 }) : Promise.reject(new BackupFailure(fail));
            },
        };
        return r;
    };
    const source = { host: "h", port: 1, database: "d", user: "u", password: "p" };
    const opts = { signal: new AbortController().signal };

    it("asks the engine at each dump and uses the runner chosen", async () => {
        const inTarget = fixed();
        const host = fixed();
        let answers: string | undefined = undefined;
        const r = new SelectingBackupRunner({ mode: "auto", target: docker, inTarget, host, engineProblem: () => Promise.resolve(answers) });
        await r.dump(source, "/dev/null", opts);
        answers = "ECONNREFUSED";
        await r.dump(source, "/dev/null", opts);
        expect([inTarget.calls, host.calls]).toEqual([1, 1]);
    });

    it("names both when neither can dump: no engine and no pg_dump new enough", async () => {
        const host = fixed("no pg_dump of major 17 or newer on the API host (...): install postgresql-client-17 or newer, or set DBAAS_PG_DUMP_DIRS");
        const r = new SelectingBackupRunner({ mode: "auto", target: docker, inTarget: fixed(), host, engineProblem: () => Promise.resolve("ECONNREFUSED") });
        await expect(r.dump(source, "/dev/null", opts)).rejects.toThrow(/^no pg_dump of major 17 .*; the in-target runner was not used: the Docker engine at unix:\/\/\/var\/run\/docker.sock did not answer \(ECONNREFUSED\)$/);
    });

    it("fails a forced in-target dump without an engine, never falling back to the host", async () => {
        const host = fixed();
        const r = new SelectingBackupRunner({ mode: "in-target", target: docker, inTarget: fixed(), host, engineProblem: () => Promise.resolve("ENOENT") });
        await expect(r.dump(source, "/dev/null", opts)).rejects.toThrow(/DBAAS_BACKUP_RUNNER=in-target/);
        expect(host.calls).toBe(0);
    });
});
