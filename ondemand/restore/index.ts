/**
 * The restore step's two scripts for the code that ships and runs them (the
 * on-demand program's ConfigMap / uploads, the benchmark, the tests):
 * `fetch.sh` downloads `backup_location` into a local file, `restore.sh`
 * loads that file. Their contract (marker, environment, container paths) is
 * contracts/restore.ts; docs/ondemand.md describes them. The fetch script's
 * table of blocked addresses is rendered here from contracts/egress.ts. No
 * Pulumi imports.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { BLOCKED_EGRESS } from "../../contracts/egress";

/** Absolute path of the fetch script (BACKUP_URL → local file) in this checkout. */
export const FETCH_SCRIPT_PATH = path.join(__dirname, "fetch.sh");
/** Absolute path of the restore script (local file → PostgreSQL) in this checkout. */
export const RESTORE_SCRIPT_PATH = path.join(__dirname, "restore.sh");

const TABLE_BLOCK = /^BLOCKED_EGRESS='\n[^']*'$/m;

/**
 * The fetch script's `BLOCKED_EGRESS` assignment: one `cidr flag reason` line
 * per range of the shared table (flag `loopback` or `-`).
 */
export function renderBlockedEgress(): string {
    const lines = BLOCKED_EGRESS.map(({ cidr, reason, loopback }) => {
        if (/['\n]/.test(reason)) throw new Error(`blocked-egress reason ${JSON.stringify(reason)} must not contain a quote or newline (contracts/egress.ts)`);
        return `${cidr} ${loopback ? "loopback" : "-"} ${reason}`;
    });
    return `BLOCKED_EGRESS='\n${lines.join("\n")}\n'`;
}

/** The block as it stands in `script`, or undefined when the script has none. */
export function blockedEgressBlock(script: string): string | undefined {
    return TABLE_BLOCK.exec(script)?.[0];
}

/**
 * The fetch script's text with its table rendered from contracts/egress.ts,
 * e.g. for a ConfigMap or a file upload. The checked-in file carries the same
 * block (test/contracts/egress.test.ts fails when it is stale), so a copy run
 * by hand refuses the same addresses.
 */
export function readFetchScript(): string {
    const script = fs.readFileSync(FETCH_SCRIPT_PATH, "utf8");
    if (blockedEgressBlock(script) === undefined) throw new Error(`${FETCH_SCRIPT_PATH} has no BLOCKED_EGRESS='...' block to render the blocked-egress table into`);
    return script.replace(TABLE_BLOCK, () => renderBlockedEgress());
}

/** The restore script's text, e.g. for a ConfigMap or a file upload. */
export function readRestoreScript(): string {
    return fs.readFileSync(RESTORE_SCRIPT_PATH, "utf8");
}
