//! `SqliteStore`: the embedded, durable default. One file, WAL mode, full fsync.
//!
//! - `connection.rs`: opening a connection (pragmas), and the bridge to the blocking pool.
//! - `migrate.rs`: the versioned schema.
//! - `committer.rs`: group commit, the queue of appends and the one committer.
//! - `keys.rs`: personal data: subjects' keys, sealing, opening, `forget`.
//! - `lease.rs`: leases between processes.
//! - `lifecycle.rs`: streams that end: archived and deleted.
//! - `statements.rs`: every SQL statement, once.
//! - `rows.rs`: decoding rows, and the conversion of values.

mod committer;
mod connection;
mod keys;
mod lease;
mod lifecycle;
mod migrate;
mod rows;
mod statements;

use std::future::Future;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use rusqlite::{Connection, ToSql, TransactionBehavior, params};
use tokio::sync::watch;

use self::committer::{Queue, encode_metadata};
use self::connection::{blocking, connect};
use self::migrate::migrate;
use self::rows::{to_i64, to_micros};
use super::{
    Appended, Checkpoint, EventFilter, EventStore, Lease, OwnedStream, RunnerFailure, Snapshot, StreamDeleted,
    StreamRef, boxed, validate_id,
};
use crate::envelope::{Metadata, NewEvent, RecordedEvent, StoredEvent};
use crate::error::StoreError;
use crate::pii::{Forgotten, KeyWrap, Keyring};
use crate::process::{DueDeadline, NewDeadline, OutgoingCommand, ProcessCommit, RejectedCommand, checkpoint_name};

/// An event store in one SQLite file: embedded, durable, and safe to share between
/// processes on one machine.
///
/// # Durability
///
/// - WAL mode with `synchronous = FULL`: an append that returned `Ok` has been fsynced, and
///   survives a crash or a power cut.
/// - An append is one transaction: its events are stored whole or not at all.
/// - Group commit: appends that arrive while the writer is busy wait for it and are then
///   committed together, in one transaction and one fsync, and each is answered only once
///   that transaction is durable. Many writers thus share fsyncs instead of queueing for one
///   each. A conflict rejects only its own append; an append that fails otherwise takes the
///   transaction down, and the others are committed again one by one, so that only it fails.
/// - An append that finds the writer idle commits on its own thread (through
///   `tokio::task::block_in_place` on a multi-threaded runtime; on a current-thread runtime,
///   on Tokio's blocking pool), so a lone writer pays no hand-over between threads.
///
/// # Versions and positions
///
/// - Optimistic concurrency is checked inside an immediate (write-locked) transaction and
///   backed by a unique `(aggregate_type, stream_id, version)` constraint, so two processes
///   appending to one file never hand out one version twice.
/// - Positions come from an `AUTOINCREMENT` key, assigned inside the write transaction: they
///   only grow, are never reused, and have no gaps (a transaction that fails is rolled back
///   with the positions it took) but where a [deleted](EventStore::delete) stream's events
///   were. SQLite has one writer at a time, so events become visible
///   in position order: a reader that has seen position `p` never later finds a new event at
///   or below `p`, and a projection's checkpoint at `p` misses nothing.
///
/// # Personal data and streams that end
///
/// Subjects' keys are in the `pii_keys` table; values are sealed inside the append's
/// transaction and opened on every read (see [`pii`](crate::pii)). Every connection sets
/// `secure_delete`, so deleted rows (a forgotten key, a removed snapshot or checkpoint, a
/// deleted stream's events) are overwritten with zeros, and [`forget`](EventStore::forget)
/// and [`delete`](EventStore::delete) empty the WAL after they commit: the file keeps no
/// copy of what they removed.
///
/// # Processes, schema and threads
///
/// - Several processes may open one file. [`wait_for_events`](EventStore::wait_for_events)
///   wakes at once for appends of this process, and looks at the file every 50 ms for those
///   of others. [Leases](EventStore::acquire_lease) expire 5 s after their holder stops
///   renewing them.
/// - Schema migrations run when the file is opened, in one write transaction. A file written
///   by a newer factum is refused with [`StoreError::Incompatible`] and left untouched.
/// - Every call runs on Tokio's blocking pool, never on the async executor; reads use their
///   own connections and do not wait for the writer.
///
/// # Errors and tracing
///
/// A stored row that does not decode (metadata that is not JSON, a version or position below
/// 1, a value of the wrong type) is [`StoreError::Corrupt`] naming the row, with the
/// underlying error as its source; a failed SQLite call is [`StoreError::Backend`] keeping
/// the SQLite error as its source. With the `tracing` feature each committed batch is a
/// debug-level `append_batch` span (`appends`, `events`, `duration_us`), and failures
/// handled without being returned (a lease renewal, a batch retried append by append) are
/// logged as warnings.
///
/// ```
/// use factum::{EventStore, Metadata, NewEvent, SqliteStore, StreamRef};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), factum::StoreError> {
/// let path = std::env::temp_dir().join(format!("factum-doc-{}.db", std::process::id()));
/// let store = SqliteStore::open(&path).await?;
/// let stream = StreamRef::new("counter", "c-1");
/// let event = NewEvent { name: "Incremented", version: 1, payload: r#"{"by":1}"#.into() };
/// store.append(stream, 0, &Metadata::new(), vec![event]).await?;
/// drop(store);
///
/// let reopened = SqliteStore::open(&path).await?; // still there
/// assert_eq!(reopened.stream_version(stream).await?, 1);
/// # drop(reopened); for suffix in ["", "-wal", "-shm"] { let _ = std::fs::remove_file(format!("{}{suffix}", path.display())); }
/// # Ok(()) }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// The one connection that writes: SQLite has one writer at a time anyway.
    writer: Mutex<Connection>,
    /// Appends waiting for the committer, which commits them together.
    queue: Mutex<Queue>,
    /// Signalled when an append joins the queue while a committer runs.
    arrived: Condvar,
    /// Idle reading connections; WAL lets them read while the writer writes.
    readers: Mutex<Vec<Connection>>,
    /// The newest position this process has appended or seen.
    head: watch::Sender<u64>,
    /// How subjects' keys are stored (wrapped or not).
    keyring: RwLock<Keyring>,
    /// The id of the newest `forget` that destroyed keys, of this process or seen in the file.
    forget_epoch: AtomicU64,
}

