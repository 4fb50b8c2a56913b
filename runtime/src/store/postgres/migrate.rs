//! The versioned migrations, applied on connect.

use tokio_postgres::Client;

use super::backend;
use crate::error::StoreError;

/// The versioned migrations, in order. `{schema}` stands for the quoted schema name. Never
/// edit one that has shipped: add the next.
pub(super) const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "events, snapshots and checkpoints",
        r#"
CREATE TABLE {schema}.events (
    position       BIGINT      NOT NULL,
    aggregate_type TEXT        NOT NULL,
    stream_id      TEXT        NOT NULL,
    version        BIGINT      NOT NULL,
    name           TEXT        NOT NULL,
    schema_version BIGINT      NOT NULL,
    recorded_at    TIMESTAMPTZ NOT NULL,
    metadata       JSONB       NOT NULL,
    payload        JSONB       NOT NULL,
    CONSTRAINT events_pkey PRIMARY KEY (position),
    CONSTRAINT events_stream_version UNIQUE (aggregate_type, stream_id, version),
    CONSTRAINT events_position_positive CHECK (position > 0),
    CONSTRAINT events_version_positive CHECK (version > 0)
);
CREATE TABLE {schema}.snapshots (
    aggregate_type TEXT   NOT NULL,
    stream_id      TEXT   NOT NULL,
    version        BIGINT NOT NULL,
    fingerprint    BIGINT NOT NULL,
    state          TEXT   NOT NULL,
    CONSTRAINT snapshots_pkey PRIMARY KEY (aggregate_type, stream_id)
);
CREATE TABLE {schema}.checkpoints (
    name     TEXT   NOT NULL,
    position BIGINT NOT NULL,
    state    TEXT   NOT NULL,
    CONSTRAINT checkpoints_pkey PRIMARY KEY (name)
);
"#,
    ),
    (
        2,
        "an index of command ids",
        r#"
CREATE INDEX events_by_command ON {schema}.events (aggregate_type, stream_id, (metadata->>'command_id'))
    WHERE (metadata->>'command_id') IS NOT NULL;
"#,
    ),
    (
        3,
        "why each runner last stopped",
        r#"
CREATE TABLE {schema}.failures (
    name      TEXT        NOT NULL,
    position  BIGINT      NOT NULL,
    error     TEXT        NOT NULL,
    failed_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT failures_pkey PRIMARY KEY (name)
);
"#,
    ),
    (
        4,
        "process managers: instances, outbox and deadlines",
        r#"
CREATE TABLE {schema}.process_instances (
    process  TEXT NOT NULL,
    instance TEXT NOT NULL,
    state    TEXT NOT NULL,
    CONSTRAINT process_instances_pkey PRIMARY KEY (process, instance)
);
CREATE TABLE {schema}.process_outbox (
    id             BIGINT      GENERATED ALWAYS AS IDENTITY,
    process        TEXT        NOT NULL,
    instance       TEXT        NOT NULL,
    aggregate_type TEXT        NOT NULL,
    stream_id      TEXT        NOT NULL,
    command        TEXT        NOT NULL,
    metadata       JSONB       NOT NULL,
    rejected_error TEXT,
    rejected_at    TIMESTAMPTZ,
    CONSTRAINT process_outbox_pkey PRIMARY KEY (id),
    CONSTRAINT process_outbox_rejected_whole CHECK ((rejected_error IS NULL) = (rejected_at IS NULL))
);
CREATE INDEX process_outbox_pending ON {schema}.process_outbox (process, id) WHERE rejected_error IS NULL;
CREATE INDEX process_outbox_rejected ON {schema}.process_outbox (process, rejected_at, id)
    WHERE rejected_error IS NOT NULL;
CREATE TABLE {schema}.process_deadlines (
    id             BIGINT      GENERATED ALWAYS AS IDENTITY,
    process        TEXT        NOT NULL,
    instance       TEXT        NOT NULL,
    kind           TEXT        NOT NULL,
    due_at         TIMESTAMPTZ NOT NULL,
    payload        TEXT        NOT NULL,
    correlation_id TEXT,
    CONSTRAINT process_deadlines_pkey PRIMARY KEY (id)
);
CREATE INDEX process_deadlines_by_due ON {schema}.process_deadlines (process, due_at, id);
CREATE INDEX process_deadlines_by_instance ON {schema}.process_deadlines (process, instance);
"#,
    ),
    (
        5,
        "personal data: subjects' keys, the streams they sealed values in, the audit of forget; \
         streams that end: archived events flagged, deletions recorded",
        r#"
CREATE TABLE {schema}.pii_keys (
    id         BIGINT      GENERATED ALWAYS AS IDENTITY,
    subject    TEXT        NOT NULL,
    key        BYTEA       NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT pii_keys_pkey PRIMARY KEY (id)
);
CREATE INDEX pii_keys_by_subject ON {schema}.pii_keys (subject, id);
CREATE TABLE {schema}.pii_key_streams (
    key_id         BIGINT NOT NULL,
    aggregate_type TEXT   NOT NULL,
    stream_id      TEXT   NOT NULL,
    first_position BIGINT NOT NULL,
    CONSTRAINT pii_key_streams_pkey PRIMARY KEY (key_id, aggregate_type, stream_id)
);
CREATE INDEX pii_key_streams_by_stream ON {schema}.pii_key_streams (aggregate_type, stream_id);
CREATE TABLE {schema}.pii_forgotten (
    id           BIGINT      GENERATED ALWAYS AS IDENTITY,
    subject      TEXT        NOT NULL,
    forgotten_by TEXT        NOT NULL,
    forgotten_at TIMESTAMPTZ NOT NULL,
    keys         BIGINT      NOT NULL,
    snapshots    BIGINT      NOT NULL,
    checkpoints  TEXT[]      NOT NULL,
    CONSTRAINT pii_forgotten_pkey PRIMARY KEY (id)
);
ALTER TABLE {schema}.events ADD COLUMN archived BOOLEAN NOT NULL DEFAULT false;
"#,
    ),
];

