//! Group commit: appends queue up while the writer is busy, and one committer takes them into
//! one transaction (one fsync), batch after batch.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use rusqlite::{Connection, TransactionBehavior, params};

use super::connection::lock;
use super::keys::{record_use, seal_event};
use super::lifecycle;
use super::rows::{to_i64, to_micros};
use super::{Inner, SqliteStore, backend, statements};
use crate::envelope::{Metadata, NewEvent};
use crate::error::{StoreError, StreamName};
use crate::pii::Keyring;
use crate::pii::seal::Sealing;
use crate::store::{Appended, StreamRef, refused_alone};
use crate::trace::{debug_span, field, warn};

impl SqliteStore {
    /// Queues one append for the committer and waits for its answer. `metadata` is encoded
    /// already ([`encode_metadata`]).
    pub(super) async fn commit(
        &self,
        stream: StreamName,
        expected: u64,
        metadata: StoredMetadata,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        // Named in the error of a committer that panicked; one copy beside an fsync.
        let name = stream.clone();
        let pending = PendingAppend { stream, expected, metadata, events, reply };
        // Group commit: the append joins the queue; if no committer is running, it starts
        // one. The committer takes everything queued so far into one transaction (one fsync;
        // a conflict rejects only its own append, see `commit_batch`), and goes on while
        // appends keep arriving: those queued during one fsync go together in the next
        // transaction. Each append waits only for its own answer.
        // The committer is woken only when it waits and the queue now holds what it waits
        // for: one wake per batch, not one per append.
        let (start_committer, wake) = {
            let mut queue = lock(&self.inner.queue);
            queue.pending.push(pending);
            let started = std::mem::replace(&mut queue.committing, true);
            let wake = queue.waiting_for.is_some_and(|wanted| queue.pending.len() >= wanted);
            if wake {
                queue.waiting_for = None;
            }
            (!started, wake)
        };
        if start_committer {
            // No committer is at work, so none is about to take this append: on a worker
            // thread it is committed here, rather than by a committer woken on another
            // thread, which would then wake this task (two wake-ups of a sleeping thread on
            // the path of every lone writer's append).
            let in_place = on_worker_thread() && commit_in_place(&self.inner);
            if !in_place {
                spawn_committer(&self.inner, Linger::ForTheNextAppend);
            }
        } else if wake {
            self.inner.arrived.notify_one();
        }
        answer.await.map_err(|_| {
            StoreError::Backend(format!("stream {name}: the committer stopped before answering (it panicked)").into())
        })?
    }
}

/// An append waiting for the writer.
struct PendingAppend {
    stream: StreamName,
    expected: u64,
    metadata: StoredMetadata,
    events: Vec<NewEvent>,
    reply: tokio::sync::oneshot::Sender<Result<Appended, StoreError>>,
}

/// The appends waiting to be committed, and whether a committer is at work on them.
#[derive(Default)]
pub(super) struct Queue {
    pending: Vec<PendingAppend>,
    committing: bool,
    /// Set while the committer waits on [`Inner::arrived`]: the queue's length at which the
    /// append that reaches it wakes the committer (and clears this).
    waiting_for: Option<usize>,
}

/// Whether this is a worker thread of a multi-threaded Tokio runtime, where
/// [`tokio::task::block_in_place`] may run a commit (it panics on a current-thread runtime).
fn on_worker_thread() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|runtime| runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

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

/// The committer of an append that found none at work, on the appender's own worker thread
/// (`block_in_place`: the runtime moves the worker's other tasks to another thread
/// meanwhile). Commits what is queued (that append, and any queued meanwhile) in one
/// transaction, then hands what queued during it to a committer on the blocking pool, or
/// marks the queue idle; it never waits for more appends, its own appender waits for it.
///
/// Returns whether the commit ran here. A panic in it drops the appends' replies, which their
/// waits report as errors, as for a committer on the pool; should `block_in_place` refuse the
/// thread before running it, the caller starts a committer on the pool instead.
fn commit_in_place(inner: &Arc<Inner>) -> bool {
    let mut ran = false;
    let commit = std::panic::AssertUnwindSafe(|| {
        tokio::task::block_in_place(|| {
            ran = true;
            let on_panic = OnPanic(inner);
            let mut connection = lock(&inner.writer);
            let batch = std::mem::take(&mut lock(&inner.queue).pending);
            commit_traced(&mut connection, &inner.keyring(), batch);
            drop(connection);
            let mut queue = lock(&inner.queue);
            if queue.pending.is_empty() {
                queue.committing = false;
            } else {
                drop(queue);
                // The next lone append commits in place again: no use waiting for it.
                spawn_committer(inner, Linger::No);
            }
            std::mem::forget(on_panic);
        })
    });
    let _ = std::panic::catch_unwind(commit);
    ran
}

