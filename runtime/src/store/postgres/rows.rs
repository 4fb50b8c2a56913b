//! Decoding the rows the statements return.

use std::time::SystemTime;

use tokio_postgres::Row;

use super::committer::PendingAppend;
use super::lifecycle::Head;
use super::{backend, unexpected};
use crate::envelope::{EventMeta, Metadata, RecordedEvent, StoredEvent};
use crate::error::StoreError;
use crate::process::{DueDeadline, NewDeadline, OutgoingCommand, RejectedCommand};
use crate::store::{Appended, StreamRef};

/// Reads the answer of the statement for one append: the version found, the number of
/// events inserted (none after a refusal), the first position, the time, and (columns 5 and
/// 6) whether the stream is archived or deleted.
pub(super) fn decode_one(append: &PendingAppend, rows: &[Row]) -> Result<Result<Appended, StoreError>, StoreError> {
    let row = rows.first().ok_or_else(|| unexpected("the insert returned no row"))?;
    let inserted: i64 = row.try_get(1).map_err(backend)?;
    let (expected, count) = (append.expected as u64, append.events.len() as u64);
    if inserted == 0 {
        let head = Head::from_row(append.stream(), row, [0, 5, 6])?;
        if let Some(refused) = head.refusal(append.stream(), expected) {
            return Ok(Err(refused));
        }
    }
    if inserted != count as i64 {
        return Err(unexpected("the insert stored another number of events than given"));
    }
    let first: i64 = row.try_get(2).map_err(backend)?;
    let recorded_at: SystemTime = row.try_get(3).map_err(backend)?;
    let first = u64::try_from(first).map_err(|_| unexpected("the insert returned a negative position"))?;
    Ok(Ok(Appended { version: expected + count, positions: (first..first + count).collect(), recorded_at }))
}

/// Reads the answer of the append statement: one row per append, in order (its columns 4
/// and 5 say whether the stream is archived or deleted).
pub(super) fn decode_batch(
    batch: &[PendingAppend],
    rows: &[Row],
) -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
    if rows.len() != batch.len() {
        return Err(unexpected("the insert returned another number of rows than appends"));
    }
    let mut results = Vec::with_capacity(batch.len());
    let mut stored = 0;
    for (append, row) in batch.iter().zip(rows) {
        let first: Option<i64> = row.try_get(1).map_err(backend)?;
        let recorded_at: SystemTime = row.try_get(3).map_err(backend)?;
        let count = append.events.len() as u64;
        let expected = append.expected as u64;
        results.push(match first {
            Some(first) => {
                stored += count;
                let first = u64::try_from(first).map_err(|_| unexpected("the insert returned a negative position"))?;
                Ok(Appended { version: expected + count, positions: (first..first + count).collect(), recorded_at })
            }
            None => Err(Head::from_row(append.stream(), row, [0, 4, 5])?
                .refusal(append.stream(), expected)
                .ok_or_else(|| unexpected("the insert refused an append it had no reason to refuse"))?),
        });
    }
    if rows.first().map(|row| row.try_get::<_, i64>(2)).transpose().map_err(backend)? != Some(stored as i64) {
        return Err(unexpected("the insert stored another number of events than given"));
    }
    Ok(results)
}

pub(super) fn decode_event(row: &Row) -> Result<RecordedEvent, StoreError> {
    let aggregate_type: String = row.try_get(1).map_err(backend)?;
    let stream_id: String = row.try_get(2).map_err(backend)?;
    let version: i64 = row.try_get(3).map_err(backend)?;
    let position: i64 = row.try_get(0).map_err(backend)?;
    let location =
        || format!("events row at position {position} (stream {aggregate_type}/{stream_id} version {version})");
    let corrupt = |what: &str, reason: String| StoreError::corrupt(location(), format!("its {what}: {reason}"));
    let schema_version: i64 = row.try_get(5).map_err(backend)?;
    let metadata: String = row.try_get(7).map_err(backend)?;
    let metadata: Metadata = serde_json::from_str(&metadata).map_err(|e| StoreError::Corrupt {
        location: location(),
        reason: format!("its metadata does not decode: {metadata}"),
        source: Some(Box::new(e)),
    })?;
    Ok(RecordedEvent {
        meta: EventMeta {
            stream_version: u64::try_from(version).map_err(|_| corrupt("version", "it is negative".to_owned()))?,
            position: u64::try_from(position).map_err(|_| corrupt("position", format!("{position} is negative")))?,
            event_name: row.try_get(4).map_err(backend)?,
            event_version: u32::try_from(schema_version)
                .map_err(|_| corrupt("schema version", format!("{schema_version} is out of range")))?,
            recorded_at: row.try_get(6).map_err(backend)?,
            metadata,
            aggregate_type,
            stream_id,
        },
        payload: row.try_get(8).map_err(backend)?,
    })
}

