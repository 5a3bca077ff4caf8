/**
 * The pure decisions behind the on-demand components, tested directly:
 * naming, exposure, network rules, sizes, and the shell snippets of the
 * fetch/restore steps (shellcheck-clean, and the fetch step's skip logic run
 * for real with sh).
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import ipaddr from "ipaddr.js";
import { describe, expect, it } from "vitest";
import {
    BLOCKED_EGRESS_V4, connectionUri, fetchFailure, fetchResources, fetchScript, guaranteedResources, initdbScript, limitRangeItems,
    namespaceName, networkPolicySpec, publishedHost, quotaHard, readinessCommand, serviceSpec, stableLabels,
} from "../../../components/ondemand";
import { requireBinaries } from "../../support/requirements";
import { LABELS } from "../../../contracts/labels";

describe("namespaceName", () => {
    it.each([
        ["devdb-", "orders", "devdb-orders"],
        ["team-a-", "x1", "team-a-x1"],
    ])("%s + %s = %s", (prefix, name, expected) => expect(namespaceName(prefix, name)).toBe(expected));

    it.each([
        ["devdb-", "a".repeat(58)],
        ["Dev-", "orders"],
    ])("refuses %s + %s", (prefix, name) => expect(() => namespaceName(prefix, name)).toThrow(/namespace_prefix \+ name/));
});

describe("connectionUri", () => {
    it.each([
        [{ user: "postgres", password: "p@ss:/word", host: "db.example.com", port: 5432, database: "orders" }, "postgresql://postgres:p%40ss%3A%2Fword@db.example.com:5432/orders"],
        [{ user: "postgres", password: "x", host: "2001:db8::1", port: 49153, database: "a-b" }, "postgresql://postgres:x@[2001:db8::1]:49153/a-b"],
    ])("%#", (parts, expected) => expect(connectionUri(parts)).toBe(expected));
});

it("stableLabels leave out only the expiry", () => {
    const labels = stableLabels({ name: "orders", owner: "o", project_id: "p", expires_at: "2026-01-01T00:00:00Z" });
    expect(labels[LABELS.expiresAt]).toBeUndefined();
    expect(Object.keys(labels).sort()).toEqual([LABELS.database, LABELS.managedBy, LABELS.owner, LABELS.project].sort());
});

describe("serviceSpec", () => {
    it.each([
        [[], "ClusterIP", undefined],
        [["203.0.113.7/32"], "LoadBalancer", ["203.0.113.7/32"]],
        [["0.0.0.0/0"], "LoadBalancer", ["0.0.0.0/0"]],
    ])("ranges %j → %s with %j", (ranges, type, lbRanges) => {
        const spec = serviceSpec(ranges, { app: "x" }) as { type: string; loadBalancerSourceRanges?: string[] };
        expect(spec.type).toBe(type);
        expect(spec.loadBalancerSourceRanges).toEqual(lbRanges);
    });
});

describe("networkPolicySpec", () => {
    it.each([
        [[], false, 0, ["UDP/53", "TCP/53"]],
        [["198.51.100.0/24"], false, 1, ["UDP/53", "TCP/53"]],
        [["198.51.100.0/24", "2001:db8::/32"], true, 1, ["UDP/53", "TCP/53", "TCP/443"]],
    ])("ranges %j, fetch %s: %i ingress rules, egress %j", (ranges, fetches, ingressRules, egress) => {
        const spec = networkPolicySpec({ podSelector: { a: "b" }, sourceRanges: ranges, fetchesBackup: fetches });
        expect(spec.ingress).toHaveLength(ingressRules);
        expect(spec.ingress.flatMap((r) => r.from.map((f) => f.ipBlock.cidr))).toEqual(ranges);
        expect(spec.egress.flatMap((e) => e.ports.map((p) => `${p.protocol}/${p.port}`))).toEqual(egress);
    });

    it("never lets HTTPS reach private, loopback or metadata addresses", () => {
        const spec = networkPolicySpec({ podSelector: {}, sourceRanges: [], fetchesBackup: true });
        const except = spec.egress.flatMap((e) => e.to.flatMap((t) => ("ipBlock" in t ? t.ipBlock.except : [])));
        // Each range is excluded itself or inside a wider excluded range (fc00::/7 inside 8000::/1).
        const covered = (cidr: string) => {
            const [net, len] = ipaddr.parseCIDR(cidr);
            return except.some((e) => {
                const range = ipaddr.parseCIDR(e);
                return range[0].kind() === net.kind() && range[1] <= len && net.match(range);
            });
        };
        for (const cidr of ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16", "169.254.169.254/32", "fc00::/7", "fe80::/10", "::1/128", "fd00:ec2::254/128"]) {
            expect(covered(cidr), cidr).toBe(true);
        }
        expect(covered("8.8.8.0/24")).toBe(false);
        expect(covered("2600::/16")).toBe(false);
        expect(BLOCKED_EGRESS_V4).toContain("100.64.0.0/10");
    });
});

describe("sizes", () => {
    it.each([
        [{ memory_mb: 2048, cpu_millicores: 1500 }, { cpu: "1500m", memory: "2048Mi" }],
        [{ memory_mb: 128, cpu_millicores: 100 }, { cpu: "100m", memory: "128Mi" }],
    ])("guaranteedResources(%j): requests = limits = %j", (size, expected) => {
        const r = guaranteedResources(size);
        expect(r.requests).toEqual(expected);
        expect(r.limits).toEqual(expected);
    });

    it.each([
        [{ memory_mb: 4096, cpu_millicores: 2000 }, { memory_mb: 128, cpu_millicores: 250 }],
        [{ memory_mb: 128, cpu_millicores: 100 }, { memory_mb: 128, cpu_millicores: 100 }],
    ])("the fetch step never exceeds the database (%j → %j)", (size, expected) => expect(fetchResources(size)).toEqual(expected));

    it.each([[true, "1"], [false, "0"]])("quota with exposed=%s allows %s load balancer(s)", (exposed, lbs) => {
        const hard = quotaHard({ memory_mb: 1024, cpu_millicores: 500, storage_gb: 5 }, exposed);
        expect(hard["services.loadbalancers"]).toBe(lbs);
        expect(hard).toMatchObject({ pods: "1", "requests.cpu": "500m", "limits.memory": "1024Mi", "requests.storage": "5Gi", persistentvolumeclaims: "1" });
    });

    it("the LimitRange's container default fits under its max", () => {
        const [container] = limitRangeItems({ memory_mb: 256, cpu_millicores: 100, storage_gb: 1 });
        expect(container?.default).toEqual({ cpu: "100m", memory: "128Mi" });
        expect(container?.max).toEqual({ cpu: "100m", memory: "256Mi" });
    });
});

describe("publishedHost", () => {
    it.each([
        ["unix:///var/run/docker.sock", "127.0.0.1", "127.0.0.1"],
        ["unix:///var/run/docker.sock", "0.0.0.0", "localhost"],
        ["tcp://docker.internal:2376", "0.0.0.0", "docker.internal"],
        ["ssh://deploy@10.1.2.3", "::", "10.1.2.3"],
    ])("%s on %s → %s", (dockerHost, ip, expected) => expect(publishedHost(dockerHost, ip)).toBe(expected));
});

describe("fetchFailure (the Docker fetch step's exit)", () => {
    it.each([
        [undefined, undefined, undefined],
        [0, "restore: fetched https://x into /f (custom, 10 bytes)\n", undefined],
        [1, "restore: downloading https://x\nrestore: download failed: HTTP 404 from https://x — check the URL\n", "fetching backup_location failed (exit 1): restore: download failed: HTTP 404 from https://x — check the URL"],
        [137, "", "fetching backup_location failed (exit 137): no output; see docker logs of the fetch container"],
    ])("exit %s → %s", (code, logs, expected) => expect(fetchFailure(code, logs)).toBe(expected));
});

describe("readinessCommand", () => {
    it("checks the marker before pg_isready, over TCP", () => {
        const [, , check] = readinessCommand("dbaas-restore.done");
        expect(check).toMatch(/^test -f "\/var\/lib\/postgresql\/data\/restore\/dbaas-restore.done" && pg_isready .*-h 127\.0\.0\.1/);
    });
    it.each(["../x", "a b", "x;rm"])("refuses the marker name %j", (name) => expect(() => readinessCommand(name)).toThrow(/plain file name/));
});

const noShellcheck = requireBinaries(["shellcheck"], "apt-get install shellcheck");
describe.skipIf(noShellcheck)("generated shell is shellcheck-clean", () => {
    it.each([
        ["fetch (kubernetes)", `#!/bin/sh\n${fetchScript()}`],
        ["fetch (docker, chown)", `#!/bin/sh\n${fetchScript(999)}`],
        ["initdb hook", initdbScript()],
        ["readiness", `#!/bin/sh\n${readinessCommand("dbaas-restore.done")[2] ?? ""}\n`],
    ])("%s", (_what, script) => {
        const r = spawnSync("shellcheck", ["-s", "sh", "-"], { input: script, encoding: "utf8" });
        expect(r.stdout + r.stderr).toBe("");
        expect(r.status).toBe(0);
    });
});

describe("the fetch step skips a database that already exists", () => {
    it.each([
        ["marker present", (dir: string) => fs.writeFileSync(path.join(dir, "restore", "dbaas-restore.done"), "")],
        ["PGDATA initialised", (dir: string) => fs.writeFileSync(path.join(dir, "pgdata", "PG_VERSION"), "17")],
    ])("%s: exits 0 without running the restore script", (_what, prepare) => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ondemand-fetch-"));
        try {
            fs.mkdirSync(path.join(dir, "restore"));
            fs.mkdirSync(path.join(dir, "pgdata"));
            prepare(dir);
            const out = execFileSync("sh", ["-c", fetchScript()], {
                encoding: "utf8",
                env: { PATH: process.env.PATH ?? "", PGDATA: path.join(dir, "pgdata"), RESTORE_MARKER_DIR: path.join(dir, "restore"), RESTORE_MARKER: "dbaas-restore.done", FETCH_TO: path.join(dir, "restore", "backup"), BACKUP_URL: "https://example.invalid/x" },
            });
            expect(out).toContain("nothing to download");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("otherwise runs the fetch script (absent here, so sh fails)", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ondemand-fetch-"));
        try {
            const r = spawnSync("sh", ["-c", fetchScript()], {
                encoding: "utf8",
                env: { PATH: process.env.PATH ?? "", PGDATA: path.join(dir, "pgdata"), RESTORE_MARKER_DIR: path.join(dir, "restore"), RESTORE_MARKER: "m", FETCH_TO: path.join(dir, "restore", "backup"), BACKUP_URL: "https://example.invalid/x" },
            });
            expect(r.status).not.toBe(0);
            expect(r.stderr).toContain("/opt/dbaas/restore/fetch.sh");
            expect(fs.existsSync(path.join(dir, "restore"))).toBe(true);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