/// Whether a committer on the blocking pool, its queue empty, waits a little for the next
/// append before it stops.
#[derive(Clone, Copy, PartialEq)]
enum Linger {
    /// Yes: appends come from a current-thread runtime (or none), where the next append would
    /// otherwise have to start a committer on the pool again, a hand-over between threads.
    ForTheNextAppend,
    /// No: appends come from a multi-threaded runtime's workers, where the next append that
    /// finds no committer commits in place ([`commit_in_place`]), cheaper than being taken
    /// over by this one.
    No,
}

/// Starts a committer on Tokio's blocking pool for what is queued.
fn spawn_committer(inner: &Arc<Inner>, linger: Linger) {
    let inner = Arc::clone(inner);
    tokio::task::spawn_blocking(move || commit_queued(&inner, linger));
}

/// Commits `batch` inside its span ([`commit_batch`]); returns how long it took.
fn commit_traced(connection: &mut Connection, keyring: &Keyring, batch: Vec<PendingAppend>) -> Duration {
    let span = debug_span!(
        "append_batch",
        store = "sqlite",
        appends = batch.len(),
        events = batch.iter().map(|pending| pending.events.len()).sum::<usize>(),
        duration_us = field::Empty,
    );
    let started = Instant::now();
    span.in_scope(|| commit_batch(connection, keyring, batch));
    let took = started.elapsed();
    span.record("duration_us", u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
    took
}

/// The committer: commits batch after batch until the queue is empty, then stops (the next
/// append starts another). Holds the writing connection meanwhile.
fn commit_queued(inner: &Inner, linger: Linger) {
    let on_panic = OnPanic(inner);
    let mut connection = lock(&inner.writer);
    // How many writers are at work, as the batches show it, and how long the last commit
    // took. The writers a batch answered append again just after: waiting for them (at most
    // one commit's time) keeps them in one transaction, instead of committing the first
    // alone and the others after another fsync. The estimate grows with any larger batch
    // and shrinks by one for each wait that ends short, so one late writer does not send it
    // back to committing appends one by one.
    let (mut writers, mut took) = (1, Duration::ZERO);
    loop {
        let mut queue = lock(&inner.queue);
        if writers > 1 && queue.pending.len() < writers {
            let deadline = Instant::now() + took.min(MAX_GATHER);
            queue = wait_until(inner, queue, writers, deadline);
            if queue.pending.len() < writers {
                writers -= 1;
            }
        }
        if queue.pending.is_empty() && linger == Linger::ForTheNextAppend {
            // An append that comes soon is taken here rather than by a new committer, which
            // would cost a hand-over to another thread of the blocking pool.
            let deadline = Instant::now() + took.min(MAX_GATHER) * 2;
            queue = wait_until(inner, queue, 1, deadline);
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
        writers = writers.max(batch.len());
        took = commit_traced(&mut connection, &inner.keyring(), batch);
    }
}

/// Waits, until `deadline`, for the queue to hold `wanted` appends; returns the queue locked.
fn wait_until<'a>(
    inner: &'a Inner,
    mut queue: std::sync::MutexGuard<'a, Queue>,
    wanted: usize,
    deadline: Instant,
) -> std::sync::MutexGuard<'a, Queue> {
    while queue.pending.len() < wanted {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else { break };
        queue.waiting_for = Some(wanted);
        queue = inner.arrived.wait_timeout(queue, left).unwrap_or_else(|poisoned| poisoned.into_inner()).0;
    }
    queue.waiting_for = None;
    queue
}

/// The longest the committer waits for more appends before committing what it has.
const MAX_GATHER: Duration = Duration::from_millis(2);

