//! `Pii<T>`: a field of personal data, and how it crosses serde.

use std::cell::RefCell;
use std::fmt;

use serde::de::{DeserializeOwned, Error as _};
use serde::ser::{Error as _, SerializeMap};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::seal::{FORGOTTEN, PII, SEALED, SUBJECT};

/// A value of personal data in an event: stored encrypted with the key of the person it is
/// about, and read back as [`Pii::Forgotten`] once that person has been forgotten.
///
/// An event with `Pii` fields names the field that identifies the person, with
/// `#[pii(subject = field)]`; the derive checks that the field exists and is not `Pii`
/// itself. When the event is appended, the store encrypts each `Pii` value with the
/// subject's key (XChaCha20-Poly1305, a random nonce per value, the event's name, schema
/// version, stream, stream version and field bound as associated data), creating the key on
/// the subject's first event. [`EventStore::forget`](crate::EventStore::forget) destroys the
/// subject's keys: from then on every read path (loading an aggregate, `read_stream`,
/// `read_all`, projections, upcasting) decodes the value as `Forgotten`, never as an error.
///
/// ```
/// use factum::prelude::*;
/// use factum::{EventStore, MemoryStore, Pii};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// #[pii(subject = customer_id)]
/// pub struct CustomerRegistered {
///     pub customer_id: String,
///     pub name: Pii<String>,
/// }
///
/// #[derive(Aggregate, Default, Clone)]
/// pub struct Customer { name: Option<Pii<String>> }
///
/// #[handlers]
/// impl Customer {
///     #[command]
///     fn register(&self, name: String) -> Result<CustomerRegistered, std::convert::Infallible> {
///         Ok(CustomerRegistered { customer_id: "c-7".into(), name: Pii::new(name) })
///     }
///     #[apply]
///     fn registered(&mut self, e: &CustomerRegistered) { self.name = Some(e.name.clone()); }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = MemoryStore::new();
/// let customers = Repository::<Customer, _>::new(store.clone());
/// customers.execute("c-7", CustomerCommand::Register { name: "Ada Lovelace".into() }).await?;
///
/// // Read through the store, the value is opened; in the store it is sealed.
/// let stored = &store.read_all(0, factum::EventFilter::ALL, 10).await?[0];
/// assert_eq!(stored.payload, r#"{"customer_id":"c-7","name":{"$pii":"Ada Lovelace"}}"#);
///
/// store.forget("c-7", "support ticket 4411").await?;
/// let customer = customers.load("c-7").await?.expect("registered");
/// assert_eq!(customer.state.name, Some(Pii::Forgotten));
/// # Ok(()) }
/// ```
///
/// # In serde
///
/// - Inside an event being encoded, a known value is written `{"$pii": value, "$subject":
///   "..."}` for the store to seal; anywhere else (a snapshot, a projection's state, a
///   response) as `{"$pii": value}`, and `Forgotten` as `{"$forgotten": true}`.
/// - Read back, `{"$pii": value}` is the value, `{"$forgotten": true}` is `Forgotten`, and
///   any other JSON is read as a plain `T`: a field that was written before it became `Pii`
///   still decodes (it stays in the clear in the events stored before).
/// - A sealed value that reaches the decoder without going through a store (a payload copied
///   from the database by hand) is an error saying so.
///
/// `Debug` does not show the value, so that personal data does not reach logs through it;
/// [`Display`](fmt::Display) shows it (or `(forgotten)`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pii<T> {
    /// The value, while its subject's key exists.
    Known(T),
    /// The subject was forgotten: the value can no longer be read, by anyone.
    Forgotten,
}

impl<T> Pii<T> {
    /// A known value.
    pub fn new(value: T) -> Self {
        Pii::Known(value)
    }

    /// The value, unless forgotten.
    pub fn get(&self) -> Option<&T> {
        match self {
            Pii::Known(value) => Some(value),
            Pii::Forgotten => None,
        }
    }

    /// The value, unless forgotten.
    pub fn into_inner(self) -> Option<T> {
        match self {
            Pii::Known(value) => Some(value),
            Pii::Forgotten => None,
        }
    }

    /// True once the subject has been forgotten.
    pub fn is_forgotten(&self) -> bool {
        matches!(self, Pii::Forgotten)
    }

    /// Maps a known value; `Forgotten` stays `Forgotten`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Pii<U> {
        match self {
            Pii::Known(value) => Pii::Known(f(value)),
            Pii::Forgotten => Pii::Forgotten,
        }
    }

    /// A view of the value: `Pii<&T>`.
    pub fn as_ref(&self) -> Pii<&T> {
        match self {
            Pii::Known(value) => Pii::Known(value),
            Pii::Forgotten => Pii::Forgotten,
        }
    }
}

