/**
 * The program's own failures (ondemand/failure.ts): a RunError without a
 * stack, so the language host reports the message alone and never formats SDK
 * frames (Node 20's util.inspect loops on `node_modules/@scope/file` frames).
 */
import * as util from "node:util";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { programFailure } from "../../ondemand/failure";

describe("programFailure", () => {
    const message = "fetching backup_location failed (exit 1): restore: format not recognised";

    it("is a RunError carrying the message, with no stack frames", () => {
        const failure = programFailure(message);
        expect(pulumi.RunError.isInstance(failure)).toBe(true);
        expect(failure.message).toBe(message);
        expect(failure.stack).toBe("");
    });

    it("formats with colours at once, as the language host formats an unhandled error", () => {
        const shown = util.inspect(programFailure(message), { colors: true });
        expect(shown).toContain(message);
        expect(shown).not.toContain("node_modules");
    });
});
