//! [`ProcessRunner`]: follows the log for one process manager, stores each step with its
//! checkpoint, outbox and deadlines in one transaction, then executes the commands.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use futures_util::{StreamExt, stream};

use super::steps::Outgoing;
use super::{
    Deadlines, Dispatched, DueDeadline, NewDeadline, OutgoingCommand, ProcessCommit, ProcessManager, RejectedCommand,
    Route, Steps, checkpoint_name,
};
use crate::envelope::{Metadata, RecordedEvent};
use crate::error::{ApplyError, ProcessError, StoreError};
use crate::store::{EventFilter, EventStore, RunnerFailure, validate_id};
use crate::trace::warn;

/// How many instances a runner keeps decoded in memory before it starts over.
const CACHED_INSTANCES: usize = 10_000;
/// How many outbox entries or due deadlines are handled per transaction.
const STEP_BATCH: usize = 500;
/// How many streams a runner sends commands to at once.
const IN_FLIGHT: usize = 16;

/// Runs one process manager against a store: follows the log from its stored position,
/// hands each event to the instance it is for, stores the instance's state, its position,
/// the commands sent and the deadlines set in one transaction
/// ([`EventStore::commit_process`]), then executes the commands through the repositories
/// it was built with; fires deadlines when due. See the [module docs](super) for the
/// guarantees.
///
/// ```
/// # use std::sync::Arc;
/// # use std::time::Duration;
/// # use factum::prelude::*;
/// # use factum::process::Steps;
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// # pub struct OrderPlaced { pub total: u64 }
/// # #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// # pub struct OrderCancelled { pub reason: String }
/// # #[derive(Aggregate, Default, Debug, Clone)]
/// # pub struct Order { cancelled: bool }
/// # #[handlers]
/// # impl Order {
/// #     #[command]
/// #     pub fn place(&self, total: u64) -> Result<OrderPlaced, std::convert::Infallible> { Ok(OrderPlaced { total }) }
/// #     #[command]
/// #     pub fn cancel(&self, reason: String) -> Result<OrderCancelled, std::convert::Infallible> { Ok(OrderCancelled { reason }) }
/// #     #[apply]
/// #     fn placed(&mut self, _: &OrderPlaced) {}
/// #     #[apply]
/// #     fn cancelled(&mut self, _: &OrderCancelled) { self.cancelled = true; }
/// # }
/// # #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
/// # pub struct PaymentDue;
/// # #[derive(ProcessManager, Default, Debug, Clone, Serialize, Deserialize)]
/// # #[process(sends = [Order])]
/// # pub struct PaymentDeadline { order: String }
/// # #[handlers]
/// # impl PaymentDeadline {
/// #     #[on(start)]
/// #     fn placed(&mut self, _: &OrderPlaced, meta: &EventMeta, steps: &mut Steps<Self>) {
/// #         self.order = meta.stream_id.clone();
/// #         steps.schedule(Duration::ZERO, PaymentDue);
/// #     }
/// #     #[deadline]
/// #     fn due(&mut self, _: PaymentDue, steps: &mut Steps<Self>) {
/// #         steps.send::<Order>(&self.order, OrderCommand::Cancel { reason: "not paid in time".into() });
/// #         steps.end();
/// #     }
/// # }
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = MemoryStore::new();
/// let orders = Arc::new(Repository::<Order, _>::new(store.clone()));
/// let deadlines = ProcessRunner::<PaymentDeadline, _>::start(store.clone(), (orders.clone(),)).await?;
/// // In a program: `tokio::spawn(async move { deadlines.run_exclusive().await })`.
///
/// orders.execute("order-7", OrderCommand::Place { total: 30 }).await?;
/// deadlines.catch_up().await?; // the order starts an instance, whose deadline is due at once
/// assert!(orders.load("order-7").await?.unwrap().state.cancelled);
/// # Ok(()) }
/// ```
pub struct ProcessRunner<P: ProcessManager, S: EventStore> {
    store: S,
    targets: P::Targets<S>,
    state: tokio::sync::Mutex<Progress<P>>,
    batch: usize,
}

