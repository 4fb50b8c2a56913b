//! The subscriber: a durable JetStream consumer feeding a projection in another process.

use std::time::{Duration, SystemTime};

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::{self, AckKind, Context};
use futures_util::StreamExt;
use time::format_description::well_known::Rfc3339;

use super::{NatsError, subject};
use crate::envelope::{EventMeta, Metadata, RecordedEvent};
use crate::projection::{Projection, ProjectionError, ProjectionRunner};
use crate::store::EventStore;
use crate::trace::warn;

/// How many messages are applied, checkpointed and acknowledged at once.
const BATCH: usize = 500;

/// How long a consumer waits for messages before it asks again.
const WAIT: Duration = Duration::from_secs(1);

/// Feeds a projection from a JetStream stream that a [`NatsPublisher`](super::NatsPublisher)
/// fills, in a process that does not read the source's store: the projection's state and
/// checkpoint live in this process's own store.
///
/// Each batch of messages is applied, then the state and position are stored together
/// ([`ProjectionRunner::apply_received`]), and only then is the batch acknowledged. A
/// process that dies between the two gets the batch again, and skips what its checkpoint
/// already holds: each event affects the stored state once. Decoding goes through the
/// projection's own event types, upcasts included, as for local reads.
///
/// ```no_run
/// # use factum::prelude::*;
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)] pub struct Deposited { pub amount: u64 }
/// # #[derive(Projection, Default, Serialize, Deserialize)] #[projection(name = "totals")] pub struct Totals { total: u64 }
/// # #[handlers] impl Totals { #[on] fn deposited(&mut self, event: &Deposited) { self.total += event.amount; } }
/// use factum::nats::NatsSubscriber;
/// use factum::{ProjectionRunner, SqliteStore};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let local = SqliteStore::open("read-model.db").await?; // state and checkpoint only
/// let totals = ProjectionRunner::<Totals, _>::start(local).await?;
/// let client = factum::nats::async_nats::connect("nats://127.0.0.1:4222").await?;
/// let subscriber = NatsSubscriber::new(totals, factum::nats::async_nats::jetstream::new(client), "shop");
/// subscriber.run().await?;
/// # Ok(()) }
/// ```
pub struct NatsSubscriber<P: Projection, S: EventStore> {
    runner: ProjectionRunner<P, S>,
    jetstream: Context,
    source: String,
    stream: String,
    consumer: String,
    /// The durable consumer, once opened (and checked against the checkpoint); dropped
    /// after a failure or a restart, and opened again by the next batch.
    opened: tokio::sync::Mutex<Option<PullConsumer>>,
}

impl<P: Projection, S: EventStore> NatsSubscriber<P, S> {
    /// A subscriber that feeds `runner` from the events `source` publishes (the stream
    /// `FACTUM_<SOURCE>`), through the durable consumer named after the projection.
    pub fn new(runner: ProjectionRunner<P, S>, jetstream: Context, source: &str) -> NatsSubscriber<P, S> {
        NatsSubscriber {
            runner,
            jetstream,
            source: source.to_owned(),
            stream: subject::default_stream_name(source),
            consumer: P::NAME.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect(),
            opened: tokio::sync::Mutex::new(None),
        }
    }

    /// Names the durable consumer (default: the projection's name), so that two processes
    /// keeping the same projection each get every event.
    pub fn consumer_name(mut self, name: &str) -> Self {
        self.consumer = name.to_owned();
        self
    }

    /// The runner, for queries and health.
    pub fn runner(&self) -> &ProjectionRunner<P, S> {
        &self.runner
    }

