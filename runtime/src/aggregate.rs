//! Aggregates: the consistency boundary that decides commands and evolves by events.

use std::future::Future;

use crate::event::EventSet;

/// The identity of an aggregate type: its stored name and snapshot policy.
///
/// `#[derive(Aggregate)]` implements it from `#[aggregate(name = "...", snapshot_every = N)]`.
/// The name defaults to the kebab-case type name (`BankAccount` is stored as `bank-account`).
///
/// ```
/// use factum::prelude::*;
///
/// #[derive(Aggregate, Default)]
/// struct ShoppingCart;
///
/// #[derive(Aggregate, Default, serde::Serialize, serde::Deserialize)]
/// #[aggregate(name = "account", snapshot_every = 100)]
/// struct BankAccount { balance: u64 }
///
/// assert_eq!(ShoppingCart::NAME, "shopping-cart");
/// assert_eq!((BankAccount::NAME, BankAccount::SNAPSHOT_EVERY), ("account", Some(100)));
/// assert!(BankAccount::SNAPSHOT.is_some() && ShoppingCart::SNAPSHOT.is_none());
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has `#[handlers]` with commands or `#[apply]` methods but no `#[derive(Aggregate)]`",
    label = "this type has no `#[derive(Aggregate)]`",
    note = "add `#[derive(Aggregate, Default)]` to the struct `{Self}`"
)]
pub trait AggregateType: Sized {
    /// The aggregate type stored with each of its events (`bank-account`).
    const NAME: &'static str;
    /// Take a snapshot every this many events, if set.
    const SNAPSHOT_EVERY: Option<u64> = None;
    /// A fingerprint of the state type's definition, so that a snapshot written by an
    /// older shape of the state is recognised and replaced by a replay.
    const FINGERPRINT: u64 = 0;

    /// How snapshots of the state are written and read: set (with serde) by the derive when
    /// `snapshot_every` is given, `None` otherwise.
    const SNAPSHOT: Option<SnapshotCodec<Self>> = None;
}

/// Turns an aggregate's state into a JSON snapshot and back.
pub struct SnapshotCodec<A> {
    /// State to JSON.
    pub encode: fn(&A) -> Result<String, serde_json::Error>,
    /// JSON to state.
    pub decode: fn(&str) -> Result<A, serde_json::Error>,
}

impl<A> Clone for SnapshotCodec<A> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A> Copy for SnapshotCodec<A> {}

impl<A> std::fmt::Debug for SnapshotCodec<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SnapshotCodec(json)")
    }
}

/// An event-sourced aggregate: it decides commands (`handle`) and evolves by events (`apply`).
///
/// Write it with `#[derive(Aggregate)]` on the state struct and `#[handlers]` on an impl block
/// with `#[command]` and `#[apply]` methods; the macros generate the `{Aggregate}Command` and
/// `{Aggregate}Event` enums and implement this trait as two plain `match`es.
///
/// ```
/// use factum::prelude::*;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// pub struct Incremented { pub by: u32 }
///
/// #[derive(Debug, thiserror::Error, PartialEq)]
/// pub enum CounterError {
///     #[error("step must be positive")]
///     ZeroStep,
/// }
///
/// #[derive(Aggregate, Default, Debug, Clone)]
/// pub struct Counter { value: u32 }
///
/// #[handlers]
/// impl Counter {
///     #[command]
///     pub fn increment(&self, by: u32) -> Result<Incremented, CounterError> {
///         if by == 0 { return Err(CounterError::ZeroStep) }
///         Ok(Incremented { by })
///     }
///
///     #[apply]
///     fn incremented(&mut self, e: &Incremented) { self.value += e.by; }
/// }
///
/// # fn main() {
/// assert_eq!(<Counter as AggregateType>::NAME, "counter");
/// factum::testing::given::<Counter>([], ())
///     .when(CounterCommand::Increment { by: 2 })
///     .then_events([Incremented { by: 2 }.into()]);
/// # }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an aggregate",
    label = "needs `#[derive(Aggregate)]` on the struct and `#[handlers]` on an impl block with `#[command]` and `#[apply]` methods",
    note = "`#[derive(Aggregate)]` alone does not implement `Aggregate`; `#[handlers]` on `impl {Self}` does"
)]
pub trait Aggregate: AggregateType + Default + Send + Sync + Sized + 'static {
    /// The events this aggregate records (`{Aggregate}Event`).
    type Event: EventSet;
    /// The commands it decides (`{Aggregate}Command`).
    type Command: Send + 'static;
    /// The one error type all of its commands return.
    type Error: std::error::Error + Send + Sync + 'static;
    /// What its commands may consult (a clock, a price list); `()` when none asks for it.
    type Services: Send + Sync + 'static;

    /// Decides a command against the current state: the events to record, or an error.
    fn handle(
        &self,
        command: Self::Command,
        services: &Self::Services,
    ) -> impl Future<Output = Result<Vec<Self::Event>, Self::Error>> + Send;

    /// Evolves the state by one event. It cannot fail: the event already happened.
    fn apply(&mut self, event: &Self::Event);

    /// The name of a command's variant (`Deposit`), for logs and traces: the repository's
    /// span of each command carries it. The default, for impls that do not say, is
    /// `"command"`.
    fn command_name(command: &Self::Command) -> &'static str {
        let _ = command;
        "command"
    }
}
