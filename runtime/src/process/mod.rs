//! Process managers: workflows across aggregates, with durable deadlines and commands sent
//! exactly once.
//!
//! A process manager reacts to events of any aggregate, keeps a little state per
//! *instance* (one order, one transfer), sends commands to aggregates and sets deadlines. It
//! is the write-side twin of a [projection](crate::projection): a struct with
//! `#[derive(ProcessManager)]`, and an impl block marked `#[handlers]`:
//!
//! ```
//! use std::time::Duration;
//! use factum::prelude::*;
//! use factum::process::Steps;
//! use serde::{Deserialize, Serialize};
//!
//! # #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
//! # pub struct OrderCancelled { pub reason: String }
//! # #[derive(Aggregate, Default, Debug, Clone)]
//! # pub struct Order { cancelled: bool }
//! # #[handlers]
//! # impl Order {
//! #     #[command]
//! #     pub fn cancel(&self, reason: String) -> Result<OrderCancelled, std::convert::Infallible> { Ok(OrderCancelled { reason }) }
//! #     #[apply]
//! #     fn cancelled(&mut self, _: &OrderCancelled) { self.cancelled = true; }
//! # }
//! #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
//! pub struct OrderPlaced { pub total: u64 }
//!
//! #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
//! pub struct PaymentTaken { pub order_id: String }
//!
//! #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
//! pub struct PaymentDue;
//!
//! /// Cancels an order that is not paid in time.
//! #[derive(ProcessManager, Default, Debug, Clone, Serialize, Deserialize)]
//! #[process(name = "payment-deadline", sends = [Order])]
//! pub struct PaymentDeadline { order: String }
//!
//! #[handlers]
//! impl PaymentDeadline {
//!     #[on(start)] // starts an instance, keyed by the event's stream id
//!     fn placed(&mut self, _e: &OrderPlaced, meta: &EventMeta, steps: &mut Steps<Self>) {
//!         self.order = meta.stream_id.clone();
//!         steps.schedule(Duration::from_secs(15 * 60), PaymentDue);
//!     }
//!
//!     #[on(correlate = order_id, end)] // keyed by a field of the event; ends the instance
//!     fn paid(&mut self, _e: &PaymentTaken) {}
//!
//!     #[deadline]
//!     fn payment_due(&mut self, _d: PaymentDue, steps: &mut Steps<Self>) {
//!         steps.send::<Order>(&self.order, OrderCommand::Cancel { reason: "not paid in time".into() });
//!         steps.end();
//!     }
//! }
//!
//! # fn main() {
//! factum::testing::process::<PaymentDeadline>()
//!     .given("order", "order-7", OrderPlaced { total: 30 })
//!     .then_schedules([PaymentDue])
//!     .advance(Duration::from_secs(15 * 60))
//!     .then_sends::<Order>([("order-7", OrderCommand::Cancel { reason: "not paid in time".into() })])
//!     .then_ends();
//! # }
//! ```
//!
//! # Instances and `correlate`
//!
//! Every event a handler takes is routed to one instance, by a key: the event's stream id
//! by default, or the value of one of its fields with `#[on(correlate = field)]` (written
//! with `ToString`). Only `#[on(start)]` handlers create an instance; the others reach an
//! instance that exists and skip the event otherwise. Choose the key the whole workflow
//! shares: the order's id, when every event of it names the order. An event from the
//! order's own stream needs no `correlate`; a payment's event (stream `payment/p-9`) names
//! the order in a field, and that field is its `correlate`.
//!
//! # Guarantees
//!
//! A [`ProcessRunner`] follows the log like a projection runner. For each batch of events
//! it stores, in one transaction of the store ([`EventStore::commit_process`]):
//! the instances' new states, its position in the log, the commands the handlers sent (an
//! outbox) and the deadlines they set. Then it executes the commands through the
//! repositories it was built with, each with a command id derived from the process, the
//! instance, the trigger and the command's index ([`Metadata::command_id`]): a repository
//! carries out a command whose id is already stored on its stream no more. So:
//!
//! - **A crash between the commit and the commands** (the process killed, the task dropped)
//!   loses nothing: the next runner finds the commands in the outbox and executes them, and
//!   those that had reached their aggregate are not carried out twice.
//! - **Every event reaches the stored state exactly once**, as for projections. A
//!   handler's own side effects outside its state and steps (a log line) may repeat for the
//!   events of a batch that had not been committed.
//! - **Deadlines** are stored with the instance and fire once when due, after restarts too;
//!   a deadline that fell due while no runner ran fires when one starts. Firing, the
//!   handler's steps and the removal of the deadline are one transaction. Ending an
//!   instance removes its state and cancels its deadlines.
//! - **Two runners**: [`run_exclusive`](ProcessRunner::run_exclusive) holds the store's
//!   lease `process:<name>`, so that among every process sharing the store one runs the
//!   process manager at a time; a waiting one takes over from the stored position.
//! - **Metadata**: each command carries the triggering event as its causation
//!   (`bank-account/acc-1/3`, or `deadline:<id>` for a deadline) and keeps the event's
//!   correlation id (or, when it has none, takes its causation as the correlation).
//!
//! # Rejections and failures
//!
//! A command the aggregate refuses (its handler returned an error) is recorded with the
//! error ([`ProcessRunner::rejections`]) and offered to the process's `#[rejected]`
//! handler, if it has one, on the instance that sent it; it is never dropped silently. A
//! concurrency conflict is retried by the repository's [`RetryPolicy`](crate::RetryPolicy);
//! a store that fails leaves the command in the outbox for the next attempt.
//!
//! A handler that returns an error or panics stops the runner with a [`ProcessError`]
//! naming the event (or the deadline); what came before it in the batch is committed, and
//! the next run starts at that event.

