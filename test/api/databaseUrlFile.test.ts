import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ApiConfigError, loadApiConfig } from "../../api/config";

// The platform program (ApiService) hands the admin database URL over as a
// secret file named by DATABASE_URL_FILE, never as a plain env value.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dbaas-dburl-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const URL = "postgresql://dbaas:s3cret-pw@admin-db:5432/dbaas?sslmode=verify-full";

function fileWith(content: string): string {
    const p = path.join(dir, `url-${Math.random().toString(36).slice(2)}`);
    fs.writeFileSync(p, content, { mode: 0o400 });
    return p;
}

function problemsOf(env: Record<string, string>): string {
    try {
        loadApiConfig(env);
    } catch (e) {
        expect(e).toBeInstanceOf(ApiConfigError);
        return (e as Error).message;
    }
    throw new Error("expected the environment to be refused");
}

describe("DATABASE_URL_FILE", () => {
    it("reads the URL from the file (trailing newline trimmed)", () => {
        expect(loadApiConfig({ DATABASE_URL_FILE: fileWith(`${URL}\n`) }).databaseUrl).toBe(URL);
    });
    it("refuses a missing file, naming the variable and the path but not a URL", () => {
        const message = problemsOf({ DATABASE_URL_FILE: path.join(dir, "absent") });
        expect(message).toContain(`DATABASE_URL_FILE = ${JSON.stringify(path.join(dir, "absent"))}: expected a readable file (ENOENT)`);
    });
    it("refuses a file that holds no postgresql:// URL, without echoing its content", () => {
        const message = problemsOf({ DATABASE_URL_FILE: fileWith("mysql://root:hunter2@db/x") });
        expect(message).toContain("expected the file to hold a postgresql:// URL");
        expect(message).not.toContain("hunter2");
    });
    it("refuses both DATABASE_URL and DATABASE_URL_FILE", () => {
        expect(problemsOf({ DATABASE_URL: URL, DATABASE_URL_FILE: fileWith(URL) })).toContain("DATABASE_URL and DATABASE_URL_FILE are both set");
    });
});
