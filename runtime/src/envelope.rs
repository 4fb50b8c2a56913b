//! What is stored around an event: its place in the log, its time, the command's metadata.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// Metadata of the command that produced events; stored with each of them.
///
/// ```
/// use factum::Metadata;
///
/// let meta = Metadata::new()
///     .with_correlation_id("order-7")
///     .with_causation_id("http-req-19")
///     .with_command_id("pay-order-7")
///     .with("user", "alice");
/// assert_eq!(meta.correlation_id.as_deref(), Some("order-7"));
/// assert_eq!(meta.get("user"), Some("alice"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// Ties together every event of one business transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// The message (command, request, event) that directly caused these events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<String>,
    /// Names the command, so that it is carried out once: the
    /// [`Repository`](crate::Repository) runs a command whose id is already stored on its
    /// stream no more, and answers what it committed the first time (see
    /// [`Repository::execute_with`](crate::Repository::execute_with)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_id: Option<String>,
    /// Free key/values: user, tenant, client address, ...
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

impl Metadata {
    /// Empty metadata.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the correlation id.
    pub fn with_correlation_id(mut self, id: impl Into<String>) -> Self {
        self.correlation_id = Some(id.into());
        self
    }

    /// Sets the causation id.
    pub fn with_causation_id(mut self, id: impl Into<String>) -> Self {
        self.causation_id = Some(id.into());
        self
    }

    /// Sets the command id: the command is carried out at most once on its stream.
    pub fn with_command_id(mut self, id: impl Into<String>) -> Self {
        self.command_id = Some(id.into());
        self
    }

    /// Adds a free key/value.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.insert(key.into(), value.into());
        self
    }

    /// Reads a free key/value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.extra.get(key).map(String::as_str)
    }

    /// True when nothing is set.
    pub fn is_empty(&self) -> bool {
        self.correlation_id.is_none()
            && self.causation_id.is_none()
            && self.command_id.is_none()
            && self.extra.is_empty()
    }
}

/// Everything known about a stored event except its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMeta {
    /// The aggregate type of the stream (`bank-account`).
    pub aggregate_type: String,
    /// The aggregate id (`acc-1`).
    pub stream_id: String,
    /// The event's version within its stream: 1 for the first event.
    pub stream_version: u64,
    /// The event's place in the store's global log: 1 for the first event ever stored.
    pub position: u64,
    /// The stored name of the event.
    pub event_name: String,
    /// The schema version the payload was written at.
    pub event_version: u32,
    /// When the store recorded the event.
    pub recorded_at: SystemTime,
    /// The metadata of the command that produced it.
    pub metadata: Metadata,
}

/// A stored event as it comes out of an [`EventStore`](crate::EventStore): metadata and the
/// JSON payload, not yet decoded.
///
/// ```
/// use factum::{EventFilter, EventStore, MemoryStore, Metadata, NewEvent, StreamRef};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), factum::StoreError> {
/// let store = MemoryStore::new();
/// let event = NewEvent { name: "Opened", version: 1, payload: r#"{"owner":"Ada"}"#.into() };
/// let metadata = Metadata::new().with_correlation_id("signup-7");
/// store.append(StreamRef::new("account", "a-1"), 0, &metadata, vec![event]).await?;
///
/// let recorded = &store.read_all(0, EventFilter::ALL, 10).await?[0];
/// assert_eq!((recorded.meta.stream_id.as_str(), recorded.meta.stream_version, recorded.meta.position), ("a-1", 1, 1));
/// assert_eq!(recorded.meta.metadata.correlation_id.as_deref(), Some("signup-7"));
/// assert_eq!(recorded.payload, r#"{"owner":"Ada"}"#);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    /// Where and when the event was stored.
    pub meta: EventMeta,
    /// The JSON payload.
    pub payload: String,
}

/// An event about to be appended: its stored name, schema version and JSON payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// The stored name.
    pub name: &'static str,
    /// The schema version of the payload.
    pub version: u32,
    /// The JSON payload.
    pub payload: String,
}

/// A decoded event with its metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct EventEnvelope<E> {
    /// Where and when the event was stored.
    pub meta: EventMeta,
    /// The typed event.
    pub event: E,
}

/// A stored event lent out by [`EventStore::replay`](crate::EventStore::replay): what
/// rebuilding an aggregate needs, borrowed from the store (its memory, the SQLite row, the
/// PostgreSQL message), so that no name or payload is copied on the way to the decoder.
///
/// The stream it belongs to is the one `replay` was asked for; its [`EventMeta`] is not
/// built (use [`EventStore::read_stream`](crate::EventStore::read_stream) for that).
///
/// ```
/// use factum::{EventStore, MemoryStore, Metadata, NewEvent, StoredEvent, StreamRef};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), factum::StoreError> {
/// let store = MemoryStore::new();
/// let stream = StreamRef::new("counter", "c-1");
/// let event = NewEvent { name: "Incremented", version: 1, payload: r#"{"by":2}"#.into() };
/// store.append(stream, 0, &Metadata::new(), vec![event]).await?;
///
/// let mut seen = Vec::new();
/// store
///     .replay(stream, 1, u64::MAX, |event: StoredEvent<'_>| {
///         seen.push((event.stream_version, event.event_name.to_owned(), event.payload.len()));
///         Ok(())
///     })
///     .await?;
/// assert_eq!(seen, [(1, "Incremented".to_owned(), 8)]);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredEvent<'a> {
    /// The event's version within its stream: 1 for the first event.
    pub stream_version: u64,
    /// The event's place in the store's global log.
    pub position: u64,
    /// The stored name of the event.
    pub event_name: &'a str,
    /// The schema version the payload was written at.
    pub event_version: u32,
    /// The JSON payload.
    pub payload: &'a str,
}

impl<'a> StoredEvent<'a> {
    /// The borrowed view of a recorded event.
    pub fn of(recorded: &'a RecordedEvent) -> Self {
        StoredEvent {
            stream_version: recorded.meta.stream_version,
            position: recorded.meta.position,
            event_name: &recorded.meta.event_name,
            event_version: recorded.meta.event_version,
            payload: &recorded.payload,
        }
    }
}
