//! Rows: turning what the queries return into events, snapshots, checkpoints and numbers,
//! and Rust values into SQLite's.
//!
//! A row that does not decode (text where a number belongs, metadata that is not JSON, a
//! version or position below 1, a time before the epoch) is [`StoreError::Corrupt`] naming
//! the row, with the underlying error as its source: the file holds what no factum writes,
//! and no retry will help.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::types::FromSql;
use rusqlite::{Connection, Row, params};

use super::{backend, statements};
use crate::envelope::{EventMeta, Metadata, RecordedEvent};
use crate::error::StoreError;
use crate::store::{Checkpoint, Snapshot};

/// Turns rows of `event_columns!()` (see `statements.rs`) into recorded events.
pub(super) fn events(mut rows: rusqlite::Rows<'_>) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut events = Vec::new();
    while let Some(row) = rows.next().map_err(backend)? {
        events.push(event(row)?);
    }
    Ok(events)
}

/// One event row. Whatever does not decode is [`StoreError::Corrupt`] naming the row: by its
/// position until stream and version are read, then by those (and the position).
fn event(row: &Row<'_>) -> Result<RecordedEvent, StoreError> {
    let mut cells = Cells { row, location: "an events row".to_owned() };
    let position: i64 = cells.get(0, "position")?;
    cells.location = format!("the events row at position {position}");
    let aggregate_type: String = cells.get(1, "aggregate type")?;
    let stream_id: String = cells.get(2, "stream id")?;
    let version: i64 = cells.get(3, "version")?;
    cells.location = format!("stream {aggregate_type}/{stream_id}, version {version} (position {position})");
    let position = cells.counted(position, "position")?;
    let version = cells.counted(version, "version")?;
    let metadata = match cells.get::<Option<String>>(7, "metadata")? {
        None => Metadata::default(),
        Some(text) => serde_json::from_str(&text).map_err(|error| StoreError::Corrupt {
            location: cells.location.clone(),
            reason: format!("its metadata is not the JSON of string keys and values: {error}"),
            source: Some(Box::new(error)),
        })?,
    };
    let recorded_at = cells.get(6, "recorded time").and_then(|micros| cells.time(micros))?;
    Ok(RecordedEvent {
        meta: EventMeta {
            position,
            aggregate_type,
            stream_id,
            stream_version: version,
            event_name: cells.get(4, "name")?,
            event_version: cells.get(5, "schema version")?,
            recorded_at,
            metadata,
        },
        payload: cells.get(8, "payload")?,
    })
}

/// A snapshot row of stream `aggregate_type`/`stream_id`: `version, fingerprint, state`.
pub(super) fn snapshot(row: &Row<'_>, aggregate_type: &str, stream_id: &str) -> Result<Snapshot, StoreError> {
    let cells = Cells { row, location: format!("the snapshot of stream {aggregate_type}/{stream_id}") };
    let version: i64 = cells.get(0, "version")?;
    Ok(Snapshot {
        version: u64::try_from(version)
            .map_err(|_| StoreError::corrupt(&cells.location, format!("its version {version} is negative")))?,
        // Stored as the i64 of the same bits: every value is a fingerprint.
        fingerprint: cells.get::<i64>(1, "fingerprint")? as u64,
        state: cells.get(2, "state")?,
    })
}

/// The row of checkpoint `name`: `position, state`.
pub(super) fn checkpoint(row: &Row<'_>, name: &str) -> Result<Checkpoint, StoreError> {
    let cells = Cells { row, location: format!("checkpoint {name:?}") };
    let position: i64 = cells.get(0, "position")?;
    Ok(Checkpoint {
        position: u64::try_from(position)
            .map_err(|_| StoreError::corrupt(&cells.location, format!("its position {position} is negative")))?,
        state: cells.get(1, "state")?,
    })
}

/// The cells of one row, read on behalf of `location`, which names the row in errors.
struct Cells<'a, 'r> {
    row: &'a Row<'r>,
    location: String,
}

impl Cells<'_, '_> {
    /// The cell at `index`: one that does not hold what the schema says (text where a number
    /// belongs, a number out of range, text that is not UTF-8) is corrupt, the reading error
    /// kept as the source. Any other failure is the backend's.
    fn get<T: FromSql>(&self, index: usize, column: &str) -> Result<T, StoreError> {
        self.row.get(index).map_err(|error| match error {
            rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::IntegralValueOutOfRange(..)
            | rusqlite::Error::Utf8Error(..) => StoreError::Corrupt {
                location: self.location.clone(),
                reason: format!("its {column} does not read as the schema says: {error}"),
                source: Some(Box::new(error)),
            },
            other => backend(other),
        })
    }

    /// A version or position: they count from 1.
    fn counted(&self, value: i64, what: &str) -> Result<u64, StoreError> {
        match u64::try_from(value) {
            Ok(counted) if counted >= 1 => Ok(counted),
            _ => Err(StoreError::corrupt(&self.location, format!("its {what} is {value}, but {what}s count from 1"))),
        }
    }

    /// A recorded time: microseconds since the Unix epoch, never before it (the store writes
    /// the clock as it reads it, or 0 for a clock set before 1970).
    fn time(&self, micros: i64) -> Result<SystemTime, StoreError> {
        u64::try_from(micros)
            .ok()
            .and_then(|micros| UNIX_EPOCH.checked_add(Duration::from_micros(micros)))
            .ok_or_else(|| StoreError::corrupt(&self.location, format!("its recorded time {micros} µs is before 1970")))
    }
}

/// The position of the newest event: 0 if there is none.
pub(super) fn head_position(connection: &Connection) -> Result<u64, StoreError> {
    connection
        .prepare_cached(statements::HEAD_POSITION)
        .and_then(|mut s| s.query_row([], |row| row.get::<_, i64>(0)))
        .map_err(backend)
        .and_then(|head| {
            u64::try_from(head).map_err(|_| {
                StoreError::corrupt("the events table", format!("its highest position {head} is negative"))
            })
        })
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
        .map_err(backend)
        .and_then(|version| {
            u64::try_from(version).map_err(|_| {
                StoreError::corrupt(
                    format!("stream {aggregate_type}/{stream_id}"),
                    format!("its highest version {version} is negative"),
                )
            })
        })
}

/// A count or position as SQLite's integer, capped at `i64::MAX` (a bound past every row).
pub(super) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The recorded-time column: microseconds since the Unix epoch (0 for a clock before it).
pub(super) fn to_micros(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}
