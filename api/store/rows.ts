/**
 * The row types the store and the queue share (kept apart so the queue's SQL
 * and the store's can import them without importing each other).
 */
import type pg from "pg";
import type { OperationKind } from "../domain/stateMachine";

export type Queryable = pg.Pool | pg.PoolClient;

export type OperationStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled";

export interface OperationRow {
    readonly id: number;
    readonly database_id: number;
    readonly kind: OperationKind;
    readonly status: OperationStatus;
    readonly attempts: number;
    readonly run_after: Date;
    readonly lease_owner: string | null;
    readonly lease_until: Date | null;
    readonly cancel_requested: boolean;
    readonly cancel_reason: string | null;
    readonly error: string | null;
    readonly requested_by: string;
    readonly request_id: string | null;
    readonly created_at: Date;
    readonly started_at: Date | null;
    readonly finished_at: Date | null;
}
