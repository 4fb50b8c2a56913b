//! The errors of the runtime: decoding, encoding, storing and executing commands.

use std::fmt;

/// A stored event could not be turned back into a typed event.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// No event type of the set is stored under this name.
    #[error("unknown event `{name}` (this set knows {})", known_names(known))]
    UnknownEvent {
        /// The stored name.
        name: String,
        /// The names the decoding set knows.
        known: &'static [&'static str],
    },
    /// The name is known, but no type in its upcast chain has this schema version.
    #[error("event `{name}` has no type for schema version {version} (the newest is {newest})")]
    UnknownVersion {
        /// The stored name.
        name: &'static str,
        /// The stored schema version.
        version: u32,
        /// The newest schema version the reading code knows.
        newest: u32,
    },
    /// The payload does not match the type of its (name, version).
    #[error("event `{name}` version {version}: the payload does not match the type: {source}")]
    Payload {
        /// The stored name.
        name: &'static str,
        /// The stored schema version.
        version: u32,
        /// What serde_json said.
        #[source]
        source: serde_json::Error,
    },
}

fn known_names(known: &[&str]) -> String {
    if known.is_empty() {
        return "no events".to_owned();
    }
    let names: Vec<String> = known.iter().map(|n| format!("`{n}`")).collect();
    names.join(", ")
}

/// An event could not be serialized to JSON.
#[derive(Debug, thiserror::Error)]
#[error("cannot encode event `{event}`: {source}")]
pub struct EncodeError {
    /// The stored name of the event.
    pub event: &'static str,
    /// What serde_json said.
    #[source]
    pub source: serde_json::Error,
}

/// Identifies one stream in error messages: `bank-account/acc-1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StreamName {
    /// The aggregate type (the stream's category).
    pub aggregate_type: String,
    /// The aggregate id.
    pub stream_id: String,
}

impl fmt::Display for StreamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.aggregate_type, self.stream_id)
    }
}

/// A stored value of personal data that does not open ([`StoreError::Sealed`]): where it
/// is, down to the field, and why; never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stream {stream}, version {version}: event `{event}`, field `{field}`: {reason}")]
pub struct SealError {
    /// The stream that holds the event.
    pub stream: StreamName,
    /// The event's version within the stream.
    pub version: u64,
    /// The event's stored name.
    pub event: String,
    /// The path of the value in the payload (`address.street`, `lines.0.name`).
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

/// What can go wrong in an event store or while reading from one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Optimistic concurrency: the stream moved on since the caller read it.
    #[error("stream {stream}: expected version {expected}, but the stream is at version {actual}")]
    Conflict {
        /// The stream appended to.
        stream: StreamName,
        /// The version the caller expected the stream to be at.
        expected: u64,
        /// The version the stream is at.
        actual: u64,
    },
    /// A stored event could not be decoded.
    #[error("stream {stream}, version {version}: {source}")]
    Decode {
        /// The stream that holds the event.
        stream: StreamName,
        /// The event's version within the stream.
        version: u64,
        /// Why decoding failed; it names the event and its schema version.
        #[source]
        source: DecodeError,
    },
    /// An event could not be encoded before storing.
    #[error("stream {stream}: {source}")]
    Encode {
        /// The stream appended to.
        stream: StreamName,
        /// Why encoding failed.
        #[source]
        source: EncodeError,
    },
    /// The stream is archived ([`EventStore::archive`](crate::EventStore::archive)): it is
    /// kept and reads by name, but takes no new events.
    #[error("stream {stream} is archived: it takes no new events")]
    Archived {
        /// The stream appended to.
        stream: StreamName,
    },
    /// The stream was deleted ([`EventStore::delete`](crate::EventStore::delete)): its events
    /// are gone, and its id takes no new events.
    #[error("stream {stream} was deleted (it had {version} events): it takes no new events")]
    Deleted {
        /// The stream appended to.
        stream: StreamName,
        /// The version of its last event before it was deleted.
        version: u64,
    },
    /// An argument was rejected before touching storage (a stream id too long, say).
    #[error("invalid {what}: {reason}")]
    InvalidInput {
        /// What was rejected, such as `stream id "a\nb"`.
        what: String,
        /// Why.
        reason: String,
    },
    /// The store holds something this build of factum cannot read: a row that does not
    /// decode, or an impossible version or position. Not the caller's fault, and a retry will
    /// not help: stop and alert an operator.
    #[error("corrupt store: {location}: {reason}")]
    Corrupt {
        /// Where the bad data is, such as `events row at position 17`.
        location: String,
        /// What is wrong with it.
        reason: String,
        /// The underlying error, when there is one (a JSON parser's, say).
        #[source]
        source: Option<BoxError>,
    },
    /// A stored value of personal data ([`Pii`](crate::Pii)) does not open with its
    /// subject's key: it was altered, or copied from another event or field. Nothing is
    /// wrong with the rest of the store, and a forgotten subject is never this error (its
    /// values read as [`Pii::Forgotten`](crate::Pii::Forgotten)).
    ///
    /// Boxed, so that every `Result` of the store stays small.
    #[error(transparent)]
    Sealed(Box<SealError>),
    /// The store was written by a newer factum: its schema is past what this build knows.
    #[error(
        "incompatible store: {store} is at schema version {found}, newer than this build of factum knows ({supported}); upgrade factum"
    )]
    Incompatible {
        /// Which store, such as `the SQLite file bank.db` or `PostgreSQL schema factum`.
        store: String,
        /// The schema version found.
        found: i64,
        /// The newest schema version this build knows.
        supported: i64,
    },
    /// The storage backend failed (I/O, database, connection).
    #[error("storage backend: {0}")]
    Backend(#[source] BoxError),
}