impl Inner {
    /// How subjects' keys are stored, for one operation.
    fn keyring(&self) -> Keyring {
        self.keyring.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Moves the forget epoch up to `epoch` (never down).
    fn saw_epoch(&self, epoch: u64) {
        self.forget_epoch.fetch_max(epoch, Ordering::SeqCst);
    }

    /// Tells this process's waiters of a new head position.
    fn saw_head(&self, position: u64) {
        self.head.send_if_modified(|head| {
            let newer = position > *head;
            if newer {
                *head = position;
            }
            newer
        });
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the store in the file at `path`, and migrates its schema.
    pub fn open(path: impl AsRef<Path>) -> impl Future<Output = Result<Self, StoreError>> + Send {
        Self::open_path(path.as_ref().to_path_buf())
    }

    /// [`open`](Self::open), compiled once here whatever the type of the path.
    fn open_path(path: PathBuf) -> impl Future<Output = Result<Self, StoreError>> + Send {
        boxed(blocking(move || {
            let mut writer = connect(&path)?;
            migrate(&mut writer, &path)?;
            let head = rows::head_position(&writer)?;
            let epoch = keys::epoch(&writer)?;
            Ok(SqliteStore {
                inner: Arc::new(Inner {
                    path,
                    writer: Mutex::new(writer),
                    queue: Mutex::default(),
                    arrived: Condvar::new(),
                    readers: Mutex::default(),
                    head: watch::Sender::new(head),
                    keyring: RwLock::default(),
                    forget_epoch: AtomicU64::new(epoch),
                }),
            })
        }))
    }

    /// The file the store lives in.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Stores subjects' keys wrapped by `wrap` (see [`KeyWrap`]), and unwraps them with it
    /// when reading. Give the same wrap every time the file is opened, before the first
    /// append: a key stored unwrapped does not read with a wrap, nor the other way round (the
    /// read fails with [`StoreError::Corrupt`] naming the key, and nothing is written).
    pub fn with_key_wrap(self, wrap: impl KeyWrap) -> Self {
        *self.inner.keyring.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Keyring::wrapped_by(wrap);
        self
    }

    /// The audit of [`forget`](EventStore::forget): every request, oldest first.
    pub fn forgotten(&self) -> impl Future<Output = Result<Vec<Forgotten>, StoreError>> + Send {
        boxed(self.read(keys::forgotten))
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.inner.path).finish_non_exhaustive()
    }
}

// Every operation returns its future boxed (see `store::boxed`): the program that awaits it does
// not compile SQLite's hand-over to the blocking pool again. What a future borrows is
// copied out first, so that it holds on to the store alone; nothing runs until it is
// polled.
impl EventStore for SqliteStore {
    fn append(
        &self,
        stream: StreamRef<'_>,
        expected: u64,
        metadata: &Metadata,
        events: Vec<NewEvent>,
    ) -> impl Future<Output = Result<Appended, StoreError>> + Send {
        let prepared = stream.validate().map(|()| (stream.name(), encode_metadata(metadata)));
        boxed(async move {
            let (name, metadata) = prepared?;
            let appended = self.commit(name, expected, metadata, events).await?;
            if let Some(&last) = appended.positions.last() {
                self.inner.saw_head(last);
            }
            Ok(appended)
        })
    }

