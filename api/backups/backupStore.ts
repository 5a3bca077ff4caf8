/**
 * Where dump files are kept. One interface, so the store is a configuration
 * choice: the directory store here (dev, or a volume in prod), or the S3 store
 * (s3BackupStore.ts). Objects are named by backup id only (a UUID the API
 * chose), never by user input.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Readable } from "node:stream";

export interface BackupStore {
    /** What the store is, for logs and docs (`directory:<dir>`); no secrets. */
    readonly description: string;
    /**
     * A private file for the dump of `id` while it is taken, not yet a
     * backup: created empty, mode 0600. `commit` makes it the backup,
     * `discard` removes it.
     */
    stage(id: string): Promise<string>;
    /** Makes the staged file the backup `id`; resolves with its size in bytes. */
    commit(id: string): Promise<number>;
    /** Removes the staged file of `id` (a failed dump leaves nothing); nothing to remove is fine. */
    discard(id: string): Promise<void>;
    /** The backup's bytes, or undefined when the store has no such backup. */
    open(id: string): Promise<{ stream: Readable; sizeBytes: number } | undefined>;
    /** Removes the backup `id`; an absent one is fine (roll-off is retried). */
    remove(id: string): Promise<void>;
    /** Whether the backup `id` is stored (tests, recovery). */
    has(id: string): Promise<boolean>;
    /** Releases what the store holds (connections, its staging directory); the API calls it last on shutdown. */
    close?(): Promise<void>;
}

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A backup id is a lowercase UUID; anything else never becomes a file name. */
export function assertBackupId(id: string): string {
    if (!ID.test(id)) throw new Error(`not a backup id: ${JSON.stringify(id.slice(0, 60))}`);
    return id;
}

/** A new, empty 0600 file at `file` (whatever was there is removed first): the staged file a dump is written into. */
export async function createStagedFile(file: string): Promise<string> {
    await fs.promises.rm(file, { force: true });
    const h = await fs.promises.open(file, "wx", 0o600);
    await h.close();
    return file;
}

const missing = (e: unknown): boolean => (e as NodeJS.ErrnoException).code === "ENOENT";

/**
 * Files under one directory (mode 0700): `<id>.dump` (0600) for stored backups,
 * `.partial/<id>.dump` while a dump is taken. Commit is a rename within the
 * directory, so a backup file is either complete or absent.
 */
export class DirectoryBackupStore implements BackupStore {
    readonly description: string;
    readonly #partial: string;

    constructor(readonly dir: string) {
        this.description = `directory:${dir}`;
        this.#partial = path.join(dir, ".partial");
    }

    /** Creates the directories (0700); call once before use. */
    async init(): Promise<void> {
        for (const d of [this.dir, this.#partial]) {
            await fs.promises.mkdir(d, { recursive: true, mode: 0o700 });
            await fs.promises.chmod(d, 0o700);
        }
    }

    /** Path of the stored backup `id`. */
    fileOf(id: string): string {
        return path.join(this.dir, `${assertBackupId(id)}.dump`);
    }

    stagedFileOf(id: string): string {
        return path.join(this.#partial, `${assertBackupId(id)}.dump`);
    }

    async stage(id: string): Promise<string> {
        return createStagedFile(this.stagedFileOf(id));
    }

    async commit(id: string): Promise<number> {
        const staged = this.stagedFileOf(id);
        const h = await fs.promises.open(staged, "r+");
        try {
            await h.sync();
        } finally {
            await h.close();
        }
        const file = this.fileOf(id);
        await fs.promises.rename(staged, file);
        await fs.promises.chmod(file, 0o600);
        return (await fs.promises.stat(file)).size;
    }

    async discard(id: string): Promise<void> {
        await fs.promises.rm(this.stagedFileOf(id), { force: true });
    }

    async open(id: string): Promise<{ stream: Readable; sizeBytes: number } | undefined> {
        const file = this.fileOf(id);
        try {
            const h = await fs.promises.open(file, "r");
            const { size } = await h.stat();
            return { stream: h.createReadStream(), sizeBytes: size };
        } catch (e) {
            if (missing(e)) return undefined;
            throw e;
        }
    }

    async remove(id: string): Promise<void> {
        await fs.promises.rm(this.fileOf(id), { force: true });
    }

    async has(id: string): Promise<boolean> {
        try {
            await fs.promises.access(this.fileOf(id));
            return true;
        } catch {
            return false;
        }
    }
}