/// Brings `schema` up to the newest migration, in one transaction under an advisory lock.
pub(super) async fn migrate(client: &Client, schema: &str, quoted: &str, lock_key: i64) -> Result<(), StoreError> {
    client.batch_execute("BEGIN").await.map_err(backend)?;
    let result = migrate_in_transaction(client, schema, quoted, lock_key).await;
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    let ended = client.batch_execute(end).await.map_err(backend);
    result.and(ended)
}

pub(super) async fn migrate_in_transaction(
    client: &Client,
    schema: &str,
    quoted: &str,
    lock_key: i64,
) -> Result<(), StoreError> {
    client.execute("SELECT pg_advisory_xact_lock($1::bigint)", &[&lock_key]).await.map_err(backend)?;
    // Checked rather than `IF NOT EXISTS`, which needs the CREATE privilege even when the
    // object exists: a user without it can still use a schema migrated by another.
    let schema_exists = client
        .query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1::text", &[&schema])
        .await
        .map_err(backend)?
        .is_some();
    if !schema_exists {
        client.batch_execute(&format!("CREATE SCHEMA {quoted}")).await.map_err(backend)?;
    }
    let table = format!("{quoted}.factum_migrations");
    let table_exists: Option<String> = client
        .query_one("SELECT to_regclass($1::text)::text", &[&table])
        .await
        .map_err(backend)?
        .try_get(0)
        .map_err(backend)?;
    if table_exists.is_none() {
        client
            .batch_execute(&format!(
                "CREATE TABLE {table} (\
                   version     INTEGER     NOT NULL PRIMARY KEY, \
                   description TEXT        NOT NULL, \
                   applied_at  TIMESTAMPTZ NOT NULL DEFAULT now())"
            ))
            .await
            .map_err(backend)?;
    }
    let current: i32 = client
        .query_one(&format!("SELECT coalesce(max(version), 0) FROM {table}"), &[])
        .await
        .map_err(backend)?
        .try_get(0)
        .map_err(backend)?;
    let newest = MIGRATIONS.last().map_or(0, |&(version, _, _)| version);
    if current > newest {
        return Err(StoreError::Incompatible {
            store: format!("PostgreSQL schema {schema:?}"),
            found: i64::from(current),
            supported: i64::from(newest),
        });
    }
    for &(version, description, sql) in MIGRATIONS.iter().filter(|(version, _, _)| *version > current) {
        client.batch_execute(&sql.replace("{schema}", quoted)).await.map_err(backend)?;
        client
            .execute(
                &format!("INSERT INTO {table} (version, description) VALUES ($1::integer, $2::text)"),
                &[&version, &description],
            )
            .await
            .map_err(backend)?;
    }
    Ok(())
}