/// A boxed error, as kept by [`StoreError::Backend`] and [`StoreError::Corrupt`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

impl StoreError {
    /// True when the caller's input was refused before anything was stored: an id a store
    /// cannot take, an event that does not encode. Show it to the caller (a 4xx).
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, StoreError::InvalidInput { .. } | StoreError::Encode { .. })
    }

    /// True when the store holds data this code cannot read: a corrupt row, a schema newer than
    /// this build, or a stored event with no matching type (a missing upcast, a renamed
    /// event). Nothing the caller did; an operator must look (a 5xx, logged).
    pub fn is_corrupt(&self) -> bool {
        matches!(
            self,
            StoreError::Corrupt { .. }
                | StoreError::Incompatible { .. }
                | StoreError::Decode { .. }
                | StoreError::Sealed(_)
        )
    }

    /// A [`StoreError::Corrupt`] without an underlying error.
    pub(crate) fn corrupt(location: impl Into<String>, reason: impl Into<String>) -> Self {
        StoreError::Corrupt { location: location.into(), reason: reason.into(), source: None }
    }
}

/// Why [`Repository::execute`](crate::Repository::execute) did not commit, or committed
/// without its inline projections.
///
/// The variants split by whose move it is:
///
/// | variant | whose fault | HTTP | what to do |
/// |---|---|---|---|
/// | [`Rejected`](Self::Rejected) | the caller's: the domain said no | 422 | show the domain's message |
/// | [`Store`](Self::Store) with [`is_invalid_input`](Self::is_invalid_input) | the caller's: an id the store cannot take, an event that does not encode | 400 | show the message |
/// | [`Conflict`](Self::Conflict) | nobody's: the stream kept moving under every attempt | 409 / 503 | try again later |
/// | [`Store`](Self::Store) with [`is_corrupt`](Self::is_corrupt) | an operator's: stored data this build cannot read | 500 | log it, alert; a retry will not help |
/// | [`Store`](Self::Store), otherwise | an operator's: the backend failed (I/O, connection) | 503 | log it; a retry may help |
/// | [`Projection`](Self::Projection) | an operator's: the events **are committed**, an inline read model stopped | 500 | log it, do not resend the command; see [`ProjectionError`] |
///
/// ```
/// use factum::ExecuteError;
///
/// fn status<E: std::fmt::Display>(result: Result<(), ExecuteError<E>>) -> (u16, String) {
///     match result {
///         Ok(()) => (200, "ok".into()),
///         Err(ExecuteError::Rejected(why)) => (422, why.to_string()),
///         Err(e) if e.is_invalid_input() => (400, e.to_string()),
///         Err(ExecuteError::Conflict { .. }) => (409, "try again".into()),
///         Err(e) if e.is_corrupt() => (500, "stored data cannot be read; an operator was told".into()),
///         Err(other) => (503, other.to_string()),
///     }
/// }
/// assert_eq!(status::<&str>(Err(ExecuteError::Rejected("insufficient funds"))), (422, "insufficient funds".into()));
/// let bad_id = factum::StreamRef::new("account", "").validate().unwrap_err();
/// assert_eq!(status::<&str>(Err(bad_id.into())).0, 400);
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecuteError<E> {
    /// The aggregate rejected the command: the domain's own error.
    #[error("command rejected: {0}")]
    Rejected(#[source] E),
    /// The stream kept moving under us: every attempt of the retry policy met a conflict.
    #[error("gave up after {attempts} attempts on a concurrency conflict: {source}")]
    Conflict {
        /// How many times the command was tried.
        attempts: u32,
        /// The last conflict.
        #[source]
        source: StoreError,
    },
    /// The store failed, or held data that could not be decoded.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The events were committed, but an inline projection failed to take them in. The
    /// command must not be sent again: its events are stored at `positions`, and the stream
    /// is at `version`.
    #[error("the command was committed (stream version {version}), but an inline projection failed: {source}")]
    Projection {
        /// The stream's version after the command.
        version: u64,
        /// The global position of each event the command recorded.
        positions: Vec<u64>,
        /// What the projection failed on.
        #[source]
        source: ProjectionError,
    },
}

impl<E> ExecuteError<E> {
    /// The domain error, if the aggregate rejected the command.
    pub fn rejection(&self) -> Option<&E> {
        match self {
            ExecuteError::Rejected(e) => Some(e),
            _ => None,
        }
    }

    /// True when the caller's input was refused before anything was stored (see
    /// [`StoreError::is_invalid_input`]); a rejection by the domain is [`rejection`](Self::rejection).
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, ExecuteError::Store(e) if e.is_invalid_input())
    }

    /// True when the store, or an inline projection's stored state, holds data this code
    /// cannot read (see [`StoreError::is_corrupt`] and [`ProjectionError::is_corrupt`]).
    pub fn is_corrupt(&self) -> bool {
        match self {
            ExecuteError::Store(e) => e.is_corrupt(),
            ExecuteError::Projection { source, .. } => source.is_corrupt(),
            ExecuteError::Rejected(_) | ExecuteError::Conflict { .. } => false,
        }
    }
}

