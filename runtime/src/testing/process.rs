//! Given / then for process managers, on a virtual clock.

use std::fmt::Debug;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::TestLog;
use crate::aggregate::Aggregate;
use crate::envelope::Metadata;
use crate::event::Event;
use crate::process::{DeadlineOf, Deadlines, OutgoingCommand, ProcessManager, RejectedCommand, Sends, Steps};

/// Starts a scenario for the process manager `P`: no instances, and a virtual clock that
/// only [`advance`](ProcessScenario::advance) moves.
///
/// Each `given`, `advance` or `rejecting` is a step; the `then_*` checks look at what the
/// last step did (the commands sent, the deadlines set, the instances ended), across every
/// instance it reached. Each check panics with the expected and the actual.
///
/// ```
/// # use std::time::Duration;
/// # use factum::prelude::*;
/// # use factum::process::Steps;
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// # pub struct OrderPlaced { pub total: u64 }
/// # #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// # pub struct PaymentTaken { pub order_id: String }
/// # #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// # pub struct OrderCancelled { pub reason: String }
/// # #[derive(Aggregate, Default, Debug, Clone)]
/// # pub struct Order { cancelled: bool }
/// # #[handlers]
/// # impl Order {
/// #     #[command]
/// #     pub fn cancel(&self, reason: String) -> Result<OrderCancelled, std::convert::Infallible> { Ok(OrderCancelled { reason }) }
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
/// #         steps.schedule(Duration::from_secs(900), PaymentDue);
/// #     }
/// #     #[on(correlate = order_id, end)]
/// #     fn paid(&mut self, _: &PaymentTaken) {}
/// #     #[deadline]
/// #     fn due(&mut self, _: PaymentDue, steps: &mut Steps<Self>) {
/// #         steps.send::<Order>(&self.order, OrderCommand::Cancel { reason: "not paid in time".into() });
/// #         steps.end();
/// #     }
/// # }
/// use factum::testing::process;
///
/// // Not paid: cancelled when the window closes, not before.
/// process::<PaymentDeadline>()
///     .given("order", "o-1", OrderPlaced { total: 30 })
///     .then_schedules([PaymentDue])
///     .advance(Duration::from_secs(899))
///     .then_sends_nothing()
///     .advance(Duration::from_secs(1))
///     .then_sends::<Order>([("o-1", OrderCommand::Cancel { reason: "not paid in time".into() })])
///     .then_ends();
///
/// // Paid in time: the instance ends, and its deadline with it.
/// process::<PaymentDeadline>()
///     .given("order", "o-1", OrderPlaced { total: 30 })
///     .given("payment", "p-9", PaymentTaken { order_id: "o-1".into() })
///     .then_ends()
///     .advance(Duration::from_secs(3600))
///     .then_sends_nothing();
/// ```
pub fn process<P: ProcessManager>() -> ProcessScenario<P> {
    ProcessScenario {
        // A fixed start, so that a scenario's times are the same on every run.
        now: SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600),
        instances: Vec::new(),
        deadlines: Vec::new(),
        last_deadline: 0,
        log: TestLog::default(),
        last: Last::default(),
    }
}

/// A process manager fed with events and time, to check. See [`process`].
pub struct ProcessScenario<P: ProcessManager> {
    now: SystemTime,
    /// Live instances, by key, in the order they started.
    instances: Vec<(String, P)>,
    /// Deadlines set and not fired: id, instance, due time, value.
    deadlines: Vec<(u64, String, SystemTime, P::Deadline)>,
    last_deadline: u64,
    log: TestLog,
    last: Last<P>,
}

/// What the last step did.
struct Last<P: ProcessManager> {
    what: String,
    sends: Vec<OutgoingCommand>,
    schedules: Vec<(String, SystemTime, P::Deadline)>,
    ended: Vec<String>,
}

impl<P: ProcessManager> Default for Last<P> {
    fn default() -> Self {
        Last { what: "nothing yet".to_owned(), sends: Vec::new(), schedules: Vec::new(), ended: Vec::new() }
    }
}

impl<P: ProcessManager> ProcessScenario<P> {
    /// Feeds `event`, as if stored as the next event of `aggregate_type/stream_id`, at the
    /// virtual clock's time.
    #[track_caller]
    pub fn given<E: Event>(self, aggregate_type: &str, stream_id: &str, event: E) -> Self {
        self.given_with(aggregate_type, stream_id, event, Metadata::default())
    }

