/**
 * The dashboard end to end: Debian's chromium (playwright-core) against the
 * real API on 127.0.0.1 (real admin database, engine test double), serving
 * the dashboard freshly built with Vite. Sign in, see an error for a bad
 * name, a taken name and a backup host off the allow-list next to the right
 * field, create a database and watch its progress to ready, read its
 * connection details and password, find it in the list, delete it after
 * confirming; sign in as a user, who sees its subject and no audit trail
 * (the role comes from GET /me, not an /audit probe). Any console error (a CSP violation included) fails the suite.
 *
 * Screenshots of the four main screens go to a temporary directory; with
 * UPDATE_SCREENSHOTS=1 they replace docs/dashboard-*.png (docs/dashboard.md's).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type Browser, type Page, type Request } from "playwright-core";
import { CHROMIUM, launchChromium } from "../support/chromium";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MASK } from "../../dashboard/src/mask";
import { FakeStackEngine } from "../support/fakeEngine";
import { createBody, startTestApi, TOKENS, waitFor, waitForState, type TestApi } from "../support/testApi";
import { sharedPostgres, type PostgresServer } from "../support/postgres";
import { requireBinaries } from "../support/requirements";

const missing = requireBinaries([CHROMIUM], "apt-get install chromium (listed in .ci/run)");
const ROOT = path.resolve(__dirname, "../..");
const SHOTS = process.env.UPDATE_SCREENSHOTS === "1" ? path.join(ROOT, "docs") : fs.mkdtempSync(path.join(os.tmpdir(), "dashboard-shots-"));

let pg: PostgresServer | undefined;
let api: TestApi | undefined;
let browser: Browser | undefined;
let page: Page;
const consoleErrors: string[] = [];

function base(): string {
    if (api === undefined) throw new Error("the API did not start");
    return api.url;
}

async function shot(name: string): Promise<void> {
    await page.screenshot({ path: path.join(SHOTS, `dashboard-${name}.png`) });
}

/** Records the page's requests (`METHOD /path?query`) until `stop()`, which returns them and can be called again. */
function apiCalls(): { stop(): string[] } {
    const seen: string[] = [];
    const onRequest = (r: Request): void => {
        const u = new URL(r.url());
        seen.push(`${r.method()} ${u.pathname}${u.search}`);
    };
    page.on("request", onRequest);
    return {
        stop() {
            page.off("request", onRequest);
            return [...seen];
        },
    };
}

/** The error text shown under a form field (its aria-describedby error element). */
function fieldError(id: string) {
    return page.locator(`#${id}-error`);
}

/** Waits until the field's error says `text` (the answer may still be on its way), then returns it. */
async function waitForFieldError(id: string, text: RegExp): Promise<string | null> {
    await page.locator(`#${id}-error`, { hasText: text }).waitFor();
    return fieldError(id).textContent();
}

