//! `PostgresStore`: one store shared by many processes and machines, on PostgreSQL.
//!
//! # Layout
//!
//! Everything lives in one schema (`factum` unless chosen): `events`, `snapshots`,
//! `checkpoints`, and `factum_migrations`, which records the versioned migrations applied.
//! Migrations run on connect, in one transaction under an advisory lock, so processes that
//! start together do not race.
//!
//! # Commit-ordered positions
//!
//! A reader of the global log asks for "the events after position `p`". With positions
//! drawn from a plain sequence that is not safe: transaction A draws position 10,
//! transaction B draws 11 and commits first; a reader sees 11, remembers it, and never
//! looks back for 10, which becomes visible a moment later. The event is skipped for good.
//!
//! This store uses *commit-ordered positions*: an append takes a transaction-scoped
//! advisory lock (`pg_advisory_xact_lock`, one key per schema) right before it allocates
//! positions (`max(position) + 1` on the primary key index), inserts and commits. The lock
//! is released only after the commit has become visible, so the next appender allocates
//! after it, and positions become visible strictly in order: every snapshot of `events`
//! holds a prefix of the log. A rolled-back append leaves no hole either, since the next
//! one allocates from the committed maximum.
//!
//! What runs under the lock is short. The encoding is done before; `BEGIN`, the lock, the
//! insert and `COMMIT` are sent in one pipelined burst, so the lock is held for one insert
//! statement and one commit, never for a client round trip. The optimistic concurrency
//! check is part of the insert statement: one index probe under the lock, where a separate
//! check before the lock would cost every append a round trip (it halved single-writer
//! throughput when measured) and would still need re-checking under the lock. The unique
//! `(aggregate_type, stream_id, version)` constraint backs it against writers that bypass
//! the lock.
//!
//! # Group commit
//!
//! Since the lock is held until the commit is durable, appends through one lock commit one
//! at a time, each waiting for its own flush of the write-ahead log. So a store commits the
//! appends made at the same time together, in one transaction and one flush:
//!
//! - An append that finds no commit under way commits itself, alone, with the statement made
//!   for one append: a lone writer pays one round trip and one transaction, as before.
//! - Appends made meanwhile wait in a queue. When the commit under way ends, a committer
//!   task takes the whole queue as one batch and commits it in one transaction, again one
//!   pipelined burst under the lock: one statement checks every append's version, inserts
//!   the events of those that match (positions in queue order, after the committed
//!   maximum), and notifies once. Each append gets its own answer: its positions, or a
//!   conflict that rejects only that append. The committer keeps taking batches until the
//!   queue is empty, on one pooled connection; each appender awaits only its own answer.
//! - A batch holds at most one append per stream; a stream's later appends stay queued, in
//!   order, for the next batch, where they see the earlier one's version.
//! - If the statement fails (an invalid JSON payload, a writer that bypassed the lock), the
//!   transaction rolled back whole, so the batch's appends are retried one transaction
//!   each, and only the culprit fails. If the connection fails, every append of the batch
//!   fails with a backend error; a batch is one transaction, so it is stored whole or not
//!   at all (if the connection fails during `COMMIT`, which of the two is unknown, as for a
//!   single append).
//!
//! The lock and the ordering are unchanged: one batch is one append as far as readers and
//! other processes are concerned. Batching happens within a store (its clones included);
//! separate stores, as separate processes, still take turns on the lock.
//!
//! # Leases
//!
//! A lease is a session-level advisory lock held by a connection of its own: PostgreSQL
//! releases it when the lease is dropped, the process dies or the connection is lost.
//!
//! # Waking readers
//!
//! Each transaction that appends notifies a channel per schema (`pg_notify`, delivered at
//! commit) with its last position. Every store keeps one connection that listens on that channel and
//! forwards the positions to its waiters, reconnecting if the connection drops. As a safety
//! net, waiters also re-read the head position every 500 ms.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;
use std::time::{Duration, SystemTime};

use tokio::sync::{Semaphore, SemaphorePermit, oneshot, watch};
use tokio::task::{AbortHandle, JoinHandle};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{AsyncMessage, Client, Config, NoTls, Row, Statement};

use super::{Appended, Checkpoint, EventFilter, EventStore, Lease, Snapshot, StreamRef};
use crate::envelope::{EventMeta, Metadata, NewEvent, RecordedEvent};
use crate::error::StoreError;

/// The schema [`PostgresStore::connect`] uses.
const DEFAULT_SCHEMA: &str = "factum";
/// The number of query connections [`PostgresStore::connect`] keeps.
const DEFAULT_POOL_SIZE: usize = 8;
/// PostgreSQL truncates longer identifiers, so two long schema names could collide.
const MAX_SCHEMA_LEN: usize = 63;
/// How often a waiter re-reads the head position in case a notification was lost.
const WAIT_RECHECK: Duration = Duration::from_millis(500);
/// How long the listener waits before reconnecting after its connection dropped.
const LISTEN_RECONNECT: Duration = Duration::from_secs(1);
/// How often a process waiting for a lease tries to take it.
const LEASE_RETRY: Duration = Duration::from_millis(200);
/// The unique constraint that backs optimistic concurrency.
const STREAM_VERSION_CONSTRAINT: &str = "events_stream_version";

/// The versioned migrations, in order. `{schema}` stands for the quoted schema name. Never
/// edit one that has shipped: add the next.
const MIGRATIONS: &[(i32, &str, &str)] = &[(
    1,
    "events, snapshots and checkpoints",
    r#"
CREATE TABLE {schema}.events (
    position       BIGINT      NOT NULL,
    aggregate_type TEXT        NOT NULL,
    stream_id      TEXT        NOT NULL,
    version        BIGINT      NOT NULL,
    name           TEXT        NOT NULL,
    schema_version BIGINT      NOT NULL,
    recorded_at    TIMESTAMPTZ NOT NULL,
    metadata       JSONB       NOT NULL,
    payload        JSONB       NOT NULL,
    CONSTRAINT events_pkey PRIMARY KEY (position),
    CONSTRAINT events_stream_version UNIQUE (aggregate_type, stream_id, version),
    CONSTRAINT events_position_positive CHECK (position > 0),
    CONSTRAINT events_version_positive CHECK (version > 0)
);
CREATE TABLE {schema}.snapshots (
    aggregate_type TEXT   NOT NULL,
    stream_id      TEXT   NOT NULL,
    version        BIGINT NOT NULL,
    fingerprint    BIGINT NOT NULL,
    state          TEXT   NOT NULL,
    CONSTRAINT snapshots_pkey PRIMARY KEY (aggregate_type, stream_id)
);
CREATE TABLE {schema}.checkpoints (
    name     TEXT   NOT NULL,
    position BIGINT NOT NULL,
    state    TEXT   NOT NULL,
    CONSTRAINT checkpoints_pkey PRIMARY KEY (name)
);
"#,
)];

