/**
 * The policy harness behaves like @pulumi/policy's server (so the other
 * policy tests mean what they say), and the pack is one the server accepts.
 */
import { describe, expect, it } from "vitest";
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { policies } from "../../policies/rules";
import { imagesPinned, postgresImageFromCatalog } from "../../policies/rules/images";
import { ondemandNamespaceLabels } from "../../policies/rules/labels";
import { noPlaintextSecrets } from "../../policies/rules/secrets";
import { CATALOG, dockerPostgres, ecrRepository, namespace, resource } from "./fixtures";
import { policyConfig, resourceArgs, runPolicy, runResourcePolicy, wireProps } from "./policyHarness";

const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

describe("policy harness", () => {
    it("marks a policy not applicable to other types, without calling it (fast path) or when it says so", async () => {
        const out = await runResourcePolicy(imagesPinned, ecrRepository());
        expect(out.violations).toEqual([]);
        expect(out.notApplicable).toEqual([{ policy: "images-pinned", resource: "api", reason: expect.stringContaining("docker:index/container:Container") as string }]);
        const ns = await runResourcePolicy(ondemandNamespaceLabels, namespace("kube-system", {}));
        expect(ns.notApplicable[0]?.reason).toBe('namespace "kube-system" does not start with devdb-');
    });

    it("hands validators secrets already unwrapped, as the server does", async () => {
        const secret = { [SECRET_SIG_KEY]: SECRET_SIG, value: ["POSTGRES_PASSWORD=hunter2"] };
        expect(wireProps({ envs: secret })).toEqual({ envs: ["POSTGRES_PASSWORD=hunter2"] });
        const out = await runResourcePolicy(noPlaintextSecrets, dockerPostgres({ envs: secret }));
        expect(out.violations.map((v) => v.message)).toEqual([expect.stringContaining('"POSTGRES_PASSWORD" looks like a secret') as string]);
        expect(out.violations.map((v) => v.message).join()).not.toContain("hunter2");
    });

    it("turns an unknown (preview) value into an advisory can't-run diagnostic", async () => {
        const out = await runResourcePolicy(imagesPinned, dockerPostgres({ image: UNKNOWN_STRING }));
        expect(out.violations).toEqual([expect.objectContaining({ enforcementLevel: "advisory", message: expect.stringMatching(/can't run policy 'images-pinned' during preview: string value at .image/) as string })]);
    });

    it("fills configSchema defaults under the given config, and never passes enforcementLevel", () => {
        expect(policyConfig(ondemandNamespaceLabels, {})).toEqual({ namespacePrefix: "devdb-" });
        expect(policyConfig(ondemandNamespaceLabels, { config: { "ondemand-namespace-labels": { enforcementLevel: "advisory", namespacePrefix: "db-" } } })).toEqual({ namespacePrefix: "db-" });
        const args = resourceArgs(postgresImageFromCatalog, dockerPostgres(), { config: { "postgres-image-from-catalog": { allowedImages: CATALOG } } });
        expect(args.getConfig()).toEqual({ allowedImages: CATALOG });
    });

    it("builds the rest of ResourceValidationArgs: urn, opts, provider, stack tags, isType", () => {
        const r = { ...dockerPostgres(), provider: "urn:pulumi:dev::dbaas::pulumi:providers:docker::docker::docker-id", parent: "urn:pulumi:dev::dbaas::dbaas:postgres:PostgresInstance::admin" };
        const args = resourceArgs(imagesPinned, r, { stackTags: { "pulumi:project": "dbaas" } });
        expect(args.urn).toBe("urn:pulumi:test::dbaas::docker:index/container:Container::pg");
        expect(args.opts).toMatchObject({ protect: false, parent: r.parent, customTimeouts: { createSeconds: 0 } });
        expect(args.provider).toEqual({ type: "pulumi:providers:docker", name: "docker", urn: "urn:pulumi:dev::dbaas::pulumi:providers:docker::docker", props: {} });
        expect(args.stackTags.get("pulumi:project")).toBe("dbaas");
        expect(args.isType({ __pulumiType: "docker:index/container:Container" } as never)).toBe(true);
        expect(() => args.notApplicable("why")).toThrow("why");
    });

    it("applies enforcement levels from the pack config (disabled runs nothing)", async () => {
        const latest = [dockerPostgres({ image: "postgres:latest" })];
        expect((await runPolicy(imagesPinned, latest)).violations[0]?.enforcementLevel).toBe("mandatory");
        expect((await runPolicy(imagesPinned, latest, { config: { "images-pinned": "advisory" } })).violations[0]?.enforcementLevel).toBe("advisory");
        expect((await runPolicy(imagesPinned, latest, { config: { "images-pinned": "disabled" } })).violations).toEqual([]);
    });

    it("fails loudly when a policy throws an ordinary error (the server fails the analysis)", async () => {
        const broken: ResourceValidationPolicy = { name: "broken", description: "x", validateResource: () => { throw new Error("boom"); } };
        await expect(runPolicy(broken, [resource("x:y:Z", "z", {})])).rejects.toThrow(/policy broken failed on x:y:Z z: Error: boom/);
    });
});

describe("the pack", () => {
    it("has unique policy names, none the reserved 'all'", () => {
        const names = policies.map((p) => p.name);
        expect(new Set(names).size).toBe(names.length);
        expect(names).not.toContain("all");
        expect(names.every((n) => /^[a-z0-9-]+$/.test(n))).toBe(true);
    });

    it("states every policy's level, and no configSchema declares enforcementLevel", () => {
        for (const p of policies) {
            expect(["mandatory", "advisory"], p.name).toContain(p.enforcementLevel);
            expect(p.description.length, p.name).toBeGreaterThan(20);
            expect(Object.keys(p.configSchema?.properties ?? {}), p.name).not.toContain("enforcementLevel");
            for (const [key, schema] of Object.entries(p.configSchema?.properties ?? {})) {
                expect(schema.default, `${p.name}.${key} has a default`).toBeDefined();
            }
        }
    });

    it("covers the eight guardrails of the issue with mandatory policies", () => {
        const mandatory = policies.filter((p) => p.enforcementLevel === "mandatory").map((p) => p.name);
        expect(mandatory).toEqual(expect.arrayContaining([
            "images-pinned", "postgres-image-from-catalog", "memory-limits", "postgres-requests-equal-limits", "no-privileged-containers",
            "run-as-non-root", "no-privilege-escalation", "drop-all-capabilities", "no-host-access", "loadbalancer-source-ranges",
            "docker-published-ports", "rbac-no-wildcards-or-escalation", "ecr-immutable-tags", "ecr-scan-on-push", "ecr-lifecycle-policy",
            "no-plaintext-secrets", "ondemand-namespace-labels",
        ]));
    });
});
