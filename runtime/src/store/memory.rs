//! `MemoryStore`: the whole log in one process's memory. For tests, examples and caches.

use std::any::Any;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use tokio::sync::watch;

use super::{
    Appended, Checkpoint, EventFilter, EventStore, Lease, RunnerFailure, Snapshot, StreamDeleted, StreamRef, no_events,
};
use crate::envelope::{EventMeta, Metadata, NewEvent, RecordedEvent, StoredEvent};
use crate::error::StoreError;
use crate::event::{Event, EventSet};
use crate::pii::seal::{Opener, Sealing, is_sealed, needs_sealing, seal};
use crate::pii::{Forgotten, KeyWrap, Keyring, SubjectKey, holds_state};
use crate::process::{DueDeadline, NewDeadline, OutgoingCommand, ProcessCommit, RejectedCommand, checkpoint_name};
use crate::repository::decode_stored;

/// An event store held in memory: fast, shared by clones, gone when the process ends.
///
/// Clones share one log, so a clone can be handed to each task or repository.
///
/// The first time a stream is replayed as an aggregate's events
/// ([`replay_events`](EventStore::replay_events), what a [`Repository`](crate::Repository)
/// loads with), the store keeps the decoded events beside their JSON, and later loads of
/// that stream clone them instead of parsing again: a test that loads an aggregate many
/// times pays for decoding once. That holds the events about twice in memory.
///
/// ```
/// use factum::{EventFilter, EventStore, MemoryStore, Metadata, NewEvent, StreamRef};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), factum::StoreError> {
/// let store = MemoryStore::new();
/// let stream = StreamRef::new("counter", "c-1");
/// let event = NewEvent { name: "Incremented", version: 1, payload: r#"{"by":1}"#.into() };
/// store.append(stream, 0, &Metadata::new(), vec![event.clone()]).await?;
///
/// // Appending against a stale version is a conflict, and writes nothing.
/// assert!(store.append(stream, 0, &Metadata::new(), vec![event]).await.is_err());
/// assert_eq!(store.stream_version(stream).await?, 1);
/// assert_eq!(store.read_all(0, EventFilter::ALL, 100).await?.len(), 1);
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

struct Inner {
    log: Mutex<Log>,
    head: watch::Sender<u64>,
    /// One lock per lease name.
    leases: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Grows at each `forget` that destroyed a key.
    forget_epoch: AtomicU64,
}

impl Default for Inner {
    fn default() -> Self {
        Inner {
            log: Mutex::default(),
            head: watch::Sender::new(0),
            leases: Mutex::default(),
            forget_epoch: AtomicU64::new(0),
        }
    }
}

#[derive(Default)]
struct Log {
    /// Every event, in position order: position `p` is at index `p - 1`.
    events: Vec<Row>,
    /// For each stream, its names and the log index of each of its events, in version order;
    /// by aggregate type, then stream id (two levels, so that a lookup borrows the names
    /// instead of allocating a key).
    streams: HashMap<String, HashMap<String, Stream>>,
    snapshots: HashMap<(String, String), Snapshot>,
    checkpoints: HashMap<String, Checkpoint>,
    failures: HashMap<String, RunnerFailure>,
    /// The tables of each process manager, by name.
    processes: HashMap<String, ProcessTables>,
    /// Subjects' keys.
    keys: Keys,
}

/// Subjects' keys, and what forgetting one must clean.
#[derive(Default)]
struct Keys {
    keyring: Keyring,
    /// By id: the subject and the key as stored (wrapped, with a master key).
    by_id: BTreeMap<u64, (String, Vec<u8>)>,
    /// The key new values of each subject are sealed with.
    current: HashMap<String, u64>,
    /// For each key: the streams holding values it sealed, and the first position of one.
    used: HashMap<u64, (BTreeSet<(String, String)>, u64)>,
    /// The last key id given: ids are never reused.
    last: u64,
    /// The audit of `forget`, oldest first.
    forgotten: Vec<Forgotten>,
}

impl Keys {
    /// The current key of `subject`, made if it has none.
    fn current(&mut self, subject: &str) -> Result<(u64, SubjectKey), StoreError> {
        if let Some(&id) = self.current.get(subject) {
            return Ok((id, self.keyring.key(id, &self.by_id[&id].1)?));
        }
        let (key, stored) = self.keyring.new_key()?;
        self.last += 1;
        self.by_id.insert(self.last, (subject.to_owned(), stored));
        self.current.insert(subject.to_owned(), self.last);
        Ok((self.last, key))
    }

