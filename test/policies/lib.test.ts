/**
 * The pure helpers behind the policies: image references, quantities,
 * secret-looking names, open CIDRs, and where the version catalog comes from.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { inCatalog, isPostgresImage, matchesCatalogEntry, parseImage, unpinnedReason } from "../../policies/lib/imageRef";
import { parseQuantity, sameQuantity } from "../../policies/lib/quantity";
import { looksLikeSecretName, secretValueReason } from "../../policies/lib/secretNames";
import { acmeChallengeDirsOfStackConfig, DEFAULT_NAMESPACE_PREFIX, ondemandPublishIp, resolveCatalog, stackEnvironment } from "../../policies/lib/stackSource";
import { isOpenRange } from "../../policies/rules/exposure";

describe.each([
    ["postgres:17.2", undefined],
    ["postgres", /no tag or digest/],
    ["postgres:latest", /tag "latest"/],
    [`postgres@sha256:${"a".repeat(64)}`, undefined],
    [`sha256:${"a".repeat(64)}`, undefined],
    ["localhost:5000/team/api:1.2", undefined],
    ["localhost:5000/team/api", /no tag or digest/],
    ["Postgres:17", /not a valid image reference/],
    ["postgres:17@sha256:xyz", /not a valid image reference/],
])("unpinnedReason(%s)", (image, reason) => {
    it(reason ? `refuses: ${String(reason)}` : "accepts", () => {
        const got = unpinnedReason(image);
        if (reason) expect(got).toMatch(reason);
        else expect(got).toBeUndefined();
    });
});

describe("parseImage", () => {
    it("normalises Docker Hub prefixes and keeps registry ports out of the tag", () => {
        expect(parseImage("docker.io/library/postgres:16")).toEqual({ kind: "reference", ref: { repository: "postgres", tag: "16" } });
        expect(parseImage("localhost:5000/pg")).toEqual({ kind: "reference", ref: { repository: "localhost:5000/pg" } });
    });
});

describe.each([
    ["postgres:17", true], ["bitnami/postgresql:17.2.0", true], ["registry.example.com/team/postgres-custom:16", true],
    ["nginx:1.27", false], ["team/pgbouncer:1", false], ["my-postgres-exporter:1", false], [`sha256:${"a".repeat(64)}`, false],
])("isPostgresImage(%s)", (image, expected) => {
    it(`is ${String(expected)}`, () => expect(isPostgresImage(image)).toBe(expected));
});

const DIGEST = `sha256:${"9".repeat(64)}`;
describe.each([
    ["postgres:17.2", "postgres:17.2", true],
    [`postgres:17.2@${DIGEST}`, "postgres:17.2", true],
    ["docker.io/library/postgres:17.2", "postgres:17.2", true],
    ["postgres:17.3", "postgres:17.2", false],
    ["postgres:17", "postgres:17.2", false],
    ["mirror.example.com/postgres:17.2", "postgres:17.2", false],
    [`postgres@${DIGEST}`, `postgres@${DIGEST}`, true],
    [`postgres:17@${DIGEST}`, `postgres@${DIGEST}`, true],
    ["postgres:17", `postgres@${DIGEST}`, false],
])("matchesCatalogEntry(%s, %s)", (image, entry, expected) => {
    it(`is ${String(expected)}`, () => expect(matchesCatalogEntry(image, entry)).toBe(expected));
});

it("inCatalog is false for an empty catalog", () => {
    expect(inCatalog("postgres:17.2", [])).toBe(false);
});

describe.each([
    ["1Gi", 2 ** 30], ["1024Mi", 2 ** 30], ["500m", 0.5], ["2", 2], [2, 2], ["1.5G", 1.5e9], ["1e3", 1000], ["12Qi", undefined], ["", undefined], [undefined, undefined],
])("parseQuantity(%s)", (q, value) => {
    it(`is ${String(value)}`, () => expect(parseQuantity(q)).toBe(value));
});

it("sameQuantity compares values, not spellings", () => {
    expect(sameQuantity("1Gi", "1024Mi")).toBe(true);
    expect(sameQuantity("1", "1000m")).toBe(true);
    expect(sameQuantity("1G", "1Gi")).toBe(false);
    expect(sameQuantity("1Gi", undefined)).toBe(false);
});

describe.each([
    ["POSTGRES_PASSWORD", true], ["PGPASSWORD", true], ["POSTGRES_PASSWORD_FILE", false], ["jwtSecret", true], ["API_KEY", true],
    ["tls.key", true], ["db.password", true], ["AWS_SECRET_ACCESS_KEY", true], ["AWS_ACCESS_KEY_ID", false], ["KEYCLOAK_URL", false],
    ["SECRET_NAME", false], ["TOKEN_TTL_SECONDS", false], ["GITHUB_TOKEN", true], ["PGDATA", false], ["PORT", false], ["restore.sh", false],
    ["DBAAS_SECRETS_PROVIDER", false], ["AWS_SESSION_TOKEN", true],
])("looksLikeSecretName(%s)", (name, expected) => {
    it(`is ${String(expected)}`, () => expect(looksLikeSecretName(name)).toBe(expected));
});

it("secretValueReason spots URLs with passwords and private keys, not plain URLs", () => {
    expect(secretValueReason("postgresql://app:pw@db:5432/app")).toMatch(/URL with a password/);
    expect(secretValueReason("-----BEGIN EC PRIVATE KEY-----")).toMatch(/private key/);
    expect(secretValueReason("https://backups.example.com/x.sql")).toBeUndefined();
    expect(secretValueReason("postgresql://app@db/app")).toBeUndefined();
});

describe.each([
    ["0.0.0.0/0", true], ["::/0", true], ["0.0.0.0", true], ["10.0.0.0/8", false], ["2001:db8::/48", false], ["203.0.113.7/32", false],
])("isOpenRange(%s)", (cidr, expected) => {
    it(`is ${String(expected)}`, () => expect(isOpenRange(cidr)).toBe(expected));
});

describe("where the catalog comes from", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-policy-catalog-"));
    const stackFile = (images: string[]) => `config:\n  dbaas:postgres:\n    versions:\n${images.map((i, n) => `      - label: V${n}\n        image: ${i}\n`).join("")}`;
    fs.writeFileSync(path.join(root, "Pulumi.dev.yaml"), stackFile(["postgres:17.2"]));
    fs.writeFileSync(path.join(root, "Pulumi.prod.yaml"), stackFile(["postgres:16.6", "postgres:17.2"]));
    afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
    const envConfig = { "dbaas:postgres": JSON.stringify({ versions: [{ label: "PostgreSQL 18", image: "postgres:18.1" }] }) };

    it("1. the policy config wins", () => {
        expect(resolveCatalog(["postgres:9.6"], { project: "dbaas", stack: "dev", config: envConfig }, root)).toEqual({ images: ["postgres:9.6"], source: "the policy config (allowedImages)" });
    });
    it("2. then the previewed platform stack's config (PULUMI_CONFIG)", () => {
        expect(resolveCatalog([], { project: "dbaas", stack: "dev", config: envConfig }, root).images).toEqual(["postgres:18.1"]);
    });
    it("3. then Pulumi.<stack>.yaml", () => {
        expect(resolveCatalog(undefined, { project: "dbaas", stack: "prod" }, root)).toEqual({ images: ["postgres:16.6", "postgres:17.2"], source: "Pulumi.prod.yaml" });
    });
    it("4. for the on-demand project: every platform catalog together", () => {
        const r = resolveCatalog(undefined, { project: "dbaas-db", stack: "orders", config: { "dbaas-db:database": "{}" } }, root);
        expect(r.images).toEqual(["postgres:17.2", "postgres:16.6"]);
        expect(r.source).toBe("the stack files Pulumi.dev.yaml, Pulumi.prod.yaml");
    });
    it("finds nothing in a directory without stack files (the policy then refuses every Postgres image)", () => {
        expect(resolveCatalog(undefined, {}, os.tmpdir() + "/does-not-exist").images).toEqual([]);
    });
    it("reads the CLI's environment", () => {
        const env = stackEnvironment({ PULUMI_PROJECT: "dbaas-db", PULUMI_STACK: "orders", PULUMI_CONFIG: JSON.stringify({ "dbaas-db:database": JSON.stringify({ target: { kind: "docker", publish_ip: "10.0.0.5" } }) }) });
        expect(env.project).toBe("dbaas-db");
        expect(ondemandPublishIp(env)).toBe("10.0.0.5");
        expect(stackEnvironment({ PULUMI_CONFIG: "not json" }).config).toBeUndefined();
    });
});

it("the namespace prefix default is the config schema's", () => {
    expect(DEFAULT_NAMESPACE_PREFIX).toBe("devdb-");
});

describe.each([
    [{ "dbaas:tls": { mode: "selfSigned" } }, ["/var/www/acme"]],
    [{ "dbaas:tls": JSON.stringify({ mode: "provided", acmeChallengeDir: "/srv/acme" }) }, ["/srv/acme"]],
    [{ "dbaas:tls": { acmeChallengeDir: "relative" } }, undefined],
    [{}, undefined],
])("acmeChallengeDirsOfStackConfig(%j)", (config, expected) => {
    it(`is ${JSON.stringify(expected)}`, () => expect(acmeChallengeDirsOfStackConfig(config)).toEqual(expected));
});
