/**
 * Backups as objects `<prefix>/<id>.dump` in an S3 bucket (DBAAS_BACKUP_STORE=s3).
 * pg_dump writes a file, so a dump is staged as a local 0600 file in a private
 * temporary directory of this process; `commit` uploads it (a multipart upload
 * through @aws-sdk/lib-storage for large dumps, which aborts the upload when a
 * part fails, so a failed commit leaves no object) and removes it. Credentials
 * come from the SDK's default chain only (the pod's web identity, an instance
 * profile, AWS_* of the environment in tests): none are configured here.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Readable } from "node:stream";
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, S3Client, S3ServiceException, type PutObjectCommandInput } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import type { BackupStoreConfig } from "../config";
import { assertBackupId, createStagedFile, type BackupStore } from "./backupStore";

type S3StoreConfig = Extract<BackupStoreConfig, { kind: "s3" }>;

/** Parts of 16 MiB, 4 at a time: a 10 GB dump is ~600 parts (S3 allows 10 000), at most 64 MiB buffered. */
const PART_SIZE = 16 * 1024 * 1024;
const QUEUE_SIZE = 4;

/** The object key of backup `id` under `prefix` (a relative prefix, checked by the config). */
export function backupObjectKey(prefix: string, id: string): string {
    return `${prefix === "" ? "" : `${prefix}/`}${assertBackupId(id)}.dump`;
}

/** The SSE parameters of every upload: SSE-KMS with the configured key, else the bucket's default encryption. */
export function encryptionParams(kmsKeyId: string | undefined): Pick<PutObjectCommandInput, "ServerSideEncryption" | "SSEKMSKeyId"> {
    return kmsKeyId === undefined ? {} : { ServerSideEncryption: "aws:kms", SSEKMSKeyId: kmsKeyId };
}

const notFound = (e: unknown): boolean => e instanceof S3ServiceException && (e.$metadata.httpStatusCode === 404 || e.name === "NoSuchKey" || e.name === "NotFound");

/** A short, secret-free reason (the SDK's messages name the bucket and the error code, never credentials). */
function reason(what: string, e: unknown): Error {
    const code = e instanceof S3ServiceException ? `${e.name}${e.$metadata.httpStatusCode === undefined ? "" : ` (HTTP ${e.$metadata.httpStatusCode})`}` : (e as Error).name;
    return new Error(`${what} failed: ${code}: ${(e as Error).message.slice(0, 300)}`, { cause: e });
}

export interface S3BackupStoreOptions {
    /** Where the private staging directory is made. Default: the OS temporary directory. */
    readonly tmpDir?: string;
    /** Bytes of each part of a multipart upload. Default: 16 MiB (S3's minimum is 5 MiB). */
    readonly partSize?: number;
    /** Called with the client once it is made: tests add middleware that watches or breaks requests. Default: none. */
    readonly onClient?: (client: S3Client) => void;
}

export class S3BackupStore implements BackupStore {
    readonly description: string;
    readonly #client: S3Client;
    readonly #tmpDir: string;
    readonly #partSize: number;
    #staging: string | undefined;

    constructor(readonly config: S3StoreConfig, o: S3BackupStoreOptions = {}) {
        this.description = `s3://${config.bucket}/${config.prefix}${config.kmsKeyId === undefined ? "" : " (SSE-KMS)"}${config.endpoint === undefined ? "" : ` at ${config.endpoint}`}`;
        this.#client = new S3Client({
            region: config.region,
            // S3-compatible servers are addressed by path (http://host/bucket/key), not by a bucket subdomain.
            ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint, forcePathStyle: true }),
        });
        o.onClient?.(this.#client);
        this.#tmpDir = o.tmpDir ?? os.tmpdir();
        this.#partSize = o.partSize ?? PART_SIZE;
    }

    /** Makes the private staging directory (0700); call once before use. */
    async init(): Promise<void> {
        this.#staging ??= await fs.promises.mkdtemp(path.join(this.#tmpDir, "dbaas-backup-staging-"));
        await fs.promises.chmod(this.#staging, 0o700);
    }

    /** Removes the staging directory and closes the client's connections. */
    async close(): Promise<void> {
        if (this.#staging !== undefined) await fs.promises.rm(this.#staging, { recursive: true, force: true });
        this.#staging = undefined;
        this.#client.destroy();
    }

    keyOf(id: string): string {
        return backupObjectKey(this.config.prefix, id);
    }

    stagedFileOf(id: string): string {
        if (this.#staging === undefined) throw new Error("S3BackupStore.init() was not called");
        return path.join(this.#staging, `${assertBackupId(id)}.dump`);
    }

    async stage(id: string): Promise<string> {
        return createStagedFile(this.stagedFileOf(id));
    }

    async commit(id: string): Promise<number> {
        const file = this.stagedFileOf(id);
        const key = this.keyOf(id);
        try {
            const { size } = await fs.promises.stat(file);
            const upload = new Upload({
                client: this.#client,
                params: { Bucket: this.config.bucket, Key: key, Body: fs.createReadStream(file), ContentLength: size, ContentType: "application/octet-stream", ...encryptionParams(this.config.kmsKeyId) },
                partSize: this.#partSize,
                queueSize: QUEUE_SIZE,
                // A failed part aborts the multipart upload: nothing half-written stays in the bucket.
                leavePartsOnError: false,
            });
            try {
                await upload.done();
            } catch (e) {
                throw reason(`uploading the backup to s3://${this.config.bucket}/${key}`, e);
            }
            return size;
        } finally {
            await fs.promises.rm(file, { force: true });
        }
    }

    async discard(id: string): Promise<void> {
        await fs.promises.rm(this.stagedFileOf(id), { force: true });
    }

    async open(id: string): Promise<{ stream: Readable; sizeBytes: number } | undefined> {
        try {
            const r = await this.#client.send(new GetObjectCommand({ Bucket: this.config.bucket, Key: this.keyOf(id) }));
            if (!(r.Body instanceof Readable) || r.ContentLength === undefined) throw new Error("the object came without a body stream or a length");
            return { stream: r.Body, sizeBytes: r.ContentLength };
        } catch (e) {
            if (notFound(e)) return undefined;
            throw reason(`reading s3://${this.config.bucket}/${this.keyOf(id)}`, e);
        }
    }

    async remove(id: string): Promise<void> {
        try {
            // S3 answers 204 for an absent key too: removing twice is fine.
            await this.#client.send(new DeleteObjectCommand({ Bucket: this.config.bucket, Key: this.keyOf(id) }));
        } catch (e) {
            if (notFound(e)) return;
            throw reason(`removing s3://${this.config.bucket}/${this.keyOf(id)}`, e);
        }
    }

    async has(id: string): Promise<boolean> {
        try {
            await this.#client.send(new HeadObjectCommand({ Bucket: this.config.bucket, Key: this.keyOf(id) }));
            return true;
        } catch (e) {
            if (notFound(e)) return false;
            throw reason(`looking up s3://${this.config.bucket}/${this.keyOf(id)}`, e);
        }
    }
}
