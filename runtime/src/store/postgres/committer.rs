//! Group commit: the queue of appends, the committer task, and the transaction of a batch.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::oneshot;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Row, Statement};

use super::pii;
use super::pool::PooledConn;
use super::rows::{decode_batch, decode_one};
use futures_util::future::join;

use super::{Inner, PostgresStore, backend, unexpected};
use crate::envelope::NewEvent;
use crate::error::StoreError;
use crate::store::{Appended, StreamRef, refused_alone};
use crate::trace::{Instrument, debug, debug_span, field, warn};

/// A failure shared by several appends, kept whole as their error's source.
type SharedCause = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// The unique constraint that backs optimistic concurrency.
const STREAM_VERSION_CONSTRAINT: &str = "events_stream_version";

impl PostgresStore {
    /// Commits the queued appends, batch after batch, until the queue is empty; run by one
    /// task at a time (see [`AppendQueue::committing`]). Holds one pooled connection while
    /// there is work.
    pub(super) async fn commit_queued(self) {
        let mut guard = CommitterGuard { inner: &self.inner, armed: true };
        let mut conn: Option<PooledConn<'_>> = None;
        // The size of the last batch. The writers it answered are about to append again:
        // letting them run first (a few yields, no timer) puts their appends into the next
        // batch, instead of committing the first alone and the rest after another flush.
        let mut last = 0;
        loop {
            for _ in 0..GATHER_YIELDS {
                if last <= 1 || self.inner.queue().pending.len() >= last {
                    break;
                }
                tokio::task::yield_now().await;
            }
            let batch = {
                let mut queue = self.inner.queue();
                if queue.pending.is_empty() {
                    // Cleared under the queue lock: an append queued after this sees no
                    // committer and starts one.
                    queue.committing = false;
                    guard.armed = false;
                    return;
                }
                take_batch(&mut queue.pending)
            };
            // A connection left inside a transaction or closed is not reused.
            let reusable = conn.take().filter(|c| !c.in_transaction && !c.conn().client.is_closed());
            let mut c = match reusable {
                Some(c) => c,
                None => match self.inner.pool.get().await {
                    Ok(c) => c,
                    Err(error) => {
                        fail_all(batch, error);
                        continue;
                    }
                },
            };
            last = batch.len();
            self.commit(&mut c, batch).await;
            conn = Some(c);
        }
    }

    /// Commits one append that found no commit under way, alone, on a pooled connection.
    pub(super) async fn commit_alone(&self, append: &PendingAppend) -> Result<Appended, StoreError> {
        let span = batch_span(std::slice::from_ref(append));
        let started = Instant::now();
        let result = async {
            let mut conn = self.inner.pool.get().await?;
            self.commit_one(&mut conn, append).await
        }
        .instrument(span.clone())
        .await;
        span.record("duration_ms", started.elapsed().as_secs_f64() * 1000.0);
        result
    }

    /// Commits `batch` (at most one append per stream) and answers each append.
    pub(super) async fn commit(&self, conn: &mut PooledConn<'_>, batch: Vec<PendingAppend>) {
        let span = batch_span(&batch);
        let started = Instant::now();
        self.commit_batch(conn, batch).instrument(span.clone()).await;
        span.record("duration_ms", started.elapsed().as_secs_f64() * 1000.0);
    }

    async fn commit_batch(&self, conn: &mut PooledConn<'_>, batch: Vec<PendingAppend>) {
        if batch.len() == 1 {
            for append in batch {
                let result = self.commit_one(conn, &append).await;
                append.answer(result);
            }
            return;
        }
        match self.try_commit(conn, &batch).await {
            Ok(results) => {
                for (append, result) in batch.into_iter().zip(results) {
                    append.answer(result);
                }
            }
            // The insert failed and the transaction was rolled back, so nothing was
            // written. The error does not say which append caused it (an invalid JSON
            // payload, a writer that bypassed the lock): commit each on its own, so that
            // only that one fails.
            Err(BatchFailure::Insert(error)) => {
                warn!(
                    store = "postgres",
                    appends = batch.len(),
                    error = %error,
                    "a batch's insert failed and was rolled back; committing its appends one at a time"
                );
                let cause: SharedCause = Arc::new(error);
                let count = batch.len();
                for append in batch {
                    let result = if conn.in_transaction || conn.conn().client.is_closed() {
                        Err(BatchFailed::lost(&append, count, cause.clone()))
                    } else {
                        self.commit_one(conn, &append).await
                    };
                    append.answer(result);
                }
            }
            Err(BatchFailure::Other(error)) => fail_all(batch, error),
        }
    }

