//! `Repository`: runs commands against aggregates and stores what they decide.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::aggregate::Aggregate;
use crate::cache::{Cache, Cached};
use crate::envelope::{EventEnvelope, EventMeta, Metadata, NewEvent, RecordedEvent, StoredEvent};
use crate::error::{ExecuteError, ProjectionError, StoreError};
use crate::event::EventSet;
use crate::health::RunnerHealth;
use crate::projection::InlineProjection;
use crate::snapshot::{Policy, Unusable};
use crate::store::{Appended, EventStore, StreamDeleted, StreamRef};
use crate::trace::{Instrument, Span, debug, field, info_span, warn};

/// How often a command is tried when its stream moves on between reading and appending.
///
/// On a conflict the repository reads the events it missed, applies them, and decides the
/// command again against the new state; after `max_attempts` it gives up with
/// [`ExecuteError::Conflict`].
///
/// ```
/// use std::time::Duration;
/// use factum::RetryPolicy;
///
/// // Fail fast: a web request would rather answer 409 than wait.
/// let policy = RetryPolicy { max_attempts: 3, backoff: Duration::from_millis(5) };
/// assert_eq!(RetryPolicy::default().max_attempts, 10);
/// # let _ = policy;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// Pause before the third attempt (the second is immediate: the missed events were
    /// just read), doubled before each later one, and spread at random between half and one
    /// and a half times that, so that writers that collided do not collide again in
    /// lockstep. Zero: always retry at once.
    pub backoff: Duration,
}

impl Default for RetryPolicy {
    /// Ten attempts, backing off from 1 ms.
    fn default() -> Self {
        RetryPolicy { max_attempts: 10, backoff: Duration::from_millis(1) }
    }
}

/// `base` spread uniformly over `[base/2, 3·base/2)`.
fn jittered(base: Duration) -> Duration {
    use std::hash::{BuildHasher, RandomState};
    // A fresh `RandomState` is randomly keyed: enough spread without a `rand` dependency.
    let random = RandomState::new().hash_one(std::time::SystemTime::now());
    let fraction = (random % 1024) as u32;
    base / 2 + base * fraction / 1024
}

/// The outcome of a command that was accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Committed<E> {
    /// The stream's version after the command (unchanged if it recorded nothing).
    pub version: u64,
    /// The events recorded, in order (empty if the command decided nothing happened).
    pub events: Vec<E>,
    /// The global position of each recorded event.
    pub positions: Vec<u64>,
    /// How many times the command was decided (1 unless it met a conflict; 0 when its
    /// [command id](crate::Metadata::command_id) was stored already, and these are the
    /// version, events and positions of its first execution).
    pub attempts: u32,
}

/// An aggregate's state at a version.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded<A> {
    /// The state.
    pub state: A,
    /// The version of the last event applied to it.
    pub version: u64,
}

/// Executes commands against the aggregates of type `A` kept in the store `S`.
///
/// Hot aggregates stay cached with their version, so a command does not replay its stream:
/// the repository decides against the cached state and appends with that version expected.
/// If another writer got there first, the store reports a conflict, and the repository reads
/// only the events it missed and tries again ([`RetryPolicy`]). Commands on one aggregate are
/// serialized within a repository.
///
/// ```
/// use factum::prelude::*;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// pub struct Renamed { pub name: String }
///
/// #[derive(Aggregate, Default, Debug, Clone)]
/// pub struct Profile { name: String }
///
/// #[handlers]
/// impl Profile {
///     #[command]
///     pub fn rename(&self, name: String) -> Result<Option<Renamed>, std::convert::Infallible> {
///         Ok((name != self.name).then_some(Renamed { name }))
///     }
///
///     #[apply]
///     fn renamed(&mut self, e: &Renamed) { self.name = e.name.clone(); }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let profiles = Repository::<Profile, _>::new(MemoryStore::new());
/// profiles.execute("p-1", ProfileCommand::Rename { name: "Ada".into() }).await?;
/// let same = profiles.execute("p-1", ProfileCommand::Rename { name: "Ada".into() }).await?;
/// assert!(same.events.is_empty()); // nothing happened, nothing stored
///
/// let loaded = profiles.load("p-1").await?.expect("p-1 has events");
/// assert_eq!((loaded.state.name.as_str(), loaded.version), ("Ada", 1));
/// assert!(profiles.load("p-2").await?.is_none());
/// # Ok(()) }
/// ```
pub struct Repository<A: Aggregate, S: EventStore> {
    store: S,
    services: A::Services,
    cache: Cache<A>,
    retry: RetryPolicy,
    inline: Vec<Arc<dyn InlineProjection>>,
}

