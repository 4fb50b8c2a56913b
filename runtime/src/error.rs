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
        matches!(self, StoreError::Corrupt { .. } | StoreError::Incompatible { .. } | StoreError::Decode { .. })
    }

    /// A [`StoreError::Corrupt`] without an underlying error.
    #[allow(dead_code)] // used by the durable stores, which are behind features
    pub(crate) fn corrupt(location: impl Into<String>, reason: impl Into<String>) -> Self {
        StoreError::Corrupt { location: location.into(), reason: reason.into(), source: None }
    }
}

/// Why [`Repository::execute`](crate::Repository::execute) did not commit.
///
/// A rejection is the domain speaking (show it to the user); the other variants are
/// infrastructure (retry later, or alert).
///
/// ```
/// use factum::ExecuteError;
///
/// fn status<E: std::fmt::Display>(result: Result<(), ExecuteError<E>>) -> (u16, String) {
///     match result {
///         Ok(()) => (200, "ok".into()),
///         Err(ExecuteError::Rejected(why)) => (422, why.to_string()),
///         Err(ExecuteError::Conflict { .. }) => (409, "try again".into()),
///         Err(other) => (500, other.to_string()),
///     }
/// }
/// assert_eq!(status::<&str>(Err(ExecuteError::Rejected("insufficient funds"))), (422, "insufficient funds".into()));
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
    /// The events were committed, but an inline projection failed to take them in.
    #[error("the command was committed, but an inline projection failed: {0}")]
    Projection(#[source] crate::projection::ProjectionError),
}

impl<E> ExecuteError<E> {
    /// The domain error, if the aggregate rejected the command.
    pub fn rejection(&self) -> Option<&E> {
        match self {
            ExecuteError::Rejected(e) => Some(e),
            _ => None,
        }
    }
}