mod records;
mod runner;
mod steps;

use std::fmt::Debug;
use std::future::Future;

use serde::Serialize;
use serde::de::DeserializeOwned;

#[allow(unused_imports)] // linked from the docs
use crate::envelope::Metadata;
use crate::envelope::RecordedEvent;
pub use crate::error::ProcessError;
use crate::error::{ApplyError, StoreError};
#[allow(unused_imports)] // linked from the docs
use crate::store::EventStore;
pub use records::{DueDeadline, NewDeadline, OutgoingCommand, ProcessCommit, RejectedCommand, checkpoint_name};
pub use runner::ProcessRunner;
pub use steps::Steps;

/// The identity of a process manager and the aggregates it commands.
///
/// `#[derive(ProcessManager)]` implements it from `#[process(name = "...", sends = [..])]`;
/// the name defaults to the kebab-case type name.
///
/// ```
/// use factum::prelude::*;
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// # pub struct OrderPlaced;
/// # #[derive(Aggregate, Default, Debug, Clone)]
/// # #[aggregate(name = "order")]
/// # pub struct Order;
/// # #[handlers]
/// # impl Order {
/// #     #[command]
/// #     pub fn place(&self) -> Result<OrderPlaced, std::convert::Infallible> { Ok(OrderPlaced) }
/// #     #[apply]
/// #     fn placed(&mut self, _: &OrderPlaced) {}
/// # }
///
/// #[derive(ProcessManager, Default, Serialize, Deserialize)]
/// #[process(sends = [Order])]
/// struct Restocking;
///
/// #[handlers]
/// impl Restocking {
///     #[on(start)]
///     fn placed(&mut self, _: &OrderPlaced) {}
/// }
///
/// assert_eq!((Restocking::NAME, Restocking::SENDS), ("restocking", &["order"][..]));
/// assert_eq!(<Restocking as factum::ProcessManager>::EVENTS, ["OrderPlaced"]);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has `#[handlers]` for a process manager but no `#[derive(ProcessManager)]`",
    label = "this type has no `#[derive(ProcessManager)]`",
    note = "add `#[derive(ProcessManager, Default, Serialize, Deserialize)]` and `#[process(sends = [..])]` to the struct `{Self}`"
)]
pub trait ProcessType: Sized {
    /// The name its position, instances, outbox and deadlines are stored under.
    const NAME: &'static str;
    /// The stored names of the aggregates it sends commands to.
    const SENDS: &'static [&'static str];

    /// The repositories its commands go through, one per aggregate of `sends`, in that
    /// order: `(Arc<Repository<Order, S>>,)` for `sends = [Order]`. A
    /// [`ProcessRunner`] is built with them, so a runner without a repository for one of
    /// them does not compile.
    type Targets<S: EventStore>: Send + Sync + 'static;

    /// Executes one command of the outbox through the repository of its aggregate.
    fn dispatch<S: EventStore>(
        targets: &Self::Targets<S>,
        command: &OutgoingCommand,
    ) -> impl Future<Output = Dispatched> + Send;
}

