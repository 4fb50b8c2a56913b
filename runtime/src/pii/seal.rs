//! Sealing the `Pii` values of a payload on append, and opening them on read.
//!
//! Every store calls these two, so that every path (appends, `read_stream`, `replay`,
//! `read_all`) treats personal data alike. A payload without personal data is recognised by
//! a substring search and passed through untouched.
//!
//! In storage a value is `{"$sealed": "<base64 of nonce ‖ ciphertext>", "$key": <key id>}`:
//! XChaCha20-Poly1305 under the subject's key, with a random 24-byte nonce per value, and as
//! associated data the event's name, schema version, stream, stream version, the value's
//! field path and the key id. A value copied into another event, another field or another
//! stream does not open; a value whose key is gone opens as `{"$forgotten": true}`.

use std::borrow::Cow;
use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as BASE64;
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde_json::{Map, Value};

use super::keys::SubjectKey;
use crate::error::{SealError, StoreError, StreamName};

pub(crate) const PII: &str = "$pii";
pub(crate) const SUBJECT: &str = "$subject";
pub(crate) const FORGOTTEN: &str = "$forgotten";
pub(crate) const SEALED: &str = "$sealed";
pub(crate) const KEY: &str = "$key";

const NONCE: usize = 24;

/// The event a payload belongs to: what a sealed value is bound to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sealing<'a> {
    pub aggregate_type: &'a str,
    pub stream_id: &'a str,
    pub stream_version: u64,
    pub event_name: &'a str,
    pub event_version: u32,
}

impl<'a> Sealing<'a> {
    fn stream(&self) -> StreamName {
        StreamName { aggregate_type: self.aggregate_type.to_owned(), stream_id: self.stream_id.to_owned() }
    }

    fn error(&self, field: &str, reason: impl Into<String>) -> StoreError {
        StoreError::Sealed(Box::new(SealError {
            stream: self.stream(),
            version: self.stream_version,
            event: self.event_name.to_owned(),
            field: field.to_owned(),
            reason: reason.into(),
        }))
    }

    /// The associated data of the value at `field`, sealed under key `key_id`.
    fn associated_data(&self, field: &str, key_id: u64) -> Vec<u8> {
        // Lengths first, so that no two different events give the same bytes.
        let mut ad = Vec::with_capacity(64 + field.len());
        for part in [self.event_name, self.aggregate_type, self.stream_id, field] {
            ad.extend_from_slice(&(part.len() as u64).to_le_bytes());
            ad.extend_from_slice(part.as_bytes());
        }
        ad.extend_from_slice(&self.event_version.to_le_bytes());
        ad.extend_from_slice(&self.stream_version.to_le_bytes());
        ad.extend_from_slice(&key_id.to_le_bytes());
        ad
    }

    /// The event `meta` describes.
    pub(crate) fn of(meta: &'a crate::EventMeta) -> Self {
        Sealing {
            aggregate_type: &meta.aggregate_type,
            stream_id: &meta.stream_id,
            stream_version: meta.stream_version,
            event_name: &meta.event_name,
            event_version: meta.event_version,
        }
    }

    /// The event `stored` describes, of `stream`.
    pub(crate) fn stored(stream: crate::StreamRef<'a>, stored: &crate::StoredEvent<'a>) -> Self {
        Sealing {
            aggregate_type: stream.aggregate_type,
            stream_id: stream.stream_id,
            stream_version: stored.stream_version,
            event_name: stored.event_name,
            event_version: stored.event_version,
        }
    }
}

/// True when `payload` holds `Pii` values in the clear, to be sealed before it is stored.
pub(crate) fn needs_sealing(payload: &str) -> bool {
    payload.contains("\"$pii\"")
}

/// True when `payload` holds sealed values, to be opened before it is decoded.
pub(crate) fn is_sealed(payload: &str) -> bool {
    payload.contains("\"$sealed\"")
}

/// Seals every `Pii` value of `payload` with the key `key_of` gives for its subject (the id
/// and key of the subject's current key, created if it has none). A value with no subject
/// (a `Pii` outside an event with `#[pii(subject = ..)]`) is refused.
pub(crate) fn seal(
    payload: &str,
    at: &Sealing<'_>,
    mut key_of: impl FnMut(&str) -> Result<(u64, SubjectKey), StoreError>,
) -> Result<String, StoreError> {
    let mut value: Value = serde_json::from_str(payload)
        .map_err(|error| at.error("", format!("the payload to seal is not JSON: {error}")))?;
    let mut path = String::new();
    walk(&mut value, &mut path, &mut |object, field| {
        if !object.contains_key(PII) {
            return Ok(());
        }
        let subject = match object.get(SUBJECT) {
            Some(Value::String(subject)) if !subject.is_empty() => subject.clone(),
            _ => {
                return Err(at.error(
                    field,
                    "a `Pii` value has no subject: the event must name the field that identifies the person, with `#[pii(subject = field)]`",
                ));
            }
        };
        let (key_id, key) = key_of(&subject)?;
        let clear = serde_json::to_vec(&object[PII]).expect("a JSON value serializes");
        let nonce = XNonce::try_generate()
            .map_err(|error| at.error(field, format!("the system's random source failed: {error}")))?;
        let ad = at.associated_data(field, key_id);
        let sealed = XChaCha20Poly1305::new(key.bytes().into())
            .encrypt(&nonce, Payload { msg: &clear, aad: &ad })
            .map_err(|_| at.error(field, "the value could not be encrypted"))?;
        let mut bytes = Vec::with_capacity(NONCE + sealed.len());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        object.clear();
        object.insert(SEALED.to_owned(), Value::String(BASE64.encode(bytes)));
        object.insert(KEY.to_owned(), Value::from(key_id));
        Ok(())
    })?;
    Ok(value.to_string())
}

