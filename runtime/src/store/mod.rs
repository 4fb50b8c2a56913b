//! Event stores: where events live. One trait, several backends.

mod lifecycle;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::future::Future;
use std::time::SystemTime;

pub use lifecycle::StreamDeleted;
pub(crate) use lifecycle::no_events;
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::{PostgresOptions, PostgresStore, TlsMode};
#[cfg(feature = "postgres")]
pub(crate) use postgres::{inspection_client, lease_key};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

use crate::envelope::{Metadata, NewEvent, RecordedEvent, StoredEvent};
use crate::error::{StoreError, StreamName};
use crate::event::EventSet;
use crate::pii::Forgotten;
use crate::process::{DueDeadline, OutgoingCommand, ProcessCommit, RejectedCommand};

/// Boxes a store operation's future where it is built, inside factum.
///
/// Rust compiles a future's state machine in the crate that polls it: an `async fn` of
/// `SqliteStore` awaited by `Repository<MyAggregate, SqliteStore>` would be compiled again
/// in every program that names it (SQLite's hand-over to the blocking pool and Tokio's
/// task machinery with it, for each operation). Returned as a `dyn Future` from a
/// non-generic method, it is compiled once, here; the caller polls it through a vtable.
/// That costs one allocation per call, beside a disk write or a round trip to a server.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn boxed<'a, T>(
    future: impl Future<Output = T> + Send + 'a,
) -> std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>> {
    Box::pin(future)
}

/// A [`StreamRef`]'s names, copied for a future that must not borrow them (see [`boxed`]).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) struct OwnedStream {
    pub(crate) aggregate_type: String,
    pub(crate) stream_id: String,
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl OwnedStream {
    pub(crate) fn of(stream: StreamRef<'_>) -> Self {
        OwnedStream { aggregate_type: stream.aggregate_type.to_owned(), stream_id: stream.stream_id.to_owned() }
    }

    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn as_ref(&self) -> StreamRef<'_> {
        StreamRef::new(&self.aggregate_type, &self.stream_id)
    }
}

/// The answer of [`EventStore::find_command`] from the smallest and largest version a
/// database found stored with `command_id` on `stream` (both `None` when there is none).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn command_range(
    stream: StreamRef<'_>,
    command_id: &str,
    first: Option<i64>,
    last: Option<i64>,
) -> Result<Option<std::ops::RangeInclusive<u64>>, StoreError> {
    let version = |version: i64| {
        u64::try_from(version).ok().filter(|&v| v > 0).ok_or_else(|| {
            StoreError::corrupt(
                format!("stream {}", stream.name()),
                format!("command {command_id:?} is stored at version {version}, below 1"),
            )
        })
    };
    match (first, last) {
        (Some(first), Some(last)) => Ok(Some(version(first)?..=version(last)?)),
        _ => Ok(None),
    }
}

/// One stream: the events of one aggregate instance, addressed by type and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamRef<'a> {
    /// The aggregate type (`bank-account`).
    pub aggregate_type: &'a str,
    /// The aggregate id (`acc-1`).
    pub stream_id: &'a str,
}

/// The longest stream id or aggregate type a store accepts, in bytes.
pub const MAX_ID_LEN: usize = 255;

impl<'a> StreamRef<'a> {
    /// Names a stream.
    pub fn new(aggregate_type: &'a str, stream_id: &'a str) -> Self {
        StreamRef { aggregate_type, stream_id }
    }

    /// The owned name of the stream, for error messages.
    pub fn name(&self) -> StreamName {
        StreamName { aggregate_type: self.aggregate_type.to_owned(), stream_id: self.stream_id.to_owned() }
    }

