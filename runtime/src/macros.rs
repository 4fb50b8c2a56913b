//! The macros, documented where users look for them.

/// Derives [`Event`](trait@crate::Event): a stable stored name, a schema version and typed
/// decoding with upcasting.
///
/// ```text
/// #[event(name = "MoneyWithdrawn", version = 2, upcast_from = MoneyWithdrawnV1)]
/// ```
///
/// | key | meaning | default |
/// |---|---|---|
/// | `name = "..."` | the name stored with the event; keep it when renaming the type | the type's name |
/// | `version = N` | the schema version stored with the event (1 or more) | `1` |
/// | `upcast_from = Old` | `Old` is an event with the same name and a lower version, and `From<Old> for Self` exists | none |
///
/// Reading a payload stored at an older version decodes it as the type of that version and
/// converts it up the chain with `From`, one step at a time; chains may be of any length. A
/// version that no type of the chain has is a [`DecodeError`](crate::DecodeError) naming the
/// event and the version, never a panic. The name and version checks of a chain run at
/// compile time.
///
/// The type must also implement `Serialize`, `Deserialize`, `Debug`, `Clone` and `PartialEq`;
/// generic types are not supported (an event's stored name must not depend on a parameter).
///
/// See [`Event`](trait@crate::Event) for an example.
pub use factum_macros::Event;

/// Derives [`AggregateType`](crate::AggregateType): the stored name of an aggregate type and
/// its snapshot policy.
///
/// ```text
/// #[aggregate(name = "bank-account", snapshot_every = 500)]   // both optional
/// ```
///
/// | key | meaning | default |
/// |---|---|---|
/// | `name = "..."` | the aggregate type stored with each event | the kebab-case type name |
/// | `snapshot_every = N` | store a snapshot every N events | no snapshots |
///
/// The struct must implement `Default` (a stream is replayed onto the default state) and have
/// no generic parameters. Its commands and `apply` methods go in an impl block marked
/// [`#[handlers]`](macro@crate::handlers), which implements [`Aggregate`](trait@crate::Aggregate).
pub use factum_macros::Aggregate;

/// Turns an impl block of `#[command]` and `#[apply]` methods into an
/// [`Aggregate`](trait@crate::Aggregate); on a projection's block (`#[on]`, `#[query]`), see
/// [`Projection`](macro@crate::Projection); on a process manager's (`#[on(start | end |
/// correlate = field)]`, `#[deadline]`, `#[rejected]`), see
/// [`ProcessManager`](macro@crate::ProcessManager).
///
/// ```text
/// #[handlers]
/// impl BankAccount {
///     #[command]                                  // variant `Deposit { amount: u64 }`
///     pub fn deposit(&self, amount: u64) -> Result<MoneyDeposited, BankError> { .. }
///
///     #[command(name = "CloseAccount")]          // variant `CloseAccount`
///     pub async fn close(&self, #[services] bank: &BankServices)
///         -> Result<(MoneyWithdrawn, AccountClosed), BankError> { .. }
///
///     #[apply]
///     fn deposited(&mut self, e: &MoneyDeposited) { self.balance += e.amount; }
/// }
/// ```
///
/// It generates, next to the impl block:
///
/// - `enum {Aggregate}Command`: one struct-like variant per `#[command]`, named by the method
///   in PascalCase unless `#[command(name = "...")]` says otherwise, with the method's
///   parameters as fields. It derives `Debug, Clone, PartialEq, Serialize, Deserialize`, so a
///   command can arrive as JSON.
/// - `enum {Aggregate}Event`: one variant per `#[apply]` event type, in declaration order, with
///   `From<E>` for each, implementing [`EventSet`](crate::EventSet).
/// - `impl Aggregate for {Aggregate}`: `handle` and `apply` as two plain `match`es.
///
/// The enums are `pub` (as `pub` as the aggregate can be: the attribute cannot see the
/// struct, and an enum less visible than it would break the generated `impl`);
/// `#[handlers(vis = "pub(crate)")]` narrows them.
///
/// Rules, checked at compile time with errors at your own tokens:
///
/// - a command takes `&self`, may be `async`, and returns `Result<T, E>` where `T` is one
///   event, a tuple of events, `Option<E>` (nothing happened) or `Vec<{Aggregate}Event>`;
///   every command returns the same error type `E`;
/// - its parameters become the variant's fields, so they are owned types with plain names;
///   one extra parameter marked `#[services]` (a reference) receives the services handed to
///   the [`Repository`](crate::Repository) once, and its type becomes `Aggregate::Services`;
/// - an `#[apply]` takes `&mut self` and one `&Event`, returns nothing and cannot fail; each
///   event type has exactly one, and every event a command returns must have one;
/// - two commands cannot share a variant name, nor two events a stored name.
pub use factum_macros::handlers;

