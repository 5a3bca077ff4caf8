/**
 * The API's backup, retention and notification settings travel from the stack
 * config to the API on both platform targets, under mocks: the docker API
 * containers' env and uploads (dev, and prod's file on the docker target with
 * its own bucket), the kubernetes Deployment's env and Secret volume (prod,
 * staging: the S3 store in the state bucket with its key). The SMTP URL, a
 * secret, arrives as a 0400 file (docker) or a Secret key (kubernetes) and
 * never in plain env or any non-secret input.
 */
import { beforeAll, describe, expect, it, vi } from "vitest";
import { loadApiConfig } from "../../api/config";
import { installMocks, plain, settle, stackConfig, type RecordedResource, type Recorder } from "../support/harness";
import { requireBinaries } from "../support/requirements";
import { selfSignedCertificate, type TestCertificate } from "../support/tls";

const missing = requireBinaries(["openssl"], "apt-get install openssl");
let cert: TestCertificate;
beforeAll(() => {
    if (!missing) cert = selfSignedCertificate("dbaas.example.com");
});

const SMTP_URL = "smtps://mailer:smtp-pw-0123456789@mail.example.com:465";
const SMTP_FILE = "/run/secrets/dbaas/smtp-url";

async function run(stack: "dev" | "prod" | "staging", overrides: Record<string, unknown> = {}, smtp = true): Promise<Recorder> {
    vi.resetModules();
    const secrets: Record<string, string> = {
        ...(stack === "dev" ? {} : { "dbaas:tlsCertificateChain": cert.certPem, "dbaas:tlsPrivateKey": cert.keyPem }),
        ...(smtp ? { "dbaas:smtpUrl": SMTP_URL } : {}),
    };
    const rec = await installMocks({ project: "dbaas", stack, preview: false, config: stackConfig(`Pulumi.${stack}.yaml`, { ...secrets, ...overrides }), secretKeys: Object.keys(secrets) });
    await import("../../infra");
    await settle();
    return rec;
}

const envOf = (entries: string[]): Record<string, string> => Object.fromEntries(entries.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
const apiContainers = (rec: Recorder) => rec.ofType("docker:index/container:Container").filter((c) => /^api-\d+$/.test(c.name));
interface Upload { file: string; content?: string; permissions?: string; owner?: string }
/** Every input of the resource that the program did not mark secret, as text. */
const plainInputs = (r: RecordedResource) => JSON.stringify(Object.fromEntries(Object.entries(r.inputs).filter(([k]) => !r.secretInputs.has(k))));

describe.skipIf(missing)("the API's backup and notification settings on the docker target", () => {
    it("dev: the directory store with the stack's retention, the From address, the SMTP URL as a 0400 secret file", async () => {
        const rec = await run("dev");
        const apis = apiContainers(rec);
        expect(apis.length).toBeGreaterThan(0);
        for (const a of apis) {
            const env = envOf(plain(a.inputs.envs) as string[]);
            expect(env).toMatchObject({
                DBAAS_BACKUP_STORE: "directory", DBAAS_BACKUP_KEEP_COUNT: "3", DBAAS_BACKUP_KEEP_DAYS: "7", DBAAS_BACKUP_ROLLOFF_INTERVAL_SECONDS: "3600",
                DBAAS_BACKUP_MAX_CONCURRENT: "2", DBAAS_BACKUP_TIMEOUT_SECONDS: "3600",
                DBAAS_SMTP_FROM: "dbaas@dbaas.localhost", DBAAS_NOTIFY_TIMEOUT_SECONDS: "10", DBAAS_NOTIFY_MAX_ATTEMPTS: "8", DBAAS_EXPIRY_WARNING_HOURS: "24",
                DBAAS_SMTP_URL_FILE: SMTP_FILE,
            });
            expect(Object.keys(env).filter((k) => k.startsWith("DBAAS_BACKUP_S3_") || k === "DBAAS_SMTP_URL" || k === "DBAAS_WEBHOOK_HOSTS")).toEqual([]);
            const smtp = (plain(a.inputs.uploads) as Upload[]).find((u) => u.file === SMTP_FILE);
            expect(smtp).toMatchObject({ content: SMTP_URL, permissions: "0400", owner: "1000" });
            expect(a.secretInputs.has("uploads")).toBe(true);
            expect(plainInputs(a)).not.toContain("smtp-pw-0123456789");
            // What the API makes of it: the same settings, read back by its own parser.
            const config = loadApiConfig({ ...env, DBAAS_CATALOG_FILE: undefined, DBAAS_TOKENS_FILE: undefined, DBAAS_SMTP_URL_FILE: undefined, DBAAS_PULUMI_PASSPHRASE_FILE: undefined, DATABASE_URL_FILE: undefined, NODE_EXTRA_CA_CERTS: undefined });
            expect(config.backups).toMatchObject({ store: { kind: "directory", dir: "/data/backups" }, keepCount: 3, maxAgeMs: 7 * 86_400_000 });
            expect(config.notifications).toMatchObject({ smtpFrom: "dbaas@dbaas.localhost", webhookHosts: undefined });
        }
    });

    it("dev without smtpUrl: no SMTP file and no DBAAS_SMTP_URL_FILE", async () => {
        const rec = await run("dev", {}, false);
        for (const a of apiContainers(rec)) {
            expect(envOf(plain(a.inputs.envs) as string[]).DBAAS_SMTP_URL_FILE).toBeUndefined();
            expect((plain(a.inputs.uploads) as Upload[]).map((u) => u.file)).not.toContain(SMTP_FILE);
        }
    });

    it("prod's file on the docker target: the S3 store in the bucket it names, its region from aws.region, KMS key and endpoint; webhook hosts and fetch URL", async () => {
        const rec = await run("prod", {
            "dbaas:platform": { target: "docker" },
            "dbaas:backups": { store: "s3", keepCount: 5, fetchBaseUrl: "https://dbaas.example.com", s3: { bucket: "dbaas-prod-backups", prefix: "prod/backups", kmsKeyId: "alias/dbaas-backups", endpoint: "https://s3.internal.example.com" } },
        });
        for (const a of apiContainers(rec)) {
            const env = envOf(plain(a.inputs.envs) as string[]);
            expect(env).toMatchObject({
                DBAAS_BACKUP_STORE: "s3", DBAAS_BACKUP_KEEP_COUNT: "5", DBAAS_BACKUP_FETCH_BASE_URL: "https://dbaas.example.com",
                DBAAS_BACKUP_S3_BUCKET: "dbaas-prod-backups", DBAAS_BACKUP_S3_PREFIX: "prod/backups", DBAAS_BACKUP_S3_REGION: "eu-west-1",
                DBAAS_BACKUP_S3_KMS_KEY_ID: "alias/dbaas-backups", DBAAS_BACKUP_S3_ENDPOINT: "https://s3.internal.example.com",
                DBAAS_WEBHOOK_HOSTS: "hooks.example.com", DBAAS_SMTP_FROM: "dbaas@example.com",
            });
            expect(Object.keys(env).filter((k) => /^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN)$/.test(k))).toEqual([]);
            expect(plainInputs(a)).not.toContain("smtp-pw-0123456789");
        }
        // No IAM is declared for the docker target: the Docker host's own identity reaches its bucket.
        expect(rec.ofType("aws:iam/rolePolicy:RolePolicy")).toEqual([]);
    });
});

