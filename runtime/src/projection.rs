//! Projections: read models built from the events of every aggregate, with queries.
//!
//! A projection is a struct with `#[derive(Projection)]` and an impl block marked
//! `#[handlers]` whose `#[on]` methods fold events into it and whose `#[query]` methods
//! answer questions. A [`ProjectionRunner`] keeps one up to date against a store.
//!
//! # Delivery guarantee
//!
//! The runner stores the projection's state and its position in the global log together,
//! in one write ([`EventStore::save_checkpoint`]). After a crash or restart it resumes from
//! that pair, so every event affects the *stored* state exactly once. Code inside a handler
//! that reaches outside the state (sending mail, say) may run again for events after the
//! last checkpoint: for such effects delivery is at least once.
//!
//! # When the checkpoint is written
//!
//! The state in memory is always current; the stored checkpoint follows a policy, by
//! default once [`DEFAULT_CHECKPOINT_EVENTS`] positions of the log or
//! [`DEFAULT_CHECKPOINT_INTERVAL`] have gone by since the last one, whichever comes first
//! ([`ProjectionRunner::with_checkpoint_every`] changes both). The checkpoint is the whole
//! state, serialized: writing it after every command would cost far more than applying the
//! command's events. What this costs after a crash:
//!
//! - The runner started next resumes from the last stored checkpoint and applies the events
//!   after it again. Those are fewer than [`DEFAULT_CHECKPOINT_EVENTS`] (1,000) positions of
//!   the log: a replay of a millisecond or so in memory, a few on SQLite or PostgreSQL.
//!   The stored state reflects each event exactly once all the same.
//! - A handler's side effects outside the state may repeat for those events.
//! - The interval is checked when events arrive (and, in [`run`](ProjectionRunner::run), when
//!   the log stays quiet), never by a background task: an inline projection whose
//!   commands stop may keep its last few hundred events unsaved until the next command.
//!   Call [`save_checkpoint`](ProjectionRunner::save_checkpoint) on a clean shutdown and
//!   nothing is replayed at all.
//!
//! A long catch-up or a [rebuild](ProjectionRunner::rebuild) also checkpoints after every
//! full batch it reads, and a rebuild once more at its end.
//!
//! A handler that returns an error or panics stops the projection with a
//! [`ProjectionError`] naming the event; the checkpoint then holds everything before that
//! event, and the next run starts there.
//!
//! # What an operator sees
//!
//! Each batch a runner reads runs in a `projection batch` span (with the tracing feature):
//! the projection, the position it read from and reached, and how many events it applied.
//! A runner that stops logs a warning once, and reports it in
//! [`ProjectionRunner::health`] until a catch-up succeeds or a rebuild does. It also
//! records why in the store ([`EventStore::record_failure`]), so that the stop can be seen
//! from outside the process: `factum projections` shows each projection's position, lag,
//! lease holder and that last error, and `factum reset NAME` deletes a checkpoint so the
//! projection rebuilds on its next start.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::envelope::RecordedEvent;
use crate::error::StoreError;
pub use crate::error::{ApplyError, ProjectionError};
use crate::health::{RunnerHealth, RunnerStatus};
use crate::store::{Checkpoint, EventFilter, EventStore, RunnerFailure};
use crate::trace::{Instrument, debug_span, field, warn};

/// The identity of a projection: the name its checkpoint is stored under.
///
/// `#[derive(Projection)]` implements it from `#[projection(name = "...")]`; the name
/// defaults to the kebab-case type name.
///
/// ```
/// use factum::prelude::*;
///
/// #[derive(Projection, Default, serde::Serialize, serde::Deserialize)]
/// struct OrderList;
///
/// #[derive(Projection, Default, serde::Serialize, serde::Deserialize)]
/// #[projection(name = "balances-v2")]
/// struct Balances;
///
/// assert_eq!((OrderList::NAME, Balances::NAME), ("order-list", "balances-v2"));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has `#[handlers]` with `#[on]` or `#[query]` methods but no `#[derive(Projection)]`",
    label = "this type has no `#[derive(Projection)]`",
    note = "add `#[derive(Projection, Default, Serialize, Deserialize)]` to the struct `{Self}`"
)]
pub trait ProjectionType: Sized {
    /// The name the projection's checkpoint is stored under.
    const NAME: &'static str;
}