struct Progress<P> {
    /// The position of the last event handled and committed.
    position: u64,
    /// Instances as last committed, decoded.
    instances: HashMap<String, P>,
    /// False while a catch-up runs: one whose future was dropped half-way (a timeout, an
    /// aborted task) may have left instances changed in the cache that were never
    /// committed, so the next one starts again from the store.
    clean: bool,
    /// The outbox is known to be empty: every command this runner stored was executed, so
    /// a catch-up need not ask the store for leftovers first.
    drained: bool,
}

/// One transaction being assembled, with what it says about instances for the lookups of
/// the events after it in the batch.
struct Pending {
    commit: ProcessCommit,
    /// The index in `commit.instances` of each instance's last entry.
    latest: HashMap<String, usize>,
    /// Instances looked up in the store for this transaction and not found there.
    absent: HashSet<String>,
}

/// What a step was triggered by, for the metadata of the commands it sends.
enum Trigger<'a> {
    Event(&'a RecordedEvent),
    Deadline(&'a DueDeadline),
    Rejection(&'a RejectedCommand),
}

impl Trigger<'_> {
    /// Causation id, correlation id, and the stem of command ids.
    fn ids(&self, process: &str, instance: &str) -> (String, String, String) {
        match self {
            Trigger::Event(event) => {
                let meta = &event.meta;
                let causation = format!("{}/{}/{}", meta.aggregate_type, meta.stream_id, meta.stream_version);
                let correlation = meta.metadata.correlation_id.clone().unwrap_or_else(|| causation.clone());
                (causation, correlation, format!("{process}/{instance}/{}", meta.position))
            }
            Trigger::Deadline(due) => {
                let causation = format!("deadline:{process}/{}", due.id);
                let correlation = due.deadline.correlation_id.clone().unwrap_or_else(|| causation.clone());
                (causation, correlation, format!("{process}/{instance}/deadline-{}", due.id))
            }
            Trigger::Rejection(rejected) => {
                let command = &rejected.command;
                let causation = command.command_id().to_owned();
                let correlation = command.metadata.correlation_id.clone().unwrap_or_else(|| causation.clone());
                (causation, correlation, format!("{process}/{instance}/rejected-{}", command.id))
            }
        }
    }
}

impl Pending {
    fn new() -> Self {
        Pending { commit: ProcessCommit::default(), latest: HashMap::new(), absent: HashSet::new() }
    }

    /// What this transaction already says about `instance`: `Some(None)` when it ends it.
    fn instance(&self, instance: &str) -> Option<Option<&str>> {
        self.latest.get(instance).map(|&i| self.commit.instances[i].1.as_deref())
    }

    fn set_instance(&mut self, instance: &str, state: Option<String>) {
        match self.latest.get(instance) {
            // An instance that ended and starts again in one transaction: removing it first
            // takes the first one's deadlines with it.
            Some(&i) if !(self.commit.instances[i].1.is_none() && state.is_some()) => {
                self.commit.instances[i].1 = state;
            }
            _ => {
                self.latest.insert(instance.to_owned(), self.commit.instances.len());
                self.commit.instances.push((instance.to_owned(), state));
            }
        }
    }
}

impl<P: ProcessManager, S: EventStore> ProcessRunner<P, S> {
    /// Loads the process manager's position (or starts at the beginning of the log) without
    /// reading any event yet. `targets` are the repositories of the aggregates of
    /// `#[process(sends = [..])]`, in that order: `(orders,)` for `sends = [Order]`.
    pub async fn start(store: S, targets: P::Targets<S>) -> Result<Self, ProcessError> {
        let position = Self::stored_position(&store).await?;
        Ok(ProcessRunner {
            store,
            targets,
            state: tokio::sync::Mutex::new(Progress {
                position,
                instances: HashMap::new(),
                clean: true,
                drained: false,
            }),
            batch: 500,
        })
    }

    /// Reads at most `events` events a batch (one transaction per batch).
    pub fn with_batch_size(mut self, events: usize) -> Self {
        self.batch = events.max(1);
        self
    }

    /// The store underneath.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The repositories the commands go through.
    pub fn targets(&self) -> &P::Targets<S> {
        &self.targets
    }

    async fn stored_position(store: &S) -> Result<u64, ProcessError> {
        let checkpoint = store.load_checkpoint(&checkpoint_name(P::NAME)).await.map_err(store_error::<P>)?;
        Ok(checkpoint.map_or(0, |c| c.position))
    }

    /// The position of the last event the process manager has handled.
    pub async fn position(&self) -> u64 {
        self.state.lock().await.position
    }

    /// The state of instance `instance`, as stored; `None` if it never started or ended.
    pub async fn instance(&self, instance: &str) -> Result<Option<P>, ProcessError> {
        let stored = self.store.load_process_instance(P::NAME, instance).await.map_err(store_error::<P>)?;
        stored.map(|state| decode_instance::<P>(instance, &state)).transpose()
    }

    /// The commands aggregates refused (oldest first, at most `limit`), with their errors.
    pub async fn rejections(&self, limit: usize) -> Result<Vec<RejectedCommand>, ProcessError> {
        self.store.rejected_commands(P::NAME, limit).await.map_err(store_error::<P>)
    }

    /// Handles every event after the position, fires every deadline due by now, and
    /// executes every command of the outbox. Returns the position reached.
    pub async fn catch_up(&self) -> Result<u64, ProcessError> {
        let mut progress = self.state.lock().await;
        if !progress.clean {
            progress.instances.clear();
            progress.drained = false;
            progress.position = Self::stored_position(&self.store).await?;
        }
        progress.clean = false;
        let outcome = self.catch_up_locked(&mut progress).await;
        match &outcome {
            Ok(_) => progress.clean = true,
            Err(error) => {
                // What was not committed may be half-changed: read it back from the store.
                progress.instances.clear();
                progress.drained = false;
                if let Ok(position) = Self::stored_position(&self.store).await {
                    progress.position = position;
                    progress.clean = true;
                }
                self.record_failure(progress.position, error).await;
            }
        }
        outcome
    }

    async fn catch_up_locked(&self, progress: &mut Progress<P>) -> Result<u64, ProcessError> {
        if !progress.drained {
            self.dispatch(progress).await?;
        }
        loop {
            // Everything up to `head` is committed: once a read comes back short, the process
            // has seen every event it subscribes to up to there. That move is kept in memory
            // only; the stored position moves with the next step that changes something.
            let head = self.store.head_position().await.map_err(store_error::<P>)?;
            let filter = EventFilter::names(P::EVENTS);
            let events = self.store.read_all(progress.position, filter, self.batch).await.map_err(store_error::<P>)?;
            let full = events.len() >= self.batch;
            let mut pending = Pending::new();
            let mut failed = None;
            let mut reached = progress.position;
            // Routed first, so that the instances the batch reaches are loaded in one query.
            let mut routes = Vec::with_capacity(events.len());
            for event in &events {
                match P::route(event) {
                    Ok(route) => routes.push(route),
                    Err(source) => {
                        failed = Some(event_error::<P>(event, source));
                        break;
                    }
                }
            }
            let keys = routes.iter().flatten().map(|route| route.instance.as_str());
            self.prefetch(progress, &mut pending, keys).await?;
            for (event, route) in events.iter().zip(routes) {
                if let Err(error) = self.on_event(progress, &mut pending, event, route).await {
                    failed = Some(error);
                    break;
                }
                reached = event.meta.position;
            }
            if !pending.commit.is_empty() {
                pending.commit.position = Some(reached);
            }
            self.commit(progress, pending).await?;
            progress.position = reached;
            if !progress.drained {
                self.dispatch(progress).await?;
            }
            if let Some(error) = failed {
                return Err(error);
            }
            if !full {
                progress.position = progress.position.max(head);
                break;
            }
        }
        self.fire_due(progress).await?;
        Ok(progress.position)
    }

    /// Follows the log: catches up, then waits for new events or the next deadline, until
    /// a handler fails or the store does. Spawn it as a task.
    pub async fn run(&self) -> Result<std::convert::Infallible, ProcessError> {
        loop {
            let position = self.catch_up().await?;
            let next = self.store.next_deadline(P::NAME).await.map_err(store_error::<P>)?;
            let waiting = self.store.wait_for_events(position);
            match next {
                Some(due) => {
                    let wait = due.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO);
                    if let Ok(waited) = tokio::time::timeout(wait, waiting).await {
                        waited.map_err(store_error::<P>)?;
                    }
                }
                None => waiting.await.map_err(store_error::<P>)?,
            }
        }
    }

    /// Like [`run`](Self::run), but first waits for the lease `process:<name>`, so that
    /// among all processes sharing the store only one runs this process manager at a time
    /// (and no deadline fires twice). When the holder stops or dies, a waiting process
    /// takes over from the stored position.
    pub async fn run_exclusive(&self) -> Result<std::convert::Infallible, ProcessError> {
        let _lease = self.store.acquire_lease(&checkpoint_name(P::NAME)).await.map_err(store_error::<P>)?;
        {
            // The previous holder may have moved on while we waited.
            let mut progress = self.state.lock().await;
            progress.position = Self::stored_position(&self.store).await?;
            progress.instances.clear();
            progress.drained = false;
        }
        self.run().await
    }

    /// Records why the runner stopped, for `factum projections`; a store that cannot take
    /// it is logged.
    async fn record_failure(&self, position: u64, error: &ProcessError) {
        let failure = RunnerFailure { position, error: error.to_string(), failed_at: SystemTime::now() };
        if let Err(recording) = self.store.record_failure(&checkpoint_name(P::NAME), failure).await {
            warn!(process = P::NAME, error = %recording, "the process manager's failure could not be recorded");
        }
        warn!(process = P::NAME, position, error = %error, "process manager stopped");
    }

    /// The instance `key` as this step sees it: changed earlier in the transaction (and
    /// kept decoded), cached as committed, or stored. It is taken out of the cache: the
    /// step puts it back with its new state, and a step that fails leaves it out.
    async fn load(&self, progress: &mut Progress<P>, pending: &Pending, key: &str) -> Result<Option<P>, ProcessError> {
        if let Some(None) = pending.instance(key) {
            return Ok(None);
        }
        if let Some(cached) = progress.instances.remove(key) {
            return Ok(Some(cached));
        }
        if let Some(Some(state)) = pending.instance(key) {
            return decode_instance::<P>(key, state).map(Some);
        }
        if pending.absent.contains(key) {
            return Ok(None);
        }
        let stored = self.store.load_process_instance(P::NAME, key).await.map_err(store_error::<P>)?;
        stored.map(|state| decode_instance::<P>(key, &state)).transpose()
    }

    /// Loads into the cache, in one query, the instances of `keys` this transaction has not
    /// seen yet, and notes those the store does not have. One whose state does not decode
    /// is left out: its step loads it again and reports it.
    async fn prefetch<'k>(
        &self,
        progress: &mut Progress<P>,
        pending: &mut Pending,
        keys: impl Iterator<Item = &'k str>,
    ) -> Result<(), ProcessError> {
        let mut wanted: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        for key in keys {
            let known = progress.instances.contains_key(key) || pending.instance(key).is_some();
            if !known && !pending.absent.contains(key) && seen.insert(key) {
                wanted.push(key.to_owned());
            }
        }
        if wanted.is_empty() {
            return Ok(());
        }
        let found = self.store.load_process_instances(P::NAME, &wanted).await.map_err(store_error::<P>)?;
        let mut missing: HashSet<String> = wanted.into_iter().collect();
        for (key, state) in found {
            missing.remove(&key);
            if let Ok(instance) = decode_instance::<P>(&key, &state) {
                progress.instances.insert(key, instance);
            }
        }
        pending.absent.extend(missing);
        Ok(())
    }

    async fn on_event(
        &self,
        progress: &mut Progress<P>,
        pending: &mut Pending,
        event: &RecordedEvent,
        route: Option<Route>,
    ) -> Result<(), ProcessError> {
        let failed = |source| event_error::<P>(event, source);
        let Some(route) = route else { return Ok(()) };
        validate_id("process instance", &route.instance)
            .map_err(|error| failed(ApplyError::Handler(Box::new(error))))?;
        let instance = match self.load(progress, pending, &route.instance).await? {
            Some(instance) => instance,
            None if route.start => P::default(),
            None => return Ok(()),
        };
        let mut instance = instance;
        let mut steps = Steps::new(SystemTime::now());
        ApplyError::catching(|| instance.on_event(event, &mut steps)).map_err(failed)?;
        self.record(progress, pending, &route.instance, instance, steps, &Trigger::Event(event))
    }

    /// Adds a handler's outcome to the transaction: the instance's state (or its end), its
    /// commands with their metadata, its deadlines.
    fn record(
        &self,
        progress: &mut Progress<P>,
        pending: &mut Pending,
        key: &str,
        instance: P,
        steps: Steps<P>,
        trigger: &Trigger<'_>,
    ) -> Result<(), ProcessError> {
        let (causation, correlation, stem) = trigger.ids(P::NAME, key);
        let Steps { sends, schedules, cancels, end, .. } = steps;
        for (index, Outgoing { aggregate_type, stream_id, command }) in sends.into_iter().enumerate() {
            let command = command.map_err(|error| {
                let source = ApplyError::Handler(
                    format!("a command to {aggregate_type}/{stream_id} does not serialize as JSON: {error}").into(),
                );
                trigger_error::<P>(trigger, key, source)
            })?;
            let metadata = Metadata::new()
                .with_correlation_id(correlation.clone())
                .with_causation_id(causation.clone())
                .with_command_id(format!("{stem}/{index}"));
            pending.commit.send.push(OutgoingCommand {
                id: 0,
                instance: key.to_owned(),
                aggregate_type: aggregate_type.to_owned(),
                stream_id,
                command,
                metadata,
            });
        }
        let commit = &mut pending.commit;
        if end {
            commit.schedule.retain(|d| d.instance != key);
            progress.instances.remove(key);
            pending.set_instance(key, None);
            return Ok(());
        }
        for kind in cancels {
            commit.schedule.retain(|d| d.instance != key || d.kind != kind);
            commit.cancel.push((key.to_owned(), kind.to_owned()));
        }
        for (due_at, deadline) in schedules {
            let payload = serde_json::to_string(&deadline).map_err(|source| ProcessError::Encode {
                process: P::NAME,
                instance: key.to_owned(),
                source,
            })?;
            commit.schedule.push(NewDeadline {
                instance: key.to_owned(),
                kind: deadline.kind().to_owned(),
                due_at,
                payload,
                correlation_id: Some(correlation.clone()),
            });
        }
        let state = encode_instance::<P>(key, &instance)?;
        pending.set_instance(key, Some(state));
        progress.instances.insert(key.to_owned(), instance);
        Ok(())
    }

    /// Stores a transaction. The instances it wrote are in the cache already (a failure
    /// empties the cache: see [`catch_up`](Self::catch_up)); commands it stored leave the
    /// outbox to [`dispatch`](Self::dispatch).
    async fn commit(&self, progress: &mut Progress<P>, pending: Pending) -> Result<(), ProcessError> {
        if pending.commit.is_empty() {
            return Ok(());
        }
        if !pending.commit.send.is_empty() {
            progress.drained = false;
        }
        self.store.commit_process(P::NAME, pending.commit).await.map_err(store_error::<P>)?;
        if progress.instances.len() > CACHED_INSTANCES {
            progress.instances.clear();
        }
        Ok(())
    }

    /// Executes the outbox: the commands to one stream in order, those to different streams
    /// side by side (at most [`IN_FLIGHT`] at a time), so that a store's group commit can
    /// carry them together. A refused command is recorded and offered to its instance's
    /// `#[rejected]` handler (whose own commands are executed in turn); a command whose
    /// store failed stays in the outbox, with those after it to the same stream.
    async fn dispatch(&self, progress: &mut Progress<P>) -> Result<(), ProcessError> {
        loop {
            let commands = self.store.pending_commands(P::NAME, STEP_BATCH).await.map_err(store_error::<P>)?;
            if commands.is_empty() {
                progress.drained = true;
                return Ok(());
            }
            let last_batch = commands.len() < STEP_BATCH;
            let mut lanes: Vec<Vec<OutgoingCommand>> = Vec::new();
            let mut lane_of: HashMap<(String, String), usize> = HashMap::new();
            for command in commands {
                let key = (command.aggregate_type.clone(), command.stream_id.clone());
                let lane = *lane_of.entry(key).or_insert_with(|| {
                    lanes.push(Vec::new());
                    lanes.len() - 1
                });
                lanes[lane].push(command);
            }
            let run_lane = |lane: Vec<OutgoingCommand>| async move {
                let mut outcomes = Vec::with_capacity(lane.len());
                for command in lane {
                    let outcome = P::dispatch(&self.targets, &command).await;
                    let failed = matches!(outcome, Dispatched::Failed(_));
                    outcomes.push((command, outcome));
                    if failed {
                        break;
                    }
                }
                outcomes
            };
            let mut outcomes: Vec<(OutgoingCommand, Dispatched)> =
                stream::iter(lanes).map(run_lane).buffer_unordered(IN_FLIGHT).concat().await;
            outcomes.sort_by_key(|(command, _)| command.id);

            let mut pending = Pending::new();
            let mut failed = None;
            for (command, outcome) in outcomes {
                match outcome {
                    Dispatched::Executed => pending.commit.sent.push(command.id),
                    Dispatched::Rejected(error) => {
                        warn!(
                            process = P::NAME,
                            instance = %command.instance,
                            stream = %format!("{}/{}", command.aggregate_type, command.stream_id),
                            command_id = %command.command_id(),
                            error = %error,
                            "a command was rejected"
                        );
                        pending.commit.rejected.push((command.id, error.clone()));
                        let rejected = RejectedCommand { command, error, rejected_at: SystemTime::now() };
                        if failed.is_none()
                            && let Err(error) = self.on_rejected(progress, &mut pending, &rejected).await
                        {
                            failed = Some(error);
                        }
                    }
                    Dispatched::Failed(source) => {
                        failed = failed.or(Some(store_error::<P>(source)));
                    }
                }
            }
            let added = !pending.commit.send.is_empty();
            self.commit(progress, pending).await?;
            if let Some(error) = failed {
                return Err(error);
            }
            if last_batch && !added {
                progress.drained = true;
                return Ok(());
            }
        }
    }

    async fn on_rejected(
        &self,
        progress: &mut Progress<P>,
        pending: &mut Pending,
        rejected: &RejectedCommand,
    ) -> Result<(), ProcessError> {
        let key = rejected.command.instance.as_str();
        let Some(mut instance) = self.load(progress, pending, key).await? else { return Ok(()) };
        let mut steps = Steps::new(SystemTime::now());
        let trigger = Trigger::Rejection(rejected);
        ApplyError::catching(|| instance.on_rejected(rejected, &mut steps))
            .map_err(|e| trigger_error::<P>(&trigger, key, e))?;
        self.record(progress, pending, key, instance, steps, &trigger)
    }

    /// Fires every deadline due by now, a transaction per batch.
    async fn fire_due(&self, progress: &mut Progress<P>) -> Result<(), ProcessError> {
        loop {
            let due =
                self.store.due_deadlines(P::NAME, SystemTime::now(), STEP_BATCH).await.map_err(store_error::<P>)?;
            if due.is_empty() {
                return Ok(());
            }
            let mut pending = Pending::new();
            let mut failed = None;
            let keys = due.iter().map(|deadline| deadline.deadline.instance.as_str());
            self.prefetch(progress, &mut pending, keys).await?;
            for deadline in &due {
                if let Err(error) = self.fire(progress, &mut pending, deadline).await {
                    failed = Some(error);
                    break;
                }
                pending.commit.fired.push(deadline.id);
            }
            self.commit(progress, pending).await?;
            if !progress.drained {
                self.dispatch(progress).await?;
            }
            if let Some(error) = failed {
                return Err(error);
            }
        }
    }

    async fn fire(
        &self,
        progress: &mut Progress<P>,
        pending: &mut Pending,
        due: &DueDeadline,
    ) -> Result<(), ProcessError> {
        let key = due.deadline.instance.as_str();
        let trigger = Trigger::Deadline(due);
        let deadline: P::Deadline = serde_json::from_str(&due.deadline.payload).map_err(|error| {
            let source = ApplyError::Handler(
                format!("the stored deadline {} does not decode: {error}", due.deadline.payload).into(),
            );
            trigger_error::<P>(&trigger, key, source)
        })?;
        // An instance that ended took its deadlines with it; one gone some other way (its
        // state deleted by hand) has nothing to fire on.
        let Some(mut instance) = self.load(progress, pending, key).await? else { return Ok(()) };
        let mut steps = Steps::new(SystemTime::now());
        ApplyError::catching(|| instance.on_deadline(deadline, &mut steps))
            .map_err(|e| trigger_error::<P>(&trigger, key, e))?;
        self.record(progress, pending, key, instance, steps, &trigger)
    }
}

