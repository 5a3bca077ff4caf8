/**
 * Rows of the admin database as the API shows them. Pure mapping; nothing
 * secret is on a row, and credentials are only added by the service for the
 * owner on explicit request.
 */
import type { z } from "zod";
import type { auditEntryView, databaseView, operationView } from "./schemas";
import type { AuditRow, DatabaseRow, OperationRow } from "./store/store";

export type DatabaseView = z.output<typeof databaseView>;
export type OperationView = z.output<typeof operationView>;
export type AuditEntryView = z.output<typeof auditEntryView>;

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

export function toOperationView(op: OperationRow): OperationView {
    return {
        id: op.id,
        kind: op.kind,
        status: op.status,
        attempts: op.attempts,
        error: op.error,
        requested_by: op.requested_by,
        created_at: op.created_at.toISOString(),
        started_at: iso(op.started_at),
        finished_at: iso(op.finished_at),
    };
}

export function toDatabaseView(db: DatabaseRow, lastOperation: OperationRow | undefined): DatabaseView {
    const self = `/databases/${db.name}`;
    return {
        name: db.name,
        owner: db.owner,
        project_id: db.project_id,
        db_type: db.db_type,
        version: db.version,
        state: db.state,
        endpoint: db.endpoint,
        source_ranges: [...db.spec.source_ranges],
        backup_location: db.spec.backup_location ?? null,
        ttl_hours: db.ttl_hours,
        expires_at: db.expires_at.toISOString(),
        failure_reason: db.failure_reason,
        created_by: db.created_by,
        created_at: db.created_at.toISOString(),
        updated_at: db.updated_at.toISOString(),
        last_operation: lastOperation === undefined ? null : toOperationView(lastOperation),
        links: { self, events: `${self}/events` },
    };
}

export function toAuditEntryView(a: AuditRow): AuditEntryView {
    return {
        id: a.id,
        at: a.at.toISOString(),
        actor: a.actor,
        action: a.action,
        database: a.database,
        operation_id: a.operation_id,
        outcome: a.outcome,
        request_id: a.request_id,
        detail: a.detail,
    };
}

/** The list cursor of a row: `<name>.<id>` (a dot cannot occur in a name). */
export function cursorOf(db: Pick<DatabaseRow, "name" | "id">): string {
    return `${db.name}.${db.id}`;
}

export function parseCursor(cursor: string): { name: string; id: number } {
    const dot = cursor.lastIndexOf(".");
    return { name: cursor.slice(0, dot), id: Number(cursor.slice(dot + 1)) };
}
