/**
 * The Rollouts page in Debian's chromium (playwright-core) against the real
 * API (real admin database, engine test double) serving the dashboard built
 * with Vite into a directory of this file's own. Three databases run an older
 * image than the catalog's; an admin starts a rollout from the page, sees it
 * stop at the scripted failure of the second with the reason, resumes it and
 * sees it finish; a refusal is shown as the API words it; a user gets no
 * Rollouts link and the admins-only message. Any console error (a CSP
 * violation included) fails the suite. The stopped rollout's screenshot goes to
 * a temporary directory; with UPDATE_SCREENSHOTS=1 it replaces
 * docs/dashboard-rollouts.png (docs/dashboard.md's).
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
const DIST = fs.mkdtempSync(path.join(os.tmpdir(), "dashboard-rollouts-dist-"));
const SHOTS = process.env.UPDATE_SCREENSHOTS === "1" ? path.join(ROOT, "docs") : fs.mkdtempSync(path.join(os.tmpdir(), "rollouts-shots-"));
const NAMES = ["dash-a", "dash-b", "dash-c"];

let pg: PostgresServer | undefined;
let api: TestApi | undefined;
let browser: Browser | undefined;
let context: BrowserContext;
const consoleErrors: string[] = [];

async function signedIn(token: string): Promise<Page> {
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on("console", (m) => {
        // Chromium logs every 4xx answer; the one 409 is the refusal the first test asks for on purpose.
        if (m.type() === "error" && !/status of 409 \(Conflict\)/.test(m.text())) consoleErrors.push(m.text());
    });
    page.on("pageerror", (e) => consoleErrors.push(e.message));
    await page.goto(`${api!.url}/`);
    await page.getByLabel("API token").fill(token);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { level: 1 }).waitFor();
    return page;
}

describe.skipIf(missing)("the Rollouts page in chromium", () => {
    beforeAll(async () => {
        const [, server] = await Promise.all([
            build({ configFile: path.join(ROOT, "dashboard/vite.config.ts"), logLevel: "error", build: { outDir: DIST, emptyOutDir: true } }),
            sharedPostgres(),
        ]);
        pg = server;
        process.env.DBAAS_DASHBOARD_DIR = DIST;
        api = await startTestApi(pg, { engine: new FakeStackEngine({ delayMs: 20, resources: 1 }) });
        for (const name of NAMES) expect((await api.call("alice", "POST", "/databases", { body: createBody(name) })).status).toBe(202);
        for (const name of NAMES) await waitForState(api, name, "ready");
        // They were made before the catalog moved on: postgres:17.1 against the catalog's 17.2.
        await sqlIn(pg, api.databaseUrl, `UPDATE databases SET spec = jsonb_set(spec, '{image}', '"postgres:17.1"')`);
        api.engine.script("up", "dash-b", { failTimes: Infinity, failWith: "program" });
        browser = await launchChromium();
        context = await browser.newContext({ viewport: { width: 1200, height: 900 }, locale: "en-GB", timezoneId: "UTC" });
    });

    afterAll(async () => {
        await browser?.close();
        await api?.close(200);
        delete process.env.DBAAS_DASHBOARD_DIR;
        fs.rmSync(DIST, { recursive: true, force: true });
        if (process.env.UPDATE_SCREENSHOTS !== "1") fs.rmSync(SHOTS, { recursive: true, force: true });
    });

    it("lets an admin start a rollout, see it stop at the failure with the reason, resume it and see it finish", async () => {
        const page = await signedIn(TOKENS.admin);
        await page.getByRole("link", { name: "Rollouts", exact: true }).click();
        await page.getByRole("heading", { name: "Rollouts", level: 1 }).waitFor();
        await page.locator("#rollouts-status", { hasText: "0 rollouts" }).waitFor();
        await page.getByLabel("Version").selectOption("PostgreSQL 17");
        await page.getByRole("button", { name: "Start rollout" }).click();
        await page.getByRole("heading", { name: /^Rollout #\d+$/, level: 1 }).waitFor();
        await page.getByTestId("rollout-state").getByText("stopped_on_failure").waitFor();
        const rows = page.getByTestId("steps-table").locator("tbody tr");
        expect(await rows.count()).toBe(3);
        const states = async () => rows.evaluateAll((trs) => trs.map((tr) => [tr.children[1]?.textContent, tr.children[2]?.textContent, tr.children[3]?.textContent, tr.children[5]?.textContent]));
        expect(await states()).toEqual([
            ["dash-a", "postgres:17.1", "postgres:17.2", "succeeded"],
            ["dash-b", "postgres:17.1", "postgres:17.2", "failed"],
            ["dash-c", "postgres:17.1", "postgres:17.2", "pending"],
        ]);
        expect(await rows.nth(1).textContent()).toContain("the container did not become healthy (scripted)");
        await page.screenshot({ path: path.join(SHOTS, "dashboard-rollouts.png"), fullPage: true });

        api!.engine.script("up", "dash-b", {});
        await page.getByRole("button", { name: "Resume" }).click();
        await page.getByTestId("rollout-state").getByText("succeeded").waitFor({ timeout: 15_000 });
        await page.waitForFunction(() => Array.from(document.querySelectorAll<HTMLTableRowElement>("[data-testid=steps-table] tbody tr")).every((tr) => tr.cells[5]?.textContent === "succeeded"));
        expect(await page.getByRole("button", { name: "Resume" }).count()).toBe(0);

        // Back on the list: the rollout is there; a second one has nothing to patch, and the page says so.
        await page.getByRole("link", { name: "All rollouts" }).click();
        await page.locator("#rollouts-status", { hasText: "1 rollout." }).waitFor();
        expect(await page.getByTestId("rollouts-table").textContent()).toContain("3 patched");
        await page.getByRole("button", { name: "Start rollout" }).click();
        await page.locator("#rollout-error", { hasText: "a label with a database to patch" }).waitFor();
        await page.close();
    });

    it("gives a user no Rollouts link, and the admins-only message at #/rollouts", async () => {
        const page = await signedIn(TOKENS.alice);
        await page.getByRole("heading", { name: "Your databases", level: 1 }).waitFor();
        expect(await page.getByRole("link", { name: "Rollouts", exact: true }).count()).toBe(0);
        await page.evaluate(() => {
            location.hash = "#/rollouts";
        });
        await page.getByRole("alert").getByText("Rolling patches are for admins").waitFor();
        await page.close();
    });

    it("logged no console error (CSP included)", () => {
        expect(consoleErrors).toEqual([]);
    });
});