/// A read model: it subscribes to stored event names, folds events into its state, and
/// answers queries.
///
/// Implemented by `#[handlers]` on an impl block with `#[on]` and `#[query]` methods; see
/// [`ProjectionRunner`] for an example.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a projection",
    label = "needs `#[derive(Projection)]` on the struct and `#[handlers]` on an impl block with `#[on]` methods"
)]
pub trait Projection: ProjectionType + Default + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The questions it answers (`{Projection}Query`).
    type Query: Send;
    /// The answers (`{Projection}Answer`).
    type Answer: Send;

    /// The stored names of the events it handles; stores read only these.
    const EVENTS: &'static [&'static str];

    /// Applies one stored event (one it does not handle is ignored).
    fn project(&mut self, event: &RecordedEvent) -> Result<(), ApplyError>;

    /// Answers a query against the current state.
    fn ask(&self, query: Self::Query) -> Self::Answer;
}

struct Progress<P> {
    projection: P,
    position: u64,
    /// The position of the stored checkpoint, and when it was written.
    saved: (u64, Instant),
    /// The state in memory may be half-changed by a failing handler and could not be put
    /// back: the next catch-up reloads the stored checkpoint first.
    stale: bool,
    /// The store's [`forget_epoch`](EventStore::forget_epoch) when the state was loaded: once
    /// the store's has moved, the state may hold a forgotten subject's values, and is loaded
    /// again from the store (where `forget` removed the checkpoints that held them).
    epoch: u64,
}

impl<P> Progress<P> {
    fn new(projection: P, position: u64, epoch: u64) -> Self {
        Progress { projection, position, saved: (position, Instant::now()), stale: false, epoch }
    }
}

/// What [`ProjectionRunner::health`] reports from, kept outside the progress lock so that a
/// long catch-up does not hold up a health check.
struct Tracked {
    /// `Starting`, `CatchingUp` (a batch applied, the head not reached), `CaughtUp` (the
    /// head reached) or `Stopped`; the first three are refined against the store's head
    /// when asked.
    status: RunnerStatus,
    position: u64,
    /// The last head the runner read.
    head: u64,
}

/// The runner's [`Tracked`] report and what is done with it. Nothing here depends on the
/// projection's type, so it is compiled once, in factum, not for every runner a program
/// names.
struct Monitor {
    name: &'static str,
    tracked: std::sync::Mutex<Tracked>,
}

impl Monitor {
    fn lock(&self) -> std::sync::MutexGuard<'_, Tracked> {
        // Every write leaves `Tracked` whole, so a poisoned lock still holds a valid report.
        self.tracked.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records an outcome; whether it newly stopped the runner.
    fn record(&self, outcome: &Result<u64, ProjectionError>, position: u64) -> bool {
        match outcome {
            Ok(_) => {
                let mut tracked = self.lock();
                tracked.position = position;
                tracked.status = RunnerStatus::CaughtUp;
                false
            }
            Err(error) => self.record_stopped(error, position),
        }
    }

    /// Records that the runner stopped on `error`, with a warning unless it was stopped
    /// already (a runner retried in a loop warns once, not once a try); whether it was not.
    fn record_stopped(&self, error: &ProjectionError, position: u64) -> bool {
        let mut tracked = self.lock();
        tracked.position = position;
        let was_stopped = matches!(tracked.status, RunnerStatus::Stopped { .. });
        tracked.status = stopped_status(error, position);
        drop(tracked);
        if !was_stopped {
            warn!(projection = self.name, position, error = %error, "projection stopped");
        }
        !was_stopped
    }

    /// The health report, given the store's head as just read.
    fn health(&self, fresh: Result<u64, StoreError>) -> RunnerHealth {
        let mut tracked = self.lock();
        if let Ok(head) = fresh {
            tracked.head = head;
        }
        let (position, head) = (tracked.position, tracked.head);
        let status = match (fresh, &tracked.status) {
            (_, stopped @ RunnerStatus::Stopped { .. }) => stopped.clone(),
            (Err(error), _) => {
                let error = format!("the store's head cannot be read: {error}");
                RunnerStatus::Stopped { position, event: None, stream: None, error }
            }
            (Ok(_), RunnerStatus::Starting) => RunnerStatus::Starting,
            (Ok(_), _) if position >= head => RunnerStatus::CaughtUp,
            (Ok(_), _) => RunnerStatus::CatchingUp,
        };
        RunnerHealth { name: self.name, status, position, head, lag: head.saturating_sub(position) }
    }
}

/// How many positions of the log a runner moves past, by default, before it writes its
/// checkpoint again (see the [module docs](self#when-the-checkpoint-is-written)).
///
/// At most this many events less one are applied again after a crash. Chosen by
/// measurement (BENCHMARKS.md, "With the read model"): with 1,000 accounts in `Balances` one
/// checkpoint costs about as much as 20 commands, so every 1,000 events it takes about 2% of
/// the time, and a crash replays at most a millisecond's worth of work.
pub const DEFAULT_CHECKPOINT_EVENTS: u64 = 1_000;