    /// Checks both parts: not empty, at most [`MAX_ID_LEN`] bytes, no control characters.
    ///
    /// ```
    /// use factum::StreamRef;
    ///
    /// assert!(StreamRef::new("bank-account", "acc-1").validate().is_ok());
    /// let err = StreamRef::new("bank-account", "acc\n1").validate().unwrap_err();
    /// assert_eq!(err.to_string(), r#"invalid stream id "acc\n1": contains the control character U+000A"#);
    /// ```
    pub fn validate(&self) -> Result<(), StoreError> {
        validate_id("aggregate type", self.aggregate_type)?;
        validate_id("stream id", self.stream_id)
    }
}

pub(crate) fn validate_id(what: &str, id: &str) -> Result<(), StoreError> {
    // The common case first, a byte at a time: non-empty, within the limit, printable ASCII.
    if !id.is_empty() && id.len() <= MAX_ID_LEN && id.bytes().all(|b| b.wrapping_sub(0x20) < 0x5f) {
        return Ok(());
    }
    let reason = if id.is_empty() {
        Some("it is empty".to_owned())
    } else if id.len() > MAX_ID_LEN {
        Some(format!("it is {} bytes long; the limit is {MAX_ID_LEN}", id.len()))
    } else {
        id.chars().find(|c| c.is_control()).map(|c| format!("contains the control character U+{:04X}", c as u32))
    };
    match reason {
        None => Ok(()),
        Some(reason) => {
            let shown: String = id.chars().take(64).collect();
            Err(StoreError::InvalidInput { what: format!("{what} {shown:?}"), reason })
        }
    }
}

/// The checks every store makes of a [`ProcessCommit`] before it writes any of it: the
/// process name and every instance, aggregate type and stream id are valid ids, and every
/// outgoing command has a command id.
pub(crate) fn validate_process_commit(process: &str, commit: &ProcessCommit) -> Result<(), StoreError> {
    validate_id("process name", process)?;
    let instances = commit.instances.iter().map(|(instance, _)| instance);
    let instances = instances
        .chain(commit.schedule.iter().map(|d| &d.instance))
        .chain(commit.cancel.iter().map(|(instance, _)| instance))
        .chain(commit.send.iter().map(|c| &c.instance));
    for instance in instances {
        validate_id("process instance", instance)?;
    }
    for command in &commit.send {
        StreamRef::new(&command.aggregate_type, &command.stream_id).validate()?;
        if command.metadata.command_id.is_none() {
            return Err(StoreError::InvalidInput {
                what: format!("the command of process {process:?} to {}/{}", command.aggregate_type, command.stream_id),
                reason: "an outgoing command needs a command id, so that it is carried out once".to_owned(),
            });
        }
    }
    Ok(())
}

/// Whether an append refused with `error` was refused on its own account, having written
/// nothing (a conflict, a stream archived or deleted): in a group commit, the others of the
/// batch go on.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn refused_alone(error: &StoreError) -> bool {
    matches!(error, StoreError::Conflict { .. } | StoreError::Archived { .. } | StoreError::Deleted { .. })
}

/// `time` cut to the microsecond below, as SQLite and PostgreSQL store times.
pub(crate) fn to_micros_floor(time: SystemTime) -> SystemTime {
    match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(since) => SystemTime::UNIX_EPOCH + std::time::Duration::from_micros(since.as_micros() as u64),
        Err(_) => time,
    }
}

/// Which events a reader of the global log wants.
///
/// ```
/// use factum::EventFilter;
///
/// let names = ["MoneyDeposited", "MoneyWithdrawn"];
/// let filter = EventFilter::names(&names).of_aggregate("bank-account");
/// assert!(filter.matches("bank-account", "MoneyDeposited"));
/// assert!(!filter.matches("bank-account", "AccountOpened"));
/// assert!(!filter.matches("shop-order", "MoneyDeposited"));
/// assert!(EventFilter::ALL.matches("anything", "Anything"));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventFilter<'a> {
    /// Only events with one of these stored names; `None` for all.
    pub names: Option<&'a [&'a str]>,
    /// Only events of this aggregate type; `None` for all.
    pub aggregate_type: Option<&'a str>,
    /// Also the events of archived streams, which the global log leaves out otherwise.
    pub archived: bool,
}