/// Why an event could not be applied to a projection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The stored event could not be decoded as the type the handler takes.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The handler returned an error.
    #[error(transparent)]
    Handler(BoxError),
    /// The handler panicked; the panic's message, or a placeholder when it had none.
    #[error("the handler panicked: {0}")]
    Panicked(String),
}

impl ApplyError {
    /// Runs a handler (a projection's, a process manager's), turning a panic into
    /// [`ApplyError::Panicked`] with its message.
    pub(crate) fn catching(handler: impl FnOnce() -> Result<(), ApplyError>) -> Result<(), ApplyError> {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(handler)) {
            Ok(outcome) => outcome,
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(a panic without a message)".to_owned());
                Err(ApplyError::Panicked(message))
            }
        }
    }

    /// True when the event did not decode: stored data the projection cannot read.
    pub fn is_corrupt(&self) -> bool {
        matches!(self, ApplyError::Decode(_))
    }
}

/// Why a projection stopped.
///
/// [`is_corrupt`](Self::is_corrupt) tells stored data the projection cannot read (an event or
/// its own stored state that does not decode: fix the code or the data, then
/// [`rebuild`](crate::ProjectionRunner::rebuild)) from a handler's own failure and from a
/// store that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProjectionError {
    /// A handler failed (or panicked) on an event, or the event could not be decoded.
    #[error(
        "projection `{projection}` stopped at position {position} (stream {aggregate_type}/{stream_id}, version {version}, event `{event}`): {source}"
    )]
    Event {
        /// The projection's name.
        projection: &'static str,
        /// The event's global position.
        position: u64,
        /// Its aggregate type.
        aggregate_type: String,
        /// Its stream id.
        stream_id: String,
        /// Its version in the stream.
        version: u64,
        /// Its stored name.
        event: String,
        /// What went wrong.
        #[source]
        source: ApplyError,
    },
    /// The stored state of the projection (its checkpoint) does not decode as its type. If
    /// the type changed, deleting the checkpoint (`factum reset NAME` on the command line, or
    /// [`EventStore::delete_checkpoint`](crate::EventStore::delete_checkpoint) with the
    /// projection's name) makes the next start rebuild it from the log.
    #[error(
        "projection `{projection}`: its stored state at position {position} does not decode: {source}; if its type \
         changed, delete its checkpoint (`factum reset {projection}`, or `EventStore::delete_checkpoint`) and it \
         rebuilds from the log on its next start"
    )]
    State {
        /// The projection's name.
        projection: &'static str,
        /// The position of the stored checkpoint.
        position: u64,
        /// What serde_json said.
        #[source]
        source: serde_json::Error,
    },
    /// The state could not be serialized to be stored (a map with non-string keys, say).
    #[error("projection `{projection}`: its state does not serialize as JSON: {source}")]
    Encode {
        /// The projection's name.
        projection: &'static str,
        /// What serde_json said.
        #[source]
        source: serde_json::Error,
    },
    /// The store failed.
    #[error("projection `{projection}`: {source}")]
    Store {
        /// The projection's name.
        projection: &'static str,
        /// The store's error.
        #[source]
        source: StoreError,
    },
}