    /// Commits one append in a transaction of its own.
    pub(super) async fn commit_one(
        &self,
        conn: &mut PooledConn<'_>,
        append: &PendingAppend,
    ) -> Result<Appended, StoreError> {
        match self.try_commit(conn, std::slice::from_ref(append)).await {
            Ok(mut results) => results.pop().unwrap_or_else(|| Err(unexpected("no result for the append"))),
            Err(BatchFailure::Other(error)) => Err(error),
            Err(BatchFailure::Insert(error)) => {
                // The version check runs under the lock, so only a writer that bypasses the
                // lock can race it; the unique constraint still keeps the stream linear. The
                // append is then refused as the statement would have refused it: a conflict,
                // or the stream archived or deleted meanwhile.
                let unique_violation = error.code() == Some(&SqlState::UNIQUE_VIOLATION)
                    && error.as_db_error().and_then(|e| e.constraint()) == Some(STREAM_VERSION_CONSTRAINT);
                if unique_violation {
                    let stream = append.stream();
                    let head = conn.conn().stream_head(stream).await?;
                    if let Some(refused) = head.refusal(stream, append.expected as u64).filter(refused_alone) {
                        return Err(refused);
                    }
                }
                Err(backend(error))
            }
        }
    }

    /// One transaction for `batch`, in one pipelined burst: `BEGIN`, the position lock, the
    /// insert (which checks every append's version first and notifies) and `COMMIT`.
    /// Returns one result per append, in order: the appended positions, or the refusal of
    /// that append alone (a conflict, the stream archived or deleted).
    ///
    /// A batch with personal data to seal begins its transaction first, takes or makes the
    /// subjects' keys in it and seals (see `pii.rs`), then sends the rest in one burst, with
    /// the statement that also records which streams the keys sealed values in.
    pub(super) async fn try_commit(
        &self,
        conn: &mut PooledConn<'_>,
        batch: &[PendingAppend],
    ) -> Result<Vec<Result<Appended, StoreError>>, BatchFailure> {
        let sealed = if batch.iter().any(|append| !append.subjects.is_empty()) {
            let keyring = self.inner.keyring();
            Some(pii::begin_sealed(conn, &keyring, batch).await.map_err(BatchFailure::Other)?)
        } else {
            None
        };
        let payload = |i: usize, k: usize| match &sealed {
            Some(sealed) => sealed.payload(batch, i, k),
            None => batch[i].events[k].payload.as_str(),
        };
        let results = if let [append] = batch {
            // Alone: the statement made for one append, with one row to decode.
            let names: Vec<&str> = append.events.iter().map(|e| e.name).collect();
            let schema_versions: Vec<i64> = append.events.iter().map(|e| i64::from(e.version)).collect();
            let payloads: Vec<&str> = (0..append.events.len()).map(|k| payload(0, k)).collect();
            let mut params: Vec<&(dyn ToSql + Sync)> = vec![
                &append.aggregate_type,
                &append.stream_id,
                &append.expected,
                &append.metadata,
                &names,
                &schema_versions,
                &payloads,
                &self.inner.channel,
            ];
            let insert = match &sealed {
                Some(sealed) => {
                    params.extend([&sealed.key_ids as &(dyn ToSql + Sync), &sealed.key_ords]);
                    conn.conn().statements.insert_sealed.clone()
                }
                None => conn.conn().statements.insert.clone(),
            };
            let rows = self.run_in_transaction(conn, &insert, &params, sealed.is_some()).await?;
            vec![decode_one(append, &rows).map_err(BatchFailure::Other)?]
        } else {
            let event_count: usize = batch.iter().map(|a| a.events.len()).sum();
            let mut aggregate_types = Vec::with_capacity(batch.len());
            let mut stream_ids = Vec::with_capacity(batch.len());
            let mut expected = Vec::with_capacity(batch.len());
            let mut metadata = Vec::with_capacity(batch.len());
            let mut counts = Vec::with_capacity(batch.len());
            let mut event_appends = Vec::with_capacity(event_count);
            let mut event_ords = Vec::with_capacity(event_count);
            let mut names = Vec::with_capacity(event_count);
            let mut schema_versions = Vec::with_capacity(event_count);
            let mut payloads = Vec::with_capacity(event_count);
            for ((append, i), index) in batch.iter().zip(1_i64..).zip(0..) {
                aggregate_types.push(append.aggregate_type.as_str());
                stream_ids.push(append.stream_id.as_str());
                expected.push(append.expected);
                metadata.push(append.metadata.as_str());
                counts.push(append.events.len() as i64);
                for ((event, k), ord) in append.events.iter().zip(1_i64..).zip(0..) {
                    event_appends.push(i);
                    event_ords.push(k);
                    names.push(event.name);
                    schema_versions.push(i64::from(event.version));
                    payloads.push(payload(index, ord));
                }
            }
            let mut params: Vec<&(dyn ToSql + Sync)> = vec![
                &aggregate_types,
                &stream_ids,
                &expected,
                &metadata,
                &counts,
                &event_appends,
                &event_ords,
                &names,
                &schema_versions,
                &payloads,
                &self.inner.channel,
            ];
            let append = match &sealed {
                Some(sealed) => {
                    params.extend([&sealed.key_appends as &(dyn ToSql + Sync), &sealed.key_ords, &sealed.key_ids]);
                    conn.conn().statements.append_sealed.clone()
                }
                None => conn.conn().statements.append.clone(),
            };
            let rows = self.run_in_transaction(conn, &append, &params, sealed.is_some()).await?;
            decode_batch(batch, &rows).map_err(BatchFailure::Other)?
        };
        if let Some(last) = results.iter().filter_map(|r| r.as_ref().ok()?.positions.last()).max() {
            self.bump_head(*last);
        }
        Ok(results)
    }

