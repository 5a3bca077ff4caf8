/**
 * Every place a source range is accepted (stack config, the API's create
 * body and default ranges, the database spec) checks it with isCidr, which
 * parses with ipaddr.js: malformed IPv6 used to pass the hand-written check
 * and fail only at apply time.
 */
import { describe, expect, it } from "vitest";
import { isCidr } from "../../contracts/stackConfig";
import { cidrSchema } from "../../contracts/database";
import { createDatabaseBody } from "../../contracts/api";

const GOOD = ["10.0.0.0/16", "203.0.113.7/32", "0.0.0.0/0", "2001:db8::/48", "::/0", "::1/128", "fe80::/10", "::ffff:192.0.2.1/128", "2001:db8:0:0:0:0:0:0/64"];
const BAD = [
    "2001:db8:::/48", "1::2::3/64", "1:2:3:4:5:6:7:8:9/64", "2001:db8::g/48", ":/8", "::/129",
    "10.0.0.0/33", "10.1/8", "010.0.0.1/8", "256.0.0.0/8", "10.0.0.0/08", "10.0.0.0", "10.0.0.0/", "/24",
    "fe80::1%eth0/64", " 10.0.0.0/8", "10.0.0.0/8 ", "example.com/24",
];

describe("isCidr (ipaddr.js)", () => {
    it.each(GOOD)("accepts %s", (c) => expect(isCidr(c)).toBe(true));
    it.each(BAD)("refuses %j", (c) => expect(isCidr(c)).toBe(false));

    it("the spec and the API's create body refuse the same ranges, naming the rule", () => {
        const body = (c: string) => ({ name: "db1", owner: "alice", project_id: "proj-1", db_type: "postgres", source_ranges: [c] });
        for (const c of GOOD) expect(createDatabaseBody.safeParse(body(c)).success, c).toBe(true);
        for (const c of BAD) {
            expect(cidrSchema.safeParse(c).success, c).toBe(false);
            const r = createDatabaseBody.safeParse(body(c));
            expect(r.success, c).toBe(false);
            expect(r.error?.issues.map((i) => i.path.join("."))).toEqual(["source_ranges.0"]);
        }
    });
});
