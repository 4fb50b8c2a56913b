//! The schema: versioned migrations, run when a file is opened, and the refusal of a file
//! written by a newer factum.

use rusqlite::{Connection, TransactionBehavior};

use super::backend;
use crate::error::StoreError;

/// The schema, one entry per version; `PRAGMA user_version` records how many have run.
const MIGRATIONS: &[&str] = &[
    // 1: events, snapshots, checkpoints.
    "CREATE TABLE events (
        position       INTEGER PRIMARY KEY AUTOINCREMENT,
        aggregate_type TEXT    NOT NULL,
        stream_id      TEXT    NOT NULL,
        version        INTEGER NOT NULL,
        name           TEXT    NOT NULL,
        schema_version INTEGER NOT NULL,
        recorded_at    INTEGER NOT NULL,
        metadata       TEXT,
        payload        TEXT    NOT NULL,
        UNIQUE (aggregate_type, stream_id, version)
    );
    CREATE INDEX events_by_name ON events (name, position);
    CREATE TABLE snapshots (
        aggregate_type TEXT    NOT NULL,
        stream_id      TEXT    NOT NULL,
        version        INTEGER NOT NULL,
        fingerprint    INTEGER NOT NULL,
        state          TEXT    NOT NULL,
        PRIMARY KEY (aggregate_type, stream_id)
    );
    CREATE TABLE checkpoints (
        name     TEXT    PRIMARY KEY,
        position INTEGER NOT NULL,
        state    TEXT    NOT NULL
    );",
    // 2: leases, so one process at a time runs a given projection.
    "CREATE TABLE leases (
        name       TEXT    PRIMARY KEY,
        owner      TEXT    NOT NULL,
        expires_at INTEGER NOT NULL
    );",
];

/// Brings the schema up to date, in one write transaction, so two processes opening a new
/// file at once cannot both migrate it.
pub(super) fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
    let done: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0)).map_err(backend)?;
    let done = usize::try_from(done).unwrap_or(usize::MAX);
    if done > MIGRATIONS.len() {
        return Err(StoreError::InvalidInput {
            what: "SQLite schema".to_owned(),
            reason: format!(
                "the file is at schema version {done}, newer than this factum knows ({}); upgrade factum",
                MIGRATIONS.len()
            ),
        });
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(done) {
        tx.execute_batch(migration).map_err(backend)?;
        tx.pragma_update(None, "user_version", (index + 1) as i64).map_err(backend)?;
    }
    tx.commit().map_err(backend)
}
