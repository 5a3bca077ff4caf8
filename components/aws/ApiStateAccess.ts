import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { backupLifecycleRule, irsaTrustPolicy, kmsSecretsProviderUrl, oidcProviderArn, stateAccessPolicy, stateBackendUrl } from "./apiIdentity";

/**
 * Where the API keeps the on-demand stacks when it runs in the cluster, and
 * the identity it reaches them with: a KMS key (rotated, with an alias) that
 * encrypts both the bucket and the stacks' secrets, a private, versioned S3
 * bucket, and an IAM role that only the given ServiceAccount can assume
 * through the cluster's OIDC provider (IRSA), allowed exactly the bucket
 * prefix and the key, and the backups' prefix when the API's S3 backup store
 * keeps them here. No access keys exist anywhere.
 */
export interface ApiStateAccessArgs {
    /** AWS region (stack config `aws.region`). */
    region: string;
    /** The cluster's OIDC issuer URL (`aws eks describe-cluster` identity.oidc.issuer). */
    oidcIssuerUrl: pulumi.Input<string>;
    /** Namespace and name of the ServiceAccount that may assume the role. */
    serviceAccount: { namespace: string; name: string };
    /** Key prefix of the on-demand state in the bucket (stack config `platform.stateBucketPrefix`). */
    prefix: string;
    /** Key prefix of the API's backups in the bucket (stack config `backups.s3.prefix`). Default: none (no backups here, no grant). */
    backupPrefix?: string;
    /** Keep the bucket (and its state) when the stack is destroyed. Default: true. */
    retainOnDelete?: boolean;
}

export class ApiStateAccess extends pulumi.ComponentResource {
    /** ARN of the role the ServiceAccount is annotated with. */
    readonly roleArn: pulumi.Output<string>;
    /** PULUMI_BACKEND_URL for the API (`s3://bucket/prefix?region=...`). */
    readonly backendUrl: pulumi.Output<string>;
    /** DBAAS_SECRETS_PROVIDER for the API (`awskms://alias/...`). */
    readonly secretsProvider: pulumi.Output<string>;
    readonly bucketName: pulumi.Output<string>;
    readonly keyArn: pulumi.Output<string>;

    constructor(name: string, args: ApiStateAccessArgs, opts?: pulumi.ComponentResourceOptions) {
        // A bad prefix stops here, before anything is registered.
        stateAccessPolicy("arn:aws:s3:::check", args.prefix, "arn:aws:kms:check", args.backupPrefix);
        super("dbaas:aws:ApiStateAccess", name, {}, opts);
        const child = { parent: this };
        const keep = { ...child, retainOnDelete: args.retainOnDelete ?? true };
        const stack = pulumi.getStack();

        const key = new aws.kms.Key(`${name}-key`, {
            description: `dbaas ${stack}: on-demand stack state and secrets`,
            enableKeyRotation: true,
            deletionWindowInDays: 30,
        }, keep);
        const aliasName = `alias/dbaas-${stack}-state`;
        new aws.kms.Alias(`${name}-key-alias`, { name: aliasName, targetKeyId: key.keyId }, child);

        const bucket = new aws.s3.Bucket(`${name}-bucket`, { forceDestroy: false }, keep);
        new aws.s3.BucketPublicAccessBlock(`${name}-public-access`, {
            bucket: bucket.id, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true,
        }, child);
        new aws.s3.BucketOwnershipControls(`${name}-ownership`, { bucket: bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } }, child);
        // Every checkpoint is kept: a bad update can be rolled back from an older version.
        new aws.s3.BucketVersioning(`${name}-versioning`, { bucket: bucket.id, versioningConfiguration: { status: "Enabled" } }, child);
        new aws.s3.BucketServerSideEncryptionConfiguration(`${name}-encryption`, {
            bucket: bucket.id,
            rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: key.arn }, bucketKeyEnabled: true }],
        }, child);
        if (args.backupPrefix !== undefined) {
            new aws.s3.BucketLifecycleConfiguration(`${name}-lifecycle`, { bucket: bucket.id, rules: [backupLifecycleRule(args.backupPrefix)] }, child);
        }

        const invoke = { parent: this };
        const identity = aws.getCallerIdentityOutput({}, invoke);
        const partition = aws.getPartitionOutput({}, invoke);
        const providerArn = pulumi.all([partition.partition, identity.accountId, args.oidcIssuerUrl]).apply(([p, account, issuer]) => oidcProviderArn(p, account, issuer));
        const role = new aws.iam.Role(`${name}-role`, {
            description: `dbaas ${stack}: the API (ServiceAccount ${args.serviceAccount.namespace}/${args.serviceAccount.name}) on its state`,
            assumeRolePolicy: pulumi.all([providerArn, args.oidcIssuerUrl]).apply(([arn, issuer]) => irsaTrustPolicy(arn, issuer, args.serviceAccount.namespace, args.serviceAccount.name)),
            maxSessionDuration: 3600,
        }, child);
        new aws.iam.RolePolicy(`${name}-policy`, {
            role: role.id,
            policy: pulumi.all([bucket.arn, key.arn]).apply(([bucketArn, keyArn]) => stateAccessPolicy(bucketArn, args.prefix, keyArn, args.backupPrefix)),
        }, child);

        this.roleArn = role.arn;
        this.bucketName = bucket.bucket;
        this.keyArn = key.arn;
        this.backendUrl = bucket.bucket.apply((b) => stateBackendUrl(b, args.prefix, args.region));
        this.secretsProvider = pulumi.output(kmsSecretsProviderUrl(aliasName, args.region));
        this.registerOutputs({ roleArn: this.roleArn, backendUrl: this.backendUrl, secretsProvider: this.secretsProvider });
    }
}