/// Why a process runner stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProcessError {
    /// A handler failed (or panicked) on an event, or the event could not be decoded.
    #[error(
        "process manager `{process}` stopped at position {position} (stream {aggregate_type}/{stream_id}, version {version}, event `{event}`): {source}"
    )]
    Event {
        /// The process manager's name.
        process: &'static str,
        /// The event's global position.
        position: u64,
        /// Its aggregate type.
        aggregate_type: String,
        /// Its stream id.
        stream_id: String,
        /// Its version in the stream.
        version: u64,
        /// Its stored name.
        event: String,
        /// What went wrong (boxed: the error stays small on the success path).
        #[source]
        source: Box<ApplyError>,
    },
    /// A `#[deadline]` or `#[rejected]` handler failed (or panicked), or a stored deadline
    /// could not be decoded.
    #[error("process manager `{process}` stopped on {what} of instance {instance:?}: {source}")]
    Step {
        /// The process manager's name.
        process: &'static str,
        /// The instance.
        instance: String,
        /// What it was handling: "deadline 7 (`PaymentDue`)", "the rejection of command ...".
        what: String,
        /// What went wrong (boxed: the error stays small on the success path).
        #[source]
        source: Box<ApplyError>,
    },
    /// The stored state of an instance does not decode as the process manager's type.
    #[error(
        "process manager `{process}`: the stored state of instance {instance:?} does not decode: {source}; if its type \
         changed, give the process manager a new name (`#[process(name = \"...\")]`) or migrate its stored instances"
    )]
    State {
        /// The process manager's name.
        process: &'static str,
        /// The instance.
        instance: String,
        /// What serde_json said.
        #[source]
        source: serde_json::Error,
    },
    /// An instance's state could not be serialized to be stored.
    #[error("process manager `{process}`: the state of instance {instance:?} does not serialize as JSON: {source}")]
    Encode {
        /// The process manager's name.
        process: &'static str,
        /// The instance.
        instance: String,
        /// What serde_json said.
        #[source]
        source: serde_json::Error,
    },
    /// The store failed.
    #[error("process manager `{process}`: {source}")]
    Store {
        /// The process manager's name.
        process: &'static str,
        /// The store's error.
        #[source]
        source: StoreError,
    },
}

impl ProjectionError {
    /// True when stored data cannot be read: an event that does not decode as the type its
    /// handler takes, the projection's own stored state that does not decode, or a corrupt
    /// store ([`StoreError::is_corrupt`]). A handler's error or panic is not: that is the
    /// projection's code refusing a well-formed event.
    pub fn is_corrupt(&self) -> bool {
        match self {
            ProjectionError::Event { source, .. } => source.is_corrupt(),
            ProjectionError::State { .. } => true,
            ProjectionError::Encode { .. } => false,
            ProjectionError::Store { source, .. } => source.is_corrupt(),
        }
    }

