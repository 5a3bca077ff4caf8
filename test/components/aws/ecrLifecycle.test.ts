import { describe, expect, it } from "vitest";
import { duplicateResourceNames, lifecycleRules, registryServer, renderLifecyclePolicy, repositoryResourceName } from "../../../components/aws/ecrLifecycle";

describe("renderLifecyclePolicy", () => {
    it.each([
        [20, 7],
        [30, 7],
        [1, 1],
        [500, 90],
    ])("keeps the newest %i tagged images and expires untagged after %i days", (keep, days) => {
        const doc = JSON.parse(renderLifecyclePolicy({ keepTaggedImages: keep, untaggedExpiryDays: days })) as { rules: ReturnType<typeof lifecycleRules> };
        expect(doc.rules).toHaveLength(2);
        const untagged = doc.rules.find((r) => r.selection.tagStatus === "untagged");
        const tagged = doc.rules.find((r) => r.selection.tagStatus === "tagged");
        expect(untagged?.selection).toEqual({ tagStatus: "untagged", countType: "sinceImagePushed", countUnit: "days", countNumber: days });
        // ECR rejects a "tagged" selection without tagPatternList or tagPrefixList.
        expect(tagged?.selection).toEqual({ tagStatus: "tagged", tagPatternList: ["*"], countType: "imageCountMoreThan", countNumber: keep });
        expect(doc.rules.every((r) => r.action.type === "expire")).toBe(true);
        expect(new Set(doc.rules.map((r) => r.rulePriority)).size).toBe(2);
    });

    it.each([
        [{ keepTaggedImages: 0, untaggedExpiryDays: 7 }, /aws.keepTaggedImages = 0: expected a whole number from 1/],
        [{ keepTaggedImages: 2.5, untaggedExpiryDays: 7 }, /aws.keepTaggedImages = 2.5/],
        [{ keepTaggedImages: 20, untaggedExpiryDays: -1 }, /aws.untaggedExpiryDays = -1/],
        [{ keepTaggedImages: 20, untaggedExpiryDays: 100_000 }, /aws.untaggedExpiryDays = 100000/],
    ])("refuses %o with a message naming the key and the fix", (settings, message) => {
        expect(() => renderLifecyclePolicy(settings)).toThrow(message);
        expect(() => renderLifecyclePolicy(settings)).toThrow(/pulumi config set --path 'dbaas:aws\./);
    });
});

describe("repository resource names", () => {
    it.each([
        ["ecr", "database-migration-anonymized-api", "ecr-database-migration-anonymized-api"],
        ["ecr", "team/api", "ecr-team-api"],
        ["repos", "mirror/postgres.17", "repos-mirror-postgres-17"],
    ])("%s + %s -> %s", (component, repo, expected) => {
        expect(repositoryResourceName(component, repo)).toBe(expected);
    });

    it("reports names that collide once mapped", () => {
        expect(duplicateResourceNames("ecr", ["team/api", "team-api", "other"])).toEqual(['"team/api" and "team-api" both map to resource name ecr-team-api']);
        expect(duplicateResourceNames("ecr", ["a", "b"])).toEqual([]);
    });
});

describe("registryServer", () => {
    it.each([
        ["123456789012.dkr.ecr.eu-west-1.amazonaws.com/database-migration-anonymized-api", "123456789012.dkr.ecr.eu-west-1.amazonaws.com"],
        ["https://123456789012.dkr.ecr.eu-west-1.amazonaws.com", "123456789012.dkr.ecr.eu-west-1.amazonaws.com"],
        ["123456789012.dkr.ecr.us-east-1.amazonaws.com/team/api", "123456789012.dkr.ecr.us-east-1.amazonaws.com"],
    ])("%s -> %s", (url, host) => {
        expect(registryServer(url)).toBe(host);
    });

    it("refuses an empty URL", () => {
        expect(() => registryServer("")).toThrow(/registry host/);
    });
});
