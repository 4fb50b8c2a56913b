//! `SqliteStore`: the embedded, durable default. One file, WAL mode, full fsync.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use tokio::sync::watch;

use super::{Appended, Checkpoint, EventFilter, EventStore, Lease, Snapshot, StreamRef, validate_id};
use crate::envelope::{EventMeta, Metadata, NewEvent, RecordedEvent};
use crate::error::StoreError;

/// The schema, one entry per version; `PRAGMA user_version` records how many have run.
const MIGRATIONS: &[&str] = &[
    // 1: events, snapshots, checkpoints.
    "CREATE TABLE events (
        position       INTEGER PRIMARY KEY AUTOINCREMENT,
        aggregate_type TEXT    NOT NULL,
        stream_id      TEXT    NOT NULL,
        version        INTEGER NOT NULL,
        name           TEXT    NOT NULL,
        schema_version INTEGER NOT NULL,
        recorded_at    INTEGER NOT NULL,
        metadata       TEXT,
        payload        TEXT    NOT NULL,
        UNIQUE (aggregate_type, stream_id, version)
    );
    CREATE INDEX events_by_name ON events (name, position);
    CREATE TABLE snapshots (
        aggregate_type TEXT    NOT NULL,
        stream_id      TEXT    NOT NULL,
        version        INTEGER NOT NULL,
        fingerprint    INTEGER NOT NULL,
        state          TEXT    NOT NULL,
        PRIMARY KEY (aggregate_type, stream_id)
    );
    CREATE TABLE checkpoints (
        name     TEXT    PRIMARY KEY,
        position INTEGER NOT NULL,
        state    TEXT    NOT NULL
    );",
    // 2: leases, so one process at a time runs a given projection.
    "CREATE TABLE leases (
        name       TEXT    PRIMARY KEY,
        owner      TEXT    NOT NULL,
        expires_at INTEGER NOT NULL
    );",
];

/// A lease not renewed for this long passes to another process: the holder renews it every
/// third of that, so only a dead or frozen holder loses it.
const LEASE_TTL: Duration = Duration::from_secs(5);

/// How long a connection waits for another process's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// An event store in one SQLite file: embedded, durable, and safe to share between
/// processes on one machine.
///
/// - WAL mode with `synchronous = FULL`: an append that returned `Ok` survives a crash or a
///   power cut; a batch is one transaction, so it is stored whole or not at all.
/// - Optimistic concurrency is checked inside an immediate (write-locked) transaction and
///   backed by a unique `(aggregate_type, stream_id, version)` constraint, so two processes
///   appending to one file never hand out one version twice.
/// - Positions come from an `AUTOINCREMENT` key: they only grow, and are never reused.
/// - Schema migrations run when the file is opened.
/// - Group commit: appends that arrive while the writer is busy are committed together, in
///   one transaction and one fsync; a conflict rejects only its own append, and an append
///   that fails otherwise is retried alone so that it fails only itself.
/// - Every call runs on Tokio's blocking pool, never on the async executor.
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
}

impl SqliteStore {
    /// Opens (creating if needed) the store in the file at `path`, and migrates its schema.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        blocking(move || {
            let mut writer = connect(&path)?;
            migrate(&mut writer)?;
            let head = head_of(&writer)?;
            Ok(SqliteStore {
                inner: Arc::new(Inner {
                    path,
                    writer: Mutex::new(writer),
                    queue: Mutex::default(),
                    arrived: Condvar::new(),
                    readers: Mutex::default(),
                    head: watch::Sender::new(head),
                }),
            })
        })
        .await
    }

    /// The file the store lives in.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `work` with a reading connection, on the blocking pool.
    async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            let idle = lock(&inner.readers).pop();
            let connection = match idle {
                Some(connection) => connection,
                None => connect(&inner.path)?,
            };
            let result = work(&connection);
            lock(&inner.readers).push(connection);
            result
        })
        .await
    }

    /// Runs `work` with the writing connection, on the blocking pool.
    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = Arc::clone(&self.inner);
        blocking(move || work(&mut lock(&inner.writer))).await
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.inner.path).finish_non_exhaustive()
    }
}

