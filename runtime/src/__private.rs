//! What the generated code calls. Not a public API.

pub use inventory;
pub use serde;
pub use serde_json;

use crate::error::{DecodeError, EncodeError};
use crate::event::Event;

/// Decodes the payload of `E` at its own schema version.
pub fn decode_payload<E: Event>(version: u32, payload: &str) -> Result<E, DecodeError> {
    serde_json::from_str(payload).map_err(|source| DecodeError::Payload { name: E::NAME, version, source })
}

/// The error for a schema version newer than `E` or older than its upcast chain.
/// `Event::encode` of an event with `#[pii(subject = field)]`: its `Pii` values are written
/// with the subject, for the store to seal.
pub fn encode_with_subject<E: Event, S: PiiSubject + ?Sized>(event: &E, subject: &S) -> Result<String, EncodeError> {
    crate::pii::with_subject(subject.to_string(), || serde_json::to_string(event))
        .map_err(|source| EncodeError { event: E::NAME, source })
}

/// What the subject of personal data must be: displayable, as the id its key is kept under.
#[diagnostic::on_unimplemented(
    message = "the subject of personal data must display as an id: `{Self}` does not implement `Display`",
    label = "named in `#[pii(subject = ..)]`",
    note = "use a field that identifies the person, such as a `String` or a number"
)]
pub trait PiiSubject: core::fmt::Display {}
impl<T: core::fmt::Display + ?Sized> PiiSubject for T {}

pub fn unknown_version<E: Event>(version: u32) -> DecodeError {
    DecodeError::UnknownVersion { name: E::NAME, version, newest: E::VERSION }
}

/// The error for a stored name that no event of a set has.
pub fn unknown_event(name: &str, known: &'static [&'static str]) -> DecodeError {
    DecodeError::UnknownEvent { name: name.to_owned(), known }
}

/// Fails compilation with `message` when `ok` is false (called in a `const` item).
pub const fn require(ok: bool, message: &str) {
    if !ok {
        panic!("{}", message)
    }
}

/// What a snapshot needs of the state; the bound speaks the DSL when it fails.
#[diagnostic::on_unimplemented(
    message = "`snapshot_every` stores `{Self}` as JSON, so it must implement `Serialize` and `Deserialize`",
    label = "needs `#[derive(Serialize, Deserialize)]` on `{Self}`",
    note = "add `Serialize, Deserialize` to the derives of `{Self}`, or leave `snapshot_every` out"
)]
pub trait SnapshotState: serde::Serialize + serde::de::DeserializeOwned {}
// Reported as the one bound above, not as each of serde's traits in rustc's words.
#[diagnostic::do_not_recommend]
impl<T: serde::Serialize + serde::de::DeserializeOwned> SnapshotState for T {}

/// The JSON snapshot codec of `A`: one call, so a state without serde is reported once.
pub const fn snapshot_codec<A: SnapshotState>() -> crate::SnapshotCodec<A> {
    crate::SnapshotCodec { encode: encode_state::<A>, decode: decode_state::<A> }
}

fn encode_state<A: SnapshotState>(state: &A) -> Result<String, serde_json::Error> {
    serde_json::to_string(state)
}

fn decode_state<A: SnapshotState>(state: &str) -> Result<A, serde_json::Error> {
    serde_json::from_str(state)
}

/// `a == b` in a `const` context.
pub const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// True when `name` equals one of `names`, in a `const` context. An unknown name (`None`)
/// equals nothing.
pub const fn contains_name(names: &[Option<&str>], name: Option<&str>) -> bool {
    let Some(name) = name else {
        return false;
    };
    let mut i = 0;
    while i < names.len() {
        if let Some(other) = names[i]
            && str_eq(other, name)
        {
            return true;
        }
        i += 1;
    }
    false
}

/// The stored name and version of `E` for the compile-time checks (`EventInfo::<E>::NAME`),
/// or `None` when `E` is no event or misses a trait an event needs (the fallback of
/// [`NotAnEvent`], which the generated checks import). That mistake is reported once
/// elsewhere, so the checks, which run outside the bounded impls, stay silent about it.
pub struct EventInfo<E: ?Sized>(core::marker::PhantomData<E>);

impl<E: Event> EventInfo<E> {
    /// `E`'s stored name.
    pub const NAME: Option<&'static str> = Some(E::NAME);
    /// `E`'s schema version.
    pub const VERSION: Option<u32> = Some(E::VERSION);
}

/// The fallback of [`EventInfo`] for types that are not (yet) events.
pub trait NotAnEvent {
    /// Unknown.
    const NAME: Option<&'static str> = None;
    /// Unknown.
    const VERSION: Option<u32> = None;
}

impl<E: ?Sized> NotAnEvent for EventInfo<E> {}

