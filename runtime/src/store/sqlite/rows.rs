//! Rows: turning what the queries return into events and numbers, and Rust values into
//! SQLite's.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, Row, params};

use super::{backend, statements};
use crate::envelope::{EventMeta, Metadata, RecordedEvent};
use crate::error::StoreError;
use crate::store::{Checkpoint, Snapshot};

/// Turns rows of `event_columns!()` (see `statements.rs`) into recorded events.
pub(super) fn events(mut rows: rusqlite::Rows<'_>) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut events = Vec::new();
    while let Some(row) = rows.next().map_err(backend)? {
        let aggregate_type: String = row.get(1).map_err(backend)?;
        let stream_id: String = row.get(2).map_err(backend)?;
        let version = row.get::<_, i64>(3).map_err(backend)? as u64;
        let metadata: Option<String> = row.get(7).map_err(backend)?;
        let metadata = match metadata {
            None => Metadata::default(),
            Some(text) => serde_json::from_str(&text).map_err(|e| StoreError::InvalidInput {
                what: format!("stored metadata of stream {aggregate_type}/{stream_id}, version {version}"),
                reason: e.to_string(),
            })?,
        };
        events.push(RecordedEvent {
            meta: EventMeta {
                position: row.get::<_, i64>(0).map_err(backend)? as u64,
                aggregate_type,
                stream_id,
                stream_version: version,
                event_name: row.get(4).map_err(backend)?,
                event_version: row.get(5).map_err(backend)?,
                recorded_at: from_micros(row.get(6).map_err(backend)?),
                metadata,
            },
            payload: row.get(8).map_err(backend)?,
        });
    }
    Ok(events)
}

/// A snapshot row: `version, fingerprint, state`.
pub(super) fn snapshot(row: &Row<'_>) -> Result<Snapshot, StoreError> {
    Ok(Snapshot {
        version: row.get::<_, i64>(0).map_err(backend)? as u64,
        fingerprint: row.get::<_, i64>(1).map_err(backend)? as u64,
        state: row.get(2).map_err(backend)?,
    })
}

/// A checkpoint row: `position, state`.
pub(super) fn checkpoint(row: &Row<'_>) -> Result<Checkpoint, StoreError> {
    Ok(Checkpoint { position: row.get::<_, i64>(0).map_err(backend)? as u64, state: row.get(1).map_err(backend)? })
}

/// The position of the newest event: 0 if there is none.
pub(super) fn head_position(connection: &Connection) -> Result<u64, StoreError> {
    connection
        .prepare_cached(statements::HEAD_POSITION)
        .and_then(|mut s| s.query_row([], |row| row.get::<_, i64>(0)))
        .map(|p| p as u64)
        .map_err(backend)
}

/// The version of a stream: 0 if it has no events.
pub(super) fn stream_version(
    connection: &Connection,
    aggregate_type: &str,
    stream_id: &str,
) -> Result<u64, StoreError> {
    connection
        .prepare_cached(statements::STREAM_VERSION)
        .and_then(|mut s| s.query_row(params![aggregate_type, stream_id], |row| row.get::<_, i64>(0)))
        .map(|v| v as u64)
        .map_err(backend)
}

pub(super) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(super) fn to_micros(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

pub(super) fn from_micros(micros: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(u64::try_from(micros).unwrap_or(0))
}
