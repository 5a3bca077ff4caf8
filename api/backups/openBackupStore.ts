/** The backup store the configuration names, ready for use (docs/backups.md, "The store"). */
import type { BackupStoreConfig } from "../config";
import { DirectoryBackupStore, type BackupStore } from "./backupStore";

export async function openBackupStore(config: BackupStoreConfig): Promise<BackupStore> {
    if (config.kind === "directory") {
        const store = new DirectoryBackupStore(config.dir);
        await store.init();
        return store;
    }
    // Loaded only for the S3 store: the AWS SDK adds about 0.3 s to the API's start (measured on this machine).
    const { S3BackupStore } = await import("./s3BackupStore");
    const store = new S3BackupStore(config);
    await store.init();
    return store;
}
