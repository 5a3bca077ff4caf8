import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { duplicateResourceNames, registryServer, renderLifecyclePolicy, repositoryResourceName } from "./ecrLifecycle";

/**
 * The stack's ECR repositories (the API image at least): tags are immutable,
 * every push is scanned, images are encrypted at rest, and a lifecycle policy
 * keeps the newest tagged images and expires untagged ones. Also hands out
 * what a `docker.Image` needs to push there (registry server and a short-lived
 * authorization token, the password a secret).
 */
export interface EcrRepositoriesArgs {
    /** Repository names (stack config `aws.repositories`), at least one. */
    repositories: readonly string[];
    /** Repository the API image is pushed to. Default: the first of `repositories`. */
    apiRepository?: string;
    /** Tagged images kept per repository (stack config `aws.keepTaggedImages`). */
    keepTaggedImages: number;
    /** Days after which untagged images expire (stack config `aws.untaggedExpiryDays`). */
    untaggedExpiryDays: number;
    /** KMS key ARN for encryption at rest. Default: undefined = AES256 (ECR-managed keys). */
    kmsKeyArn?: pulumi.Input<string>;
    /** Delete repositories that still hold images on destroy. Default: false (destroy fails instead of losing images). */
    forceDelete?: boolean;
}

/** Credentials for `docker.Image`'s `registry` argument. */
export interface RegistryAuth {
    server: string;
    username: string;
    password: string;
}

/** Where and how to push the API image, field by field (only `password` is secret), as ApiService's `registry` takes it. */
export interface PushTarget {
    repositoryUrl: pulumi.Output<string>;
    server: pulumi.Output<string>;
    username: pulumi.Output<string>;
    password: pulumi.Output<string>;
}

export class EcrRepositories extends pulumi.ComponentResource {
    /** Repository URL by repository name. */
    readonly repositoryUrls: pulumi.Output<Record<string, string>>;
    /** URL of the repository the API image goes to (`<account>.dkr.ecr.<region>.amazonaws.com/<name>`). */
    readonly apiRepositoryUrl: pulumi.Output<string>;
    /** Registry server and ECR authorization token (valid 12 hours, fetched on every run); a secret as a whole. */
    readonly registryAuth: pulumi.Output<RegistryAuth>;
    /** The same for the API repository, field by field: pass as ApiService's `registry`. */
    readonly apiRegistry: PushTarget;

    constructor(name: string, args: EcrRepositoriesArgs, opts?: pulumi.ComponentResourceOptions) {
        // Bad arguments stop here, before anything is registered.
        if (args.repositories.length === 0) throw new Error("EcrRepositories needs at least one repository name (stack config aws.repositories)");
        const clashes = duplicateResourceNames(name, args.repositories);
        if (clashes.length > 0) throw new Error(`aws.repositories: ${clashes.join("; ")}; rename one of them`);
        const apiName = args.apiRepository ?? args.repositories[0] ?? "";
        if (!args.repositories.includes(apiName)) throw new Error(`apiRepository "${apiName}" is not one of aws.repositories (${args.repositories.join(", ")})`);
        const policy = renderLifecyclePolicy(args);
        super("dbaas:aws:EcrRepositories", name, {}, opts);

        const encryption = args.kmsKeyArn === undefined ? { encryptionType: "AES256" } : { encryptionType: "KMS", kmsKey: args.kmsKeyArn };
        const repos = new Map<string, aws.ecr.Repository>();
        for (const repoName of args.repositories) {
            const resourceName = repositoryResourceName(name, repoName);
            const repo = new aws.ecr.Repository(resourceName, {
                name: repoName,
                imageTagMutability: "IMMUTABLE",
                imageScanningConfiguration: { scanOnPush: true },
                encryptionConfigurations: [encryption],
                forceDelete: args.forceDelete ?? false,
            }, { parent: this });
            new aws.ecr.LifecyclePolicy(`${resourceName}-lifecycle`, { repository: repo.name, policy }, { parent: this });
            repos.set(repoName, repo);
        }

        this.repositoryUrls = pulumi.all(Object.fromEntries([...repos].map(([n, r]) => [n, r.repositoryUrl])));
        const apiRepo = repos.get(apiName) as aws.ecr.Repository;
        this.apiRepositoryUrl = apiRepo.repositoryUrl;
        const token = aws.ecr.getAuthorizationTokenOutput({ registryId: apiRepo.registryId }, { parent: this });
        // The server comes from the repository URL, not the token, so it stays readable in diffs.
        this.apiRegistry = {
            repositoryUrl: apiRepo.repositoryUrl,
            server: apiRepo.repositoryUrl.apply(registryServer),
            username: token.userName,
            password: pulumi.secret(token.password),
        };
        this.registryAuth = pulumi.secret(pulumi.all([this.apiRegistry.server, token.userName, token.password]).apply(
            ([server, username, password]) => ({ server, username, password }),
        ));
        this.registerOutputs({ repositoryUrls: this.repositoryUrls, apiRepositoryUrl: this.apiRepositoryUrl });
    }
}
