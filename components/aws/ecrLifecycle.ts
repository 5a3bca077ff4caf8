/**
 * ECR repository decisions: the lifecycle policy document and the Pulumi
 * names of a repository's resources. No Pulumi imports: tested directly.
 */

/** What the lifecycle policy keeps (stack config `aws.keepTaggedImages`, `aws.untaggedExpiryDays`). */
export interface LifecycleSettings {
    /** Tagged images kept per repository (the newest N by push time). */
    readonly keepTaggedImages: number;
    /** Days after which an untagged image (a layer set a newer push replaced) expires. */
    readonly untaggedExpiryDays: number;
}

/** One ECR lifecycle rule (https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_parameters.html). */
export interface LifecycleRule {
    readonly rulePriority: number;
    readonly description: string;
    readonly selection: {
        readonly tagStatus: "tagged" | "untagged" | "any";
        readonly tagPatternList?: readonly string[];
        readonly countType: "imageCountMoreThan" | "sinceImagePushed";
        readonly countUnit?: "days";
        readonly countNumber: number;
    };
    readonly action: { readonly type: "expire" };
}

/** ECR's own bounds for countNumber; outside them PutLifecyclePolicy fails late. */
const MAX_COUNT = 10_000;

function checkCount(key: string, value: number): void {
    if (!Number.isInteger(value) || value < 1 || value > MAX_COUNT) {
        throw new Error(`aws.${key} = ${value}: expected a whole number from 1 to ${MAX_COUNT}. Fix: pulumi config set --path 'dbaas:aws.${key}' <number>`);
    }
}

/**
 * The lifecycle rules: expire untagged images after D days (rule 1), keep the
 * newest N tagged images (rule 2). `tagStatus: "tagged"` must name the tags it
 * matches; `tagPatternList: ["*"]` matches every tag.
 */
export function lifecycleRules(settings: LifecycleSettings): LifecycleRule[] {
    checkCount("untaggedExpiryDays", settings.untaggedExpiryDays);
    checkCount("keepTaggedImages", settings.keepTaggedImages);
    return [
        {
            rulePriority: 1,
            description: `Expire untagged images ${settings.untaggedExpiryDays} days after push`,
            selection: { tagStatus: "untagged", countType: "sinceImagePushed", countUnit: "days", countNumber: settings.untaggedExpiryDays },
            action: { type: "expire" },
        },
        {
            rulePriority: 2,
            description: `Keep the newest ${settings.keepTaggedImages} tagged images`,
            selection: { tagStatus: "tagged", tagPatternList: ["*"], countType: "imageCountMoreThan", countNumber: settings.keepTaggedImages },
            action: { type: "expire" },
        },
    ];
}

/** The policy document as ECR's PutLifecyclePolicy takes it (JSON text). */
export function renderLifecyclePolicy(settings: LifecycleSettings): string {
    return JSON.stringify({ rules: lifecycleRules(settings) });
}

/**
 * Pulumi name of a repository's resources within a component: ECR names may
 * hold "/" (namespaces like team/api), Pulumi names read better without.
 */
export function repositoryResourceName(component: string, repository: string): string {
    return `${component}-${repository.replace(/[/.]/g, "-")}`;
}

/** Repository names must be unique once mapped to resource names (team/api and team-api collide). */
export function duplicateResourceNames(component: string, repositories: readonly string[]): string[] {
    const seen = new Map<string, string>();
    const clashes: string[] = [];
    for (const repo of repositories) {
        const name = repositoryResourceName(component, repo);
        const first = seen.get(name);
        if (first !== undefined) clashes.push(`"${first}" and "${repo}" both map to resource name ${name}`);
        else seen.set(name, repo);
    }
    return clashes;
}

/** The registry host of a repository URL (`<account>.dkr.ecr.<region>.amazonaws.com/name` → host). */
export function registryServer(repositoryUrl: string): string {
    const host = repositoryUrl.replace(/^https:\/\//, "").split("/")[0] ?? "";
    if (host === "") throw new Error(`cannot read a registry host from repository URL "${repositoryUrl}"`);
    return host;
}