/// How long a runner goes, by default, before it writes its checkpoint again, however few
/// events arrived: a read model with little traffic still saves about once a second (see
/// the [module docs](self#when-the-checkpoint-is-written)).
pub const DEFAULT_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// How often a runner writes its checkpoint: after this many events, or this much time,
/// since the last one, whichever comes first. See
/// [`ProjectionRunner::with_checkpoint_every`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CheckpointPolicy {
    events: u64,
    interval: Duration,
}

/// Keeps one projection up to date against a store, with its state and position
/// checkpointed together.
///
/// - [`catch_up`](Self::catch_up): from the stored checkpoint to the end of the log.
/// - [`run`](Self::run): catch up, then follow new events as they are appended (live).
/// - [`rebuild`](Self::rebuild): forget the checkpoint and replay from position zero.
/// - [`wait_for`](Self::wait_for): read-after-write, until a given position is reflected.
/// - [`health`](Self::health): starting, catching up, caught up, or stopped (and on what),
///   with the lag behind the store's head; for a `GET /health`.
/// - inline: [`Repository::with_inline`](crate::Repository::with_inline) hands each commit's
///   events to the projection before `execute` returns ([`apply_committed`](Self::apply_committed)).
/// - [`save_checkpoint`](Self::save_checkpoint): the checkpoint follows a
///   [policy](self#when-the-checkpoint-is-written); call this on a clean shutdown.
///
/// ```
/// use std::collections::BTreeMap;
/// use std::sync::Arc;
/// use factum::prelude::*;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// pub struct Deposited { pub amount: u64 }
///
/// #[derive(Aggregate, Default, Debug, Clone)]
/// pub struct Account;
///
/// #[handlers]
/// impl Account {
///     #[command]
///     pub fn deposit(&self, amount: u64) -> Result<Deposited, std::convert::Infallible> {
///         Ok(Deposited { amount })
///     }
///     #[apply]
///     fn deposited(&mut self, _: &Deposited) {}
/// }
///
/// #[derive(Projection, Default, Debug, Clone, Serialize, Deserialize)]
/// pub struct Balances { by_account: BTreeMap<String, u64> }
///
/// #[handlers]
/// impl Balances {
///     #[on]
///     fn deposited(&mut self, e: &Deposited, meta: &EventMeta) {
///         *self.by_account.entry(meta.stream_id.clone()).or_default() += e.amount;
///     }
///
///     #[query]
///     pub fn balance(&self, account: String) -> Option<u64> {
///         self.by_account.get(&account).copied()
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = MemoryStore::new();
/// let balances = Arc::new(ProjectionRunner::<Balances, _>::start(store.clone()).await?);
/// let accounts = Repository::<Account, _>::new(store).with_inline(balances.clone());
/// accounts.execute("acc-1", AccountCommand::Deposit { amount: 5 }).await?;
/// // Inline: the read model already shows the deposit.
/// let answer = balances.ask(BalancesQuery::Balance { account: "acc-1".into() }).await;
/// assert_eq!(answer, BalancesAnswer::Balance(Some(5)));
/// // On shutdown: store the state, so that the next start replays nothing.
/// balances.save_checkpoint().await?;
/// # Ok(()) }
/// ```
pub struct ProjectionRunner<P: Projection, S: EventStore> {
    store: S,
    progress: tokio::sync::RwLock<Progress<P>>,
    tracked: Monitor,
    batch: usize,
    every: CheckpointPolicy,
}

impl<P: Projection, S: EventStore> ProjectionRunner<P, S> {
    /// Loads the projection's checkpoint (or starts empty) without reading any event yet.
    pub async fn start(store: S) -> Result<Self, ProjectionError> {
        let progress = Self::stored(&store).await?;
        let every = CheckpointPolicy { events: DEFAULT_CHECKPOINT_EVENTS, interval: DEFAULT_CHECKPOINT_INTERVAL };
        let tracked = Tracked { status: RunnerStatus::Starting, position: progress.position, head: progress.position };
        Ok(ProjectionRunner {
            store,
            progress: tokio::sync::RwLock::new(progress),
            tracked: Monitor { name: P::NAME, tracked: std::sync::Mutex::new(tracked) },
            batch: 1000,
            every,
        })
    }

    /// Reads at most `events` events a batch (and checkpoints after each batch).
    pub fn with_batch_size(mut self, events: usize) -> Self {
        self.batch = events.max(1);
        self
    }

