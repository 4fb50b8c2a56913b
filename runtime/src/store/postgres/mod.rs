//! `PostgresStore`: one store shared by many processes and machines, on PostgreSQL.
//!
//! The design notes (commit-ordered positions, group commit, `LISTEN`/`NOTIFY`, leases,
//! TLS) are on [`PostgresStore`], where users read them. One file per concern: `options`
//! and `connection` (connecting, TLS), `pool`, `statements`, `migrate`, `committer` (group
//! commit), `listener`, `lease`, `process` (what process managers keep), `pii` (personal
//! data: sealing on append, keys on read, `forget`), `lifecycle` (streams that end:
//! archived and deleted), `rows` (decoding) and `tests`.

mod committer;
mod connection;
mod lease;
mod lifecycle;
mod listener;
mod migrate;
mod options;
mod pii;
mod pool;
mod process;
mod rows;
mod statements;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::ops::RangeInclusive;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, SystemTime};

use tokio::sync::{Semaphore, oneshot, watch};
use tokio::task::AbortHandle;

pub(crate) use self::lease::lease_key;
pub use self::options::{PostgresOptions, TlsMode};

use self::committer::{AppendQueue, HandOver, PendingAppend};
use self::connection::{Connector, Role};
use self::listener::{Heard, bump, keep_listening, open_listener};
use self::migrate::migrate;
use self::pool::Pool;
use self::rows::{decode_event, stored_event};
use self::statements::Sql;
use super::{
    Appended, Checkpoint, EventFilter, EventStore, Lease, OwnedStream, RunnerFailure, Snapshot, StreamDeleted,
    StreamRef, boxed, command_range,
};
use crate::envelope::{Metadata, NewEvent, RecordedEvent, StoredEvent};
use crate::error::StoreError;
use crate::pii::seal::{Sealing, key_ids, needs_sealing};
use crate::pii::{Forgotten, KeyWrap, Keyring};
use crate::process::{DueDeadline, OutgoingCommand, ProcessCommit, RejectedCommand};