/// An event store in a PostgreSQL database, shared by every process that connects to it.
///
/// Clones share one connection pool. Appends to one stream are serialized by optimistic
/// concurrency (a unique version per stream).
///
/// Positions are *commit-ordered*: appends allocate them under a transaction-scoped
/// advisory lock that is released at commit, so positions become visible strictly in
/// order and a reader that follows [`read_all`](EventStore::read_all) from its last
/// position never skips an event that committed late. The price is that transactions
/// appending to one schema commit one at a time, so a store commits the appends made at the
/// same time (by its clones and tasks) together, in one transaction, each with its own
/// result (group commit; see the module docs). [`wait_for_events`](EventStore::wait_for_events) is woken
/// by `LISTEN`/`NOTIFY`, and leases are session-level advisory locks, so both work across
/// processes and machines.
///
/// Payloads and metadata are stored as `jsonb`: payloads must be valid JSON, and come back
/// with the same meaning but possibly another layout (key order, spacing). `recorded_at`
/// is the server's clock. Connections are plain TCP or Unix sockets: TLS is not supported
/// yet (`sslmode=prefer`, the default, falls back to plain).
///
/// The connections are driven by tasks spawned on the Tokio runtime that connects, so use
/// the store inside that runtime.
///
/// ```no_run
/// use factum::{EventFilter, EventStore, Metadata, NewEvent, PostgresStore, StreamRef};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), factum::StoreError> {
/// // Creates the schema `factum` and its tables on first use.
/// let store = PostgresStore::connect("postgres://app:secret@localhost/app").await?;
/// let stream = StreamRef::new("counter", "c-1");
/// let event = NewEvent { name: "Incremented", version: 1, payload: r#"{"by":1}"#.into() };
/// store.append(stream, 0, &Metadata::new(), vec![event]).await?;
/// assert_eq!(store.read_all(0, EventFilter::ALL, 100).await?.len(), 1);
///
/// // Another schema, with 4 query connections: one independent store per schema.
/// let tests = PostgresStore::connect_with("postgres://app:secret@localhost/app", "test_1", 4).await?;
/// assert_eq!(tests.head_position().await?, 0);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    schema: String,
    pool: Pool,
    /// The advisory lock key that orders appends (see the module docs).
    append_lock: i64,
    /// The notification channel of this schema.
    channel: String,
    /// The highest position this process knows to be committed.
    head: Arc<watch::Sender<u64>>,
    /// The appends waiting to be committed together (see the module docs).
    appends: Mutex<AppendQueue>,
    /// The task that keeps the listening connection up.
    listener: AbortHandle,
}

