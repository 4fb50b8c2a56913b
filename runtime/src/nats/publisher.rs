//! The publisher: the store's global log, followed from a checkpoint, to a JetStream stream.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::jetstream::context::{PublishAckFuture, PublishErrorKind};
use async_nats::jetstream::stream::{Config, RetentionPolicy, StorageType};
use async_nats::jetstream::{self, Context};
use time::format_description::well_known::Rfc3339;
use tokio::sync::Mutex;

use super::subject;
use crate::envelope::RecordedEvent;
use crate::error::StoreError;
use crate::store::{Checkpoint, EventFilter, EventStore};
use crate::trace::debug;

/// How long JetStream remembers a `Nats-Msg-Id` to drop a second copy, unless
/// [`duplicate_window`](NatsPublisher::duplicate_window) says otherwise: longer than a
/// publisher takes to restart.
pub const DEFAULT_DUPLICATE_WINDOW: Duration = Duration::from_secs(10 * 60);

/// How many events are read from the store and published (pipelined) at once.
const BATCH: usize = 500;

/// Why publishing failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NatsError {
    /// The source name cannot name subjects and a stream.
    #[error("the publisher's source name {name:?} is not valid: {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The JetStream stream exists with a configuration the publisher cannot rely on.
    #[error("the JetStream stream {stream:?} is configured otherwise than the publisher needs: {}", differences.join("; "))]
    StreamConfig {
        /// The stream's name.
        stream: String,
        /// Each disagreement, with the value found and the value needed.
        differences: Vec<String>,
    },
    /// NATS failed: not connected, a time-out, or an error from JetStream.
    #[error("NATS: {what} failed: {source}")]
    Nats {
        /// What was being done.
        what: String,
        /// The client's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The store failed.
    #[error("the store failed while publishing to or consuming from NATS: {0}")]
    Store(#[from] StoreError),
    /// A message on the stream is not an event as factum publishes them.
    #[error("the message {subject} (stream sequence {sequence}) cannot be read as an event: {reason}")]
    Message {
        /// Its subject.
        subject: String,
        /// Its sequence in the JetStream stream.
        sequence: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// The projection fed by a subscriber stopped: an event did not decode or a handler failed.
    #[error("the projection fed from {subject} stopped: {source}")]
    Projection {
        /// The subject of the last message of the batch (the error names the event itself).
        subject: String,
        /// What the projection said, naming the event, stream, version and position.
        #[source]
        source: Box<crate::projection::ProjectionError>,
    },
}

impl NatsError {
    pub(super) fn nats(what: impl Into<String>, source: impl std::error::Error + Send + Sync + 'static) -> NatsError {
        NatsError::Nats { what: what.into(), source: Box::new(source) }
    }

    /// Whether trying again later may succeed (NATS or the store was unavailable), as
    /// opposed to a configuration that must be fixed first.
    pub fn is_transient(&self) -> bool {
        match self {
            NatsError::Nats { .. } | NatsError::Store(_) => true,
            NatsError::Projection { source, .. } => {
                matches!(**source, crate::projection::ProjectionError::Store { .. })
            }
            _ => false,
        }
    }
}

/// Publishes a store's global log to a JetStream stream: see the [module](super) for the
/// subjects, headers and guarantees.
pub struct NatsPublisher<S> {
    store: S,
    jetstream: Context,
    source: String,
    stream: String,
    duplicate_window: Duration,
    aggregate_type: Option<String>,
    names: Option<Vec<String>>,
    /// Where publishing stands; one publish at a time.
    progress: Mutex<Progress>,
}

/// What has been published.
#[derive(Debug, Default)]
struct Progress {
    /// Read from the checkpoint and the JetStream stream's last message.
    synced: bool,
    /// The position up to which the log has been published (or skipped by the filter).
    position: u64,
    /// The checkpoint as stored.
    saved: u64,
    /// The position of the event in the stream's last message (0 when there is none): the
    /// next publish expects that message (`<source>:<position>`) to be the stream's last.
    last_published: u64,
}

impl<S: EventStore> NatsPublisher<S> {
    /// A publisher of `store`'s events, named `source` in subjects (`factum.<source>.…`)
    /// and message ids, to the JetStream stream `FACTUM_<SOURCE>`. `source` is a token of
    /// letters, digits, `-` and `_`; two stores publishing to one NATS need two names.
    pub fn new(store: S, jetstream: Context, source: &str) -> Result<NatsPublisher<S>, NatsError> {
        let invalid = |reason| NatsError::InvalidName { name: source.to_owned(), reason };
        if source.is_empty() {
            return Err(invalid("it is empty"));
        }
        if source.len() > 64 {
            return Err(invalid("it is longer than 64 bytes"));
        }
        if !source.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(invalid("it may hold only ASCII letters, digits, '-' and '_'"));
        }
        Ok(NatsPublisher {
            store,
            jetstream,
            source: source.to_owned(),
            stream: subject::default_stream_name(source),
            duplicate_window: DEFAULT_DUPLICATE_WINDOW,
            aggregate_type: None,
            names: None,
            progress: Mutex::new(Progress::default()),
        })
    }

    /// Publishes only the events of this aggregate type (the others still move the
    /// position on).
    pub fn only_aggregate(mut self, aggregate_type: &str) -> Self {
        self.aggregate_type = Some(aggregate_type.to_owned());
        self
    }

    /// Publishes only the events with these stored names.
    pub fn only_events(mut self, names: &[&str]) -> Self {
        self.names = Some(names.iter().map(|name| (*name).to_owned()).collect());
        self
    }

    /// The duplicate window of a stream the publisher creates (default
    /// [`DEFAULT_DUPLICATE_WINDOW`]).
    pub fn duplicate_window(mut self, window: Duration) -> Self {
        self.duplicate_window = window;
        self
    }

    /// The JetStream stream it publishes to.
    pub fn stream_name(&self) -> &str {
        &self.stream
    }

    /// The name of its checkpoint in the store, which is also the name of its lease.
    pub fn checkpoint_name(&self) -> String {
        format!("nats-publisher:{}", self.source)
    }

    /// Creates the JetStream stream if it is missing (file storage, limits retention,
    /// subjects `factum.<source>.>`, the duplicate window), or checks the one there: other
    /// subjects, another retention or a shorter duplicate window is a
    /// [`NatsError::StreamConfig`] naming each difference.
    pub async fn ensure_stream(&self) -> Result<(), NatsError> {
        let subjects = subject::source_subjects(&self.source);
        match self.jetstream.get_stream(&self.stream).await {
            Ok(mut stream) => {
                let info =
                    stream.info().await.map_err(|e| NatsError::nats(format!("reading stream {}", self.stream), e))?;
                let config = &info.config;
                let mut differences = Vec::new();
                // One source per stream: the expected last message id is the stream's.
                if config.subjects != [subjects.clone()] {
                    differences.push(format!(
                        "its subjects are {:?}, and must be [{subjects:?}] (one source per stream)",
                        config.subjects
                    ));
                }
                if config.retention != RetentionPolicy::Limits {
                    differences.push(format!(
                        "its retention is {:?}, and must be Limits (consumers read it without removing messages)",
                        config.retention
                    ));
                }
                if config.duplicate_window < self.duplicate_window {
                    differences.push(format!(
                        "its duplicate window is {:?}, shorter than the publisher's {:?}",
                        config.duplicate_window, self.duplicate_window
                    ));
                }
                if differences.is_empty() {
                    Ok(())
                } else {
                    Err(NatsError::StreamConfig { stream: self.stream.clone(), differences })
                }
            }
            Err(error) if is_not_found(&error.kind()) => {
                let config = Config {
                    name: self.stream.clone(),
                    subjects: vec![subjects],
                    retention: RetentionPolicy::Limits,
                    storage: StorageType::File,
                    duplicate_window: self.duplicate_window,
                    ..Default::default()
                };
                self.jetstream
                    .create_stream(config)
                    .await
                    .map_err(|e| NatsError::nats(format!("creating stream {}", self.stream), e))?;
                debug!(stream = %self.stream, "created the JetStream stream to publish to");
                Ok(())
            }
            Err(error) => Err(NatsError::nats(format!("reading stream {}", self.stream), error)),
        }
    }

    /// Publishes every event appended since the last publish, and returns the position
    /// reached. [`run`](Self::run) calls it in a loop; call it directly (after
    /// [`ensure_stream`](Self::ensure_stream)) to publish on your own schedule, from one
    /// process per source.
    pub async fn publish_pending(&self) -> Result<u64, NatsError> {
        let mut progress = self.progress.lock().await;
        if !progress.synced {
            self.sync(&mut progress).await?;
        }
        let outcome = self.publish_locked(&mut progress).await;
        if outcome.is_err() {
            // Where the stream ends is read again before the next try.
            progress.synced = false;
        }
        let saved = self.save(&mut progress).await;
        let position = outcome?;
        saved?;
        Ok(position)
    }

    async fn publish_locked(&self, progress: &mut Progress) -> Result<u64, NatsError> {
        let names: Option<Vec<&str>> = self.names.as_ref().map(|names| names.iter().map(String::as_str).collect());
        loop {
            let head = self.store.head_position().await?;
            let filter = EventFilter {
                names: names.as_deref(),
                aggregate_type: self.aggregate_type.as_deref(),
                archived: false,
            };
            let events = self.store.read_all(progress.position, filter, BATCH).await?;
            let full = events.len() == BATCH;
            self.publish_batch(progress, &events).await?;
            if !full {
                // Every event up to the head read before the batch is published or filtered out.
                progress.position = progress.position.max(head);
                return Ok(progress.position);
            }
            self.save(progress).await?;
        }
    }

    /// Publishes `events` pipelined (all sent, then every acknowledgement awaited in order),
    /// moving `progress` on with each acknowledgement.
    async fn publish_batch(&self, progress: &mut Progress, events: &[RecordedEvent]) -> Result<(), NatsError> {
        let mut pending: Vec<(u64, PublishAckFuture)> = Vec::with_capacity(events.len());
        let mut previous = progress.last_published;
        for event in events {
            let message = self.message(event, previous)?;
            let subject = subject::event_subject(
                &self.source,
                &event.meta.aggregate_type,
                &event.meta.stream_id,
                &event.meta.event_name,
            );
            let sent = self.jetstream.send_publish(subject, message).await;
            match sent {
                Ok(ack) => pending.push((event.meta.position, ack)),
                Err(error) => {
                    // Those sent before it are still acknowledged, and move the position on.
                    self.await_acks(progress, pending).await?;
                    return Err(NatsError::nats(
                        format!("publishing the event at position {}", event.meta.position),
                        error,
                    ));
                }
            }
            previous = event.meta.position;
        }
        self.await_acks(progress, pending).await
    }

    async fn await_acks(
        &self,
        progress: &mut Progress,
        pending: Vec<(u64, PublishAckFuture)>,
    ) -> Result<(), NatsError> {
        for (position, ack) in pending {
            match ack.await {
                Ok(_stored) => {
                    progress.position = position;
                    progress.last_published = position;
                }
                Err(error) => {
                    let what = match error.kind() {
                        PublishErrorKind::WrongLastMessageId => format!(
                            "publishing the event at position {position} (the stream's last message is not the \
                             one published before it: another publisher, or a message lost on the way)"
                        ),
                        _ => format!("publishing the event at position {position}"),
                    };
                    return Err(NatsError::nats(what, error));
                }
            }
        }
        Ok(())
    }

    /// The message of `event`: payload, headers, its id, and the message it must follow in
    /// the stream (the one of the event at `previous`, none when 0).
    fn message(&self, event: &RecordedEvent, previous: u64) -> Result<jetstream::message::PublishMessage, NatsError> {
        let meta = &event.meta;
        let recorded_at = time::OffsetDateTime::from(meta.recorded_at).format(&Rfc3339).map_err(|e| {
            NatsError::nats(format!("formatting the time of the event at position {}", meta.position), e)
        })?;
        let mut message = jetstream::message::PublishMessage::build()
            .payload(event.payload.clone().into())
            .message_id(subject::message_id(&self.source, meta.position))
            .header(subject::EVENT, meta.event_name.as_str())
            .header(subject::EVENT_VERSION, meta.event_version.to_string().as_str())
            .header(subject::AGGREGATE_TYPE, meta.aggregate_type.as_str())
            .header(subject::STREAM_ID, meta.stream_id.as_str())
            .header(subject::STREAM_VERSION, meta.stream_version.to_string().as_str())
            .header(subject::POSITION, meta.position.to_string().as_str())
            .header(subject::PREVIOUS_POSITION, previous.to_string().as_str())
            .header(subject::RECORDED_AT, recorded_at.as_str());
        if meta.metadata != crate::envelope::Metadata::default() {
            let metadata = serde_json::to_string(&meta.metadata).map_err(|e| {
                NatsError::nats(format!("encoding the metadata of the event at position {}", meta.position), e)
            })?;
            message = message.header(subject::METADATA, metadata.as_str());
        }
        if previous > 0 {
            message = message.expected_last_message_id(subject::message_id(&self.source, previous));
        }
        Ok(message)
    }

    /// Reads where publishing stands: the checkpoint, and the JetStream stream's last message
    /// (which is later when the publisher stopped between an acknowledgement and its save).
    async fn sync(&self, progress: &mut Progress) -> Result<(), NatsError> {
        let checkpoint = self.store.load_checkpoint(&self.checkpoint_name()).await?;
        let saved = checkpoint.map_or(0, |checkpoint| checkpoint.position);
        let reading = || format!("reading the last message of stream {}", self.stream);
        let mut stream = self.jetstream.get_stream(&self.stream).await.map_err(|e| NatsError::nats(reading(), e))?;
        let state = stream.info().await.map_err(|e| NatsError::nats(reading(), e))?.state.clone();
        // A purged stream keeps its last sequence but holds no message to read.
        let published = match state.messages {
            0 => 0,
            _ => super::position_at(&stream, state.last_sequence)
                .await
                .map_err(|e| NatsError::nats(reading(), e))?
                .unwrap_or(0),
        };
        let head = self.store.head_position().await?;
        if published > head {
            return Err(NatsError::StreamConfig {
                stream: self.stream.clone(),
                differences: vec![format!(
                    "its last message carries the event at position {published}, past the store's head at {head}: \
                     it holds events this store does not (another store published as {:?}, or the store was \
                     restored from an older copy); publish under another source name, or delete the stream",
                    self.source
                )],
            });
        }
        *progress = Progress { synced: true, position: saved.max(published), saved, last_published: published };
        if published > saved {
            debug!(stream = %self.stream, saved, published, "the JetStream stream is ahead of the checkpoint: resuming after its last message");
        }
        Ok(())
    }

    /// Saves the checkpoint if the position moved.
    async fn save(&self, progress: &mut Progress) -> Result<(), NatsError> {
        if progress.position == progress.saved {
            return Ok(());
        }
        let checkpoint = Checkpoint { position: progress.position, state: "{}".to_owned() };
        self.store.save_checkpoint(&self.checkpoint_name(), checkpoint).await?;
        progress.saved = progress.position;
        Ok(())
    }

    /// Publishes as events are appended, for ever: takes the lease `nats-publisher:<source>`,
    /// [ensures the stream](Self::ensure_stream), then publishes and waits for new events in
    /// turn. While NATS or the store is unavailable it logs a warning, waits (up to 5 s
    /// between tries) and resumes where the JetStream stream ends. Returns only on an error
    /// that waiting cannot fix (a stream configured otherwise). Spawn it as a task.
    pub async fn run(&self) -> Result<std::convert::Infallible, NatsError> {
        let _lease = self.store.acquire_lease(&self.checkpoint_name()).await?;
        // Checked again after a failure: the stream may have gone with the server, or been deleted.
        let stream_checked = &AtomicBool::new(false);
        super::retrying(&self.stream, move || async move {
            if !stream_checked.load(Ordering::Relaxed) {
                self.ensure_stream().await?;
                stream_checked.store(true, Ordering::Relaxed);
            }
            let published =
                async { self.store.wait_for_events(self.publish_pending().await?).await.map_err(Into::into) };
            let outcome = published.await;
            if outcome.is_err() {
                stream_checked.store(false, Ordering::Relaxed);
            }
            outcome
        })
        .await
    }
}

/// Whether JetStream answered that the stream does not exist.
fn is_not_found(kind: &jetstream::context::GetStreamErrorKind) -> bool {
    matches!(kind, jetstream::context::GetStreamErrorKind::JetStream(error)
        if error.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND)
}