impl<P: ProcessManager, S: EventStore> std::fmt::Debug for ProcessRunner<P, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessRunner").field("process", &P::NAME).finish_non_exhaustive()
    }
}

fn decode_instance<P: ProcessManager>(instance: &str, state: &str) -> Result<P, ProcessError> {
    serde_json::from_str(state).map_err(|source| ProcessError::State {
        process: P::NAME,
        instance: instance.to_owned(),
        source,
    })
}

fn encode_instance<P: ProcessManager>(instance: &str, state: &P) -> Result<String, ProcessError> {
    serde_json::to_string(state).map_err(|source| ProcessError::Encode {
        process: P::NAME,
        instance: instance.to_owned(),
        source,
    })
}

fn store_error<P: ProcessManager>(source: StoreError) -> ProcessError {
    ProcessError::Store { process: P::NAME, source }
}

fn event_error<P: ProcessManager>(event: &RecordedEvent, source: ApplyError) -> ProcessError {
    let meta = &event.meta;
    ProcessError::Event {
        process: P::NAME,
        position: meta.position,
        aggregate_type: meta.aggregate_type.clone(),
        stream_id: meta.stream_id.clone(),
        version: meta.stream_version,
        event: meta.event_name.clone(),
        source: Box::new(source),
    }
}

fn trigger_error<P: ProcessManager>(trigger: &Trigger<'_>, instance: &str, source: ApplyError) -> ProcessError {
    let what = match trigger {
        Trigger::Event(event) => return event_error::<P>(event, source),
        Trigger::Deadline(due) => format!("deadline {} (`{}`)", due.id, due.deadline.kind),
        Trigger::Rejection(rejected) => format!("the rejection of command {:?}", rejected.command.command_id()),
    };
    ProcessError::Step { process: P::NAME, instance: instance.to_owned(), what, source: Box::new(source) }
}