    /// Writes the checkpoint once `events` positions of the log, or `interval` of time, have
    /// gone by since the last one, instead of the defaults ([`DEFAULT_CHECKPOINT_EVENTS`],
    /// [`DEFAULT_CHECKPOINT_INTERVAL`]).
    ///
    /// The state in memory is always current (reads, queries and read-your-writes do not
    /// depend on this); only the stored checkpoint lags, by less than `events` positions.
    /// After a crash the runner resumes from that checkpoint and applies the events since
    /// again: the stored state still reflects each event exactly once, while side effects of
    /// handlers (see the [module docs](self)) may repeat for those events. A larger state
    /// costs more to write: raise `events` when a checkpoint shows up in the profile, lower
    /// it (1 writes after every catch-up or commit) when handlers' side effects must repeat
    /// as little as possible. A failing handler always leaves the checkpoint right before its
    /// event.
    ///
    /// ```
    /// # use factum::prelude::*;
    /// # #[derive(Event, serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
    /// # struct Deposited { amount: u64 }
    /// # #[derive(Projection, Default, serde::Serialize, serde::Deserialize)]
    /// # struct Balances { total: u64 }
    /// # #[handlers]
    /// # impl Balances { #[on] fn deposited(&mut self, e: &Deposited) { self.total += e.amount; } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), factum::ProjectionError> {
    /// use std::time::Duration;
    ///
    /// let balances = ProjectionRunner::<Balances, _>::start(MemoryStore::new())
    ///     .await?
    ///     .with_checkpoint_every(1_000, Duration::from_secs(1));
    /// // ... commands through `Repository::with_inline(Arc::new(balances))` ...
    /// balances.save_checkpoint().await?; // on shutdown
    /// # Ok(()) }
    /// ```
    pub fn with_checkpoint_every(mut self, events: u64, interval: Duration) -> Self {
        self.every = CheckpointPolicy { events: events.max(1), interval };
        self
    }

    /// Writes the checkpoint now, if the projection moved since the last one; call it on a
    /// clean shutdown, so that the next start replays nothing.
    ///
    /// A state a failing handler left half-changed is never written: the stored checkpoint
    /// is then the one before the failing event.
    pub async fn save_checkpoint(&self) -> Result<(), ProjectionError> {
        let mut progress = self.progress.write().await;
        if !progress.stale && progress.saved.0 != progress.position {
            self.checkpoint(&mut progress).await?;
        }
        Ok(())
    }

    /// The store underneath.
    pub fn store(&self) -> &S {
        &self.store
    }

    async fn stored(store: &S) -> Result<Progress<P>, ProjectionError> {
        let epoch = store.forget_epoch();
        let checkpoint = store.load_checkpoint(P::NAME).await.map_err(|source| store_error::<P>(source))?;
        match checkpoint {
            None => Ok(Progress::new(P::default(), 0, epoch)),
            Some(Checkpoint { position, state }) => {
                let projection = serde_json::from_str(&state).map_err(|source| ProjectionError::State {
                    projection: P::NAME,
                    position,
                    source,
                })?;
                Ok(Progress::new(projection, position, epoch))
            }
        }
    }

    /// Applies every event after the projection's position, checkpointing each batch.
    /// Returns the position reached.
    ///
    /// A failure stops the runner ([`health`](Self::health) reports it) until a catch-up
    /// succeeds or the projection is rebuilt.
    pub async fn catch_up(&self) -> Result<u64, ProjectionError> {
        let mut progress = self.progress.write().await;
        let caught_up = self.catch_up_locked(&mut progress).await;
        if let Some(recording) = self.record(&caught_up, progress.position) {
            recording.await;
        }
        caught_up
    }

    async fn catch_up_locked(&self, progress: &mut Progress<P>) -> Result<u64, ProjectionError> {
        if progress.stale || self.forgotten_since(progress) {
            *progress = Self::stored(&self.store).await?;
        }
        loop {
            let span = debug_span!(
                "projection batch",
                projection = P::NAME,
                from = progress.position,
                to = field::Empty,
                events = field::Empty
            );
            let more = self.batch_locked(progress, &span).instrument(span.clone()).await?;
            if !more {
                return Ok(progress.position);
            }
            self.tracked().status = RunnerStatus::CatchingUp;
        }
    }

    /// Reads and applies one batch, checkpointing if due; true when the batch was full (there
    /// may be more to read).
    async fn batch_locked(
        &self,
        progress: &mut Progress<P>,
        span: &crate::trace::Span,
    ) -> Result<bool, ProjectionError> {
        // Everything up to `head` is committed: once a read comes back short, the projection
        // has seen every event it subscribes to up to there.
        let head = self.store.head_position().await.map_err(store_error::<P>)?;
        let events = self
            .store
            .read_all(progress.position, EventFilter::names(P::EVENTS), self.batch)
            .await
            .map_err(store_error::<P>)?;
        span.record("events", events.len());
        let full = events.len() == self.batch;
        let before = progress.position;
        for event in &events {
            self.apply_locked(progress, event).await?;
        }
        if !full {
            progress.position = progress.position.max(head);
        }
        span.record("to", progress.position);
        {
            let mut tracked = self.tracked();
            tracked.position = progress.position;
            tracked.head = head;
        }
        if progress.position != before && self.checkpoint_due(progress, full) {
            self.checkpoint(progress).await?;
        }
        Ok(full)
    }