/// How executing one outgoing command went.
#[derive(Debug)]
pub enum Dispatched {
    /// The aggregate carried it out (now, or before: its command id was stored).
    Executed,
    /// The aggregate refused it, or it cannot be read as the aggregate's command: it is
    /// recorded as a [`RejectedCommand`] and not tried again.
    Rejected(String),
    /// The store failed, or a conflict outlasted the retry policy: it stays in the outbox.
    Failed(StoreError),
}

/// `S` sends commands to the aggregate `A`: implemented by `#[derive(ProcessManager)]` for
/// each aggregate of `#[process(sends = [..])]`, and asked by [`Steps::send`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not send commands to `{A}`",
    label = "`{A}` is not listed in `#[process(sends = [..])]` of `{Self}`",
    note = "add `{A}` to `#[process(sends = [..])]` on the struct `{Self}`"
)]
pub trait Sends<A> {}

/// The deadlines of a process manager: the enum `#[handlers]` generates, one variant per
/// `#[deadline]` handler (`{Process}Deadline`), stored as JSON.
pub trait Deadlines: Serialize + DeserializeOwned + Debug + Clone + Send + Sync + 'static {
    /// The variant's name: the deadline type's.
    fn kind(&self) -> &'static str;
}

/// `Self` is a deadline of the process manager `P`: it has a `#[deadline]` handler there.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a deadline of `{P}`",
    label = "no `#[deadline]` handler of `{P}` takes `{Self}`",
    note = "add a `#[deadline]` method taking `{Self}` to the `#[handlers]` block of `{P}`"
)]
pub trait DeadlineOf<P: ProcessManager>: Sized {
    /// The variant of `P::Deadline` it becomes.
    const KIND: &'static str;
    /// Wraps it in `P::Deadline`.
    fn into_deadline(self) -> P::Deadline;
}

/// Where an event goes: the instance it is for, and whether it may start one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The instance's key.
    pub instance: String,
    /// The handler is `#[on(start)]`: a missing instance is created.
    pub start: bool,
}

/// A process manager: it subscribes to stored event names, keeps a state per instance,
/// and sends commands and sets deadlines through [`Steps`].
///
/// Implemented by `#[handlers]` on an impl block with `#[on]`, `#[deadline]` and
/// `#[rejected]` methods; see the [module docs](self) for an example, and
/// [`ProcessType`] for the generated subscription.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a process manager",
    label = "needs `#[derive(ProcessManager)]` on the struct and `#[handlers]` on an impl block with `#[on(start)]` methods"
)]
pub trait ProcessManager: ProcessType + Default + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Its deadlines (`{Process}Deadline`).
    type Deadline: Deadlines;

    /// The stored names of the events it handles; stores read only these.
    const EVENTS: &'static [&'static str];

    /// The instance `event` is for, or `None` if no handler takes it.
    fn route(event: &RecordedEvent) -> Result<Option<Route>, ApplyError>;

    /// Runs the handler of `event` on this instance.
    fn on_event(&mut self, event: &RecordedEvent, steps: &mut Steps<Self>) -> Result<(), ApplyError>;

    /// Runs the `#[deadline]` handler of `deadline` on this instance.
    fn on_deadline(&mut self, deadline: Self::Deadline, steps: &mut Steps<Self>) -> Result<(), ApplyError>;

    /// Runs the `#[rejected]` handler, if there is one, for a command this instance sent
    /// and its aggregate refused.
    fn on_rejected(&mut self, rejected: &RejectedCommand, steps: &mut Steps<Self>) -> Result<(), ApplyError> {
        let _ = (rejected, steps);
        Ok(())
    }
}
