/**
 * The Reports page in Debian's chromium (playwright-core) against the real
 * API (real admin database, engine test double, kubernetes target so the
 * cost has cores and storage) serving the dashboard built with Vite into a
 * directory of this file's own (the other dashboard test builds
 * dashboard/dist at the same time). The admin database is seeded with a
 * week of size samples, a long restart and an old image, so the four charts
 * have something to draw; an admin sees every database and a user its own.
 * Any console error (a CSP violation included) fails the suite.
 *
 * The screenshot goes to a temporary directory; with UPDATE_SCREENSHOTS=1 it
 * replaces docs/dashboard-reports.png (docs/metrics-and-reports.md's).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type Browser, type BrowserContext, type Page } from "playwright-core";
import { CHROMIUM, launchChromium } from "../support/chromium";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeStackEngine } from "../support/fakeEngine";
import { sharedPostgres, type PostgresServer } from "../support/postgres";
import { requireBinaries } from "../support/requirements";
import { createBody, sqlIn, startTestApi, TOKENS, waitForState, type TestApi } from "../support/testApi";

const missing = requireBinaries([CHROMIUM], "apt-get install chromium (listed in .ci/run)");
const ROOT = path.resolve(__dirname, "../..");
const DIST = fs.mkdtempSync(path.join(os.tmpdir(), "dashboard-reports-dist-"));
const SHOTS = process.env.UPDATE_SCREENSHOTS === "1" ? path.join(ROOT, "docs") : fs.mkdtempSync(path.join(os.tmpdir(), "reports-shots-"));

let pg: PostgresServer | undefined;
let api: TestApi | undefined;
let browser: Browser | undefined;
let context: BrowserContext;
const consoleErrors: string[] = [];

const DATABASES = [
    ["shop-db", "alice", "shop"], ["shop-search", "alice", "shop"], ["ledger", "bob", "finance"], ["reports-db", "bob", "finance"],
] as const;

async function seed(a: TestApi): Promise<void> {
    a.engine.script("up", "etl-broken", { failTimes: Infinity, failWith: "program" });
    for (const [name, owner, project] of [...DATABASES, ["etl-broken", "alice", "shop"] as const]) {
        const r = await a.call(owner, "POST", "/databases", { body: createBody(name, { project_id: project }, owner) });
        expect(r.status, r.text).toBe(202);
    }
    for (const [name] of DATABASES) await waitForState(a, name, "ready");
    await waitForState(a, "etl-broken", "failed");
    // A week of history: everything began 7 days ago (etl-broken failed just now), sizes grew hourly, ledger had a 3-hour restart.
    await sqlIn(pg!, a.databaseUrl, `
        UPDATE databases SET created_at = created_at - interval '7 days';
        UPDATE operations SET created_at = created_at - interval '7 days', started_at = started_at - interval '7 days', finished_at = finished_at - interval '7 days'
            WHERE database_id <> (SELECT id FROM databases WHERE name = 'etl-broken');
        INSERT INTO operations (database_id, kind, status, attempts, requested_by, created_at, started_at, finished_at)
            SELECT id, 'restart', 'succeeded', 1, 'bob', now() - interval '3 days', now() - interval '3 days', now() - interval '3 days' + interval '3 hours'
            FROM databases WHERE name = 'ledger';
        UPDATE databases SET spec = jsonb_set(spec, '{image}', '"postgres:17.1"') WHERE name = 'reports-db';
        INSERT INTO database_size_samples (database_id, at, database_bytes, volume_bytes)
            SELECT d.id, now() - make_interval(hours => h), (d.id * 200 + (168 - h) * 3) * 1048576::bigint, (d.id * 300 + (168 - h) * 4 + 512) * 1048576::bigint
            FROM databases d, generate_series(0, 167) AS h WHERE d.state = 'ready';`);
}

async function signedIn(token: string): Promise<Page> {
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on("console", (m) => {
        if (m.type() === "error") consoleErrors.push(m.text());
    });
    page.on("pageerror", (e) => consoleErrors.push(e.message));
    await page.goto(`${api!.url}/`);
    await page.getByLabel("API token").fill(token);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("link", { name: "Reports", exact: true }).click();
    await page.getByRole("heading", { name: "Reports", level: 1 }).waitFor();
    await page.locator("#reports-status", { hasText: /h to/ }).waitFor();
    return page;
}

describe.skipIf(missing)("the Reports page in chromium", () => {
    beforeAll(async () => {
        const [, server] = await Promise.all([
            build({ configFile: path.join(ROOT, "dashboard/vite.config.ts"), logLevel: "error", build: { outDir: DIST, emptyOutDir: true } }),
            sharedPostgres(),
        ]);
        pg = server;
        // dashboard.ts reads it when the routes are registered, in this test process only.
        process.env.DBAAS_DASHBOARD_DIR = DIST;
        api = await startTestApi(pg, {
            engine: new FakeStackEngine({ delayMs: 20, resources: 1 }),
            env: { DBAAS_TARGET: "kubernetes", DBAAS_PRICE_GB_HOUR: "0.0002", DBAAS_PRICE_CORE_HOUR: "0.04" },
        });
        await seed(api);
        browser = await launchChromium();
        context = await browser.newContext({ viewport: { width: 1100, height: 900 }, locale: "en-GB", timezoneId: "UTC" });
    });

    afterAll(async () => {
        await browser?.close();
        await api?.close(200);
        delete process.env.DBAAS_DASHBOARD_DIR;
        fs.rmSync(DIST, { recursive: true, force: true });
        if (process.env.UPDATE_SCREENSHOTS !== "1") fs.rmSync(SHOTS, { recursive: true, force: true });
    });

    it("shows an admin every database: four drawn charts, the counts, the unpatched database and the cost", async () => {
        const page = await signedIn(TOKENS.admin);
        expect(await page.getByTestId("total").textContent()).toBe("5");
        expect(await page.getByTestId("failures").textContent()).toBe("1");
        expect(await page.getByTestId("unpatched").textContent()).toBe("1");
        expect(await page.getByTestId("unpatched-table").textContent()).toContain("reports-db");
        expect(Number(await page.getByTestId("cost-total").textContent())).toBeGreaterThan(0);
        // Chart.js drew on every canvas (a blank canvas has no non-transparent pixel).
        const drawn = await page.locator("canvas").evaluateAll((els) => els.map((c) => {
            const canvas = c as HTMLCanvasElement;
            const px = canvas.getContext("2d")?.getImageData(0, 0, canvas.width, canvas.height).data ?? new Uint8ClampedArray();
            let n = 0;
            for (let i = 3; i < px.length; i += 4) if ((px[i] ?? 0) > 0) n++;
            return { id: canvas.id, label: canvas.getAttribute("aria-label") ?? "", painted: n };
        }));
        expect(drawn.map((d) => d.id)).toEqual(["chart-states", "chart-sizes", "chart-downtime", "chart-cost"]);
        for (const d of drawn) expect(d.painted, d.id).toBeGreaterThan(500);
        // The text alternatives carry the figures: ledger's 3 hours down in 7 days is about 1.8 %.
        expect(drawn.find((d) => d.id === "chart-downtime")?.label).toMatch(/ledger 1\.7\d* %/);
        expect(drawn.find((d) => d.id === "chart-states")?.label).toBe("Databases by state: failed 1, ready 4");
        await page.screenshot({ path: path.join(SHOTS, "dashboard-reports.png"), fullPage: true });

        await page.getByLabel("Window").selectOption("24h");
        await page.locator("#reports-status", { hasText: "24 h to" }).waitFor();
        expect(await page.getByTestId("total").textContent()).toBe("5");
        await page.close();
    });

    it("shows a user its own databases only", async () => {
        const page = await signedIn(TOKENS.bob);
        expect(await page.locator("#reports-status").textContent()).toMatch(/^Your databases/);
        expect(await page.getByTestId("total").textContent()).toBe("2");
        const projects = await page.getByTestId("projects-table").textContent();
        expect(projects).toContain("finance");
        expect(projects).not.toContain("shop");
        await page.close();
    });

    it("logged no console error (CSP included)", () => {
        expect(consoleErrors).toEqual([]);
    });
});