    /// Like [`given`](Self::given), with the metadata of the command that recorded it.
    #[track_caller]
    pub fn given_with<E: Event>(mut self, aggregate_type: &str, stream_id: &str, event: E, metadata: Metadata) -> Self {
        let recorded = self.log.next(aggregate_type, stream_id, &event, self.now, metadata);
        let version = recorded.meta.stream_version;
        self.last = Last { what: format!("event `{}` on {aggregate_type}/{stream_id}", E::NAME), ..Last::default() };
        let failed = |error: &dyn std::fmt::Display| -> ! {
            panic!(
                "process manager `{}` failed on event `{}` (version {version} of {aggregate_type}/{stream_id}): {error}",
                P::NAME,
                E::NAME,
            )
        };
        let route = match P::route(&recorded) {
            Ok(Some(route)) => route,
            Ok(None) => return self,
            Err(error) => failed(&error),
        };
        let mut instance = match self.take(&route.instance) {
            Some(instance) => instance,
            None if route.start => P::default(),
            None => return self,
        };
        let mut steps = Steps::new(self.now);
        if let Err(error) = instance.on_event(&recorded, &mut steps) {
            failed(&error)
        }
        let trigger = format!("{}/{}", P::NAME, recorded.meta.position);
        self.keep(&route.instance, instance, steps, &trigger);
        self
    }

    /// Moves the virtual clock on by `duration`, firing every deadline that falls due, in
    /// the order they are due.
    #[track_caller]
    pub fn advance(mut self, duration: Duration) -> Self {
        let until = self.now + duration;
        self.last = Last { what: format!("advancing the clock by {duration:?}"), ..Last::default() };
        loop {
            let next = self
                .deadlines
                .iter()
                .enumerate()
                .filter(|(_, (_, _, due, _))| *due <= until)
                .min_by_key(|(_, (id, _, due, _))| (*due, *id))
                .map(|(index, _)| index);
            let Some(index) = next else { break };
            let (id, key, due, deadline) = self.deadlines.remove(index);
            self.now = self.now.max(due);
            let Some(mut instance) = self.take(&key) else { continue };
            let mut steps = Steps::new(self.now);
            let kind = deadline.kind();
            if let Err(error) = instance.on_deadline(deadline, &mut steps) {
                panic!("process manager `{}` failed on deadline `{kind}` of instance {key:?}: {error}", P::NAME);
            }
            self.keep(&key, instance, steps, &format!("{}/deadline-{id}", P::NAME));
        }
        self.now = until;
        self
    }

    /// Has the aggregates refuse every command the last step sent, with `error`: each is
    /// offered to the `#[rejected]` handler of the instance that sent it, as a runner
    /// does. The checks then look at what those handlers did.
    #[track_caller]
    pub fn rejecting(mut self, error: &str) -> Self {
        let refused = std::mem::take(&mut self.last.sends);
        self.last = Last { what: format!("rejecting {} command(s) with {error:?}", refused.len()), ..Last::default() };
        for command in refused {
            let key = command.instance.clone();
            let Some(mut instance) = self.take(&key) else { continue };
            let rejected = RejectedCommand { command, error: error.to_owned(), rejected_at: self.now };
            let mut steps = Steps::new(self.now);
            if let Err(error) = instance.on_rejected(&rejected, &mut steps) {
                panic!("process manager `{}` failed on a rejection for instance {key:?}: {error}", P::NAME);
            }
            let trigger = format!("{}/rejected-{}", P::NAME, rejected.command.command_id());
            self.keep(&key, instance, steps, &trigger);
        }
        self
    }

    fn take(&mut self, key: &str) -> Option<P> {
        let index = self.instances.iter().position(|(k, _)| k == key)?;
        Some(self.instances.remove(index).1)
    }

    /// Keeps what a handler did, as the runner stores it.
    fn keep(&mut self, key: &str, instance: P, steps: Steps<P>, trigger: &str) {
        let Steps { sends, schedules, cancels, end, .. } = steps;
        for (index, sent) in sends.into_iter().enumerate() {
            let command = sent.command.unwrap_or_else(|error| {
                panic!(
                    "process manager `{}`: a command to {} does not serialize: {error}",
                    P::NAME,
                    sent.aggregate_type
                )
            });
            self.last.sends.push(OutgoingCommand {
                id: 0,
                instance: key.to_owned(),
                aggregate_type: sent.aggregate_type.to_owned(),
                stream_id: sent.stream_id,
                command,
                metadata: Metadata::new().with_command_id(format!("{trigger}/{index}")),
            });
        }
        if end {
            self.deadlines.retain(|(_, instance, _, _)| instance != key);
            self.last.ended.push(key.to_owned());
            return;
        }
        for kind in cancels {
            self.deadlines.retain(|(_, instance, _, deadline)| instance != key || deadline.kind() != kind);
        }
        for (due, deadline) in schedules {
            self.last_deadline += 1;
            self.deadlines.push((self.last_deadline, key.to_owned(), due, deadline.clone()));
            self.last.schedules.push((key.to_owned(), due, deadline));
        }
        self.instances.push((key.to_owned(), instance));
    }