    /// Applies one event and moves the position to it. On failure, puts the state back as it
    /// was before the event and stores that.
    async fn apply_locked(&self, progress: &mut Progress<P>, event: &RecordedEvent) -> Result<(), ProjectionError> {
        if let Err(source) = apply_one(&mut progress.projection, event) {
            // The failing handler may have changed the state half-way: start again from the
            // stored checkpoint, apply the events before this one, and store that, so the
            // next run begins at the failing event.
            let error = event_error::<P>(event, source);
            if let Err(restoring) = self.restore_before(progress, event.meta.position).await {
                progress.stale = true;
                warn!(
                    projection = P::NAME,
                    position = event.meta.position,
                    error = %restoring,
                    "the state before the failing event could not be restored; it is reloaded from the checkpoint on the next catch-up"
                );
            }
            return Err(error);
        }
        progress.position = event.meta.position;
        Ok(())
    }

    /// Applies the events one commit just appended, handed over by the repository that
    /// appended them, without reading them back from the log; returns the position reached.
    ///
    /// `events` are one append's, in order, with the positions, metadata and time the store
    /// reported. They are applied directly only when they follow the projection's position
    /// without a gap: every event is still seen exactly once and in position order, however
    /// many repositories share the runner and whether or not [`run`](Self::run) feeds it too.
    /// A batch seen already (another caller read past it) is skipped; any other batch (one
    /// that leaves a gap, from a repository without this projection, say) makes the runner
    /// [catch up](Self::catch_up) from the log instead, which reads these events as well.
    /// Events the projection does not subscribe to only move its position. The checkpoint
    /// follows the [policy](self#when-the-checkpoint-is-written).
    pub async fn apply_committed(&self, events: &[RecordedEvent]) -> Result<u64, ProjectionError> {
        let mut progress = self.progress.write().await;
        let applied = self.apply_committed_locked(&mut progress, events).await;
        if let Some(recording) = self.record(&applied, progress.position) {
            recording.await;
        }
        applied
    }

    async fn apply_committed_locked(
        &self,
        progress: &mut Progress<P>,
        events: &[RecordedEvent],
    ) -> Result<u64, ProjectionError> {
        let (Some(first), Some(last)) = (events.first(), events.last()) else {
            return self.catch_up_locked(progress).await;
        };
        let (first, last) = (first.meta.position, last.meta.position);
        if progress.stale || self.forgotten_since(progress) {
            return self.catch_up_locked(progress).await;
        }
        if last <= progress.position {
            return Ok(progress.position);
        }
        let follows = first == progress.position + 1 && events.iter().zip(first..).all(|(e, p)| e.meta.position == p);
        if !follows {
            return self.catch_up_locked(progress).await;
        }
        for event in events {
            if P::EVENTS.contains(&event.meta.event_name.as_str()) {
                self.apply_locked(progress, event).await?;
            }
        }
        progress.position = last;
        {
            let mut tracked = self.tracked();
            tracked.position = last;
            tracked.head = tracked.head.max(last);
        }
        if self.checkpoint_due(progress, false) {
            self.checkpoint(progress).await?;
        }
        Ok(last)
    }

    /// Applies events received from another process (from NATS, by
    /// `factum::nats::NatsSubscriber`, feature `nats`) rather than read from this store's
    /// log, then stores the checkpoint, state and position together; returns the position
    /// reached, up to which the sender may be told the events are safe.
    ///
    /// Events at or below the projection's position (seen already, delivered again) are
    /// skipped, so each affects the stored state once; gaps are expected (the sender may
    /// filter). A failing handler stops it with the error naming the event, and the state
    /// goes back to the stored checkpoint: the events after it must be delivered again.
    pub async fn apply_received(&self, events: &[RecordedEvent]) -> Result<u64, ProjectionError> {
        let mut progress = self.progress.write().await;
        let applied = self.apply_received_locked(&mut progress, events).await;
        if let Some(recording) = self.record(&applied, progress.position) {
            recording.await;
        }
        applied
    }