impl<'a> EventFilter<'a> {
    /// Every event.
    pub const ALL: EventFilter<'static> = EventFilter { names: None, aggregate_type: None, archived: false };

    /// Only events with one of these stored names.
    pub fn names(names: &'a [&'a str]) -> Self {
        EventFilter { names: Some(names), aggregate_type: None, archived: false }
    }

    /// Narrows to one aggregate type.
    pub fn of_aggregate(mut self, aggregate_type: &'a str) -> Self {
        self.aggregate_type = Some(aggregate_type);
        self
    }

    /// Includes the events of archived streams.
    pub fn with_archived(mut self) -> Self {
        self.archived = true;
        self
    }

    /// True when `event` passes the filter (archived or not).
    pub fn matches(&self, aggregate_type: &str, name: &str) -> bool {
        self.names.is_none_or(|names| names.contains(&name)) && self.aggregate_type.is_none_or(|t| t == aggregate_type)
    }
}

/// Where an appended batch landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The stream's version after the append (the version of its last new event).
    pub version: u64,
    /// The global position of each new event, in order.
    pub positions: Vec<u64>,
    /// When the batch was recorded.
    pub recorded_at: std::time::SystemTime,
}

/// The serialized state of one aggregate at a version, so that loading can skip the events
/// before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The stream version the state includes.
    pub version: u64,
    /// [`AggregateType::FINGERPRINT`](crate::AggregateType::FINGERPRINT) of the state type
    /// that wrote it; a snapshot with another fingerprint is ignored and the stream replayed.
    pub fingerprint: u64,
    /// The state as JSON.
    pub state: String,
}

/// A reader's place in the global log together with what it has built so far (a
/// projection's state), stored as one row so that both move together or not at all.
///
/// ```
/// use factum::{Checkpoint, EventStore, MemoryStore, Snapshot, StreamRef};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), factum::StoreError> {
/// let store = MemoryStore::new();
/// store.save_checkpoint("balances", Checkpoint { position: 42, state: "{}".into() }).await?;
/// assert_eq!(store.load_checkpoint("balances").await?.map(|c| c.position), Some(42));
///
/// let stream = StreamRef::new("account", "a-1");
/// store.save_snapshot(stream, Snapshot { version: 500, fingerprint: 7, state: "{}".into() }).await?;
/// assert_eq!(store.load_snapshot(stream).await?.map(|s| s.version), Some(500));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The position of the last event the reader has processed.
    pub position: u64,
    /// The reader's state as JSON.
    pub state: String,
}

/// Why a runner (a projection's) last stopped, kept in the store so that it can be seen
/// from outside the process that ran it: the `factum projections` command shows it, beside
/// the runner's position and lease.
///
/// A runner records one when it stops on an error; the record stays until the next, and is
/// stale once the runner's checkpoint has moved past `position`.
///
/// ```
/// use std::time::SystemTime;
/// use factum::{EventStore, MemoryStore, RunnerFailure};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), factum::StoreError> {
/// let store = MemoryStore::new();
/// let failure = RunnerFailure { position: 41, error: "the balance went negative".into(), failed_at: SystemTime::now() };
/// store.record_failure("balances", failure).await?;
/// assert_eq!(store.load_failure("balances").await?.map(|f| f.position), Some(41));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerFailure {
    /// The position the runner had reached: the event after it is the one that failed, if
    /// an event failed.
    pub position: u64,
    /// The error, as displayed (it names the event, stream and version when one failed).
    pub error: String,
    /// When the runner stopped (stored to the microsecond).
    pub failed_at: SystemTime,
}

/// Exclusive right to run one named worker (a projection) across every process sharing a
/// store; released when dropped, or when its process dies.
pub struct Lease {
    _held: Box<dyn Send + Sync>,
}