    /// What opens the values sealed with these keys.
    fn opener(&self) -> Opener<impl FnMut(u64) -> Result<Option<SubjectKey>, StoreError> + '_> {
        Opener::new(|id| self.by_id.get(&id).map(|(_, stored)| self.keyring.key(id, stored)).transpose())
    }
}

/// What a process runner keeps: instance states, the outbox, refused commands, deadlines.
#[derive(Default)]
struct ProcessTables {
    instances: HashMap<String, String>,
    outbox: BTreeMap<u64, OutgoingCommand>,
    rejected: Vec<RejectedCommand>,
    deadlines: BTreeMap<u64, NewDeadline>,
    /// The ids of each instance's deadlines, so that ending or cancelling touches only its own.
    deadlines_of: HashMap<String, Vec<u64>>,
    /// The deadlines by due time, then id: what `due_deadlines` reads from the front.
    by_due: BTreeSet<(SystemTime, u64)>,
    /// The last id given to an outbox entry and to a deadline: ids are never reused.
    last_command: u64,
    last_deadline: u64,
}

/// One stream: its names, shared by its events, and where its events are in the log.
struct Stream {
    names: Arc<StreamNames>,
    indexes: Vec<usize>,
    /// Its first events as [`replay_events`](EventStore::replay_events) decoded them, a
    /// `Vec<E>` in version order for the event type `E` that asked first: a later replay of
    /// that type clones them instead of parsing the payloads again. The payloads stay the
    /// stored truth; this is what they decode to.
    decoded: Option<Box<dyn Any + Send + Sync>>,
    /// The versions each command id stored ([`Metadata::command_id`]), first to last.
    commands: HashMap<String, RangeInclusive<u64>>,
    /// Set by `delete`: the version of the last event the stream had.
    deleted: Option<u64>,
}

struct StreamNames {
    aggregate_type: String,
    stream_id: String,
    /// Set by `archive`: the global log leaves the stream's events out.
    archived: AtomicBool,
}

/// A stored event. What events share is stored once and shared: the stream's names (per
/// stream), the command's metadata (per batch, and not at all when empty); the event's name
/// is the `&'static str` it was appended with. So the event's own payload is its only
/// allocation, and a [`replay`](EventStore::replay) lends everything it needs from here.
struct Row {
    stream: Arc<StreamNames>,
    stream_version: u64,
    name: &'static str,
    event_version: u32,
    recorded_at: SystemTime,
    metadata: Option<Arc<Metadata>>,
    payload: String,
    /// Its stream was deleted: the row keeps its place (a position is an index), emptied.
    removed: bool,
    /// Its payload holds sealed values, to open when it is read: known at append, so that
    /// reads of the others do not look.
    sealed: bool,
}

impl Row {
    /// Its payload with its sealed values opened (lent as it is when it has none).
    fn open<'r, F>(&'r self, opener: &mut Opener<F>, at: &Sealing<'_>) -> Result<Cow<'r, str>, StoreError>
    where
        F: FnMut(u64) -> Result<Option<SubjectKey>, StoreError>,
    {
        if self.sealed { opener.open(&self.payload, at) } else { Ok(Cow::Borrowed(&self.payload)) }
    }

    /// [`recorded`](Self::recorded), its sealed values opened.
    fn opened<F>(&self, index: usize, opener: &mut Opener<F>) -> Result<RecordedEvent, StoreError>
    where
        F: FnMut(u64) -> Result<Option<SubjectKey>, StoreError>,
    {
        let mut event = self.recorded(index);
        if self.sealed {
            opener.open_recorded(&mut event)?;
        }
        Ok(event)
    }

    /// The owned copy [`read_stream`](EventStore::read_stream) and
    /// [`read_all`](EventStore::read_all) hand out; `index` is the row's place in the log.
    fn recorded(&self, index: usize) -> RecordedEvent {
        RecordedEvent {
            meta: EventMeta {
                aggregate_type: self.stream.aggregate_type.clone(),
                stream_id: self.stream.stream_id.clone(),
                stream_version: self.stream_version,
                position: index as u64 + 1,
                event_name: self.name.to_owned(),
                event_version: self.event_version,
                recorded_at: self.recorded_at,
                metadata: self.metadata.as_deref().cloned().unwrap_or_default(),
            },
            payload: self.payload.clone(),
        }
    }
}

