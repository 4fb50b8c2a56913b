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
use crate::envelope::{EventMeta, Metadata, RecordedEvent, StoredEvent};
use crate::error::StoreError;
use crate::pii::SubjectKey;
use crate::pii::seal::{Opener, Sealing, is_sealed};
use crate::process::{DueDeadline, NewDeadline, OutgoingCommand, RejectedCommand};
use crate::store::{Checkpoint, RunnerFailure, Snapshot};

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
    // The row is named lazily, only when an error is built: no string per healthy row.
    let at_row = || "an events row".to_owned();
    let position: i64 = read(row, 0, "position", at_row)?;
    let at_position = || format!("the events row at position {position}");
    let aggregate_type: String = read(row, 1, "aggregate type", at_position)?;
    let stream_id: String = read(row, 2, "stream id", at_position)?;
    let version: i64 = read(row, 3, "version", at_position)?;
    let at = || format!("stream {aggregate_type}/{stream_id}, version {version} (position {position})");
    let counted = |value: i64, what: &str| match u64::try_from(value) {
        Ok(counted) if counted >= 1 => Ok(counted),
        _ => Err(StoreError::corrupt(at(), format!("its {what} is {value}, but {what}s count from 1"))),
    };
    let position = counted(position, "position")?;
    let version = counted(version, "version")?;
    let metadata = match read::<Option<String>>(row, 7, "metadata", at)? {
        None => Metadata::default(),
        Some(text) => serde_json::from_str(&text).map_err(|error| StoreError::Corrupt {
            location: at(),
            reason: format!("its metadata is not the JSON of string keys and values: {error}"),
            source: Some(Box::new(error)),
        })?,
    };
    let micros: i64 = read(row, 6, "recorded time", at)?;
    let recorded_at = from_micros(micros)
        .ok_or_else(|| StoreError::corrupt(at(), format!("its recorded time {micros} µs is before 1970")))?;
    let event_name = read(row, 4, "name", at)?;
    let event_version = read(row, 5, "schema version", at)?;
    let payload = read(row, 8, "payload", at)?;
    Ok(RecordedEvent {
        meta: EventMeta {
            position,
            aggregate_type,
            stream_id,
            stream_version: version,
            event_name,
            event_version,
            recorded_at,
            metadata,
        },
        payload,
    })
}

/// The events a replay read, rows of [`REPLAY_STREAM`](statements::REPLAY_STREAM): their
/// names and payloads one after another in one buffer, read from SQLite's borrowed text
/// (`get_ref`), so that a replay of any length makes a handful of allocations (the buffer
/// and the list growing), not several per event. The visitor runs back on the async side,
/// lending from here.
pub(super) struct Replayed {
    text: String,
    events: Vec<Lent>,
}

/// One event of [`Replayed`]: its name is `text[start..name_end]`, its payload
/// `text[name_end..payload_end]`, where `start` is the previous event's `payload_end`.
struct Lent {
    stream_version: u64,
    position: u64,
    event_version: u32,
    name_end: usize,
    payload_end: usize,
}

