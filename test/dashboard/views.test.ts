/**
 * The backups, activities and contacts views in Debian's chromium
 * (playwright-core) against the real API (real admin database on the shared
 * PostgreSQL 17, engine test double) serving the dashboard built with Vite
 * into a directory of this file's own. The test engine's outputs of
 * alice's database point at a real PostgreSQL 15, so "Take a backup" runs
 * the host's pg_dump for real: the page shows the backup running, then
 * succeeded with its sizes; a database with a wrong password shows its
 * failed backup with the reason. "Create a database from this backup" opens
 * the create form with the backup filled in, and the database made is
 * restored from it. A note with an https ticket link is shown as a link; an
 * http link is refused by the form, and by the API (the request rewritten on
 * its way, as a client without the page's check would send it) with the
 * API's message at the field. An admin adds a webhook contact (its secret
 * shown once), rotates the secret, edits, expires and removes it, and sees a
 * delivery listed; a user has no contacts page, and sees neither backups nor
 * activities of somebody else's database (404, like a missing one).
 * Any console error (a CSP violation included) fails the suite, except the
 * 4xx answers the page handles.
 *
 * Screenshots go to a temporary directory; with UPDATE_SCREENSHOTS=1 they
 * replace docs/dashboard-backups.png and docs/dashboard-contacts.png.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type Browser, type BrowserContext, type Page, type Response } from "playwright-core";
import { CHROMIUM, launchChromium } from "../support/chromium";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeStackEngine } from "../support/fakeEngine";
import { sharedPostgres, startPostgres, type PostgresServer } from "../support/postgres";
import { requireBinaries } from "../support/requirements";
import { createBody, sqlIn, startTestApi, TOKENS, waitFor, waitForState, type TestApi, type Who } from "../support/testApi";

const missing = requireBinaries([CHROMIUM, "pg_dump"], "apt-get install chromium postgresql-client (listed in .ci/run)");
const ROOT = path.resolve(__dirname, "../..");
const DIST = fs.mkdtempSync(path.join(os.tmpdir(), "dashboard-views-dist-"));
const SHOTS = process.env.UPDATE_SCREENSHOTS === "1" ? path.join(ROOT, "docs") : fs.mkdtempSync(path.join(os.tmpdir(), "views-shots-"));
const TICKET = "https://tickets.example.com/OPS-42";

let admin: PostgresServer | undefined;
let pg15: PostgresServer | undefined;
let api: TestApi | undefined;
let browser: Browser | undefined;
let context: BrowserContext;
const consoleErrors: string[] = [];

function a(): TestApi {
    if (api === undefined) throw new Error("the API did not start");
    return api;
}

/** A ready database of `owner`'s whose endpoint (in the test engine) is pg15's `orders`, as `password`. */
async function readyDatabase(name: string, owner: Who, extra: Record<string, unknown> = {}, password?: string): Promise<void> {
    const r = await a().call(owner, "POST", "/databases", { body: createBody(name, extra, owner) });
    expect(r.status, r.text).toBe(202);
    await waitForState(a(), name, "ready");
    const out = a().engine.stacks.get(name);
    if (out === undefined || pg15 === undefined) throw new Error(`the test engine has no outputs for ${name}`);
    a().engine.stacks.set(name, { ...out, host: "127.0.0.1", port: pg15.port, database: "orders", user: "postgres", password: password ?? pg15.password });
}

async function signedIn(who: Who): Promise<Page> {
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on("console", (m) => {
        if (m.type() === "error") consoleErrors.push(m.text());
    });
    page.on("pageerror", (e) => consoleErrors.push(e.message));
    await page.goto(`${a().url}/`);
    await page.getByLabel("API token").fill(TOKENS[who]);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { level: 1, name: who === "admin" ? "All databases" : "Your databases" }).waitFor();
    return page;
}

async function openDatabase(page: Page, name: string): Promise<void> {
    await page.goto(`${a().url}/#/databases/${name}`);
    await page.locator("h1 .badge").waitFor();
}

