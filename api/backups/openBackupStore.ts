/** The backup store the configuration names, ready for use (docs/backups.md, "The store"). */
import type { BackupStoreConfig } from "../config";
import { DirectoryBackupStore, type BackupStore } from "./backupStore";
import { S3BackupStore } from "./s3BackupStore";

export async function openBackupStore(config: BackupStoreConfig): Promise<BackupStore> {
    const store = config.kind === "directory" ? new DirectoryBackupStore(config.dir) : new S3BackupStore(config);
    await store.init();
    return store;
}
