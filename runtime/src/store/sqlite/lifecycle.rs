//! Streams that end: the check an append makes, `archive` and `delete`.

use std::time::SystemTime;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::rows::{to_i64, to_micros};
use super::{backend, statements};
use crate::error::StoreError;
use crate::event::Event;
use crate::store::{StreamDeleted, StreamRef, no_events};

/// Where a stream stands, from its last event.
pub(super) struct Head {
    /// The version of its last event (its deletion notice, if deleted): 0 if it has none.
    pub version: u64,
    archived: bool,
    deleted: bool,
}

impl Head {
    /// The stream's version if it takes new events; [`StoreError::Archived`] or
    /// [`StoreError::Deleted`] if it does not.
    pub(super) fn open(&self, stream: StreamRef<'_>) -> Result<u64, StoreError> {
        if self.deleted {
            return Err(StoreError::Deleted { stream: stream.name(), version: self.version - 1 });
        }
        if self.archived {
            return Err(StoreError::Archived { stream: stream.name() });
        }
        Ok(self.version)
    }
}

/// Where `stream` stands: one lookup of its last event, through the unique index on
/// `(aggregate_type, stream_id, version)`.
pub(super) fn head(connection: &Connection, stream: StreamRef<'_>) -> Result<Head, StoreError> {
    let found: Option<(i64, String, bool)> = connection
        .prepare_cached(statements::STREAM_HEAD)
        .and_then(|mut s| {
            s.query_row(params![stream.aggregate_type, stream.stream_id], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .optional()
        })
        .map_err(backend)?;
    let Some((version, name, archived)) = found else {
        return Ok(Head { version: 0, archived: false, deleted: false });
    };
    let version = u64::try_from(version).map_err(|_| {
        StoreError::corrupt(format!("stream {}", stream.name()), format!("its highest version {version} is negative"))
    })?;
    Ok(Head { version, archived, deleted: name == StreamDeleted::NAME })
}

/// Archives `stream`, in one immediate transaction.
pub(super) fn archive(connection: &mut Connection, stream: StreamRef<'_>) -> Result<(), StoreError> {
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
    let head = head(&tx, stream)?;
    if head.version == 0 {
        return Err(no_events(stream, "archive"));
    }
    if head.deleted {
        return head.open(stream).map(drop);
    }
    tx.prepare_cached(statements::ARCHIVE_STREAM)
        .and_then(|mut s| s.execute(params![stream.aggregate_type, stream.stream_id]))
        .map_err(backend)?;
    tx.commit().map_err(backend)
}

/// What a deletion did: the notice, and its position.
pub(super) struct Deletion {
    pub notice: StreamDeleted,
    pub position: u64,
}

/// Deletes `stream`, in one immediate transaction: its events, its snapshot and its keys'
/// records go, and the notice is appended (the record of the deletion: its version and
/// time). The WAL is then emptied, as after `forget`, so that the removed events (zeroed in
/// the file: `secure_delete`) leave no copy there. A stream deleted already is
/// `Ok(Err(notice))`, with nothing done.
pub(super) fn delete(
    connection: &mut Connection,
    stream: StreamRef<'_>,
) -> Result<Result<Deletion, StreamDeleted>, StoreError> {
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
    let head = head(&tx, stream)?;
    if head.deleted {
        return Ok(Err(StreamDeleted { version: head.version - 1 }));
    }
    if head.version == 0 {
        return Err(no_events(stream, "delete"));
    }
    let notice = StreamDeleted { version: head.version };
    let run = |sql: &str| -> Result<(), StoreError> {
        tx.prepare_cached(sql)
            .and_then(|mut s| s.execute(params![stream.aggregate_type, stream.stream_id]))
            .map_err(backend)?;
        Ok(())
    };
    run(statements::DELETE_STREAM_EVENTS)?;
    run(statements::DELETE_SNAPSHOT)?;
    run(statements::DELETE_STREAM_KEYS)?;
    let now = to_micros(SystemTime::now());
    tx.prepare_cached(statements::INSERT_EVENT)
        .and_then(|mut s| {
            s.execute(params![
                stream.aggregate_type,
                stream.stream_id,
                to_i64(notice.version + 1),
                StreamDeleted::NAME,
                StreamDeleted::VERSION,
                now,
                None::<String>,
                notice.payload(),
                None::<String>,
            ])
        })
        .map_err(backend)?;
    let position = tx.last_insert_rowid() as u64;
    tx.commit().map_err(backend)?;
    super::keys::empty_wal(connection)?;
    Ok(Ok(Deletion { notice, position }))
}