/// How often a waiter re-reads the head position in case a notification was lost.
const WAIT_RECHECK: Duration = Duration::from_millis(500);

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
/// result (group commit, below). [`wait_for_events`](EventStore::wait_for_events) is woken
/// by `LISTEN`/`NOTIFY`, and leases are session-level advisory locks, so both work across
/// processes and machines.
///
/// Payloads and metadata are stored as `jsonb`: payloads must be valid JSON, and come back
/// with the same meaning but possibly another layout (key order, spacing). `recorded_at`
/// is the server's clock.
///
/// ## Layout
///
/// Everything lives in one schema (`factum` unless chosen): `events`, `snapshots`,
/// `checkpoints`, `failures`, what process managers keep (`process_instances`,
/// `process_outbox`, `process_deadlines`), personal data's keys and audit (`pii_keys`,
/// `pii_key_streams`, `pii_forgotten`), and `factum_migrations`, which records the
/// versioned migrations applied.
/// Migrations run on connect, in one transaction under an advisory lock, so processes that
/// start together do not race.
///
/// ## Commit-ordered positions
///
/// A reader of the global log asks for "the events after position `p`". With positions
/// drawn from a plain sequence that is not safe: transaction A draws position 10,
/// transaction B draws 11 and commits first; a reader sees 11, remembers it, and never
/// looks back for 10, which becomes visible a moment later. The event is skipped for good.
///
/// This store uses *commit-ordered positions*: an append takes a transaction-scoped
/// advisory lock (`pg_advisory_xact_lock`, one key per schema) right before it allocates
/// positions (`max(position) + 1` on the primary key index), inserts and commits. The lock
/// is released only after the commit has become visible, so the next appender allocates
/// after it, and positions become visible strictly in order: every snapshot of `events`
/// holds a prefix of the log. A rolled-back append leaves no hole either, since the next
/// one allocates from the committed maximum.
///
/// What runs under the lock is short. The encoding is done before; `BEGIN`, the lock, the
/// insert and `COMMIT` are sent in one pipelined burst, so the lock is held for one insert
/// statement and one commit, never for a client round trip. The optimistic concurrency
/// check is part of the insert statement: one index probe under the lock, where a separate
/// check before the lock would cost every append a round trip (it halved single-writer
/// throughput when measured) and would still need re-checking under the lock. The unique
/// `(aggregate_type, stream_id, version)` constraint backs it against writers that bypass
/// the lock.
///
/// ## Group commit
///
/// Since the lock is held until the commit is durable, appends through one lock commit one
/// at a time, each waiting for its own flush of the write-ahead log. So a store commits the
/// appends made at the same time together, in one transaction and one flush:
///
/// - An append that finds no commit under way commits itself, alone, with the statement made
///   for one append: a lone writer pays one round trip and one transaction, as before.
/// - Appends made meanwhile wait in a queue. When the commit under way ends, a committer
///   task takes the whole queue as one batch and commits it in one transaction, again one
///   pipelined burst under the lock: one statement checks every append's version, inserts
///   the events of those that match (positions in queue order, after the committed
///   maximum), and notifies once. Each append gets its own answer: its positions, or a
///   conflict that rejects only that append. The committer keeps taking batches until the
///   queue is empty, on one pooled connection; each appender awaits only its own answer.
/// - A batch holds at most one append per stream; a stream's later appends stay queued, in
///   order, for the next batch, where they see the earlier one's version.
/// - If the statement fails (an invalid JSON payload, a writer that bypassed the lock), the
///   transaction rolled back whole, so the batch's appends are retried one transaction
///   each, and only the culprit fails. If the connection fails, every append of the batch
///   fails with a backend error; a batch is one transaction, so it is stored whole or not
///   at all (if the connection fails during `COMMIT`, which of the two is unknown, as for a
///   single append).
///
/// The lock and the ordering are unchanged: one batch is one append as far as readers and
/// other processes are concerned. Batching happens within a store (its clones included);
/// separate stores, as separate processes, still take turns on the lock.
///
/// ## Leases
///
/// A lease is a session-level advisory lock held by a connection of its own: PostgreSQL
/// releases it when the lease is dropped, the process dies or the connection is lost.
///
/// ## Waking readers
///
/// Each transaction that appends notifies a channel per schema (`pg_notify`, delivered at
/// commit) with its last position. Every store keeps one connection that listens on that channel and
/// forwards the positions to its waiters, reconnecting if the connection drops. As a safety
/// net, waiters also re-read the head position every 500 ms.
///
/// ## Personal data
///
/// [`Pii`](crate::Pii) values are sealed inside the append's transaction (see
/// [`pii`](crate::pii)): a subject's newest key in `pii_keys` (its id an identity, never
/// reused) is taken, or a new one made, in that transaction, so a key made by an append
/// that rolls back is never used; `pii_key_streams` records which streams each key sealed
/// values in, and from which position. An append with nothing to seal runs as before; one
/// with personal data costs a round trip more (two if a subject is new), before the lock.
/// The keys an append seals with are locked (`FOR KEY SHARE`) until it commits, so a
/// [`forget`](EventStore::forget) waits for it and then sees its streams.
///
/// Every read opens the values: [`read_stream`](EventStore::read_stream) and
/// [`read_all`](EventStore::read_all) fetch the keys their events name in one more query
/// (none if nothing is sealed); [`replay`](EventStore::replay) does the same once it meets a
/// sealed value, holding the events from there until the keys are in. A key gone reads as
/// `Forgotten`.
///
/// `forget` is one transaction: it deletes the subject's keys, the snapshots of the
/// streams they sealed values in, and the checkpoints of projections at or past the first
/// of those values, and records an audit row in `pii_forgotten` (see
/// [`forgotten`](PostgresStore::forgotten)). At commit it notifies a channel of the schema,
/// so that the [`forget_epoch`](EventStore::forget_epoch) of every store on the schema
/// moves (and with it what their repositories and runners hold decoded), as soon as the
/// notification arrives; the epoch also moves when the listening connection is reopened,
/// since a notification may have been lost meanwhile. The deleted rows stay in the table
/// files until `VACUUM` reclaims them.
///
/// ## Streams that end
///
/// [`archive`](EventStore::archive) flags the stream's rows (`events.archived`), which the
/// global log leaves out unless asked; [`delete`](EventStore::delete) removes the stream's
/// events, its snapshot and the records of the keys that sealed values in it, appends its
/// [`StreamDeleted`] notice, the record of the deletion (its version and time). Each is one
/// statement under the position lock, so an append either commits before it or sees the
/// stream closed (the check is part of the append's statement, beside the version check),
/// and the notice takes the position after the committed maximum as an append does, waking
/// readers as an append does. A deletion does not move the
/// [`forget_epoch`](EventStore::forget_epoch): projections keep what they built unless they
/// handle the notice, and [`Repository::delete`](crate::Repository::delete) drops its own
/// cached aggregate. As after `forget`, the removed rows stay in the table files until
/// `VACUUM` reclaims them.
///
/// ## TLS
///
/// With the `postgres-tls` feature, connections use TLS through rustls (ring, with
/// Mozilla's root certificates built in, or those of `sslrootcert`) as `sslmode` says, with
/// libpq's meanings: `disable`; `prefer` (the default: TLS if the server offers it, the
/// certificate unchecked); `require` (TLS, the certificate unchecked, unless a root
/// certificate is given); `verify-ca` (the chain checked); `verify-full` (the chain and
/// the host name checked: the one to use across a network you do not own). Every
/// connection of a store (the pool's, the listener's, the leases') uses the same setup. See
/// [`TlsMode`] and [`PostgresOptions`]. Without the feature, `prefer` connects in plain TCP
/// and the other modes that need TLS are refused.
///
/// ## Connecting
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
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    schema: String,
    pool: Pool,
    /// The advisory lock key that orders appends (see the type docs).
    append_lock: i64,
    /// The notification channel of this schema.
    channel: String,
    /// The channel `forget` notifies, for this schema.
    forgets: String,
    /// The highest position this process knows to be committed.
    head: Arc<watch::Sender<u64>>,
    /// Grows at each `forget` that destroyed keys, through this store or (once its
    /// notification arrives) another sharing the schema.
    forget_epoch: Arc<AtomicU64>,
    /// Makes, wraps and unwraps subjects' keys (see [`PostgresStore::with_key_wrap`]).
    keyring: RwLock<Keyring>,
    /// The appends waiting to be committed together (see the type docs).
    appends: Mutex<AppendQueue>,
    /// The task that keeps the listening connection up.
    listener: AbortHandle,
}