    /// The durable consumer, created on first use: every message of the source, acknowledged
    /// up to the last of a batch (`AckPolicy::All`).
    async fn pull_consumer(&self) -> Result<PullConsumer, NatsError> {
        let what = || format!("opening the consumer {} of stream {}", self.consumer, self.stream);
        let stream = self.jetstream.get_stream(&self.stream).await.map_err(|e| NatsError::nats(what(), e))?;
        let config = pull::Config {
            durable_name: Some(self.consumer.clone()),
            deliver_policy: DeliverPolicy::All,
            ack_policy: AckPolicy::All,
            ack_wait: Duration::from_secs(30),
            max_ack_pending: (BATCH * 4) as i64,
            filter_subject: subject::source_subjects(&self.source),
            ..Default::default()
        };
        let mut consumer: PullConsumer = stream
            .get_or_create_consumer(&self.consumer, config.clone())
            .await
            .map_err(|e| NatsError::nats(what(), e))?;
        // A consumer acknowledged past the projection's checkpoint (the checkpoint was reset
        // or restored from an older copy) would never deliver what lies between.
        let acknowledged = consumer.info().await.map_err(|e| NatsError::nats(what(), e))?.ack_floor.stream_sequence;
        if acknowledged > 0
            && let Ok(Some(at)) = super::position_at(&stream, acknowledged).await
            && at > self.runner.position().await
        {
            warn!(consumer = %self.consumer, acknowledged_up_to = at, "the consumer is ahead of the projection's checkpoint; reading the stream again from its start");
            self.restart_consumer().await?;
            consumer = stream.create_consumer(config).await.map_err(|e| NatsError::nats(what(), e))?;
        }
        Ok(consumer)
    }

    /// Applies the messages there are now (up to 500, waiting up to a second for them to
    /// arrive), and returns the projection's position.
    pub async fn consume_available(&self) -> Result<u64, NatsError> {
        let mut opened = self.opened.lock().await;
        if opened.is_none() {
            *opened = Some(self.pull_consumer().await?);
        }
        let consumer = opened.as_ref().expect("opened above");
        let outcome = self.consume_batch(consumer).await;
        if !matches!(outcome, Ok(Batch::Applied(_))) {
            // Opened again, and checked again, before the next batch.
            *opened = None;
        }
        outcome.map(|(Batch::Applied(position) | Batch::Restarted(position))| position)
    }

    async fn consume_batch(&self, consumer: &PullConsumer) -> Result<Batch, NatsError> {
        let fetching = || format!("fetching from the consumer {} of stream {}", self.consumer, self.stream);
        let mut batch = consumer
            .batch()
            .max_messages(BATCH)
            .expires(WAIT)
            .messages()
            .await
            .map_err(|e| NatsError::nats(fetching(), e))?;
        let mut messages = Vec::with_capacity(BATCH);
        while let Some(message) = batch.next().await {
            messages.push(message.map_err(|source| NatsError::Nats { what: fetching(), source })?);
        }
        let Some(last) = messages.last() else { return Ok(Batch::Applied(self.runner.position().await)) };
        let decoded = match messages.iter().map(|message| decode(message, &self.source)).collect::<Result<Vec<_>, _>>()
        {
            Ok(decoded) => decoded,
            Err(undecodable) => {
                self.nak(&messages).await;
                return Err(undecodable);
            }
        };
        // Messages delivered before and never applied (a subscriber that died holding
        // them, a projection reset here) would be acknowledged with this batch: a message
        // whose predecessor is past the projection's position says so. The consumer starts
        // again from the stream's first message; what the checkpoint holds is skipped.
        let mut position = self.runner.position().await;
        for (event, previous) in &decoded {
            if event.meta.position <= position {
                continue;
            }
            if previous.is_some_and(|previous| previous > position) {
                warn!(
                    consumer = %self.consumer,
                    position,
                    missing_before = event.meta.position,
                    "messages after the projection's position were delivered earlier and not applied; reading the stream again from its start"
                );
                self.nak(&messages).await;
                self.restart_consumer().await?;
                return Ok(Batch::Restarted(self.runner.position().await));
            }
            position = event.meta.position;
        }
        let events: Vec<RecordedEvent> = decoded.into_iter().map(|(event, _)| event).collect();
        let applied = self.runner.apply_received(&events).await.map_err(|source| NatsError::Projection {
            subject: failing_subject(&source, &events, &self.source),
            source: Box::new(source),
        });
        let position = match applied {
            Ok(position) => position,
            Err(error) => {
                self.nak(&messages).await;
                return Err(error);
            }
        };
        // Only now that the state is stored: everything up to here is safe.
        last.ack().await.map_err(|source| NatsError::Nats {
            what: format!("acknowledging up to position {position} on the consumer {}", self.consumer),
            source,
        })?;
        Ok(Batch::Applied(position))
    }

    /// Asks for `messages` again, at once, rather than after the ack wait.
    async fn nak(&self, messages: &[jetstream::Message]) {
        for message in messages {
            let _ = message.ack_with(AckKind::Nak(None)).await;
        }
    }