/// The stored name of an aggregate or projection type `T` for the registry, or `""` when
/// `T` lacks its derive (the fallback of [`NoStoredName`], which the registration imports):
/// that mistake is reported once elsewhere, so the registration adds no error.
pub struct StoredName<T: ?Sized>(core::marker::PhantomData<T>);

impl<T: crate::AggregateType> StoredName<T> {
    /// `T::NAME` of its `AggregateType`.
    pub const AGGREGATE: &'static str = T::NAME;
}

impl<T: crate::ProjectionType> StoredName<T> {
    /// `T::NAME` of its `ProjectionType`.
    pub const PROJECTION: &'static str = T::NAME;
}

/// The fallback of [`StoredName`] for a type without the derive.
pub trait NoStoredName {
    /// Unknown.
    const AGGREGATE: &'static str = "";
    /// Unknown.
    const PROJECTION: &'static str = "";
}

impl<T: ?Sized> NoStoredName for StoredName<T> {}

/// An event as the generated dispatch uses it: `AsEvent::<E>::NAME`, `AsEvent::<E>::decode`,
/// `AsEvent::<E>::clone`, each an `#[inline]` call of `E`'s own.
///
/// The impls `#[handlers]` generates around events (`EventSet`, `Aggregate`, `Projection`, the
/// event enum's `Debug`, `Clone` and `PartialEq`) carry no bound on their events, so that a
/// user's own uses of an aggregate or projection (`given::<A>()`, `Repository<A, _>`, a
/// `.clone()` of its event enum) never fail because of one of its events. Their bodies reach
/// the events only through this type: when `E` is no event, or misses a trait an event needs,
/// these members are not applicable and the [`AsEventFallback`] ones (never run) are taken
/// instead, so the body adds no error. That mistake is reported once elsewhere: at the
/// struct by `#[derive(Event)]`, or, for a type without it, by the check `#[handlers]` emits
/// at the user's token. A crate in which the fallback is taken therefore never compiles
/// (short of a hand-written `impl Event` bounded by the hidden [`EventBounds`] itself).
pub struct AsEvent<E: ?Sized>(core::marker::PhantomData<E>);

impl<E: Event> AsEvent<E> {
    /// `E::NAME`.
    pub const NAME: &'static str = E::NAME;
    /// `E::VERSION`.
    pub const VERSION: u32 = E::VERSION;

    /// `E::decode`.
    #[inline]
    pub fn decode(version: u32, payload: &str) -> Result<E, DecodeError> {
        E::decode(version, payload)
    }

    /// `E::encode`.
    #[inline]
    pub fn encode(event: &E) -> Result<String, crate::error::EncodeError> {
        event.encode()
    }

    /// `E::clone`.
    #[inline]
    pub fn clone(event: &E) -> E {
        event.clone()
    }

    /// `E::eq`.
    #[inline]
    pub fn eq(a: &E, b: &E) -> bool {
        a == b
    }

    /// `E` as `Debug`, for a `debug_tuple` field.
    #[inline]
    pub fn debug(event: &E) -> &dyn core::fmt::Debug {
        event
    }
}

/// The members of [`AsEvent`] for a type that is not (yet) a complete event. Only a crate
/// that fails to compile takes them (see [`AsEvent`]), so they never run.
pub trait AsEventFallback<E> {
    /// Unused.
    const NAME: &'static str = "";
    /// Unused.
    const VERSION: u32 = 0;

    /// Never called.
    fn decode(_: u32, _: &str) -> Result<E, DecodeError> {
        unreachable!("an incomplete event does not compile")
    }

    /// Never called.
    fn encode(_: &E) -> Result<String, crate::error::EncodeError> {
        unreachable!("an incomplete event does not compile")
    }

    /// Never called.
    fn clone(_: &E) -> E {
        unreachable!("an incomplete event does not compile")
    }

    /// Never called.
    fn eq(_: &E, _: &E) -> bool {
        unreachable!("an incomplete event does not compile")
    }

    /// Never called.
    fn debug(_: &E) -> &dyn core::fmt::Debug {
        unreachable!("an incomplete event does not compile")
    }
}

impl<E> AsEventFallback<E> for AsEvent<E> {}

/// What a projection's state needs: it starts from `Default` and is stored as JSON.
///
/// The lifetime is there for the generated `impl Projection`, which is bounded by
/// `for<'a> Self: ProjectionState<'a>`: its supertraits then hold inside the impl, so a state
/// without them is reported once, by [`assert_projection_state`], and not again by the impl
/// (a bound without the lifetime would be a trivially false one, an error of its own).
#[diagnostic::on_unimplemented(
    message = "the projection `{Self}` must implement `Default`, `Serialize` and `Deserialize`",
    label = "its state starts from `Default` and is stored as JSON with its checkpoint",
    note = "add `#[derive(Projection, Default, Serialize, Deserialize)]` to `{Self}`"
)]
pub trait ProjectionState<'a>: Default + serde::Serialize + serde::de::DeserializeOwned {}
// Reported as the one bound above, not as each missing trait in rustc's words.
#[diagnostic::do_not_recommend]
impl<T: Default + serde::Serialize + serde::de::DeserializeOwned> ProjectionState<'_> for T {}