impl Inner {
    fn queue(&self) -> MutexGuard<'_, AppendQueue> {
        // Pushes and takes cannot leave the queue half-changed: a poisoned lock is fine.
        self.appends.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Dropping the task drops its client, which ends the listening connection.
        self.listener.abort();
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database` or
    /// `host=... user=...`), using the schema `factum` and 8 query connections.
    ///
    /// Creates the schema and its tables, or migrates them, if needed.
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        Self::connect_with(url, DEFAULT_SCHEMA, DEFAULT_POOL_SIZE).await
    }

    /// Connects to the database at `url`, keeping the store in `schema` (created if
    /// missing; at most 63 bytes), with at most `pool_size` query connections plus one that
    /// listens for new events (and one for each lease held or awaited).
    ///
    /// Stores in different schemas of one database are independent: tests can each take a
    /// fresh schema.
    pub async fn connect_with(url: &str, schema: &str, pool_size: usize) -> Result<PostgresStore, StoreError> {
        super::validate_id("schema", schema)?;
        if schema.len() > MAX_SCHEMA_LEN {
            return Err(StoreError::InvalidInput {
                what: format!("schema {schema:?}"),
                reason: format!("it is {} bytes long; the limit is {MAX_SCHEMA_LEN}", schema.len()),
            });
        }
        if pool_size == 0 {
            return Err(StoreError::InvalidInput {
                what: "pool size".to_owned(),
                reason: "it must be at least 1".to_owned(),
            });
        }
        let mut config: Config = url.parse().map_err(backend)?;
        if config.get_application_name().is_none() {
            config.application_name("factum");
        }
        let quoted = quote_identifier(schema);
        let channel = format!("factum_{:016x}", fnv1a(&["notify", schema]));
        let pool = Pool {
            sql: Sql::new(&quoted),
            config,
            permits: Semaphore::new(pool_size),
            idle: Mutex::new(Vec::with_capacity(pool_size)),
            size: pool_size,
        };

        // The first connection migrates, then joins the pool.
        let (client, connection) = pool.config.connect(NoTls).await.map_err(backend)?;
        tokio::spawn(connection);
        migrate(&client, schema, &quoted, fnv1a(&["migrate", schema]) as i64).await?;
        let conn = pool.prepare(client).await?;
        let head_now = conn.head_position().await?;
        pool.idle().push(conn);

        let head = Arc::new(watch::Sender::new(head_now));
        let listen = format!("LISTEN {}", quote_identifier(&channel));
        let listener = open_listener(&pool.config, &listen, &head).await.map_err(backend)?;
        let listener = tokio::spawn(keep_listening(pool.config.clone(), listen, head.clone(), listener));
        Ok(PostgresStore {
            inner: Arc::new(Inner {
                schema: schema.to_owned(),
                pool,
                append_lock: fnv1a(&["append", schema]) as i64,
                channel,
                head,
                appends: Mutex::default(),
                listener: listener.abort_handle(),
            }),
        })
    }

    /// The schema that holds this store's tables.
    pub fn schema(&self) -> &str {
        &self.inner.schema
    }

    fn bump_head(&self, position: u64) {
        bump(&self.inner.head, position);
    }

    /// Commits the queued appends, batch after batch, until the queue is empty; run by one
    /// task at a time (see [`AppendQueue::committing`]). Holds one pooled connection while
    /// there is work.
    async fn commit_queued(self) {
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
                        fail_all(batch, &error);
                        continue;
                    }
                },
            };
            last = batch.len();
            self.commit(&mut c, batch).await;
            conn = Some(c);
        }
    }

    /// Commits `batch` (at most one append per stream) and answers each append.
    async fn commit(&self, conn: &mut PooledConn<'_>, batch: Vec<PendingAppend>) {
        if batch.len() == 1 {
            for append in batch {
                let result = self.commit_one(conn, &append).await;
                let _ = append.reply.send(result);
            }
            return;
        }
        match self.try_commit(conn, &batch).await {
            Ok(results) => {
                for (append, result) in batch.into_iter().zip(results) {
                    let _ = append.reply.send(result);
                }
            }
            // The insert failed and the transaction was rolled back, so nothing was
            // written. The error does not say which append caused it (an invalid JSON
            // payload, a writer that bypassed the lock): commit each on its own, so that
            // only that one fails.
            Err(BatchFailure::Insert(_)) => {
                for append in batch {
                    let result = if conn.in_transaction || conn.conn().client.is_closed() {
                        Err(StoreError::Backend("the connection was lost while committing a batch".into()))
                    } else {
                        self.commit_one(conn, &append).await
                    };
                    let _ = append.reply.send(result);
                }
            }
            Err(BatchFailure::Other(error)) => fail_all(batch, &error),
        }
    }

    /// Commits one append in a transaction of its own.
    async fn commit_one(&self, conn: &mut PooledConn<'_>, append: &PendingAppend) -> Result<Appended, StoreError> {
        match self.try_commit(conn, std::slice::from_ref(append)).await {
            Ok(mut results) => results.pop().unwrap_or_else(|| Err(unexpected("no result for the append"))),
            Err(BatchFailure::Other(error)) => Err(error),
            Err(BatchFailure::Insert(error)) => {
                // The version check runs under the lock, so only a writer that bypasses the
                // lock can race it; the unique constraint still keeps the stream linear.
                let unique_violation = error.code() == Some(&SqlState::UNIQUE_VIOLATION)
                    && error.as_db_error().and_then(|e| e.constraint()) == Some(STREAM_VERSION_CONSTRAINT);
                if unique_violation {
                    let stream = append.stream();
                    let actual = conn.conn().stream_version(stream).await?;
                    let expected = append.expected as u64;
                    if actual != expected {
                        return Err(StoreError::Conflict { stream: stream.name(), expected, actual });
                    }
                }
                Err(backend(error))
            }
        }
    }

    /// One transaction for `batch`, in one pipelined burst: `BEGIN`, the position lock, the
    /// insert (which checks every append's version first and notifies) and `COMMIT`.
    /// Returns one result per append, in order: the appended positions or a conflict.
    async fn try_commit(
        &self,
        conn: &mut PooledConn<'_>,
        batch: &[PendingAppend],
    ) -> Result<Vec<Result<Appended, StoreError>>, BatchFailure> {
        let results = if let [append] = batch {
            // Alone: the statement made for one append, with one row to decode.
            let names: Vec<&str> = append.events.iter().map(|e| e.name).collect();
            let schema_versions: Vec<i64> = append.events.iter().map(|e| i64::from(e.version)).collect();
            let payloads: Vec<&str> = append.events.iter().map(|e| e.payload.as_str()).collect();
            let params: [&(dyn ToSql + Sync); 8] = [
                &append.aggregate_type,
                &append.stream_id,
                &append.expected,
                &append.metadata,
                &names,
                &schema_versions,
                &payloads,
                &self.inner.channel,
            ];
            let insert = conn.conn().statements.insert.clone();
            let rows = self.run_in_transaction(conn, &insert, &params).await?;
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
            for (append, i) in batch.iter().zip(1_i64..) {
                aggregate_types.push(append.aggregate_type.as_str());
                stream_ids.push(append.stream_id.as_str());
                expected.push(append.expected);
                metadata.push(append.metadata.as_str());
                counts.push(append.events.len() as i64);
                for (event, k) in append.events.iter().zip(1_i64..) {
                    event_appends.push(i);
                    event_ords.push(k);
                    names.push(event.name);
                    schema_versions.push(i64::from(event.version));
                    payloads.push(event.payload.as_str());
                }
            }
            let params: [&(dyn ToSql + Sync); 11] = [
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
            let append = conn.conn().statements.append.clone();
            let rows = self.run_in_transaction(conn, &append, &params).await?;
            decode_batch(batch, &rows).map_err(BatchFailure::Other)?
        };
        if let Some(last) = results.iter().filter_map(|r| r.as_ref().ok()?.positions.last()).max() {
            self.bump_head(*last);
        }
        Ok(results)
    }

    /// Runs `statement` in a transaction under the position lock: `BEGIN`, the lock, the
    /// statement and `COMMIT` in one pipelined burst.
    async fn run_in_transaction(
        &self,
        conn: &mut PooledConn<'_>,
        statement: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, BatchFailure> {
        // The server runs these in order, and the statement's snapshot is taken after the
        // lock is granted, so it sees every earlier append committed. Sent together, they
        // cost one round trip, and the lock is held for the statement and the commit only.
        conn.in_transaction = true;
        let client = &conn.conn().client;
        let lock = &conn.conn().statements.lock;
        let ((begin, lock), (rows, commit)) = join(
            join(client.batch_execute("BEGIN"), client.execute(lock, &[&self.inner.append_lock])),
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

/// Reads the answer of the statement for one append: the version found, the number of
/// events inserted (none after a conflict), the first position and the time.
fn decode_one(append: &PendingAppend, rows: &[Row]) -> Result<Result<Appended, StoreError>, StoreError> {
    let row = rows.first().ok_or_else(|| unexpected("the insert returned no row"))?;
    let actual: i64 = row.try_get(0).map_err(backend)?;
    let inserted: i64 = row.try_get(1).map_err(backend)?;
    let (expected, count) = (append.expected as u64, append.events.len() as u64);
    if inserted == 0 && actual != append.expected {
        let actual = u64::try_from(actual).map_err(|_| unexpected("the stored version is negative"))?;
        return Ok(Err(StoreError::Conflict { stream: append.stream().name(), expected, actual }));
    }
    if inserted != count as i64 {
        return Err(unexpected("the insert stored another number of events than given"));
    }
    let first: i64 = row.try_get(2).map_err(backend)?;
    let recorded_at: SystemTime = row.try_get(3).map_err(backend)?;
    let first = u64::try_from(first).map_err(|_| unexpected("the insert returned a negative position"))?;
    Ok(Ok(Appended { version: expected + count, positions: (first..first + count).collect(), recorded_at }))
}

/// Reads the answer of the append statement: one row per append, in order.
fn decode_batch(batch: &[PendingAppend], rows: &[Row]) -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
    if rows.len() != batch.len() {
        return Err(unexpected("the insert returned another number of rows than appends"));
    }
    let mut results = Vec::with_capacity(batch.len());
    let mut stored = 0;
    for (append, row) in batch.iter().zip(rows) {
        let actual: i64 = row.try_get(0).map_err(backend)?;
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
            None => Err(StoreError::Conflict {
                stream: append.stream().name(),
                expected,
                actual: u64::try_from(actual).map_err(|_| unexpected("the stored version is negative"))?,
            }),
        });
    }
    if rows.first().map(|row| row.try_get::<_, i64>(2)).transpose().map_err(backend)? != Some(stored as i64) {
        return Err(unexpected("the insert stored another number of events than given"));
    }
    Ok(results)
}

/// How many times the committer yields, at most, waiting for the writers of its last batch.
const GATHER_YIELDS: usize = 32;

/// Takes the next batch off the queue: every pending append, except that a stream's
/// second append stays queued (in order) for the next batch, where it sees the first
/// one's version. The insert then checks each append against the stored version alone.
fn take_batch(pending: &mut Vec<PendingAppend>) -> Vec<PendingAppend> {
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

/// Answers every append of a batch that failed as a whole: nothing of it was stored, or
/// (if the connection was lost during `COMMIT`) whether it was is unknown.
fn fail_all(batch: Vec<PendingAppend>, error: &StoreError) {
    let count = batch.len();
    for append in batch {
        let message = format!("a batch of {count} append(s) to {} failed: {error}", append.stream().name());
        let _ = append.reply.send(Err(StoreError::Backend(message.into())));
    }
}

/// An append waiting in the queue for the committer.
struct PendingAppend {
    aggregate_type: String,
    stream_id: String,
    /// Fits in `i64`, and so does it plus the number of events: checked before queuing.
    expected: i64,
    /// Encoded JSON.
    metadata: String,
    /// Not empty.
    events: Vec<NewEvent>,
    reply: oneshot::Sender<Result<Appended, StoreError>>,
}

impl PendingAppend {
    fn stream(&self) -> StreamRef<'_> {
        StreamRef::new(&self.aggregate_type, &self.stream_id)
    }
}

/// The appends waiting to be committed, and whether a task is committing them.
#[derive(Default)]
struct AppendQueue {
    pending: Vec<PendingAppend>,
    /// Set by the append that finds no committer, which commits itself and then spawns a
    /// committer if appends queued meanwhile; cleared, under this queue's lock, by whoever
    /// finds the queue empty.
    committing: bool,
}

/// Held by an append that commits itself: when it is done (or dropped, or panics), the
/// appends queued meanwhile go to a committer task, or the queue is marked idle.
struct HandOver<'a> {
    store: &'a PostgresStore,
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
        fail_all(pending, &StoreError::Backend("no Tokio runtime to commit on".into()));
    }
}

/// Why a batch's transaction failed.
enum BatchFailure {
    /// The insert statement failed and the transaction was rolled back: nothing was stored.
    Insert(tokio_postgres::Error),
    /// Anything else: the connection failed, or the answer made no sense.
    Other(StoreError),
}

/// If the committer stops before emptying the queue (it panicked, or its runtime shut
/// down), lets the next append start another, and fails the appends still queued. Those of
/// the batch in flight learn it from their dropped reply channel.
struct CommitterGuard<'a> {
    inner: &'a Inner,
    armed: bool,
}

impl Drop for CommitterGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let pending = {
                let mut queue = self.inner.queue();
                queue.committing = false;
                std::mem::take(&mut queue.pending)
            };
            fail_all(pending, &StoreError::Backend("the committer stopped".into()));
        }
    }
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the URL: it may hold a password.
        f.debug_struct("PostgresStore")
            .field("schema", &self.inner.schema)
            .field("pool_size", &self.inner.pool.size)
            .field("head", &*self.inner.head.borrow())
            .finish()
    }
}

impl EventStore for PostgresStore {
    async fn append(
        &self,
        stream: StreamRef<'_>,
        expected: u64,
        metadata: &Metadata,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        stream.validate()?;
        let metadata = serde_json::to_string(metadata).map_err(backend)?;
        let count = events.len();
        let expected_i64 = i64::try_from(expected).ok().filter(|_| count > 0);
        let Some(expected_i64) = expected_i64 else {
            // Nothing to write, or no stored version is that high: only a version check.
            let actual = self.inner.pool.get().await?.conn().stream_version(stream).await?;
            if actual != expected {
                return Err(StoreError::Conflict { stream: stream.name(), expected, actual });
            }
            return Ok(Appended { version: expected, positions: Vec::new(), recorded_at: SystemTime::now() });
        };
        if expected_i64.checked_add(count as i64).is_none() {
            return Err(StoreError::InvalidInput {
                what: format!("append to stream {}", stream.name()),
                reason: format!("version {expected} plus {count} events is out of range"),
            });
        }
        let (reply, answer) = oneshot::channel();
        let append = PendingAppend {
            aggregate_type: stream.aggregate_type.to_owned(),
            stream_id: stream.stream_id.to_owned(),
            expected: expected_i64,
            metadata,
            events,
            reply,
        };
        // Group commit. With a committer running, the append joins the queue, and the
        // committer commits everything queued in one transaction that answers every append
        // on its own. Without one, this task commits its own append alone, at once (the
        // latency of a lone writer is that of one transaction), and meanwhile appends queue
        // up for the committer it hands over to.
        let mut queued = Some(append);
        {
            let mut queue = self.inner.queue();
            if queue.committing {
                queue.pending.extend(queued.take());
            } else {
                queue.committing = true;
            }
        }
        let Some(append) = queued else {
            return answer
                .await
                .unwrap_or_else(|_| Err(StoreError::Backend("the committer stopped before answering".into())));
        };
        let _hand_over = HandOver { store: self };
        let mut conn = self.inner.pool.get().await?;
        self.commit_one(&mut conn, &append).await
    }

    async fn read_stream(&self, stream: StreamRef<'_>, from: u64, to: u64) -> Result<Vec<RecordedEvent>, StoreError> {
        let conn = self.inner.pool.get().await?;
        let conn = conn.conn();
        let rows = conn
            .client
            .query(&conn.statements.read_stream, &[&stream.aggregate_type, &stream.stream_id, &clamp(from), &clamp(to)])
            .await
            .map_err(backend)?;
        rows.iter().map(decode_event).collect()
    }

    async fn stream_version(&self, stream: StreamRef<'_>) -> Result<u64, StoreError> {
        self.inner.pool.get().await?.conn().stream_version(stream).await
    }

    async fn read_all(
        &self,
        after: u64,
        filter: EventFilter<'_>,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        if limit == 0 || filter.names.is_some_and(|names| names.is_empty()) {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let conn = self.inner.pool.get().await?;
        let conn = conn.conn();
        let rows = conn
            .client
            .query(&conn.statements.read_all, &[&clamp(after), &filter.names, &filter.aggregate_type, &limit])
            .await
            .map_err(backend)?;
        rows.iter().map(decode_event).collect()
    }

    async fn head_position(&self) -> Result<u64, StoreError> {
        let head = self.inner.pool.get().await?.conn().head_position().await?;
        self.bump_head(head);
        Ok(head)
    }

    async fn wait_for_events(&self, after: u64) -> Result<(), StoreError> {
        let mut known = self.inner.head.subscribe();
        loop {
            // Marks the current value seen before asking the database, so that a
            // notification arriving meanwhile wakes the wait below at once.
            if *known.borrow_and_update() > after || self.head_position().await? > after {
                return Ok(());
            }
            // The sender lives in `self`, so `changed` cannot fail; on a timeout the loop
            // re-reads the head from the database.
            let _ = tokio::time::timeout(WAIT_RECHECK, known.changed()).await;
        }
    }

    async fn save_snapshot(&self, stream: StreamRef<'_>, snapshot: Snapshot) -> Result<(), StoreError> {
        stream.validate()?;
        let version = i64::try_from(snapshot.version).map_err(|_| StoreError::InvalidInput {
            what: format!("snapshot of stream {}", stream.name()),
            reason: format!("version {} is out of range", snapshot.version),
        })?;
        // Stored bit for bit: the fingerprint is a hash, not a quantity.
        let fingerprint = snapshot.fingerprint as i64;
        let conn = self.inner.pool.get().await?;
        let conn = conn.conn();
        conn.client
            .execute(
                &conn.statements.save_snapshot,
                &[&stream.aggregate_type, &stream.stream_id, &version, &fingerprint, &snapshot.state],
            )
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn load_snapshot(&self, stream: StreamRef<'_>) -> Result<Option<Snapshot>, StoreError> {
        let conn = self.inner.pool.get().await?;
        let conn = conn.conn();
        let row = conn
            .client
            .query_opt(&conn.statements.load_snapshot, &[&stream.aggregate_type, &stream.stream_id])
            .await
            .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let version: i64 = row.try_get(0).map_err(backend)?;
        let fingerprint: i64 = row.try_get(1).map_err(backend)?;
        Ok(Some(Snapshot {
            version: u64::try_from(version).map_err(|_| StoreError::InvalidInput {
                what: format!("stored snapshot of stream {}", stream.name()),
                reason: format!("its version {version} is negative"),
            })?,
            fingerprint: fingerprint as u64,
            state: row.try_get(2).map_err(backend)?,
        }))
    }

    async fn load_checkpoint(&self, name: &str) -> Result<Option<Checkpoint>, StoreError> {
        let conn = self.inner.pool.get().await?;
        let conn = conn.conn();
        let row = conn.client.query_opt(&conn.statements.load_checkpoint, &[&name]).await.map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let position: i64 = row.try_get(0).map_err(backend)?;
        Ok(Some(Checkpoint {
            position: u64::try_from(position).map_err(|_| StoreError::InvalidInput {
                what: format!("stored checkpoint {name:?}"),
                reason: format!("its position {position} is negative"),
            })?,
            state: row.try_get(1).map_err(backend)?,
        }))
    }

    async fn save_checkpoint(&self, name: &str, checkpoint: Checkpoint) -> Result<(), StoreError> {
        super::validate_id("checkpoint name", name)?;
        let position = i64::try_from(checkpoint.position).map_err(|_| StoreError::InvalidInput {
            what: format!("checkpoint {name:?}"),
            reason: format!("position {} is out of range", checkpoint.position),
        })?;
        let conn = self.inner.pool.get().await?;
        let conn = conn.conn();
        conn.client
            .execute(&conn.statements.save_checkpoint, &[&name, &position, &checkpoint.state])
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn delete_checkpoint(&self, name: &str) -> Result<(), StoreError> {
        let conn = self.inner.pool.get().await?;
        let conn = conn.conn();
        conn.client.execute(&conn.statements.delete_checkpoint, &[&name]).await.map_err(backend)?;
        Ok(())
    }

    /// Holds a session-level advisory lock (`pg_try_advisory_lock`, keyed by schema and
    /// name) on a connection of its own, tried every 200 ms until taken. Dropping the lease
    /// closes that connection, and PostgreSQL releases the lock; so does the death of the
    /// process or the loss of the connection (which also ends the lease's exclusivity).
    async fn acquire_lease(&self, name: &str) -> Result<Lease, StoreError> {
        super::validate_id("lease name", name)?;
        let key = fnv1a(&["lease", &self.inner.schema, name]) as i64;
        let (client, connection) = self.inner.pool.config.connect(NoTls).await.map_err(backend)?;
        tokio::spawn(connection);
        let try_lock = client.prepare("SELECT pg_try_advisory_lock($1::bigint)").await.map_err(backend)?;
        loop {
            let row = client.query_one(&try_lock, &[&key]).await.map_err(backend)?;
            if row.try_get::<_, bool>(0).map_err(backend)? {
                return Ok(Lease::new(client));
            }
            tokio::time::sleep(LEASE_RETRY).await;
        }
    }
}

// ---- Connection pool ----

/// At most `size` connections, each with its statements prepared; idle ones are reused,
/// closed ones dropped and replaced on demand.
struct Pool {
    config: Config,
    sql: Sql,
    permits: Semaphore,
    idle: Mutex<Vec<Conn>>,
    size: usize,
}

/// One pooled connection and its prepared statements.
struct Conn {
    client: Client,
    statements: Statements,
}

/// A connection lent out of the pool; it goes back when dropped, unless it is closed or
/// may still be inside a transaction (a dropped append future, a failed `COMMIT`).
struct PooledConn<'a> {
    conn: Option<Conn>,
    pool: &'a Pool,
    in_transaction: bool,
    _permit: SemaphorePermit<'a>,
}

impl Pool {
    fn idle(&self) -> MutexGuard<'_, Vec<Conn>> {
        // Pushes and pops cannot leave the list half-changed: a poisoned lock is fine.
        self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn get(&self) -> Result<PooledConn<'_>, StoreError> {
        let permit = self.permits.acquire().await.map_err(backend)?;
        let reused = loop {
            match self.idle().pop() {
                Some(conn) if conn.client.is_closed() => continue,
                other => break other,
            }
        };
        let conn = match reused {
            Some(conn) => conn,
            None => {
                let (client, connection) = self.config.connect(NoTls).await.map_err(backend)?;
                tokio::spawn(connection);
                self.prepare(client).await?
            }
        };
        Ok(PooledConn { conn: Some(conn), pool: self, in_transaction: false, _permit: permit })
    }

    async fn prepare(&self, client: Client) -> Result<Conn, StoreError> {
        let prepared = join_all(self.sql.all().into_iter().map(|sql| client.prepare(sql)).collect()).await;
        let prepared = prepared.into_iter().collect::<Result<Vec<Statement>, _>>().map_err(backend)?;
        let Ok(
            [
                version,
                lock,
                insert,
                append,
                read_stream,
                read_all,
                head,
                save_snapshot,
                load_snapshot,
                load_checkpoint,
                save_checkpoint,
                delete_checkpoint,
            ],
        ) = <[Statement; 12]>::try_from(prepared)
        else {
            return Err(unexpected("prepared another number of statements than asked"));
        };
        let statements = Statements {
            version,
            lock,
            insert,
            append,
            read_stream,
            read_all,
            head,
            save_snapshot,
            load_snapshot,
            load_checkpoint,
            save_checkpoint,
            delete_checkpoint,
        };
        Ok(Conn { client, statements })
    }
}

impl PooledConn<'_> {
    fn conn(&self) -> &Conn {
        // `conn` is only taken in `drop`.
        match &self.conn {
            Some(conn) => conn,
            None => unreachable!("a pooled connection is used after being returned"),
        }
    }
}

impl Drop for PooledConn<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take()
            && !self.in_transaction
            && !conn.client.is_closed()
        {
            self.pool.idle().push(conn);
        }
    }
}

impl Conn {
    async fn stream_version(&self, stream: StreamRef<'_>) -> Result<u64, StoreError> {
        let row = self
            .client
            .query_one(&self.statements.version, &[&stream.aggregate_type, &stream.stream_id])
            .await
            .map_err(backend)?;
        let version: i64 = row.try_get(0).map_err(backend)?;
        u64::try_from(version).map_err(|_| StoreError::InvalidInput {
            what: format!("stored version of stream {}", stream.name()),
            reason: format!("{version} is negative"),
        })
    }

    async fn head_position(&self) -> Result<u64, StoreError> {
        let row = self.client.query_one(&self.statements.head, &[]).await.map_err(backend)?;
        let head: i64 = row.try_get(0).map_err(backend)?;
        u64::try_from(head).map_err(|_| unexpected("the stored head position is negative"))
    }
}

/// The text of every statement, for one schema.
struct Sql {
    version: String,
    lock: String,
    insert: String,
    append: String,
    read_stream: String,
    read_all: String,
    head: String,
    save_snapshot: String,
    load_snapshot: String,
    load_checkpoint: String,
    save_checkpoint: String,
    delete_checkpoint: String,
}

/// The statements of [`Sql`], prepared on one connection.
struct Statements {
    version: Statement,
    lock: Statement,
    insert: Statement,
    append: Statement,
    read_stream: Statement,
    read_all: Statement,
    head: Statement,
    save_snapshot: Statement,
    load_snapshot: Statement,
    load_checkpoint: Statement,
    save_checkpoint: Statement,
    delete_checkpoint: Statement,
}

/// The columns [`decode_event`] reads.
const EVENT_COLUMNS: &str =
    "position, aggregate_type, stream_id, version, name, schema_version, recorded_at, metadata::text, payload::text";

impl Sql {
    fn new(s: &str) -> Sql {
        Sql {
            version: format!(
                "SELECT coalesce(max(version), 0)::bigint FROM {s}.events \
                 WHERE aggregate_type = $1::text AND stream_id = $2::text"
            ),
            lock: "SELECT pg_advisory_xact_lock($1::bigint)".to_owned(),
            // Under the lock: checks the stream's version (`$3`, expected), then takes the
            // positions after the committed maximum and the versions after `$3`; returns the
            // version found and, if it matched, what was inserted, notifying the last position.
            insert: format!(
                "WITH current AS ( \
                   SELECT coalesce(max(version), 0)::bigint AS version FROM {s}.events \
                   WHERE aggregate_type = $1::text AND stream_id = $2::text), \
                 head AS (SELECT coalesce(max(position), 0)::bigint AS position FROM {s}.events), \
                 inserted AS ( \
                   INSERT INTO {s}.events (position, aggregate_type, stream_id, version, name, schema_version, \
                                           recorded_at, metadata, payload) \
                   SELECT head.position + e.ord, $1::text, $2::text, $3::bigint + e.ord, e.name, e.schema_version, \
                          statement_timestamp(), $4::text::jsonb, e.payload::jsonb \
                   FROM current, head, unnest($5::text[], $6::bigint[], $7::text[]) \
                        WITH ORDINALITY AS e(name, schema_version, payload, ord) \
                   WHERE current.version = $3::bigint \
                   RETURNING position, recorded_at) \
                 SELECT (SELECT version FROM current), count(*)::bigint, min(position)::bigint, max(recorded_at), \
                        CASE WHEN count(*) > 0 THEN pg_notify($8::text, max(position)::text) IS NULL END \
                 FROM inserted"
            ),
            // Under the lock: checks each append's stream version (`$3`, expected; the
            // batch holds one append per stream), then gives the accepted appends' events
            // the positions after the committed maximum, in order, and the versions after
            // `$3`. Returns, per append in order, the version found and the first position
            // (none if rejected), with the number of events inserted and the time, and
            // notifies the last position.
            append: format!(
                "WITH appends AS ( \
                   SELECT a.*, (SELECT coalesce(max(e.version), 0)::bigint FROM {s}.events e \
                                WHERE e.aggregate_type = a.aggregate_type AND e.stream_id = a.stream_id) AS version \
                   FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[]) \
                        WITH ORDINALITY AS a(aggregate_type, stream_id, expected, metadata, count, i)), \
                 accepted AS ( \
                   SELECT i, aggregate_type, stream_id, expected, metadata, \
                          (sum(count) OVER (ORDER BY i) - count)::bigint AS before \
                   FROM appends WHERE version = expected), \
                 head AS (SELECT coalesce(max(position), 0)::bigint AS position FROM {s}.events), \
                 inserted AS ( \
                   INSERT INTO {s}.events (position, aggregate_type, stream_id, version, name, schema_version, \
                                           recorded_at, metadata, payload) \
                   SELECT head.position + a.before + e.k, a.aggregate_type, a.stream_id, a.expected + e.k, e.name, \
                          e.schema_version, statement_timestamp(), a.metadata::jsonb, e.payload::jsonb \
                   FROM head, accepted a \
                        JOIN unnest($6::bigint[], $7::bigint[], $8::text[], $9::bigint[], $10::text[]) \
                             AS e(i, k, name, schema_version, payload) ON e.i = a.i \
                   RETURNING position), \
                 notified AS ( \
                   SELECT count(*)::bigint AS count, \
                          CASE WHEN count(*) > 0 THEN pg_notify($11::text, max(position)::text) IS NULL END \
                   FROM inserted) \
                 SELECT appends.version, head.position + accepted.before + 1, notified.count, statement_timestamp() \
                 FROM appends LEFT JOIN accepted ON accepted.i = appends.i, head, notified \
                 ORDER BY appends.i"
            ),
            read_stream: format!(
                "SELECT {EVENT_COLUMNS} FROM {s}.events \
                 WHERE aggregate_type = $1::text AND stream_id = $2::text AND version BETWEEN $3::bigint AND $4::bigint \
                 ORDER BY version"
            ),
            read_all: format!(
                "SELECT {EVENT_COLUMNS} FROM {s}.events \
                 WHERE position > $1::bigint \
                   AND ($2::text[] IS NULL OR name = ANY($2::text[])) \
                   AND ($3::text IS NULL OR aggregate_type = $3::text) \
                 ORDER BY position LIMIT $4::bigint"
            ),
            head: format!("SELECT coalesce(max(position), 0)::bigint FROM {s}.events"),
            save_snapshot: format!(
                "INSERT INTO {s}.snapshots AS stored (aggregate_type, stream_id, version, fingerprint, state) \
                 VALUES ($1::text, $2::text, $3::bigint, $4::bigint, $5::text) \
                 ON CONFLICT (aggregate_type, stream_id) DO UPDATE \
                 SET version = excluded.version, fingerprint = excluded.fingerprint, state = excluded.state \
                 WHERE stored.version <= excluded.version"
            ),
            load_snapshot: format!(
                "SELECT version, fingerprint, state FROM {s}.snapshots \
                 WHERE aggregate_type = $1::text AND stream_id = $2::text"
            ),
            load_checkpoint: format!("SELECT position, state FROM {s}.checkpoints WHERE name = $1::text"),
            save_checkpoint: format!(
                "INSERT INTO {s}.checkpoints (name, position, state) VALUES ($1::text, $2::bigint, $3::text) \
                 ON CONFLICT (name) DO UPDATE SET position = excluded.position, state = excluded.state"
            ),
            delete_checkpoint: format!("DELETE FROM {s}.checkpoints WHERE name = $1::text"),
        }
    }

    /// In the order of the fields of [`Statements`].
    fn all(&self) -> [&str; 12] {
        [
            &self.version,
            &self.lock,
            &self.insert,
            &self.append,
            &self.read_stream,
            &self.read_all,
            &self.head,
            &self.save_snapshot,
            &self.load_snapshot,
            &self.load_checkpoint,
            &self.save_checkpoint,
            &self.delete_checkpoint,
        ]
    }
}

// ---- Migrations ----

/// Brings `schema` up to the newest migration, in one transaction under an advisory lock.
async fn migrate(client: &Client, schema: &str, quoted: &str, lock_key: i64) -> Result<(), StoreError> {
    client.batch_execute("BEGIN").await.map_err(backend)?;
    let result = migrate_in_transaction(client, schema, quoted, lock_key).await;
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    let ended = client.batch_execute(end).await.map_err(backend);
    result.and(ended)
}

async fn migrate_in_transaction(client: &Client, schema: &str, quoted: &str, lock_key: i64) -> Result<(), StoreError> {
    client.execute("SELECT pg_advisory_xact_lock($1::bigint)", &[&lock_key]).await.map_err(backend)?;
    // Checked rather than `IF NOT EXISTS`, which needs the CREATE privilege even when the
    // object exists: a user without it can still use a schema migrated by another.
    let schema_exists = client
        .query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1::text", &[&schema])
        .await
        .map_err(backend)?
        .is_some();
    if !schema_exists {
        client.batch_execute(&format!("CREATE SCHEMA {quoted}")).await.map_err(backend)?;
    }
    let table = format!("{quoted}.factum_migrations");
    let table_exists: Option<String> = client
        .query_one("SELECT to_regclass($1::text)::text", &[&table])
        .await
        .map_err(backend)?
        .try_get(0)
        .map_err(backend)?;
    if table_exists.is_none() {
        client
            .batch_execute(&format!(
                "CREATE TABLE {table} (\
                   version     INTEGER     NOT NULL PRIMARY KEY, \
                   description TEXT        NOT NULL, \
                   applied_at  TIMESTAMPTZ NOT NULL DEFAULT now())"
            ))
            .await
            .map_err(backend)?;
    }
    let current: i32 = client
        .query_one(&format!("SELECT coalesce(max(version), 0) FROM {table}"), &[])
        .await
        .map_err(backend)?
        .try_get(0)
        .map_err(backend)?;
    let newest = MIGRATIONS.last().map_or(0, |&(version, _, _)| version);
    if current > newest {
        return Err(StoreError::InvalidInput {
            what: format!("schema {schema:?}"),
            reason: format!(
                "it is at migration {current}, but this version of factum knows migrations up to {newest}: \
                 upgrade factum"
            ),
        });
    }
    for &(version, description, sql) in MIGRATIONS.iter().filter(|(version, _, _)| *version > current) {
        client.batch_execute(&sql.replace("{schema}", quoted)).await.map_err(backend)?;
        client
            .execute(
                &format!("INSERT INTO {table} (version, description) VALUES ($1::integer, $2::text)"),
                &[&version, &description],
            )
            .await
            .map_err(backend)?;
    }
    Ok(())
}

// ---- Listening for new events ----

/// Connects, starts a task that drives the connection and forwards notifications to
/// `head`, and subscribes with `listen`. The connection lives while the client does.
async fn open_listener(
    config: &Config,
    listen: &str,
    head: &Arc<watch::Sender<u64>>,
) -> Result<(Client, JoinHandle<()>), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let head = head.clone();
    let driver = tokio::spawn(async move {
        // `None` or an error ends the connection for good.
        while let Some(Ok(message)) = poll_fn(|cx| connection.poll_message(cx)).await {
            if let AsyncMessage::Notification(notification) = message
                && let Ok(position) = notification.payload().parse()
            {
                bump(&head, position);
            }
        }
    });
    client.batch_execute(listen).await?;
    Ok((client, driver))
}

/// Keeps a listening connection up until aborted (when the store is dropped).
async fn keep_listening(
    config: Config,
    listen: String,
    head: Arc<watch::Sender<u64>>,
    mut listener: (Client, JoinHandle<()>),
) {
    loop {
        let (client, driver) = listener;
        // Returns when the connection ends: the server restarted, the network failed.
        let _ = driver.await;
        drop(client);
        // Notifications sent meanwhile are lost; waiters re-read the head periodically.
        listener = loop {
            tokio::time::sleep(LISTEN_RECONNECT).await;
            if let Ok(listener) = open_listener(&config, &listen, &head).await {
                break listener;
            }
        };
    }
}

/// Raises the known head to `position` if it is higher, waking waiters.
fn bump(head: &watch::Sender<u64>, position: u64) {
    head.send_if_modified(|known| {
        let higher = position > *known;
        if higher {
            *known = position;
        }
        higher
    });
}

// ---- Helpers ----

fn decode_event(row: &Row) -> Result<RecordedEvent, StoreError> {
    let aggregate_type: String = row.try_get(1).map_err(backend)?;
    let stream_id: String = row.try_get(2).map_err(backend)?;
    let version: i64 = row.try_get(3).map_err(backend)?;
    let corrupt = |what: &str, reason: String| StoreError::InvalidInput {
        what: format!("stored {what} of stream {aggregate_type}/{stream_id} version {version}"),
        reason,
    };
    let position: i64 = row.try_get(0).map_err(backend)?;
    let schema_version: i64 = row.try_get(5).map_err(backend)?;
    let metadata: String = row.try_get(7).map_err(backend)?;
    let metadata: Metadata =
        serde_json::from_str(&metadata).map_err(|e| corrupt("metadata", format!("{e}: {metadata}")))?;
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

fn backend(error: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend(Box::new(error))
}

/// A reply the store's own SQL should never produce.
fn unexpected(what: &'static str) -> StoreError {
    StoreError::Backend(format!("unexpected answer from PostgreSQL: {what}").into())
}

/// Positions and versions are `BIGINT`: beyond `i64::MAX` nothing is stored.
fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// `"name"`, with embedded quotes doubled: safe to splice into SQL as an identifier.
fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// FNV-1a over `factum` and the parts, each followed by a zero byte: a hash that stays the
/// same across processes, machines and Rust versions, for advisory lock keys and channel
/// names.
fn fnv1a(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in ["factum"].iter().chain(parts).flat_map(|part| part.bytes().chain([0])) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// Runs two futures concurrently; `a` is polled first, so requests that each sends on
/// its first poll go out in order (tokio-postgres pipelines them).
async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    let (mut a_out, mut b_out) = (None, None);
    poll_fn(|cx| {
        if a_out.is_none()
            && let Poll::Ready(out) = a.as_mut().poll(cx)
        {
            a_out = Some(out);
        }
        if b_out.is_none()
            && let Poll::Ready(out) = b.as_mut().poll(cx)
        {
            b_out = Some(out);
        }
        match (a_out.take(), b_out.take()) {
            (Some(a), Some(b)) => Poll::Ready((a, b)),
            (a, b) => {
                (a_out, b_out) = (a, b);
                Poll::Pending
            }
        }
    })
    .await
}

/// Runs futures concurrently, polling them in order, and returns their outputs in order.
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    poll_fn(|cx| {
        let mut done = true;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(out) => *output = Some(out),
                    Poll::Pending => done = false,
                }
            }
        }
        if done { Poll::Ready(outputs.drain(..).flatten().collect()) } else { Poll::Pending }
    })
    .await
}

/// Tests that look inside the store; they need `FACTUM_POSTGRES_URL` and pass at once
/// without it. The conformance suite and its PostgreSQL tests are in `tests/conformance`.
#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    async fn fresh_store() -> Option<PostgresStore> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let Ok(url) = std::env::var("FACTUM_POSTGRES_URL") else {
            eprintln!("skipped: FACTUM_POSTGRES_URL is not set");
            return None;
        };
        let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().subsec_nanos();
        let schema = format!("u_{}_{}_{nanos}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        Some(PostgresStore::connect_with(&url, &schema, 2).await.unwrap())
    }

    fn numbered(n: u64) -> NewEvent {
        NewEvent { name: "Numbered", version: 1, payload: format!(r#"{{"n":{n}}}"#) }
    }

    /// Runs `sql` on a pooled connection, as someone editing the tables by hand would.
    async fn execute(store: &PostgresStore, sql: &str) {
        let conn = store.inner.pool.get().await.unwrap();
        let sql = sql.replace("{schema}", &quote_identifier(store.schema()));
        conn.conn().client.batch_execute(&sql).await.unwrap();
    }

    #[tokio::test]
    async fn bad_stored_rows_are_errors_not_panics() {
        let Some(store) = fresh_store().await else { return };
        let stream = StreamRef::new("account", "a-1");
        store.append(stream, 0, &Metadata::new(), vec![numbered(1), numbered(2)]).await.unwrap();
        execute(&store, r#"UPDATE {schema}.events SET metadata = '[1, 2]' WHERE version = 2"#).await;
        let error = store.read_stream(stream, 1, u64::MAX).await.unwrap_err();
        let message = error.to_string();
        assert!(message.contains("stored metadata of stream account/a-1 version 2"), "{message}");
        assert!(store.read_all(0, EventFilter::ALL, 100).await.is_err());
        // The first event is still readable on its own.
        assert_eq!(store.read_stream(stream, 1, 1).await.unwrap().len(), 1);
        execute(&store, r#"UPDATE {schema}.events SET metadata = '{}', schema_version = -1 WHERE version = 2"#).await;
        let message = store.read_stream(stream, 1, u64::MAX).await.unwrap_err().to_string();
        assert!(message.contains("stored schema version of stream account/a-1 version 2"), "{message}");
    }

    #[tokio::test]
    async fn a_writer_bypassing_the_lock_still_cannot_fork_a_stream() {
        let Some(store) = fresh_store().await else { return };
        let stream = StreamRef::new("account", "a-1");
        store.append(stream, 0, &Metadata::new(), vec![numbered(1), numbered(2)]).await.unwrap();
        // Another writer inserts version 3 without the lock and has not committed yet: the
        // version check of an append at 2 passes, and its insert waits on the unique index.
        let other = store.inner.pool.get().await.unwrap();
        let sql = format!(
            "BEGIN; INSERT INTO {}.events VALUES (1000, 'account', 'a-1', 3, 'Numbered', 1, now(), '{{}}', '{{}}')",
            quote_identifier(store.schema())
        );
        other.conn().client.batch_execute(&sql).await.unwrap();
        let racing = {
            let store = store.clone();
            tokio::spawn(async move {
                let stream = StreamRef::new("account", "a-1");
                store.append(stream, 2, &Metadata::new(), vec![numbered(3)]).await
            })
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!racing.is_finished(), "the append waits for the other writer");
        other.conn().client.batch_execute("COMMIT").await.unwrap();
        drop(other);
        let error = racing.await.unwrap().unwrap_err();
        assert!(matches!(error, StoreError::Conflict { expected: 2, actual: 3, .. }), "{error}");
        assert_eq!(store.read_stream(stream, 1, u64::MAX).await.unwrap().len(), 3);
        let appended = store.append(stream, 3, &Metadata::new(), vec![numbered(4)]).await.unwrap();
        assert_eq!((appended.version, appended.positions.as_slice()), (4, &[1001][..]));
    }

    /// A pending append to `stream` at `expected`, and where its answer arrives.
    fn pending(
        stream: &str,
        expected: i64,
        payloads: &[&str],
    ) -> (PendingAppend, oneshot::Receiver<Result<Appended, StoreError>>) {
        let (reply, answer) = oneshot::channel();
        let events =
            payloads.iter().map(|p| NewEvent { name: "Numbered", version: 1, payload: (*p).to_owned() }).collect();
        let append = PendingAppend {
            aggregate_type: "account".to_owned(),
            stream_id: stream.to_owned(),
            expected,
            metadata: "{}".to_owned(),
            events,
            reply,
        };
        (append, answer)
    }

    #[tokio::test]
    async fn one_batch_commits_its_appends_together_and_rejects_only_the_conflicting_ones() {
        let Some(store) = fresh_store().await else { return };
        store.append(StreamRef::new("account", "b"), 0, &Metadata::new(), vec![numbered(1)]).await.unwrap();
        let (a, a_answer) = pending("a", 0, &["1", "2"]);
        let (b, b_answer) = pending("b", 0, &["3"]); // b is at 1: a conflict
        let (c, c_answer) = pending("c", 0, &["4", "5", "6"]);
        let (d, d_answer) = pending("d", 0, &["7"]);
        let mut conn = store.inner.pool.get().await.unwrap();
        store.commit(&mut conn, vec![a, b, c, d]).await;
        let a = a_answer.await.unwrap().unwrap();
        assert_eq!((a.version, a.positions.as_slice()), (2, &[2, 3][..]));
        let error = b_answer.await.unwrap().unwrap_err();
        assert!(
            matches!(&error, StoreError::Conflict { stream, expected: 0, actual: 1 } if stream.stream_id == "b"),
            "{error}"
        );
        let c = c_answer.await.unwrap().unwrap();
        assert_eq!((c.version, c.positions.as_slice()), (3, &[4, 5, 6][..]));
        let d = d_answer.await.unwrap().unwrap();
        assert_eq!((d.version, d.positions.as_slice()), (1, &[7][..]));
        assert_eq!(a.recorded_at, c.recorded_at, "one statement");
        drop(conn);
        let log = store.read_all(0, EventFilter::ALL, 100).await.unwrap();
        let stored: Vec<(u64, &str, u64, &str)> = log
            .iter()
            .map(|e| (e.meta.position, e.meta.stream_id.as_str(), e.meta.stream_version, e.payload.as_str()))
            .collect();
        assert_eq!(
            stored,
            [(1, "b", 1, r#"{"n": 1}"#), (2, "a", 1, "1"), (3, "a", 2, "2"), (4, "c", 1, "4"), (5, "c", 2, "5")]
                .into_iter()
                .chain([(6, "c", 3, "6"), (7, "d", 1, "7")])
                .collect::<Vec<_>>()
        );
        assert_eq!(*store.inner.head.borrow(), 7);
    }

    #[tokio::test]
    async fn a_bad_payload_fails_only_its_own_append_in_a_batch() {
        let Some(store) = fresh_store().await else { return };
        let (a, a_answer) = pending("a", 0, &["1"]);
        let (b, b_answer) = pending("b", 0, &["2", "not json"]);
        let (c, c_answer) = pending("c", 0, &["3"]);
        let mut conn = store.inner.pool.get().await.unwrap();
        store.commit(&mut conn, vec![a, b, c]).await;
        assert_eq!(a_answer.await.unwrap().unwrap().positions, [1]);
        let error = b_answer.await.unwrap().unwrap_err();
        assert!(matches!(error, StoreError::Backend(_)), "{error}");
        assert_eq!(c_answer.await.unwrap().unwrap().positions, [2]);
        drop(conn);
        let streams: Vec<String> =
            store.read_all(0, EventFilter::ALL, 100).await.unwrap().into_iter().map(|e| e.meta.stream_id).collect();
        assert_eq!(streams, ["a", "c"]);
    }

    #[test]
    fn a_batch_takes_one_append_per_stream_and_keeps_the_rest_in_order() {
        let mut queue: Vec<PendingAppend> =
            [("a", 0), ("b", 0), ("a", 1), ("c", 0), ("a", 2), ("b", 1)].map(|(s, v)| pending(s, v, &["1"]).0).into();
        let key = |a: &PendingAppend| (a.stream_id.clone(), a.expected);
        let batch = take_batch(&mut queue);
        let keys = |appends: &[PendingAppend]| appends.iter().map(key).collect::<Vec<_>>();
        let owned = |keys: &[(&str, i64)]| keys.iter().map(|&(s, v)| (s.to_owned(), v)).collect::<Vec<_>>();
        assert_eq!(keys(&batch), owned(&[("a", 0), ("b", 0), ("c", 0)]));
        assert_eq!(keys(&queue), owned(&[("a", 1), ("a", 2), ("b", 1)]));
        let batch = take_batch(&mut queue);
        assert_eq!(keys(&batch), owned(&[("a", 1), ("b", 1)]));
        assert_eq!(keys(&take_batch(&mut queue)), owned(&[("a", 2)]));
        assert!(queue.is_empty());
    }

    #[tokio::test]
    async fn notifications_from_another_store_raise_the_known_head() {
        let Some(store) = fresh_store().await else { return };
        let Ok(url) = std::env::var("FACTUM_POSTGRES_URL") else {
            return;
        };
        let other = PostgresStore::connect_with(&url, store.schema(), 1).await.unwrap();
        let mut known = store.inner.head.subscribe();
        assert_eq!(*known.borrow_and_update(), 0);
        other
            .append(StreamRef::new("account", "a"), 0, &Metadata::new(), vec![numbered(1), numbered(2)])
            .await
            .unwrap();
        // Nothing on `store` queries the head: only the notification can raise it.
        tokio::time::timeout(Duration::from_secs(10), known.wait_for(|&head| head == 2))
            .await
            .expect("the notification arrives")
            .unwrap();
    }

    #[tokio::test]
    async fn migrations_are_recorded_and_a_newer_schema_is_refused() {
        let Some(store) = fresh_store().await else { return };
        let conn = store.inner.pool.get().await.unwrap();
        let table = format!("{}.factum_migrations", quote_identifier(store.schema()));
        let versions: Vec<i32> = conn
            .conn()
            .client
            .query(&format!("SELECT version FROM {table} ORDER BY version"), &[])
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        assert_eq!(versions, MIGRATIONS.iter().map(|m| m.0).collect::<Vec<_>>());
        drop(conn);
        execute(
            &store,
            "INSERT INTO {schema}.factum_migrations (version, description) VALUES (1000, 'from the future')",
        )
        .await;
        let Ok(url) = std::env::var("FACTUM_POSTGRES_URL") else {
            return;
        };
        let error = PostgresStore::connect_with(&url, store.schema(), 1).await.unwrap_err();
        assert!(error.to_string().contains("at migration 1000"), "{error}");
    }
}