    fn read_stream(
        &self,
        stream: StreamRef<'_>,
        from: u64,
        to: u64,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send {
        let OwnedStream { aggregate_type, stream_id } = OwnedStream::of(stream);
        let keyring = self.inner.keyring();
        boxed(self.read(move |connection| {
            let mut query = connection.prepare_cached(statements::READ_STREAM).map_err(backend)?;
            let found = query.query(params![aggregate_type, stream_id, to_i64(from), to_i64(to)]).map_err(backend)?;
            let mut events = rows::events(found)?;
            keys::open_all(connection, &keyring, &mut events)?;
            Ok(events)
        }))
    }

    /// Reads the rows on the blocking pool into one buffer (names and payloads borrowed from
    /// SQLite and copied in, no allocation per event), then lends each to `visit` here.
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
        let replayed = self.replayed(stream, from, to);
        async move { replayed.await?.visit(&mut visit) }
    }

    fn stream_version(&self, stream: StreamRef<'_>) -> impl Future<Output = Result<u64, StoreError>> + Send {
        let OwnedStream { aggregate_type, stream_id } = OwnedStream::of(stream);
        boxed(self.read(move |connection| rows::stream_version(connection, &aggregate_type, &stream_id)))
    }

    fn find_command(
        &self,
        stream: StreamRef<'_>,
        command_id: &str,
    ) -> impl Future<Output = Result<Option<RangeInclusive<u64>>, StoreError>> + Send {
        let OwnedStream { aggregate_type, stream_id } = OwnedStream::of(stream);
        let command_id = command_id.to_owned();
        boxed(self.read(move |connection| rows::command_versions(connection, &aggregate_type, &stream_id, &command_id)))
    }

    fn read_all(
        &self,
        after: u64,
        filter: EventFilter<'_>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send {
        let nothing = filter.names.is_some_and(<[_]>::is_empty) || limit == 0;
        let names = filter.names.map(|names| serde_json::to_string(names).expect("a list of strings is JSON"));
        let aggregate_type = filter.aggregate_type.map(str::to_owned);
        let archived = filter.archived;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let keyring = self.inner.keyring();
        boxed(async move {
            if nothing {
                return Ok(Vec::new());
            }
            self.read(move |connection| {
                let mut query = connection.prepare_cached(statements::READ_ALL).map_err(backend)?;
                let found =
                    query.query(params![to_i64(after), names, aggregate_type, limit, archived]).map_err(backend)?;
                let mut events = rows::events(found)?;
                keys::open_all(connection, &keyring, &mut events)?;
                Ok(events)
            })
            .await
        })
    }

    fn head_position(&self) -> impl Future<Output = Result<u64, StoreError>> + Send {
        boxed(self.refresh_head())
    }

    fn wait_for_events(&self, after: u64) -> impl Future<Output = Result<(), StoreError>> + Send {
        boxed(async move {
            // Appends of this process wake waiters at once; those of other processes are
            // seen by looking at the file again every 50 ms.
            let mut head = self.inner.head.subscribe();
            loop {
                if self.refresh_head().await? > after {
                    return Ok(());
                }
                // Woken by an append of this process, or 50 ms passed: either way, look at
                // the file again. Neither is a failure (`wait_for` fails only once the sender
                // is dropped, and `self` holds it), so the outcome is not needed.
                let _ = tokio::time::timeout(Duration::from_millis(50), head.wait_for(|&h| h > after)).await;
            }
        })
    }