/// How many aggregates a repository keeps cached unless told otherwise.
pub const DEFAULT_CACHE_CAPACITY: usize = 10_000;

impl<A: Aggregate, S: EventStore> Repository<A, S>
where
    A::Services: Default,
{
    /// A repository over `store`, for an aggregate whose commands need no services.
    pub fn new(store: S) -> Self {
        Self::with_services(store, A::Services::default())
    }
}

impl<A: Aggregate, S: EventStore> Repository<A, S> {
    /// A repository over `store`, handing `services` to every command that asks for them.
    pub fn with_services(store: S, services: A::Services) -> Self {
        Repository {
            store,
            services,
            cache: Cache::new(DEFAULT_CACHE_CAPACITY),
            retry: RetryPolicy::default(),
            inline: Vec::new(),
        }
    }

    /// Sets the retry policy for concurrency conflicts.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        assert!(retry.max_attempts >= 1, "RetryPolicy::max_attempts must be at least 1");
        self.retry = retry;
        self
    }

    /// Updates `projection` after every commit, before `execute` returns, so that a caller
    /// reads its own writes. The projection must read the same store.
    ///
    /// The repository hands the events it just appended to the projection
    /// ([`InlineProjection::apply_committed`]) rather than have it read them back from the
    /// log; a [`ProjectionRunner`](crate::ProjectionRunner) applies them if they follow its
    /// position and otherwise catches up from the log, so a runner shared by several
    /// repositories, or also fed by [`run`](crate::ProjectionRunner::run), still sees every
    /// event once and in order. Its checkpoint follows the runner's
    /// [policy](crate::projection#when-the-checkpoint-is-written): call
    /// [`save_checkpoint`](crate::ProjectionRunner::save_checkpoint) on a clean shutdown.
    pub fn with_inline(mut self, projection: Arc<dyn InlineProjection>) -> Self {
        self.inline.push(projection);
        self
    }

    /// Keeps at most `capacity` aggregates cached (0 turns the cache off).
    pub fn with_cache_capacity(mut self, capacity: usize) -> Self {
        self.cache = Cache::new(capacity);
        self
    }

    /// The store underneath.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The services handed to commands.
    pub fn services(&self) -> &A::Services {
        &self.services
    }

    /// Decides `command` against aggregate `id` and stores the events it records.
    pub async fn execute(&self, id: &str, command: A::Command) -> Result<Committed<A::Event>, ExecuteError<A::Error>>
    where
        A::Command: Clone,
    {
        self.execute_with(id, command, Metadata::default()).await
    }

    /// Like [`execute`](Self::execute), storing `metadata` (correlation and causation ids,
    /// free key/values) with every recorded event.
    ///
    /// # Command ids
    ///
    /// With a [`command_id`](Metadata::command_id), the command is carried out at most once
    /// on its stream: if events with that id are stored there already, nothing is decided or
    /// appended, and the answer is what the first execution committed (its version, events
    /// and positions, read back from the store) with `attempts` 0. This holds across
    /// restarts and between processes: the id is looked up after the state is loaded, and a
    /// concurrent execution that commits first makes this one's append conflict, after
    /// which the lookup finds it. A command that was rejected, or decided nothing, stored
    /// nothing: the same id runs it again. See also [`execute_once`](Self::execute_once).
    ///
    /// Each command runs in a `command` span (fields `aggregate`, `stream`, `command`,
    /// `attempts`, `version`) and ends with one event at `debug` level saying how it went
    /// (`RUST_LOG=factum=debug` shows one line a command), or at `warn` when every attempt met
    /// a concurrency conflict.
    pub async fn execute_with(
        &self,
        id: &str,
        command: A::Command,
        metadata: Metadata,
    ) -> Result<Committed<A::Event>, ExecuteError<A::Error>>
    where
        A::Command: Clone,
    {
        let span = info_span!(
            "command",
            aggregate = A::NAME,
            stream = %id,
            command = A::command_name(&command),
            attempts = field::Empty,
            version = field::Empty
        );
        let mut trail = Trail { attempts: 0, version: 0 };
        let outcome = self.decide(id, command, &metadata, &mut trail).instrument(span.clone()).await;
        // Recorded once, at the end: a subscriber that prints fields would show a field
        // recorded twice twice.
        span.record("attempts", trail.attempts);
        span.record("version", trail.version);
        report(&span, Outcome::of(&outcome));
        outcome
    }

    /// Runs `command` once per `command_id` on aggregate `id`: short for
    /// [`execute_with`](Self::execute_with) with [`Metadata::with_command_id`]. A retry
    /// with the same id (after a timeout, a crash, a message delivered twice) answers the
    /// first outcome and appends nothing.
    ///
    /// ```
    /// # use factum::prelude::*;
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
    /// # pub struct Deposited { pub amount: u64 }
    /// # #[derive(Aggregate, Default, Debug, Clone, Serialize, Deserialize)]
    /// # pub struct Account { balance: u64 }
    /// # #[handlers]
    /// # impl Account {
    /// #     #[command]
    /// #     pub fn deposit(&self, amount: u64) -> Result<Deposited, std::convert::Infallible> { Ok(Deposited { amount }) }
    /// #     #[apply]
    /// #     fn deposited(&mut self, e: &Deposited) { self.balance += e.amount; }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let accounts = Repository::<Account, _>::new(factum::MemoryStore::new());
    /// let first = accounts.execute_once("acc-1", "payment-17", AccountCommand::Deposit { amount: 5 }).await?;
    /// // Delivered again: the same answer, and the money is not deposited twice.
    /// let again = accounts.execute_once("acc-1", "payment-17", AccountCommand::Deposit { amount: 5 }).await?;
    /// assert_eq!((again.version, &again.events, &again.positions), (first.version, &first.events, &first.positions));
    /// assert_eq!(again.attempts, 0);
    /// assert_eq!(accounts.load("acc-1").await?.unwrap().state.balance, 5);
    /// # Ok(()) }
    /// ```
    pub async fn execute_once(
        &self,
        id: &str,
        command_id: impl Into<String>,
        command: A::Command,
    ) -> Result<Committed<A::Event>, ExecuteError<A::Error>>
    where
        A::Command: Clone,
    {
        self.execute_with(id, command, Metadata::new().with_command_id(command_id)).await
    }

    /// What the command with `metadata`'s command id committed on `stream` before, if it
    /// did: then it is not carried out again (see [`execute_with`](Self::execute_with)).
    async fn stored_outcome(
        &self,
        stream: StreamRef<'_>,
        metadata: &Metadata,
        attempts: u32,
    ) -> Result<Option<Committed<A::Event>>, StoreError> {
        let Some(command_id) = metadata.command_id.as_deref() else { return Ok(None) };
        let Some(versions) = self.store.find_command(stream, command_id).await? else { return Ok(None) };
        let recorded = self.store.read_stream(stream, *versions.start(), *versions.end()).await?;
        let events = recorded.iter().map(|r| decode::<A::Event>(stream, r)).collect::<Result<Vec<_>, _>>()?;
        let positions = recorded.iter().map(|r| r.meta.position).collect();
        debug!(command_id, version = *versions.end(), "command already carried out: answering its first outcome");
        Ok(Some(Committed { version: *versions.end(), events, positions, attempts }))
    }

    async fn decide(
        &self,
        id: &str,
        command: A::Command,
        metadata: &Metadata,
        trail: &mut Trail,
    ) -> Result<Committed<A::Event>, ExecuteError<A::Error>>
    where
        A::Command: Clone,
    {
        let stream = StreamRef::new(A::NAME, id);
        stream.validate()?;
        let slot = self.cache.slot(id);
        let mut cached = slot.cached.lock().await;
        if !cached.loaded || cached.epoch != self.store.forget_epoch() {
            self.restore(stream, &mut cached).await?;
        }
        // After the state is loaded: a command stored later makes the append below conflict.
        if let Some(done) = self.stored_outcome(stream, metadata, 0).await? {
            trail.version = done.version;
            return Ok(done);
        }
        let mut backoff = Duration::ZERO;
        loop {
            trail.attempts += 1;
            trail.version = cached.version;
            let attempts = trail.attempts;
            let events = cached.state.handle(command.clone(), &self.services).await.map_err(ExecuteError::Rejected)?;
            if events.is_empty() {
                return Ok(Committed { version: cached.version, events, positions: Vec::new(), attempts });
            }
            let new_events = encode(stream, &events)?;
            // Kept for the inline projections, which take the events from here rather than
            // read them back from the log.
            let handed_over = (!self.inline.is_empty()).then(|| new_events.clone());
            match self.store.append(stream, cached.version, metadata, new_events).await {
                Ok(appended) => {
                    cached.loaded = false;
                    for event in &events {
                        cached.state.apply(event);
                    }
                    let before = cached.version;
                    cached.version = appended.version;
                    cached.loaded = true;
                    trail.version = appended.version;
                    self.maybe_snapshot(stream, before, &cached).await;
                    drop(cached);
                    if let Some(sent) = handed_over
                        && let Err(source) = hand_over(&self.inline, stream, metadata, &appended, sent).await
                    {
                        let (version, positions) = (appended.version, appended.positions);
                        return Err(ExecuteError::Projection { version, positions, source });
                    }
                    return Ok(Committed {
                        version: appended.version,
                        events,
                        positions: appended.positions,
                        attempts,
                    });
                }
                Err(conflict @ StoreError::Conflict { .. }) => {
                    if attempts >= self.retry.max_attempts {
                        return Err(ExecuteError::Conflict { attempts, source: conflict });
                    }
                    self.catch_up(stream, &mut cached).await?;
                    // The conflict may be this very command, committed by another process.
                    if let Some(done) = self.stored_outcome(stream, metadata, attempts).await? {
                        trail.version = done.version;
                        return Ok(done);
                    }
                    if !backoff.is_zero() {
                        tokio::time::sleep(jittered(backoff)).await;
                    }
                    backoff = if backoff.is_zero() { self.retry.backoff } else { backoff.saturating_mul(2) };
                }
                Err(other) => return Err(other.into()),
            }
        }
    }

    /// How each inline projection is doing ([`ProjectionRunner::health`](crate::ProjectionRunner::health)),
    /// in the order they were added.
    pub async fn inline_health(&self) -> Vec<RunnerHealth> {
        let mut health = Vec::with_capacity(self.inline.len());
        for projection in &self.inline {
            health.push(projection.health().await);
        }
        health
    }

    /// The current state and version of aggregate `id`, or `None` if its stream has no events.
    pub async fn load(&self, id: &str) -> Result<Option<Loaded<A>>, StoreError>
    where
        A: Clone,
    {
        let stream = StreamRef::new(A::NAME, id);
        stream.validate()?;
        let slot = self.cache.slot(id);
        let mut cached = slot.cached.lock().await;
        if cached.loaded && cached.epoch == self.store.forget_epoch() {
            self.catch_up(stream, &mut cached).await?;
        } else {
            self.restore(stream, &mut cached).await?;
        }
        Ok((cached.version > 0).then(|| Loaded { state: cached.state.clone(), version: cached.version }))
    }

    /// Archives aggregate `id` (see [`EventStore::archive`]): it still loads, but takes no
    /// more commands (they fail with [`StoreError::Archived`]), and its events leave the
    /// global log, so projections rebuilt from then on do not see them.
    pub async fn archive(&self, id: &str) -> Result<(), StoreError> {
        self.store.archive(StreamRef::new(A::NAME, id)).await
    }

    /// Deletes aggregate `id` (see [`EventStore::delete`]): its events and snapshot are
    /// removed and a [`StreamDeleted`] notice takes their place; from then on it loads as
    /// `None`, and commands to it fail with [`StoreError::Deleted`]. This repository drops
    /// its cached state of it; another repository (or process) holding one still loads it
    /// until its next command to it, which is refused.
    pub async fn delete(&self, id: &str) -> Result<StreamDeleted, StoreError> {
        let slot = self.cache.slot(id);
        // Held while the store deletes, so that no command of this repository runs between.
        let mut cached = slot.cached.lock().await;
        let deleted = self.store.delete(StreamRef::new(A::NAME, id)).await?;
        cached.loaded = false;
        Ok(deleted)
    }

    /// The state of aggregate `id` as it was right after event `version` (a temporal query).
    ///
    /// If the stream is shorter, this is its current state and the `version` returned says so;
    /// `None` if the stream has no events or `version` is 0.
    pub async fn load_at(&self, id: &str, version: u64) -> Result<Option<Loaded<A>>, StoreError> {
        let stream = StreamRef::new(A::NAME, id);
        stream.validate()?;
        let mut loaded = Loaded { state: A::default(), version: 0 };
        if let Some((state, at)) = self.snapshot(stream).await?
            && at <= version
        {
            loaded = Loaded { state, version: at };
        }
        let mut next = Next { stream, version: loaded.version };
        let state = &mut loaded.state;
        self.store
            .replay_events(stream, loaded.version + 1, version, |stream_version, event: A::Event| {
                next.follows(stream_version)?;
                state.apply(&event);
                Ok(())
            })
            .await?;
        loaded.version = next.version;
        Ok((loaded.version > 0).then_some(loaded))
    }

    /// Every event of aggregate `id`, decoded, with its metadata.
    pub async fn events(&self, id: &str) -> Result<Vec<EventEnvelope<A::Event>>, StoreError> {
        let stream = StreamRef::new(A::NAME, id);
        stream.validate()?;
        let recorded = self.store.read_stream(stream, 1, u64::MAX).await?;
        recorded
            .into_iter()
            .map(|r| Ok(EventEnvelope { event: decode::<A::Event>(stream, &r)?, meta: r.meta }))
            .collect()
    }

    /// Rebuilds `cached` from nothing: the latest usable snapshot, then the events after it.
    async fn restore(&self, stream: StreamRef<'_>, cached: &mut Cached<A>) -> Result<(), StoreError> {
        // Read first: a subject forgotten while this runs leaves the epoch behind, and the
        // next use rebuilds again.
        let epoch = self.store.forget_epoch();
        let (state, version) = self.snapshot(stream).await?.unwrap_or_default();
        *cached = Cached { state, version, loaded: false, epoch };
        self.catch_up(stream, cached).await
    }

    /// The stored snapshot of `stream` and its version, if the aggregate takes snapshots and
    /// the [policy](crate::snapshot) lets it be used. One it passes over (another shape of
    /// the state, or JSON that no longer decodes) is logged, and the stream is replayed.
    async fn snapshot(&self, stream: StreamRef<'_>) -> Result<Option<(A, u64)>, StoreError> {
        let Some(policy) = Policy::<A>::of() else { return Ok(None) };
        let Some(snapshot) = self.store.load_snapshot(stream).await? else { return Ok(None) };
        match policy.restore(&snapshot) {
            Ok(state) => Ok(Some((state, snapshot.version))),
            // Expected after a change to the state type: the next snapshot replaces it.
            Err(unusable @ Unusable::OtherShape { .. }) => {
                debug!(stream = %stream.name(), version = snapshot.version, "snapshot not used, the stream is replayed instead: {unusable}");
                Ok(None)
            }
            Err(unusable @ Unusable::Undecodable(_)) => {
                warn!(stream = %stream.name(), version = snapshot.version, "snapshot not used, the stream is replayed instead: {unusable}");
                Ok(None)
            }
        }
    }

    /// Stores a snapshot when the policy says one is due. The events are committed whatever
    /// happens here: a snapshot that cannot be taken or written is skipped, with a warning.
    async fn maybe_snapshot(&self, stream: StreamRef<'_>, before: u64, cached: &Cached<A>) {
        let Some(policy) = Policy::<A>::of() else { return };
        // A state rebuilt before a subject was forgotten may hold their values in the clear:
        // the next snapshot is taken from a state rebuilt after.
        if !policy.due(before, cached.version) || cached.epoch != self.store.forget_epoch() {
            return;
        }
        let saved = match policy.take(&cached.state, cached.version) {
            Ok(snapshot) => self.store.save_snapshot(stream, snapshot).await.map_err(|e| e.to_string()),
            Err(error) => Err(format!("the state does not serialize: {error}")),
        };
        if let Err(error) = saved {
            warn!(stream = %stream.name(), version = cached.version, error = %error, "snapshot not saved; the events are committed, and loading replays them instead");
        }
    }

    /// Reads the events `cached` has not seen yet and applies them, as the store hands them
    /// over decoded ([`EventStore::replay_events`]): no copy of a name or payload on the way.
    async fn catch_up(&self, stream: StreamRef<'_>, cached: &mut Cached<A>) -> Result<(), StoreError> {
        cached.loaded = false;
        let mut next = Next { stream, version: cached.version };
        let state = &mut cached.state;
        let replayed = self
            .store
            .replay_events(stream, next.version + 1, u64::MAX, |stream_version, event: A::Event| {
                next.follows(stream_version)?;
                state.apply(&event);
                Ok(())
            })
            .await;
        // Whatever was applied counts, even if a later event failed: the state and its
        // version stay in step (and `loaded` false makes the next use start afresh).
        cached.version = next.version;
        replayed?;
        cached.loaded = true;
        Ok(())
    }
}

