/**
 * The AWS components on their own, under mocks: the ECR push credentials and
 * argument handling, and DevDbAccess refusing an unsafe namespace prefix.
 */
import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it, vi } from "vitest";
import { installMocks, isSecretOutput, promiseOf, settle, type Recorder } from "../../support/harness";

type AwsModule = typeof import("../../../components/aws");

async function fresh(): Promise<{ rec: Recorder; mod: AwsModule }> {
    vi.resetModules();
    const rec = await installMocks({ project: "dbaas", stack: "prod", preview: false, config: {} });
    const mod = await import("../../../components/aws");
    return { rec, mod };
}

const SETTINGS = { keepTaggedImages: 20, untaggedExpiryDays: 7 };

describe("EcrRepositories", () => {
    it("hands out push credentials for the API repository with the password secret", async () => {
        const { rec, mod } = await fresh();
        const ecr = new mod.EcrRepositories("ecr", { ...SETTINGS, repositories: ["mirror/postgres", "team/api"], apiRepository: "team/api" });
        await settle();
        const url = await promiseOf(ecr.apiRepositoryUrl);
        expect(url).toBe("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/api");
        expect(await promiseOf(ecr.apiRegistry.repositoryUrl)).toBe(url);
        expect(await promiseOf(ecr.apiRegistry.server)).toBe("123456789012.dkr.ecr.eu-west-1.amazonaws.com");
        expect(await isSecretOutput(ecr.apiRegistry.password)).toBe(true);
        expect(await isSecretOutput(ecr.apiRegistry.server)).toBe(false);
        expect(await isSecretOutput(ecr.registryAuth)).toBe(true);
        expect(await promiseOf(ecr.registryAuth)).toEqual({ server: "123456789012.dkr.ecr.eu-west-1.amazonaws.com", username: "AWS", password: "ecr-token" });
        expect(rec.calls.filter((c) => c.token === "aws:ecr/getAuthorizationToken:getAuthorizationToken")).toHaveLength(1);
        expect(Object.keys(await promiseOf(ecr.repositoryUrls)).sort()).toEqual(["mirror/postgres", "team/api"]);
        // Child names derive from the component name; every child is parented to it.
        const component = rec.one("dbaas:aws:EcrRepositories");
        expect(rec.ofType("aws:ecr/repository:Repository").map((r) => r.name).sort()).toEqual(["ecr-mirror-postgres", "ecr-team-api"]);
        for (const child of rec.resources.filter((r) => r.type.startsWith("aws:"))) expect(child.parent).toBe(component.urn);
    });

    it("uses the KMS key when one is given", async () => {
        const { rec, mod } = await fresh();
        new mod.EcrRepositories("ecr", { ...SETTINGS, repositories: ["api"], kmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/abc" });
        await settle();
        expect(rec.one("aws:ecr/repository:Repository").inputs.encryptionConfigurations).toEqual([{ encryptionType: "KMS", kmsKey: "arn:aws:kms:eu-west-1:123456789012:key/abc" }]);
    });

    it.each<[string, Partial<import("../../../components/aws").EcrRepositoriesArgs>, RegExp]>([
        ["no repositories", { repositories: [] }, /at least one repository name/],
        ["an API repository that is not declared", { repositories: ["api"], apiRepository: "other" }, /apiRepository "other" is not one of aws.repositories \(api\)/],
        ["names that collide", { repositories: ["team/api", "team-api"] }, /"team\/api" and "team-api" both map to resource name ecr-team-api; rename one/],
        ["a lifecycle count out of range", { repositories: ["api"], keepTaggedImages: 0 }, /aws.keepTaggedImages = 0/],
    ])("refuses %s", async (_what, args, message) => {
        const { rec, mod } = await fresh();
        expect(() => new mod.EcrRepositories("ecr", { ...SETTINGS, repositories: ["api"], ...args })).toThrow(message);
        await settle();
        expect(rec.resources).toEqual([]);
    });
});

describe("DevDbAccess", () => {
    const cluster = { name: "devdb", endpoint: "https://x.eks.amazonaws.com", certificateAuthorityData: "Y2E=" };

    it.each([
        ["kube-", /reserves/],
        ["aws-", /aws-observability/],
    ])("refuses the namespace prefix %s before creating anything", async (prefix, message) => {
        const { rec, mod } = await fresh();
        const provider = {} as k8s.Provider; // never used: the constructor throws first
        expect(() => new mod.DevDbAccess("devdb", { provider, cluster, namespacePrefix: prefix })).toThrow(message);
        await settle();
        expect(rec.resources.filter((r) => r.type.startsWith("kubernetes:"))).toEqual([]);
    });

    it("builds the API kubeconfig from the cluster and the token, as a secret", async () => {
        const { rec, mod } = await fresh();
        const eks = mod.eksConnection("eks", { clusterName: "devdb", region: "eu-west-1" });
        const access = new mod.DevDbAccess("access", { provider: eks.provider, cluster: eks.cluster, namespacePrefix: "db-" });
        await settle();
        // The default credential (tokenSecret) always has a kubeconfig.
        expect(access.apiKubeconfig).toBeDefined();
        const kubeconfig = access.apiKubeconfig as NonNullable<typeof access.apiKubeconfig>;
        expect(await isSecretOutput(kubeconfig)).toBe(true);
        const text = await promiseOf(kubeconfig);
        expect(text).toContain(`token: sa-token-access-token`);
        expect(text).toContain("server: https://ABCDEF.gr7.eu-west-1.eks.amazonaws.com");
        // Child names derive from the component's name.
        expect(rec.resources.filter((r) => r.type.startsWith("kubernetes:")).every((r) => r.name.startsWith("access-"))).toBe(true);
        const policy = rec.one("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy");
        expect(JSON.stringify(policy.inputs.spec)).toContain('startsWith(\\"db-\\")');
        expect(pulumi.Output.isInstance(access.apiKubeconfig)).toBe(true);
    });
});