    async fn apply_received_locked(
        &self,
        progress: &mut Progress<P>,
        events: &[RecordedEvent],
    ) -> Result<u64, ProjectionError> {
        if progress.stale || self.forgotten_since(progress) {
            *progress = Self::stored(&self.store).await?;
        }
        let before = progress.position;
        for event in events {
            if event.meta.position <= progress.position {
                continue;
            }
            if P::EVENTS.contains(&event.meta.event_name.as_str())
                && let Err(source) = apply_one(&mut progress.projection, event)
            {
                // Not restored from this store's log, which does not hold these events:
                // the stored checkpoint is reloaded before the next delivery.
                progress.stale = true;
                return Err(event_error::<P>(event, source));
            }
            progress.position = event.meta.position;
        }
        {
            let mut tracked = self.tracked();
            tracked.position = progress.position;
            tracked.head = tracked.head.max(progress.position);
        }
        if progress.position != before
            && let Err(unsaved) = self.checkpoint(progress).await
        {
            // The sender must deliver these again: start from the stored checkpoint then.
            progress.stale = true;
            return Err(unsaved);
        }
        Ok(progress.position)
    }

    /// Records the outcome of a catch-up for [`health`](Self::health), and a new stop in
    /// the store too.
    ///
    /// Returns the write of a new stop, for the caller to await: nothing on the way of a
    /// success (an inline projection's, after every commit) waits for anything.
    fn record(
        &self,
        outcome: &Result<u64, ProjectionError>,
        position: u64,
    ) -> Option<Pin<Box<dyn Future<Output = ()> + Send + '_>>> {
        match (self.tracked.record(outcome, position), outcome) {
            (true, Err(error)) => Some(self.record_failure(error, position)),
            _ => None,
        }
    }

    /// Records a failure outside a catch-up (waiting for events, taking the lease) and
    /// hands the error back.
    async fn stop(&self, error: ProjectionError) -> ProjectionError {
        let position = self.tracked().position;
        if self.tracked.record_stopped(&error, position) {
            self.record_failure(&error, position).await;
        }
        error
    }

    /// [`stop`](Self::stop)s the runner if `result` failed.
    async fn or_stop<T>(&self, result: Result<T, ProjectionError>) -> Result<T, ProjectionError> {
        match result {
            Ok(value) => Ok(value),
            Err(error) => Err(self.stop(error).await),
        }
    }

    /// Writes why the runner stopped to the store ([`RunnerFailure`]), for operators
    /// outside this process; a store that cannot take it is logged, not returned, since
    /// the error that stopped the runner is the one to report.
    ///
    /// Boxed, so that the futures of the paths that may call it stay as small as they were.
    fn record_failure(&self, error: &ProjectionError, position: u64) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let failure = RunnerFailure { position, error: error.to_string(), failed_at: SystemTime::now() };
        Box::pin(async move {
            if let Err(unrecorded) = self.store.record_failure(P::NAME, failure).await {
                warn!(projection = P::NAME, error = %unrecorded, "the projection's failure could not be recorded in the store");
            }
        })
    }

    fn tracked(&self) -> std::sync::MutexGuard<'_, Tracked> {
        self.tracked.lock()
    }

    /// How the runner is doing: its status, position, the store's head and the lag. Reads
    /// the store's head; if that fails the report says so (as `Stopped`, with the last head
    /// seen) rather than failing itself.
    pub async fn health(&self) -> RunnerHealth {
        let fresh = self.store.head_position().await;
        self.tracked.health(fresh)
    }

    /// Whether the policy asks for a checkpoint now. A full batch (a long catch-up) always
    /// gets one, so that a rebuild keeps its progress.
    fn checkpoint_due(&self, progress: &Progress<P>, full_batch: bool) -> bool {
        let (saved_at, saved_when) = progress.saved;
        full_batch
            || progress.position.saturating_sub(saved_at) >= self.every.events
            || saved_when.elapsed() >= self.every.interval
    }

    /// Reloads the stored checkpoint, applies the subscribed events after it and before
    /// `failing`, and stores the result.
    async fn restore_before(&self, progress: &mut Progress<P>, failing: u64) -> Result<(), ProjectionError> {
        *progress = Self::stored(&self.store).await?;
        'read: loop {
            let events = self
                .store
                .read_all(progress.position, EventFilter::names(P::EVENTS), self.batch)
                .await
                .map_err(store_error::<P>)?;
            for earlier in &events {
                if earlier.meta.position >= failing {
                    break 'read;
                }
                apply_one(&mut progress.projection, earlier).map_err(|source| event_error::<P>(earlier, source))?;
                progress.position = earlier.meta.position;
            }
            if events.len() < self.batch {
                break;
            }
        }
        self.checkpoint(progress).await
    }

    async fn checkpoint(&self, progress: &mut Progress<P>) -> Result<(), ProjectionError> {
        if self.forgotten_since(progress) {
            // Not written: the state may hold what was just forgotten. The next catch-up
            // loads the stored one instead.
            progress.stale = true;
            return Ok(());
        }
        let state = serde_json::to_string(&progress.projection)
            .map_err(|source| ProjectionError::Encode { projection: P::NAME, source })?;
        self.store
            .save_checkpoint(P::NAME, Checkpoint { position: progress.position, state })
            .await
            .map_err(store_error::<P>)?;
        progress.saved = (progress.position, Instant::now());
        if self.forgotten_since(progress) {
            // A subject was forgotten while the state was written: it may hold their values,
            // and `forget` may have cleaned before it landed. Removed, to rebuild from the log.
            progress.stale = true;
            self.store.delete_checkpoint(P::NAME).await.map_err(store_error::<P>)?;
        }
        Ok(())
    }

    /// True when a subject has been forgotten since the state in memory was loaded.
    fn forgotten_since(&self, progress: &Progress<P>) -> bool {
        progress.epoch != self.store.forget_epoch()
    }

    /// The state, to be read: one that may hold a forgotten subject's values is first loaded
    /// again from the store and caught up. Should that fail, the state is emptied rather than
    /// shown, and the next catch-up tries again. The common case takes one read lock.
    async fn readable(&self) -> tokio::sync::RwLockReadGuard<'_, Progress<P>> {
        let progress = self.progress.read().await;
        if !self.forgotten_since(&progress) {
            return progress;
        }
        drop(progress);
        let mut progress = self.progress.write().await;
        if self.forgotten_since(&progress) && self.catch_up_locked(&mut progress).await.is_err() {
            *progress = Progress::new(P::default(), 0, progress.epoch);
            progress.stale = true;
        }
        progress.downgrade()
    }

    /// Forgets the stored checkpoint and replays every event from position zero.
    ///
    /// This is also how a stopped runner recovers once the cause is fixed (a handler that
    /// no longer fails, an upcast for an event that did not decode).
    pub async fn rebuild(&self) -> Result<u64, ProjectionError> {
        let mut progress = self.progress.write().await;
        let rebuilt = match self.store.delete_checkpoint(P::NAME).await {
            Ok(()) => {
                *progress = Progress::new(P::default(), 0, self.store.forget_epoch());
                *self.tracked() = Tracked { status: RunnerStatus::Starting, position: 0, head: 0 };
                match self.catch_up_locked(&mut progress).await {
                    // A rebuild is done once: store its end rather than wait for the policy.
                    Ok(position) if progress.saved.0 != position => {
                        self.checkpoint(&mut progress).await.map(|()| position)
                    }
                    other => other,
                }
            }
            Err(source) => Err(store_error::<P>(source)),
        };
        if let Some(recording) = self.record(&rebuilt, progress.position) {
            recording.await;
        }
        rebuilt
    }

    /// Follows the log: catches up, then waits for new events and applies them, until a
    /// handler fails or the store does. Spawn it as a task.
    ///
    /// When the log stays quiet with events not yet checkpointed, the checkpoint is written
    /// once the policy's interval has passed since the last one.
    pub async fn run(&self) -> Result<std::convert::Infallible, ProjectionError> {
        loop {
            let position = self.catch_up().await?;
            if let Some(due) = self.checkpoint_due_in().await {
                match tokio::time::timeout(due, self.store.wait_for_events(position)).await {
                    Ok(waited) => {
                        self.or_stop(waited.map_err(store_error::<P>)).await?;
                        continue;
                    }
                    Err(_quiet) => {
                        let saved = self.save_checkpoint().await;
                        self.or_stop(saved).await?
                    }
                }
            }
            let waited = self.store.wait_for_events(position).await;
            self.or_stop(waited.map_err(store_error::<P>)).await?;
        }
    }

    /// How long until the policy's interval asks for a checkpoint, if the projection moved
    /// since the last one.
    async fn checkpoint_due_in(&self) -> Option<Duration> {
        let progress = self.progress.read().await;
        let (saved_at, saved_when) = progress.saved;
        (saved_at != progress.position && !progress.stale)
            .then(|| self.every.interval.saturating_sub(saved_when.elapsed()))
    }

    /// Like [`run`](Self::run), but first waits for the projection's lease, so that among all
    /// processes sharing the store only one runs this projection at a time. When the holder
    /// stops or dies, a waiting process takes over from the stored checkpoint.
    pub async fn run_exclusive(&self) -> Result<std::convert::Infallible, ProjectionError> {
        let lease_name = format!("projection:{}", P::NAME);
        let lease = self.store.acquire_lease(&lease_name).await;
        let _lease = self.or_stop(lease.map_err(store_error::<P>)).await?;
        // The previous holder may have moved the checkpoint on while we waited.
        let stored = Self::stored(&self.store).await;
        let stored = self.or_stop(stored).await?;
        self.tracked().position = stored.position;
        *self.progress.write().await = stored;
        self.run().await
    }

    /// Returns once the projection reflects every event up to `position` (the position a
    /// command's [`Committed`](crate::Committed) reports), catching up as needed.
    pub async fn wait_for(&self, position: u64) -> Result<(), ProjectionError> {
        loop {
            if self.position().await >= position {
                return Ok(());
            }
            let reached = self.catch_up().await?;
            if reached >= position {
                return Ok(());
            }
            let waited = self.store.wait_for_events(reached).await;
            self.or_stop(waited.map_err(store_error::<P>)).await?;
        }
    }

    /// The position of the last event the projection reflects.
    pub async fn position(&self) -> u64 {
        self.progress.read().await.position
    }

    /// Answers a query against the current state.
    pub async fn ask(&self, query: P::Query) -> P::Answer {
        self.readable().await.projection.ask(query)
    }

    /// Reads the current state.
    pub async fn read<T>(&self, f: impl FnOnce(&P) -> T) -> T {
        f(&self.readable().await.projection)
    }

    /// A copy of the current state.
    pub async fn state(&self) -> P
    where
        P: Clone,
    {
        self.readable().await.projection.clone()
    }
}