/// Opens the sealed values of stored payloads, fetching each key once.
///
/// `fetch` answers the key of an id, or `None` when the key is gone (its subject forgotten);
/// a store reads it from its key table, and may have fetched every key a read needs first.
pub(crate) struct Opener<F> {
    fetch: F,
    keys: HashMap<u64, Option<SubjectKey>>,
}

impl<F: FnMut(u64) -> Result<Option<SubjectKey>, StoreError>> Opener<F> {
    pub(crate) fn new(fetch: F) -> Self {
        Opener { fetch, keys: HashMap::new() }
    }

    /// `payload` with its sealed values opened: each is `{"$pii": value}`, or
    /// `{"$forgotten": true}` once its key is gone. A payload with nothing sealed is lent
    /// back as it is. A value that does not open (altered, or copied from elsewhere) is
    /// [`StoreError::Sealed`], naming the stream, version, event and field.
    pub(crate) fn open<'p>(&mut self, payload: &'p str, at: &Sealing<'_>) -> Result<Cow<'p, str>, StoreError> {
        if !is_sealed(payload) {
            return Ok(Cow::Borrowed(payload));
        }
        let mut value: Value = serde_json::from_str(payload)
            .map_err(|error| at.error("", format!("the sealed payload is not JSON: {error}")))?;
        let mut path = String::new();
        walk(&mut value, &mut path, &mut |object, field| {
            let Some(sealed) = object.get(SEALED) else { return Ok(()) };
            let (Value::String(sealed), Some(key_id)) = (sealed, object.get(KEY).and_then(Value::as_u64)) else {
                return Err(at.error(field, "the sealed value is malformed (no key id, or not a string)"));
            };
            let bytes =
                BASE64.decode(sealed).map_err(|_| at.error(field, "the sealed value is not base64: it was altered"))?;
            let opened = match self.key(key_id)? {
                None => None,
                Some(key) => {
                    if bytes.len() < NONCE {
                        return Err(at.error(field, "the sealed value is too short: it was altered"));
                    }
                    let (nonce, sealed) = bytes.split_at(NONCE);
                    let ad = at.associated_data(field, key_id);
                    let clear = XChaCha20Poly1305::new(key.bytes().into())
                        .decrypt(&XNonce::try_from(nonce).expect("the nonce's length was checked"), Payload { msg: sealed, aad: &ad })
                        .map_err(|_| {
                            at.error(
                                field,
                                "the sealed value does not open with its subject's key: it was altered, or copied from another event or field",
                            )
                        })?;
                    let clear: Value = serde_json::from_slice(&clear)
                        .map_err(|error| at.error(field, format!("the opened value is not JSON: {error}")))?;
                    Some(clear)
                }
            };
            object.clear();
            match opened {
                Some(clear) => object.insert(PII.to_owned(), clear),
                None => object.insert(FORGOTTEN.to_owned(), Value::Bool(true)),
            };
            Ok(())
        })?;
        Ok(Cow::Owned(value.to_string()))
    }

    fn key(&mut self, key_id: u64) -> Result<Option<&SubjectKey>, StoreError> {
        if !self.keys.contains_key(&key_id) {
            let key = (self.fetch)(key_id)?;
            self.keys.insert(key_id, key);
        }
        Ok(self.keys[&key_id].as_ref())
    }
    /// Opens the payload of `event` in place.
    pub(crate) fn open_recorded(&mut self, event: &mut crate::RecordedEvent) -> Result<(), StoreError> {
        if is_sealed(&event.payload) {
            let opened = self.open(&event.payload, &Sealing::of(&event.meta))?.into_owned();
            event.payload = opened;
        }
        Ok(())
    }

    /// Opens the payloads of `events` in place.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) fn open_all(&mut self, events: &mut [crate::RecordedEvent]) -> Result<(), StoreError> {
        events.iter_mut().try_for_each(|event| self.open_recorded(event))
    }
}

/// The key ids the sealed values of `payload` refer to, for a store that fetches them all
/// in one query before opening.
#[cfg(any(feature = "postgres", test))]
pub(crate) fn key_ids(payload: &str, into: &mut Vec<u64>) {
    if !is_sealed(payload) {
        return;
    }
    let Ok(mut value) = serde_json::from_str::<Value>(payload) else { return };
    let mut path = String::new();
    let _ = walk(&mut value, &mut path, &mut |object, _| {
        if let Some(id) = object.get(KEY).and_then(Value::as_u64)
            && object.contains_key(SEALED)
            && !into.contains(&id)
        {
            into.push(id);
        }
        Ok(())
    });
}