describe.skipIf(missing)("dashboard in chromium against the real API", () => {
    beforeAll(async () => {
        // The build and the database server start side by side; both take seconds.
        const [, server] = await Promise.all([
            build({ configFile: path.join(ROOT, "dashboard/vite.config.ts"), logLevel: "error" }),
            sharedPostgres(),
        ]);
        pg = server;
        // Slow enough that the page shows steps in progress; fast enough for the suite.
        api = await startTestApi(pg, { engine: new FakeStackEngine({ delayMs: 1200, resources: 3 }) });
        browser = await launchChromium();
        const context = await browser.newContext({ viewport: { width: 1000, height: 700 }, locale: "en-GB", timezoneId: "UTC" });
        await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base() });
        page = await context.newPage();
        page.setDefaultTimeout(10_000);
        page.on("console", (m) => {
            if (m.type() === "error") consoleErrors.push(m.text());
        });
        page.on("pageerror", (e) => consoleErrors.push(e.message));
    });

    afterAll(async () => {
        await browser?.close();
        await api?.close(200);
        await pg?.stop();
        if (process.env.UPDATE_SCREENSHOTS !== "1") fs.rmSync(SHOTS, { recursive: true, force: true });
    });

    it("serves the page at / with the CSP and refuses a bad token", async () => {
        const res = await page.goto(`${base()}/`);
        expect(res?.status()).toBe(200);
        expect(res?.headers()["content-security-policy"]).toContain("script-src 'self'");
        await expect(page.getByRole("heading", { level: 1 }).textContent()).resolves.toBe("Sign in");
        await shot("signin");

        await page.getByLabel("API token").fill("dbaas_not-a-real-token");
        await page.getByRole("button", { name: "Sign in" }).click();
        await page.getByText("That token is not accepted").waitFor();
        expect(await page.getByLabel("API token").getAttribute("aria-invalid")).toBe("true");
        expect(await page.evaluate(() => sessionStorage.getItem("dbaas.token"))).toBeNull();
    });

    it("signs in as an admin and shows the role and subject from GET /me; the token lives in sessionStorage only", async () => {
        const calls = apiCalls();
        await page.getByLabel("API token").fill(TOKENS.admin);
        await page.getByRole("button", { name: "Sign in" }).click();
        await page.getByRole("heading", { name: "All databases" }).waitFor();
        expect(await page.getByTestId("role").textContent()).toBe("admin");
        expect(await page.getByTestId("subject").textContent()).toBe("admin");
        // Who the token is comes from GET /me, not from probing the (audited, admin-only) audit log.
        expect(calls.stop()).toEqual(expect.arrayContaining(["GET /me"]));
        expect(calls.stop().filter((c) => c.includes("/audit"))).toEqual([]);
        expect(await page.evaluate(() => [sessionStorage.getItem("dbaas.token"), localStorage.length])).toEqual([TOKENS.admin, 0]);
    });

    it("checks the name in the page before sending, with the API's rule", async () => {
        const posts: string[] = [];
        page.on("request", (r) => {
            if (r.method() === "POST") posts.push(r.url());
        });
        await page.getByRole("link", { name: "New database" }).click();
        await page.getByRole("heading", { name: "New database" }).waitFor();
        // Every control has a label and a help text tied to it.
        const unlabelled = await page.locator("form input, form select, form textarea").evaluateAll((els) =>
            els.filter((e) => (e as HTMLInputElement).labels?.length !== 1 || !(e.getAttribute("aria-describedby") ?? "").includes("-help")).map((e) => e.id));
        expect(unlabelled).toEqual([]);
        await page.getByLabel("Name").fill("Bad_Name");
        await page.getByLabel("Project").fill("proj-1");
        await page.getByLabel("Owner").fill("admin");
        await page.getByRole("button", { name: "Create database" }).click();
        expect(await waitForFieldError("name", /DNS-1035 label/)).toMatch(/^Expected /);
        expect(await page.getByLabel("Name").getAttribute("aria-invalid")).toBe("true");
        // Focus moved to the field in error, for keyboard and screen-reader users.
        expect(await page.evaluate(() => document.activeElement?.id)).toBe("name");
        expect(posts).toEqual([]);
    });

    it("shows the API's 409 for a taken name next to the name field", async () => {
        const r = await api!.call("admin", "POST", "/databases", { body: createBody("taken-db") });
        expect(r.status, r.text).toBe(202);
        await page.getByLabel("Name").fill("taken-db");
        await page.getByRole("button", { name: "Create database" }).click();
        expect(await waitForFieldError("name", /not taken/)).toMatch(/^Expected a name that is not taken.*"taken-db"/);
        expect(await fieldError("backup_location").textContent()).toBe("");
    });

    it("shows the API's refusal of a backup host off the allow-list next to the backup field", async () => {
        await page.getByLabel("Name").fill("app-db");
        // Passes the page's check (an https URL); only the API knows its allow-list.
        await page.getByLabel(/Restore from backup/).fill("https://evil.example.org/app.dump");
        await page.getByRole("button", { name: "Create database" }).click();
        expect(await waitForFieldError("backup_location", /allow|host/i)).toMatch(/^Expected /);
        expect(await fieldError("name").textContent()).toBe("");
        expect(await page.evaluate(() => document.activeElement?.id)).toBe("backup_location");

        await page.getByLabel(/Restore from backup/).fill("http://backups.example.com/app.dump");
        await page.getByRole("button", { name: "Create database" }).click();
        expect(await waitForFieldError("backup_location", /https:\/\//)).toMatch(/^Expected /);
    });

    it("creates a database, shows its progress step by step, then its connection details", async () => {
        await page.getByLabel(/Restore from backup/).fill("https://backups.example.com/app.dump");
        await page.getByLabel(/Lifetime/).fill("12");
        await page.getByLabel(/Allowed client addresses/).fill("203.0.113.0/24\n2001:db8::/48");
        const version = await page.getByLabel("PostgreSQL version").inputValue();
        expect(version).toBe("PostgreSQL 17");
        // Editing a field cleared its old error.
        expect(await fieldError("backup_location").textContent()).toBe("");
        await page.evaluate(() => window.scrollTo(0, 0));
        await shot("create");
        await page.getByRole("button", { name: "Create database" }).click();

        await page.waitForURL(/#\/databases\/app-db$/);
        await page.getByRole("heading", { name: "Progress of the create" }).waitFor();
        // A step finishes while others are still to come: the bar moves in steps.
        await page.locator(".steps .step.done").first().waitFor();
        const bar = await page.locator("#progress-bar").evaluate((b: HTMLProgressElement) => [b.value, b.max]);
        expect(bar[0]).toBeGreaterThanOrEqual(1);
        await shot("progress");
        await page.locator("#progress-text", { hasText: "The create finished." }).waitFor();
        await page.locator("h1 .badge", { hasText: "ready" }).waitFor();
        expect(await page.locator(".steps .step.done").count()).toBe(3);

        expect(await page.getByTestId("host").textContent()).toBe("127.0.0.1");
        expect(await page.getByTestId("port").textContent()).toBe("15432");
        expect(await page.getByTestId("database").textContent()).toBe("app_db");
        expect(await page.getByText("203.0.113.0/24, 2001:db8::/48").count()).toBe(1);

        // The owner (here the admin) reads the password on request; it is the engine's.
        // Masked until shown; Copy copies the real value without showing it.
        const stack = api!.engine.stacks.get("app-db");
        expect(await page.getByTestId("password").textContent()).toBe(MASK);
        expect(await page.getByTestId("uri").textContent()).toBe(MASK);
        await page.getByRole("button", { name: "Copy URI" }).click();
        await page.waitForFunction(async (want) => (await navigator.clipboard.readText()) === want, stack?.uri);
        expect(await page.getByTestId("uri").textContent()).toBe(MASK);
        await page.getByRole("button", { name: "Show password" }).click();
        await page.getByRole("button", { name: "Hide password" }).waitFor();
        expect(await page.getByTestId("password").textContent()).toBe(stack?.password);
        await page.getByRole("button", { name: "Hide password" }).click();
        expect(await page.getByTestId("password").textContent()).toBe(MASK);
        await page.getByRole("button", { name: "Show password" }).click();
        await page.getByRole("button", { name: "Hide password" }).waitFor();
        await page.getByRole("button", { name: "Show uri" }).click();
        await page.getByRole("button", { name: "Hide uri" }).waitFor();
        expect(await page.getByTestId("password").textContent()).toBe(stack?.password);
        expect(await page.getByTestId("uri").textContent()).toBe(stack?.uri);
        // The audit trail lists the create and the reveal.
        await page.locator("table.audit td", { hasText: "database.credentials" }).first().waitFor();
        expect(await page.locator("table.audit td", { hasText: "database.create" }).count()).toBeGreaterThan(0);
        await page.getByRole("heading", { name: "Connection" }).scrollIntoViewIfNeeded();
        await shot("database");
    });

    it("lists the databases, sorted and filtered", async () => {
        await page.getByRole("link", { name: "dbaas" }).click();
        await page.getByRole("heading", { name: "All databases" }).waitFor();
        await page.locator("tr[data-name='app-db']").waitFor();
        const names = () => page.locator("tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-name")));
        await page.getByRole("button", { name: "Name" }).click();
        expect(await names()).toEqual(["app-db", "taken-db"]);
        expect(await page.locator("th[aria-sort='ascending']").textContent()).toContain("Name");
        // Sorting works from the keyboard too.
        await page.getByRole("button", { name: "Name" }).focus();
        await page.keyboard.press("Enter");
        expect(await names()).toEqual(["taken-db", "app-db"]);
        expect(await page.locator("th[aria-sort='descending']").textContent()).toContain("Name");
        await page.getByLabel("Filter").fill("app");
        expect(await names()).toEqual(["app-db"]);
        await page.getByLabel("Filter").fill("");
        await shot("list");

        // A phone-sized screen: no sideways scrolling, rows become stacked cards with their labels.
        await page.setViewportSize({ width: 360, height: 700 });
        try {
            expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
            expect(await page.locator("tr[data-name='app-db'] td").first().evaluate((td) => [getComputedStyle(td).display, getComputedStyle(td, "::before").content])).toEqual(["block", '"Version: "']);
            await page.screenshot({ path: path.join(SHOTS, "dashboard-narrow.png") });
        } finally {
            await page.setViewportSize({ width: 1000, height: 700 });
        }
    });

    it("extends the expiry and restarts the database, following the restart's progress", async () => {
        await page.getByRole("link", { name: "app-db" }).click();
        await page.locator("h1 .badge", { hasText: "ready" }).waitFor();
        const before = Date.parse(((await api!.call("admin", "GET", "/databases/app-db")).body as { expires_at: string }).expires_at);
        await page.getByLabel("Expire in").fill("48");
        await page.getByLabel("Expire in").press("Enter");
        const after = await waitFor("the expiry to move", async () => {
            const at = Date.parse(((await api!.call("admin", "GET", "/databases/app-db")).body as { expires_at: string }).expires_at);
            return at > before ? at : undefined;
        });
        expect(after - Date.now()).toBeGreaterThan(47 * 3600_000);
        await page.getByText("(in 2 d)").waitFor();

        await page.getByRole("button", { name: "Restart" }).click();
        await page.getByRole("heading", { name: "Progress of the restart" }).waitFor();
        await page.locator("#progress-text", { hasText: "The restart finished." }).waitFor();
        await page.locator("h1 .badge", { hasText: "ready" }).waitFor();
        expect(api!.engine.callsOf("restart", "app-db")).toHaveLength(1);
    });

    it("deletes a database only after confirmation", async () => {
        await page.locator("h1 .badge", { hasText: "ready" }).waitFor();
        await page.getByRole("button", { name: "Delete…" }).click();
        const dialog = page.getByRole("dialog", { name: "Delete app-db?" });
        await dialog.waitFor();
        // Cancel is focused first; Escape closes without deleting.
        expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Cancel");
        await page.keyboard.press("Escape");
        await dialog.waitFor({ state: "detached" });
        expect(((await api!.call("admin", "GET", "/databases/app-db")).body as { state: string }).state).toBe("ready");

        await page.getByRole("button", { name: "Delete…" }).click();
        await page.getByRole("button", { name: "Delete app-db" }).click();
        await page.locator("h1 .badge", { hasText: "deleted" }).waitFor();
        await waitForState(api!, "app-db", "deleted");
        expect(api!.engine.callsOf("destroy", "app-db")).toHaveLength(1);
    });

    it("shows a failed create with its reason, and retries it to ready", async () => {
        api!.engine.script("up", "fail-db", { failTimes: 1, failWith: "program", delayMs: 300 });
        expect((await api!.call("admin", "POST", "/databases", { body: createBody("fail-db", {}, "admin") })).status).toBe(202);
        await page.goto(`${base()}/#/databases/fail-db`);
        await page.locator("h1 .badge", { hasText: "failed" }).waitFor();
        await page.getByText("the container did not become healthy").first().waitFor();
        await page.getByRole("button", { name: "Retry create" }).click();
        await page.locator("h1 .badge", { hasText: "ready" }).waitFor();
        expect(api!.engine.callsOf("up", "fail-db")).toHaveLength(2);
    });

    it("shows a user's role and subject, and no audit trail on a database's page", async () => {
        await page.getByRole("button", { name: "Sign out" }).click();
        await page.getByRole("heading", { name: "Sign in" }).waitFor();
        expect(await page.evaluate(() => sessionStorage.getItem("dbaas.token"))).toBeNull();
        const calls = apiCalls();
        await page.getByLabel("API token").fill(TOKENS.alice);
        await page.getByRole("button", { name: "Sign in" }).click();
        await page.getByRole("heading", { name: "Your databases" }).waitFor();
        expect(await page.getByTestId("role").textContent()).toBe("user");
        expect(await page.getByTestId("subject").textContent()).toBe("alice");

        // alice owns taken-db (created above by the admin for her): its page says the audit log is for admins.
        await page.getByRole("link", { name: "taken-db" }).click();
        await page.getByRole("heading", { name: "Audit trail" }).waitFor();
        await page.getByText("The audit log is kept for admins").waitFor();
        expect(await page.locator("table.audit").count()).toBe(0);
        expect(calls.stop().filter((c) => c.includes("/audit"))).toEqual([]);
    });

    it("logged no console errors (no CSP violations, no failed scripts)", () => {
        // 4xx answers the page handles (401, 409, 422) are logged by chromium as failed loads; nothing else may be.
        // No 403: the page asks GET /me who it is instead of probing the admin-only audit log.
        const unexpected = consoleErrors.filter((m) => !/the server responded with a status of (401|409|422)/.test(m));
        expect(unexpected).toEqual([]);
    });
});
