//! The NATS JetStream publisher against a real `nats-server`: every event once and in order,
//! from several writers, across a publisher killed mid-way and a server stopped and started
//! again; filters; a stream configured otherwise.
//!
//! Needs the feature `nats` and `FACTUM_NATS_URL` (`bash scripts/nats.sh start DIR` prints
//! one; the README's test command does both). Without the URL every test says it skipped,
//! and under `CI=true` fails.
#![cfg(feature = "nats")]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use std::collections::{BTreeMap, BTreeSet};

use factum::nats::async_nats::jetstream::{self, Context};
use factum::nats::{NatsError, NatsPublisher, NatsSubscriber};
use factum::prelude::*;
use factum::{Checkpoint, EventStore, MemoryStore, Metadata, NewEvent, ProjectionRunner, SqliteStore, StreamRef};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Deposited {
    pub amount: u64,
}

/// What a read model in another process keeps: per stream, the count and sum of deposits.
#[derive(Projection, Default, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[projection(name = "nats-ledger")]
pub struct Ledger {
    pub by_stream: BTreeMap<String, (u64, u64)>,
    pub correlations: BTreeSet<String>,
    pub applied: u64,
    pub last_position: u64,
}

#[handlers]
impl Ledger {
    #[on]
    fn deposited(&mut self, event: &Deposited, meta: &EventMeta) -> Result<(), String> {
        assert!(meta.position > self.last_position, "position {} applied after {}", meta.position, self.last_position);
        if event.amount == 0 {
            return Err("a deposit of 0 is poison".into());
        }
        let line = self
            .by_stream
            .entry(format!("{}/{}@{}", meta.aggregate_type, meta.stream_id, meta.event_version))
            .or_default();
        *line = (line.0 + 1, line.1 + event.amount);
        self.correlations.extend(meta.metadata.correlation_id.clone());
        self.applied += 1;
        self.last_position = meta.position;
        Ok(())
    }
}

/// Version 1 of a renaming: one name.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "Renamed")]
pub struct RenamedV1 {
    pub name: String,
}

/// Version 2: first and last names, upcast from version 1.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "Renamed", version = 2, upcast_from = RenamedV1)]
pub struct Renamed {
    pub first: String,
    pub last: String,
}

impl From<RenamedV1> for Renamed {
    fn from(v1: RenamedV1) -> Self {
        let (first, last) = v1.name.split_once(' ').unwrap_or((&v1.name, ""));
        Renamed { first: first.to_owned(), last: last.to_owned() }
    }
}

/// The names, as the newest version of the event has them.
#[derive(Projection, Default, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[projection(name = "nats-names")]
pub struct Names {
    pub names: Vec<(String, String)>,
}

#[handlers]
impl Names {
    #[on]
    fn renamed(&mut self, event: &Renamed) {
        self.names.push((event.first.clone(), event.last.clone()));
    }
}

/// The ledger rebuilt from the source store itself.
async fn rebuilt<S: EventStore>(store: S) -> Ledger {
    let runner = ProjectionRunner::<Ledger, _>::start(store).await.unwrap();
    runner.catch_up().await.unwrap();
    runner.state().await
}

/// Consumes until the subscriber's projection reaches `position`.
async fn consumed_up_to<S: EventStore>(subscriber: &NatsSubscriber<Ledger, S>, position: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while subscriber.consume_available().await.unwrap() < position {
        assert!(Instant::now() < deadline, "the subscriber did not reach {position} in 60 s");
    }
}