impl Inner {
    fn queue(&self) -> MutexGuard<'_, AppendQueue> {
        // Pushes and takes cannot leave the queue half-changed: a poisoned lock is fine.
        self.appends.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The keyring, copied out of its lock (it is a pointer at most).
    fn keyring(&self) -> Keyring {
        // Only replaced whole: a poisoned lock still holds a keyring.
        self.keyring.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
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
    /// `host=... user=...`; see [`PostgresOptions`] for the parameters, TLS included),
    /// using the schema `factum` and 8 query connections.
    ///
    /// Creates the schema and its tables, or migrates them, if needed.
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        Self::connect_with_options(PostgresOptions::from_url(url)?).await
    }

    /// Connects to the database at `url`, keeping the store in `schema` (created if
    /// missing; at most 63 bytes), with at most `pool_size` query connections plus one that
    /// listens for new events (and one for each lease held or awaited).
    ///
    /// Stores in different schemas of one database are independent: tests can each take a
    /// fresh schema. Short for [`connect_with_options`](PostgresStore::connect_with_options)
    /// with [`PostgresOptions::from_url`], [`schema`](PostgresOptions::schema) and
    /// [`pool_size`](PostgresOptions::pool_size).
    pub async fn connect_with(url: &str, schema: &str, pool_size: usize) -> Result<PostgresStore, StoreError> {
        Self::connect_with_options(PostgresOptions::from_url(url)?.schema(schema).pool_size(pool_size)).await
    }

    /// Connects as `options` say, after checking them: a bad option is an
    /// [`InvalidInput`](StoreError::InvalidInput) error that names it.
    ///
    /// Creates the schema and its tables, or migrates them, if needed.
    pub fn connect_with_options(
        options: PostgresOptions,
    ) -> impl Future<Output = Result<PostgresStore, StoreError>> + Send {
        // Boxed, so that it is compiled once, here (see `boxed`).
        boxed(async move {
            let connector = Connector::new(&options)?;
            let (schema, pool_size) = (options.schema, options.pool_size);
            let quoted = quote_identifier(&schema);
            let channel = format!("factum_{:016x}", fnv1a(&["notify", &schema]));
            let pool = Pool {
                sql: Sql::new(&quoted),
                connector,
                permits: Semaphore::new(pool_size),
                idle: Mutex::new(Vec::with_capacity(pool_size)),
                size: pool_size,
            };

            // The first connection migrates, then joins the pool.
            let client = pool.connector.connect_spawned(Role::Pool).await?;
            migrate(&client, &schema, &quoted, fnv1a(&["migrate", &schema]) as i64).await?;
            let conn = pool.prepare(client).await?;
            let head_now = conn.head_position().await?;
            pool.idle().push(conn);

            let forgets = format!("factum_{:016x}", fnv1a(&["forget", &schema]));
            let heard = Heard {
                head: Arc::new(watch::Sender::new(head_now)),
                forget_epoch: Arc::new(AtomicU64::new(0)),
                forgets: forgets.clone(),
            };
            let listen = format!("LISTEN {}; LISTEN {}", quote_identifier(&channel), quote_identifier(&forgets));
            let listener = open_listener(&pool.connector, &listen, &heard).await?;
            let (head, forget_epoch) = (heard.head.clone(), heard.forget_epoch.clone());
            let listener = tokio::spawn(keep_listening(pool.connector.clone(), listen, heard, listener));
            Ok(PostgresStore {
                inner: Arc::new(Inner {
                    append_lock: fnv1a(&["append", &schema]) as i64,
                    schema,
                    pool,
                    channel,
                    forgets,
                    head,
                    forget_epoch,
                    keyring: RwLock::default(),
                    appends: Mutex::default(),
                    listener: listener.abort_handle(),
                }),
            })
        })
    }