impl Log {
    fn stream(&self, stream: StreamRef<'_>) -> Option<&Stream> {
        self.streams.get(stream.aggregate_type)?.get(stream.stream_id)
    }

    /// The log indexes of the events of `stream` with versions in `from..=to`.
    fn range(&self, stream: StreamRef<'_>, from: u64, to: u64) -> &[usize] {
        range(&self.streams, stream, from, to)
    }
}

/// [`Log::range`], on the streams alone, so that the rows can be borrowed mutably beside it.
fn range<'a>(
    streams: &'a HashMap<String, HashMap<String, Stream>>,
    stream: StreamRef<'_>,
    from: u64,
    to: u64,
) -> &'a [usize] {
    let Some(stream) = streams.get(stream.aggregate_type).and_then(|of_type| of_type.get(stream.stream_id)) else {
        return &[];
    };
    let first = from.max(1);
    let last = to.min(stream.indexes.len() as u64);
    if first > last {
        return &[];
    }
    &stream.indexes[(first - 1) as usize..last as usize]
}

impl ProcessTables {
    /// Removes deadline `id` from the table and both indexes.
    fn remove_deadline(&mut self, id: u64) {
        let Some(deadline) = self.deadlines.remove(&id) else { return };
        self.by_due.remove(&(deadline.due_at, id));
        if let Some(ids) = self.deadlines_of.get_mut(&deadline.instance) {
            ids.retain(|&other| other != id);
            if ids.is_empty() {
                self.deadlines_of.remove(&deadline.instance);
            }
        }
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores subjects' keys wrapped by `wrap` (see [`KeyWrap`]). Call it before the first
    /// append: keys stored before are read as they are.
    pub fn with_key_wrap(self, wrap: impl KeyWrap) -> Self {
        self.log().keys.keyring = Keyring::wrapped_by(wrap);
        self
    }

    /// The audit of [`forget`](EventStore::forget): every request, oldest first.
    pub fn forgotten(&self) -> Vec<Forgotten> {
        self.log().keys.forgotten.clone()
    }

    /// The payload of the event at `position` as the store holds it, its personal data
    /// sealed: what a copy of the storage would show, for tests that check what is at rest.
    pub fn stored_payload(&self, position: u64) -> Option<String> {
        let index = usize::try_from(position.checked_sub(1)?).ok()?;
        self.log().events.get(index).map(|row| row.payload.clone())
    }

    fn log(&self) -> MutexGuard<'_, Log> {
        // A panic while holding the lock cannot leave a half-written batch: appends are
        // validated before the first push. So a poisoned lock is still consistent.
        self.inner.log.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let log = self.log();
        f.debug_struct("MemoryStore")
            .field("events", &log.events.len())
            .field("streams", &log.streams.values().map(HashMap::len).sum::<usize>())
            .finish()
    }
}

