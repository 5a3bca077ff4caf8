/**
 * A bad spec stops the program with a message naming the field; the spec's
 * additive restore settings default so that specs built before them stay valid.
 */
import { describe, expect, it, vi } from "vitest";
import { installMocks } from "../support/harness";
import { parseDatabaseSpec } from "../../contracts/database";
import { dockerSpec, kubernetesSpec, runProgram } from "../ondemand/fixtures";
import { RESTORE_DEFAULTS } from "../../contracts/restore";

describe("bad specs stop the program", () => {
    it.each([
        ["a name that is not a DNS label", kubernetesSpec({ name: "Bad_Name" }), /name: expected a DNS-1035 label/],
        ["an http:// backup URL", kubernetesSpec({ backup_location: "http://backups.example.com/x.sql" }), /backup_location: expected an https:\/\/ URL/],
        ["a missing target", { ...kubernetesSpec(), target: undefined }, /target: expected/],
        ["a source range that is no CIDR", dockerSpec({ source_ranges: ["10.0.0.1"] }), /source_ranges\.0: expected a CIDR/],
        ["an unknown field", { ...dockerSpec(), ttl: 3 }, /Unrecognized key: "ttl"/],
    ])("%s", async (_what, spec, message) => {
        const error = await runProgram(spec).then(() => undefined, (e: unknown) => e as Error);
        expect(error?.message).toMatch(/invalid database spec \(stack config dbaas-db:database\)/);
        expect(error?.message).toMatch(message);
    });

    it("a stack without the spec names the config key", async () => {
        vi.resetModules();
        await installMocks({ project: "dbaas-db", stack: "db", config: {}, preview: true });
        await expect(import("../../ondemand")).rejects.toThrow(/dbaas-db:database/);
    });

    it("a stack without the password config names the key and the secret `config set` that fixes it", async () => {
        vi.resetModules();
        await installMocks({ project: "dbaas-db", stack: "db", config: { "dbaas-db:database": JSON.stringify(dockerSpec()) }, preview: true });
        await expect(import("../../ondemand")).rejects.toThrow(/dbaas-db:password[\s\S]*pulumi config set --secret dbaas-db:password/);
    });

    it("a namespace prefix that makes the name too long is refused naming both", async () => {
        const long = kubernetesSpec({ name: "a".repeat(40), target: { kind: "kubernetes", namespace_prefix: `${"p".repeat(30)}-`, memory_mb: 512, cpu_millicores: 500, storage_gb: 1 } });
        await expect(runProgram(long)).rejects.toThrow(/namespace_prefix \+ name/);
    });
});

describe("restore settings of the target", () => {
    it.each([["docker", dockerSpec()], ["kubernetes", kubernetesSpec()]])("%s: default to the restore script's own defaults", (_kind, raw) => {
        const { target } = parseDatabaseSpec(raw);
        expect(target.fetch_image).toMatch(/^curlimages\/curl:\d/);
        expect(String(target.restore_jobs)).toBe(RESTORE_DEFAULTS.RESTORE_JOBS);
        expect(String(target.restore_max_bytes)).toBe(RESTORE_DEFAULTS.RESTORE_MAX_BYTES);
        expect(String(target.restore_max_seconds)).toBe(RESTORE_DEFAULTS.RESTORE_MAX_SECONDS);
    });

    it("refuses a fetch image without a tag", () => {
        const raw = dockerSpec({ target: { kind: "docker", docker_host: "unix:///var/run/docker.sock", memory_mb: 256, fetch_image: "curlimages/curl" } });
        expect(() => parseDatabaseSpec(raw)).toThrow(/target\.fetch_image: expected an image with a tag or digest/);
    });
});

describe.each([["docker", dockerSpec()], ["kubernetes", kubernetesSpec()]])("%s target in preview", (_kind, spec) => {
    it("registers the same graph while provider outputs are still unknown", async () => {
        const { rec: preview } = await runProgram(spec, true);
        const { rec: up } = await runProgram(spec, false);
        expect(preview.customTypes()).toEqual(up.customTypes());
        expect(preview.customTypes().length).toBeGreaterThan(3);
    });
});
