/**
 * Security contexts of the database pods: everything Pod Security `restricted`
 * demands, plus a read-only root filesystem. Every container, init containers
 * included, gets the same container context. No Pulumi imports.
 */
import { POSTGRES_UID } from "../../contracts/catalog";

/** Pod-level: uid/gid 999 (the images' `postgres` user), volumes owned by gid 999. */
export function podSecurityContext() {
    return {
        runAsUser: POSTGRES_UID,
        runAsGroup: POSTGRES_UID,
        fsGroup: POSTGRES_UID,
        // Re-chowning a large restored volume on every start would delay readiness.
        fsGroupChangePolicy: "OnRootMismatch",
        runAsNonRoot: true,
        seccompProfile: { type: "RuntimeDefault" },
    };
}

/** Container-level: non-root, no privilege escalation, no capabilities, read-only root. */
export function containerSecurityContext() {
    return {
        runAsUser: POSTGRES_UID,
        runAsGroup: POSTGRES_UID,
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
        privileged: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ["ALL"] },
        seccompProfile: { type: "RuntimeDefault" },
    };
}