/// Commits `batch` in one transaction and answers every waiting append once the transaction
/// is durable (or failed). A conflict rejects only its own append: versions are checked
/// before anything of an append is written, under the write lock. An append that fails on
/// anything else takes the transaction down with it; the others are then committed again,
/// each on its own, so that only the faulty append fails.
fn commit_batch(connection: &mut Connection, keyring: &Keyring, batch: Vec<PendingAppend>) {
    // Stored to the microsecond: the time answered is the one stored, so an inline projection
    // handed the committed events sees what a rebuild from the log reads back.
    let now = SystemTime::now();
    let recorded_at = now
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|d| std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_micros(d.as_micros() as u64)))
        .unwrap_or(now);
    let mut outcomes = Vec::with_capacity(batch.len());
    let committed = (|| {
        let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (index, pending) in batch.iter().enumerate() {
            match append_one(&tx, keyring, pending, recorded_at) {
                // Dropping `tx` rolls everything back.
                Err(error) if !refused_alone(&error) => return Ok(Some((index, error))),
                outcome => outcomes.push(outcome),
            }
        }
        tx.commit().map(|()| None)
    })();
    let failure = match committed {
        Ok(None) => None,
        Ok(Some((index, error))) => {
            if batch.len() > 1 {
                // Handled here, not returned: the faulty append gets its own error from its
                // retry below, so this one is only logged.
                warn!(
                    store = "sqlite",
                    appends = batch.len(),
                    stream = %batch[index].stream,
                    error = %error,
                    "an append failed inside a group commit, which was rolled back; committing each append of the batch on its own"
                );
                for pending in batch {
                    commit_batch(connection, keyring, vec![pending]);
                }
            } else if let Some(alone) = batch.into_iter().next() {
                // A receiver that is gone belongs to an append whose caller stopped waiting
                // (its future was dropped): there is no one left to tell.
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
            // Committed, or refused on its own account (a conflict, an archived or deleted
            // stream: the refusal holds either way).
            (None, Some(outcome)) => outcome,
            (_, Some(Err(refused))) if refused_alone(&refused) => Err(refused),
            (Some(error), _) => Err(StoreError::Backend(Box::new(TransactionFailed(Arc::clone(error))))),
            (None, None) => unreachable!("a committed batch has an outcome for every append"),
        };
        // A receiver that is gone belongs to an append whose caller stopped waiting (its
        // future was dropped): the outcome stands, and there is no one left to tell.
        let _ = pending.reply.send(result);
    }
}