/// A row of the replay statement (`version, position, name, schema_version, payload`) of
/// `stream`, lent as it is: name and payload are borrowed from the row's message.
pub(super) fn stored_event<'r>(stream: StreamRef<'_>, row: &'r Row) -> Result<StoredEvent<'r>, StoreError> {
    let version: i64 = row.try_get(0).map_err(backend)?;
    let position: i64 = row.try_get(1).map_err(backend)?;
    let corrupt = |what: &str, reason: String| {
        StoreError::corrupt(
            format!("events row at position {position} (stream {} version {version})", stream.name()),
            format!("its {what}: {reason}"),
        )
    };
    let schema_version: i64 = row.try_get(3).map_err(backend)?;
    Ok(StoredEvent {
        stream_version: u64::try_from(version).map_err(|_| corrupt("version", "it is negative".to_owned()))?,
        position: u64::try_from(position).map_err(|_| corrupt("position", format!("{position} is negative")))?,
        event_name: row.try_get(2).map_err(backend)?,
        event_version: u32::try_from(schema_version)
            .map_err(|_| corrupt("schema version", format!("{schema_version} is out of range")))?,
        payload: row.try_get(4).map_err(backend)?,
    })
}

/// An outbox row of process `process`, of [`OUTBOX_COLUMNS`](super::statements::OUTBOX_COLUMNS).
pub(super) fn outgoing(row: &Row, process: &str) -> Result<OutgoingCommand, StoreError> {
    let id = row_id(row, || format!("an outbox row of process {process:?}"))?;
    let metadata: String = row.try_get(5).map_err(backend)?;
    Ok(OutgoingCommand {
        id,
        instance: row.try_get(1).map_err(backend)?,
        aggregate_type: row.try_get(2).map_err(backend)?,
        stream_id: row.try_get(3).map_err(backend)?,
        command: row.try_get(4).map_err(backend)?,
        metadata: serde_json::from_str(&metadata).map_err(|e| StoreError::Corrupt {
            location: format!("the outbox entry {id} of process {process:?}"),
            reason: format!("its metadata does not decode: {metadata}"),
            source: Some(Box::new(e)),
        })?,
    })
}

/// A refused outbox row of process `process`: the outbox columns, then the error and the time.
pub(super) fn rejected(row: &Row, process: &str) -> Result<RejectedCommand, StoreError> {
    let command = outgoing(row, process)?;
    Ok(RejectedCommand {
        error: row.try_get(6).map_err(backend)?,
        rejected_at: row.try_get(7).map_err(backend)?,
        command,
    })
}

/// A deadline row of process `process`: `id, instance, kind, due_at, payload, correlation_id`.
pub(super) fn deadline(row: &Row, process: &str) -> Result<DueDeadline, StoreError> {
    Ok(DueDeadline {
        id: row_id(row, || format!("a deadline row of process {process:?}"))?,
        deadline: NewDeadline {
            instance: row.try_get(1).map_err(backend)?,
            kind: row.try_get(2).map_err(backend)?,
            due_at: row.try_get(3).map_err(backend)?,
            payload: row.try_get(4).map_err(backend)?,
            correlation_id: row.try_get(5).map_err(backend)?,
        },
    })
}

/// The id of an outbox or deadline row (column 0): identities count from 1.
fn row_id(row: &Row, at: impl Fn() -> String) -> Result<u64, StoreError> {
    let id: i64 = row.try_get(0).map_err(backend)?;
    u64::try_from(id)
        .ok()
        .filter(|&id| id >= 1)
        .ok_or_else(|| StoreError::corrupt(at(), format!("its id is {id}, but ids count from 1")))
}
