/**
 * The API's AWS identity when it runs in the cluster: an IAM role that only
 * the `devdb` ServiceAccount's projected web-identity token can assume (IRSA),
 * allowed exactly the on-demand state's bucket prefix and its KMS key, and the
 * URLs the engine is given for both. No Pulumi imports: tested directly.
 */
import { serviceAccountUsername } from "./admission";

/** The annotation that makes EKS's pod identity webhook hand the pod a web-identity token for the role. */
export const IRSA_ROLE_ANNOTATION = "eks.amazonaws.com/role-arn";
/** The audience of the web-identity token EKS's webhook projects. */
export const IRSA_AUDIENCE = "sts.amazonaws.com";

/** `oidc.eks.eu-west-1.amazonaws.com/id/ABC`: the issuer as IAM names it (no scheme, no trailing slash). */
export function issuerHostPath(issuerUrl: string): string {
    const m = /^https:\/\/([^/?#]+(?:\/[^?#]*)?)$/.exec(issuerUrl.trim());
    if (!m?.[1]) throw new Error(`the cluster's OIDC issuer ${JSON.stringify(issuerUrl)} is not an https:// URL; enable the cluster's IAM OIDC provider (eksctl utils associate-iam-oidc-provider)`);
    return m[1].replace(/\/+$/, "");
}

/** The ARN of the cluster's IAM OIDC identity provider (it must exist: `eksctl utils associate-iam-oidc-provider`). */
export function oidcProviderArn(partition: string, accountId: string, issuerUrl: string): string {
    return `arn:${partition}:iam::${accountId}:oidc-provider/${issuerHostPath(issuerUrl)}`;
}

/** Trust policy: only `system:serviceaccount:<namespace>:<sa>` of this cluster, with STS as the token's audience. */
export function irsaTrustPolicy(providerArn: string, issuerUrl: string, namespace: string, serviceAccount: string): string {
    const issuer = issuerHostPath(issuerUrl);
    return JSON.stringify({
        Version: "2012-10-17",
        Statement: [{
            Effect: "Allow",
            Principal: { Federated: providerArn },
            Action: "sts:AssumeRoleWithWebIdentity",
            Condition: {
                StringEquals: {
                    [`${issuer}:sub`]: serviceAccountUsername(namespace, serviceAccount),
                    [`${issuer}:aud`]: IRSA_AUDIENCE,
                },
            },
        }],
    });
}

/** The KMS actions the engine needs: secrets provider (encrypt/decrypt) and the bucket's SSE-KMS (data keys). */
export const STATE_KMS_ACTIONS = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"] as const;
/** The S3 object actions of Pulumi's DIY backend (checkpoints, history, locks). */
export const STATE_OBJECT_ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"] as const;

/**
 * The S3 actions of the API's S3 backup store (api/backups/s3BackupStore.ts): put (single and
 * multipart uploads), get and head, delete, and abort a failed multipart upload.
 */
export const BACKUP_OBJECT_ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"] as const;

function checkPrefix(what: string, prefix: string): void {
    if (prefix === "" || prefix.startsWith("/") || prefix.endsWith("/") || prefix.includes("*")) throw new Error(`${what} prefix ${JSON.stringify(prefix)} must be a relative key prefix without wildcards or surrounding slashes`);
}

/**
 * The role's only policy: list the bucket under the prefix, read/write/delete
 * objects under it, use the one key; with `backupPrefix`, the same for the
 * backups' objects under that prefix (plus aborting their multipart uploads).
 * No wildcard actions, no other bucket, prefix or key.
 */
export function stateAccessPolicy(bucketArn: string, prefix: string, keyArn: string, backupPrefix?: string): string {
    checkPrefix("state", prefix);
    if (backupPrefix !== undefined) {
        checkPrefix("backup", backupPrefix);
        if (backupPrefix === prefix || backupPrefix.startsWith(`${prefix}/`) || prefix.startsWith(`${backupPrefix}/`)) throw new Error(`backup prefix ${JSON.stringify(backupPrefix)} must not overlap the state prefix ${JSON.stringify(prefix)}`);
    }
    const listed = [`${prefix}/*`, ...(backupPrefix === undefined ? [] : [`${backupPrefix}/*`])];
    return JSON.stringify({
        Version: "2012-10-17",
        Statement: [
            { Sid: "ListStatePrefix", Effect: "Allow", Action: "s3:ListBucket", Resource: bucketArn, Condition: { StringLike: { "s3:prefix": listed } } },
            { Sid: "StateObjects", Effect: "Allow", Action: [...STATE_OBJECT_ACTIONS], Resource: `${bucketArn}/${prefix}/*` },
            ...(backupPrefix === undefined ? [] : [{ Sid: "BackupObjects", Effect: "Allow", Action: [...BACKUP_OBJECT_ACTIONS], Resource: `${bucketArn}/${backupPrefix}/*` }]),
            { Sid: "StateKey", Effect: "Allow", Action: [...STATE_KMS_ACTIONS], Resource: keyArn },
        ],
    });
}

/**
 * Lifecycle of the backups' objects in the (versioned) state bucket: a rolled-off
 * backup's deleted version is gone after a day instead of kept forever, and a
 * multipart upload left by a process that died mid-upload is aborted.
 */
export function backupLifecycleRule(backupPrefix: string): {
    id: string; status: "Enabled"; filter: { prefix: string };
    noncurrentVersionExpiration: { noncurrentDays: number }; abortIncompleteMultipartUpload: { daysAfterInitiation: number };
} {
    checkPrefix("backup", backupPrefix);
    return {
        id: "backups",
        status: "Enabled",
        filter: { prefix: `${backupPrefix}/` },
        noncurrentVersionExpiration: { noncurrentDays: 1 },
        abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
    };
}

/** PULUMI_BACKEND_URL of the on-demand stacks: the bucket's prefix, in the stack's region. */
export function stateBackendUrl(bucket: string, prefix: string, region: string): string {
    return `s3://${bucket}/${prefix}?region=${encodeURIComponent(region)}`;
}

/** DBAAS_SECRETS_PROVIDER: the key by its alias (`alias/dbaas-prod-state`). */
export function kmsSecretsProviderUrl(aliasName: string, region: string): string {
    if (!aliasName.startsWith("alias/")) throw new Error(`KMS alias ${JSON.stringify(aliasName)} must start with alias/`);
    return `awskms://${aliasName}?region=${encodeURIComponent(region)}`;
}