/// The version a replay expects next, checked one event at a time.
struct Next<'a> {
    stream: StreamRef<'a>,
    /// The version of the last event decoded.
    version: u64,
}

impl Next<'_> {
    /// Moves on to the event at `stream_version`, which must be the one after the last: a
    /// store that skips or repeats a version is corrupt.
    fn follows(&mut self, stream_version: u64) -> Result<(), StoreError> {
        let expected = self.version + 1;
        if stream_version != expected {
            return Err(StoreError::corrupt(
                format!("stream {}", self.stream.name()),
                format!("the store returned version {stream_version} where version {expected} was due"),
            ));
        }
        self.version = expected;
        Ok(())
    }
}

impl<A: Aggregate, S: EventStore + std::fmt::Debug> std::fmt::Debug for Repository<A, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repository")
            .field("aggregate", &A::NAME)
            .field("store", &self.store)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// What a command's span records once it is over.
struct Trail {
    attempts: u32,
    version: u64,
}

/// How a command went, for [`report`]: what of it is not generic.
enum Outcome<'a> {
    Committed,
    Rejected(&'a dyn std::fmt::Display),
    Conflict { attempts: u32, source: &'a StoreError },
    Failed(&'a dyn std::fmt::Display),
}

impl<'a> Outcome<'a> {
    fn of<T, E: std::fmt::Display>(outcome: &'a Result<T, ExecuteError<E>>) -> Self {
        match outcome {
            Ok(_) => Outcome::Committed,
            Err(ExecuteError::Rejected(why)) => Outcome::Rejected(why),
            Err(ExecuteError::Conflict { attempts, source }) => Outcome::Conflict { attempts: *attempts, source },
            Err(other) => Outcome::Failed(other),
        }
    }
}

/// The one line a command ends with, inside its span. Not generic, so compiled once, in
/// factum, like [`hand_over`].
fn report(span: &Span, outcome: Outcome<'_>) {
    span.in_scope(|| match outcome {
        Outcome::Committed => debug!("command committed"),
        Outcome::Rejected(why) => debug!(error = %why, "command rejected"),
        Outcome::Conflict { attempts, source } => {
            warn!(error = %source, "command given up: all {attempts} attempts met a concurrency conflict")
        }
        Outcome::Failed(other) => debug!(error = %other, "command failed"),
    });
}

/// Hands the events of one commit to every inline projection, even after one has failed: a
/// stopped read model must not leave the healthy ones behind. Returns the first failure.
///
/// Nothing here depends on the aggregate, so it is compiled once, in factum, rather than in
/// every program for each `Repository` it names.
fn hand_over<'a>(
    inline: &'a [Arc<dyn InlineProjection>],
    stream: StreamRef<'_>,
    metadata: &Metadata,
    appended: &Appended,
    sent: Vec<NewEvent>,
) -> std::pin::Pin<Box<dyn Future<Output = Result<(), ProjectionError>> + Send + 'a>> {
    let recorded = recorded(stream, metadata, appended, sent);
    Box::pin(async move {
        let mut failed = None;
        for projection in inline {
            if let Err(error) = projection.apply_committed(&recorded).await {
                failed.get_or_insert(error);
            }
        }
        failed.map_or(Ok(()), Err)
    })
}

