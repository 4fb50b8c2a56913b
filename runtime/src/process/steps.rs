//! [`Steps`]: what a process manager's handler asks for (commands to send, deadlines to set
//! or cancel, the end of its instance), collected while it runs and stored by the runner.

use std::marker::PhantomData;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::{DeadlineOf, Deadlines, ProcessManager, Sends};
use crate::aggregate::Aggregate;

/// What a process manager's handler does besides changing its own state: the commands it
/// sends, the deadlines it sets or cancels, and whether its instance ends.
///
/// Nothing happens while the handler runs. The runner stores the steps with the instance's
/// new state and its position in the log, in one transaction, and only then executes the
/// commands; a deadline set here fires once, after restarts too.
///
/// ```
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
/// #     pub fn cancel(&self, reason: String) -> Result<OrderCancelled, std::convert::Infallible> { Ok(OrderCancelled { reason }) }
/// #     #[apply]
/// #     fn cancelled(&mut self, _: &OrderCancelled) { self.cancelled = true; }
/// # }
/// #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
/// pub struct PaymentDue;
///
/// #[derive(ProcessManager, Default, Debug, Clone, Serialize, Deserialize)]
/// #[process(sends = [Order])]
/// pub struct PaymentDeadline { order: String }
///
/// #[handlers]
/// impl PaymentDeadline {
///     #[on(start)]
///     fn placed(&mut self, _: &OrderPlaced, meta: &EventMeta, steps: &mut Steps<Self>) {
///         self.order = meta.stream_id.clone();
///         steps.schedule(Duration::from_secs(15 * 60), PaymentDue);
///     }
///
///     #[deadline]
///     fn due(&mut self, _: PaymentDue, steps: &mut Steps<Self>) {
///         steps.send::<Order>(&self.order, OrderCommand::Cancel { reason: "not paid in time".into() });
///         steps.end();
///     }
/// }
/// ```
pub struct Steps<P: ProcessManager> {
    now: SystemTime,
    pub(crate) sends: Vec<Outgoing>,
    pub(crate) schedules: Vec<(SystemTime, P::Deadline)>,
    pub(crate) cancels: Vec<&'static str>,
    pub(crate) end: bool,
    _process: PhantomData<fn() -> P>,
}

/// A command as a handler sent it, before the runner stamps its metadata.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) aggregate_type: &'static str,
    pub(crate) stream_id: String,
    /// The command as JSON, or why it could not be written as JSON.
    pub(crate) command: Result<String, String>,
}

impl<P: ProcessManager> Steps<P> {
    /// Steps of a handler that runs at `now` (the runner's clock).
    pub(crate) fn new(now: SystemTime) -> Self {
        Steps { now, sends: Vec::new(), schedules: Vec::new(), cancels: Vec::new(), end: false, _process: PhantomData }
    }

    /// The time the handler runs at, by the runner's clock (a virtual one in
    /// [`testing::process`](crate::testing::process)).
    pub fn now(&self) -> SystemTime {
        self.now
    }

    /// Sends `command` to the aggregate `A` with id `id`, once the step is stored.
    ///
    /// `A` must be listed in `#[process(sends = [..])]`. The command carries the triggering
    /// event as its causation, keeps the event's correlation id, and has a command id
    /// derived from the process, the instance and the trigger: however often the runner
    /// restarts, the aggregate carries it out once.
    pub fn send<A>(&mut self, id: impl Into<String>, command: A::Command)
    where
        A: Aggregate,
        P: Sends<A>,
        A::Command: Serialize,
    {
        let command = serde_json::to_string(&command).map_err(|error| error.to_string());
        self.sends.push(Outgoing { aggregate_type: A::NAME, stream_id: id.into(), command });
    }

    /// Sets `deadline` to fire `after` from now; its `#[deadline]` handler runs then, on
    /// this instance. A deadline of a kind already set is set once more: cancel the first
    /// if only the new one should fire.
    pub fn schedule<D: DeadlineOf<P>>(&mut self, after: Duration, deadline: D) {
        self.schedule_at(self.now + after, deadline);
    }

    /// Sets `deadline` to fire at `at` (at once, if that has passed).
    pub fn schedule_at<D: DeadlineOf<P>>(&mut self, at: SystemTime, deadline: D) {
        self.schedules.push((at, deadline.into_deadline()));
    }

    /// Cancels every deadline of type `D` this instance has set, those set earlier in this
    /// handler included.
    pub fn cancel<D: DeadlineOf<P>>(&mut self) {
        self.schedules.retain(|(_, deadline)| deadline.kind() != D::KIND);
        if !self.cancels.contains(&D::KIND) {
            self.cancels.push(D::KIND);
        }
    }

    /// Ends the instance once this handler returns: its state is removed, its deadlines are
    /// cancelled, and no event or deadline reaches it again. The commands this handler sent
    /// are still sent.
    pub fn end(&mut self) {
        self.end = true;
    }

    /// True once [`end`](Self::end) was called.
    pub fn is_ending(&self) -> bool {
        self.end
    }
}

impl<P: ProcessManager> std::fmt::Debug for Steps<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Steps")
            .field("sends", &self.sends)
            .field("schedules", &self.schedules)
            .field("cancels", &self.cancels)
            .field("end", &self.end)
            .finish()
    }
}
