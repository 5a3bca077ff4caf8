/** Frames of the Docker Engine API's multiplexed stream, for stand-ins and tests. */

/** A frame: stream type (1 stdout, 2 stderr), three zero bytes, the payload's length (big-endian uint32), the payload. */
export function frame(stream: 1 | 2, payload: Buffer | string): Buffer {
    const p = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
    const header = Buffer.alloc(8);
    header[0] = stream;
    header.writeUInt32BE(p.length, 4);
    return Buffer.concat([header, p]);
}