impl EventStore for MemoryStore {
    async fn append(
        &self,
        stream: StreamRef<'_>,
        expected: u64,
        metadata: &Metadata,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        stream.validate()?;
        let recorded_at = SystemTime::now();
        let mut log = self.log();
        let log = &mut *log;
        // One lookup for a stream that exists; a new one is created only by a valid append.
        let of_type = match log.streams.get_mut(stream.aggregate_type) {
            Some(of_type) => of_type,
            None if expected == 0 => log.streams.entry(stream.aggregate_type.to_owned()).or_default(),
            None => return Err(StoreError::Conflict { stream: stream.name(), expected, actual: 0 }),
        };
        let entry = match of_type.get_mut(stream.stream_id) {
            Some(entry) => entry,
            None if expected == 0 => of_type.entry(stream.stream_id.to_owned()).or_insert_with(|| Stream {
                names: Arc::new(StreamNames {
                    aggregate_type: stream.aggregate_type.to_owned(),
                    stream_id: stream.stream_id.to_owned(),
                    archived: AtomicBool::new(false),
                }),
                indexes: Vec::new(),
                decoded: None,
                commands: HashMap::new(),
                deleted: None,
            }),
            None => return Err(StoreError::Conflict { stream: stream.name(), expected, actual: 0 }),
        };
        if let Some(version) = entry.deleted {
            return Err(StoreError::Deleted { stream: stream.name(), version });
        }
        if entry.names.archived.load(Ordering::Relaxed) {
            return Err(StoreError::Archived { stream: stream.name() });
        }
        let actual = entry.indexes.len() as u64;
        if actual != expected {
            return Err(StoreError::Conflict { stream: stream.name(), expected, actual });
        }
        // Sealed before anything is pushed: a value that cannot be sealed refuses the batch.
        let mut events = events;
        let mut used = Vec::new();
        for (offset, event) in events.iter_mut().enumerate() {
            if needs_sealing(&event.payload) {
                let at = Sealing {
                    aggregate_type: stream.aggregate_type,
                    stream_id: stream.stream_id,
                    stream_version: expected + offset as u64 + 1,
                    event_name: event.name,
                    event_version: event.version,
                };
                let position = log.events.len() as u64 + offset as u64 + 1;
                event.payload = seal(&event.payload, &at, |subject| {
                    let (id, key) = log.keys.current(subject)?;
                    used.push((id, position));
                    Ok((id, key))
                })?;
            }
        }
        for (id, position) in used {
            let (streams, first) = log.keys.used.entry(id).or_insert_with(|| (BTreeSet::new(), position));
            streams.insert((stream.aggregate_type.to_owned(), stream.stream_id.to_owned()));
            *first = (*first).min(position);
        }
        let metadata = (!metadata.is_empty()).then(|| Arc::new(metadata.clone()));
        let mut positions = Vec::with_capacity(events.len());
        for (offset, event) in events.into_iter().enumerate() {
            let index = log.events.len();
            positions.push(index as u64 + 1);
            entry.indexes.push(index);
            // Sealed above, or sealed already (a payload copied from another store).
            let sealed = is_sealed(&event.payload);
            log.events.push(Row {
                stream: Arc::clone(&entry.names),
                stream_version: expected + offset as u64 + 1,
                name: event.name,
                event_version: event.version,
                recorded_at,
                metadata: metadata.clone(),
                payload: event.payload,
                removed: false,
                sealed,
            });
        }
        let head = log.events.len() as u64;
        let version = entry.indexes.len() as u64;
        if let Some(command_id) = metadata.as_deref().and_then(|m| m.command_id.as_deref())
            && version > expected
        {
            let stored = (expected + 1)..=version;
            entry
                .commands
                .entry(command_id.to_owned())
                .and_modify(|known| *known = (*known.start()).min(expected + 1)..=(*known.end()).max(version))
                .or_insert(stored);
        }
        self.inner.head.send_replace(head);
        Ok(Appended { version, positions, recorded_at })
    }

    async fn read_stream(&self, stream: StreamRef<'_>, from: u64, to: u64) -> Result<Vec<RecordedEvent>, StoreError> {
        let log = self.log();
        let mut opener = log.keys.opener();
        log.range(stream, from, to).iter().map(|&i| log.events[i].opened(i, &mut opener)).collect()
    }