    fn save_snapshot(
        &self,
        stream: StreamRef<'_>,
        snapshot: Snapshot,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let valid = stream.validate();
        let OwnedStream { aggregate_type, stream_id } = OwnedStream::of(stream);
        boxed(async move {
            valid?;
            self.write(move |connection| {
                let Snapshot { version, fingerprint, state } = snapshot;
                connection
                    .prepare_cached(statements::SAVE_SNAPSHOT)
                    .and_then(|mut s| {
                        s.execute(params![aggregate_type, stream_id, to_i64(version), fingerprint as i64, state])
                    })
                    .map_err(backend)?;
                Ok(())
            })
            .await
        })
    }

    fn load_snapshot(
        &self,
        stream: StreamRef<'_>,
    ) -> impl Future<Output = Result<Option<Snapshot>, StoreError>> + Send {
        let OwnedStream { aggregate_type, stream_id } = OwnedStream::of(stream);
        boxed(self.read(move |connection| {
            let mut query = connection.prepare_cached(statements::LOAD_SNAPSHOT).map_err(backend)?;
            let mut found = query.query(params![aggregate_type, stream_id]).map_err(backend)?;
            found.next().map_err(backend)?.map(|row| rows::snapshot(row, &aggregate_type, &stream_id)).transpose()
        }))
    }

    fn load_checkpoint(&self, name: &str) -> impl Future<Output = Result<Option<Checkpoint>, StoreError>> + Send {
        let name = name.to_owned();
        boxed(self.read(move |connection| {
            let mut query = connection.prepare_cached(statements::LOAD_CHECKPOINT).map_err(backend)?;
            let mut found = query.query(params![name]).map_err(backend)?;
            found.next().map_err(backend)?.map(|row| rows::checkpoint(row, &name)).transpose()
        }))
    }

    fn save_checkpoint(
        &self,
        name: &str,
        checkpoint: Checkpoint,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let valid = validate_id("checkpoint name", name);
        let name = name.to_owned();
        boxed(async move {
            valid?;
            self.write(move |connection| {
                connection
                    .prepare_cached(statements::SAVE_CHECKPOINT)
                    .and_then(|mut s| s.execute(params![name, to_i64(checkpoint.position), checkpoint.state]))
                    .map_err(backend)?;
                Ok(())
            })
            .await
        })
    }

    fn delete_checkpoint(&self, name: &str) -> impl Future<Output = Result<(), StoreError>> + Send {
        let name = name.to_owned();
        boxed(self.write(move |connection| {
            connection
                .prepare_cached(statements::DELETE_CHECKPOINT)
                .and_then(|mut s| s.execute(params![name]))
                .map_err(backend)?;
            Ok(())
        }))
    }

    fn record_failure(
        &self,
        name: &str,
        failure: RunnerFailure,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let valid = validate_id("runner name", name);
        let name = name.to_owned();
        boxed(async move {
            valid?;
            self.write(move |connection| {
                let (position, failed_at) = (to_i64(failure.position), to_micros(failure.failed_at));
                connection
                    .prepare_cached(statements::RECORD_FAILURE)
                    .and_then(|mut s| s.execute(params![name, position, failure.error, failed_at]))
                    .map_err(backend)?;
                Ok(())
            })
            .await
        })
    }

    fn load_failure(&self, name: &str) -> impl Future<Output = Result<Option<RunnerFailure>, StoreError>> + Send {
        let name = name.to_owned();
        boxed(self.read(move |connection| {
            let mut query = connection.prepare_cached(statements::LOAD_FAILURE).map_err(backend)?;
            let mut found = query.query(params![name]).map_err(backend)?;
            found.next().map_err(backend)?.map(|row| rows::failure(row, &name)).transpose()
        }))
    }