    /// The projection's name.
    pub fn projection(&self) -> &'static str {
        match self {
            ProjectionError::Event { projection, .. }
            | ProjectionError::State { projection, .. }
            | ProjectionError::Encode { projection, .. }
            | ProjectionError::Store { projection, .. } => projection,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    fn stream() -> StreamName {
        StreamName { aggregate_type: "account".into(), stream_id: "a-1".into() }
    }

    fn json_error() -> serde_json::Error {
        serde_json::from_str::<u64>("\"seven\"").unwrap_err()
    }

    fn decode_error() -> DecodeError {
        DecodeError::Payload { name: "Deposited", version: 1, source: json_error() }
    }

    fn on_event(source: ApplyError) -> ProjectionError {
        ProjectionError::Event {
            projection: "totals",
            position: 7,
            aggregate_type: "account".into(),
            stream_id: "a-1".into(),
            version: 3,
            event: "Deposited".into(),
            source,
        }
    }

    #[test]
    fn store_errors_are_the_callers_or_an_operators() {
        let invalid = StoreError::InvalidInput { what: "stream id \"\"".into(), reason: "it is empty".into() };
        let encode = StoreError::Encode { stream: stream(), source: EncodeError { event: "E", source: json_error() } };
        let corrupt = StoreError::corrupt("events row at position 17", "the payload is not JSON");
        let decode = StoreError::Decode { stream: stream(), version: 1, source: decode_error() };
        let newer = StoreError::Incompatible { store: "the SQLite file x.db".into(), found: 9, supported: 2 };
        let backend = StoreError::Backend("connection refused".into());
        let conflict = StoreError::Conflict { stream: stream(), expected: 1, actual: 2 };
        for caller in [&invalid, &encode] {
            assert!(caller.is_invalid_input() && !caller.is_corrupt(), "{caller}");
        }
        for operator in [&corrupt, &decode, &newer] {
            assert!(operator.is_corrupt() && !operator.is_invalid_input(), "{operator}");
        }
        for neither in [&backend, &conflict] {
            assert!(!neither.is_corrupt() && !neither.is_invalid_input(), "{neither}");
        }
    }

    #[test]
    fn a_projection_error_is_corrupt_only_when_stored_data_does_not_decode() {
        assert!(on_event(ApplyError::Decode(decode_error())).is_corrupt());
        assert!(!on_event(ApplyError::Handler("a deposit of 0 is poison".into())).is_corrupt());
        assert!(!on_event(ApplyError::Panicked("index out of bounds".into())).is_corrupt());
        assert!(ProjectionError::State { projection: "totals", position: 4, source: json_error() }.is_corrupt());
        assert!(!ProjectionError::Encode { projection: "totals", source: json_error() }.is_corrupt());
        let store = |source| ProjectionError::Store { projection: "totals", source };
        assert!(store(StoreError::corrupt("checkpoint totals", "not JSON")).is_corrupt());
        assert!(!store(StoreError::Backend("timeout".into())).is_corrupt());
    }

    #[test]
    fn a_projection_error_keeps_its_cause_as_the_source() {
        let handler = on_event(ApplyError::Handler("a deposit of 0 is poison".into()));
        assert_eq!(
            handler.to_string(),
            "projection `totals` stopped at position 7 (stream account/a-1, version 3, event `Deposited`): a deposit of 0 is poison"
        );
        let source = handler.source().expect("the handler's error is the source");
        assert!(matches!(source.downcast_ref::<ApplyError>(), Some(ApplyError::Handler(_))));

        let panicked = on_event(ApplyError::Panicked("index out of bounds".into()));
        assert!(
            panicked.to_string().ends_with("`Deposited`): the handler panicked: index out of bounds"),
            "{panicked}"
        );

        let decode = on_event(ApplyError::Decode(decode_error()));
        let apply = decode.source().and_then(|s| s.downcast_ref::<ApplyError>()).expect("an ApplyError");
        // `Decode` is transparent: its source is the JSON parser's error.
        assert!(apply.source().and_then(|s| s.downcast_ref::<serde_json::Error>()).is_some());

        let state = ProjectionError::State { projection: "totals", position: 4, source: json_error() };
        assert!(state.source().and_then(|s| s.downcast_ref::<serde_json::Error>()).is_some());
        assert!(state.to_string().starts_with("projection `totals`: its stored state at position 4 does not decode: "));
        assert!(state.to_string().ends_with("delete its checkpoint (`factum reset totals`, or `EventStore::delete_checkpoint`) and it rebuilds from the log on its next start"), "{state}");
        assert_eq!(state.projection(), "totals");
    }

    #[test]
    fn execute_errors_forward_the_classification() {
        type Execute = ExecuteError<std::io::Error>;
        let rejected = Execute::Rejected(std::io::Error::other("insufficient funds"));
        assert!(!rejected.is_corrupt() && !rejected.is_invalid_input() && rejected.rejection().is_some());
        let conflict = Execute::Conflict {
            attempts: 3,
            source: StoreError::Conflict { stream: stream(), expected: 1, actual: 2 },
        };
        assert!(!conflict.is_corrupt() && !conflict.is_invalid_input());
        let invalid = Execute::from(StoreError::InvalidInput { what: "stream id".into(), reason: "too long".into() });
        assert!(invalid.is_invalid_input() && !invalid.is_corrupt());
        let corrupt = Execute::from(StoreError::Decode { stream: stream(), version: 2, source: decode_error() });
        assert!(corrupt.is_corrupt() && !corrupt.is_invalid_input());
        let backend = Execute::from(StoreError::Backend("disk full".into()));
        assert!(!backend.is_corrupt() && !backend.is_invalid_input());
        let committed = |source| Execute::Projection { version: 3, positions: vec![7], source };
        let projection = committed(on_event(ApplyError::Decode(decode_error())));
        assert!(projection.is_corrupt() && !projection.is_invalid_input());
        assert!(projection.to_string().starts_with("the command was committed (stream version 3)"), "{projection}");
        let handler = committed(on_event(ApplyError::Handler("poison".into())));
        assert!(!handler.is_corrupt());
    }
}