/// Fails to compile, at the caller's span, when `T` cannot be a projection's state.
pub const fn assert_projection_state<T: ProjectionState<'static>>() {}

/// Implemented for every `Default` type; the bound speaks the DSL when it fails.
///
/// The lifetime is there for the generated `impl Aggregate`, bounded by
/// `for<'a> Self: AggregateDefault<'a>`, as for [`ProjectionState`].
#[diagnostic::on_unimplemented(
    message = "the aggregate `{Self}` must implement `Default`",
    label = "`#[derive(Aggregate)]` needs `Default`: a stream is replayed onto `{Self}::default()`",
    note = "add `Default` to the derives of `{Self}`, or implement it"
)]
pub trait AggregateDefault<'a>: Default {}
#[diagnostic::do_not_recommend]
impl<T: Default> AggregateDefault<'_> for T {}

/// Fails to compile, at the caller's span, when `T` does not implement `Default`.
pub const fn assert_aggregate_default<T: AggregateDefault<'static>>() {}

/// What an event must be besides `#[derive(Event)]`: stored as JSON.
///
/// The lifetime is there for the event's own `impl Event`, bounded by
/// `for<'a> Self: EventBounds<'a>` (as for [`ProjectionState`]), and for the check
/// `#[handlers]` emits per event type, which assumes the same bound: a missing derive is
/// reported once, at the struct, by [`assert_event_bounds`], and not again by a use of the
/// event in generated code (which reaches it through [`AsEvent`]).
#[diagnostic::on_unimplemented(
    message = "the event `{Self}` is stored as JSON, so it must implement `Serialize` and `Deserialize`",
    label = "needs `#[derive(Serialize, Deserialize)]`",
    note = "add `Serialize, Deserialize` to the derives of `{Self}`"
)]
pub trait EventJson<'a>: serde::Serialize + serde::de::DeserializeOwned {}
// Reported as the one bound above, not as each of serde's traits in rustc's words.
#[diagnostic::do_not_recommend]
impl<T: serde::Serialize + serde::de::DeserializeOwned> EventJson<'_> for T {}

/// What an event must be besides `#[derive(Event)]`: a value that is printed, cloned and
/// compared (the aggregate's event enum and the test fixtures do all three).
#[diagnostic::on_unimplemented(
    message = "the event `{Self}` must implement `Debug`, `Clone` and `PartialEq`",
    label = "needs `#[derive(Debug, Clone, PartialEq)]`",
    note = "add `Debug, Clone, PartialEq` to the derives of `{Self}`"
)]
pub trait EventValue<'a>: Clone + PartialEq + core::fmt::Debug {}
#[diagnostic::do_not_recommend]
impl<T: Clone + PartialEq + core::fmt::Debug> EventValue<'_> for T {}

/// What an event must be besides `#[derive(Event)]`: shared between threads (stores,
/// repositories and projection runners hand events across tasks). Also the one bound left on
/// `impl EventSet` and `impl Aggregate`, which need the event enum to be `Send` and `Sync`.
#[diagnostic::on_unimplemented(
    message = "the event `{Self}` must be `Send`, `Sync` and `'static`: events are handed across threads",
    label = "holds something that cannot cross threads (an `Rc`, a `Cell`, a reference)",
    note = "use `Arc` for `Rc`, a `Mutex` or an atomic for a `Cell`, owned data for a reference"
)]
pub trait EventThreads<'a>: Send + Sync + 'static {}
#[diagnostic::do_not_recommend]
impl<T: Send + Sync + 'static> EventThreads<'_> for T {}

/// The three above: the one bound per event type on the generated impls. A failure of it is
/// reported as the one of the three that fails, in its words; where it is asked of an
/// event outside the generated code (a user's `given::<A>()` or `Repository<A, _>`), as this.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a complete event: it misses a trait that every event needs",
    label = "needs what the error at `{Self}`'s `#[derive(Event)]` asks for",
    note = "an event derives `Event, Serialize, Deserialize, Debug, Clone, PartialEq` and is `Send` and `Sync`"
)]
pub trait EventBounds<'a>: EventJson<'a> + EventValue<'a> + EventThreads<'a> {}
impl<'a, T: EventJson<'a> + EventValue<'a> + EventThreads<'a>> EventBounds<'a> for T {}