    fn load_process_instance(
        &self,
        process: &str,
        instance: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send {
        let (process, instance) = (process.to_owned(), instance.to_owned());
        boxed(self.read(move |connection| {
            let mut query = connection.prepare_cached(statements::LOAD_PROCESS_INSTANCE).map_err(backend)?;
            let mut found = query.query(params![process, instance]).map_err(backend)?;
            let Some(row) = found.next().map_err(backend)? else { return Ok(None) };
            rows::process_state(row, &process, &instance).map(Some)
        }))
    }

    /// One query, the names passed as a JSON array.
    fn load_process_instances(
        &self,
        process: &str,
        instances: &[String],
    ) -> impl Future<Output = Result<Vec<(String, String)>, StoreError>> + Send {
        let process = process.to_owned();
        let names = serde_json::to_string(instances);
        boxed(async move {
            let names = names.map_err(|error| StoreError::Backend(Box::new(error)))?;
            self.read(move |connection| {
                let mut query = connection.prepare_cached(statements::LOAD_PROCESS_INSTANCES).map_err(backend)?;
                let mut found = query.query(params![process, names]).map_err(backend)?;
                let mut states = Vec::new();
                while let Some(row) = found.next().map_err(backend)? {
                    states.push(rows::process_instance(row, &process)?);
                }
                Ok(states)
            })
            .await
        })
    }

    /// One immediate (write-locked) transaction on the writing connection, fsynced before it
    /// returns, as an append is.
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
            self.write(move |connection| write_process_commit(connection, &process, commit)).await
        })
    }

    fn pending_commands(
        &self,
        process: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<OutgoingCommand>, StoreError>> + Send {
        let process = process.to_owned();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        boxed(self.read(move |connection| {
            let mut query = connection.prepare_cached(statements::PENDING_COMMANDS).map_err(backend)?;
            let mut found = query.query(params![process, limit]).map_err(backend)?;
            let mut commands = Vec::new();
            while let Some(row) = found.next().map_err(backend)? {
                commands.push(rows::outgoing(row, &process)?);
            }
            Ok(commands)
        }))
    }

    fn rejected_commands(
        &self,
        process: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<RejectedCommand>, StoreError>> + Send {
        let process = process.to_owned();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        boxed(self.read(move |connection| {
            let mut query = connection.prepare_cached(statements::REJECTED_COMMANDS).map_err(backend)?;
            let mut found = query.query(params![process, limit]).map_err(backend)?;
            let mut commands = Vec::new();
            while let Some(row) = found.next().map_err(backend)? {
                commands.push(rows::rejected(row, &process)?);
            }
            Ok(commands)
        }))
    }

    fn due_deadlines(
        &self,
        process: &str,
        until: SystemTime,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<DueDeadline>, StoreError>> + Send {
        let process = process.to_owned();
        let (until, limit) = (to_micros(until), i64::try_from(limit).unwrap_or(i64::MAX));
        boxed(self.read(move |connection| {
            let mut query = connection.prepare_cached(statements::DUE_DEADLINES).map_err(backend)?;
            let mut found = query.query(params![process, until, limit]).map_err(backend)?;
            let mut due = Vec::new();
            while let Some(row) = found.next().map_err(backend)? {
                due.push(rows::deadline(row, &process)?);
            }
            Ok(due)
        }))
    }

    fn next_deadline(&self, process: &str) -> impl Future<Output = Result<Option<SystemTime>, StoreError>> + Send {
        let process = process.to_owned();
        boxed(self.read(move |connection| rows::next_deadline(connection, &process)))
    }

    fn acquire_lease(&self, name: &str) -> impl Future<Output = Result<Lease, StoreError>> + Send {
        let name = name.to_owned();
        boxed(async move { lease::acquire(self, &name).await })
    }

    /// One immediate transaction on the writing connection; the WAL is then checkpointed and
    /// truncated, so that the deleted rows (overwritten: `secure_delete`) leave no copy in
    /// it. Another process sharing the file sees the new epoch at its next look at the file
    /// (within 50 ms while it waits for events).
    fn forget(&self, subject: &str, by: &str) -> impl Future<Output = Result<Forgotten, StoreError>> + Send {
        let valid = validate_id("subject", subject);
        let (subject, by) = (subject.to_owned(), by.to_owned());
        boxed(async move {
            valid?;
            let (forgotten, id) = self.write(move |connection| keys::forget(connection, &subject, &by)).await?;
            if forgotten.keys > 0 {
                self.inner.saw_epoch(id);
            }
            Ok(forgotten)
        })
    }

    /// The id of the last `forget` that destroyed keys, as this process saw it.
    fn forget_epoch(&self) -> u64 {
        self.inner.forget_epoch.load(Ordering::SeqCst)
    }

    /// One immediate transaction: every event row of the stream is flagged.
    fn archive(&self, stream: StreamRef<'_>) -> impl Future<Output = Result<(), StoreError>> + Send {
        let valid = stream.validate();
        let OwnedStream { aggregate_type, stream_id } = OwnedStream::of(stream);
        boxed(async move {
            valid?;
            self.write(move |connection| lifecycle::archive(connection, StreamRef::new(&aggregate_type, &stream_id)))
                .await
        })
    }

    /// One immediate transaction on the writing connection; the WAL is then emptied, as
    /// after [`forget`](EventStore::forget).
    fn delete(&self, stream: StreamRef<'_>) -> impl Future<Output = Result<StreamDeleted, StoreError>> + Send {
        let valid = stream.validate();
        let OwnedStream { aggregate_type, stream_id } = OwnedStream::of(stream);
        boxed(async move {
            valid?;
            let deleted = self
                .write(move |connection| lifecycle::delete(connection, StreamRef::new(&aggregate_type, &stream_id)))
                .await?;
            match deleted {
                Ok(deletion) => {
                    self.inner.saw_head(deletion.position);
                    Ok(deletion.notice)
                }
                Err(already) => Ok(already),
            }
        })
    }
}

impl SqliteStore {
    /// The rows of a replay, read on the blocking pool.
    fn replayed(
        &self,
        stream: StreamRef<'_>,
        from: u64,
        to: u64,
    ) -> impl Future<Output = Result<rows::Replayed, StoreError>> + Send + '_ {
        let OwnedStream { aggregate_type, stream_id } = OwnedStream::of(stream);
        let keyring = self.inner.keyring();
        boxed(self.read(move |connection| {
            let mut query = connection.prepare_cached(statements::REPLAY_STREAM).map_err(backend)?;
            let found = query.query(params![aggregate_type, stream_id, to_i64(from), to_i64(to)]).map_err(backend)?;
            rows::replayed(found, &aggregate_type, &stream_id, &mut keys::opener(connection, &keyring))
        }))
    }

    /// Reads the head position from the file, and wakes the waiters of this process if
    /// another process has appended.
    async fn refresh_head(&self) -> Result<u64, StoreError> {
        let (head, epoch) =
            self.read(|connection| Ok((rows::head_position(connection)?, keys::epoch(connection)?))).await?;
        // A `forget` of another process sharing the file is seen here, as its appends are.
        self.inner.saw_epoch(epoch);
        self.inner.saw_head(head);
        Ok(head)
    }
}

/// Writes `commit` of process `process` in one immediate transaction, in the order
/// [`ProcessCommit`] documents: the checkpoint, the instances (an ended one with its
/// deadlines), the outbox entries carried out and refused, the deadlines fired and
/// cancelled, then the new commands and deadlines. A failure rolls all of it back.
fn write_process_commit(connection: &mut Connection, process: &str, commit: ProcessCommit) -> Result<(), StoreError> {
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
    let run = |sql: &str, params: &[&dyn ToSql]| -> Result<(), StoreError> {
        tx.prepare_cached(sql).and_then(|mut s| s.execute(params)).map_err(backend)?;
        Ok(())
    };
    if let Some(position) = commit.position {
        run(statements::SAVE_CHECKPOINT, params![checkpoint_name(process), to_i64(position), ""])?;
    }
    for (instance, state) in &commit.instances {
        match state {
            Some(state) => run(statements::SAVE_PROCESS_INSTANCE, params![process, instance, state])?,
            None => {
                run(statements::DELETE_PROCESS_INSTANCE, params![process, instance])?;
                run(statements::DELETE_INSTANCE_DEADLINES, params![process, instance])?;
            }
        }
    }
    for &id in &commit.sent {
        run(statements::DELETE_OUTGOING, params![process, to_i64(id)])?;
    }
    let rejected_at = to_micros(SystemTime::now());
    for (id, error) in &commit.rejected {
        run(statements::REJECT_OUTGOING, params![process, to_i64(*id), error, rejected_at])?;
    }
    for &id in &commit.fired {
        run(statements::DELETE_DEADLINE, params![process, to_i64(id)])?;
    }
    for (instance, kind) in &commit.cancel {
        run(statements::CANCEL_DEADLINES, params![process, instance, kind])?;
    }
    for command in &commit.send {
        let metadata = serde_json::to_string(&command.metadata).expect("metadata is plain strings");
        let OutgoingCommand { instance, aggregate_type, stream_id, command, .. } = command;
        run(statements::INSERT_OUTGOING, params![process, instance, aggregate_type, stream_id, command, metadata])?;
    }
    for deadline in &commit.schedule {
        let NewDeadline { instance, kind, due_at, payload, correlation_id } = deadline;
        run(
            statements::INSERT_DEADLINE,
            params![process, instance, kind, to_micros(*due_at), payload, correlation_id],
        )?;
    }
    tx.commit().map_err(backend)
}

/// A failed SQLite call, with the rusqlite error as its source.
fn backend(error: rusqlite::Error) -> StoreError {
    StoreError::Backend(Box::new(error))
}