impl Lease {
    /// A lease held for as long as `held` lives.
    pub fn new(held: impl Send + Sync + 'static) -> Self {
        Lease { _held: Box::new(held) }
    }
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Lease")
    }
}

/// A store of events: an append-only log of streams with optimistic concurrency.
///
/// Versions count from 1 within a stream (0 means "no events yet"); positions count from 1
/// across the whole store and only grow. All operations are async; implementations that
/// block (SQLite) move the work off the executor.
pub trait EventStore: Send + Sync + 'static {
    /// Appends `events` to `stream` as one atomic batch, if the stream is at `expected`.
    ///
    /// Every event carries `metadata`. If the stream has moved on, nothing is written and
    /// [`StoreError::Conflict`] says where it is.
    fn append(
        &self,
        stream: StreamRef<'_>,
        expected: u64,
        metadata: &Metadata,
        events: Vec<NewEvent>,
    ) -> impl Future<Output = Result<Appended, StoreError>> + Send;

    /// Reads the events of `stream` whose versions lie in `from..=to`, in order.
    fn read_stream(
        &self,
        stream: StreamRef<'_>,
        from: u64,
        to: u64,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send;

    /// Hands each event of `stream` whose version lies in `from..=to` to `visit`, in order,
    /// borrowed from the store: the read [`Repository`](crate::Repository) rebuilds
    /// aggregates with. Returns how many events were visited.
    ///
    /// `visit` sees only what rebuilding needs ([`StoredEvent`]: versions, position, name,
    /// payload), so a store can lend it straight from where the event lies instead of
    /// building a [`RecordedEvent`] of owned strings for each. The first error `visit`
    /// returns stops the replay and is returned. `visit` runs while the store holds what it
    /// lends (the [`MemoryStore`]'s lock, for one): it must not call the store.
    ///
    /// The default reads [`read_stream`](Self::read_stream) and lends from its result, so a
    /// store that does not override it replays correctly, only without the savings.
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
        async move {
            let events = self.read_stream(stream, from, to).await?;
            for recorded in &events {
                visit(StoredEvent::of(recorded))?;
            }
            Ok(events.len() as u64)
        }
    }

    /// Decodes each event of `stream` whose version lies in `from..=to` as `E` and hands it
    /// to `visit` with its stream version, in order: what the [`Repository`](crate::Repository)
    /// rebuilds aggregates with. An event that does not decode is
    /// [`StoreError::Decode`], naming the stream and the version; that error, or the first
    /// one `visit` returns, stops the replay and is returned. Returns how many events were
    /// visited.
    ///
    /// The default decodes what [`replay`](Self::replay) lends. A store may instead keep
    /// what it decoded and hand out clones: the [`MemoryStore`] does, so a test that loads
    /// an aggregate again does not parse its events again.
    fn replay_events<E, F>(
        &self,
        stream: StreamRef<'_>,
        from: u64,
        to: u64,
        mut visit: F,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send
    where
        E: EventSet,
        F: FnMut(u64, E) -> Result<(), StoreError> + Send,
    {
        async move {
            self.replay(stream, from, to, |stored| {
                visit(stored.stream_version, crate::repository::decode_stored(stream, &stored)?)
            })
            .await
        }
    }

    /// The current version of `stream`: 0 if it has no events.
    fn stream_version(&self, stream: StreamRef<'_>) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The versions of the events of `stream` stored with command id `command_id` (their
    /// [`Metadata::command_id`]), first to last; `None` if no event of the stream has it.
    ///
    /// The [`Repository`](crate::Repository) asks this before it decides a command that
    /// has an id, so that the command is carried out once. A command id names one append:
    /// the range runs from the first event stored with it to the last.
    fn find_command(
        &self,
        stream: StreamRef<'_>,
        command_id: &str,
    ) -> impl Future<Output = Result<Option<std::ops::RangeInclusive<u64>>, StoreError>> + Send;

    /// Reads up to `limit` events of all streams with positions after `after`, in position
    /// order, keeping those `filter` lets through.
    fn read_all(
        &self,
        after: u64,
        filter: EventFilter<'_>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send;

    /// The position of the newest event in the store: 0 if it is empty.
    fn head_position(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Waits until the store holds an event with a position after `after`.
    fn wait_for_events(&self, after: u64) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores `snapshot` as the latest of `stream`, replacing an older one; a snapshot older
    /// than the stored one is ignored.
    fn save_snapshot(
        &self,
        stream: StreamRef<'_>,
        snapshot: Snapshot,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The latest snapshot of `stream`, if any.
    fn load_snapshot(&self, stream: StreamRef<'_>)
    -> impl Future<Output = Result<Option<Snapshot>, StoreError>> + Send;

    /// The checkpoint stored under `name`, if any.
    fn load_checkpoint(&self, name: &str) -> impl Future<Output = Result<Option<Checkpoint>, StoreError>> + Send;

    /// Stores `checkpoint` under `name` in one atomic write (position and state together).
    fn save_checkpoint(
        &self,
        name: &str,
        checkpoint: Checkpoint,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes the checkpoint stored under `name` (for a rebuild from position zero).
    fn delete_checkpoint(&self, name: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records why the runner `name` stopped, replacing what was recorded before (see
    /// [`RunnerFailure`]).
    fn record_failure(&self, name: &str, failure: RunnerFailure)
    -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Why the runner `name` last stopped, if it ever did.
    fn load_failure(&self, name: &str) -> impl Future<Output = Result<Option<RunnerFailure>, StoreError>> + Send;

    /// The stored state of instance `instance` of the process manager `process`, as JSON;
    /// `None` if it never started or has ended.
    fn load_process_instance(
        &self,
        process: &str,
        instance: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// The stored states of those of `instances` of the process manager `process` that
    /// live, as `(instance, state)` pairs in any order: what a runner loads the instances a
    /// batch of events or deadlines reaches with. The default asks
    /// [`load_process_instance`](Self::load_process_instance) for each; a store may answer
    /// in one query instead.
    fn load_process_instances(
        &self,
        process: &str,
        instances: &[String],
    ) -> impl Future<Output = Result<Vec<(String, String)>, StoreError>> + Send {
        async move {
            let mut found = Vec::new();
            for instance in instances {
                if let Some(state) = self.load_process_instance(process, instance).await? {
                    found.push((instance.clone(), state));
                }
            }
            Ok(found)
        }
    }

    /// Writes everything one step of the process runner `process` changed, in one
    /// transaction: its checkpoint (stored as [`process::checkpoint_name`]), instance
    /// states, outbox and deadlines (see [`ProcessCommit`] for the order they apply in).
    ///
    /// [`process::checkpoint_name`]: crate::process::checkpoint_name
    fn commit_process(
        &self,
        process: &str,
        commit: ProcessCommit,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Up to `limit` commands of the outbox of `process` not carried out yet, oldest first
    /// (by id: ids grow, but need not be dense or start at 1).
    fn pending_commands(
        &self,
        process: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<OutgoingCommand>, StoreError>> + Send;

    /// Up to `limit` commands of `process` that an aggregate refused, in the order they were
    /// refused.
    fn rejected_commands(
        &self,
        process: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<RejectedCommand>, StoreError>> + Send;

    /// Up to `limit` deadlines of `process` due at or before `until`, earliest first (by
    /// id among those due at one time).
    fn due_deadlines(
        &self,
        process: &str,
        until: SystemTime,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<DueDeadline>, StoreError>> + Send;

    /// When the earliest stored deadline of `process` is due, if it has any.
    fn next_deadline(&self, process: &str) -> impl Future<Output = Result<Option<SystemTime>, StoreError>> + Send;

    /// Waits until this process holds the lease `name`: at most one holder at a time among
    /// every process sharing the store. Dropping the [`Lease`] releases it; if the holder's
    /// process dies, the lease passes to a waiting process.
    fn acquire_lease(&self, name: &str) -> impl Future<Output = Result<Lease, StoreError>> + Send;

    /// Forgets the person `subject` (see [`pii`](crate::pii)): destroys the keys their
    /// [`Pii`](crate::Pii) values were sealed with, removes the snapshots of the streams that
    /// hold those values and the stored state of the projections that read them, and records
    /// who asked (`by`) and when. All in one transaction; from then on the values read as
    /// [`Pii::Forgotten`](crate::Pii::Forgotten) on every path.
    ///
    /// Forgetting a subject that has no key (never seen, or forgotten already) records the
    /// request and changes nothing else. A subject seen again afterwards gets a new key.
    fn forget(&self, subject: &str, by: &str) -> impl Future<Output = Result<Forgotten, StoreError>> + Send;

    /// A number that grows whenever a subject is forgotten, through this store or (for a
    /// store shared between processes) through another process once it has heard of it.
    /// What keeps decoded data in memory (a repository's cache, a projection's state) looks
    /// at it, and drops what it holds when it has moved. Reading it costs an atomic load.
    fn forget_epoch(&self) -> u64;

    /// Archives `stream`: its events are kept and still read by name (`read_stream`, a
    /// repository's `load`), but the global log ([`read_all`](Self::read_all), so projections'
    /// catch-up and rebuilds) leaves them out unless the filter asks
    /// ([`EventFilter::with_archived`]), and appends to it are refused with
    /// [`StoreError::Archived`]. A projection that had applied them keeps what it built
    /// until it is rebuilt. Archiving an archived stream changes nothing; a stream with no
    /// events is [`StoreError::InvalidInput`], a deleted one [`StoreError::Deleted`].
    fn archive(&self, stream: StreamRef<'_>) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes `stream`, in one transaction: its events and its snapshot are removed, and a
    /// [`StreamDeleted`] notice is appended in their place (at the version after the last
    /// one, a new position of the global log), which projections may handle. From then on
    /// the stream reads as empty and appends to it are refused with
    /// [`StoreError::Deleted`]: its id is never reused. The positions of the removed events
    /// are not given again, so the global log has a gap where they were. Deleting a deleted
    /// stream changes nothing and answers the same notice; a stream with no events is
    /// [`StoreError::InvalidInput`].
    ///
    /// Projections keep what they built from the stream unless they handle the notice:
    /// deleting does not make them rebuild. Delete through
    /// [`Repository::delete`](crate::Repository::delete) so that the repository's cache drops
    /// the aggregate too.
    fn delete(&self, stream: StreamRef<'_>) -> impl Future<Output = Result<StreamDeleted, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::{MAX_ID_LEN, validate_id};

    #[test]
    fn ids_are_checked_on_the_fast_path_and_off_it() {
        for good in ["acc-1", "a b", "~", "žluťoučký kůň", "日本語", &"x".repeat(MAX_ID_LEN)] {
            assert!(validate_id("stream id", good).is_ok(), "{good:?}");
        }
        let reason = |id: &str| match validate_id("stream id", id).unwrap_err() {
            crate::StoreError::InvalidInput { reason, .. } => reason,
            other => panic!("{other}"),
        };
        assert_eq!(reason(""), "it is empty");
        assert_eq!(reason("a\u{7f}"), "contains the control character U+007F");
        assert_eq!(reason("kůň\t"), "contains the control character U+0009");
        assert_eq!(reason("a\u{85}b"), "contains the control character U+0085");
        assert_eq!(
            reason(&"y".repeat(MAX_ID_LEN + 1)),
            format!("it is {} bytes long; the limit is {MAX_ID_LEN}", MAX_ID_LEN + 1)
        );
    }
}
