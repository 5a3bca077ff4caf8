/**
 * Rows of the admin database as the API shows them. Pure mapping; nothing
 * secret is on a row, and credentials are only added by `Databases`
 * (domain/databases.ts) for the owner on explicit request.
 */
import type { AuditEntryView, DatabaseView, OperationView } from "../../contracts/api";
import { toMadeView } from "../../contracts/cache";
import type { AuditRow, DatabaseRow, ListedDatabase, OperationRow } from "../store/store";
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

function links(name: string): DatabaseView["links"] {
    const self = `/databases/${name}`;
    return { self, events: `${self}/events` };
}

export function toDatabaseView(db: DatabaseRow, lastOperation: OperationRow | undefined): DatabaseView {
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
        backup_id: db.spec.backup_id ?? null,
        ttl_hours: db.ttl_hours,
        expires_at: db.expires_at.toISOString(),
        failure_reason: db.failure_reason,
        created_by: db.created_by,
        created_at: db.created_at.toISOString(),
        updated_at: db.updated_at.toISOString(),
        last_operation: lastOperation === undefined ? null : toOperationView(lastOperation),
        runtime: db.runtime,
        made: toMadeView(db.made),
        links: links(db.name),
    };
}

/** The same view from a listing row (already in view form, see AdminStore.listDatabases). */
export function listedDatabaseView(d: ListedDatabase): DatabaseView {
    return {
        name: d.name,
        owner: d.owner,
        project_id: d.project_id,
        db_type: d.db_type,
        version: d.version,
        state: d.state,
        endpoint: d.endpoint,
        source_ranges: d.source_ranges,
        backup_location: d.backup_location,
        backup_id: d.backup_id,
        ttl_hours: d.ttl_hours,
        expires_at: d.expires_at,
        failure_reason: d.failure_reason,
        created_by: d.created_by,
        created_at: d.created_at,
        updated_at: d.updated_at,
        last_operation: d.operation,
        runtime: d.runtime,
        made: toMadeView(d.made),
        links: links(d.name),
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