/// What [`walk`] calls on each object: the object, and its path in the payload.
type Visit<'a> = dyn FnMut(&mut Map<String, Value>, &str) -> Result<(), StoreError> + 'a;

/// Calls `visit` on every object of `value` with its path (`address.street`, `lines.2.name`),
/// outermost first; an object `visit` rewrote into a marker is not walked into.
fn walk(value: &mut Value, path: &mut String, visit: &mut Visit<'_>) -> Result<(), StoreError> {
    match value {
        Value::Object(object) => {
            visit(object, path)?;
            if object.contains_key(SEALED) || object.contains_key(FORGOTTEN) || object.contains_key(PII) {
                return Ok(());
            }
            for (key, inner) in object.iter_mut() {
                descend(inner, path, key, visit)?;
            }
            Ok(())
        }
        Value::Array(items) => {
            for (index, inner) in items.iter_mut().enumerate() {
                descend(inner, path, &index.to_string(), visit)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn descend(value: &mut Value, path: &mut String, part: &str, visit: &mut Visit<'_>) -> Result<(), StoreError> {
    let len = path.len();
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(part);
    let walked = walk(value, path, visit);
    path.truncate(len);
    walked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(stream_version: u64) -> Sealing<'static> {
        Sealing {
            aggregate_type: "shop-order",
            stream_id: "o-1",
            stream_version,
            event_name: "OrderPlaced",
            event_version: 1,
        }
    }

    const PLACED: &str = r#"{"customer":"c-1","name":{"$pii":"Ada Lovelace","$subject":"c-1"},"address":{"street":{"$pii":"12 St James's Square","$subject":"c-1"}},"lines":[1,2]}"#;

    fn sealed(key: &SubjectKey) -> String {
        seal(PLACED, &at(1), |subject| {
            assert_eq!(subject, "c-1");
            Ok((7, key.clone()))
        })
        .unwrap()
    }

    #[test]
    fn seals_every_value_and_opens_it_back() {
        let key = SubjectKey::generate().unwrap();
        let stored = sealed(&key);
        assert!(!stored.contains("Ada") && !stored.contains("James"), "{stored}");
        assert!(stored.contains(r#""customer":"c-1""#) && stored.contains(r#""lines":[1,2]"#), "{stored}");
        let opened = Opener::new(|id| Ok((id == 7).then(|| key.clone()))).open(&stored, &at(1)).unwrap();
        assert_eq!(
            opened,
            r#"{"address":{"street":{"$pii":"12 St James's Square"}},"customer":"c-1","lines":[1,2],"name":{"$pii":"Ada Lovelace"}}"#
        );
        let mut ids = Vec::new();
        key_ids(&stored, &mut ids);
        assert_eq!(ids, [7]);
    }

    #[test]
    fn a_missing_key_opens_as_forgotten() {
        let stored = sealed(&SubjectKey::generate().unwrap());
        let opened = Opener::new(|_| Ok(None)).open(&stored, &at(1)).unwrap();
        assert_eq!(
            opened,
            r#"{"address":{"street":{"$forgotten":true}},"customer":"c-1","lines":[1,2],"name":{"$forgotten":true}}"#
        );
    }

    #[test]
    fn a_value_moved_to_another_event_or_altered_does_not_open() {
        let key = SubjectKey::generate().unwrap();
        let stored = sealed(&key);
        let mut opener = Opener::new(|_| Ok(Some(key.clone())));
        let moved = opener.open(&stored, &at(2)).unwrap_err().to_string();
        assert!(
            moved.starts_with("stream shop-order/o-1, version 2: event `OrderPlaced`, field `address.street`"),
            "{moved}"
        );
        assert!(moved.contains("does not open"), "{moved}");

        let value: Value = serde_json::from_str(&stored).unwrap();
        let name = value["name"]["$sealed"].as_str().unwrap();
        let mut flipped = name.as_bytes().to_vec();
        flipped[40] = if flipped[40] == b'A' { b'B' } else { b'A' };
        let altered = stored.replace(name, std::str::from_utf8(&flipped).unwrap());
        let error = opener.open(&altered, &at(1)).unwrap_err().to_string();
        assert!(error.contains("field `name`") && error.contains("altered"), "{error}");
    }

    #[test]
    fn a_value_without_a_subject_is_refused() {
        let error = seal(r#"{"name":{"$pii":"Ada"}}"#, &at(1), |_| unreachable!()).unwrap_err().to_string();
        assert!(error.contains("field `name`") && error.contains("#[pii(subject = field)]"), "{error}");
    }

    #[test]
    fn payloads_without_personal_data_pass_untouched() {
        let plain = r#"{"amount":5}"#;
        assert!(!needs_sealing(plain) && !is_sealed(plain));
        assert!(matches!(Opener::new(|_| unreachable!()).open(plain, &at(1)).unwrap(), Cow::Borrowed(_)));
    }
}
