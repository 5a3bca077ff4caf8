/**
 * Versioned schema of the admin database, applied in order at start. A
 * migration is never edited once released: add a new entry instead. An
 * advisory lock serialises replicas that start together.
 */
import type pg from "pg";
import { withClient } from "./sql";

export interface Migration {
    readonly version: number;
    readonly name: string;
    readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
    {
        version: 1,
        name: "databases, operations, events, audit log",
        sql: `
CREATE TABLE databases (
    id                   bigserial PRIMARY KEY,
    name                 text NOT NULL,
    owner                text NOT NULL,
    project_id           text NOT NULL,
    db_type              text NOT NULL,
    version              text NOT NULL,
    state                text NOT NULL CHECK (state IN ('creating','ready','restarting','failed','deleting','deleted')),
    -- The DatabaseSpec handed to the engine; it holds no secrets.
    spec                 jsonb NOT NULL,
    ttl_hours            integer NOT NULL,
    expires_at           timestamptz NOT NULL,
    -- host, port, database, user: never the password (the engine's stack keeps it as a secret).
    endpoint             jsonb,
    failure_reason       text,
    current_operation_id bigint,
    created_by           text NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    deleted_at           timestamptz
);
-- A name is taken while its database is not deleted; deleted rows stay for history.
CREATE UNIQUE INDEX databases_live_name ON databases (name) WHERE state <> 'deleted';
CREATE INDEX databases_by_name ON databases (name, id);
CREATE INDEX databases_by_owner ON databases (owner, name, id);
CREATE INDEX databases_by_expiry ON databases (expires_at) WHERE state IN ('ready', 'failed');

-- The operation row IS the job (FOR UPDATE SKIP LOCKED queue, see jobs/runner.ts).
CREATE TABLE operations (
    id               bigserial PRIMARY KEY,
    database_id      bigint NOT NULL REFERENCES databases (id),
    kind             text NOT NULL CHECK (kind IN ('create','restart','delete')),
    status           text NOT NULL CHECK (status IN ('queued','running','succeeded','failed','cancelled')),
    attempts         integer NOT NULL DEFAULT 0,
    run_after        timestamptz NOT NULL DEFAULT now(),
    lease_owner      text,
    lease_until      timestamptz,
    cancel_requested boolean NOT NULL DEFAULT false,
    cancel_reason    text,
    error            text,
    requested_by     text NOT NULL,
    request_id       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz
);
-- At most one operation per database runs at a time, whatever the number of workers.
CREATE UNIQUE INDEX operations_one_running ON operations (database_id) WHERE status = 'running';
CREATE INDEX operations_queued ON operations (run_after, id) WHERE status = 'queued';
CREATE INDEX operations_running_lease ON operations (lease_until) WHERE status = 'running';
CREATE INDEX operations_by_database ON operations (database_id, id);

CREATE TABLE operation_events (
    id           bigserial PRIMARY KEY,
    operation_id bigint NOT NULL REFERENCES operations (id),
    kind         text NOT NULL,
    data         jsonb NOT NULL,
    at           timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX operation_events_by_operation ON operation_events (operation_id, id);

CREATE TABLE audit_log (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor        text NOT NULL,
    action       text NOT NULL,
    database     text,
    operation_id bigint,
    outcome      text NOT NULL,
    request_id   text,
    detail       jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_by_database ON audit_log (database, id);

-- Append-only, even for the table owner: a trigger refuses UPDATE, DELETE and TRUNCATE.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
`,
    },
    {
        version: 2,
        name: "list indexes over live databases only",
        // Listings skip deleted rows and page by (name, id); these serve them in order
        // without sorting, and do not grow with the history of deleted databases.
        sql: `
CREATE INDEX databases_live_by_name ON databases (name, id) WHERE state <> 'deleted';
CREATE INDEX databases_live_by_owner ON databases (owner, name, id) WHERE state <> 'deleted';
`,
    },
    {
        version: 3,
        name: "claim: one index probe for the oldest queued operation of a database",
        // The claim (queue.ts) skips an operation while an older one of its database is
        // queued; this index answers that with one probe of the queued rows only.
        sql: `
CREATE INDEX operations_queued_by_database ON operations (database_id, id) WHERE status = 'queued';
`,
    },
    {
        version: 4,
        name: "the runtime watcher's last observation of each database's server",
        sql: `
ALTER TABLE databases ADD COLUMN runtime jsonb;
`,
    },
    {
        version: 10,
        name: "database size samples (a time series kept for DBAAS_SIZE_RETENTION_DAYS)",
        // Written by the size sampler (jobs/sizeSampler.ts), read by GET /reports and /metrics.
        // A size the engine cannot tell is NULL; a sample with neither size is not written.
        sql: `
CREATE TABLE database_size_samples (
    id             bigserial PRIMARY KEY,
    database_id    bigint NOT NULL REFERENCES databases (id),
    at             timestamptz NOT NULL DEFAULT now(),
    database_bytes bigint CHECK (database_bytes >= 0),
    volume_bytes   bigint CHECK (volume_bytes >= 0)
);
CREATE INDEX database_size_samples_by_database ON database_size_samples (database_id, at);
CREATE INDEX database_size_samples_by_time ON database_size_samples (at);
`,
    },
    {
        version: 30,
        name: "activities of a database, notes with ticket links",
        // Own tables (no change to shared CHECKs): an activity is written in the transaction of
        // the state change it records (jobs/complete.ts, domain/databases.ts, store.ts).
        sql: `
CREATE TABLE activities (
    id            bigserial PRIMARY KEY,
    database_id   bigint NOT NULL REFERENCES databases (id),
    database_name text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('created','ready','restarted','down','up','patched','failed','expired','deleted')),
    planned       boolean NOT NULL DEFAULT true,
    operation_id  bigint,
    actor         text NOT NULL,
    detail        jsonb NOT NULL DEFAULT '{}'::jsonb,
    at            timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX activities_by_database ON activities (database_id, id);
CREATE TABLE activity_notes (
    id          bigserial PRIMARY KEY,
    activity_id bigint NOT NULL REFERENCES activities (id),
    author      text NOT NULL,
    text        text NOT NULL,
    ticket_url  text,
    at          timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX activity_notes_by_activity ON activity_notes (activity_id, id);
`,
    },
    {
        version: 31,
        name: "contacts per project",
        sql: `
CREATE TABLE contacts (
    id          bigserial PRIMARY KEY,
    project_id  text NOT NULL,
    name        text,
    email       text,
    webhook_url text,
    -- HMAC key of the webhook signatures: shown once at creation, never listed or logged.
    secret      text NOT NULL,
    expires_at  timestamptz,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz,
    CHECK (email IS NOT NULL OR webhook_url IS NOT NULL)
);
CREATE INDEX contacts_live_by_project ON contacts (project_id, id) WHERE deleted_at IS NULL;
`,
    },
    {
        version: 32,
        name: "notifications, their deliveries (the queue) and every attempt",
        sql: `
CREATE TABLE notifications (
    id            bigserial PRIMARY KEY,
    project_id    text NOT NULL,
    database_name text,
    kind          text NOT NULL CHECK (kind IN ('expiry','failure','unplanned','patch')),
    summary       text NOT NULL,
    payload       jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- One row per notification and contact channel; the row IS the job (SKIP LOCKED, see notify/worker.ts).
CREATE TABLE deliveries (
    id              bigserial PRIMARY KEY,
    notification_id bigint NOT NULL REFERENCES notifications (id),
    contact_id      bigint NOT NULL REFERENCES contacts (id),
    project_id      text NOT NULL,
    channel         text NOT NULL CHECK (channel IN ('webhook','email')),
    status          text NOT NULL CHECK (status IN ('pending','sending','delivered','failed','skipped')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_until     timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    delivered_at    timestamptz
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE status IN ('pending','sending');
CREATE INDEX deliveries_by_project ON deliveries (project_id, id);
CREATE TABLE delivery_attempts (
    id          bigserial PRIMARY KEY,
    delivery_id bigint NOT NULL REFERENCES deliveries (id),
    attempt     integer NOT NULL,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    outcome     text NOT NULL CHECK (outcome IN ('delivered','failed')),
    http_status integer,
    error       text,
    duration_ms integer NOT NULL
);
CREATE INDEX delivery_attempts_by_delivery ON delivery_attempts (delivery_id, id);
-- The expiry warning is sent once per expiry time (an extension moves it, and warns again).
CREATE TABLE expiry_warnings (
    database_id bigint NOT NULL REFERENCES databases (id),
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (database_id, expires_at)
);
`,
    },
    {
        version: 20,
        name: "backups of on-demand databases, and the key of their signed content URLs",
        // Backups run in the API process (api/backups/), not as operations: their own table,
        // a lease like the operations' so a dead process's backup is failed by another, and
        // rows kept after roll-off (rolled_off_at) so sizes stay visible over time.
        sql: `
CREATE TABLE backups (
    id                uuid PRIMARY KEY,
    database_id       bigint NOT NULL REFERENCES databases (id),
    -- Copied at start: a backup outlives its database and stays its owner's.
    database_name     text NOT NULL,
    owner             text NOT NULL,
    type              text NOT NULL CHECK (type IN ('manual','scheduled')),
    status            text NOT NULL CHECK (status IN ('running','succeeded','failed')),
    db_size_bytes     bigint,
    backup_size_bytes bigint,
    server_major      integer,
    error             text,
    requested_by      text NOT NULL,
    request_id        text,
    worker_id         text,
    lease_until       timestamptz,
    started_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at       timestamptz,
    rolled_off_at     timestamptz
);
-- One backup of a database at a time.
CREATE UNIQUE INDEX backups_one_running ON backups (database_id) WHERE status = 'running';
CREATE INDEX backups_live_by_name ON backups (database_name, started_at DESC) WHERE rolled_off_at IS NULL;
CREATE INDEX backups_running_lease ON backups (lease_until) WHERE status = 'running';

-- One row: the HMAC key of signed backup content URLs, shared by every replica.
CREATE TABLE backup_url_key (
    id         integer PRIMARY KEY CHECK (id = 1),
    key        bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
`,
    },
    {
        version: 50,
        name: "rolling patches: rollouts, their steps (one per database), and the patch operation",
        // A step's operation is an ordinary operation of kind 'patch' (jobs/runner.ts), so the job
        // runner's lease and recovery carry it through a restart; the step only points at it.
        sql: `
ALTER TABLE operations DROP CONSTRAINT operations_kind_check;
ALTER TABLE operations ADD CONSTRAINT operations_kind_check CHECK (kind IN ('create','restart','delete','patch'));
CREATE TABLE rollouts (
    id          bigserial PRIMARY KEY,
    label       text NOT NULL,
    -- The distinct images the databases ran when the rollout started, and the catalog's image.
    from_images jsonb NOT NULL,
    to_image    text NOT NULL,
    state       text NOT NULL CHECK (state IN ('running','stopped_on_failure','succeeded')),
    started_by  text NOT NULL,
    request_id  text,
    started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at timestamptz
);
-- One running rollout per label.
CREATE UNIQUE INDEX rollouts_one_running ON rollouts (label) WHERE state = 'running';
CREATE INDEX rollouts_running ON rollouts (id) WHERE state = 'running';
CREATE TABLE rollout_steps (
    id             bigserial PRIMARY KEY,
    rollout_id     bigint NOT NULL REFERENCES rollouts (id),
    position       integer NOT NULL,
    database_id    bigint NOT NULL REFERENCES databases (id),
    database_name  text NOT NULL,
    previous_image text NOT NULL,
    new_image      text NOT NULL,
    patch_type     text CHECK (patch_type IN ('database','os')),
    state          text NOT NULL CHECK (state IN ('pending','running','succeeded','failed','skipped')),
    reason         text,
    operation_id   bigint REFERENCES operations (id),
    attempts       integer NOT NULL DEFAULT 0,
    output_excerpt text,
    started_at     timestamptz,
    finished_at    timestamptz,
    UNIQUE (rollout_id, position)
);
CREATE INDEX rollout_steps_by_rollout ON rollout_steps (rollout_id, position);
`,
    },
    {
        version: 40,
        name: "the restored-backup cache (golden volumes) and how each database was made",
        // One row per golden copy (api/cache/). The URL is stored without its query (a presigned
        // signature is a secret); an evicted row stays for history until its volume is removed.
        sql: `
CREATE TABLE restore_cache (
    id               bigserial PRIMARY KEY,
    url              text NOT NULL,
    docker_host      text NOT NULL,
    image            text NOT NULL,
    etag             text,
    last_modified    text,
    content_length   bigint,
    sha256           text,
    volume           text NOT NULL UNIQUE,
    bytes            bigint NOT NULL,
    state            text NOT NULL CHECK (state IN ('ready','evicted')),
    source_database  text NOT NULL,
    filled_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_used_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    hits             integer NOT NULL DEFAULT 0,
    evicted_at       timestamptz,
    evict_reason     text,
    -- An evicted entry whose volume is still to be removed (in use by a clone being made, engine down).
    removal_pending  boolean NOT NULL DEFAULT false
);
CREATE INDEX restore_cache_lookup ON restore_cache (url, docker_host, image) WHERE state = 'ready';
-- {made: restored|cloned, url, filled_at, cache_id}: what the database view and events say.
ALTER TABLE databases ADD COLUMN made jsonb;
`,
    },
];

/** Arbitrary constant key of the migration advisory lock. */
const MIGRATION_LOCK = 7_007_001;

/** Applies the migrations that are missing; returns the versions applied. */
export async function migrate(pool: pg.Pool, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
    const applied: number[] = [];
    await withClient(pool, async (client) => {
        try {
            await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
            await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
            const done = new Set((await client.query<{ version: number }>("SELECT version FROM schema_migrations")).rows.map((r) => r.version));
            for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
                if (done.has(m.version)) continue;
                await client.query("BEGIN");
                try {
                    await client.query(m.sql);
                    await client.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [m.version, m.name]);
                    await client.query("COMMIT");
                    applied.push(m.version);
                } catch (e) {
                    await client.query("ROLLBACK");
                    throw new Error(`migration ${m.version} (${m.name}) failed: ${(e as Error).message}`);
                }
            }
        } finally {
            await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]).catch(() => undefined);
        }
    });
    return applied;
}
