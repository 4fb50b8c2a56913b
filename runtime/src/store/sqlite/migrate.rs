//! The schema: versioned migrations, run when a file is opened, and the refusal of a file
//! written by a newer factum.

use std::path::Path;

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
    // 3: command ids, so that a command is carried out once (`find_command`): a column of
    // its own (also in the metadata JSON), indexed where it is set.
    "ALTER TABLE events ADD COLUMN command_id TEXT;
    CREATE INDEX events_by_command ON events (aggregate_type, stream_id, command_id)
        WHERE command_id IS NOT NULL;",
    // 4: why each runner last stopped, for operators (`factum projections`).
    "CREATE TABLE failures (
        name      TEXT    PRIMARY KEY,
        position  INTEGER NOT NULL,
        error     TEXT    NOT NULL,
        failed_at INTEGER NOT NULL
    );",
    // 5: what process managers keep (`commit_process`): instance states, the outbox of
    // commands (a refused one stays, with its error, as the record of it) and deadlines.
    // AUTOINCREMENT keys, so that an id is never given twice, even after deletes.
    "CREATE TABLE process_instances (
        process  TEXT NOT NULL,
        instance TEXT NOT NULL,
        state    TEXT NOT NULL,
        PRIMARY KEY (process, instance)
    );
    CREATE TABLE process_outbox (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        process        TEXT    NOT NULL,
        instance       TEXT    NOT NULL,
        aggregate_type TEXT    NOT NULL,
        stream_id      TEXT    NOT NULL,
        command        TEXT    NOT NULL,
        metadata       TEXT    NOT NULL,
        rejected_error TEXT,
        rejected_at    INTEGER
    );
    CREATE INDEX process_outbox_pending ON process_outbox (process, id) WHERE rejected_error IS NULL;
    CREATE INDEX process_outbox_rejected ON process_outbox (process, rejected_at, id)
        WHERE rejected_error IS NOT NULL;
    CREATE TABLE process_deadlines (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        process        TEXT    NOT NULL,
        instance       TEXT    NOT NULL,
        kind           TEXT    NOT NULL,
        due_at         INTEGER NOT NULL,
        payload        TEXT    NOT NULL,
        correlation_id TEXT
    );
    CREATE INDEX process_deadlines_by_due ON process_deadlines (process, due_at, id);
    CREATE INDEX process_deadlines_by_instance ON process_deadlines (process, instance);",
    // 6: personal data (`Pii`): subjects' keys (AUTOINCREMENT, so that a forgotten key's id
    // is never given again), the streams holding values each key sealed (what `forget` must
    // clean), and the audit of `forget`, which holds nothing personal. Streams that end:
    // archived events are flagged in their rows (the global log filters on the flag); a
    // deletion's record is its notice, an event of the stream.
    "ALTER TABLE events ADD COLUMN archived INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE pii_keys (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        subject    TEXT    NOT NULL,
        key        BLOB    NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX pii_keys_by_subject ON pii_keys (subject, id);
    CREATE TABLE pii_key_streams (
        key_id         INTEGER NOT NULL,
        aggregate_type TEXT    NOT NULL,
        stream_id      TEXT    NOT NULL,
        first_position INTEGER NOT NULL,
        PRIMARY KEY (key_id, aggregate_type, stream_id)
    );
    CREATE TABLE pii_forgotten (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        subject      TEXT    NOT NULL,
        forgotten_by TEXT    NOT NULL,
        forgotten_at INTEGER NOT NULL,
        keys         INTEGER NOT NULL,
        snapshots    INTEGER NOT NULL,
        checkpoints  TEXT    NOT NULL
    );",
];

/// Brings the schema up to date, in one write transaction, so two processes opening a new
/// file at once cannot both migrate it.
///
/// A file at a schema version past [`MIGRATIONS`] was written by a newer factum: it is
/// refused as [`StoreError::Incompatible`], untouched. A negative version is written by no
/// factum: [`StoreError::Corrupt`].
pub(super) fn migrate(connection: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0)).map_err(backend)?;
    let store = || format!("the SQLite file {}", path.display());
    let supported = MIGRATIONS.len() as i64;
    if found > supported {
        return Err(StoreError::Incompatible { store: store(), found, supported });
    }
    let done = usize::try_from(found).map_err(|_| {
        StoreError::corrupt(
            store(),
            format!("its schema version (PRAGMA user_version) is {found}, which no factum writes"),
        )
    })?;
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(done) {
        tx.execute_batch(migration).map_err(backend)?;
        tx.pragma_update(None, "user_version", (index + 1) as i64).map_err(backend)?;
    }
    tx.commit().map_err(backend)
}
