/**
 * The restore script's contract for the code that ships and runs it (the
 * on-demand program's ConfigMap / upload, its readiness check, the API's
 * tests): where the script is, the marker it writes on success, and the
 * environment it reads. The script itself is `restore.sh` beside this file;
 * docs/ondemand.md describes it. No Pulumi imports.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** Absolute path of the POSIX sh restore script in this checkout. */
export const RESTORE_SCRIPT_PATH = path.join(__dirname, "restore.sh");

/** The script's text, e.g. for a ConfigMap or a file upload into a container. */
export function readRestoreScript(): string {
    return fs.readFileSync(RESTORE_SCRIPT_PATH, "utf8");
}