    /// The schema that holds this store's tables.
    pub fn schema(&self) -> &str {
        &self.inner.schema
    }

    /// Stores subjects' keys wrapped by `wrap` (see [`KeyWrap`]), for this store and its
    /// clones. Call it before the first append, and give every process that shares the
    /// schema the same wrap: keys are read back with the wrap of the store that reads them,
    /// and keys stored before are read as they are.
    pub fn with_key_wrap(self, wrap: impl KeyWrap) -> Self {
        *self.inner.keyring.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Keyring::wrapped_by(wrap);
        self
    }

    /// The audit of [`forget`](EventStore::forget): every request made to this schema, by
    /// any process, oldest first.
    pub fn forgotten(&self) -> impl Future<Output = Result<Vec<Forgotten>, StoreError>> + Send {
        boxed(async move {
            let conn = self.inner.pool.get().await?;
            pii::forgotten(conn.conn()).await
        })
    }

    fn bump_head(&self, position: u64) {
        bump(&self.inner.head, position);
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

// Every operation returns its future boxed (see `store::boxed`): the program that awaits it does
// not compile the client calls again. What a future borrows is copied out first, so that
// it holds on to the store alone; nothing runs until it is polled.
impl EventStore for PostgresStore {
    fn append(
        &self,
        stream: StreamRef<'_>,
        expected: u64,
        metadata: &Metadata,
        events: Vec<NewEvent>,
    ) -> impl Future<Output = Result<Appended, StoreError>> + Send {
        let stream = OwnedStream::of(stream);
        let metadata = metadata.clone();
        boxed(async move {
            let stream = stream.as_ref();
            let metadata = &metadata;
            stream.validate()?;
            let metadata = serde_json::to_string(metadata).map_err(backend)?;
            let count = events.len();
            let expected_i64 = i64::try_from(expected).ok().filter(|_| count > 0);
            let Some(expected_i64) = expected_i64 else {
                // Nothing to write, or no stored version is that high: only the checks.
                let head = self.inner.pool.get().await?.conn().stream_head(stream).await?;
                if let Some(refused) = head.refusal(stream, expected) {
                    return Err(refused);
                }
                return Ok(Appended { version: expected, positions: Vec::new(), recorded_at: SystemTime::now() });
            };
            if expected_i64.checked_add(count as i64).is_none() {
                return Err(StoreError::InvalidInput {
                    what: format!("append to stream {}", stream.name()),
                    reason: format!("version {expected} plus {count} events is out of range"),
                });
            }
            // The subjects to take keys for in the transaction; a payload that cannot be
            // sealed is refused here, and nothing is queued.
            let mut subjects = Vec::new();
            for (event, version) in events.iter().zip(expected + 1..) {
                if needs_sealing(&event.payload) {
                    let at = Sealing {
                        aggregate_type: stream.aggregate_type,
                        stream_id: stream.stream_id,
                        stream_version: version,
                        event_name: event.name,
                        event_version: event.version,
                    };
                    pii::subjects(&event.payload, &at, &mut subjects)?;
                }
            }
            let (reply, answer) = oneshot::channel();
            let append = PendingAppend {
                aggregate_type: stream.aggregate_type.to_owned(),
                stream_id: stream.stream_id.to_owned(),
                expected: expected_i64,
                metadata,
                events,
                subjects,
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
            self.commit_alone(&append).await
        })
    }

    fn read_stream(
        &self,
        stream: StreamRef<'_>,
        from: u64,
        to: u64,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send {
        let stream = OwnedStream::of(stream);
        boxed(async move {
            let stream = stream.as_ref();
            let conn = self.inner.pool.get().await?;
            let conn = conn.conn();
            let rows = conn
                .client
                .query(
                    &conn.statements.read_stream,
                    &[&stream.aggregate_type, &stream.stream_id, &clamp(from), &clamp(to)],
                )
                .await
                .map_err(backend)?;
            let mut events = rows.iter().map(decode_event).collect::<Result<Vec<_>, _>>()?;
            pii::open_events(conn, &self.inner.keyring(), &mut events).await?;
            Ok(events)
        })
    }

    /// Streams the rows and lends each to `visit` as it arrives, name and payload borrowed
    /// from the row: no `Vec` of rows, no owned strings.
    fn replay<F>(
        &self,
        stream: StreamRef<'_>,
        from: u64,
        to: u64,
        mut visit: F,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send
    where
        F: FnMut(StoredEvent<'_>) -> Result<(), StoreError> + Send,
    {
        let stream = OwnedStream::of(stream);
        async move { self.replay_rows(stream, from, to, &mut visit).await }
    }

    fn stream_version(&self, stream: StreamRef<'_>) -> impl Future<Output = Result<u64, StoreError>> + Send {
        let stream = OwnedStream::of(stream);
        boxed(async move {
            let stream = stream.as_ref();
            self.inner.pool.get().await?.conn().stream_version(stream).await
        })
    }

    fn find_command(
        &self,
        stream: StreamRef<'_>,
        command_id: &str,
    ) -> impl Future<Output = Result<Option<RangeInclusive<u64>>, StoreError>> + Send {
        let stream = OwnedStream::of(stream);
        let command_id = command_id.to_owned();
        boxed(async move {
            let stream = stream.as_ref();
            let conn = self.inner.pool.get().await?;
            let conn = conn.conn();
            let row = conn
                .client
                .query_one(&conn.statements.find_command, &[&stream.aggregate_type, &stream.stream_id, &command_id])
                .await
                .map_err(backend)?;
            let (first, last): (Option<i64>, Option<i64>) =
                (row.try_get(0).map_err(backend)?, row.try_get(1).map_err(backend)?);
            command_range(stream, &command_id, first, last)
        })
    }

    fn read_all(
        &self,
        after: u64,
        filter: EventFilter<'_>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send {
        let filter = OwnedFilter::of(filter);
        boxed(async move {
            if limit == 0 || filter.names.as_ref().is_some_and(Vec::is_empty) {
                return Ok(Vec::new());
            }
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let conn = self.inner.pool.get().await?;
            let conn = conn.conn();
            let rows = conn
                .client
                .query(
                    &conn.statements.read_all,
                    &[&clamp(after), &filter.names, &filter.aggregate_type, &limit, &filter.archived],
                )
                .await
                .map_err(backend)?;
            let mut events = rows.iter().map(decode_event).collect::<Result<Vec<_>, _>>()?;
            pii::open_events(conn, &self.inner.keyring(), &mut events).await?;
            Ok(events)
        })
    }

    fn head_position(&self) -> impl Future<Output = Result<u64, StoreError>> + Send {
        boxed(async move {
            let head = self.inner.pool.get().await?.conn().head_position().await?;
            self.bump_head(head);
            Ok(head)
        })
    }

    fn wait_for_events(&self, after: u64) -> impl Future<Output = Result<(), StoreError>> + Send {
        boxed(async move {
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
        })
    }

    fn save_snapshot(
        &self,
        stream: StreamRef<'_>,
        snapshot: Snapshot,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let stream = OwnedStream::of(stream);
        boxed(async move {
            let stream = stream.as_ref();
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
        })
    }

    fn load_snapshot(
        &self,
        stream: StreamRef<'_>,
    ) -> impl Future<Output = Result<Option<Snapshot>, StoreError>> + Send {
        let stream = OwnedStream::of(stream);
        boxed(async move {
            let stream = stream.as_ref();
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
                version: u64::try_from(version).map_err(|_| {
                    StoreError::corrupt(
                        format!("snapshot of stream {}", stream.name()),
                        format!("its version {version} is negative"),
                    )
                })?,
                fingerprint: fingerprint as u64,
                state: row.try_get(2).map_err(backend)?,
            }))
        })
    }

    fn load_checkpoint(&self, name: &str) -> impl Future<Output = Result<Option<Checkpoint>, StoreError>> + Send {
        let name = name.to_owned();
        boxed(async move {
            let name = name.as_str();
            let conn = self.inner.pool.get().await?;
            let conn = conn.conn();
            let row = conn.client.query_opt(&conn.statements.load_checkpoint, &[&name]).await.map_err(backend)?;
            let Some(row) = row else { return Ok(None) };
            let position: i64 = row.try_get(0).map_err(backend)?;
            Ok(Some(Checkpoint {
                position: u64::try_from(position).map_err(|_| {
                    StoreError::corrupt(format!("checkpoint {name:?}"), format!("its position {position} is negative"))
                })?,
                state: row.try_get(1).map_err(backend)?,
            }))
        })
    }

    fn save_checkpoint(
        &self,
        name: &str,
        checkpoint: Checkpoint,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let name = name.to_owned();
        boxed(async move {
            let name = name.as_str();
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
        })
    }

    fn delete_checkpoint(&self, name: &str) -> impl Future<Output = Result<(), StoreError>> + Send {
        let name = name.to_owned();
        boxed(async move {
            let name = name.as_str();
            let conn = self.inner.pool.get().await?;
            let conn = conn.conn();
            conn.client.execute(&conn.statements.delete_checkpoint, &[&name]).await.map_err(backend)?;
            Ok(())
        })
    }

    fn record_failure(
        &self,
        name: &str,
        failure: RunnerFailure,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let name = name.to_owned();
        boxed(async move {
            let name = name.as_str();
            super::validate_id("runner name", name)?;
            let position = clamp(failure.position);
            let conn = self.inner.pool.get().await?;
            let conn = conn.conn();
            let args: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
                [&name, &position, &failure.error, &failure.failed_at];
            conn.client.execute(&conn.statements.record_failure, &args).await.map_err(backend)?;
            Ok(())
        })
    }

    fn load_failure(&self, name: &str) -> impl Future<Output = Result<Option<RunnerFailure>, StoreError>> + Send {
        let name = name.to_owned();
        boxed(async move {
            let name = name.as_str();
            let conn = self.inner.pool.get().await?;
            let conn = conn.conn();
            let row = conn.client.query_opt(&conn.statements.load_failure, &[&name]).await.map_err(backend)?;
            let Some(row) = row else { return Ok(None) };
            let position: i64 = row.try_get(0).map_err(backend)?;
            Ok(Some(RunnerFailure {
                position: u64::try_from(position).map_err(|_| {
                    StoreError::corrupt(
                        format!("the failure of runner {name:?}"),
                        format!("its position {position} is negative"),
                    )
                })?,
                error: row.try_get(1).map_err(backend)?,
                failed_at: row.try_get(2).map_err(backend)?,
            }))
        })
    }

    fn load_process_instance(
        &self,
        process: &str,
        instance: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send {
        let (process, instance) = (process.to_owned(), instance.to_owned());
        boxed(async move {
            let conn = self.inner.pool.get().await?;
            let conn = conn.conn();
            let row = conn
                .client
                .query_opt(&conn.statements.load_process_instance, &[&process, &instance])
                .await
                .map_err(backend)?;
            row.map(|row| row.try_get(0).map_err(backend)).transpose()
        })
    }

    /// One query, the names passed as an array.
    fn load_process_instances(
        &self,
        process: &str,
        instances: &[String],
    ) -> impl Future<Output = Result<Vec<(String, String)>, StoreError>> + Send {
        let (process, instances) = (process.to_owned(), instances.to_vec());
        boxed(async move {
            let conn = self.inner.pool.get().await?;
            let conn = conn.conn();
            let rows = conn
                .client
                .query(&conn.statements.load_process_instances, &[&process, &instances])
                .await
                .map_err(backend)?;
            rows.iter().map(|row| Ok((row.try_get(0).map_err(backend)?, row.try_get(1).map_err(backend)?))).collect()
        })
    }

    /// One transaction: `BEGIN` and the statements pipelined, then `COMMIT` (see
    /// `process.rs`).
    fn commit_process(
        &self,
        process: &str,
        commit: ProcessCommit,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let valid = super::validate_process_commit(process, &commit);
        let process = process.to_owned();
        boxed(async move {
            valid?;
            if commit.is_empty() {
                return Ok(());
            }
            self.write_process_commit(&process, commit).await
        })
    }

    fn pending_commands(
        &self,
        process: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<OutgoingCommand>, StoreError>> + Send {
        let process = process.to_owned();
        boxed(async move {
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let conn = self.inner.pool.get().await?;
            let conn = conn.conn();
            let found =
                conn.client.query(&conn.statements.pending_commands, &[&process, &limit]).await.map_err(backend)?;
            found.iter().map(|row| rows::outgoing(row, &process)).collect()
        })
    }

    fn rejected_commands(
        &self,
        process: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<RejectedCommand>, StoreError>> + Send {
        let process = process.to_owned();
        boxed(async move {
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let conn = self.inner.pool.get().await?;
            let conn = conn.conn();
            let found =
                conn.client.query(&conn.statements.rejected_commands, &[&process, &limit]).await.map_err(backend)?;
            found.iter().map(|row| rows::rejected(row, &process)).collect()
        })
    }

    fn due_deadlines(
        &self,
        process: &str,
        until: SystemTime,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<DueDeadline>, StoreError>> + Send {
        let process = process.to_owned();
        boxed(async move {
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            // Compared to the microsecond, as the deadlines are stored.
            let until = super::to_micros_floor(until);
            let conn = self.inner.pool.get().await?;
            let conn = conn.conn();
            let found = conn
                .client
                .query(&conn.statements.due_deadlines, &[&process, &until, &limit])
                .await
                .map_err(backend)?;
            found.iter().map(|row| rows::deadline(row, &process)).collect()
        })
    }

    fn next_deadline(&self, process: &str) -> impl Future<Output = Result<Option<SystemTime>, StoreError>> + Send {
        let process = process.to_owned();
        boxed(async move {
            let conn = self.inner.pool.get().await?;
            let conn = conn.conn();
            let row = conn.client.query_one(&conn.statements.next_deadline, &[&process]).await.map_err(backend)?;
            row.try_get(0).map_err(backend)
        })
    }

    /// Holds a session-level advisory lock (`pg_try_advisory_lock`, keyed by schema and
    /// name) on a connection of its own, tried every 200 ms until taken. Dropping the lease
    /// closes that connection, and PostgreSQL releases the lock; so does the death of the
    /// process or the loss of the connection (which also ends the lease's exclusivity).
    fn acquire_lease(&self, name: &str) -> impl Future<Output = Result<Lease, StoreError>> + Send {
        let name = name.to_owned();
        boxed(async move {
            let name = name.as_str();
            lease::acquire(self, name).await
        })
    }

    /// One transaction (see `pii.rs`); it waits for the appends sealing with the subject's
    /// keys to end. At commit it notifies every store on this schema, whose epochs move
    /// when the notification arrives; this store's moves at once.
    fn forget(&self, subject: &str, by: &str) -> impl Future<Output = Result<Forgotten, StoreError>> + Send {
        let (subject, by) = (subject.to_owned(), by.to_owned());
        boxed(async move {
            super::validate_id("subject", &subject)?;
            let at = super::to_micros_floor(SystemTime::now());
            let mut conn = self.inner.pool.get().await?;
            let forgotten = pii::forget(&mut conn, &self.inner.forgets, &subject, &by, at).await?;
            if forgotten.keys > 0 {
                self.inner.forget_epoch.fetch_add(1, Ordering::SeqCst);
            }
            Ok(forgotten)
        })
    }

    fn forget_epoch(&self) -> u64 {
        self.inner.forget_epoch.load(Ordering::SeqCst)
    }

    /// One statement under the position lock (see `lifecycle.rs`): the stream's rows are
    /// flagged.
    fn archive(&self, stream: StreamRef<'_>) -> impl Future<Output = Result<(), StoreError>> + Send {
        let stream = OwnedStream::of(stream);
        boxed(async move {
            let stream = stream.as_ref();
            stream.validate()?;
            let mut conn = self.inner.pool.get().await?;
            lifecycle::archive(self, &mut conn, stream).await
        })
    }

    /// One statement under the position lock (see `lifecycle.rs`); the notice's position is
    /// notified at commit, as an append's is.
    fn delete(&self, stream: StreamRef<'_>) -> impl Future<Output = Result<StreamDeleted, StoreError>> + Send {
        let stream = OwnedStream::of(stream);
        boxed(async move {
            let stream = stream.as_ref();
            stream.validate()?;
            let mut conn = self.inner.pool.get().await?;
            lifecycle::delete(self, &mut conn, stream).await
        })
    }
}

impl PostgresStore {
    /// The rows of a replay, streamed and lent to `visit` as they arrive; compiled once,
    /// here, whatever the visitor (see [`boxed`]).
    ///
    /// The keys that sealed values in the stream are fetched with the rows, in the same
    /// round trip. A row that refers to another key (one gone with its subject, a value
    /// copied from elsewhere, a key first used after the lookup) cannot wait for a query
    /// while the rows stream in on the connection: it and the rows after it are kept, and
    /// visited once their keys have been looked up, in one more query.
    fn replay_rows<'a>(
        &'a self,
        stream: OwnedStream,
        from: u64,
        to: u64,
        visit: &'a mut (dyn FnMut(StoredEvent<'_>) -> Result<(), StoreError> + Send),
    ) -> Pin<Box<dyn Future<Output = Result<u64, StoreError>> + Send + 'a>> {
        boxed(async move {
            let stream = stream.as_ref();
            use futures_util::TryStreamExt;
            let conn = self.inner.pool.get().await?;
            let conn = conn.conn();
            let (from, to) = (clamp(from), clamp(to));
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
                [&stream.aggregate_type, &stream.stream_id, &from, &to];
            // The keys are looked up only once a sealed value is met (below): a stream
            // without personal data costs no query more than before.
            let rows = conn.client.query_raw(&conn.statements.replay_stream, params).await.map_err(backend)?;
            let mut stored_keys = pii::StoredKeys::new();
            let keyring = self.inner.keyring();
            let mut rows = std::pin::pin!(rows);
            let mut count = 0;
            let mut late: Vec<LateEvent> = Vec::new();
            let mut ids = Vec::new();
            {
                let mut opener = pii::opener(&keyring, &stored_keys);
                while let Some(row) = rows.try_next().await.map_err(backend)? {
                    let stored = stored_event(stream, &row)?;
                    if late.is_empty() {
                        ids.clear();
                        key_ids(stored.payload, &mut ids);
                        if ids.iter().all(|id| stored_keys.contains_key(id)) {
                            let opened = opener.open(stored.payload, &Sealing::stored(stream, &stored))?;
                            visit(StoredEvent { payload: &opened, ..stored })?;
                            count += 1;
                            continue;
                        }
                    }
                    late.push(LateEvent::of(&stored));
                }
            }
            if late.is_empty() {
                return Ok(count);
            }
            ids.clear();
            for event in &late {
                key_ids(&event.payload, &mut ids);
            }
            ids.retain(|id| !stored_keys.contains_key(id));
            pii::fetch_keys(conn, &ids, &mut stored_keys).await?;
            let mut opener = pii::opener(&keyring, &stored_keys);
            for event in &late {
                let stored = event.lent();
                let opened = opener.open(stored.payload, &Sealing::stored(stream, &stored))?;
                visit(StoredEvent { payload: &opened, ..stored })?;
                count += 1;
            }
            Ok(count)
        })
    }
}

/// A replayed event kept, owned, until the keys it needs have been looked up.
struct LateEvent {
    stream_version: u64,
    position: u64,
    event_name: String,
    event_version: u32,
    payload: String,
}

impl LateEvent {
    fn of(stored: &StoredEvent<'_>) -> Self {
        LateEvent {
            stream_version: stored.stream_version,
            position: stored.position,
            event_name: stored.event_name.to_owned(),
            event_version: stored.event_version,
            payload: stored.payload.to_owned(),
        }
    }

    fn lent(&self) -> StoredEvent<'_> {
        StoredEvent {
            stream_version: self.stream_version,
            position: self.position,
            event_name: &self.event_name,
            event_version: self.event_version,
            payload: &self.payload,
        }
    }
}

/// An [`EventFilter`], copied for a future that outlives the borrow; its parts are the
/// query's parameters as they are.
struct OwnedFilter {
    names: Option<Vec<String>>,
    aggregate_type: Option<String>,
    archived: bool,
}

impl OwnedFilter {
    fn of(filter: EventFilter<'_>) -> Self {
        OwnedFilter {
            names: filter.names.map(|names| names.iter().map(|&name| name.to_owned()).collect()),
            aggregate_type: filter.aggregate_type.map(str::to_owned),
            archived: filter.archived,
        }
    }
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

/// One connection as `options` say (TLS, time limits, application name), and the schema
/// they name, with no migration and no pool: for tools that read the tables themselves,
/// such as the `factum` command line tool, which must never create or migrate a schema.
pub(crate) async fn inspection_client(
    options: &PostgresOptions,
) -> Result<(tokio_postgres::Client, String), StoreError> {
    let client = Connector::new(options)?.connect_spawned(Role::Pool).await?;
    Ok((client, options.schema.clone()))
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