/// Fails to compile, at the caller's span, once for each of the three bounds `T` misses.
pub const fn assert_event_bounds<T: EventJson<'static> + EventValue<'static> + EventThreads<'static>>() {}

/// One PostgreSQL connection as `options` say, TLS included, and the schema they name;
/// nothing is created or migrated. For the `factum` command line tool, which reads factum's
/// tables directly.
#[cfg(feature = "postgres")]
pub async fn postgres_inspection_client(
    options: &crate::PostgresOptions,
) -> Result<(tokio_postgres::Client, String), crate::StoreError> {
    crate::store::inspection_client(options).await
}

/// The PostgreSQL advisory lock key of lease `name` in `schema`, for the `factum` tool to
/// find a lease's holder in `pg_locks`.
#[cfg(feature = "postgres")]
pub fn postgres_lease_key(schema: &str, name: &str) -> i64 {
    crate::store::lease_key(schema, name)
}

/// What a process manager's state needs: each instance starts from `Default` and is stored
/// as JSON. The lifetime is there for the generated `impl ProcessManager`, as for
/// [`ProjectionState`].
#[diagnostic::on_unimplemented(
    message = "the process manager `{Self}` must implement `Default`, `Serialize` and `Deserialize`",
    label = "each instance starts from `Default` and is stored as JSON",
    note = "add `#[derive(ProcessManager, Default, Serialize, Deserialize)]` to `{Self}`"
)]
pub trait ProcessState<'a>: Default + serde::Serialize + serde::de::DeserializeOwned {}
#[diagnostic::do_not_recommend]
impl<T: Default + serde::Serialize + serde::de::DeserializeOwned> ProcessState<'_> for T {}

/// Fails to compile, at the caller's span, when `T` cannot be a process manager's state.
pub const fn assert_process_state<T: ProcessState<'static>>() {}

/// What a process manager's `sends = [A]` needs of `A`: an aggregate whose commands are
/// stored in the outbox as JSON (the enums `#[handlers]` generates are).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is listed in `#[process(sends = [..])]` but is not an aggregate whose commands are stored as JSON",
    label = "needs `#[derive(Aggregate)]` and `#[handlers]` with `#[command]` methods",
    note = "a process manager sends commands to aggregates; list the aggregate types in `sends`"
)]
pub trait ProcessTarget<'a>: crate::Aggregate<Command: serde::Serialize + serde::de::DeserializeOwned + Clone> {}
#[diagnostic::do_not_recommend]
impl<A> ProcessTarget<'_> for A where
    A: crate::Aggregate<Command: serde::Serialize + serde::de::DeserializeOwned + Clone>
{
}

/// Fails to compile, at the caller's span, when `A` cannot be sent commands.
pub const fn assert_process_target<A: ProcessTarget<'static>>() {}

/// Executes one outgoing command through `repository`: what the generated
/// `ProcessType::dispatch` does for each aggregate of `sends`.
pub async fn dispatch_to<A, S>(
    repository: &crate::Repository<A, S>,
    command: &crate::process::OutgoingCommand,
) -> crate::process::Dispatched
where
    A: crate::Aggregate,
    A::Command: serde::de::DeserializeOwned + Clone,
    S: crate::EventStore,
{
    use crate::error::ExecuteError;
    use crate::process::Dispatched;
    let decoded: A::Command = match serde_json::from_str(&command.command) {
        Ok(decoded) => decoded,
        Err(error) => {
            return Dispatched::Rejected(format!(
                "the stored command {} does not decode as a command of `{}`: {error}",
                command.command,
                A::NAME
            ));
        }
    };
    match repository.execute_with(&command.stream_id, decoded, command.metadata.clone()).await {
        Ok(_) => Dispatched::Executed,
        Err(ExecuteError::Rejected(error)) => Dispatched::Rejected(error.to_string()),
        Err(ExecuteError::Store(error)) if error.is_invalid_input() => Dispatched::Rejected(error.to_string()),
        Err(ExecuteError::Conflict { source, .. }) | Err(ExecuteError::Store(source)) => Dispatched::Failed(source),
        // Committed: the inline projection's failure is the projection's, reported by it.
        Err(ExecuteError::Projection { .. }) => Dispatched::Executed,
    }
}

/// The answer of `dispatch` for a command to an aggregate the process does not send to
/// (an outbox written by another version of the program).
pub fn unknown_target(
    command: &crate::process::OutgoingCommand,
    sends: &'static [&'static str],
) -> crate::process::Dispatched {
    crate::process::Dispatched::Rejected(format!(
        "the command is for the aggregate type {:?}, which this process manager does not send to (it sends to {sends:?})",
        command.aggregate_type
    ))
}