impl<T> From<T> for Pii<T> {
    fn from(value: T) -> Self {
        Pii::Known(value)
    }
}

impl<T> fmt::Debug for Pii<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pii::Known(_) => f.write_str("Pii(..)"),
            Pii::Forgotten => f.write_str("Pii::Forgotten"),
        }
    }
}

/// The value, or `(forgotten)`.
impl<T: fmt::Display> fmt::Display for Pii<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pii::Known(value) => value.fmt(f),
            Pii::Forgotten => f.write_str("(forgotten)"),
        }
    }
}

thread_local! {
    /// The subject of the event being encoded on this thread, set by [`with_subject`].
    static SUBJECT_OF_EVENT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs `encode` (the serialization of one event) with `subject` as the subject its `Pii`
/// values are written for. Encoding is synchronous, so a thread-local scope holds exactly
/// that serialization; the previous subject (an event encoded inside another's encoding) is
/// put back after.
pub(crate) fn with_subject<R>(subject: String, encode: impl FnOnce() -> R) -> R {
    struct Restore(Option<String>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            SUBJECT_OF_EVENT.with(|s| *s.borrow_mut() = previous);
        }
    }
    let _restore = Restore(SUBJECT_OF_EVENT.with(|s| s.borrow_mut().replace(subject)));
    encode()
}

impl<T: Serialize> Serialize for Pii<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Pii::Known(value) => SUBJECT_OF_EVENT.with(|subject| {
                let subject = subject.borrow();
                let mut map = serializer.serialize_map(Some(1 + usize::from(subject.is_some())))?;
                map.serialize_entry(PII, value)?;
                if let Some(subject) = subject.as_deref() {
                    if subject.is_empty() {
                        return Err(S::Error::custom(
                            "the subject of a `Pii` value is empty: the field named in `#[pii(subject = ..)]` must identify a person",
                        ));
                    }
                    map.serialize_entry(SUBJECT, subject)?;
                }
                map.end()
            }),
            Pii::Forgotten => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry(FORGOTTEN, &true)?;
                map.end()
            }
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Pii<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        if let serde_json::Value::Object(map) = &value {
            if let Some(inner) = map.get(PII) {
                return T::deserialize(inner).map(Pii::Known).map_err(D::Error::custom);
            }
            if map.contains_key(FORGOTTEN) {
                return Ok(Pii::Forgotten);
            }
            if map.contains_key(SEALED) {
                return Err(D::Error::custom(
                    "a sealed `Pii` value reached the decoder without being opened: read events through an `EventStore`, which holds the keys",
                ));
            }
        }
        T::deserialize(value).map(Pii::Known).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_marked_and_its_subject_named_only_inside_an_event() {
        let name = Pii::new("Ada".to_owned());
        assert_eq!(serde_json::to_string(&name).unwrap(), r#"{"$pii":"Ada"}"#);
        let inside = with_subject("c-1".into(), || serde_json::to_string(&name).unwrap());
        assert_eq!(inside, r#"{"$pii":"Ada","$subject":"c-1"}"#);
        assert_eq!(serde_json::to_string(&Pii::<String>::Forgotten).unwrap(), r#"{"$forgotten":true}"#);
    }

    #[test]
    fn every_form_reads_back() {
        let read = |json: &str| serde_json::from_str::<Pii<String>>(json);
        assert_eq!(read(r#"{"$pii":"Ada","$subject":"c-1"}"#).unwrap(), Pii::new("Ada".to_owned()));
        assert_eq!(read(r#"{"$forgotten":true}"#).unwrap(), Pii::Forgotten);
        assert_eq!(read(r#""plain""#).unwrap(), Pii::new("plain".to_owned()));
        let sealed = read(r#"{"$sealed":"AAAA","$key":3}"#).unwrap_err().to_string();
        assert!(sealed.contains("without being opened"), "{sealed}");
        assert!(read(r#"{"$pii":7}"#).is_err());
    }

    #[test]
    fn debug_hides_the_value_and_display_shows_it() {
        let name = Pii::new("Ada");
        assert_eq!(format!("{name:?}"), "Pii(..)");
        assert_eq!(name.to_string(), "Ada");
        assert_eq!(Pii::<&str>::Forgotten.to_string(), "(forgotten)");
    }
}