fn unique(what: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos() % 1_000_000_000;
    format!("{what}-{}-{}-{nanos}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

fn url() -> Option<String> {
    match std::env::var("FACTUM_NATS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").as_deref() == Ok("true") => panic!("CI needs FACTUM_NATS_URL for the NATS tests"),
        _ => {
            eprintln!("SKIPPED: the NATS tests need FACTUM_NATS_URL (bash scripts/nats.sh start DIR prints one)");
            None
        }
    }
}

async fn jetstream(url: &str) -> Context {
    let client = factum::nats::async_nats::connect(url).await.expect("connect to FACTUM_NATS_URL");
    jetstream::new(client)
}

fn deposit(n: u64) -> NewEvent {
    NewEvent { name: "Deposited", version: 1, payload: format!(r#"{{"amount":{n}}}"#) }
}

/// Appends `count` events to stream `id` of `aggregate`, one command at a time.
async fn append(store: &impl EventStore, aggregate: &str, id: &str, count: u64) {
    let stream = StreamRef::new(aggregate, id);
    let metadata = Metadata::new().with_correlation_id(format!("{aggregate}/{id}"));
    let from = store.stream_version(stream).await.unwrap();
    for version in from..from + count {
        store.append(stream, version, &metadata, vec![deposit(version + 1)]).await.unwrap();
    }
}

/// A publisher of `store` as `source`, with its stream, after publishing what is there.
async fn published(store: &MemoryStore, js: &Context, source: &str) -> NatsPublisher<MemoryStore> {
    let publisher = NatsPublisher::new(store.clone(), js.clone(), source).unwrap();
    publisher.ensure_stream().await.unwrap();
    publisher.publish_pending().await.unwrap();
    publisher
}

/// Waits until the publisher's checkpoint reaches `position`.
async fn published_up_to(store: &impl EventStore, publisher: &NatsPublisher<impl EventStore>, position: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let saved = store.load_checkpoint(&publisher.checkpoint_name()).await.unwrap().map_or(0, |c| c.position);
        if saved >= position {
            return;
        }
        assert!(Instant::now() < deadline, "the publisher reached {saved} of {position} in 60 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One message of the JetStream stream, as the tests look at it.
#[derive(Debug, PartialEq)]
struct Published {
    subject: String,
    id: String,
    position: u64,
    stream: String,
    version: u64,
    payload: String,
}

/// Every message of the stream, in its order.
async fn stream_messages(jetstream: &Context, name: &str) -> Vec<Published> {
    let mut stream = jetstream.get_stream(name).await.unwrap();
    let last = stream.info().await.unwrap().state.last_sequence;
    let mut messages = Vec::new();
    for sequence in 1..=last {
        let message = stream.get_raw_message(sequence).await.unwrap();
        let header = |name: &str| message.headers.get(name).map(|v| v.as_str().to_owned()).unwrap_or_default();
        messages.push(Published {
            subject: message.subject.to_string(),
            id: header("Nats-Msg-Id"),
            position: header("Factum-Position").parse().unwrap(),
            stream: format!("{}/{}", header("Factum-Aggregate-Type"), header("Factum-Stream-Id")),
            version: header("Factum-Stream-Version").parse().unwrap(),
            payload: String::from_utf8(message.payload.to_vec()).unwrap(),
        });
    }
    messages
}

/// What the stream must hold: the store's log, in order, each event once.
async fn expected(store: &impl EventStore, source: &str, aggregate_type: Option<&str>) -> Vec<Published> {
    let filter = factum::EventFilter { names: None, aggregate_type, archived: false };
    let events = store.read_all(0, filter, usize::MAX).await.unwrap();
    events
        .into_iter()
        .map(|event| Published {
            subject: factum::nats::event_subject(
                source,
                &event.meta.aggregate_type,
                &event.meta.stream_id,
                &event.meta.event_name,
            ),
            id: factum::nats::message_id(source, event.meta.position),
            position: event.meta.position,
            stream: format!("{}/{}", event.meta.aggregate_type, event.meta.stream_id),
            version: event.meta.stream_version,
            payload: event.payload,
        })
        .collect()
}

fn sqlite_path(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique(what));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("store.db")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_thousand_events_from_four_writers_arrive_once_in_order() {
    let Some(url) = url() else { return };
    let path = sqlite_path("nats-four-writers");
    let store = SqliteStore::open(&path).await.unwrap();
    let source = unique("four");
    let js = jetstream(&url).await;
    let publisher = std::sync::Arc::new(NatsPublisher::new(store.clone(), js.clone(), &source).unwrap());
    let running = tokio::spawn({
        let publisher = publisher.clone();
        async move { publisher.run().await }
    });
    let writers: Vec<_> = (0..4)
        .map(|writer| {
            let store = store.clone();
            tokio::spawn(async move { append(&store, "account", &format!("acc.{writer}"), 2_500).await })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    assert_eq!(store.head_position().await.unwrap(), 10_000);
    published_up_to(&store, &publisher, 10_000).await;
    running.abort();

    let messages = stream_messages(&js, publisher.stream_name()).await;
    assert_eq!(messages.len(), 10_000, "each event once");
    assert_eq!(messages, expected(&store, &source, None).await, "in the log's order, with its envelope");
    assert!(messages[0].subject.starts_with(&format!("factum.{source}.account.acc%2E")), "{}", messages[0].subject);

    // A read model in another runtime (as another process would be), fed only through NATS,
    // keeping its state and checkpoint in a store of its own.
    let consumer_path = sqlite_path("nats-consumer");
    let consumed = std::thread::spawn({
        let (url, source, consumer_path) = (url.clone(), source.clone(), consumer_path.clone());
        move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let local = SqliteStore::open(&consumer_path).await.unwrap();
                let runner = ProjectionRunner::<Ledger, _>::start(local).await.unwrap();
                let subscriber = NatsSubscriber::new(runner, jetstream(&url).await, &source);
                consumed_up_to(&subscriber, 10_000).await;
                subscriber.runner().state().await
            })
        }
    })
    .join()
    .unwrap();
    let rebuilt = rebuilt(store.clone()).await;
    assert_eq!(rebuilt.applied, 10_000);
    assert_eq!(consumed, rebuilt, "the state fed through NATS is the state rebuilt from the store");
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
    let _ = std::fs::remove_dir_all(consumer_path.parent().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_killed_midway_resumes_without_loss_or_duplicates() {
    let Some(url) = url() else { return };
    let store = MemoryStore::new();
    append(&store, "account", "a-1", 3_000).await;
    let source = unique("killed");
    let js = jetstream(&url).await;

    // A duplicate window the test outlasts: only the publisher's own resumption, from the
    // stream's last message, keeps it from publishing twice.
    let window = Duration::from_millis(300);
    let first =
        std::sync::Arc::new(NatsPublisher::new(store.clone(), js.clone(), &source).unwrap().duplicate_window(window));
    let running = tokio::spawn({
        let first = first.clone();
        async move { first.run().await }
    });
    published_up_to(&store, &*first, 500).await;
    running.abort(); // killed mid-way, between any two steps
    let _ = running.await;
    // The worst case: it died after JetStream acknowledged but before its checkpoint moved.
    store.save_checkpoint(&first.checkpoint_name(), Checkpoint { position: 0, state: "{}".into() }).await.unwrap();
    tokio::time::sleep(window * 2).await;

    let second = NatsPublisher::new(store.clone(), js.clone(), &source).unwrap().duplicate_window(window);
    assert_eq!(second.publish_pending().await.unwrap(), 3_000);
    let messages = stream_messages(&js, second.stream_name()).await;
    assert_eq!(messages.len(), 3_000, "none lost, none twice");
    assert_eq!(messages, expected(&store, &source, None).await);
    // Nothing new: nothing published.
    assert_eq!(second.publish_pending().await.unwrap(), 3_000);
    assert_eq!(stream_messages(&js, second.stream_name()).await.len(), 3_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_publishes_only_what_it_names_and_moves_past_the_rest() {
    let Some(url) = url() else { return };
    let store = MemoryStore::new();
    append(&store, "account", "a-1", 5).await;
    append(&store, "order", "o-1", 3).await;
    append(&store, "account", "a-2", 2).await;
    let source = unique("filtered");
    let js = jetstream(&url).await;
    let publisher = NatsPublisher::new(store.clone(), js.clone(), &source).unwrap().only_aggregate("order");
    publisher.ensure_stream().await.unwrap();
    assert_eq!(publisher.publish_pending().await.unwrap(), 10, "past the events it leaves out");
    let messages = stream_messages(&js, publisher.stream_name()).await;
    assert_eq!(messages, expected(&store, &source, Some("order")).await);
    assert_eq!(messages.iter().map(|m| m.position).collect::<Vec<_>>(), [6, 7, 8]);
    assert_eq!(store.load_checkpoint(&publisher.checkpoint_name()).await.unwrap().map(|c| c.position), Some(10));
}

#[tokio::test]
async fn a_stream_configured_otherwise_is_named() {
    let Some(url) = url() else { return };
    let source = unique("other");
    let js = jetstream(&url).await;
    let name = factum::nats::default_stream_name(&source);
    let config = jetstream::stream::Config {
        name: name.clone(),
        subjects: vec![format!("elsewhere.{source}.>")],
        retention: jetstream::stream::RetentionPolicy::WorkQueue,
        duplicate_window: Duration::from_secs(5),
        ..Default::default()
    };
    js.create_stream(config).await.unwrap();
    let publisher = NatsPublisher::new(MemoryStore::new(), js.clone(), &source).unwrap();
    let error = publisher.ensure_stream().await.unwrap_err();
    assert!(matches!(error, NatsError::StreamConfig { .. }) && !error.is_transient(), "{error:?}");
    let message = error.to_string();
    assert!(message.starts_with(&format!("the JetStream stream {name:?} is configured otherwise")), "{message}");
    assert!(message.contains(&format!("must be [\"factum.{source}.>\"] (one source per stream)")), "{message}");
    assert!(message.contains("its retention is WorkQueue, and must be Limits"), "{message}");
    assert!(message.contains("its duplicate window is 5s, shorter than the publisher's 600s"), "{message}");
}

#[test]
fn a_source_name_must_be_one_token() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        // A client that never connected is enough to check names.
        let options = factum::nats::async_nats::ConnectOptions::new().retry_on_initial_connect();
        let client = options.connect("nats://127.0.0.1:1").await.unwrap();
        let js = jetstream::new(client);
        for (name, reason) in [("", "it is empty"), ("shop.eu", "may hold only"), ("a b", "may hold only")] {
            let error = NatsPublisher::new(MemoryStore::new(), js.clone(), name).err().expect(name);
            assert!(error.to_string().contains(reason), "{name:?}: {error}");
        }
    });
}

/// A `nats-server` of the test's own, which it can stop and start again on the same port
/// and files, as an operator restarting it would.
struct OwnServer {
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl OwnServer {
    fn start(dir: PathBuf, port: u16) -> OwnServer {
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new("nats-server")
            .args(["--jetstream", "--addr", "127.0.0.1", "--port", &port.to_string(), "--store_dir"])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server is on the PATH (bash scripts/nats.sh start installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start on port {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        OwnServer { dir, port, child: Some(child) }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_resumes_when_the_server_comes_back() {
    if url().is_none() {
        return;
    }
    let port = free_port();
    let dir = std::env::temp_dir().join(unique("nats-restart"));
    let mut server = OwnServer::start(dir.clone(), port);
    let url = format!("nats://127.0.0.1:{port}");
    let options = factum::nats::async_nats::ConnectOptions::new().retry_on_initial_connect();
    let js = jetstream::new(options.connect(&url).await.unwrap());
    let store = MemoryStore::new();
    let source = unique("restart");
    let publisher = std::sync::Arc::new(NatsPublisher::new(store.clone(), js.clone(), &source).unwrap());
    let running = tokio::spawn({
        let publisher = publisher.clone();
        async move { publisher.run().await }
    });
    append(&store, "account", "a-1", 1_000).await;
    published_up_to(&store, &*publisher, 1_000).await;

    server.stop();
    // The command side goes on while NATS is down.
    append(&store, "account", "a-1", 1_000).await;
    append(&store, "account", "a-2", 500).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut server = OwnServer::start(dir, server.port);
    published_up_to(&store, &*publisher, 2_500).await;
    running.abort();

    let messages = stream_messages(&js, publisher.stream_name()).await;
    assert_eq!(messages.len(), 2_500, "nothing lost, nothing twice");
    assert_eq!(messages, expected(&store, &source, None).await);
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_killed_between_apply_and_ack_applies_nothing_twice() {
    let Some(url) = url() else { return };
    let store = MemoryStore::new();
    append(&store, "account", "a-1", 700).await;
    append(&store, "account", "a-2", 500).await;
    let source = unique("redelivered");
    let js = jetstream(&url).await;
    published(&store, &js, &source).await;

    let local = MemoryStore::new();
    let first =
        NatsSubscriber::new(ProjectionRunner::<Ledger, _>::start(local.clone()).await.unwrap(), js.clone(), &source);
    let reached = first.consume_available().await.unwrap();
    assert!(reached > 0 && reached < 1_200, "one batch: {reached}");
    drop(first);
    // The state and checkpoint at `reached` are stored, and the acknowledgement is lost: a
    // consumer that acknowledged nothing gets every message again.
    let runner = ProjectionRunner::<Ledger, _>::start(local.clone()).await.unwrap();
    assert_eq!(runner.position().await, reached);
    let second = NatsSubscriber::new(runner, js.clone(), &source).consumer_name("nats-ledger-again");
    consumed_up_to(&second, 1_200).await;
    let state = second.runner().state().await;
    assert_eq!(state.applied, 1_200, "each event applied once");
    assert_eq!(state, rebuilt(store.clone()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_does_not_decode_stops_the_subscriber_naming_it() {
    let Some(url) = url() else { return };
    let store = MemoryStore::new();
    append(&store, "account", "a-1", 3).await;
    let source = unique("poison");
    let js = jetstream(&url).await;
    let publisher = published(&store, &js, &source).await;
    // A deposit of 0, which the ledger refuses, then a message factum did not publish.
    let poison = NewEvent { name: "Deposited", version: 1, payload: r#"{"amount":0}"#.into() };
    store.append(StreamRef::new("account", "a-1"), 3, &Metadata::new(), vec![poison]).await.unwrap();
    append(&store, "account", "a-2", 1).await; // after it in the batch: the error names the poison's
    publisher.publish_pending().await.unwrap();

    let local = MemoryStore::new();
    let subscriber =
        NatsSubscriber::new(ProjectionRunner::<Ledger, _>::start(local.clone()).await.unwrap(), js.clone(), &source);
    let error = subscriber.consume_available().await.unwrap_err();
    assert!(matches!(error, NatsError::Projection { .. }) && !error.is_transient(), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains(&format!("the projection fed from factum.{source}.account.a-1.Deposited stopped")),
        "{message}"
    );
    assert!(
        message.contains("position 4 (stream account/a-1, version 4, event `Deposited`): a deposit of 0 is poison"),
        "{message}"
    );
    // Nothing was acknowledged: started again, it stops at the same event, having applied
    // the three before it once.
    let again =
        NatsSubscriber::new(ProjectionRunner::<Ledger, _>::start(local.clone()).await.unwrap(), js.clone(), &source);
    assert!(again.consume_available().await.is_err());
    assert_eq!(again.runner().state().await.applied, 3);

    // A message on the stream's subjects that factum did not publish.
    let junk_source = unique("junk");
    let junk_publisher = NatsPublisher::new(MemoryStore::new(), js.clone(), &junk_source).unwrap();
    junk_publisher.ensure_stream().await.unwrap();
    let subject = format!("factum.{junk_source}.account.a-1.Deposited");
    js.publish(subject.clone(), "{}".into()).await.unwrap().await.unwrap();
    let subscriber = NatsSubscriber::new(
        ProjectionRunner::<Ledger, _>::start(MemoryStore::new()).await.unwrap(),
        js.clone(),
        &junk_source,
    );
    let error = subscriber.consume_available().await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "the message {subject} (stream sequence 1) cannot be read as an event: it has no headers: it was not published by factum"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_versions_are_upcast_on_the_way_in_as_for_local_reads() {
    let Some(url) = url() else { return };
    let store = MemoryStore::new();
    let stream = StreamRef::new("person", "p-1");
    let v1 = NewEvent { name: "Renamed", version: 1, payload: r#"{"name":"Ada Lovelace"}"#.into() };
    let v2 = NewEvent { name: "Renamed", version: 2, payload: r#"{"first":"Grace","last":"Hopper"}"#.into() };
    store.append(stream, 0, &Metadata::new(), vec![v1, v2]).await.unwrap();
    let source = unique("upcast");
    let js = jetstream(&url).await;
    published(&store, &js, &source).await;

    let runner = ProjectionRunner::<Names, _>::start(MemoryStore::new()).await.unwrap();
    let subscriber = NatsSubscriber::new(runner, js.clone(), &source);
    assert_eq!(subscriber.consume_available().await.unwrap(), 2);
    let names = subscriber.runner().state().await;
    let expected = [("Ada".to_owned(), "Lovelace".to_owned()), ("Grace".to_owned(), "Hopper".to_owned())];
    assert_eq!(names.names, expected);
    let local = ProjectionRunner::<Names, _>::start(store.clone()).await.unwrap();
    local.catch_up().await.unwrap();
    assert_eq!(names, local.state().await, "as a runner reading the store decodes them");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purged_stream_is_published_to_from_the_checkpoint() {
    let Some(url) = url() else { return };
    let store = MemoryStore::new();
    append(&store, "account", "a-1", 3).await;
    let source = unique("purged");
    let js = jetstream(&url).await;
    let publisher = published(&store, &js, &source).await;
    // An operator empties the stream: its last sequence stays, its messages are gone.
    js.get_stream(publisher.stream_name()).await.unwrap().purge().await.unwrap();
    append(&store, "account", "a-1", 2).await;
    let restarted = NatsPublisher::new(store.clone(), js.clone(), &source).unwrap();
    assert_eq!(restarted.publish_pending().await.unwrap(), 5);
    let positions: Vec<u64> = stream_messages_after_purge(&js, restarted.stream_name()).await;
    assert_eq!(positions, [4, 5], "from the checkpoint on, none again");
}

/// The positions a stream holds, first sequence to last (a purged stream starts later).
async fn stream_messages_after_purge(jetstream: &Context, name: &str) -> Vec<u64> {
    let mut stream = jetstream.get_stream(name).await.unwrap();
    let state = stream.info().await.unwrap().state.clone();
    let mut positions = Vec::new();
    for sequence in state.first_sequence..=state.last_sequence {
        let message = stream.get_raw_message(sequence).await.unwrap();
        positions.push(message.headers.get("Factum-Position").unwrap().as_str().parse().unwrap());
    }
    positions
}

/// A subscriber that died holding messages it never applied: the next one must not
/// acknowledge past them when newer messages reach it first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_delivered_to_a_subscriber_that_died_before_applying_them_are_not_lost() {
    let Some(url) = url() else { return };
    let store = MemoryStore::new();
    append(&store, "account", "a-1", 700).await;
    append(&store, "account", "a-2", 500).await;
    let source = unique("died");
    let js = jetstream(&url).await;
    published(&store, &js, &source).await;

    // The first process takes 500 messages from the durable consumer and dies at once.
    let consumer_name = "nats-ledger";
    let stream = js.get_stream(factum::nats::default_stream_name(&source)).await.unwrap();
    let config = jetstream::consumer::pull::Config {
        durable_name: Some(consumer_name.into()),
        ack_policy: jetstream::consumer::AckPolicy::All,
        max_ack_pending: 2_000,
        filter_subject: factum::nats::source_subjects(&source),
        ..Default::default()
    };
    let consumer: jetstream::consumer::PullConsumer = stream.create_consumer(config).await.unwrap();
    let mut taken = consumer.fetch().max_messages(500).messages().await.unwrap();
    let mut held = 0;
    while let Some(message) = futures_next(&mut taken).await {
        message.unwrap();
        held += 1;
    }
    assert_eq!(held, 500);
    drop(taken);

    // The next process, same consumer: the messages after those 500 come first.
    let runner = ProjectionRunner::<Ledger, _>::start(MemoryStore::new()).await.unwrap();
    let subscriber = NatsSubscriber::new(runner, js.clone(), &source);
    consumed_up_to(&subscriber, 1_200).await;
    let state = subscriber.runner().state().await;
    assert_eq!(state.applied, 1_200, "none lost, none twice");
    assert_eq!(state, rebuilt(store.clone()).await);
}

/// A projection reset where it is fed through NATS rebuilds from the whole stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_subscriber_rebuilds_from_the_whole_stream() {
    let Some(url) = url() else { return };
    let store = MemoryStore::new();
    append(&store, "account", "a-1", 300).await;
    let source = unique("reset");
    let js = jetstream(&url).await;
    published(&store, &js, &source).await;
    let local = MemoryStore::new();
    let first =
        NatsSubscriber::new(ProjectionRunner::<Ledger, _>::start(local.clone()).await.unwrap(), js.clone(), &source);
    consumed_up_to(&first, 300).await;
    drop(first);

    local.delete_checkpoint("nats-ledger").await.unwrap();
    let again =
        NatsSubscriber::new(ProjectionRunner::<Ledger, _>::start(local.clone()).await.unwrap(), js.clone(), &source);
    assert_eq!(again.runner().position().await, 0);
    consumed_up_to(&again, 300).await;
    assert_eq!(again.runner().state().await, rebuilt(store.clone()).await);
}

async fn futures_next<S: futures_util::Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    futures_util::StreamExt::next(stream).await
}
