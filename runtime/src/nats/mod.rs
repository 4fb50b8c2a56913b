//! Integration events over NATS JetStream (feature `nats`): the store's global log published
//! to a JetStream stream, for read models and services on other machines.
//!
//! A [`NatsPublisher`] follows the log and publishes each event (all of them, or those of one
//! aggregate type or some stored names) to the subject
//! `factum.<source>.<aggregate type>.<stream id>.<event name>`, where `<source>` names the
//! store (`shop`, say) and the other parts are [escaped](subject_token) into one token each.
//! The payload is the event's stored JSON; headers carry the rest of the envelope:
//!
//! | header | value |
//! |---|---|
//! | `Nats-Msg-Id` | `<source>:<position>`: JetStream stores an id once within its duplicate window |
//! | `Factum-Event`, `Factum-Event-Version` | the stored name and schema version |
//! | `Factum-Aggregate-Type`, `Factum-Stream-Id`, `Factum-Stream-Version` | the stream, and the event's version in it |
//! | `Factum-Position` | the position in the store's global log |
//! | `Factum-Previous-Position` | the position of the message published before it (0 for the first) |
//! | `Factum-Recorded-At` | when the store recorded it, RFC 3339 in UTC |
//! | `Factum-Metadata` | the metadata as JSON, when there is any |
//!
//! # What is guaranteed
//!
//! - **Every event, once, in the log's order.** The publisher reads the log by position and
//!   publishes in that order; each publish names the message it expects to be the stream's
//!   last (`Nats-Expected-Last-Msg-Id`), so JetStream refuses a message that would overtake
//!   one that was lost, and the publisher starts again from the last one stored. Order within
//!   each stream and across the whole log is kept.
//! - **Nothing lost, nothing doubled, across restarts.** The publisher's position is the
//!   later of its checkpoint in the store (saved once JetStream has acknowledged) and the
//!   position of the last message in the JetStream stream, read when it starts: a publisher
//!   killed between JetStream's acknowledgement and its checkpoint publishes nothing again,
//!   and `Nats-Msg-Id` drops a message published twice within the duplicate window anyway.
//! - **The command side never waits for NATS.** Commands append to the store as before; when
//!   NATS is down, [`run`](NatsPublisher::run) logs, waits and resumes from where JetStream's
//!   stream ends once it is back.
//! - **One publisher per source.** [`run`](NatsPublisher::run) holds the store's lease
//!   `nats-publisher:<source>`, so a second process waits instead of publishing too.
//!
//! A [`NatsSubscriber`] feeds a projection in another process from a durable JetStream
//! consumer: it applies a batch, stores the projection's state and position together in its
//! own store, and only then acknowledges (`AckPolicy::All`). A subscriber that dies between
//! the two gets the batch again and skips what its checkpoint already holds, so each event
//! affects the stored state once. Each message names the position of the one published
//! before it (`Factum-Previous-Position`): a subscriber that receives a message whose
//! predecessor it never applied (messages delivered to a process that died before applying
//! them, or a checkpoint reset here) does not acknowledge past them, but reads the stream
//! again from its start, skipping what its checkpoint holds. So a reset projection rebuilds
//! from the whole stream, as one reading the store rebuilds from the whole log. A message that does not decode, or a handler that fails,
//! stops it with an error naming the subject and, through the projection's error, the
//! event, stream, version and position.
//!
//! Compared with reading the store from each service: the database serves one reader (the
//! publisher) instead of one per service, and services depend on NATS subjects and JSON, not
//! on factum's tables; in exchange events reach them a little later, and NATS is one more
//! system to run.
//!
//! ```no_run
//! use factum::{EventStore, SqliteStore};
//! use factum::nats::NatsPublisher;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = SqliteStore::open("shop.db").await?;
//! let client = factum::nats::async_nats::connect("nats://127.0.0.1:4222").await?;
//! let publisher = NatsPublisher::new(store, factum::nats::async_nats::jetstream::new(client), "shop")?;
//! tokio::spawn(async move { publisher.run().await });
//! # Ok(()) }
//! ```

mod publisher;
mod subject;
mod subscriber;

/// The NATS client factum publishes with, so that an application connects with the same
/// version: `factum::nats::async_nats::connect(url)`.
pub use async_nats;

pub use self::publisher::{DEFAULT_DUPLICATE_WINDOW, NatsError, NatsPublisher};
pub use self::subject::{
    AGGREGATE_TYPE, EVENT, EVENT_VERSION, METADATA, POSITION, PREVIOUS_POSITION, RECORDED_AT, ROOT, STREAM_ID,
    STREAM_VERSION, default_stream_name, event_subject, message_id, parse_event_subject, source_subjects,
    subject_token, token_text,
};
pub use self::subscriber::NatsSubscriber;

/// The position of the event in the message at `sequence` of `stream`, if it is one of
/// factum's.
async fn position_at(
    stream: &async_nats::jetstream::stream::Stream,
    sequence: u64,
) -> Result<Option<u64>, async_nats::jetstream::stream::RawMessageError> {
    let message = stream.get_raw_message(sequence).await?;
    Ok(message.headers.get(POSITION).and_then(|position| position.as_str().parse().ok()))
}

/// Runs `attempt` for ever, as the publisher and the subscriber run: after a transient
/// error (NATS or a store unavailable) it logs a warning and tries again, waiting from
/// 100 ms doubling to 5 s; it returns the first error waiting cannot fix.
async fn retrying<F, A>(worker: &str, mut attempt: F) -> Result<std::convert::Infallible, NatsError>
where
    F: FnMut() -> A,
    A: std::future::Future<Output = Result<(), NatsError>>,
{
    const FIRST: std::time::Duration = std::time::Duration::from_millis(100);
    const LONGEST: std::time::Duration = std::time::Duration::from_secs(5);
    let mut backoff = FIRST;
    loop {
        match attempt().await {
            Ok(()) => backoff = FIRST,
            Err(error) if error.is_transient() => {
                crate::trace::warn!(worker, error = %error, "NATS or the store failed; trying again in {:?}", backoff);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(LONGEST);
            }
            Err(error) => return Err(error),
        }
    }
}
