/**
 * Named (server-side prepared) statements. node-postgres plans an unnamed
 * statement on every execution; the hot queries of the API are few fixed
 * texts, so naming them lets each connection reuse its plan (planning was a
 * visible share of a list request in bench/api.ts). The name is derived from
 * the text, so one text always maps to one name on every connection.
 */
import { createHash } from "node:crypto";
import type pg from "pg";

const names = new Map<string, string>();

export function named(text: string, values: unknown[]): pg.QueryConfig {
    let name = names.get(text);
    if (name === undefined) {
        name = `dbaas_${createHash("sha1").update(text).digest("hex").slice(0, 16)}`;
        names.set(text, name);
    }
    return { name, text, values };
}