    /// Expects the last step to have sent exactly `expected` to aggregates `A` (stream id
    /// and command, in order), and nothing to other aggregates.
    #[track_caller]
    pub fn then_sends<A>(self, expected: impl IntoIterator<Item = (impl Into<String>, A::Command)>) -> Self
    where
        A: Aggregate,
        P: Sends<A>,
        A::Command: Serialize + DeserializeOwned + PartialEq + Debug,
    {
        let expected: Vec<(String, A::Command)> = expected.into_iter().map(|(id, c)| (id.into(), c)).collect();
        let actual: Vec<(String, String, Result<A::Command, String>)> = self
            .last
            .sends
            .iter()
            .map(|sent| {
                let decoded = if sent.aggregate_type == A::NAME {
                    serde_json::from_str(&sent.command).map_err(|_| sent.command.clone())
                } else {
                    Err(sent.command.clone())
                };
                (sent.aggregate_type.clone(), sent.stream_id.clone(), decoded)
            })
            .collect();
        let matches = actual.len() == expected.len()
            && actual.iter().zip(&expected).all(|((ty, id, command), (expected_id, expected_command))| {
                ty == A::NAME && id == expected_id && command.as_ref().is_ok_and(|c| c == expected_command)
            });
        if !matches {
            let shown: Vec<String> = actual
                .iter()
                .map(|(ty, id, command)| match command {
                    Ok(command) => format!("{ty}/{id}: {command:?}"),
                    Err(json) => format!("{ty}/{id}: {json}"),
                })
                .collect();
            panic!(
                "process manager `{}`, after {}:\nexpected commands to `{}`:\n{expected:#?}\nactual commands:\n{shown:#?}",
                P::NAME,
                self.last.what,
                A::NAME
            );
        }
        self
    }

    /// Expects the last step to have sent no command.
    #[track_caller]
    pub fn then_sends_nothing(self) -> Self {
        if !self.last.sends.is_empty() {
            let shown: Vec<String> = self
                .last
                .sends
                .iter()
                .map(|s| format!("{}/{}: {}", s.aggregate_type, s.stream_id, s.command))
                .collect();
            panic!(
                "process manager `{}`, after {}: expected no command, but it sent:\n{shown:#?}",
                P::NAME,
                self.last.what
            );
        }
        self
    }

    /// Expects the last step to have set exactly these deadlines, in order (on whichever
    /// instance).
    #[track_caller]
    pub fn then_schedules<D: DeadlineOf<P>>(self, expected: impl IntoIterator<Item = D>) -> Self {
        let expected: Vec<P::Deadline> = expected.into_iter().map(DeadlineOf::into_deadline).collect();
        let actual: Vec<&P::Deadline> = self.last.schedules.iter().map(|(_, _, d)| d).collect();
        let json = |d: &P::Deadline| serde_json::to_string(d).unwrap_or_else(|e| e.to_string());
        let same = actual.len() == expected.len() && actual.iter().zip(&expected).all(|(a, e)| json(a) == json(e));
        if !same {
            panic!(
                "process manager `{}`, after {}:\nexpected deadlines:\n{expected:#?}\nactual deadlines:\n{actual:#?}",
                P::NAME,
                self.last.what
            );
        }
        self
    }

    /// Expects the last step to have set a deadline due `after` from the virtual clock's
    /// time now, among others.
    #[track_caller]
    pub fn then_schedules_in(self, after: Duration) -> Self {
        let due: Vec<Duration> =
            self.last.schedules.iter().map(|(_, at, _)| at.duration_since(self.now).unwrap_or_default()).collect();
        if !due.contains(&after) {
            panic!(
                "process manager `{}`, after {}: expected a deadline due in {after:?}; the deadlines set are due in {due:?}",
                P::NAME,
                self.last.what
            );
        }
        self
    }

    /// Expects the last step to have ended an instance.
    #[track_caller]
    pub fn then_ends(self) -> Self {
        if self.last.ended.is_empty() {
            let live: Vec<&str> = self.instances.iter().map(|(k, _)| k.as_str()).collect();
            panic!(
                "process manager `{}`, after {}: expected an instance to end; none did (live instances: {live:?})",
                P::NAME,
                self.last.what
            );
        }
        self
    }

    /// Expects instance `instance` to be live and its state to satisfy `check`.
    #[track_caller]
    pub fn then_instance(self, instance: &str, check: impl FnOnce(&P) -> bool) -> Self
    where
        P: Debug,
    {
        match self.instances.iter().find(|(k, _)| k == instance) {
            None => {
                let live: Vec<&str> = self.instances.iter().map(|(k, _)| k.as_str()).collect();
                panic!("process manager `{}`: no live instance {instance:?} (live: {live:?})", P::NAME)
            }
            Some((_, state)) if !check(state) => {
                panic!("process manager `{}`: instance {instance:?} fails the check:\n{state:#?}", P::NAME)
            }
            Some(_) => self,
        }
    }

    /// The live instances, by key, in the order they last changed.
    pub fn instances(&self) -> impl Iterator<Item = (&str, &P)> {
        self.instances.iter().map(|(k, p)| (k.as_str(), p))
    }

    /// The virtual clock's time.
    pub fn now(&self) -> SystemTime {
        self.now
    }
}