    /// Deletes the durable consumer, so that a new one delivers the stream from its first
    /// message (the checkpoint skips what it holds).
    async fn restart_consumer(&self) -> Result<(), NatsError> {
        let what = || format!("restarting the consumer {} of stream {}", self.consumer, self.stream);
        let stream = self.jetstream.get_stream(&self.stream).await.map_err(|e| NatsError::nats(what(), e))?;
        stream.delete_consumer(&self.consumer).await.map_err(|e| NatsError::nats(what(), e))?;
        Ok(())
    }

    /// Feeds the projection for ever; while NATS is unavailable it logs, waits and tries
    /// again. Returns on an error waiting cannot fix: a message that does not decode, or a
    /// handler that fails (the error names the subject, position and event). Spawn it as a task.
    pub async fn run(&self) -> Result<std::convert::Infallible, NatsError> {
        super::retrying(&self.consumer, || async { self.consume_available().await.map(|_| ()) }).await
    }
}

/// What became of a batch.
enum Batch {
    /// Applied (or empty), up to this position.
    Applied(u64),
    /// Not applied: the consumer must read the stream again from its start.
    Restarted(u64),
}

/// The subject of the event a failed apply is about: the one the error names, or else the
/// last of the batch.
fn failing_subject(error: &ProjectionError, events: &[RecordedEvent], source: &str) -> String {
    let failing = match error {
        ProjectionError::Event { position, .. } => events.iter().find(|event| event.meta.position == *position),
        _ => None,
    };
    failing.or(events.last()).map_or_else(String::new, |event| {
        subject::event_subject(source, &event.meta.aggregate_type, &event.meta.stream_id, &event.meta.event_name)
    })
}

/// The event a message carries, from its subject (which holds the stream and name exactly,
/// where header values lose their edge spaces), headers and payload; and the position of
/// the message published before it, when the publisher said.
fn decode(message: &jetstream::Message, source: &str) -> Result<(RecordedEvent, Option<u64>), NatsError> {
    let subject = message.subject.to_string();
    let sequence = message.info().map(|info| info.stream_sequence).unwrap_or_default();
    let bad = |reason: String| NatsError::Message { subject: subject.clone(), sequence, reason };
    let headers =
        message.headers.as_ref().ok_or_else(|| bad("it has no headers: it was not published by factum".into()))?;
    let header = |name: &str| {
        headers.get(name).map(|value| value.as_str().to_owned()).ok_or_else(|| bad(format!("it has no {name} header")))
    };
    let number =
        |name: &str| header(name)?.parse::<u64>().map_err(|e| bad(format!("its {name} header is not a number: {e}")));
    let position = number(subject::POSITION)?;
    let bad_at = |reason: String| bad(format!("(position {position}) {reason}"));
    let (aggregate_type, stream_id, event_name) = subject::parse_event_subject(source, &subject).ok_or_else(|| {
        bad_at(format!("its subject is not factum.{source}.<aggregate type>.<stream id>.<event name>"))
    })?;
    let previous = match headers.get(subject::PREVIOUS_POSITION) {
        None => None,
        Some(value) => Some(
            value
                .as_str()
                .parse::<u64>()
                .map_err(|e| bad_at(format!("its {} header is not a number: {e}", subject::PREVIOUS_POSITION)))?,
        ),
    };
    let recorded_at: SystemTime = time::OffsetDateTime::parse(&header(subject::RECORDED_AT)?, &Rfc3339)
        .map_err(|e| bad_at(format!("its {} header is not an RFC 3339 time: {e}", subject::RECORDED_AT)))?
        .into();
    let metadata = match headers.get(subject::METADATA) {
        None => Metadata::default(),
        Some(json) => serde_json::from_str(json.as_str())
            .map_err(|e| bad_at(format!("its {} header is not factum's metadata: {e}", subject::METADATA)))?,
    };
    let event_version = u32::try_from(number(subject::EVENT_VERSION)?)
        .map_err(|_| bad_at(format!("its {} header is out of range", subject::EVENT_VERSION)))?;
    let payload = String::from_utf8(message.payload.to_vec())
        .map_err(|e| bad_at(format!("its payload is not UTF-8 text: {e}")))?;
    let event = RecordedEvent {
        meta: EventMeta {
            aggregate_type,
            stream_id,
            stream_version: number(subject::STREAM_VERSION)?,
            position,
            event_name,
            event_version,
            recorded_at,
            metadata,
        },
        payload,
    };
    Ok((event, previous))
}