/** Records the statuses the backups table shows, however briefly, from now on. */
async function watchBackupStatuses(page: Page): Promise<() => Promise<string[]>> {
    await page.evaluate(() => {
        const seen: string[] = [];
        (window as unknown as { seenStatuses: string[] }).seenStatuses = seen;
        const record = () => {
            document.querySelectorAll("[data-testid=backups] tr[data-status]").forEach((tr) => {
                const s = tr.getAttribute("data-status") ?? "";
                if (seen[seen.length - 1] !== s) seen.push(s);
            });
        };
        new MutationObserver(record).observe(document.body, { subtree: true, childList: true, attributes: true });
    });
    return () => page.evaluate(() => (window as unknown as { seenStatuses: string[] }).seenStatuses);
}

describe.skipIf(missing)("backups, activities and contacts in chromium", () => {
    beforeAll(async () => {
        const [, server, server15] = await Promise.all([
            build({ configFile: path.join(ROOT, "dashboard/vite.config.ts"), logLevel: "error", build: { outDir: DIST, emptyOutDir: true } }),
            sharedPostgres(),
            startPostgres(15, { initdbFlags: ["--no-sync"], postgresFlags: ["-c", "fsync=off"] }),
        ]);
        admin = server;
        pg15 = server15;
        await pg15.query("CREATE DATABASE orders");
        await pg15.query("CREATE TABLE items (id int PRIMARY KEY, label text NOT NULL); INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 500) g;", [], "orders");
        // dashboard.ts reads it when the routes are registered, in this test process only.
        process.env.DBAAS_DASHBOARD_DIR = DIST;
        api = await startTestApi(admin, {
            engine: new FakeStackEngine({ delayMs: 30, resources: 1 }),
            env: { DBAAS_BACKUP_FETCH_BASE_URL: "https://dbaas.example.com", DBAAS_BACKUP_ROLLOFF_INTERVAL_SECONDS: "0" },
        });
        await readyDatabase("orders-dev", "alice", { project_id: "shop", version: "PostgreSQL 16" });
        await readyDatabase("broken-db", "alice", { project_id: "shop" }, "not-the-password");
        await readyDatabase("bobs-db", "bob", { project_id: "finance" });
        browser = await launchChromium();
        context = await browser.newContext({ viewport: { width: 1100, height: 900 }, locale: "en-GB", timezoneId: "UTC" });
        await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: a().url });
    });

    afterAll(async () => {
        await browser?.close();
        await api?.close(200);
        await pg15?.stop();
        delete process.env.DBAAS_DASHBOARD_DIR;
        fs.rmSync(DIST, { recursive: true, force: true });
        if (process.env.UPDATE_SCREENSHOTS !== "1") fs.rmSync(SHOTS, { recursive: true, force: true });
    });

    let backupId = "";

    it("takes a backup with pg_dump and shows it running, then succeeded with its sizes", async () => {
        const page = await signedIn("alice");
        await openDatabase(page, "orders-dev");
        const backups = page.getByTestId("backups");
        await backups.getByText("No backups yet.").waitFor();
        const statuses = await watchBackupStatuses(page);
        await backups.getByRole("button", { name: "Take a backup" }).click();
        const row = backups.locator("tr[data-status=succeeded]");
        await row.waitFor();
        expect(await statuses()).toEqual(["running", "succeeded"]);
        const listed = await a().call("alice", "GET", "/databases/orders-dev/backups");
        const b = (listed.body as { backups: { id: string; db_size_bytes: number; backup_size_bytes: number }[] }).backups;
        expect(b).toHaveLength(1);
        backupId = b[0]?.id ?? "";
        expect(await row.getAttribute("data-backup")).toBe(backupId);
        const cells = await row.locator("td").allTextContents();
        expect(cells.slice(0, 2)).toEqual(["manual", "succeeded"]);
        // pg_database_size of a 500-row database is some MiB; the dump a few KiB.
        expect(cells[2]).toMatch(/^\d+(\.\d)? MiB$/);
        expect(cells[3]).toMatch(/^\d+(\.\d)? KiB$/);
        expect(cells[6]).toBe("");
        // One backup at a time is the API's rule; the button is enabled again once it finished.
        expect(await backups.getByRole("button", { name: "Take a backup" }).isEnabled()).toBe(true);
        await page.getByRole("heading", { name: "Backups" }).scrollIntoViewIfNeeded();
        await page.screenshot({ path: path.join(SHOTS, "dashboard-backups.png") });
        // On a phone the backups and activities become stacked cards: no sideways scrolling.
        await page.setViewportSize({ width: 360, height: 700 });
        expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
        expect(await row.locator("td").first().evaluate((td) => [getComputedStyle(td).display, getComputedStyle(td, "::before").content])).toEqual(["block", '"Type: "']);
        await page.close();
    });

    it("shows a failed backup with its reason", async () => {
        const page = await signedIn("alice");
        await openDatabase(page, "broken-db");
        await page.getByRole("button", { name: "Take a backup" }).click();
        const row = page.locator("[data-testid=backups] tr[data-status=failed]");
        await row.waitFor();
        expect(await row.locator("td[data-label=Error]").textContent()).toMatch(/password authentication failed/);
        expect(await row.getByRole("link", { name: /Create a database/ }).count()).toBe(0);
        await page.close();
    });

    it("opens the create form from a backup with the backup, project and version filled, and creates a database restored from it", async () => {
        const page = await signedIn("alice");
        await openDatabase(page, "orders-dev");
        await page.getByRole("link", { name: /Create a database from the backup of/ }).click();
        await page.getByRole("heading", { level: 1, name: "New database from a backup" }).waitFor();
        expect(page.url()).toContain(`backup=${backupId}`);
        expect(await page.getByLabel(/Restore from a stored backup/).inputValue()).toBe(backupId);
        expect(await page.getByLabel("Project").inputValue()).toBe("shop");
        await page.locator("#version option", { hasText: "PostgreSQL 16" }).waitFor({ state: "attached" });
        expect(await page.getByLabel("PostgreSQL version").inputValue()).toBe("PostgreSQL 16");

        // One source at most: the page says so in the API's words before sending.
        await page.getByLabel("Name").fill("orders-copy");
        await page.getByLabel(/Restore from backup \(optional\)/).fill("https://backups.example.com/app.dump");
        await page.getByRole("button", { name: "Create database" }).click();
        await page.locator("#backup_id-error", { hasText: "not both" }).waitFor();
        await page.getByLabel(/Restore from backup \(optional\)/).fill("");
        await page.getByRole("button", { name: "Create database" }).click();

        await page.waitForURL(/#\/databases\/orders-copy$/);
        await page.getByText(`stored backup ${backupId}`).waitFor();
        const db: unknown = await waitForState(a(), "orders-copy", "ready");
        expect(db).toMatchObject({ backup_id: backupId, backup_location: null, project_id: "shop", version: "PostgreSQL 16" });
        // The engine was handed the API's signed URL of that backup as the source.
        const spec = a().engine.callsOf("up", "orders-copy")[0]?.spec as { backup_location?: string } | undefined;
        expect(spec?.backup_location).toMatch(new RegExp(`^https://dbaas\\.example\\.com/backups/${backupId}/content\\?expires=\\d+&sig=[0-9a-f]{64}$`));
        await page.close();
    });

    it("lists the activities and adds a note whose https ticket link is a link", async () => {
        const page = await signedIn("alice");
        await openDatabase(page, "orders-dev");
        const section = page.getByTestId("activities");
        await section.locator("tr[data-activity]").nth(1).waitFor();
        const kinds = await section.locator("td[data-label=Kind]").allTextContents();
        expect(kinds).toEqual(["ready", "created"]);
        expect(await section.locator("td[data-label=Planned]").allTextContents()).toEqual(["planned", "planned"]);

        await page.getByLabel("Activity").selectOption({ label: (await page.locator("#note-activity option").first().textContent()) ?? "" });
        await page.getByLabel("Note", { exact: true }).fill("Restored a copy for the OPS-42 investigation");
        await page.getByLabel(/Ticket link/).fill(TICKET);
        await page.getByRole("button", { name: "Add note" }).click();
        const link = section.locator("td[data-label=Notes] a");
        await link.waitFor();
        expect(await link.getAttribute("href")).toBe(TICKET);
        expect(await link.getAttribute("rel")).toBe("noopener noreferrer");
        expect(await section.locator("td[data-label=Notes]").first().textContent()).toContain("Restored a copy for the OPS-42 investigation");
        // The note is in the audit log, with its link.
        const audit = await a().call("admin", "GET", "/audit?database=orders-dev&action=activity.note");
        expect(JSON.stringify(audit.body)).toContain(TICKET);
        await section.scrollIntoViewIfNeeded();
        await page.screenshot({ path: path.join(SHOTS, "dashboard-activities.png") });
        await page.close();
    });

    it("refuses an http ticket link in the form, and shows the API's refusal at the field", async () => {
        const page = await signedIn("alice");
        await openDatabase(page, "orders-dev");
        await page.getByTestId("activities").locator("tr[data-activity]").first().waitFor();
        const posts: string[] = [];
        page.on("request", (r) => {
            if (r.method() === "POST") posts.push(r.url());
        });
        await page.getByLabel("Note", { exact: true }).fill("see the ticket");
        await page.getByLabel(/Ticket link/).fill("http://tickets.example.com/OPS-43");
        await page.getByRole("button", { name: "Add note" }).click();
        await page.locator("#note-ticket-error", { hasText: "Expected an https:// URL (got http)" }).waitFor();
        expect(await page.getByLabel(/Ticket link/).getAttribute("aria-invalid")).toBe("true");
        expect(await page.evaluate(() => document.activeElement?.id)).toBe("note-ticket");
        expect(posts).toEqual([]);

        // A client without the page's check: the note leaves with an https link and arrives with an http one.
        await page.route("**/activities/*/notes", async (route) => {
            const body = JSON.parse(route.request().postData() ?? "{}") as Record<string, unknown>;
            await route.continue({ postData: JSON.stringify({ ...body, ticket_url: "http://tickets.example.com/OPS-43" }) });
        });
        const answer = page.waitForResponse((r: Response) => r.url().endsWith("/notes"));
        await page.getByLabel(/Ticket link/).fill("https://tickets.example.com/OPS-43");
        await page.getByRole("button", { name: "Add note" }).click();
        const res = await answer;
        expect(res.status()).toBe(400);
        expect(res.headers()["content-type"]).toContain("application/problem+json");
        await page.locator("#note-ticket-error", { hasText: "Expected an https:// URL (got http)" }).waitFor();
        // Nothing was stored: the only note is the one of the previous test.
        expect(await page.getByTestId("activities").locator("td[data-label=Notes] li").count()).toBe(1);
        await page.close();
    });

    it("lets an admin add a webhook contact (secret shown once), rotate its secret, edit, expire and remove it", async () => {
        const page = await signedIn("admin");
        await page.getByRole("link", { name: "Contacts" }).click();
        await page.getByRole("heading", { level: 1, name: "Contacts" }).waitFor();
        await page.locator("#project-options option[value=shop]").waitFor({ state: "attached" });
        await page.getByLabel("Project").fill("shop");
        await page.getByRole("button", { name: "Show" }).click();
        await page.getByText("No contacts for shop yet.").waitFor();

        // The webhook host must be public: one that resolves to a private address is refused by the API, at the field.
        await page.getByLabel("Name (optional)").fill("Shop hook");
        await page.getByLabel("Webhook URL").fill("https://rebind.example.com/hooks/dbaas");
        await page.getByRole("button", { name: "Add contact" }).click();
        await page.locator("#contact-webhook-error", { hasText: /^Expected / }).waitFor();

        await page.getByLabel("Webhook URL").fill("https://backups.example.com/hooks/dbaas");
        await page.getByRole("button", { name: "Add contact" }).click();
        const secret = page.getByTestId("contact-secret");
        await secret.waitFor();
        const first = (await secret.textContent()) ?? "";
        expect(first).toMatch(/^whsec_/);
        const row = page.locator("tr[data-contact]");
        await row.waitFor();
        expect(await row.locator("td[data-label=Status]").textContent()).toBe("active");
        await page.screenshot({ path: path.join(SHOTS, "dashboard-contacts.png"), fullPage: true });
        await page.getByRole("button", { name: "I have kept it" }).click();
        expect(await secret.count()).toBe(0);
        // Not kept anywhere: not in the page, the storage, nor what the API lists.
        expect(await page.content()).not.toContain(first);
        expect(await page.evaluate(() => JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage }))).not.toContain(first);
        expect((await a().call("admin", "GET", "/projects/shop/contacts")).text).not.toContain(first);

        await page.getByRole("button", { name: "Rotate the secret of Shop hook" }).click();
        await secret.waitFor();
        const second = (await secret.textContent()) ?? "";
        expect(second).toMatch(/^whsec_/);
        expect(second).not.toBe(first);
        await page.getByRole("button", { name: "I have kept it" }).click();

        await page.getByRole("button", { name: "Edit Shop hook" }).click();
        await page.getByRole("heading", { name: "Edit contact Shop hook" }).waitFor();
        await page.locator("#edit-name").fill("Shop on-call");
        await page.locator("#edit-email").fill("oncall@example.com");
        await page.getByRole("button", { name: "Save" }).click();
        await row.locator("td[data-label=Name]", { hasText: "Shop on-call" }).waitFor();
        expect(await row.locator("td[data-label=Email]").textContent()).toBe("oncall@example.com");
        expect(await row.locator("td[data-label=Webhook]").textContent()).toBe("https://backups.example.com/hooks/dbaas");

        // Expire: an expiry in the past is refused by the form; one a few seconds ahead passes, and then the contact is expired.
        await page.getByRole("button", { name: "Edit Shop on-call" }).click();
        await page.locator("#edit-expires").fill("2020-01-01T00:00:00");
        await page.getByRole("button", { name: "Save" }).click();
        await page.locator("#edit-expires-error", { hasText: "in the future" }).waitFor();
        const soon = new Date(Date.now() + 4000).toISOString().slice(0, 19);
        await page.locator("#edit-expires").fill(soon);
        await page.getByRole("button", { name: "Save" }).click();
        await page.getByRole("heading", { name: "Add a contact" }).waitFor();
        await row.locator("td[data-label=Status]", { hasText: "expired" }).waitFor({ timeout: 20_000 });
        const listed = await a().call("admin", "GET", "/projects/shop/contacts");
        expect(listed.body).toMatchObject({ contacts: [{ name: "Shop on-call", email: "oncall@example.com", active: false }] });

        await page.getByRole("button", { name: "Remove Shop on-call" }).click();
        await page.getByRole("button", { name: "Keep" }).click();
        expect(await row.count()).toBe(1);
        await page.getByRole("button", { name: "Remove Shop on-call" }).click();
        await page.getByRole("button", { name: "Remove Shop on-call" }).click();
        await page.getByText("No contacts for shop yet.").waitFor();
        expect((await a().call("admin", "GET", "/projects/shop/contacts")).body).toEqual({ contacts: [] });
        await page.close();
    });

    it("lists a project's deliveries: a failure told to an email contact, skipped while email is off", async () => {
        const page = await signedIn("admin");
        await page.goto(`${a().url}/#/contacts`);
        await page.getByLabel("Project").fill("shop");
        await page.getByRole("button", { name: "Show" }).click();
        await page.getByLabel("Email").fill("shop-team@example.com");
        await page.getByRole("button", { name: "Add contact" }).click();
        await page.locator("tr[data-contact]").waitFor();
        // Every contact gets a signing secret (for a webhook added later), shown this once.
        expect(await page.getByTestId("contact-secret").textContent()).toMatch(/^whsec_/);
        await page.getByRole("button", { name: "I have kept it" }).click();

        a().engine.script("up", "etl-broken", { failTimes: Infinity, failWith: "program" });
        expect((await a().call("alice", "POST", "/databases", { body: createBody("etl-broken", { project_id: "shop" }) })).status).toBe(202);
        await waitForState(a(), "etl-broken", "failed");
        const delivery = page.locator("tr[data-delivery]");
        await delivery.waitFor({ timeout: 20_000 });
        await delivery.locator("td[data-label=Status]", { hasText: "skipped" }).waitFor({ timeout: 20_000 });
        expect(await delivery.locator("td[data-label=Channel]").textContent()).toBe("email");
        expect(await delivery.locator("td[data-label=Notification]").textContent()).toMatch(/^failure: etl-broken/);
        expect(await delivery.locator("td[data-label=To]").textContent()).toBe("contact " + String(((await a().call("admin", "GET", "/projects/shop/contacts")).body as { contacts: { id: number }[] }).contacts[0]?.id));
        await page.close();
    });

    it("shows a user only its own databases' backups and activities, and no contacts page", async () => {
        const page = await signedIn("bob");
        expect(await page.getByRole("link", { name: "Contacts" }).count()).toBe(0);
        const answers: [string, number][] = [];
        page.on("response", (r) => {
            const u = new URL(r.url());
            if (/\/(backups|activities)$/.test(u.pathname)) answers.push([u.pathname, r.status()]);
        });
        // alice's database: 404 like a missing one, and nothing of it on the page.
        await page.goto(`${a().url}/#/databases/orders-dev`);
        await page.getByText(/does not exist or is not yours/).first().waitFor();
        await waitFor("both answers", () => (answers.length >= 2 ? answers : undefined));
        expect(answers.sort()).toEqual([["/databases/orders-dev/activities", 404], ["/databases/orders-dev/backups", 404]]);
        expect(await page.locator("tr[data-backup], tr[data-activity]").count()).toBe(0);
        expect(await page.content()).not.toContain(backupId);

        // bob's own: its activities, no backups. A stored link that is not https (a row the API's rule never saw) stays text.
        await sqlIn(admin!, a().databaseUrl, `INSERT INTO activity_notes (activity_id, author, text, ticket_url)
            SELECT max(a.id), 'bob', 'imported', 'javascript:alert(1)' FROM activities a JOIN databases d ON d.id = a.database_id WHERE d.name = 'bobs-db'`);
        await openDatabase(page, "bobs-db");
        await page.getByTestId("backups").getByText("No backups yet.").waitFor();
        const activities = page.getByTestId("activities");
        await activities.locator("tr[data-activity]").nth(1).waitFor();
        expect(await activities.locator("td[data-label=Kind]").allTextContents()).toEqual(["ready", "created"]);
        expect(await activities.locator("td[data-label=Notes]").first().textContent()).toContain("javascript:alert(1)");
        expect(await activities.locator("td[data-label=Notes] a").count()).toBe(0);

        await page.goto(`${a().url}/#/contacts`);
        await page.getByText("Contacts are kept by admins").waitFor();
        expect(await page.getByLabel("Project").count()).toBe(0);
        await page.close();
    });

    it("marks what nobody asked for as unplanned, and pages back through older activities", async () => {
        // The watcher's entry point: 55 more activities, so the newest page (50) does not hold them all.
        for (let i = 0; i < 55; i++) await a().activities.recordUnplanned("bobs-db", i % 2 === 0 ? "down" : "up", { container: i % 2 === 0 ? "exited 137" : "running" });
        const page = await signedIn("bob");
        await openDatabase(page, "bobs-db");
        const section = page.getByTestId("activities");
        await section.locator("tr[data-activity]").nth(49).waitFor();
        expect(await section.locator("tr[data-activity]").count()).toBe(50);
        expect(await section.locator("#activities-status").textContent()).toBe("The latest 50, newest first.");
        expect(await section.locator("tr[data-activity]").first().locator("td[data-label=Planned]").textContent()).toBe("unplanned");
        expect(await section.locator("tr[data-activity]").first().locator("td[data-label=Detail]").textContent()).toBe("container: exited 137");
        expect(await section.locator("tr[data-activity]").first().locator("td[data-label=Kind]").textContent()).toBe("down");
        await section.getByRole("button", { name: "Show older activities" }).click();
        await section.locator("#activities-status", { hasText: "All 57" }).waitFor();
        expect(await section.locator("td[data-label=Kind]").evaluateAll((tds) => tds.slice(-2).map((td) => td.textContent))).toEqual(["ready", "created"]);
        expect(await section.getByRole("button", { name: "Show older activities" }).isVisible()).toBe(false);
        await page.close();
    });

    it("logged no console error (CSP included) but the refusals the page handles", () => {
        // chromium logs the 4xx answers the page shows (400, 404, 422) as failed loads; nothing else may be logged.
        const unexpected = consoleErrors.filter((m) => !/the server responded with a status of (400|404|409|422)/.test(m));
        expect(unexpected).toEqual([]);
    });
});