/// Derives [`ProjectionType`](crate::ProjectionType): the name a projection's checkpoint is
/// stored under.
///
/// ```text
/// #[projection(name = "balances")]   // optional; default: the kebab-case type name
/// ```
///
/// The struct must implement `Default`, `Serialize` and `Deserialize`: it starts empty, and
/// its state is stored as JSON together with its position. Its handlers go in an impl block
/// marked [`#[handlers]`](macro@crate::handlers):
///
/// - `#[on]` methods take `(&mut self, &E)` or `(&mut self, &E, &EventMeta)` for an event
///   type `E` of any aggregate, and return nothing or `Result<(), Error>`;
///   `#[on(aggregate = "bank-account")]` narrows one to the events of one aggregate type;
///   each event type has at most one `#[on]`;
/// - `#[query]` methods take `&self` and owned parameters and return an owned value.
///
/// `#[handlers]` then generates `{Projection}Query` (one struct-like variant per query, with
/// its parameters), `{Projection}Answer` (one variant per query, holding its result), both
/// serializable, and `impl Projection`: the stored names it subscribes to (stores read only
/// those), typed decoding with upcasting, dispatch, and `ask`. See
/// [`ProjectionRunner`](crate::ProjectionRunner) for an example.
pub use factum_macros::Projection;

/// Derives [`ProcessType`](crate::process::ProcessType): the name a process manager's
/// position, instances, outbox and deadlines are stored under, and the aggregates it sends
/// commands to.
///
/// ```text
/// #[process(name = "payment-deadline", sends = [Order, Payment])]   // both optional
/// ```
///
/// | key | meaning | default |
/// |---|---|---|
/// | `name = "..."` | the name its state is stored under; keep it when renaming the type | the kebab-case type name |
/// | `sends = [A, B]` | the aggregates it sends commands to, each an aggregate with `#[handlers]` | none |
///
/// For each aggregate of `sends` it implements [`Sends<A>`](crate::process::Sends), which
/// [`Steps::send::<A>`](crate::process::Steps::send) asks for, and it adds
/// `Arc<Repository<A, S>>` to the repositories a
/// [`ProcessRunner`](crate::process::ProcessRunner) is started with, in the order of `sends`:
/// `(orders, payments)` for `sends = [Order, Payment]`. A type in `sends` that is not an
/// aggregate is a compile error at that type.
///
/// The struct must implement `Default`, `Serialize` and `Deserialize`: each instance starts
/// from `Default` and is stored as JSON. It has no generic parameters. Its handlers go in an
/// impl block marked [`#[handlers]`](macro@crate::handlers):
///
/// - `#[on]` methods take `(&mut self, &E)` for an event type `E` of any aggregate,
///   optionally followed by `&EventMeta` and then by `&mut Steps<Self>`, and return nothing
///   or `Result<(), Error>`. `#[on(start)]` may create an instance (at least one handler
///   must); `#[on(end)]` ends the instance after the handler; `#[on(correlate = field)]`
///   takes the instance key from the event's `field` (written with `ToString`) instead of
///   its stream id; `#[on(aggregate = "order")]` narrows it to one aggregate type. They
///   combine: `#[on(correlate = order_id, end)]`. Each event type has at most one `#[on]`.
/// - `#[deadline]` methods take `(&mut self, D)` for a deadline type `D` (any serde type,
///   by value), optionally followed by `&mut Steps<Self>`; each deadline type has one.
/// - one optional `#[rejected]` method takes `(&mut self, &RejectedCommand)`, optionally
///   followed by `&mut Steps<Self>`: it is offered every command of this instance that its
///   aggregate refused.
///
/// `#[handlers]` then generates `{Process}Deadline` (one variant per deadline type,
/// serializable; empty without `#[deadline]`), `impl DeadlineOf<Process>` for each deadline
/// type, which [`Steps::schedule`](crate::process::Steps::schedule) asks for, and
/// `impl ProcessManager`: the stored names it subscribes to, routing to instances, typed
/// decoding with upcasting, and dispatch. See the [`process`](crate::process) module for an
/// example.
pub use factum_macros::ProcessManager;