impl Replayed {
    /// Hands each event to `visit`, in order; stops at its first error.
    pub(super) fn visit(
        &self,
        visit: &mut dyn FnMut(StoredEvent<'_>) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        let mut start = 0;
        for event in &self.events {
            visit(StoredEvent {
                stream_version: event.stream_version,
                position: event.position,
                event_name: &self.text[start..event.name_end],
                event_version: event.event_version,
                payload: &self.text[event.name_end..event.payload_end],
            })?;
            start = event.payload_end;
        }
        Ok(self.events.len() as u64)
    }
}

/// Reads the rows of a replay of stream `aggregate_type`/`stream_id`. A row that does not
/// decode is [`StoreError::Corrupt`] naming the stream, the version and the position (the
/// location is written only then).
pub(super) fn replayed(
    mut rows: rusqlite::Rows<'_>,
    aggregate_type: &str,
    stream_id: &str,
    opener: &mut Opener<impl FnMut(u64) -> Result<Option<SubjectKey>, StoreError>>,
) -> Result<Replayed, StoreError> {
    let mut replayed = Replayed { text: String::new(), events: Vec::new() };
    while let Some(row) = rows.next().map_err(backend)? {
        let version: i64 = read(row, 0, "version", || format!("an events row of stream {aggregate_type}/{stream_id}"))?;
        let at = || format!("stream {aggregate_type}/{stream_id}, version {version}");
        let position: i64 = read(row, 1, "position", at)?;
        let at = || format!("stream {aggregate_type}/{stream_id}, version {version} (position {position})");
        let counted = |value: i64, what: &str| match u64::try_from(value) {
            Ok(counted) if counted >= 1 => Ok(counted),
            _ => Err(StoreError::corrupt(at(), format!("its {what} is {value}, but {what}s count from 1"))),
        };
        let (stream_version, position) = (counted(version, "version")?, counted(position, "position")?);
        let event_version: u32 = read(row, 3, "schema version", at)?;
        let name = text(row, 2, "name", at)?;
        replayed.text.push_str(name);
        let name_end = replayed.text.len();
        let payload = text(row, 4, "payload", at)?;
        if is_sealed(payload) {
            let event = Sealing { aggregate_type, stream_id, stream_version, event_name: name, event_version };
            replayed.text.push_str(&opener.open(payload, &event)?);
        } else {
            replayed.text.push_str(payload);
        }
        let payload_end = replayed.text.len();
        replayed.events.push(Lent { stream_version, position, event_version, name_end, payload_end });
    }
    Ok(replayed)
}

/// The cell at `index` as a `T`, or the error [`Cells::get`] gives, naming `at()`.
fn read<T: FromSql>(row: &Row<'_>, index: usize, column: &str, at: impl Fn() -> String) -> Result<T, StoreError> {
    row.get(index).map_err(|error| cell_error(error, column, at))
}

/// The text cell at `index`, borrowed from the row: one that is not text (or not UTF-8) is
/// corrupt, naming `at()`.
fn text<'r>(row: &'r Row<'_>, index: usize, column: &str, at: impl Fn() -> String) -> Result<&'r str, StoreError> {
    let value = row.get_ref(index).map_err(|error| cell_error(error, column, &at))?;
    value.as_str().map_err(|error| {
        cell_error(rusqlite::Error::FromSqlConversionFailure(index, value.data_type(), Box::new(error)), column, &at)
    })
}

/// A failed read of a cell: what does not read as the schema says is corrupt, at `at()`;
/// any other failure is the backend's.
fn cell_error(error: rusqlite::Error, column: &str, at: impl Fn() -> String) -> StoreError {
    match error {
        rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::Utf8Error(..) => StoreError::Corrupt {
            location: at(),
            reason: format!("its {column} does not read as the schema says: {error}"),
            source: Some(Box::new(error)),
        },
        other => backend(other),
    }
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

/// A runner's recorded failure, from `SELECT position, error, failed_at`.
pub(super) fn failure(row: &Row<'_>, name: &str) -> Result<RunnerFailure, StoreError> {
    let cells = Cells { row, location: format!("the failure of runner {name:?}") };
    let position: i64 = cells.get(0, "position")?;
    let micros: i64 = cells.get(2, "time")?;
    Ok(RunnerFailure {
        position: u64::try_from(position)
            .map_err(|_| StoreError::corrupt(&cells.location, format!("its position {position} is negative")))?,
        error: cells.get(1, "error")?,
        failed_at: from_micros(micros)
            .ok_or_else(|| StoreError::corrupt(&cells.location, format!("its time {micros} µs is before 1970")))?,
    })
}

/// An outbox row of process `process`, of `outbox_columns!()` (see `statements.rs`).
pub(super) fn outgoing(row: &Row<'_>, process: &str) -> Result<OutgoingCommand, StoreError> {
    let id = row_id(row, || format!("an outbox row of process {process:?}"))?;
    let cells = Cells { row, location: format!("the outbox entry {id} of process {process:?}") };
    let metadata: String = cells.get(5, "metadata")?;
    Ok(OutgoingCommand {
        id,
        instance: cells.get(1, "instance")?,
        aggregate_type: cells.get(2, "aggregate type")?,
        stream_id: cells.get(3, "stream id")?,
        command: cells.get(4, "command")?,
        metadata: serde_json::from_str(&metadata).map_err(|error| StoreError::Corrupt {
            location: cells.location.clone(),
            reason: format!("its metadata is not the JSON of string keys and values: {error}"),
            source: Some(Box::new(error)),
        })?,
    })
}

/// A refused outbox row of process `process`: `outbox_columns!()`, then the error and the
/// time of the refusal.
pub(super) fn rejected(row: &Row<'_>, process: &str) -> Result<RejectedCommand, StoreError> {
    let command = outgoing(row, process)?;
    let cells = Cells { row, location: format!("the outbox entry {} of process {process:?}", command.id) };
    let micros: i64 = cells.get(7, "refusal time")?;
    Ok(RejectedCommand {
        error: cells.get(6, "refusal error")?,
        rejected_at: from_micros(micros).ok_or_else(|| {
            StoreError::corrupt(&cells.location, format!("its refusal time {micros} µs is before 1970"))
        })?,
        command,
    })
}

/// A deadline row of process `process`, of `deadline_columns!()` (see `statements.rs`).
pub(super) fn deadline(row: &Row<'_>, process: &str) -> Result<DueDeadline, StoreError> {
    let id = row_id(row, || format!("a deadline row of process {process:?}"))?;
    let cells = Cells { row, location: format!("the deadline {id} of process {process:?}") };
    let micros: i64 = cells.get(3, "due time")?;
    Ok(DueDeadline {
        id,
        deadline: NewDeadline {
            instance: cells.get(1, "instance")?,
            kind: cells.get(2, "kind")?,
            due_at: due_time(micros).map_err(|reason| StoreError::corrupt(&cells.location, reason))?,
            payload: cells.get(4, "payload")?,
            correlation_id: cells.get(5, "correlation id")?,
        },
    })
}

/// The stored state of instance `instance` of process `process` (`SELECT state`).
pub(super) fn process_state(row: &Row<'_>, process: &str, instance: &str) -> Result<String, StoreError> {
    Cells { row, location: format!("instance {instance:?} of process {process:?}") }.get(0, "state")
}

/// An instance of `process` and its state, from `SELECT instance, state`.
pub(super) fn process_instance(row: &Row<'_>, process: &str) -> Result<(String, String), StoreError> {
    let cells = Cells { row, location: format!("an instance of process {process:?}") };
    let instance: String = cells.get(0, "instance")?;
    let cells = Cells { row, location: format!("instance {instance:?} of process {process:?}") };
    Ok((instance, cells.get(1, "state")?))
}

/// When the earliest deadline of `process` is due, if it has any.
pub(super) fn next_deadline(connection: &Connection, process: &str) -> Result<Option<SystemTime>, StoreError> {
    let at = || format!("the deadlines of process {process:?}");
    let micros: Option<i64> = connection
        .prepare_cached(statements::NEXT_DEADLINE)
        .and_then(|mut s| s.query_row(params![process], |row| Ok(read(row, 0, "earliest due time", at))))
        .map_err(backend)??;
    micros.map(|micros| due_time(micros).map_err(|reason| StoreError::corrupt(at(), reason))).transpose()
}

/// A deadline's due time read back; what no factum writes (before 1970) is the reason why.
fn due_time(micros: i64) -> Result<SystemTime, String> {
    from_micros(micros).ok_or_else(|| format!("its due time {micros} µs is before 1970"))
}

/// The id of an outbox or deadline row (column 0): ids count from 1.
fn row_id(row: &Row<'_>, at: impl Fn() -> String) -> Result<u64, StoreError> {
    let id: i64 = read(row, 0, "id", &at)?;
    u64::try_from(id)
        .ok()
        .filter(|&id| id >= 1)
        .ok_or_else(|| StoreError::corrupt(at(), format!("its id is {id}, but ids count from 1")))
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
        read(self.row, index, column, || self.location.clone())
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

/// The first and last versions stored with `command_id` on a stream, if any.
pub(super) fn command_versions(
    connection: &Connection,
    aggregate_type: &str,
    stream_id: &str,
    command_id: &str,
) -> Result<Option<std::ops::RangeInclusive<u64>>, StoreError> {
    let (first, last): (Option<i64>, Option<i64>) = connection
        .prepare_cached(statements::FIND_COMMAND)
        .and_then(|mut s| {
            s.query_row(params![aggregate_type, stream_id, command_id], |row| Ok((row.get(0)?, row.get(1)?)))
        })
        .map_err(backend)?;
    crate::store::command_range(crate::store::StreamRef::new(aggregate_type, stream_id), command_id, first, last)
}

/// A count or position as SQLite's integer, capped at `i64::MAX` (a bound past every row).
pub(super) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A time column read back: `None` before 1970, which factum never writes.
pub(super) fn from_micros(micros: i64) -> Option<SystemTime> {
    u64::try_from(micros).ok().and_then(|micros| UNIX_EPOCH.checked_add(Duration::from_micros(micros)))
}

/// The recorded-time column: microseconds since the Unix epoch (0 for a clock before it).
pub(super) fn to_micros(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}