/// One append inside the batch's transaction: check the version, seal the personal data,
/// insert the events.
fn append_one(
    connection: &Connection,
    keyring: &Keyring,
    pending: &PendingAppend,
    recorded_at: SystemTime,
) -> Result<Appended, StoreError> {
    let PendingAppend { stream, expected, metadata, events, .. } = pending;
    let expected = *expected;
    let at = StreamRef::new(&stream.aggregate_type, &stream.stream_id);
    let actual = lifecycle::head(connection, at)?.open(at)?;
    if actual != expected {
        return Err(StoreError::Conflict { stream: stream.clone(), expected, actual });
    }
    let micros = to_micros(recorded_at);
    let mut insert = connection.prepare_cached(statements::INSERT_EVENT).map_err(backend)?;
    let mut positions = Vec::with_capacity(events.len());
    let (mut keys, mut recorded) = (HashMap::new(), Vec::new());
    for (offset, event) in events.iter().enumerate() {
        let version = expected + offset as u64 + 1;
        let at = Sealing {
            aggregate_type: &stream.aggregate_type,
            stream_id: &stream.stream_id,
            stream_version: version,
            event_name: event.name,
            event_version: event.version,
        };
        let sealed = seal_event(connection, keyring, &at, &event.payload, &mut keys)?;
        let payload = sealed.as_ref().map_or(event.payload.as_str(), |(sealed, _)| sealed);
        insert
            .execute(params![
                stream.aggregate_type,
                stream.stream_id,
                to_i64(version),
                event.name,
                event.version,
                micros,
                metadata.json,
                payload,
                metadata.command_id,
            ])
            .map_err(|e| conflict_or_backend(e, stream, expected, version))?;
        let position = connection.last_insert_rowid() as u64;
        if let Some((_, used)) = &sealed {
            // Once per key and append: the stream's first position with it is what counts.
            let new: Vec<u64> = used.iter().copied().filter(|id| !recorded.contains(id)).collect();
            record_use(connection, stream, position, &new)?;
            recorded.extend(new);
        }
        positions.push(position);
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
    stream: StreamName,
    version: u64,
    #[source]
    error: rusqlite::Error,
}

/// An append's metadata as its events store it: the `metadata` column (JSON of the
/// key/values, or null when there are none) and the `command_id` column beside it, which
/// the index of command ids reads without parsing JSON.
#[derive(Default)]
pub(super) struct StoredMetadata {
    json: Option<String>,
    command_id: Option<String>,
}

pub(super) fn encode_metadata(metadata: &Metadata) -> StoredMetadata {
    StoredMetadata {
        json: (!metadata.is_empty()).then(|| serde_json::to_string(metadata).expect("metadata is plain strings")),
        command_id: metadata.command_id.clone(),
    }
}

#[cfg(all(test, feature = "tracing"))]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata as TraceMetadata, Subscriber};

    use super::{PendingAppend, StoredMetadata, commit_queued};
    use crate::envelope::NewEvent;
    use crate::error::StreamName;
    use crate::store::sqlite::{SqliteStore, connection::lock};

    /// What the committer told tracing: span names with their fields, and events.
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<String>>>);

    /// Writes the fields of a span or event as `name=value`.
    struct Fields<'a>(&'a mut String);

    impl Visit for Fields<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0.push_str(&format!(" {}={value:?}", field.name()));
        }
    }

    impl Subscriber for Recorder {
        fn enabled(&self, _: &TraceMetadata<'_>) -> bool {
            true
        }

        fn new_span(&self, span: &Attributes<'_>) -> Id {
            let mut line = format!("span {}", span.metadata().name());
            span.record(&mut Fields(&mut line));
            let mut lines = self.0.lock().unwrap();
            lines.push(line);
            Id::from_u64(lines.len() as u64)
        }

        fn record(&self, span: &Id, values: &Record<'_>) {
            let mut lines = self.0.lock().unwrap();
            let line = &mut lines[span.into_u64() as usize - 1];
            values.record(&mut Fields(line));
        }

        fn record_follows_from(&self, _: &Id, _: &Id) {}

        fn event(&self, event: &Event<'_>) {
            let mut line = format!("{}", event.metadata().level());
            event.record(&mut Fields(&mut line));
            self.0.lock().unwrap().push(line);
        }

        fn enter(&self, _: &Id) {}

        fn exit(&self, _: &Id) {}
    }

    /// A batch is one `append_batch` span, with its size and duration; an append that fails
    /// inside it (a trigger planted in the file) is logged as a warning, naming its stream,
    /// before the others are committed on their own.
    #[test]
    fn a_batch_is_one_span_and_a_failed_append_in_it_a_warning() {
        let path = std::env::temp_dir().join(format!("factum-committer-trace-{}.db", std::process::id()));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let store = runtime.block_on(SqliteStore::open(&path)).unwrap();
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch(
                "CREATE TRIGGER planted BEFORE INSERT ON events WHEN NEW.stream_id = 'poison' \
                 BEGIN SELECT RAISE(ABORT, 'planted failure'); END;",
            )
            .unwrap();
        let event = || NewEvent { name: "Noted", version: 1, payload: "{}".into() };
        let mut answers = Vec::new();
        {
            let mut queue = lock(&store.inner.queue);
            for (id, events) in [("good", vec![event(), event()]), ("poison", vec![event()])] {
                let (reply, answer) = tokio::sync::oneshot::channel();
                let stream = StreamName { aggregate_type: "note".into(), stream_id: id.into() };
                queue.pending.push(PendingAppend {
                    stream,
                    expected: 0,
                    metadata: StoredMetadata::default(),
                    events,
                    reply,
                });
                answers.push(answer);
            }
            queue.committing = true;
        }

        let recorder = Recorder::default();
        tracing::subscriber::with_default(recorder.clone(), || commit_queued(&store.inner, super::Linger::No));

        let mut answers = answers.into_iter().map(|mut answer| answer.try_recv().expect("answered"));
        assert_eq!(answers.next().unwrap().unwrap().version, 2);
        let failure = answers.next().unwrap().unwrap_err().to_string();
        assert!(failure.contains("stream note/poison, version 1") && failure.contains("planted failure"), "{failure}");
        let lines = recorder.0.lock().unwrap().clone();
        assert_eq!(lines.len(), 2, "{lines:#?}");
        assert!(
            lines[0].starts_with(r#"span append_batch store="sqlite" appends=2 events=3 duration_us="#),
            "{lines:#?}"
        );
        let warning = &lines[1];
        assert!(warning.starts_with("WARN message=an append failed inside a group commit"), "{warning}");
        for field in [r#"store="sqlite""#, "appends=2", "stream=note/poison", "planted failure"] {
            assert!(warning.contains(field), "{field} in {warning}");
        }
        drop(store);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