describe.skipIf(missing).each(["prod", "staging"] as const)("the API's backup and notification settings on the kubernetes target (%s)", (stack) => {
    let rec: Recorder;
    beforeAll(async () => {
        rec = await run(stack);
    });
    const container = () => {
        const spec = plain(rec.one("kubernetes:apps/v1:Deployment", "api-deployment").inputs.spec) as { template: { spec: { containers: { env: { name: string; value?: string }[]; volumeMounts: { name: string; mountPath: string }[] }[]; volumes: { name: string; secret?: { secretName: string; items: { key: string; path: string }[] } }[] } } };
        return { pod: spec.template.spec, c: spec.template.spec.containers[0] };
    };

    it("puts backups in the state bucket under backups.s3.prefix with the state key, and the stack's retention and notifications in env", () => {
        const file = JSON.parse(stackConfig(`Pulumi.${stack}.yaml`)["dbaas:backups"] ?? "{}") as { keepCount: number; keepDays: number; fetchBaseUrl: string; s3: { prefix: string } };
        const env = Object.fromEntries((container().c?.env ?? []).map((e) => [e.name, e.value]));
        expect(env).toMatchObject({
            DBAAS_BACKUP_STORE: "s3", DBAAS_BACKUP_KEEP_COUNT: String(file.keepCount), DBAAS_BACKUP_KEEP_DAYS: String(file.keepDays), DBAAS_BACKUP_FETCH_BASE_URL: file.fetchBaseUrl,
            DBAAS_BACKUP_S3_BUCKET: "api-state-bucket-0a1b2c3", DBAAS_BACKUP_S3_PREFIX: file.s3.prefix, DBAAS_BACKUP_S3_REGION: "eu-west-1",
            DBAAS_BACKUP_S3_KMS_KEY_ID: "arn:aws:kms:eu-west-1:123456789012:key/api-state-key",
            DBAAS_SMTP_URL_FILE: SMTP_FILE,
        });
        expect(env.DBAAS_BACKUP_S3_ENDPOINT).toBeUndefined();
        expect(env.DBAAS_SMTP_URL).toBeUndefined();
    });

    it("hands the SMTP URL over in the API's Secret, mounted as a file, never in the Deployment", () => {
        const secret = rec.one("kubernetes:core/v1:Secret", "api-secrets");
        expect(secret.secretInputs.has("stringData")).toBe(true);
        expect(plain(secret.inputs.stringData)).toMatchObject({ "smtp-url": SMTP_URL });
        const { pod } = container();
        expect(pod.volumes.find((v) => v.name === "secrets")?.secret?.items).toEqual([{ key: "database-url", path: "database-url" }, { key: "smtp-url", path: "smtp-url" }]);
        const deployment = rec.one("kubernetes:apps/v1:Deployment", "api-deployment");
        expect(JSON.stringify(deployment.inputs)).not.toContain("smtp-pw-0123456789");
    });

    it("expires the deleted versions of rolled-off backups and abandoned uploads under the backups' prefix only", () => {
        const prefix = (JSON.parse(stackConfig(`Pulumi.${stack}.yaml`)["dbaas:backups"] ?? "{}") as { s3: { prefix: string } }).s3.prefix;
        const rules = plain(rec.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs.rules);
        expect(rules).toEqual([{ id: "backups", status: "Enabled", filter: { prefix: `${prefix}/` }, noncurrentVersionExpiration: { noncurrentDays: 1 }, abortIncompleteMultipartUpload: { daysAfterInitiation: 1 } }]);
    });
});
