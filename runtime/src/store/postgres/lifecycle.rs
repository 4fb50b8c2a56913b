//! Streams that end: where a stream stands (what an append checks), `archive` and `delete`.
//!
//! Both run as one statement under the position lock, as an append does (see
//! [`PostgresStore::run_in_transaction`]): an append committed before sees the stream open,
//! one after sees it archived or deleted, and the deletion notice takes its position as any
//! append takes its own, so positions stay commit-ordered.

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::committer::BatchFailure;
use super::pool::{Conn, PooledConn};
use super::{PostgresStore, backend, unexpected};
use crate::error::StoreError;
use crate::store::{StreamDeleted, StreamRef, no_events};

/// Where a stream stands, from its last event.
pub(super) struct Head {
    /// The version of its last event (its deletion notice, if deleted): 0 if it has none.
    pub(super) version: u64,
    pub(super) archived: bool,
    pub(super) deleted: bool,
}

impl Head {
    /// The head of `stream` from the columns a statement returned.
    pub(super) fn of(stream: StreamRef<'_>, version: i64, archived: bool, deleted: bool) -> Result<Head, StoreError> {
        let version = u64::try_from(version).map_err(|_| {
            StoreError::corrupt(
                format!("stream {}", stream.name()),
                format!("its stored version {version} is negative"),
            )
        })?;
        Ok(Head { version, archived, deleted })
    }

    /// The head of `stream` from the columns `version`, `archived` and `deleted` of `row`.
    pub(super) fn from_row(stream: StreamRef<'_>, row: &Row, columns: [usize; 3]) -> Result<Head, StoreError> {
        let [version, archived, deleted] = columns;
        Head::of(
            stream,
            row.try_get(version).map_err(backend)?,
            row.try_get(archived).map_err(backend)?,
            row.try_get(deleted).map_err(backend)?,
        )
    }

    /// The version of the stream's last event before it was deleted.
    fn before_deletion(&self) -> u64 {
        self.version.saturating_sub(1)
    }

    /// Why an append at `expected` to `stream` is refused, checked in the order of every
    /// store: [`StoreError::Deleted`], [`StoreError::Archived`], then
    /// [`StoreError::Conflict`]; `None` if it is taken. Each is refused on its own account
    /// ([`refused_alone`](crate::store::refused_alone)): the others of a batch go on.
    pub(super) fn refusal(&self, stream: StreamRef<'_>, expected: u64) -> Option<StoreError> {
        if self.deleted {
            return Some(StoreError::Deleted { stream: stream.name(), version: self.before_deletion() });
        }
        if self.archived {
            return Some(StoreError::Archived { stream: stream.name() });
        }
        (self.version != expected).then(|| StoreError::Conflict {
            stream: stream.name(),
            expected,
            actual: self.version,
        })
    }
}

impl Conn {
    /// Where `stream` stands now: one probe of the unique index, backwards.
    pub(super) async fn stream_head(&self, stream: StreamRef<'_>) -> Result<Head, StoreError> {
        let row = self
            .client
            .query_one(&self.statements.stream_head, &[&stream.aggregate_type, &stream.stream_id])
            .await
            .map_err(backend)?;
        Head::from_row(stream, &row, [0, 1, 2])
    }
}

/// Archives `stream`: one statement under the position lock flags its rows, unless it has
/// no events or is deleted.
pub(super) async fn archive(
    store: &PostgresStore,
    conn: &mut PooledConn<'_>,
    stream: StreamRef<'_>,
) -> Result<(), StoreError> {
    let statement = conn.conn().statements.archive.clone();
    let params: [&(dyn ToSql + Sync); 2] = [&stream.aggregate_type, &stream.stream_id];
    let rows = store.run_in_transaction(conn, &statement, &params, false).await.map_err(failed)?;
    let row = rows.first().ok_or_else(|| unexpected("the archive returned no row"))?;
    let head = Head::of(stream, row.try_get(0).map_err(backend)?, false, row.try_get(1).map_err(backend)?)?;
    if head.version == 0 {
        return Err(no_events(stream, "archive"));
    }
    if head.deleted {
        return Err(StoreError::Deleted { stream: stream.name(), version: head.before_deletion() });
    }
    Ok(())
}

/// Deletes `stream`: one statement under the position lock removes its events, snapshot and
/// keys' records, appends the notice (the record of the deletion: its version and time),
/// and notifies the notice's position, as an append does. A stream deleted already answers
/// its notice, with nothing written. This store's known head moves at once; the forget epoch
/// does not move (see [`EventStore::delete`](crate::EventStore::delete)).
pub(super) async fn delete(
    store: &PostgresStore,
    conn: &mut PooledConn<'_>,
    stream: StreamRef<'_>,
) -> Result<StreamDeleted, StoreError> {
    let statement = conn.conn().statements.delete.clone();
    let params: [&(dyn ToSql + Sync); 3] = [&stream.aggregate_type, &stream.stream_id, &store.inner.channel];
    let rows = store.run_in_transaction(conn, &statement, &params, false).await.map_err(failed)?;
    let row = rows.first().ok_or_else(|| unexpected("the deletion returned no row"))?;
    let version: Option<i64> = row.try_get(0).map_err(backend)?;
    let Some(version) = version else { return Err(no_events(stream, "delete")) };
    let deleted: Option<bool> = row.try_get(1).map_err(backend)?;
    let head = Head::of(stream, version, false, deleted.unwrap_or(false))?;
    if head.deleted {
        return Ok(StreamDeleted { version: head.before_deletion() });
    }
    let position: Option<i64> = row.try_get(2).map_err(backend)?;
    let position =
        position.and_then(|p| u64::try_from(p).ok()).ok_or_else(|| unexpected("a deletion that appended no notice"))?;
    store.bump_head(position);
    Ok(StreamDeleted { version: head.version })
}

/// The error of a statement run under the position lock that failed: rolled back, or the
/// connection lost.
fn failed(failure: BatchFailure) -> StoreError {
    match failure {
        BatchFailure::Insert(error) => backend(error),
        BatchFailure::Other(error) => error,
    }
}
