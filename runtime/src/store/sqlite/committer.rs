//! Group commit: appends queue up while the writer is busy, and one committer takes them into
//! one transaction (one fsync), batch after batch.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use rusqlite::{Connection, TransactionBehavior, params};

use super::connection::lock;
use super::rows::{stream_version, to_i64, to_micros};
use super::{Inner, SqliteStore, backend, statements};
use crate::envelope::{Metadata, NewEvent};
use crate::error::StoreError;
use crate::store::{Appended, StreamRef};

impl SqliteStore {
    /// Queues one append for the committer and waits for its answer.
    pub(super) async fn commit(
        &self,
        stream: StreamRef<'_>,
        expected: u64,
        metadata: &Metadata,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let pending =
            PendingAppend { stream: stream.name(), expected, metadata: encode_metadata(metadata), events, reply };
        // Group commit: the append joins the queue; if no committer is running, it starts
        // one. The committer takes everything queued so far into one transaction (one fsync;
        // a conflict rejects only its own append, see `commit_batch`), and goes on while
        // appends keep arriving: those queued during one fsync go together in the next
        // transaction. Each append waits only for its own answer.
        let start_committer = {
            let mut queue = lock(&self.inner.queue);
            queue.pending.push(pending);
            !std::mem::replace(&mut queue.committing, true)
        };
        if start_committer {
            let inner = Arc::clone(&self.inner);
            tokio::task::spawn_blocking(move || commit_queued(&inner));
        } else {
            self.inner.arrived.notify_one();
        }
        answer.await.map_err(|_| {
            StoreError::Backend(
                format!("stream {}: the committer stopped before answering (it panicked)", stream.name()).into(),
            )
        })?
    }
}

/// An append waiting for the writer.
struct PendingAppend {
    stream: crate::error::StreamName,
    expected: u64,
    metadata: Option<String>,
    events: Vec<NewEvent>,
    reply: tokio::sync::oneshot::Sender<Result<Appended, StoreError>>,
}

/// The appends waiting to be committed, and whether a committer is at work on them.
#[derive(Default)]
pub(super) struct Queue {
    pending: Vec<PendingAppend>,
    committing: bool,
}

/// The committer: commits batch after batch until the queue is empty, then stops (the next
/// append starts another). Holds the writing connection meanwhile.
fn commit_queued(inner: &Inner) {
    /// If a commit panics, the appends still queued fail (their answers are dropped) and the
    /// next append starts a new committer, instead of every later append waiting forever.
    struct OnPanic<'a>(&'a Inner);
    impl Drop for OnPanic<'_> {
        fn drop(&mut self) {
            let mut queue = lock(&self.0.queue);
            queue.committing = false;
            queue.pending.clear();
        }
    }
    let on_panic = OnPanic(inner);
    let mut connection = lock(&inner.writer);
    // The size and duration of the last batch. When several writers are at work, their next
    // appends arrive just after they were answered: waiting for as many as the last batch had
    // (at most half the time a commit takes) keeps them in one transaction, instead of
    // committing the first alone and the others after another fsync.
    let mut last = (0, Duration::ZERO);
    loop {
        let mut queue = lock(&inner.queue);
        if last.0 > 1 && queue.pending.len() < last.0 {
            let deadline = Instant::now() + (last.1 / 2).min(MAX_GATHER);
            while queue.pending.len() < last.0 {
                let Some(left) = deadline.checked_duration_since(Instant::now()) else { break };
                queue = inner.arrived.wait_timeout(queue, left).unwrap_or_else(|poisoned| poisoned.into_inner()).0;
            }
        }
        if queue.pending.is_empty() {
            // Stopping and clearing the flag happen under one lock, so an append either
            // found this committer still running or starts the next one.
            queue.committing = false;
            std::mem::forget(on_panic);
            return;
        }
        let batch = std::mem::take(&mut queue.pending);
        drop(queue);
        let started = Instant::now();
        last.0 = batch.len();
        commit_batch(&mut connection, batch);
        last.1 = started.elapsed();
    }
}

/// The longest the committer waits for more appends before committing what it has.
const MAX_GATHER: Duration = Duration::from_millis(2);