impl<P: Projection, S: EventStore> Debug for ProjectionRunner<P, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectionRunner").field("projection", &P::NAME).finish_non_exhaustive()
    }
}

/// Applies one event, turning a panic of the handler into an error.
fn apply_one<P: Projection>(projection: &mut P, event: &RecordedEvent) -> Result<(), ApplyError> {
    ApplyError::catching(|| projection.project(event))
}

fn event_error<P: Projection>(event: &RecordedEvent, source: ApplyError) -> ProjectionError {
    let meta = &event.meta;
    ProjectionError::Event {
        projection: P::NAME,
        position: meta.position,
        aggregate_type: meta.aggregate_type.clone(),
        stream_id: meta.stream_id.clone(),
        version: meta.stream_version,
        event: meta.event_name.clone(),
        source,
    }
}

/// The status of a runner stopped by `error` at `position` (its own position, unless the
/// error names an event).
fn stopped_status(error: &ProjectionError, position: u64) -> RunnerStatus {
    let error_message = error.to_string();
    match error {
        ProjectionError::Event { position, aggregate_type, stream_id, event, .. } => RunnerStatus::Stopped {
            position: *position,
            event: Some(event.clone()),
            stream: Some(format!("{aggregate_type}/{stream_id}")),
            error: error_message,
        },
        _ => RunnerStatus::Stopped { position, event: None, stream: None, error: error_message },
    }
}