impl EventStore for SqliteStore {
    async fn append(
        &self,
        stream: StreamRef<'_>,
        expected: u64,
        metadata: &Metadata,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        stream.validate()?;
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
        let appended = answer.await.map_err(|_| {
            StoreError::Backend(
                format!("stream {}: the committer stopped before answering (it panicked)", stream.name()).into(),
            )
        })??;
        if let Some(&last) = appended.positions.last() {
            self.inner.head.send_if_modified(|head| {
                let newer = last > *head;
                if newer {
                    *head = last;
                }
                newer
            });
        }
        Ok(appended)
    }

    async fn read_stream(&self, stream: StreamRef<'_>, from: u64, to: u64) -> Result<Vec<RecordedEvent>, StoreError> {
        let (aggregate_type, stream_id) = (stream.aggregate_type.to_owned(), stream.stream_id.to_owned());
        self.read(move |connection| {
            let mut query = connection
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM events WHERE aggregate_type = ?1 AND stream_id = ?2 AND version BETWEEN ?3 AND ?4 ORDER BY version"
                ))
                .map_err(backend)?;
            let rows = query.query(params![aggregate_type, stream_id, to_i64(from), to_i64(to)]).map_err(backend)?;
            collect(rows)
        })
        .await
    }

    async fn stream_version(&self, stream: StreamRef<'_>) -> Result<u64, StoreError> {
        let (aggregate_type, stream_id) = (stream.aggregate_type.to_owned(), stream.stream_id.to_owned());
        self.read(move |connection| current_version(connection, &aggregate_type, &stream_id)).await
    }

    async fn read_all(
        &self,
        after: u64,
        filter: EventFilter<'_>,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        if filter.names.is_some_and(<[_]>::is_empty) || limit == 0 {
            return Ok(Vec::new());
        }
        // The names travel as one JSON array parameter: every query stays parameterized.
        let names = filter.names.map(|names| serde_json::to_string(names).expect("a list of strings is JSON"));
        let aggregate_type = filter.aggregate_type.map(str::to_owned);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |connection| {
            let mut query = connection
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM events
                     WHERE position > ?1
                       AND (?2 IS NULL OR name IN (SELECT value FROM json_each(?2)))
                       AND (?3 IS NULL OR aggregate_type = ?3)
                     ORDER BY position LIMIT ?4"
                ))
                .map_err(backend)?;
            let rows = query.query(params![to_i64(after), names, aggregate_type, limit]).map_err(backend)?;
            collect(rows)
        })
        .await
    }

    async fn head_position(&self) -> Result<u64, StoreError> {
        let head = self.read(head_of).await?;
        self.inner.head.send_if_modified(|known| {
            let newer = head > *known;
            if newer {
                *known = head;
            }
            newer
        });
        Ok(head)
    }

    async fn wait_for_events(&self, after: u64) -> Result<(), StoreError> {
        // Appends of this process wake waiters at once; those of other processes are seen
        // by looking at the file again every 50 ms.
        let mut head = self.inner.head.subscribe();
        loop {
            if self.head_position().await? > after {
                return Ok(());
            }
            let _ = tokio::time::timeout(Duration::from_millis(50), head.wait_for(|&h| h > after)).await;
        }
    }

    async fn save_snapshot(&self, stream: StreamRef<'_>, snapshot: Snapshot) -> Result<(), StoreError> {
        stream.validate()?;
        let (aggregate_type, stream_id) = (stream.aggregate_type.to_owned(), stream.stream_id.to_owned());
        self.write(move |connection| {
            connection
                .prepare_cached(
                    "INSERT INTO snapshots (aggregate_type, stream_id, version, fingerprint, state) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (aggregate_type, stream_id) DO UPDATE
                     SET version = excluded.version, fingerprint = excluded.fingerprint, state = excluded.state
                     WHERE excluded.version >= snapshots.version",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        aggregate_type,
                        stream_id,
                        to_i64(snapshot.version),
                        snapshot.fingerprint as i64,
                        snapshot.state
                    ])
                })
                .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn load_snapshot(&self, stream: StreamRef<'_>) -> Result<Option<Snapshot>, StoreError> {
        let (aggregate_type, stream_id) = (stream.aggregate_type.to_owned(), stream.stream_id.to_owned());
        self.read(move |connection| {
            connection
                .prepare_cached(
                    "SELECT version, fingerprint, state FROM snapshots WHERE aggregate_type = ?1 AND stream_id = ?2",
                )
                .and_then(|mut s| {
                    s.query_row(params![aggregate_type, stream_id], |row| {
                        Ok(Snapshot {
                            version: row.get::<_, i64>(0)? as u64,
                            fingerprint: row.get::<_, i64>(1)? as u64,
                            state: row.get(2)?,
                        })
                    })
                    .optional()
                })
                .map_err(backend)
        })
        .await
    }

    async fn load_checkpoint(&self, name: &str) -> Result<Option<Checkpoint>, StoreError> {
        let name = name.to_owned();
        self.read(move |connection| {
            connection
                .prepare_cached("SELECT position, state FROM checkpoints WHERE name = ?1")
                .and_then(|mut s| {
                    s.query_row(params![name], |row| {
                        Ok(Checkpoint { position: row.get::<_, i64>(0)? as u64, state: row.get(1)? })
                    })
                    .optional()
                })
                .map_err(backend)
        })
        .await
    }

    async fn save_checkpoint(&self, name: &str, checkpoint: Checkpoint) -> Result<(), StoreError> {
        validate_id("checkpoint name", name)?;
        let name = name.to_owned();
        self.write(move |connection| {
            connection
                .prepare_cached(
                    "INSERT INTO checkpoints (name, position, state) VALUES (?1, ?2, ?3)
                     ON CONFLICT (name) DO UPDATE SET position = excluded.position, state = excluded.state",
                )
                .and_then(|mut s| s.execute(params![name, to_i64(checkpoint.position), checkpoint.state]))
                .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn delete_checkpoint(&self, name: &str) -> Result<(), StoreError> {
        let name = name.to_owned();
        self.write(move |connection| {
            connection.execute("DELETE FROM checkpoints WHERE name = ?1", params![name]).map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn acquire_lease(&self, name: &str) -> Result<Lease, StoreError> {
        validate_id("lease name", name)?;
        let owner = lease_owner();
        while !self.claim(name, &owner).await? {
            tokio::time::sleep(LEASE_TTL / 5).await;
        }
        let renewal = tokio::spawn({
            let (store, name, owner) = (self.clone(), name.to_owned(), owner.clone());
            async move {
                loop {
                    tokio::time::sleep(LEASE_TTL / 3).await;
                    let _ = store.claim(&name, &owner).await;
                }
            }
        });
        Ok(Lease::new(HeldLease { store: self.clone(), name: name.to_owned(), owner, renewal }))
    }
}

/// Releases a lease when dropped: stops renewing it and deletes its row.
struct HeldLease {
    store: SqliteStore,
    name: String,
    owner: String,
    renewal: tokio::task::JoinHandle<()>,
}

impl Drop for HeldLease {
    fn drop(&mut self) {
        self.renewal.abort();
        let (store, name, owner) =
            (self.store.clone(), std::mem::take(&mut self.name), std::mem::take(&mut self.owner));
        // Best effort: if the release never runs, the lease expires after `LEASE_TTL`.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = store
                    .write(move |c| {
                        c.execute("DELETE FROM leases WHERE name = ?1 AND owner = ?2", params![name, owner])
                            .map_err(backend)
                    })
                    .await;
            });
        }
    }
}

impl SqliteStore {
    /// Takes or renews lease `name` for `owner`; true if it is `owner`'s now.
    async fn claim(&self, name: &str, owner: &str) -> Result<bool, StoreError> {
        let (name, owner) = (name.to_owned(), owner.to_owned());
        self.write(move |connection| {
            let now = to_micros(SystemTime::now());
            let expires = now + LEASE_TTL.as_micros() as i64;
            let changed = connection
                .execute(
                    "INSERT INTO leases (name, owner, expires_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
                     WHERE leases.owner = excluded.owner OR leases.expires_at < ?4",
                    params![name, owner, expires, now],
                )
                .map_err(backend)?;
            Ok(changed > 0)
        })
        .await
    }
}

/// Identifies one holder of one lease.
fn lease_owner() -> String {
    use std::hash::{BuildHasher, RandomState};
    let random = RandomState::new().hash_one(SystemTime::now());
    format!("pid{}-{random:016x}", std::process::id())
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
struct Queue {
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
        Err(error) => Some(error.to_string()),
    };
    for (pending, outcome) in
        batch.into_iter().zip(outcomes.into_iter().map(Some).chain(std::iter::repeat_with(|| None)))
    {
        let result = match (&failure, outcome) {
            // Committed, or refused on its own account (a conflict holds either way).
            (None, Some(outcome)) | (_, Some(outcome @ Err(StoreError::Conflict { .. }))) => outcome,
            (Some(reason), _) => Err(StoreError::Backend(format!("the transaction failed: {reason}").into())),
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
    let actual = current_version(connection, &stream.aggregate_type, &stream.stream_id)?;
    if actual != expected {
        return Err(StoreError::Conflict { stream: stream.clone(), expected, actual });
    }
    let micros = to_micros(recorded_at);
    let mut insert = connection
        .prepare_cached(
            "INSERT INTO events (aggregate_type, stream_id, version, name, schema_version, recorded_at, metadata, payload)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .map_err(backend)?;
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

const COLUMNS: &str =
    "position, aggregate_type, stream_id, version, name, schema_version, recorded_at, metadata, payload";

/// Turns rows of [`COLUMNS`] into recorded events.
fn collect(mut rows: rusqlite::Rows<'_>) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut events = Vec::new();
    while let Some(row) = rows.next().map_err(backend)? {
        let aggregate_type: String = row.get(1).map_err(backend)?;
        let stream_id: String = row.get(2).map_err(backend)?;
        let version = row.get::<_, i64>(3).map_err(backend)? as u64;
        let metadata: Option<String> = row.get(7).map_err(backend)?;
        let metadata = match metadata {
            None => Metadata::default(),
            Some(text) => serde_json::from_str(&text).map_err(|e| StoreError::InvalidInput {
                what: format!("stored metadata of stream {aggregate_type}/{stream_id}, version {version}"),
                reason: e.to_string(),
            })?,
        };
        events.push(RecordedEvent {
            meta: EventMeta {
                position: row.get::<_, i64>(0).map_err(backend)? as u64,
                aggregate_type,
                stream_id,
                stream_version: version,
                event_name: row.get(4).map_err(backend)?,
                event_version: row.get(5).map_err(backend)?,
                recorded_at: from_micros(row.get(6).map_err(backend)?),
                metadata,
            },
            payload: row.get(8).map_err(backend)?,
        });
    }
    Ok(events)
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let connection = Connection::open(path).map_err(backend)?;
    connection.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
    connection
        .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
        .map_err(backend)?;
    Ok(connection)
}

/// Brings the schema up to date, in one write transaction, so two processes opening a new
/// file at once cannot both migrate it.
fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
    let done: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0)).map_err(backend)?;
    let done = usize::try_from(done).unwrap_or(usize::MAX);
    if done > MIGRATIONS.len() {
        return Err(StoreError::InvalidInput {
            what: "SQLite schema".to_owned(),
            reason: format!(
                "the file is at schema version {done}, newer than this factum knows ({}); upgrade factum",
                MIGRATIONS.len()
            ),
        });
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(done) {
        tx.execute_batch(migration).map_err(backend)?;
        tx.pragma_update(None, "user_version", (index + 1) as i64).map_err(backend)?;
    }
    tx.commit().map_err(backend)
}

fn head_of(connection: &Connection) -> Result<u64, StoreError> {
    connection
        .query_row("SELECT COALESCE(MAX(position), 0) FROM events", [], |row| row.get::<_, i64>(0))
        .map(|p| p as u64)
        .map_err(backend)
}

fn current_version(connection: &Connection, aggregate_type: &str, stream_id: &str) -> Result<u64, StoreError> {
    connection
        .prepare_cached("SELECT COALESCE(MAX(version), 0) FROM events WHERE aggregate_type = ?1 AND stream_id = ?2")
        .and_then(|mut s| s.query_row(params![aggregate_type, stream_id], |row| row.get::<_, i64>(0)))
        .map(|v| v as u64)
        .map_err(backend)
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
        StoreError::Backend(format!("stream {stream}, version {version}: {error}").into())
    }
}

fn encode_metadata(metadata: &Metadata) -> Option<String> {
    (!metadata.is_empty()).then(|| serde_json::to_string(metadata).expect("metadata is plain strings"))
}

fn backend(error: rusqlite::Error) -> StoreError {
    StoreError::Backend(Box::new(error))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in a blocking task cannot leave a connection mid-transaction: rusqlite rolls
    // back an unfinished transaction when it is dropped.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| StoreError::Backend(Box::new(e)))?
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_micros(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

fn from_micros(micros: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(u64::try_from(micros).unwrap_or(0))
}
