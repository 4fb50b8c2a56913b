//! Events: the facts an aggregate records, and how they are named, versioned and decoded.

use std::fmt::Debug;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{DecodeError, EncodeError};

/// A domain event: a fact that happened, stored under a stable name and a schema version.
///
/// Implement it with `#[derive(Event)]`; the derive reads `#[event(name = "...", version = N,
/// upcast_from = Older)]` and writes [`Event::decode`], which walks the upcast chain so that a
/// payload stored at an old version comes back as today's type.
///
/// ```
/// use factum::prelude::*;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// #[event(name = "MoneyWithdrawn")]
/// pub struct MoneyWithdrawnV1 { pub amount: u64 }
///
/// #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// #[event(name = "MoneyWithdrawn", version = 2, upcast_from = MoneyWithdrawnV1)]
/// pub struct MoneyWithdrawn { pub amount: u64, pub reason: String }
///
/// impl From<MoneyWithdrawnV1> for MoneyWithdrawn {
///     fn from(old: MoneyWithdrawnV1) -> Self {
///         MoneyWithdrawn { amount: old.amount, reason: "unknown".into() }
///     }
/// }
///
/// // A payload written by version 1 of the schema decodes as version 2.
/// let event = MoneyWithdrawn::decode(1, r#"{"amount":5}"#).unwrap();
/// assert_eq!(event, MoneyWithdrawn { amount: 5, reason: "unknown".into() });
/// assert_eq!((MoneyWithdrawn::NAME, MoneyWithdrawn::VERSION), ("MoneyWithdrawn", 2));
///
/// // A version no type knows is an error value, never a panic.
/// let err = MoneyWithdrawn::decode(7, r#"{"amount":5}"#).unwrap_err();
/// assert_eq!(err.to_string(), "event `MoneyWithdrawn` has no type for schema version 7 (the newest is 2)");
/// ```
// Also the message for an event with `#[derive(Event)]` that misses a trait, where the user's
// own code asks for it (`projection::<P>().given(.., event)`): rustc then names the trait
// asked for, not the derive's bound that failed, so the words must fit both.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is used as an event but is not one",
    label = "not an event",
    note = "an event needs `#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]`: add what `{Self}` misses"
)]
pub trait Event: Serialize + DeserializeOwned + Clone + PartialEq + Debug + Send + Sync + 'static {
    /// The stable name stored with the event (default: the type's name).
    const NAME: &'static str;
    /// The schema version stored with the event (default 1).
    const VERSION: u32;

    /// Decodes a JSON payload stored at schema version `version`, upcasting older versions.
    fn decode(version: u32, payload: &str) -> Result<Self, DecodeError>;

    /// Encodes the event as the JSON payload stored for it.
    fn encode(&self) -> Result<String, EncodeError> {
        serde_json::to_string(self).map_err(|source| EncodeError { event: Self::NAME, source })
    }
}

/// The closed set of events one aggregate records: the `{Aggregate}Event` enum that
/// `#[handlers]` generates, one variant per `#[apply]` event type.
///
/// It maps each variant to its stored name and schema version, and decodes a stored
/// `(name, version, payload)` back into a variant.
///
/// ```
/// use factum::prelude::*;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// pub struct Switched { pub on: bool }
///
/// #[derive(Aggregate, Default)]
/// pub struct Lamp { on: bool }
///
/// #[handlers]
/// impl Lamp {
///     #[apply]
///     fn switched(&mut self, e: &Switched) { self.on = e.on; }
/// }
///
/// # fn main() {
/// let event: LampEvent = Switched { on: true }.into();
/// assert_eq!((event.name(), event.version()), ("Switched", 1));
/// assert_eq!(LampEvent::NAMES, ["Switched"]);
/// let payload = event.encode().unwrap();
/// assert_eq!(LampEvent::decode("Switched", 1, &payload).unwrap(), event);
/// assert!(LampEvent::decode("Exploded", 1, "{}").is_err());
/// # }
/// ```
pub trait EventSet: Clone + PartialEq + Debug + Send + Sync + Sized + 'static {
    /// Stored names of the events in this set, in declaration order.
    const NAMES: &'static [&'static str];

    /// The stored name of this event.
    fn name(&self) -> &'static str;

    /// The schema version this event is written at.
    fn version(&self) -> u32;

    /// Encodes the event as its JSON payload.
    fn encode(&self) -> Result<String, EncodeError>;

    /// Decodes a stored event; an unknown name or version is an error naming both.
    fn decode(name: &str, version: u32, payload: &str) -> Result<Self, DecodeError>;
}