fn store_error<P: Projection>(source: StoreError) -> ProjectionError {
    ProjectionError::Store { projection: P::NAME, source }
}

/// A projection the repository updates after each commit (read-your-writes).
pub trait InlineProjection: Send + Sync {
    /// Catches the projection up; returns the position reached.
    fn catch_up(&self) -> Pin<Box<dyn Future<Output = Result<u64, ProjectionError>> + Send + '_>>;

    /// Takes the events one commit just appended (see
    /// [`ProjectionRunner::apply_committed`]); returns the position reached. By default,
    /// catches up from the log instead.
    fn apply_committed<'a>(
        &'a self,
        events: &'a [RecordedEvent],
    ) -> Pin<Box<dyn Future<Output = Result<u64, ProjectionError>> + Send + 'a>> {
        let _ = events;
        self.catch_up()
    }

    /// How the projection is doing (see [`ProjectionRunner::health`]).
    fn health(&self) -> Pin<Box<dyn Future<Output = RunnerHealth> + Send + '_>>;
}

impl<P: Projection, S: EventStore> InlineProjection for ProjectionRunner<P, S> {
    fn catch_up(&self) -> Pin<Box<dyn Future<Output = Result<u64, ProjectionError>> + Send + '_>> {
        Box::pin(ProjectionRunner::catch_up(self))
    }

    fn apply_committed<'a>(
        &'a self,
        events: &'a [RecordedEvent],
    ) -> Pin<Box<dyn Future<Output = Result<u64, ProjectionError>> + Send + 'a>> {
        Box::pin(ProjectionRunner::apply_committed(self, events))
    }

    fn health(&self) -> Pin<Box<dyn Future<Output = RunnerHealth> + Send + '_>> {
        Box::pin(ProjectionRunner::health(self))
    }
}
