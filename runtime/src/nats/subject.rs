//! How an event is named on NATS: its subject, its message id, and its headers.

use std::borrow::Cow;

/// The header of the event's stored name.
pub const EVENT: &str = "Factum-Event";
/// The header of the payload's schema version.
pub const EVENT_VERSION: &str = "Factum-Event-Version";
/// The header of the aggregate type.
pub const AGGREGATE_TYPE: &str = "Factum-Aggregate-Type";
/// The header of the stream id.
pub const STREAM_ID: &str = "Factum-Stream-Id";
/// The header of the event's version within its stream.
pub const STREAM_VERSION: &str = "Factum-Stream-Version";
/// The header of the event's position in the store's global log.
pub const POSITION: &str = "Factum-Position";
/// The header of the time the store recorded the event (RFC 3339, UTC, microseconds).
pub const RECORDED_AT: &str = "Factum-Recorded-At";
/// The header of the position of the message the publisher sent before this one (0 for the
/// first): a subscriber that sees it above its own position knows messages are missing.
pub const PREVIOUS_POSITION: &str = "Factum-Previous-Position";
/// The header of the event's metadata as JSON (correlation, causation, command ids, extras),
/// left out when the metadata is empty.
pub const METADATA: &str = "Factum-Metadata";

/// The root of every subject factum publishes to.
pub const ROOT: &str = "factum";

/// One subject token for `raw`: bytes a NATS subject token cannot hold (`.`, `*`, `>`,
/// white space, control characters, non-ASCII) and `%` itself are written `%XX`, so
/// every id maps to one token and back.
///
/// ```
/// use factum::nats::subject_token;
/// assert_eq!(subject_token("acc-1"), "acc-1");
/// assert_eq!(subject_token("a.b c*>%"), "a%2Eb%20c%2A%3E%25");
/// ```
pub fn subject_token(raw: &str) -> Cow<'_, str> {
    let escaped = |byte: u8| !(0x21..=0x7e).contains(&byte) || matches!(byte, b'.' | b'*' | b'>' | b'%');
    if !raw.bytes().any(escaped) {
        return Cow::Borrowed(raw);
    }
    let mut token = String::with_capacity(raw.len() + 8);
    for byte in raw.bytes() {
        if escaped(byte) {
            token.push_str(&format!("%{byte:02X}"));
        } else {
            token.push(char::from(byte));
        }
    }
    Cow::Owned(token)
}

/// The text a [token](subject_token) stands for, or `None` if it is not one.
///
/// ```
/// use factum::nats::{subject_token, token_text};
/// assert_eq!(token_text(&subject_token(" a.b% ")).as_deref(), Some(" a.b% "));
/// assert_eq!(token_text("a%2"), None);
/// ```
pub fn token_text(token: &str) -> Option<String> {
    let bytes = token.as_bytes();
    let mut text = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            let hex = token.get(at + 1..at + 3)?;
            text.push(u8::from_str_radix(hex, 16).ok()?);
            at += 3;
        } else {
            text.push(bytes[at]);
            at += 1;
        }
    }
    String::from_utf8(text).ok()
}

/// The aggregate type, stream id and event name of an [event subject](event_subject) of
/// `source`, or `None` if the subject is not one.
pub fn parse_event_subject(source: &str, subject: &str) -> Option<(String, String, String)> {
    let rest = subject.strip_prefix(ROOT)?.strip_prefix('.')?.strip_prefix(source)?.strip_prefix('.')?;
    let mut parts = rest.split('.');
    let (aggregate_type, stream_id, event_name) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some((token_text(aggregate_type)?, token_text(stream_id)?, token_text(event_name)?))
}

/// The subject of an event: `factum.<source>.<aggregate type>.<stream id>.<event name>`,
/// each part one [token](subject_token).
pub fn event_subject(source: &str, aggregate_type: &str, stream_id: &str, event_name: &str) -> String {
    format!(
        "{ROOT}.{source}.{}.{}.{}",
        subject_token(aggregate_type),
        subject_token(stream_id),
        subject_token(event_name)
    )
}

/// The subjects of every event of `source`: `factum.<source>.>`.
pub fn source_subjects(source: &str) -> String {
    format!("{ROOT}.{source}.>")
}

/// The `Nats-Msg-Id` of the event at `position` of `source`: `<source>:<position>`, the
/// same however often it is published, so that JetStream stores it once.
pub fn message_id(source: &str, position: u64) -> String {
    format!("{source}:{position}")
}

/// The JetStream stream a source publishes to by default: `FACTUM_<SOURCE>`, upper case,
/// `-` as `_`.
pub fn default_stream_name(source: &str) -> String {
    format!("FACTUM_{}", source.to_ascii_uppercase().replace('-', "_"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_hold_any_id_as_one_token() {
        assert_eq!(event_subject("shop", "order", "o-1", "OrderPlaced"), "factum.shop.order.o-1.OrderPlaced");
        assert_eq!(event_subject("shop", "order", "eu.o 1", "X"), "factum.shop.order.eu%2Eo%201.X");
        assert_eq!(subject_token("naïve"), "na%C3%AFve");
        assert_eq!(subject_token("100%"), "100%25");
        assert_eq!(message_id("shop", 42), "shop:42");
        assert_eq!(default_stream_name("web-shop"), "FACTUM_WEB_SHOP");
        assert_eq!(source_subjects("shop"), "factum.shop.>");
        let subject = event_subject("shop", "order", " eu.o 1 ", "Placed");
        let parsed = parse_event_subject("shop", &subject);
        assert_eq!(parsed, Some(("order".into(), " eu.o 1 ".into(), "Placed".into())));
        assert_eq!(parse_event_subject("other", &subject), None);
        assert_eq!(parse_event_subject("shop", "factum.shop.a.b"), None);
        assert_eq!(token_text("na%C3%AFve").as_deref(), Some("naïve"));
    }
}
