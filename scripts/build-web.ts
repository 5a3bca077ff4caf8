/**
 * `npm run build:web`: builds the dashboard into dashboard/dist the way `npm start`
 * does when the page is stale (api/dashboardBuild.ts), so both leave the
 * same record of the sources and a later start does not build it again.
 */
import * as path from "node:path";
import { DEFAULT_DASHBOARD_DIR } from "../api/http/dashboard";
import { ensureDashboard } from "../api/dashboardBuild";

const ROOT = path.resolve(__dirname, "..");

ensureDashboard({
    configFile: path.join(ROOT, "dashboard", "vite.config.ts"),
    outDir: DEFAULT_DASHBOARD_DIR,
    srcDir: path.join(ROOT, "dashboard", "src"),
    log: (m) => process.stdout.write(`${m}\n`),
    force: true,
}).catch((e: Error) => {
    process.stderr.write(`build:web failed: ${e.message}\n`);
    process.exit(1);
});