/// Commits `batch` in one transaction and answers every waiting append once the transaction
/// is durable (or failed). A conflict rejects only its own append: versions are checked
/// before anything of an append is written, under the write lock. An append that fails on
/// anything else takes the transaction down with it; the others are then committed again,
/// each on its own, so that only the faulty append fails.
fn commit_batch(connection: &mut Connection, batch: Vec<PendingAppend>) {
    let recorded_at = SystemTime::now();
    let mut outcomes = Vec::with_capacity(batch.len());
    let committed = (|| {
        let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for pending in &batch {
            match append_one(&tx, pending, recorded_at) {
                outcome @ (Ok(_) | Err(StoreError::Conflict { .. })) => outcomes.push(outcome),
                Err(error) => return Ok(Some(error)), // dropping `tx` rolls everything back
            }
        }
        tx.commit().map(|()| None)
    })();
    let failure = match committed {
        Ok(None) => None,
        Ok(Some(error)) => {
            if batch.len() > 1 {
                for pending in batch {
                    commit_batch(connection, vec![pending]);
                }
            } else if let Some(alone) = batch.into_iter().next() {
                let _ = alone.reply.send(Err(error));
            }
            return;
        }
        Err(error) => Some(Arc::new(error)),
    };
    for (pending, outcome) in
        batch.into_iter().zip(outcomes.into_iter().map(Some).chain(std::iter::repeat_with(|| None)))
    {
        let result = match (&failure, outcome) {
            // Committed, or refused on its own account (a conflict holds either way).
            (None, Some(outcome)) | (_, Some(outcome @ Err(StoreError::Conflict { .. }))) => outcome,
            (Some(error), _) => Err(StoreError::Backend(Box::new(TransactionFailed(Arc::clone(error))))),
            (None, None) => unreachable!("a committed batch has an outcome for every append"),
        };
        let _ = pending.reply.send(result);
    }
}

/// One append inside the batch's transaction: check the version, insert the events.
fn append_one(
    connection: &Connection,
    pending: &PendingAppend,
    recorded_at: SystemTime,
) -> Result<Appended, StoreError> {
    let PendingAppend { stream, expected, metadata, events, .. } = pending;
    let expected = *expected;
    let actual = stream_version(connection, &stream.aggregate_type, &stream.stream_id)?;
    if actual != expected {
        return Err(StoreError::Conflict { stream: stream.clone(), expected, actual });
    }
    let micros = to_micros(recorded_at);
    let mut insert = connection.prepare_cached(statements::INSERT_EVENT).map_err(backend)?;
    let mut positions = Vec::with_capacity(events.len());
    for (offset, event) in events.iter().enumerate() {
        insert
            .execute(params![
                stream.aggregate_type,
                stream.stream_id,
                to_i64(expected + offset as u64 + 1),
                event.name,
                event.version,
                micros,
                metadata,
                event.payload,
            ])
            .map_err(|e| conflict_or_backend(e, stream, expected, expected + offset as u64 + 1))?;
        positions.push(connection.last_insert_rowid() as u64);
    }
    Ok(Appended { version: expected + events.len() as u64, positions, recorded_at })
}

/// A failed insert: a duplicate version is a conflict (another writer got there first); any
/// other failure is the backend's, named with the stream and version it was writing.
fn conflict_or_backend(
    error: rusqlite::Error,
    stream: &crate::error::StreamName,
    expected: u64,
    version: u64,
) -> StoreError {
    let duplicate = matches!(
        error.sqlite_error().map(|e| e.extended_code),
        Some(rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
    );
    if duplicate {
        StoreError::Conflict { stream: stream.clone(), expected, actual: version }
    } else {
        StoreError::Backend(Box::new(InsertFailed { stream: stream.clone(), version, error }))
    }
}

/// The transaction of a batch failed as a whole (it could not begin, or not commit): every
/// append of the batch fails with this, and they share the one underlying error.
#[derive(Debug)]
struct TransactionFailed(Arc<rusqlite::Error>);

impl std::fmt::Display for TransactionFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the transaction failed: {}", self.0)
    }
}

impl std::error::Error for TransactionFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        // The rusqlite error itself (not the `Arc`), so that callers can downcast to it.
        Some(&*self.0)
    }
}

/// An insert of one event failed on something other than a duplicate version.
#[derive(Debug, thiserror::Error)]
#[error("stream {stream}, version {version}: {error}")]
struct InsertFailed {
    stream: crate::error::StreamName,
    version: u64,
    #[source]
    error: rusqlite::Error,
}

fn encode_metadata(metadata: &Metadata) -> Option<String> {
    (!metadata.is_empty()).then(|| serde_json::to_string(metadata).expect("metadata is plain strings"))
}