    /// Lends each event from the log, under its lock: appends wait until the replay is over.
    async fn replay<F>(&self, stream: StreamRef<'_>, from: u64, to: u64, mut visit: F) -> Result<u64, StoreError>
    where
        F: FnMut(StoredEvent<'_>) -> Result<(), StoreError> + Send,
    {
        let log = self.log();
        let indexes = log.range(stream, from, to);
        let mut opener = log.keys.opener();
        for &i in indexes {
            let row = &log.events[i];
            let mut stored = StoredEvent {
                stream_version: row.stream_version,
                position: i as u64 + 1,
                event_name: row.name,
                event_version: row.event_version,
                payload: &row.payload,
            };
            let opened = row.open(&mut opener, &Sealing::stored(stream, &stored))?;
            stored.payload = &opened;
            visit(stored)?;
        }
        Ok(indexes.len() as u64)
    }

    /// Decodes each event the first time a type asks for it, and keeps the decoded events
    /// with the stream: a later replay of the same type clones them (no parsing, and an
    /// allocation only where an event itself holds one). Another type asking decodes the
    /// payloads as usual. Under the log's lock, like [`replay`](EventStore::replay).
    async fn replay_events<E, F>(
        &self,
        stream: StreamRef<'_>,
        from: u64,
        to: u64,
        mut visit: F,
    ) -> Result<u64, StoreError>
    where
        E: EventSet,
        F: FnMut(u64, E) -> Result<(), StoreError> + Send,
    {
        let mut log = self.log();
        let Log { events, streams, keys, .. } = &mut *log;
        let mut opener = keys.opener();
        let Some(found) = streams.get_mut(stream.aggregate_type).and_then(|of_type| of_type.get_mut(stream.stream_id))
        else {
            return Ok(0);
        };
        let (first, last) = (from.max(1), to.min(found.indexes.len() as u64));
        if first > last {
            return Ok(0);
        }
        let decoded = found.decoded.get_or_insert_with(|| Box::new(Vec::<E>::new()));
        let mut kept = decoded.downcast_mut::<Vec<E>>();
        for version in first..=last {
            let index = (version - 1) as usize;
            if let Some(event) = kept.as_deref().and_then(|kept| kept.get(index)) {
                visit(version, event.clone())?;
                continue;
            }
            let i = found.indexes[index];
            let row = &events[i];
            let mut stored = StoredEvent {
                stream_version: row.stream_version,
                position: i as u64 + 1,
                event_name: row.name,
                event_version: row.event_version,
                payload: &row.payload,
            };
            let opened = row.open(&mut opener, &Sealing::stored(stream, &stored))?;
            stored.payload = &opened;
            let event = decode_stored::<E>(stream, &stored)?;
            // Kept only where it extends the decoded prefix without a gap.
            match kept.as_deref_mut() {
                Some(kept) if kept.len() == index => kept.push(event.clone()),
                _ => {}
            }
            visit(version, event)?;
        }
        Ok(last - first + 1)
    }

    async fn stream_version(&self, stream: StreamRef<'_>) -> Result<u64, StoreError> {
        let log = self.log();
        // A deleted stream is at the version of its notice, so that its id is never reused.
        Ok(log.stream(stream).map_or(0, |s| s.deleted.map_or(s.indexes.len() as u64, |version| version + 1)))
    }

    async fn find_command(
        &self,
        stream: StreamRef<'_>,
        command_id: &str,
    ) -> Result<Option<RangeInclusive<u64>>, StoreError> {
        let log = self.log();
        Ok(log.stream(stream).and_then(|s| s.commands.get(command_id)).cloned())
    }

    async fn read_all(
        &self,
        after: u64,
        filter: EventFilter<'_>,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let log = self.log();
        let start = usize::try_from(after).unwrap_or(usize::MAX).min(log.events.len());
        let mut opener = log.keys.opener();
        log.events[start..]
            .iter()
            .enumerate()
            .filter(|(_, row)| {
                !row.removed
                    && (filter.archived || !row.stream.archived.load(Ordering::Relaxed))
                    && filter.matches(&row.stream.aggregate_type, row.name)
            })
            .take(limit)
            .map(|(offset, row)| row.opened(start + offset, &mut opener))
            .collect()
    }

    async fn head_position(&self) -> Result<u64, StoreError> {
        Ok(*self.inner.head.borrow())
    }

    async fn wait_for_events(&self, after: u64) -> Result<(), StoreError> {
        let mut head = self.inner.head.subscribe();
        // The sender lives as long as `self`, so `wait_for` cannot fail while we hold `self`;
        // should that ever change, the waiter hears of it rather than returning as if woken.
        match head.wait_for(|&h| h > after).await {
            Ok(_) => Ok(()),
            Err(closed) => {
                Err(StoreError::Backend(format!("waiting for events after position {after}: {closed}").into()))
            }
        }
    }

    async fn save_snapshot(&self, stream: StreamRef<'_>, snapshot: Snapshot) -> Result<(), StoreError> {
        stream.validate()?;
        let mut log = self.log();
        let key = (stream.aggregate_type.to_owned(), stream.stream_id.to_owned());
        match log.snapshots.get(&key) {
            Some(stored) if stored.version > snapshot.version => {}
            _ => {
                log.snapshots.insert(key, snapshot);
            }
        }
        Ok(())
    }

    async fn load_snapshot(&self, stream: StreamRef<'_>) -> Result<Option<Snapshot>, StoreError> {
        let key = (stream.aggregate_type.to_owned(), stream.stream_id.to_owned());
        Ok(self.log().snapshots.get(&key).cloned())
    }

    async fn load_checkpoint(&self, name: &str) -> Result<Option<Checkpoint>, StoreError> {
        Ok(self.log().checkpoints.get(name).cloned())
    }

    async fn save_checkpoint(&self, name: &str, checkpoint: Checkpoint) -> Result<(), StoreError> {
        super::validate_id("checkpoint name", name)?;
        self.log().checkpoints.insert(name.to_owned(), checkpoint);
        Ok(())
    }

    async fn delete_checkpoint(&self, name: &str) -> Result<(), StoreError> {
        self.log().checkpoints.remove(name);
        Ok(())
    }

    async fn record_failure(&self, name: &str, failure: RunnerFailure) -> Result<(), StoreError> {
        super::validate_id("runner name", name)?;
        self.log().failures.insert(name.to_owned(), failure);
        Ok(())
    }

    async fn load_failure(&self, name: &str) -> Result<Option<RunnerFailure>, StoreError> {
        Ok(self.log().failures.get(name).cloned())
    }

    async fn load_process_instance(&self, process: &str, instance: &str) -> Result<Option<String>, StoreError> {
        Ok(self.log().processes.get(process).and_then(|tables| tables.instances.get(instance)).cloned())
    }

    async fn commit_process(&self, process: &str, commit: ProcessCommit) -> Result<(), StoreError> {
        super::validate_process_commit(process, &commit)?;
        let mut log = self.log();
        if let Some(position) = commit.position {
            log.checkpoints.insert(checkpoint_name(process), Checkpoint { position, state: String::new() });
        }
        let tables = log.processes.entry(process.to_owned()).or_default();
        for (instance, state) in commit.instances {
            match state {
                Some(state) => {
                    tables.instances.insert(instance, state);
                }
                None => {
                    tables.instances.remove(&instance);
                    for id in tables.deadlines_of.get(&instance).cloned().unwrap_or_default() {
                        tables.remove_deadline(id);
                    }
                }
            }
        }
        for id in commit.sent {
            tables.outbox.remove(&id);
        }
        let rejected_at = super::to_micros_floor(SystemTime::now());
        for (id, error) in commit.rejected {
            if let Some(command) = tables.outbox.remove(&id) {
                tables.rejected.push(RejectedCommand { command, error, rejected_at });
            }
        }
        for id in commit.fired {
            tables.remove_deadline(id);
        }
        for (instance, kind) in &commit.cancel {
            let ids = tables.deadlines_of.get(instance).cloned().unwrap_or_default();
            for id in ids {
                if tables.deadlines.get(&id).is_some_and(|deadline| deadline.kind == *kind) {
                    tables.remove_deadline(id);
                }
            }
        }
        for mut command in commit.send {
            tables.last_command += 1;
            command.id = tables.last_command;
            tables.outbox.insert(command.id, command);
        }
        for mut deadline in commit.schedule {
            deadline.due_at = super::to_micros_floor(deadline.due_at);
            tables.last_deadline += 1;
            let id = tables.last_deadline;
            tables.deadlines_of.entry(deadline.instance.clone()).or_default().push(id);
            tables.by_due.insert((deadline.due_at, id));
            tables.deadlines.insert(id, deadline);
        }
        Ok(())
    }

    async fn pending_commands(&self, process: &str, limit: usize) -> Result<Vec<OutgoingCommand>, StoreError> {
        let log = self.log();
        let Some(tables) = log.processes.get(process) else { return Ok(Vec::new()) };
        Ok(tables.outbox.values().take(limit).cloned().collect())
    }

    async fn rejected_commands(&self, process: &str, limit: usize) -> Result<Vec<RejectedCommand>, StoreError> {
        let log = self.log();
        let Some(tables) = log.processes.get(process) else { return Ok(Vec::new()) };
        Ok(tables.rejected.iter().take(limit).cloned().collect())
    }

    async fn due_deadlines(
        &self,
        process: &str,
        until: SystemTime,
        limit: usize,
    ) -> Result<Vec<DueDeadline>, StoreError> {
        let log = self.log();
        let Some(tables) = log.processes.get(process) else { return Ok(Vec::new()) };
        // Stored to the microsecond, as the other stores keep it.
        let until = super::to_micros_floor(until);
        let due = tables.by_due.iter().take_while(|(due_at, _)| *due_at <= until).take(limit);
        Ok(due.map(|&(_, id)| DueDeadline { id, deadline: tables.deadlines[&id].clone() }).collect())
    }

    async fn next_deadline(&self, process: &str) -> Result<Option<SystemTime>, StoreError> {
        let log = self.log();
        Ok(log.processes.get(process).and_then(|tables| tables.by_due.first().map(|&(due_at, _)| due_at)))
    }

    async fn acquire_lease(&self, name: &str) -> Result<Lease, StoreError> {
        super::validate_id("lease name", name)?;
        let lock = {
            let mut leases = self.inner.leases.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(leases.entry(name.to_owned()).or_default())
        };
        Ok(Lease::new(lock.lock_owned().await))
    }

    async fn forget(&self, subject: &str, by: &str) -> Result<Forgotten, StoreError> {
        super::validate_id("subject", subject)?;
        let at = super::to_micros_floor(SystemTime::now());
        let mut log = self.log();
        let log = &mut *log;
        let ids: Vec<u64> = log.keys.by_id.iter().filter(|(_, (of, _))| of == subject).map(|(&id, _)| id).collect();
        let (mut streams, mut first) = (BTreeSet::new(), u64::MAX);
        for id in &ids {
            log.keys.by_id.remove(id);
            if let Some((used, at)) = log.keys.used.remove(id) {
                streams.extend(used);
                first = first.min(at);
            }
        }
        log.keys.current.remove(subject);
        let mut snapshots = 0;
        for (aggregate_type, stream_id) in &streams {
            snapshots += u64::from(log.snapshots.remove(&(aggregate_type.clone(), stream_id.clone())).is_some());
            // The decoded events kept for replays hold the values in the clear.
            if let Some(kept) = log.streams.get_mut(aggregate_type).and_then(|of_type| of_type.get_mut(stream_id)) {
                kept.decoded = None;
            }
        }
        let mut checkpoints: Vec<String> = log
            .checkpoints
            .iter()
            .filter(|(name, checkpoint)| holds_state(name) && checkpoint.position >= first)
            .map(|(name, _)| name.clone())
            .collect();
        checkpoints.sort();
        for name in &checkpoints {
            log.checkpoints.remove(name);
        }
        let forgotten = Forgotten {
            subject: subject.to_owned(),
            by: by.to_owned(),
            at,
            keys: ids.len() as u64,
            snapshots,
            checkpoints,
        };
        log.keys.forgotten.push(forgotten.clone());
        if !ids.is_empty() {
            self.inner.forget_epoch.fetch_add(1, Ordering::SeqCst);
        }
        Ok(forgotten)
    }

    fn forget_epoch(&self) -> u64 {
        self.inner.forget_epoch.load(Ordering::SeqCst)
    }

    async fn archive(&self, stream: StreamRef<'_>) -> Result<(), StoreError> {
        stream.validate()?;
        let log = self.log();
        let Some(entry) = log.stream(stream) else { return Err(no_events(stream, "archive")) };
        if let Some(version) = entry.deleted {
            return Err(StoreError::Deleted { stream: stream.name(), version });
        }
        if entry.indexes.is_empty() {
            return Err(no_events(stream, "archive"));
        }
        entry.names.archived.store(true, Ordering::Relaxed);
        Ok(())
    }

    async fn delete(&self, stream: StreamRef<'_>) -> Result<StreamDeleted, StoreError> {
        stream.validate()?;
        let mut log = self.log();
        let Log { events, streams, snapshots, .. } = &mut *log;
        let Some(entry) = streams.get_mut(stream.aggregate_type).and_then(|of_type| of_type.get_mut(stream.stream_id))
        else {
            return Err(no_events(stream, "delete"));
        };
        if let Some(version) = entry.deleted {
            return Ok(StreamDeleted { version });
        }
        if entry.indexes.is_empty() {
            return Err(no_events(stream, "delete"));
        }
        let notice = StreamDeleted { version: entry.indexes.len() as u64 };
        for &i in &entry.indexes {
            let row = &mut events[i];
            row.removed = true;
            row.payload = String::new();
            row.metadata = None;
        }
        entry.indexes.clear();
        entry.decoded = None;
        entry.commands.clear();
        entry.deleted = Some(notice.version);
        entry.names.archived.store(false, Ordering::Relaxed);
        events.push(Row {
            stream: Arc::clone(&entry.names),
            stream_version: notice.version + 1,
            name: StreamDeleted::NAME,
            event_version: StreamDeleted::VERSION,
            recorded_at: SystemTime::now(),
            metadata: None,
            payload: notice.payload(),
            removed: false,
            sealed: false,
        });
        snapshots.remove(&(stream.aggregate_type.to_owned(), stream.stream_id.to_owned()));
        self.inner.head.send_replace(events.len() as u64);
        Ok(notice)
    }
}
