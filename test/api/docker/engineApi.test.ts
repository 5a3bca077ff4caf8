/** Splitting the Engine API's multiplexed stdout/stderr stream (attach and logs without a TTY). */
import { describe, expect, it } from "vitest";
import { demuxLogs, DockerStreamDemuxer, DockerStreamError, type DockerStreamType } from "../../../api/docker/engineApi";
import { frame } from "../../support/dockerStream";

function split(chunks: readonly Buffer[]): { stdout: Buffer; stderr: string; d: DockerStreamDemuxer } {
    const out: Record<DockerStreamType, Buffer[]> = { stdin: [], stdout: [], stderr: [] };
    const d = new DockerStreamDemuxer((s, p) => out[s].push(Buffer.from(p)));
    for (const c of chunks) d.push(c);
    return { stdout: Buffer.concat(out.stdout), stderr: Buffer.concat(out.stderr).toString("utf8"), d };
}

describe("the multiplexed stream", () => {
    // Binary stdout with bytes that look like frame headers, interleaved with stderr.
    const dump = Buffer.from([0x50, 0x47, 0x44, 0x4d, 0x50, 0x01, 0x00, 0x00, 0x00, 0x0a, 0x0d, 0x0a, 0xff, 0x02, 0x00]);
    const stream = Buffer.concat([frame(2, "dbaas-dump-info 170010 1\n"), frame(1, dump.subarray(0, 7)), frame(2, "warn\n"), frame(1, dump.subarray(7)), frame(1, "")]);

    it("gives stdout byte for byte and stderr apart, whole", () => {
        const r = split([stream]);
        expect(r.stdout.equals(dump)).toBe(true);
        expect(r.stderr).toBe("dbaas-dump-info 170010 1\nwarn\n");
        expect(r.d.end()).toBeUndefined();
    });

    it("gives the same when chunks cut headers and payloads anywhere (every chunk size from 1 to 9 bytes)", () => {
        for (let size = 1; size <= 9; size++) {
            const chunks: Buffer[] = [];
            for (let at = 0; at < stream.length; at += size) chunks.push(stream.subarray(at, at + size));
            const r = split(chunks);
            expect(r.stdout.equals(dump), `chunks of ${size}`).toBe(true);
            expect(r.stderr).toBe("dbaas-dump-info 170010 1\nwarn\n");
            expect(r.d.end()).toBeUndefined();
        }
    });

    it("hands a large frame on in pieces as they arrive, not buffered whole", () => {
        const big = Buffer.alloc(1_000_000, 7);
        const f = frame(1, big);
        const pieces: number[] = [];
        const d = new DockerStreamDemuxer((_s, p) => pieces.push(p.length));
        d.push(f.subarray(0, 100_008));
        expect(pieces).toEqual([100_000]);
        d.push(f.subarray(100_008));
        expect(pieces.reduce((a, b) => a + b, 0)).toBe(1_000_000);
    });

    it.each([
        [Buffer.concat([frame(1, "abcdef").subarray(0, 11)]), /3 bytes short of the end of a stdout frame/],
        [Buffer.concat([frame(1, "ab"), Buffer.from([1, 0, 0])]), /inside a frame header \(3 of 8 bytes\)/],
    ])("says when the stream ended inside a frame", (raw, cut) => {
        expect(split([raw]).d.end()).toMatch(cut);
    });

    it("refuses a stream that is not multiplexed (a TTY's), naming the header", () => {
        expect(() => split([Buffer.from("PGDMP raw tty output")])).toThrow(DockerStreamError);
        expect(() => split([Buffer.from("PGDMP raw tty output")])).toThrow(/not a multiplexed Docker stream \(frame header 5047444d50207261\)/);
    });

    it("reads logs: frames as text, a TTY's text as it is", () => {
        expect(demuxLogs(Buffer.concat([frame(1, "a\n"), frame(2, "b\n")]))).toBe("a\nb\n");
        expect(demuxLogs(Buffer.from("plain tty text\n"))).toBe("plain tty text\n");
        expect(demuxLogs(Buffer.alloc(0))).toBe("");
    });
});