    /// Runs `statement` in a transaction under the position lock: `BEGIN` (unless `begun`),
    /// the lock, the statement and `COMMIT` in one pipelined burst.
    pub(super) async fn run_in_transaction(
        &self,
        conn: &mut PooledConn<'_>,
        statement: &Statement,
        params: &[&(dyn ToSql + Sync)],
        begun: bool,
    ) -> Result<Vec<Row>, BatchFailure> {
        // The server runs these in order, and the statement's snapshot is taken after the
        // lock is granted, so it sees every earlier append committed. Sent together, they
        // cost one round trip, and the lock is held for the statement and the commit only.
        // (`join` polls its first future first, so the requests go out in this order.)
        conn.in_transaction = true;
        let client = &conn.conn().client;
        let lock = &conn.conn().statements.lock;
        let begin = async {
            match begun {
                true => Ok(()),
                false => client.batch_execute("BEGIN").await,
            }
        };
        let ((begin, lock), (rows, commit)) = join(
            join(begin, client.execute(lock, &[&self.inner.append_lock])),
            join(client.query(statement, params), client.batch_execute("COMMIT")),
        )
        .await;
        // After an error, the server turned `COMMIT` into a rollback: either way the
        // transaction is over. If `COMMIT` failed, the connection state is unknown, and so
        // is whether anything was stored.
        let ended = commit.is_ok();
        conn.in_transaction = !ended;
        let other = |error| BatchFailure::Other(backend(error));
        begin.map_err(other)?;
        lock.map_err(other)?;
        let rows = match rows {
            Ok(rows) => rows,
            Err(error) if ended => return Err(BatchFailure::Insert(error)),
            Err(error) => return Err(other(error)),
        };
        commit.map_err(other)?;
        Ok(rows)
    }
}

/// How many times the committer yields, at most, waiting for the writers of its last batch.
const GATHER_YIELDS: usize = 32;

/// Takes the next batch off the queue: every pending append, except that a stream's
/// second append stays queued (in order) for the next batch, where it sees the first
/// one's version. The insert then checks each append against the stored version alone.
pub(super) fn take_batch(pending: &mut Vec<PendingAppend>) -> Vec<PendingAppend> {
    let all = std::mem::take(pending);
    if all.len() == 1 {
        return all;
    }
    let mut streams = std::collections::HashSet::with_capacity(all.len());
    let first: Vec<bool> =
        all.iter().map(|a| streams.insert((a.aggregate_type.as_str(), a.stream_id.as_str()))).collect();
    drop(streams);
    let mut batch = Vec::with_capacity(all.len());
    for (append, first) in all.into_iter().zip(first) {
        if first { batch.push(append) } else { pending.push(append) }
    }
    batch
}

/// The span of one append batch: its size, and (recorded at its end) how long it took.
fn batch_span(batch: &[PendingAppend]) -> crate::trace::Span {
    let events: usize = batch.iter().map(|a| a.events.len()).sum();
    debug_span!("append batch", store = "postgres", appends = batch.len(), events, duration_ms = field::Empty)
}

