//! Streams that end: archived (kept, out of the global log) or deleted (gone, a tombstone in
//! their place), and the notice a deletion leaves for projections.

use serde::{Deserialize, Serialize};

use crate::error::DecodeError;
use crate::event::Event;

/// The notice a deleted stream leaves in the global log, in place of its events: what
/// [`EventStore::delete`](crate::EventStore::delete) returns, and what a projection receives
/// if it has a handler for it (`#[on] fn deleted(&mut self, e: &StreamDeleted, meta:
/// &EventMeta)`, the stream in `meta`), to drop what it built from the stream's events.
///
/// It is stored as an event of the stream (name `$StreamDeleted`, at the version after its
/// last event), so that the stream's version never goes back and its id is never reused;
/// reads of the stream itself (`read_stream`, `load`) do not return it.
///
/// ```
/// use factum::{Event, StreamDeleted};
///
/// assert_eq!(StreamDeleted::NAME, "$StreamDeleted");
/// let notice = StreamDeleted::decode(1, r#"{"version":3}"#).unwrap();
/// assert_eq!(notice, StreamDeleted { version: 3 });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamDeleted {
    /// The version of the stream's last event before it was deleted (how many it had).
    pub version: u64,
}

// Not offered as an example of an event when a type misses `#[derive(Event)]`: the
// user's own events are.
#[diagnostic::do_not_recommend]
impl Event for StreamDeleted {
    const NAME: &'static str = "$StreamDeleted";
    const VERSION: u32 = 1;

    fn decode(version: u32, payload: &str) -> Result<Self, DecodeError> {
        if version != Self::VERSION {
            return Err(DecodeError::UnknownVersion { name: Self::NAME, version, newest: Self::VERSION });
        }
        serde_json::from_str(payload).map_err(|source| DecodeError::Payload { name: Self::NAME, version, source })
    }
}

impl StreamDeleted {
    /// The payload stored for the notice.
    pub(crate) fn payload(&self) -> String {
        format!(r#"{{"version":{}}}"#, self.version)
    }
}

/// The error for an archive or delete of a stream that has no events.
pub(crate) fn no_events(stream: crate::StreamRef<'_>, what: &str) -> crate::StoreError {
    crate::StoreError::InvalidInput {
        what: format!("stream {}", stream.name()),
        reason: format!("it has no events, so there is nothing to {what}"),
    }
}
