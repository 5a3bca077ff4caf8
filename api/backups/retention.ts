/**
 * Which backups the roll-off job removes: per database, succeeded backups
 * beyond the newest `keepCount`, and any finished backup older than `maxAgeMs`.
 * A running backup is never chosen, nor one a database being created is
 * restored from (`inUse`; it still counts as kept). Pure; the job
 * (backups.ts) applies it.
 */
import type { BackupStatus } from "../../contracts/backup";

export interface RetentionPolicy {
    readonly keepCount: number;
    readonly maxAgeMs: number;
}

export interface RetentionCandidate {
    readonly id: string;
    readonly databaseId: number;
    readonly status: BackupStatus;
    readonly startedAt: Date;
}

export interface RollOff {
    readonly id: string;
    readonly reason: "count" | "age";
}

export function selectRollOff(backups: readonly RetentionCandidate[], policy: RetentionPolicy, now: Date, inUse: ReadonlySet<string> = new Set()): RollOff[] {
    const byDatabase = new Map<number, RetentionCandidate[]>();
    for (const b of backups) byDatabase.set(b.databaseId, [...(byDatabase.get(b.databaseId) ?? []), b]);
    const out: RollOff[] = [];
    for (const group of byDatabase.values()) {
        const newestFirst = [...group].sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime() || b.id.localeCompare(a.id));
        let kept = 0;
        for (const b of newestFirst) {
            if (b.status === "running") continue;
            if (inUse.has(b.id)) {
                if (b.status === "succeeded") kept++;
                continue;
            }
            const old = now.getTime() - b.startedAt.getTime() > policy.maxAgeMs;
            if (b.status === "succeeded") {
                if (kept >= policy.keepCount) out.push({ id: b.id, reason: "count" });
                else if (old) out.push({ id: b.id, reason: "age" });
                else kept++;
            } else if (old) {
                out.push({ id: b.id, reason: "age" });
            }
        }
    }
    return out;
}
