//! The tests every `EventStore` must pass. Each takes a fresh, empty store.

use std::collections::BTreeSet;
use std::time::Duration;

use factum::prelude::*;
use factum::{Checkpoint, EventFilter, EventSet, NewEvent, Snapshot, StoreError, StreamRef};
use serde::{Deserialize, Serialize};

fn event(name: &'static str, payload: impl Into<String>) -> NewEvent {
    NewEvent { name, version: 1, payload: payload.into() }
}

fn numbered(n: u64) -> NewEvent {
    event("Numbered", format!(r#"{{"n":{n}}}"#))
}

/// Appends to `stream` whatever its version, retrying on conflicts, as an application would.
async fn append_retrying<S: EventStore>(store: &S, stream: StreamRef<'_>, events: Vec<NewEvent>) -> u64 {
    loop {
        let version = store.stream_version(stream).await.unwrap();
        match store.append(stream, version, &Metadata::new(), events.clone()).await {
            Ok(appended) => return appended.version,
            Err(StoreError::Conflict { .. }) => tokio::task::yield_now().await,
            Err(other) => panic!("append failed: {other}"),
        }
    }
}

pub async fn append_and_read<S: EventStore>(store: S) {
    let stream = StreamRef::new("account", "a-1");
    assert_eq!(store.stream_version(stream).await.unwrap(), 0);
    assert_eq!(store.head_position().await.unwrap(), 0);
    let meta = Metadata::new().with_correlation_id("c-1").with("user", "ada");
    let appended = store
        .append(stream, 0, &meta, vec![event("Opened", r#"{"owner":"Ada"}"#), event("Deposited", r#"{"amount":5}"#)])
        .await
        .unwrap();
    assert_eq!(appended.version, 2);
    assert_eq!(appended.positions.len(), 2);
    assert!(appended.positions[0] < appended.positions[1]);
    let appended =
        store.append(stream, 2, &Metadata::new(), vec![event("Deposited", r#"{"amount":7}"#)]).await.unwrap();
    assert_eq!(appended.version, 3);

    let all = store.read_stream(stream, 1, u64::MAX).await.unwrap();
    assert_eq!(all.iter().map(|e| e.meta.stream_version).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(all[0].meta.event_name, "Opened");
    assert_eq!(all[0].meta.event_version, 1);
    assert_eq!((all[0].meta.aggregate_type.as_str(), all[0].meta.stream_id.as_str()), ("account", "a-1"));
    assert_eq!(serde_json::from_str::<serde_json::Value>(&all[1].payload).unwrap(), serde_json::json!({"amount": 5}));
    assert_eq!(all[0].meta.metadata, meta);
    assert_eq!(all[1].meta.metadata, meta);
    assert!(all[2].meta.metadata.is_empty());
    assert!(all[0].meta.recorded_at <= all[2].meta.recorded_at);
    let middle = store.read_stream(stream, 2, 2).await.unwrap();
    assert_eq!(middle.len(), 1);
    assert_eq!(middle[0].meta.stream_version, 2);
    assert!(store.read_stream(stream, 4, u64::MAX).await.unwrap().is_empty());
    assert!(store.read_stream(StreamRef::new("account", "other"), 1, u64::MAX).await.unwrap().is_empty());
    assert!(store.read_stream(StreamRef::new("other-type", "a-1"), 1, u64::MAX).await.unwrap().is_empty());
    assert_eq!(store.stream_version(stream).await.unwrap(), 3);
    assert_eq!(store.head_position().await.unwrap(), all[2].meta.position);
    let global = store.read_all(0, EventFilter::ALL, 100).await.unwrap();
    assert_eq!(global, all);
}

pub async fn expected_version_conflicts_write_nothing<S: EventStore>(store: S) {
    let stream = StreamRef::new("account", "a-1");
    store.append(stream, 0, &Metadata::new(), vec![numbered(1)]).await.unwrap();
    for expected in [0, 2, 5] {
        let error = store.append(stream, expected, &Metadata::new(), vec![numbered(2), numbered(3)]).await.unwrap_err();
        match &error {
            StoreError::Conflict { stream: name, expected: e, actual } => {
                assert_eq!((name.to_string().as_str(), *e, *actual), ("account/a-1", expected, 1));
            }
            other => panic!("expected a conflict, got {other}"),
        }
        assert_eq!(
            error.to_string(),
            format!("stream account/a-1: expected version {expected}, but the stream is at version 1")
        );
    }
    assert_eq!(store.read_stream(stream, 1, u64::MAX).await.unwrap().len(), 1);
    assert_eq!(store.read_all(0, EventFilter::ALL, 100).await.unwrap().len(), 1);
}

pub async fn eight_writers_on_one_stream<S: EventStore + Clone>(store: S) {
    const WRITERS: u64 = 8;
    const EACH: u64 = 40;
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let stream = StreamRef::new("counter", "shared");
            for i in 0..EACH {
                append_retrying(&store, stream, vec![numbered(writer * 1000 + i)]).await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let events = store.read_stream(StreamRef::new("counter", "shared"), 1, u64::MAX).await.unwrap();
    let versions: Vec<u64> = events.iter().map(|e| e.meta.stream_version).collect();
    assert_eq!(versions, (1..=WRITERS * EACH).collect::<Vec<_>>(), "no lost or duplicated versions");
    let numbers: BTreeSet<String> = events.iter().map(|e| e.payload.clone()).collect();
    assert_eq!(numbers.len() as u64, WRITERS * EACH, "every append stored exactly once");
    let positions: Vec<u64> = events.iter().map(|e| e.meta.position).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "positions grow with versions");
}

pub async fn eight_writers_on_many_streams<S: EventStore + Clone>(store: S) {
    const WRITERS: u64 = 8;
    const EACH: u64 = 40;
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..EACH {
                let id = format!("s-{}", (writer + i) % 16);
                append_retrying(&store, StreamRef::new("counter", &id), vec![numbered(i), numbered(i)]).await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let all = store.read_all(0, EventFilter::ALL, usize::MAX).await.unwrap();
    assert_eq!(all.len() as u64, WRITERS * EACH * 2);
    assert!(all.windows(2).all(|w| w[0].meta.position < w[1].meta.position), "read_all is in position order");
    let mut total = 0;
    for s in 0..16 {
        let id = format!("s-{s}");
        let events = store.read_stream(StreamRef::new("counter", &id), 1, u64::MAX).await.unwrap();
        let versions: Vec<u64> = events.iter().map(|e| e.meta.stream_version).collect();
        assert_eq!(versions, (1..=events.len() as u64).collect::<Vec<_>>(), "stream {id}");
        total += events.len();
    }
    assert_eq!(total, all.len());
}

pub async fn read_all_order_filters_and_limits<S: EventStore>(store: S) {
    let a = StreamRef::new("account", "a");
    let o = StreamRef::new("order", "o");
    store.append(a, 0, &Metadata::new(), vec![event("Opened", "{}"), event("Deposited", "{}")]).await.unwrap();
    store.append(o, 0, &Metadata::new(), vec![event("Placed", "{}")]).await.unwrap();
    store.append(a, 2, &Metadata::new(), vec![event("Deposited", "{}")]).await.unwrap();
    store.append(o, 1, &Metadata::new(), vec![event("Deposited", "{}")]).await.unwrap();

    let all = store.read_all(0, EventFilter::ALL, 100).await.unwrap();
    let names: Vec<_> = all.iter().map(|e| (e.meta.aggregate_type.as_str(), e.meta.event_name.as_str())).collect();
    assert_eq!(
        names,
        [
            ("account", "Opened"),
            ("account", "Deposited"),
            ("order", "Placed"),
            ("account", "Deposited"),
            ("order", "Deposited")
        ]
    );
    let deposits = store.read_all(0, EventFilter::names(&["Deposited"]), 100).await.unwrap();
    assert_eq!(deposits.len(), 3);
    let account_deposits =
        store.read_all(0, EventFilter::names(&["Deposited"]).of_aggregate("account"), 100).await.unwrap();
    assert_eq!(account_deposits.iter().map(|e| e.meta.stream_version).collect::<Vec<_>>(), [2, 3]);
    let orders = store
        .read_all(0, EventFilter { names: None, aggregate_type: Some("order"), archived: false }, 100)
        .await
        .unwrap();
    assert_eq!(orders.len(), 2);
    let first_two = store.read_all(0, EventFilter::ALL, 2).await.unwrap();
    assert_eq!(first_two, all[..2]);
    let after = store.read_all(all[1].meta.position, EventFilter::ALL, 2).await.unwrap();
    assert_eq!(after, all[2..4]);
    let none = store.read_all(0, EventFilter::names(&[]), 100).await.unwrap();
    assert!(none.is_empty());
    assert!(store.read_all(all[4].meta.position, EventFilter::ALL, 100).await.unwrap().is_empty());
}

pub async fn snapshots_and_checkpoints<S: EventStore>(store: S) {
    let stream = StreamRef::new("account", "a-1");
    assert_eq!(store.load_snapshot(stream).await.unwrap(), None);
    let snap = |version| Snapshot { version, fingerprint: 42, state: format!(r#"{{"v":{version}}}"#) };
    store.save_snapshot(stream, snap(10)).await.unwrap();
    store.save_snapshot(stream, snap(20)).await.unwrap();
    store.save_snapshot(stream, snap(15)).await.unwrap();
    assert_eq!(
        store.load_snapshot(stream).await.unwrap(),
        Some(snap(20)),
        "an older snapshot never replaces a newer one"
    );
    assert_eq!(store.load_snapshot(StreamRef::new("account", "a-2")).await.unwrap(), None);

    assert_eq!(store.load_checkpoint("balances").await.unwrap(), None);
    let checkpoint = |position| Checkpoint { position, state: format!(r#"{{"seen":{position}}}"#) };
    store.save_checkpoint("balances", checkpoint(7)).await.unwrap();
    store.save_checkpoint("balances", checkpoint(9)).await.unwrap();
    store.save_checkpoint("other", checkpoint(1)).await.unwrap();
    assert_eq!(store.load_checkpoint("balances").await.unwrap(), Some(checkpoint(9)));
    store.delete_checkpoint("balances").await.unwrap();
    assert_eq!(store.load_checkpoint("balances").await.unwrap(), None);
    assert_eq!(store.load_checkpoint("other").await.unwrap(), Some(checkpoint(1)));
}

/// A runner's failure is kept by name, the newest replacing the older, to the microsecond.
pub async fn runner_failures_are_kept<S: EventStore>(store: S) {
    assert_eq!(store.load_failure("balances").await.unwrap(), None);
    let at = std::time::UNIX_EPOCH + Duration::from_micros(1_796_000_000_123_456);
    let failure =
        |position| factum::RunnerFailure {
            position, error: format!("stopped at {position}: ünïcode"), failed_at: at
        };
    store.record_failure("balances", failure(7)).await.unwrap();
    store.record_failure("balances", failure(9)).await.unwrap();
    store.record_failure("other", failure(1)).await.unwrap();
    assert_eq!(store.load_failure("balances").await.unwrap(), Some(failure(9)));
    assert_eq!(store.load_failure("other").await.unwrap(), Some(failure(1)));
    let error = store.record_failure("", failure(1)).await.unwrap_err();
    assert!(error.to_string().contains("runner name"), "{error}");
}

pub async fn large_and_unicode_payloads<S: EventStore>(store: S) {
    let text = "žluťoučký kůň, 日本語, emoji 🦀, quotes \" and \\ backslash, nul-free";
    let big = "x".repeat(2 * 1024 * 1024);
    let stream = StreamRef::new("dokument", "ščř-🦀-1");
    let payloads = [serde_json::json!({ "text": text }).to_string(), serde_json::json!({ "blob": big }).to_string()];
    let events = payloads.iter().map(|p| event("Written", p.clone())).collect();
    store.append(stream, 0, &Metadata::new().with("note", text), events).await.unwrap();
    let read = store.read_stream(stream, 1, u64::MAX).await.unwrap();
    for (recorded, payload) in read.iter().zip(&payloads) {
        let stored: serde_json::Value = serde_json::from_str(&recorded.payload).unwrap();
        let original: serde_json::Value = serde_json::from_str(payload).unwrap();
        assert_eq!(stored, original);
    }
    assert_eq!(read[0].meta.stream_id, "ščř-🦀-1");
    assert_eq!(read[1].meta.metadata.get("note"), Some(text));
}

pub async fn a_stream_of_100_000_events<S: EventStore + Clone>(store: S) {
    const LENGTH: u64 = 100_000;
    let stream = StreamRef::new("counter", "long");
    for batch in 0..LENGTH / 1000 {
        let events = (0..1000).map(|i| numbered(batch * 1000 + i)).collect();
        store.append(stream, batch * 1000, &Metadata::new(), events).await.unwrap();
    }
    assert_eq!(store.stream_version(stream).await.unwrap(), LENGTH);
    let events = store.read_stream(stream, 1, u64::MAX).await.unwrap();
    assert_eq!(events.len() as u64, LENGTH);
    assert!(events.iter().enumerate().all(|(i, e)| e.meta.stream_version == i as u64 + 1));
    assert_eq!(events[99_999].payload.replace(' ', ""), r#"{"n":99999}"#);
    let tail = store.read_stream(stream, LENGTH - 9, u64::MAX).await.unwrap();
    assert_eq!(tail.len(), 10);
}

// ---- Typed upcasting of events stored at an old version. ----

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "Priced")]
pub struct PricedV1 {
    pub units: u64,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "Priced", version = 2, upcast_from = PricedV1)]
pub struct Priced {
    pub cents: u64,
}

impl From<PricedV1> for Priced {
    fn from(v1: PricedV1) -> Self {
        Priced { cents: v1.units * 100 }
    }
}

#[derive(Aggregate, Default, Debug, Clone, Serialize, Deserialize)]
#[aggregate(snapshot_every = 10)]
pub struct Product {
    pub cents: u64,
    pub changes: u64,
}

#[handlers]
impl Product {
    #[command]
    pub fn price(&self, cents: u64) -> Result<Priced, std::convert::Infallible> {
        Ok(Priced { cents })
    }

    #[apply]
    fn priced(&mut self, e: &Priced) {
        self.cents = e.cents;
        self.changes += 1;
    }
}

pub async fn typed_upcasting_of_stored_events<S: EventStore>(store: S) {
    let stream = StreamRef::new("product", "p-1");
    let v1 = NewEvent { name: "Priced", version: 1, payload: r#"{"units":3}"#.into() };
    store.append(stream, 0, &Metadata::new(), vec![v1]).await.unwrap();
    let products = Repository::<Product, _>::new(store);
    products.execute("p-1", ProductCommand::Price { cents: 450 }).await.unwrap();
    let events: Vec<_> =
        products.events("p-1").await.unwrap().into_iter().map(|e| (e.meta.event_version, e.event)).collect();
    assert_eq!(
        events,
        [(1, ProductEvent::Priced(Priced { cents: 300 })), (2, ProductEvent::Priced(Priced { cents: 450 }))]
    );
}

// ---- Replay: the borrowed read the repository rebuilds aggregates with. ----

/// What `replay` lends of each event, owned, for comparing.
type Lent = (u64, u64, String, u32, String);

async fn replayed<S: EventStore>(store: &S, stream: StreamRef<'_>, from: u64, to: u64) -> Vec<Lent> {
    let mut lent = Vec::new();
    let count = store
        .replay(stream, from, to, |e| {
            lent.push((e.stream_version, e.position, e.event_name.to_owned(), e.event_version, e.payload.to_owned()));
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(count, lent.len() as u64);
    lent
}

pub async fn replay_lends_what_read_stream_reads<S: EventStore>(store: S) {
    let stream = StreamRef::new("account", "a-1");
    let meta = Metadata::new().with_correlation_id("c-1");
    let first = vec![event("Opened", r#"{"owner":"Åda 日本"}"#), event("Deposited", r#"{"amount":5}"#)];
    store.append(stream, 0, &meta, first).await.unwrap();
    store.append(StreamRef::new("account", "a-2"), 0, &meta, vec![event("Opened", "{}")]).await.unwrap();
    let v2 = NewEvent { name: "Withdrawn", version: 2, payload: format!(r#"{{"note":"{}"}}"#, "x".repeat(70_000)) };
    store.append(stream, 2, &Metadata::new(), vec![v2, event("Deposited", r#"{"amount":7}"#)]).await.unwrap();
    for (from, to) in [(1, u64::MAX), (0, u64::MAX), (2, 3), (3, 3), (4, u64::MAX), (5, u64::MAX), (3, 2)] {
        let read: Vec<Lent> = store
            .read_stream(stream, from, to)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.meta.stream_version, e.meta.position, e.meta.event_name, e.meta.event_version, e.payload))
            .collect();
        assert_eq!(replayed(&store, stream, from, to).await, read, "versions {from}..={to}");
    }
    let all = replayed(&store, stream, 1, u64::MAX).await;
    assert_eq!(
        all.iter().map(|e| (e.0, e.2.as_str(), e.3)).collect::<Vec<_>>(),
        [(1, "Opened", 1), (2, "Deposited", 1), (3, "Withdrawn", 2), (4, "Deposited", 1)]
    );
    assert!(replayed(&store, StreamRef::new("account", "none"), 1, u64::MAX).await.is_empty());
    assert!(replayed(&store, StreamRef::new("other-type", "a-1"), 1, u64::MAX).await.is_empty());

    // The visitor's first error stops the replay and comes back as it is.
    let mut seen = 0;
    let stopped = store
        .replay(stream, 1, u64::MAX, |e| {
            seen += 1;
            if e.stream_version == 2 {
                Err(StoreError::Corrupt { location: "the visitor".into(), reason: "stops here".into(), source: None })
            } else {
                Ok(())
            }
        })
        .await
        .unwrap_err();
    assert_eq!(seen, 2);
    assert!(matches!(&stopped, StoreError::Corrupt { location, .. } if location == "the visitor"), "{stopped}");
}

/// The same stored events seen by an older program: the first schema of `Priced`, and no
/// upcast.
#[derive(Aggregate, Default, Debug, Clone, Serialize, Deserialize)]
pub struct OldProduct {
    pub units: u64,
}

#[handlers]
impl OldProduct {
    #[apply]
    fn priced(&mut self, e: &PricedV1) {
        self.units = e.units;
    }
}

/// What `replay_events` hands over, for comparing.
async fn replayed_as<E: EventSet, S: EventStore>(
    store: &S,
    stream: StreamRef<'_>,
    from: u64,
    to: u64,
) -> Vec<(u64, E)> {
    let mut seen = Vec::new();
    let count = store
        .replay_events(stream, from, to, |version, event: E| {
            seen.push((version, event));
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(count, seen.len() as u64);
    seen
}

pub async fn replay_events_decodes_what_is_stored_every_time<S: EventStore>(store: S) {
    let stream = StreamRef::new("product", "p-1");
    let stored = vec![
        NewEvent { name: "Priced", version: 1, payload: r#"{"units":3}"#.into() },
        NewEvent { name: "Priced", version: 2, payload: r#"{"cents":450}"#.into() },
    ];
    store.append(stream, 0, &Metadata::new(), stored).await.unwrap();
    let expected =
        vec![(1, ProductEvent::Priced(Priced { cents: 300 })), (2, ProductEvent::Priced(Priced { cents: 450 }))];
    // Twice: a store that keeps what it decoded hands out the same the second time.
    for _ in 0..2 {
        assert_eq!(replayed_as::<ProductEvent, _>(&store, stream, 1, u64::MAX).await, expected);
    }
    assert_eq!(replayed_as::<ProductEvent, _>(&store, stream, 2, 2).await, expected[1..]);
    assert!(replayed_as::<ProductEvent, _>(&store, stream, 3, u64::MAX).await.is_empty());

    // Another type reads the same rows its own way, and the first type's reading stands.
    let old = StreamRef::new("product", "p-old");
    store
        .append(
            old,
            0,
            &Metadata::new(),
            vec![NewEvent { name: "Priced", version: 1, payload: r#"{"units":3}"#.into() }],
        )
        .await
        .unwrap();
    assert_eq!(
        replayed_as::<ProductEvent, _>(&store, old, 1, 1).await,
        [(1, ProductEvent::Priced(Priced { cents: 300 }))]
    );
    assert_eq!(
        replayed_as::<OldProductEvent, _>(&store, old, 1, 1).await,
        [(1, OldProductEvent::PricedV1(PricedV1 { units: 3 }))]
    );
    assert_eq!(
        replayed_as::<ProductEvent, _>(&store, old, 1, 1).await,
        [(1, ProductEvent::Priced(Priced { cents: 300 }))]
    );

    // An event that does not decode fails every time, naming the stream and the version;
    // the events before it were visited.
    store
        .append(
            stream,
            2,
            &Metadata::new(),
            vec![NewEvent { name: "Priced", version: 2, payload: r#"{"cents":"many"}"#.into() }],
        )
        .await
        .unwrap();
    for _ in 0..2 {
        let mut visited = Vec::new();
        let error = store
            .replay_events(stream, 1, u64::MAX, |version, _: ProductEvent| {
                visited.push(version);
                Ok(())
            })
            .await
            .unwrap_err();
        assert_eq!(visited, [1, 2]);
        match &error {
            StoreError::Decode { stream, version, .. } => {
                assert_eq!((stream.to_string().as_str(), *version), ("product/p-1", 3), "{error}")
            }
            other => panic!("not a decode error: {other}"),
        }
    }
}

pub async fn loading_decodes_upcasts_and_names_bad_events<S: EventStore + Clone>(store: S) {
    // Written by "another process": raw events at schema versions 1 and 2.
    let stream = StreamRef::new("product", "p-1");
    let stored = vec![
        NewEvent { name: "Priced", version: 1, payload: r#"{"units":3}"#.into() },
        NewEvent { name: "Priced", version: 2, payload: r#"{"cents":450}"#.into() },
    ];
    store.append(stream, 0, &Metadata::new(), stored).await.unwrap();
    let loaded = Repository::<Product, _>::new(store.clone()).load("p-1").await.unwrap().unwrap();
    assert_eq!((loaded.state.cents, loaded.state.changes, loaded.version), (450, 2, 2));
    let at_1 = Repository::<Product, _>::new(store.clone()).load_at("p-1", 1).await.unwrap().unwrap();
    assert_eq!((at_1.state.cents, at_1.version), (300, 1));

    // A payload that does not decode, and a version no type has: errors naming stream,
    // version and event, from `load`, `load_at` and a cached repository catching up alike.
    let cached = Repository::<Product, _>::new(store.clone());
    assert_eq!(cached.load("p-1").await.unwrap().unwrap().version, 2);
    let bad = vec![
        NewEvent { name: "Priced", version: 2, payload: r#"{"cents":"many"}"#.into() },
        NewEvent { name: "Priced", version: 9, payload: r#"{"cents":1}"#.into() },
    ];
    store.append(stream, 2, &Metadata::new(), bad).await.unwrap();
    let fresh = Repository::<Product, _>::new(store.clone());
    for error in [
        fresh.load("p-1").await.unwrap_err(),
        fresh.load_at("p-1", 3).await.unwrap_err(),
        cached.load("p-1").await.unwrap_err(),
    ] {
        match &error {
            StoreError::Decode { stream, version, source } => {
                assert_eq!((stream.to_string().as_str(), *version), ("product/p-1", 3), "{error}");
                assert!(source.to_string().contains("Priced"), "{error}");
            }
            other => panic!("not a decode error: {other}"),
        }
    }
    // Up to the bad event, a temporal query still answers.
    assert_eq!(fresh.load_at("p-1", 2).await.unwrap().unwrap().state.cents, 450);
}

// ---- Command ids: a command carried out once per stream. ----

pub async fn a_command_id_carries_a_command_out_once<S: EventStore + Clone>(store: S) {
    let stream = StreamRef::new("product", "p-1");
    let products = Repository::<Product, _>::new(store.clone());
    let once = Metadata::new().with_command_id("price-1").with_correlation_id("order-1");
    let first = products.execute_with("p-1", ProductCommand::Price { cents: 100 }, once.clone()).await.unwrap();
    assert_eq!((first.version, first.attempts), (1, 1));
    let stored = store.read_stream(stream, 1, 1).await.unwrap();
    assert_eq!(stored[0].meta.metadata, once, "the id is stored with the events");
    assert_eq!(store.find_command(stream, "price-1").await.unwrap(), Some(1..=1));

    // Again, even with another command under the same id, from this repository and from a
    // restarted one (nothing cached): the first outcome, and nothing appended.
    let restarted = Repository::<Product, _>::new(store.clone());
    for repository in [&products, &restarted] {
        let again = repository.execute_with("p-1", ProductCommand::Price { cents: 999 }, once.clone()).await.unwrap();
        assert_eq!(
            (again.version, &again.events, &again.positions, again.attempts),
            (1, &first.events, &first.positions, 0)
        );
    }
    assert_eq!(store.stream_version(stream).await.unwrap(), 1);
    assert_eq!(restarted.load("p-1").await.unwrap().unwrap().state.cents, 100);

    // Another id runs; so does the same id on another stream.
    assert_eq!(products.execute_once("p-1", "price-2", ProductCommand::Price { cents: 200 }).await.unwrap().version, 2);
    assert_eq!(products.execute_once("p-2", "price-1", ProductCommand::Price { cents: 300 }).await.unwrap().version, 1);
    assert_eq!(store.find_command(stream, "price-2").await.unwrap(), Some(2..=2));
    assert_eq!(store.find_command(StreamRef::new("product", "p-2"), "price-1").await.unwrap(), Some(1..=1));
    assert_eq!(store.find_command(stream, "price-3").await.unwrap(), None);
    assert_eq!(store.find_command(StreamRef::new("product", "none"), "price-1").await.unwrap(), None);

    // An append of several events: the id names all of them.
    let raw = Metadata::new().with_command_id("restock");
    store.append(stream, 2, &raw, vec![numbered(1), numbered(2), numbered(3)]).await.unwrap();
    assert_eq!(store.find_command(stream, "restock").await.unwrap(), Some(3..=5));
    assert_eq!(store.find_command(stream, "price-1").await.unwrap(), Some(1..=1));
}

pub async fn racing_executions_of_one_command_id_append_once<S: EventStore + Clone>(store: S) {
    // Eight repositories with caches of their own, as eight processes would have, all
    // loaded before any of them commits.
    let repositories: Vec<_> = (0..8).map(|_| Repository::<Product, _>::new(store.clone())).collect();
    for repository in &repositories {
        assert!(repository.load("p-1").await.unwrap().is_none());
    }
    let tasks: Vec<_> = repositories
        .into_iter()
        .enumerate()
        .map(|(i, repository)| {
            tokio::spawn(async move {
                let command = ProductCommand::Price { cents: 100 + i as u64 };
                repository.execute_once("p-1", "the-one", command).await.unwrap()
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    let stream = StreamRef::new("product", "p-1");
    assert_eq!(store.stream_version(stream).await.unwrap(), 1, "one execution appended");
    let stored = store.read_stream(stream, 1, 1).await.unwrap();
    for outcome in &outcomes {
        assert_eq!((outcome.version, outcome.positions.as_slice()), (1, [stored[0].meta.position].as_slice()));
        assert_eq!(outcome.events, outcomes[0].events);
    }
}

pub async fn waiting_for_new_events<S: EventStore + Clone>(store: S) {
    let head = store.head_position().await.unwrap();
    let waiter = {
        let store = store.clone();
        tokio::spawn(async move { store.wait_for_events(head).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiter.is_finished(), "nothing was appended yet");
    store.append(StreamRef::new("account", "w"), 0, &Metadata::new(), vec![numbered(1)]).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), waiter).await.expect("the waiter wakes up").unwrap().unwrap();
    // Waiting for a position already reached returns at once.
    tokio::time::timeout(Duration::from_secs(10), store.wait_for_events(head)).await.unwrap().unwrap();
}

pub async fn invalid_ids_are_rejected<S: EventStore>(store: S) {
    let long = "y".repeat(256);
    for (stream, reason) in [
        (StreamRef::new("account", ""), "it is empty"),
        (StreamRef::new("", "a"), "it is empty"),
        (StreamRef::new("account", &long), "it is 256 bytes long; the limit is 255"),
        (StreamRef::new("account", "a\u{0}b"), "contains the control character U+0000"),
    ] {
        let error = store.append(stream, 0, &Metadata::new(), vec![numbered(1)]).await.unwrap_err();
        assert!(matches!(&error, StoreError::InvalidInput { reason: r, .. } if r == reason), "{error}");
    }
    assert!(store.read_all(0, EventFilter::ALL, 10).await.unwrap().is_empty());
}

pub async fn repository_snapshots_and_shape_changes<S: EventStore + Clone>(store: S) {
    let products = Repository::<Product, _>::new(store.clone());
    for cents in 1..=25 {
        products.execute("p-2", ProductCommand::Price { cents }).await.unwrap();
    }
    let stream = StreamRef::new("product", "p-2");
    let snapshot = store.load_snapshot(stream).await.unwrap().expect("a snapshot every 10 events");
    assert_eq!(snapshot.version, 20);
    assert_eq!(snapshot.fingerprint, <Product as AggregateType>::FINGERPRINT);

    // A fresh repository starts from the snapshot and reads only the tail...
    let fresh = Repository::<Product, _>::new(store.clone());
    let loaded = fresh.load("p-2").await.unwrap().unwrap();
    assert_eq!((loaded.version, loaded.state.cents, loaded.state.changes), (25, 25, 25));
    let at = fresh.load_at("p-2", 22).await.unwrap().unwrap();
    assert_eq!((at.version, at.state.cents), (22, 22));

    // ...and a snapshot written by another shape of the state is passed over: full replay.
    let foreign = Snapshot { version: 25, fingerprint: snapshot.fingerprint ^ 1, state: r#"{"old":"shape"}"#.into() };
    store.save_snapshot(stream, foreign).await.unwrap();
    let replayed = Repository::<Product, _>::new(store.clone()).load("p-2").await.unwrap().unwrap();
    assert_eq!((replayed.version, replayed.state.changes), (25, 25));
    // A snapshot that no longer deserializes is passed over too.
    let broken = Snapshot { version: 26, fingerprint: snapshot.fingerprint, state: "not json".into() };
    store.save_snapshot(stream, broken).await.unwrap();
    let replayed = Repository::<Product, _>::new(store).load("p-2").await.unwrap().unwrap();
    assert_eq!((replayed.version, replayed.state.changes), (25, 25));
}

// ---- Projections on this store. ----

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Deposited {
    pub amount: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
pub struct Never;

#[derive(Aggregate, Default, Debug, Clone)]
pub struct Teller;

#[handlers]
impl Teller {
    #[command]
    pub fn deposit(&self, amount: u64) -> Result<Deposited, Never> {
        Ok(Deposited { amount })
    }

    /// Two events in one append.
    #[command]
    pub fn split(&self, first: u64, second: u64) -> Result<(Deposited, Deposited), Never> {
        Ok((Deposited { amount: first }, Deposited { amount: second }))
    }

    /// An event no projection here subscribes to.
    #[command]
    pub fn note(&self, text: String) -> Result<Noted, Never> {
        Ok(Noted { text })
    }

    #[apply]
    fn deposited(&mut self, _: &Deposited) {}

    #[apply]
    fn noted(&mut self, _: &Noted) {}
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Noted {
    pub text: String,
}

/// Every deposit with where it was stored and the command's correlation id: a state that
/// tells apart events seen twice, out of order, or with other metadata.
#[derive(Projection, Default, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[projection(name = "ledger")]
pub struct Ledger {
    /// (position, stream id, stream version, amount, correlation id)
    pub lines: Vec<(u64, String, u64, u64, Option<String>)>,
}

#[handlers]
impl Ledger {
    #[on]
    fn deposited(&mut self, e: &Deposited, meta: &EventMeta) {
        let last = self.lines.last().map_or(0, |line| line.0);
        assert!(meta.position > last, "position {} applied after {last}", meta.position);
        let line = (
            meta.position,
            meta.stream_id.clone(),
            meta.stream_version,
            e.amount,
            meta.metadata.correlation_id.clone(),
        );
        self.lines.push(line);
    }
}

/// What a projection built from scratch over the whole log holds: every subscribed event
/// folded into a fresh state, without a runner or a checkpoint.
async fn from_scratch<P: Projection, S: EventStore>(store: &S) -> P {
    let mut projection = P::default();
    let mut after = 0;
    loop {
        let events = store.read_all(after, EventFilter::names(P::EVENTS), 100).await.unwrap();
        for event in &events {
            projection.project(event).unwrap();
            after = event.meta.position;
        }
        if events.len() < 100 {
            return projection;
        }
    }
}

#[derive(Projection, Default, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[projection(name = "totals")]
pub struct Totals {
    pub by_account: std::collections::BTreeMap<String, u64>,
    pub applied: u64,
    pub last_position: u64,
}

#[handlers]
impl Totals {
    #[on(aggregate = "teller")]
    fn deposited(&mut self, e: &Deposited, meta: &EventMeta) -> Result<(), String> {
        if e.amount == 0 {
            return Err("a deposit of 0 is poison".to_owned());
        }
        assert!(meta.position > self.last_position, "an event applied twice or out of order");
        self.last_position = meta.position;
        *self.by_account.entry(meta.stream_id.clone()).or_default() += e.amount;
        self.applied += 1;
        Ok(())
    }

    #[query]
    pub fn balance(&self, account: String) -> u64 {
        self.by_account.get(&account).copied().unwrap_or(0)
    }
}

async fn deposits<S: EventStore + Clone>(store: &S, accounts: u64, each: u64) {
    let tellers = Repository::<Teller, _>::new(store.clone());
    for i in 0..each {
        for a in 0..accounts {
            tellers.execute(&format!("acc-{a}"), TellerCommand::Deposit { amount: i + 1 }).await.unwrap();
        }
    }
}

pub async fn projection_catch_up_equals_rebuild<S: EventStore + Clone>(store: S) {
    deposits(&store, 20, 15).await;
    let runner = ProjectionRunner::<Totals, _>::start(store.clone()).await.unwrap().with_batch_size(64);
    let head = store.head_position().await.unwrap();
    assert_eq!(runner.catch_up().await.unwrap(), head);
    let caught_up = runner.state().await;
    assert_eq!(caught_up.applied, 300);
    assert_eq!(runner.ask(TotalsQuery::Balance { account: "acc-3".into() }).await, TotalsAnswer::Balance(120));

    assert_eq!(runner.rebuild().await.unwrap(), head);
    assert_eq!(runner.state().await, caught_up, "a rebuild equals the run to the end");

    // A new runner resumes from the stored checkpoint: same state, nothing read again.
    let resumed = ProjectionRunner::<Totals, _>::start(store.clone()).await.unwrap();
    assert_eq!((resumed.position().await, resumed.state().await), (head, caught_up.clone()));
    assert_eq!(resumed.catch_up().await.unwrap(), head);
    assert_eq!(resumed.state().await, caught_up);
}

pub async fn projection_stopped_halfway_resumes_without_reapplying<S: EventStore + Clone>(store: S) {
    deposits(&store, 10, 10).await;
    let first = ProjectionRunner::<Totals, _>::start(store.clone()).await.unwrap().with_batch_size(7);
    first.catch_up().await.unwrap();
    drop(first); // the process stops here
    deposits(&store, 10, 10).await;
    let second = ProjectionRunner::<Totals, _>::start(store.clone()).await.unwrap().with_batch_size(7);
    second.catch_up().await.unwrap();

    let uninterrupted = ProjectionRunner::<Totals, _>::start(store.clone()).await.unwrap();
    uninterrupted.rebuild().await.unwrap();
    assert_eq!(second.state().await, uninterrupted.state().await);
    assert_eq!(second.state().await.applied, 200, "every event applied exactly once");
}

pub async fn a_failing_handler_stops_the_projection_at_the_event<S: EventStore + Clone>(store: S) {
    deposits(&store, 3, 4).await;
    let tellers = Repository::<Teller, _>::new(store.clone());
    let poison = tellers.execute("acc-1", TellerCommand::Deposit { amount: 0 }).await.unwrap();
    deposits(&store, 3, 2).await;

    let runner = ProjectionRunner::<Totals, _>::start(store.clone()).await.unwrap().with_batch_size(5);
    let error = runner.catch_up().await.unwrap_err();
    let position = poison.positions[0];
    assert_eq!(
        error.to_string(),
        format!(
            "projection `totals` stopped at position {position} (stream teller/acc-1, version 5, event `Deposited`): a deposit of 0 is poison"
        )
    );
    let stopped = runner.state().await;
    assert_eq!(stopped.applied, 12, "everything before the poison, once");
    assert_eq!(runner.position().await, stopped.last_position);
    let health = runner.health().await;
    assert!(health.is_stopped(), "{health:?}");
    assert_eq!((health.name, health.position), ("totals", stopped.last_position));
    match &health.status {
        factum::RunnerStatus::Stopped { position: at, event, stream, error: message } => {
            assert_eq!((*at, event.as_deref(), stream.as_deref()), (position, Some("Deposited"), Some("teller/acc-1")));
            assert_eq!(*message, error.to_string());
        }
        other => panic!("expected a stopped runner, got {other:?}"),
    }
    // The store keeps why it stopped, for operators of other processes (`factum projections`).
    let recorded = store.load_failure("totals").await.unwrap().expect("the stop is recorded");
    assert_eq!((recorded.position, recorded.error), (stopped.last_position, error.to_string()));
    // Restarted, it stops at the same event, without applying anything twice.
    let restarted = ProjectionRunner::<Totals, _>::start(store.clone()).await.unwrap();
    assert_eq!(restarted.state().await, stopped);
    assert!(restarted.catch_up().await.is_err());
    assert_eq!(restarted.state().await.applied, 12);
}

/// 10,000 events across 100 accounts from 4 concurrent writers, followed live: the live
/// projection ends exactly equal to a rebuild.
pub async fn a_live_projection_equals_a_rebuild<S: EventStore + Clone>(store: S) {
    let live = std::sync::Arc::new(ProjectionRunner::<Totals, _>::start(store.clone()).await.unwrap());
    let follower = tokio::spawn({
        let live = std::sync::Arc::clone(&live);
        async move { live.run().await }
    });
    let mut writers = Vec::new();
    for w in 0..4u64 {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            // Heavy contention is not what this test is about: allow many retries.
            let retry = factum::RetryPolicy { max_attempts: 100, backoff: Duration::from_millis(1) };
            let tellers = Repository::<Teller, _>::new(store).with_retry(retry);
            for i in 0..2500u64 {
                let account = format!("acc-{}", (w * 37 + i) % 100);
                tellers.execute(&account, TellerCommand::Deposit { amount: 1 + i % 7 }).await.unwrap();
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let head = store.head_position().await.unwrap();
    tokio::time::timeout(Duration::from_secs(120), live.wait_for(head))
        .await
        .expect("the live projection keeps up")
        .unwrap();
    assert!(!follower.is_finished(), "the live runner stopped: {:?}", follower.is_finished());
    follower.abort();

    let rebuilt = ProjectionRunner::<Totals, _>::start(store.clone()).await.unwrap();
    rebuilt.rebuild().await.unwrap();
    let (live_state, rebuilt_state) = (live.state().await, rebuilt.state().await);
    assert_eq!(live_state.applied, 10_000);
    assert_eq!(live_state, rebuilt_state);
}

pub async fn inline_projections_read_their_writes<S: EventStore + Clone>(store: S) {
    let totals = std::sync::Arc::new(ProjectionRunner::<Totals, _>::start(store.clone()).await.unwrap());
    let tellers = Repository::<Teller, _>::new(store.clone()).with_inline(totals.clone());
    for amount in 1..=5 {
        tellers.execute("acc-9", TellerCommand::Deposit { amount }).await.unwrap();
        let expected = amount * (amount + 1) / 2;
        assert_eq!(totals.ask(TotalsQuery::Balance { account: "acc-9".into() }).await, TotalsAnswer::Balance(expected));
    }
}

/// With a checkpoint policy, an inline projection is current in memory while its stored
/// checkpoint lags; a runner started after a crash catches up to the very same state, and
/// `save_checkpoint` brings the stored one up to date.
pub async fn a_lagging_checkpoint_loses_nothing<S: EventStore + Clone>(store: S) {
    let hour = Duration::from_secs(3600);
    let totals = std::sync::Arc::new(
        ProjectionRunner::<Totals, _>::start(store.clone()).await.unwrap().with_checkpoint_every(25, hour),
    );
    let tellers = Repository::<Teller, _>::new(store.clone()).with_inline(totals.clone());
    for amount in 1..=60 {
        tellers.execute(&format!("acc-{}", amount % 4), TellerCommand::Deposit { amount }).await.unwrap();
    }
    let head = store.head_position().await.unwrap();
    assert_eq!(totals.position().await, head, "read-your-writes holds");
    assert_eq!(totals.state().await.applied, 60);
    let stored = store.load_checkpoint("totals").await.unwrap().expect("a checkpoint every 25 events").position;
    assert!(
        stored >= head - 24 && stored < head,
        "the stored checkpoint lags by less than 25 events: {stored} of {head}"
    );

    // The process dies here: the next one resumes from the older checkpoint.
    let resumed = ProjectionRunner::<Totals, _>::start(store.clone()).await.unwrap();
    assert_eq!(resumed.position().await, stored);
    assert_eq!(resumed.catch_up().await.unwrap(), head);
    assert_eq!(resumed.state().await, totals.state().await, "each event applied exactly once");

    totals.save_checkpoint().await.unwrap();
    assert_eq!(store.load_checkpoint("totals").await.unwrap().unwrap().position, head);
}

/// A failing handler under a lagging checkpoint still leaves the checkpoint right before
/// its event, with every earlier event applied once (including those before the batch).
pub async fn a_failing_handler_under_a_lagging_checkpoint<S: EventStore + Clone>(store: S) {
    let hour = Duration::from_secs(3600);
    let runner = ProjectionRunner::<Totals, _>::start(store.clone())
        .await
        .unwrap()
        .with_batch_size(4)
        .with_checkpoint_every(1_000, hour);
    let tellers = Repository::<Teller, _>::new(store.clone()).with_inline(std::sync::Arc::new(runner));
    for amount in 1..=9 {
        tellers.execute("acc-1", TellerCommand::Deposit { amount }).await.unwrap();
    }
    let failed = tellers.execute("acc-1", TellerCommand::Deposit { amount: 0 }).await.unwrap_err();
    assert!(failed.to_string().contains("a deposit of 0 is poison"), "{failed}");

    // No checkpoint was due before the poison; the failure stored one right before it.
    let restarted = ProjectionRunner::<Totals, _>::start(store.clone()).await.unwrap();
    let state = restarted.state().await;
    assert_eq!((state.applied, state.balance("acc-1".into())), (9, 45), "the nine deposits before the poison, once");
    assert!(restarted.catch_up().await.is_err(), "and it stops at the poison again");
}

/// Two "processes" run one projection with `run_exclusive`: only one applies events; when it
/// dies, the other takes over from the checkpoint, and nothing is applied twice.
pub async fn only_one_process_runs_a_projection_at_a_time<S: EventStore + Clone>(store: S) {
    let first = std::sync::Arc::new(ProjectionRunner::<Totals, _>::start(store.clone()).await.unwrap());
    let second = std::sync::Arc::new(ProjectionRunner::<Totals, _>::start(store.clone()).await.unwrap());
    let spawn =
        |runner: std::sync::Arc<ProjectionRunner<Totals, S>>| tokio::spawn(async move { runner.run_exclusive().await });
    let first_task = spawn(first.clone());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second_task = spawn(second.clone());

    deposits(&store, 10, 10).await;
    let head = store.head_position().await.unwrap();
    wait_until_checkpoint(&store, head).await;
    // Whichever got the lease first (the first, unless the machine is very slow) runs alone.
    let (holder, holder_task, waiter, waiter_task) = if first.position().await == head {
        (first, first_task, second, second_task)
    } else {
        (second, second_task, first, first_task)
    };
    assert_eq!(holder.position().await, head, "the lease holder runs");
    assert_eq!(waiter.position().await, 0, "the other runner waits");

    holder_task.abort(); // the holder's process dies
    let _ = holder_task.await;
    deposits(&store, 10, 5).await;
    let head = store.head_position().await.unwrap();
    tokio::time::timeout(Duration::from_secs(60), async {
        while waiter.position().await < head {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the waiting runner takes over");
    waiter_task.abort();
    let second = waiter;

    let rebuilt = ProjectionRunner::<Totals, _>::start(store.clone()).await.unwrap();
    rebuilt.rebuild().await.unwrap();
    assert_eq!(second.state().await, rebuilt.state().await);
    assert_eq!(second.state().await.applied, 150, "nothing applied twice across the takeover");
}

async fn wait_until_checkpoint<S: EventStore>(store: &S, position: u64) {
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            if store.load_checkpoint("totals").await.unwrap().is_some_and(|c| c.position >= position) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the projection catches up");
}

/// An inline projection, crashed after any command (the runner dropped without saving its
/// checkpoint, a new one started on the store and caught up), comes back to the state of a
/// projection built from scratch over the whole log; and the runner fed by the repository
/// holds that state too before the crash. With the default checkpoint policy and with one
/// that checkpoints every 3 events; crashing after every command in turn, and keeping one
/// runner throughout while a second one restarts from the stored checkpoint after each
/// command. Commands of one and two events, an event the projection does not subscribe to,
/// and commands through a repository without the projection (the next handed-over batch
/// then leaves a gap) are mixed in.
pub async fn a_crash_after_any_command_converges<S: EventStore + Clone>(store: S) {
    use std::sync::Arc;
    let hour = Duration::from_secs(3600);
    let plain = Repository::<Teller, _>::new(store.clone());
    let mut command = 0u64;
    for (policy, crash_for_real) in [(Some(3), true), (Some(3), false), (None, true), (None, false)] {
        store.delete_checkpoint("ledger").await.unwrap();
        let start = || async {
            let runner = ProjectionRunner::<Ledger, _>::start(store.clone()).await.unwrap();
            match policy {
                Some(events) => runner.with_checkpoint_every(events, hour),
                None => runner,
            }
        };
        let mut live = Arc::new(start().await);
        live.catch_up().await.unwrap();
        for _ in 0..25 {
            command += 1;
            let k = command;
            let tellers = Repository::<Teller, _>::new(store.clone()).with_inline(live.clone());
            let account = format!("acc-{}", k % 3);
            let metadata = Metadata::new().with_correlation_id(format!("command-{k}"));
            let inline = k % 5 != 4;
            let command = match k % 5 {
                1 => TellerCommand::Split { first: k, second: k + 1 },
                3 => TellerCommand::Note { text: format!("note {k}") },
                _ => TellerCommand::Deposit { amount: k },
            };
            if inline {
                tellers.execute_with(&account, command, metadata).await.unwrap();
            } else {
                plain.execute_with(&account, command, metadata).await.unwrap();
            }
            let head = store.head_position().await.unwrap();
            let scratch = from_scratch::<Ledger, _>(&store).await;
            if inline {
                assert_eq!(live.position().await, head, "read-your-writes after command {k}");
                assert_eq!(live.state().await, scratch, "the inline runner after command {k}");
            }
            if let Some(events) = policy {
                let stored = store.load_checkpoint("ledger").await.unwrap().map_or(0, |c| c.position);
                let lag = live.position().await.saturating_sub(stored);
                assert!(lag < events, "the stored checkpoint lags {lag} positions after command {k}");
            }

            // The crash: the runner goes away without saving its checkpoint.
            let restarted = start().await;
            assert_eq!(restarted.catch_up().await.unwrap(), head);
            assert_eq!(restarted.state().await, scratch, "restarted after a crash after command {k}");
            drop(tellers);
            if crash_for_real {
                live = Arc::new(restarted);
            }
        }
    }
}

/// One inline runner shared by two repositories writing at once, and followed by `run()`
/// as well: every event is applied once, in position order (the projection asserts it), and
/// each command reads its own writes.
pub async fn a_shared_inline_projection_sees_each_event_once<S: EventStore + Clone>(store: S) {
    use std::sync::Arc;
    let ledger = Arc::new(ProjectionRunner::<Ledger, _>::start(store.clone()).await.unwrap());
    let follower = tokio::spawn({
        let ledger = Arc::clone(&ledger);
        async move { ledger.run().await }
    });
    let mut writers = Vec::new();
    for w in 0..2u64 {
        let retry = factum::RetryPolicy { max_attempts: 100, backoff: Duration::from_millis(1) };
        let tellers = Repository::<Teller, _>::new(store.clone()).with_inline(ledger.clone()).with_retry(retry);
        let ledger = Arc::clone(&ledger);
        writers.push(tokio::spawn(async move {
            for i in 1..=150u64 {
                let command = match i % 3 {
                    0 => TellerCommand::Split { first: i, second: w },
                    1 => TellerCommand::Deposit { amount: i },
                    _ => TellerCommand::Note { text: format!("{w}/{i}") },
                };
                let committed = tellers.execute(&format!("acc-{}", (w + i) % 4), command).await.unwrap();
                let last = *committed.positions.last().unwrap();
                assert!(ledger.position().await >= last, "a command reads its own writes");
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let head = store.head_position().await.unwrap();
    ledger.wait_for(head).await.unwrap();
    assert!(!follower.is_finished(), "the follower stopped");
    follower.abort();
    let state = ledger.state().await;
    assert_eq!(state.lines.len(), 2 * (50 + 50 * 2), "every deposit once");
    assert_eq!(state, from_scratch::<Ledger, _>(&store).await);
}

/// Records what a repository hands over after each commit.
#[derive(Default)]
struct HandedOver(std::sync::Mutex<Vec<factum::RecordedEvent>>);

impl factum::InlineProjection for HandedOver {
    fn catch_up(
        &self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<u64, factum::ProjectionError>> + Send + '_>> {
        panic!("the repository hands the events over; it does not ask for a catch-up")
    }

    fn apply_committed<'a>(
        &'a self,
        events: &'a [factum::RecordedEvent],
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<u64, factum::ProjectionError>> + Send + 'a>> {
        let mut handed = self.0.lock().unwrap();
        handed.extend_from_slice(events);
        let position = handed.last().map_or(0, |e| e.meta.position);
        Box::pin(async move { Ok(position) })
    }

    fn health(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = factum::RunnerHealth> + Send + '_>> {
        unreachable!("not asked in this test")
    }
}

/// What the repository hands to an inline projection is what the log holds: names,
/// versions, positions, metadata, the recorded time (a store answers the time it stored, to
/// its precision) and payloads of the same JSON value.
pub async fn handed_over_events_are_the_stored_ones<S: EventStore + Clone>(store: S) {
    use std::sync::Arc;
    let handed = Arc::new(HandedOver::default());
    let tellers = Repository::<Teller, _>::new(store.clone()).with_inline(handed.clone());
    for i in 1..=6u64 {
        let metadata = Metadata::new().with_correlation_id(format!("c-{i}")).with("user", "ada");
        let command = match i % 3 {
            0 => TellerCommand::Split { first: i, second: 2 * i },
            1 => TellerCommand::Deposit { amount: i },
            _ => TellerCommand::Note { text: format!("é {i}") },
        };
        tellers.execute_with(&format!("acc-{}", i % 2), command, metadata).await.unwrap();
    }
    let handed = handed.0.lock().unwrap().clone();
    let stored = store.read_all(0, EventFilter::ALL, 100).await.unwrap();
    assert_eq!(handed.len(), 8);
    assert_eq!(handed.len(), stored.len());
    for (handed, stored) in handed.iter().zip(&stored) {
        assert_eq!(handed.meta, stored.meta, "at position {}", stored.meta.position);
        // The same JSON value; PostgreSQL's jsonb may answer it with another layout.
        let value = |payload: &str| serde_json::from_str::<serde_json::Value>(payload).unwrap();
        assert_eq!(value(&handed.payload), value(&stored.payload), "at position {}", stored.meta.position);
    }
}

// What process managers keep: instances, the outbox, deadlines, refusals, one commit at a time.

mod process_records {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use factum::Metadata;
    use factum::process::{NewDeadline, OutgoingCommand, ProcessCommit};

    /// A time with nanoseconds below the microsecond, which the stores drop.
    pub fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_796_000_000 + seconds) + Duration::from_nanos(123_456_789)
    }

    /// `time` as the stores keep it: to the microsecond below.
    pub fn stored(time: SystemTime) -> SystemTime {
        let since = time.duration_since(UNIX_EPOCH).unwrap();
        UNIX_EPOCH + Duration::from_micros(since.as_micros() as u64)
    }

    /// A command of `instance` to ledger `stream`, with every kind of metadata.
    pub fn command(instance: &str, stream: &str, n: u64) -> OutgoingCommand {
        OutgoingCommand {
            id: 0,
            instance: instance.to_owned(),
            aggregate_type: "ledger".to_owned(),
            stream_id: stream.to_owned(),
            command: format!(r#"{{"Credit":{{"amount":{n},"note":"žluťoučký 🦀"}}}}"#),
            metadata: Metadata::new()
                .with_correlation_id(format!("order-{instance}"))
                .with_causation_id(format!("event-{n}"))
                .with_command_id(format!("{instance}-credit-{n}"))
                .with("user", "ålice"),
        }
    }

    pub fn deadline(instance: &str, kind: &str, due_at: SystemTime) -> NewDeadline {
        NewDeadline {
            instance: instance.to_owned(),
            kind: kind.to_owned(),
            due_at,
            payload: format!(r#"{{"{kind}":{{"of":"{instance}"}}}}"#),
            correlation_id: (kind != "Quiet").then(|| format!("order-{instance}")),
        }
    }

    /// `deadline` as stored: its time to the microsecond.
    pub fn kept(mut deadline: NewDeadline) -> NewDeadline {
        deadline.due_at = stored(deadline.due_at);
        deadline
    }

    pub fn send(commands: Vec<OutgoingCommand>) -> ProcessCommit {
        ProcessCommit { send: commands, ..ProcessCommit::default() }
    }

    pub fn schedule(deadlines: Vec<NewDeadline>) -> ProcessCommit {
        ProcessCommit { schedule: deadlines, ..ProcessCommit::default() }
    }
}

pub use process_records::*;

/// The deadlines of `process` due by `until`, as (instance, kind).
async fn due_kinds<S: EventStore>(store: &S, process: &str, until: std::time::SystemTime) -> Vec<(String, String)> {
    let due = store.due_deadlines(process, until, 100).await.unwrap();
    due.into_iter().map(|due| (due.deadline.instance, due.deadline.kind)).collect()
}

/// One commit stores instances, the outbox (in id order, metadata intact) and deadlines
/// (due by `until`, earliest first then by id), and the checkpoint `process:<name>`; other
/// processes see none of it.
pub async fn a_process_commit_round_trips<S: EventStore>(store: S) {
    use factum::process::ProcessCommit;
    assert_eq!(store.load_process_instance("payout", "o-1").await.unwrap(), None);
    assert!(store.pending_commands("payout", 10).await.unwrap().is_empty());
    assert!(store.rejected_commands("payout", 10).await.unwrap().is_empty());
    assert!(store.due_deadlines("payout", at(1_000_000), 10).await.unwrap().is_empty());
    assert_eq!(store.next_deadline("payout").await.unwrap(), None);

    let commands = vec![command("o-1", "l-1", 1), command("o-2", "l-2", 2), command("o-1", "l-3", 3)];
    let deadlines = vec![
        deadline("o-1", "Expire", at(30)),
        deadline("o-2", "Remind", at(10)),
        deadline("o-1", "Quiet", at(10)),
        deadline("o-2", "Expire", at(20)),
    ];
    let commit = ProcessCommit {
        position: Some(42),
        instances: vec![
            ("o-1".to_owned(), Some(r#"{"paid":false,"note":"日本語"}"#.to_owned())),
            ("o-2".to_owned(), Some(r#"{"paid":true}"#.to_owned())),
        ],
        send: commands.clone(),
        schedule: deadlines.clone(),
        ..ProcessCommit::default()
    };
    store.commit_process("payout", commit).await.unwrap();

    assert_eq!(
        store.load_process_instance("payout", "o-1").await.unwrap().as_deref(),
        Some(r#"{"paid":false,"note":"日本語"}"#)
    );
    assert_eq!(store.load_process_instance("payout", "o-2").await.unwrap().as_deref(), Some(r#"{"paid":true}"#));
    assert_eq!(store.load_process_instance("payout", "o-3").await.unwrap(), None);
    assert_eq!(store.load_process_instance("refunds", "o-1").await.unwrap(), None, "processes are apart");
    assert_eq!(
        store.load_checkpoint("process:payout").await.unwrap(),
        Some(Checkpoint { position: 42, state: String::new() })
    );
    assert_eq!(store.load_checkpoint("payout").await.unwrap(), None, "a projection of the name is another");

    let pending = store.pending_commands("payout", 10).await.unwrap();
    assert_eq!(pending.len(), 3);
    assert!(pending[0].id > 0 && pending.windows(2).all(|w| w[0].id < w[1].id), "in id order: {pending:?}");
    for (got, sent) in pending.iter().zip(&commands) {
        assert_eq!(got, &factum::process::OutgoingCommand { id: got.id, ..sent.clone() }, "stored as sent");
    }
    assert_eq!(pending[0].command_id(), "o-1-credit-1");
    assert_eq!(store.pending_commands("payout", 2).await.unwrap(), pending[..2], "the oldest first");
    assert!(store.pending_commands("payout", 0).await.unwrap().is_empty());
    assert!(store.pending_commands("refunds", 10).await.unwrap().is_empty());

    assert!(store.due_deadlines("payout", at(9), 10).await.unwrap().is_empty(), "none due yet");
    // Due at `until` itself is due, compared to the microsecond.
    let due = store.due_deadlines("payout", stored(at(10)), 10).await.unwrap();
    assert_eq!(due.len(), 2);
    assert!(due[0].id < due[1].id, "among those due at one time, by id");
    assert_eq!(due[0].deadline, kept(deadlines[1].clone()));
    assert_eq!(due[1].deadline, kept(deadlines[2].clone()));
    let all = store.due_deadlines("payout", at(1_000_000), 10).await.unwrap();
    let order: Vec<_> = all.iter().map(|d| (d.deadline.instance.as_str(), d.deadline.kind.as_str())).collect();
    assert_eq!(order, [("o-2", "Remind"), ("o-1", "Quiet"), ("o-2", "Expire"), ("o-1", "Expire")], "earliest first");
    assert_eq!(all[..2], due[..]);
    assert_eq!(store.due_deadlines("payout", at(1_000_000), 3).await.unwrap(), all[..3], "limited");
    assert!(store.due_deadlines("refunds", at(1_000_000), 10).await.unwrap().is_empty());
    assert_eq!(store.next_deadline("payout").await.unwrap(), Some(stored(at(10))));
    assert_eq!(store.next_deadline("refunds").await.unwrap(), None);

    // The next step: one command carried out, one deadline fired, an instance's state
    // replaced; a commit without a position leaves the checkpoint where it was.
    let commit = ProcessCommit {
        instances: vec![("o-2".to_owned(), Some(r#"{"paid":true,"reminded":true}"#.to_owned()))],
        sent: vec![pending[1].id],
        fired: vec![due[0].id],
        ..ProcessCommit::default()
    };
    store.commit_process("payout", commit).await.unwrap();
    assert_eq!(
        store.load_process_instance("payout", "o-2").await.unwrap().as_deref(),
        Some(r#"{"paid":true,"reminded":true}"#)
    );
    let left: Vec<u64> = store.pending_commands("payout", 10).await.unwrap().iter().map(|c| c.id).collect();
    assert_eq!(left, [pending[0].id, pending[2].id]);
    assert_eq!(store.due_deadlines("payout", at(1_000_000), 10).await.unwrap(), all[1..]);
    assert_eq!(store.next_deadline("payout").await.unwrap(), Some(stored(at(10))));
    assert_eq!(store.load_checkpoint("process:payout").await.unwrap().map(|c| c.position), Some(42));
    store.commit_process("payout", ProcessCommit { position: Some(43), ..ProcessCommit::default() }).await.unwrap();
    assert_eq!(
        store.load_checkpoint("process:payout").await.unwrap(),
        Some(Checkpoint { position: 43, state: String::new() })
    );
    store.commit_process("payout", ProcessCommit::default()).await.unwrap();
    assert_eq!(store.pending_commands("payout", 10).await.unwrap().len(), 2, "an empty commit changes nothing");
}

/// Outbox and deadline ids only grow: one removed is never given again, not even the last.
pub async fn process_ids_are_never_reused<S: EventStore>(store: S) {
    use factum::process::ProcessCommit;
    let mut commands = Vec::new();
    let mut deadlines = Vec::new();
    for round in 0..3 {
        store
            .commit_process(
                "payout",
                ProcessCommit {
                    send: vec![command("o-1", "l-1", round), command("o-2", "l-2", round)],
                    schedule: vec![deadline("o-1", "Remind", at(round)), deadline("o-2", "Remind", at(round))],
                    ..ProcessCommit::default()
                },
            )
            .await
            .unwrap();
        let pending = store.pending_commands("payout", 10).await.unwrap();
        let due = store.due_deadlines("payout", at(1_000), 10).await.unwrap();
        assert_eq!((pending.len(), due.len()), (2, 2), "round {round}");
        commands.extend(pending.iter().map(|c| c.id));
        deadlines.extend(due.iter().map(|d| d.id));
        // Everything goes, the newest rows included.
        let commit = ProcessCommit {
            sent: pending.iter().map(|c| c.id).collect(),
            fired: due.iter().map(|d| d.id).collect(),
            ..ProcessCommit::default()
        };
        store.commit_process("payout", commit).await.unwrap();
        assert!(store.pending_commands("payout", 10).await.unwrap().is_empty());
        assert_eq!(store.next_deadline("payout").await.unwrap(), None);
    }
    assert!(commands.windows(2).all(|w| w[0] < w[1]), "outbox ids: {commands:?}");
    assert!(deadlines.windows(2).all(|w| w[0] < w[1]), "deadline ids: {deadlines:?}");
    // A cancelled deadline's id is not given again either.
    store.commit_process("payout", schedule(vec![deadline("o-3", "Expire", at(5))])).await.unwrap();
    let cancelled = store.due_deadlines("payout", at(1_000), 10).await.unwrap()[0].id;
    let commit = ProcessCommit {
        cancel: vec![("o-3".to_owned(), "Expire".to_owned())],
        ..schedule(vec![deadline("o-3", "Expire", at(6))])
    };
    store.commit_process("payout", commit).await.unwrap();
    let again = store.due_deadlines("payout", at(1_000), 10).await.unwrap();
    assert_eq!(again.len(), 1, "cancelled, then set again: {again:?}");
    assert!(again[0].id > cancelled && cancelled > *deadlines.last().unwrap());
}

/// An instance set to `None` is gone, with all of its deadlines (those set in the same commit
/// come after, and stay); other instances keep theirs.
pub async fn ending_an_instance_removes_its_deadlines<S: EventStore>(store: S) {
    use factum::process::ProcessCommit;
    let state = |s: &str| Some(s.to_owned());
    let commit = ProcessCommit {
        instances: vec![("o-1".to_owned(), state("{}")), ("o-2".to_owned(), state("{}"))],
        schedule: vec![
            deadline("o-1", "Remind", at(1)),
            deadline("o-1", "Expire", at(2)),
            deadline("o-2", "Remind", at(3)),
            deadline("o-3", "Remind", at(4)),
        ],
        ..ProcessCommit::default()
    };
    store.commit_process("payout", commit).await.unwrap();
    store
        .commit_process(
            "payout",
            ProcessCommit { instances: vec![("o-1".to_owned(), None)], ..ProcessCommit::default() },
        )
        .await
        .unwrap();
    assert_eq!(store.load_process_instance("payout", "o-1").await.unwrap(), None);
    assert_eq!(store.load_process_instance("payout", "o-2").await.unwrap().as_deref(), Some("{}"));
    let left = due_kinds(&store, "payout", at(100)).await;
    assert_eq!(left, [("o-2".into(), "Remind".into()), ("o-3".into(), "Remind".into())]);
    assert_eq!(store.next_deadline("payout").await.unwrap(), Some(stored(at(3))));

    // Applied in order: ended, then started again in one commit, it loses what it had set
    // before and keeps what the commit sets; ended last, it is gone.
    let commit = ProcessCommit {
        instances: vec![("o-2".to_owned(), None), ("o-2".to_owned(), state(r#"{"again":1}"#))],
        schedule: vec![deadline("o-2", "Expire", at(5))],
        ..ProcessCommit::default()
    };
    store.commit_process("payout", commit).await.unwrap();
    assert_eq!(store.load_process_instance("payout", "o-2").await.unwrap().as_deref(), Some(r#"{"again":1}"#));
    let left = due_kinds(&store, "payout", at(100)).await;
    assert_eq!(left, [("o-3".into(), "Remind".into()), ("o-2".into(), "Expire".into())]);
    let commit = ProcessCommit {
        instances: vec![("o-3".to_owned(), state("{}")), ("o-3".to_owned(), None)],
        ..ProcessCommit::default()
    };
    store.commit_process("payout", commit).await.unwrap();
    assert_eq!(store.load_process_instance("payout", "o-3").await.unwrap(), None);
    assert_eq!(due_kinds(&store, "payout", at(100)).await, [("o-2".into(), "Expire".into())]);
}

/// Cancelling removes the deadlines of one kind of one instance, and nothing else; one set
/// in the same commit comes after the cancel, and stays.
pub async fn cancel_removes_only_that_kind_of_that_instance<S: EventStore>(store: S) {
    use factum::process::ProcessCommit;
    let deadlines = vec![
        deadline("o-1", "Remind", at(1)),
        deadline("o-1", "Expire", at(2)),
        deadline("o-1", "Remind", at(3)),
        deadline("o-2", "Remind", at(4)),
    ];
    store.commit_process("payout", schedule(deadlines)).await.unwrap();
    store.commit_process("refunds", schedule(vec![deadline("o-1", "Remind", at(1))])).await.unwrap();
    let commit = ProcessCommit { cancel: vec![("o-1".to_owned(), "Remind".to_owned())], ..ProcessCommit::default() };
    store.commit_process("payout", commit).await.unwrap();
    let left = due_kinds(&store, "payout", at(100)).await;
    assert_eq!(left, [("o-1".into(), "Expire".into()), ("o-2".into(), "Remind".into())]);
    assert_eq!(due_kinds(&store, "refunds", at(100)).await, [("o-1".into(), "Remind".into())], "another process");

    let commit = ProcessCommit {
        cancel: vec![("o-1".to_owned(), "Expire".to_owned()), ("o-9".to_owned(), "Expire".to_owned())],
        ..schedule(vec![deadline("o-1", "Expire", at(7))])
    };
    store.commit_process("payout", commit).await.unwrap();
    let left = store.due_deadlines("payout", at(100), 10).await.unwrap();
    assert_eq!(
        left.iter().map(|d| d.deadline.clone()).collect::<Vec<_>>(),
        [kept(deadline("o-2", "Remind", at(4))), kept(deadline("o-1", "Expire", at(7)))]
    );
}

/// A refused command leaves the pending ones and is kept with its error and time; marking it
/// sent or refusing it again afterwards changes nothing.
pub async fn rejected_commands_are_kept_with_their_error<S: EventStore>(store: S) {
    use factum::process::{OutgoingCommand, ProcessCommit};
    let commands = vec![command("o-1", "l-1", 1), command("o-2", "l-2", 2), command("o-3", "l-3", 3)];
    store.commit_process("payout", send(commands.clone())).await.unwrap();
    let pending = store.pending_commands("payout", 10).await.unwrap();
    let ids: Vec<u64> = pending.iter().map(|c| c.id).collect();

    let before = stored(std::time::SystemTime::now());
    let commit = ProcessCommit {
        sent: vec![ids[0]],
        rejected: vec![(ids[1], "a credit must be positive: ünïcode".to_owned())],
        ..ProcessCommit::default()
    };
    store.commit_process("payout", commit).await.unwrap();
    let after = std::time::SystemTime::now();
    assert_eq!(store.pending_commands("payout", 10).await.unwrap(), pending[2..]);
    let rejected = store.rejected_commands("payout", 10).await.unwrap();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].command, OutgoingCommand { id: ids[1], ..commands[1].clone() });
    assert_eq!(rejected[0].error, "a credit must be positive: ünïcode");
    assert!(before <= rejected[0].rejected_at && rejected[0].rejected_at <= after, "{:?}", rejected[0].rejected_at);
    assert!(store.rejected_commands("refunds", 10).await.unwrap().is_empty());

    let commit = ProcessCommit {
        sent: vec![ids[1]],
        rejected: vec![(ids[1], "again".to_owned()), (ids[0], "carried out already".to_owned())],
        ..ProcessCommit::default()
    };
    store.commit_process("payout", commit).await.unwrap();
    assert_eq!(store.rejected_commands("payout", 10).await.unwrap(), rejected, "the record stays as it was");
    assert_eq!(store.pending_commands("payout", 10).await.unwrap(), pending[2..]);

    store
        .commit_process(
            "payout",
            ProcessCommit { rejected: vec![(ids[2], "no such ledger".to_owned())], ..ProcessCommit::default() },
        )
        .await
        .unwrap();
    assert!(store.pending_commands("payout", 10).await.unwrap().is_empty());
    let all = store.rejected_commands("payout", 10).await.unwrap();
    let errors: Vec<&str> = all.iter().map(|r| r.error.as_str()).collect();
    assert_eq!(errors, ["a credit must be positive: ünïcode", "no such ledger"], "the oldest first");
    assert_eq!(store.rejected_commands("payout", 1).await.unwrap(), all[..1]);
}

/// A commit that does not validate writes nothing of itself, and its error names what is wrong.
pub async fn an_invalid_process_commit_writes_nothing<S: EventStore>(store: S) {
    use factum::process::ProcessCommit;
    let valid = || ProcessCommit {
        position: Some(7),
        instances: vec![("o-1".to_owned(), Some("{}".to_owned()))],
        send: vec![command("o-1", "l-1", 1)],
        schedule: vec![deadline("o-1", "Remind", at(1))],
        ..ProcessCommit::default()
    };
    let mut bad_instance = valid();
    bad_instance.instances.push(("o\n2".to_owned(), Some("{}".to_owned())));
    let mut bad_deadline = valid();
    bad_deadline.schedule.push(deadline("", "Remind", at(2)));
    let mut bad_stream = valid();
    bad_stream.send.push(command("o-1", &"x".repeat(256), 2));
    let mut no_command_id = valid();
    no_command_id.send.push(factum::process::OutgoingCommand { metadata: Metadata::new(), ..command("o-1", "l-2", 2) });
    for (process, commit, names) in [
        ("payout", bad_instance, "process instance \"o\\n2\""),
        ("payout", bad_deadline, "process instance \"\""),
        ("payout", bad_stream, "stream id"),
        ("payout", no_command_id, "command id"),
        ("", valid(), "process name"),
    ] {
        let error = store.commit_process(process, commit).await.unwrap_err();
        assert!(error.is_invalid_input(), "{error}");
        assert!(error.to_string().contains(names), "{error} should name {names}");
    }
    assert_eq!(store.load_process_instance("payout", "o-1").await.unwrap(), None);
    assert!(store.pending_commands("payout", 10).await.unwrap().is_empty());
    assert_eq!(store.next_deadline("payout").await.unwrap(), None);
    assert_eq!(store.load_checkpoint("process:payout").await.unwrap(), None);
    assert_eq!(store.load_checkpoint("process:").await.unwrap(), None);
    store.commit_process("payout", valid()).await.unwrap();
    assert_eq!(store.load_process_instance("payout", "o-1").await.unwrap().as_deref(), Some("{}"));
}