/// Answers every append of a batch that failed as a whole: nothing of it was stored, or
/// (if the connection was lost during `COMMIT`) whether it was is unknown. Each error keeps
/// `error` as its source.
pub(super) fn fail_all(batch: Vec<PendingAppend>, error: StoreError) {
    let count = batch.len();
    let cause: SharedCause = Arc::new(error);
    for append in batch {
        let failed =
            BatchFailed { what: "failed", stream: append.stream().name().to_string(), count, cause: cause.clone() };
        append.answer(Err(StoreError::Backend(Box::new(failed))));
    }
}

/// The error of an append whose batch failed as a whole; the batch's failure is its source.
#[derive(Debug)]
struct BatchFailed {
    what: &'static str,
    stream: String,
    count: usize,
    cause: SharedCause,
}

impl BatchFailed {
    /// The connection was lost while the batch's appends were retried one at a time.
    fn lost(append: &PendingAppend, count: usize, cause: SharedCause) -> StoreError {
        let stream = append.stream().name().to_string();
        StoreError::Backend(Box::new(BatchFailed { what: "lost its connection", stream, count, cause }))
    }
}

impl std::fmt::Display for BatchFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the batch of {} appends holding this append to {} {}", self.count, self.stream, self.what)
    }
}

impl std::error::Error for BatchFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.cause)
    }
}

/// An append waiting in the queue for the committer.
pub(super) struct PendingAppend {
    pub(super) aggregate_type: String,
    pub(super) stream_id: String,
    /// Fits in `i64`, and so does it plus the number of events: checked before queuing.
    pub(super) expected: i64,
    /// Encoded JSON.
    pub(super) metadata: String,
    /// Not empty.
    pub(super) events: Vec<NewEvent>,
    /// The subjects whose `Pii` values the events hold in the clear, once each: empty when
    /// there is nothing to seal.
    pub(super) subjects: Vec<String>,
    pub(super) reply: oneshot::Sender<Result<Appended, StoreError>>,
}

impl PendingAppend {
    /// Sends the append its result; an appender that stopped waiting (its future was
    /// dropped) no longer learns it.
    pub(super) fn answer(self, result: Result<Appended, StoreError>) {
        let stream = self.stream().name();
        let ok = result.is_ok();
        if self.reply.send(result).is_err() {
            debug!(store = "postgres", stream = %stream, appended = ok, "an appender stopped waiting before its answer");
        }
    }

    pub(super) fn stream(&self) -> StreamRef<'_> {
        StreamRef::new(&self.aggregate_type, &self.stream_id)
    }
}

/// The appends waiting to be committed, and whether a task is committing them.
#[derive(Default)]
pub(super) struct AppendQueue {
    pub(super) pending: Vec<PendingAppend>,
    /// Set by the append that finds no committer, which commits itself and then spawns a
    /// committer if appends queued meanwhile; cleared, under this queue's lock, by whoever
    /// finds the queue empty.
    pub(super) committing: bool,
}

/// Held by an append that commits itself: when it is done (or dropped, or panics), the
/// appends queued meanwhile go to a committer task, or the queue is marked idle.
pub(super) struct HandOver<'a> {
    pub(super) store: &'a PostgresStore,
}

impl Drop for HandOver<'_> {
    fn drop(&mut self) {
        let pending = {
            let mut queue = self.store.inner.queue();
            if queue.pending.is_empty() {
                queue.committing = false;
                return;
            }
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn(self.store.clone().commit_queued());
                    return;
                }
                Err(_) => {
                    queue.committing = false;
                    std::mem::take(&mut queue.pending)
                }
            }
        };
        fail_all(pending, StoreError::Backend("no Tokio runtime to commit on".into()));
    }
}

/// Why a batch's transaction failed.
pub(super) enum BatchFailure {
    /// The insert statement failed and the transaction was rolled back: nothing was stored.
    Insert(tokio_postgres::Error),
    /// Anything else: the connection failed, or the answer made no sense.
    Other(StoreError),
}

/// If the committer stops before emptying the queue (it panicked, or its runtime shut
/// down), lets the next append start another, and fails the appends still queued. Those of
/// the batch in flight learn it from their dropped reply channel.
pub(super) struct CommitterGuard<'a> {
    pub(super) inner: &'a Inner,
    pub(super) armed: bool,
}

impl Drop for CommitterGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let pending = {
                let mut queue = self.inner.queue();
                queue.committing = false;
                std::mem::take(&mut queue.pending)
            };
            fail_all(pending, StoreError::Backend("the committer stopped".into()));
        }
    }
}