/// Decodes a recorded event of `stream`, naming the stream and version on failure.
pub(crate) fn decode<E: EventSet>(stream: StreamRef<'_>, recorded: &RecordedEvent) -> Result<E, StoreError> {
    decode_stored(stream, &StoredEvent::of(recorded))
}

/// Decodes a stored event of `stream` from its borrowed payload, naming the stream, the
/// version and (through the source) the event on failure.
pub(crate) fn decode_stored<E: EventSet>(stream: StreamRef<'_>, stored: &StoredEvent<'_>) -> Result<E, StoreError> {
    E::decode(stored.event_name, stored.event_version, stored.payload).map_err(|source| StoreError::Decode {
        stream: stream.name(),
        version: stored.stream_version,
        source,
    })
}

/// The events of one append as the store holds them, from what the repository sent and the
/// store answered; empty (so that a projection reads the log instead) if the answer does not
/// cover every event sent.
fn recorded(
    stream: StreamRef<'_>,
    metadata: &Metadata,
    appended: &Appended,
    sent: Vec<NewEvent>,
) -> Vec<RecordedEvent> {
    let count = sent.len() as u64;
    if appended.positions.len() != sent.len() || appended.version < count {
        return Vec::new();
    }
    let first_version = appended.version - count + 1;
    sent.into_iter()
        .zip(&appended.positions)
        .zip(first_version..)
        .map(|((event, &position), stream_version)| RecordedEvent {
            meta: EventMeta {
                aggregate_type: stream.aggregate_type.to_owned(),
                stream_id: stream.stream_id.to_owned(),
                stream_version,
                position,
                event_name: event.name.to_owned(),
                event_version: event.version,
                recorded_at: appended.recorded_at,
                metadata: metadata.clone(),
            },
            payload: event.payload,
        })
        .collect()
}

fn encode<E: EventSet>(stream: StreamRef<'_>, events: &[E]) -> Result<Vec<NewEvent>, StoreError> {
    events
        .iter()
        .map(|event| {
            let payload = event.encode().map_err(|source| StoreError::Encode { stream: stream.name(), source })?;
            Ok(NewEvent { name: event.name(), version: event.version(), payload })
        })
        .collect()
}
