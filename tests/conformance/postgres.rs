//! Fresh PostgreSQL stores for the suite, one new schema each, and the tests only
//! PostgreSQL needs: readers never skip an event, waiters wake across stores, migrations
//! run once when processes connect together.
//!
//! Needs `FACTUM_POSTGRES_URL` (`scripts/postgres.sh start DIR` prints one); without it
//! every test here passes at once, after saying so.

use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use factum::{EventFilter, EventStore, Metadata, NewEvent, PostgresStore, StreamRef};

/// Query connections per store: the tests run in parallel, and the server allows 200.
const POOL_SIZE: usize = 4;

fn url() -> Option<String> {
    static SKIPPED: Once = Once::new();
    match std::env::var("FACTUM_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            SKIPPED.call_once(|| eprintln!("PostgreSQL conformance skipped: FACTUM_POSTGRES_URL is not set"));
            None
        }
    }
}

/// A schema name no other test, run or process uses.
pub fn fresh_schema() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
    format!("t_{}_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed), nanos % 1_000_000_000_000)
}

async fn connect(url: &str, schema: &str, pool_size: usize) -> PostgresStore {
    PostgresStore::connect_with(url, schema, pool_size)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to FACTUM_POSTGRES_URL (schema {schema}): {e}"))
}

/// An empty store in a new schema, or `None` when no server is configured.
pub async fn fresh_store() -> Option<PostgresStore> {
    let url = url()?;
    Some(connect(&url, &fresh_schema(), POOL_SIZE).await)
}

fn numbered(n: u64) -> NewEvent {
    NewEvent { name: "Numbered", version: 1, payload: format!(r#"{{"n":{n}}}"#) }
}

/// The gap problem: with positions from a plain sequence, an append that draws a position
/// and commits after a later one became visible is skipped by a reader that follows the
/// log from its last position. Here 8 writers (each its own store, as separate processes
/// would be) append while a reader follows; its positions must be exactly the log's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reader_following_positions_never_skips_an_event() {
    let Some(url) = url() else {
        eprintln!("a_reader_following_positions_never_skips_an_event: skipped");
        return;
    };
    const WRITERS: u64 = 8;
    const APPENDS: u64 = 120;
    const STREAMS_PER_WRITER: u64 = 6;
    let schema = fresh_schema();
    let reader = connect(&url, &schema, 1).await;
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let store = connect(&url, &schema, 1).await;
        writers.push(tokio::spawn(async move {
            let mut versions = [0u64; STREAMS_PER_WRITER as usize];
            let mut written = 0;
            for i in 0..APPENDS {
                let slot = (i % STREAMS_PER_WRITER) as usize;
                let id = format!("w{writer}-s{slot}");
                // Batches of 1 to 3 events, so that some appends take several positions.
                let events: Vec<NewEvent> = (0..1 + i % 3).map(|k| numbered(writer * 10_000 + i * 10 + k)).collect();
                let count = events.len() as u64;
                let appended =
                    store.append(StreamRef::new("gap", &id), versions[slot], &Metadata::new(), events).await.unwrap();
                versions[slot] = appended.version;
                written += count;
            }
            written
        }));
    }
    let follower = tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut last = 0;
        let mut caught_up_after_writers = false;
        while !caught_up_after_writers {
            // Read the flag first: an empty read after it means every write was visible.
            let writers_done = DONE.load(Ordering::Acquire);
            let batch = reader.read_all(last, EventFilter::ALL, 100).await.unwrap();
            if batch.is_empty() {
                caught_up_after_writers = writers_done;
                tokio::task::yield_now().await;
            }
            for event in batch {
                assert!(event.meta.position > last, "read_all goes forward");
                last = event.meta.position;
                seen.push(last);
            }
        }
        (reader, seen)
    });
    static DONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let mut written = 0;
    for writer in writers {
        written += writer.await.unwrap();
    }
    DONE.store(true, Ordering::Release);
    let (reader, seen) = follower.await.unwrap();
    let log: Vec<u64> =
        reader.read_all(0, EventFilter::ALL, usize::MAX).await.unwrap().iter().map(|e| e.meta.position).collect();
    assert_eq!(log.len() as u64, written, "every appended event is in the log");
    assert_eq!(seen.len(), log.len(), "the follower saw as many events as the log holds");
    assert_eq!(seen, log, "the follower saw every position, in order, none skipped");
    assert_eq!(log, (1..=written).collect::<Vec<_>>(), "positions are dense");
}

/// A waiter on one store wakes when another store (another process) appends to the same
/// schema, through the notification channel or the periodic re-check.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn waiters_wake_on_appends_by_another_store() {
    let Some(url) = url() else {
        eprintln!("waiters_wake_on_appends_by_another_store: skipped");
        return;
    };
    let schema = fresh_schema();
    let waiting = connect(&url, &schema, 1).await;
    let writing = connect(&url, &schema, 1).await;
    let waiter = tokio::spawn(async move { waiting.wait_for_events(0).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiter.is_finished(), "nothing was appended yet");
    writing.append(StreamRef::new("account", "a"), 0, &Metadata::new(), vec![numbered(1)]).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), waiter).await.expect("the waiter wakes up").unwrap().unwrap();
}

/// Processes that start together migrate the schema once, under the advisory lock, and
/// all end up on the same store.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_connects_migrate_once() {
    let Some(url) = url() else {
        eprintln!("concurrent_connects_migrate_once: skipped");
        return;
    };
    let schema = fresh_schema();
    let connects: Vec<_> = (0..6)
        .map(|_| {
            let (url, schema) = (url.clone(), schema.clone());
            tokio::spawn(async move { connect(&url, &schema, 1).await })
        })
        .collect();
    let mut stores = Vec::new();
    for connecting in connects {
        stores.push(connecting.await.unwrap());
    }
    let stream = StreamRef::new("account", "a");
    stores[0].append(stream, 0, &Metadata::new(), vec![numbered(1)]).await.unwrap();
    for store in &stores {
        assert_eq!(store.stream_version(stream).await.unwrap(), 1);
        assert_eq!(store.schema(), schema);
    }
    // And once more, on a schema that is already migrated.
    let again = connect(&url, &schema, 1).await;
    assert_eq!(again.head_position().await.unwrap(), 1);
}

/// Schema names that PostgreSQL would truncate or that are empty are refused.
#[tokio::test]
async fn bad_schema_names_are_rejected() {
    let Some(url) = url() else {
        eprintln!("bad_schema_names_are_rejected: skipped");
        return;
    };
    for schema in [String::new(), "x".repeat(64), "a\nb".to_owned()] {
        let error = PostgresStore::connect_with(&url, &schema, 1).await.unwrap_err();
        assert!(matches!(error, factum::StoreError::InvalidInput { .. }), "{error}");
    }
    // Quotes and case survive quoting.
    let odd = format!("Odd \"{}\"", fresh_schema());
    let store = connect(&url, &odd, 1).await;
    store.append(StreamRef::new("account", "a"), 0, &Metadata::new(), vec![numbered(1)]).await.unwrap();
    assert_eq!(store.head_position().await.unwrap(), 1);
}

/// A lease is held by one store of a schema at a time, passes on when dropped, and does not
/// reach into other schemas.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leases_are_exclusive_per_schema() {
    let Some(url) = url() else {
        eprintln!("leases_are_exclusive_per_schema: skipped");
        return;
    };
    let schema = fresh_schema();
    let first = connect(&url, &schema, 1).await;
    let second = connect(&url, &schema, 1).await;
    let elsewhere = connect(&url, &fresh_schema(), 1).await;
    let held = first.acquire_lease("projection:totals").await.unwrap();
    let waiting = tokio::spawn(async move { second.acquire_lease("projection:totals").await });
    let _other_name = first.acquire_lease("projection:other").await.unwrap();
    let _other_schema = tokio::time::timeout(Duration::from_secs(10), elsewhere.acquire_lease("projection:totals"))
        .await
        .expect("another schema has its own leases")
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "the lease is held");
    drop(held);
    tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the lease passes on when dropped")
        .unwrap()
        .unwrap();
    let error = first.acquire_lease("").await.unwrap_err();
    assert!(matches!(error, factum::StoreError::InvalidInput { .. }), "{error}");
}

/// Group commit: many appends at once through one store, to a few streams, most of them
/// racing for the same version. Every accepted append is stored once, at the positions it
/// was told, with versions 1..=n per stream; every rejected one is a conflict that names its
/// own stream; and a reader following the log meanwhile sees exactly the final log, whose
/// positions are dense.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_commit_together_and_conflicts_stay_their_own() {
    let Some(url) = url() else {
        eprintln!("concurrent_appends_commit_together_and_conflicts_stay_their_own: skipped");
        return;
    };
    const STREAMS: u64 = 4;
    const TASKS_PER_STREAM: u64 = 6;
    const APPENDS_PER_TASK: u64 = 25;
    let schema = fresh_schema();
    let store = connect(&url, &schema, POOL_SIZE).await;
    let reader = connect(&url, &schema, 1).await;
    let follower = tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut last = 0;
        loop {
            let writers_done = FOLLOWED_DONE.load(Ordering::Acquire);
            let batch = reader.read_all(last, EventFilter::ALL, 100).await.unwrap();
            if batch.is_empty() {
                if writers_done {
                    return seen;
                }
                tokio::task::yield_now().await;
            }
            for event in batch {
                assert!(event.meta.position > last, "read_all goes forward");
                last = event.meta.position;
                seen.push(last);
            }
        }
    });
    static FOLLOWED_DONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let mut tasks = Vec::new();
    for s in 0..STREAMS {
        for t in 0..TASKS_PER_STREAM {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let id = format!("s{s}");
                let stream = StreamRef::new("race", &id);
                // What the task believes the version is; it learns from its conflicts.
                let mut version = 0;
                let mut accepted = Vec::new();
                let mut conflicts = 0;
                for i in 0..APPENDS_PER_TASK {
                    let events: Vec<NewEvent> =
                        (0..1 + (t + i) % 3).map(|k| numbered(s * 1_000_000 + t * 10_000 + i * 10 + k)).collect();
                    let payloads: Vec<String> = events.iter().map(|e| e.payload.clone()).collect();
                    match store.append(stream, version, &Metadata::new(), events).await {
                        Ok(appended) => {
                            assert_eq!(appended.version, version + payloads.len() as u64);
                            assert_eq!(appended.positions.len(), payloads.len());
                            version = appended.version;
                            accepted.push((appended, payloads));
                        }
                        Err(factum::StoreError::Conflict { stream: named, expected, actual }) => {
                            assert_eq!((named.aggregate_type.as_str(), named.stream_id.as_str()), ("race", &*id));
                            assert_eq!(expected, version);
                            assert!(actual > expected, "a stream only grows: {actual} after {expected}");
                            version = actual;
                            conflicts += 1;
                        }
                        Err(other) => panic!("append failed: {other}"),
                    }
                }
                (id, accepted, conflicts)
            }));
        }
    }
    let mut accepted = Vec::new();
    let mut conflicts = 0;
    for task in tasks {
        let (id, appends, task_conflicts) = task.await.unwrap();
        conflicts += task_conflicts;
        accepted.extend(appends.into_iter().map(|(appended, payloads)| (id.clone(), appended, payloads)));
    }
    FOLLOWED_DONE.store(true, Ordering::Release);
    let seen = follower.await.unwrap();
    assert!(conflicts > 0, "tasks racing for one stream conflict");

    let log = store.read_all(0, EventFilter::ALL, usize::MAX).await.unwrap();
    let positions: Vec<u64> = log.iter().map(|e| e.meta.position).collect();
    assert_eq!(positions, (1..=log.len() as u64).collect::<Vec<_>>(), "positions are dense");
    assert_eq!(seen, positions, "the follower saw every position, in order, none skipped");
    // Each accepted append is in the log once, where it was told, in its stream's order.
    let stored: usize = accepted.iter().map(|(_, appended, _)| appended.positions.len()).sum();
    assert_eq!(stored, log.len(), "the log holds the accepted appends and nothing else");
    for (id, appended, payloads) in &accepted {
        let first_version = appended.version + 1 - payloads.len() as u64;
        for ((&position, payload), version) in appended.positions.iter().zip(payloads).zip(first_version..) {
            let event = &log[position as usize - 1];
            assert_eq!((event.meta.stream_id.as_str(), event.meta.stream_version), (id.as_str(), version));
            let stored: serde_json::Value = serde_json::from_str(&event.payload).unwrap();
            assert_eq!(stored, serde_json::from_str::<serde_json::Value>(payload).unwrap());
        }
    }
    for s in 0..STREAMS {
        let id = format!("s{s}");
        let versions: Vec<u64> = log.iter().filter(|e| e.meta.stream_id == id).map(|e| e.meta.stream_version).collect();
        assert_eq!(
            versions,
            (1..=versions.len() as u64).collect::<Vec<_>>(),
            "stream {id}: versions 1..=n in log order"
        );
        assert_eq!(store.stream_version(StreamRef::new("race", &id)).await.unwrap(), versions.len() as u64);
    }
}

/// A process commit is one transaction on the server too: when a statement of it fails there
/// (a deadline whose payload PostgreSQL cannot store as text, after the checkpoint, the
/// instance and the outbox were sent), nothing of it is kept, and the store's connections
/// are fine for the next commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_commit_that_fails_on_the_server_keeps_nothing() {
    use factum::process::ProcessCommit;

    use crate::suite::{at, command, deadline};

    let Some(url) = url() else {
        eprintln!("a_process_commit_that_fails_on_the_server_keeps_nothing: skipped");
        return;
    };
    // One connection, so the next commit runs on the one the failed commit used, if it was
    // handed back.
    let store = connect(&url, &fresh_schema(), 1).await;
    let commit = |payload: &str| ProcessCommit {
        position: Some(3),
        instances: vec![("o-1".to_owned(), Some("{}".to_owned()))],
        send: vec![command("o-1", "l-1", 1)],
        schedule: vec![factum::process::NewDeadline {
            payload: payload.to_owned(),
            ..deadline("o-1", "Expire", at(1))
        }],
        ..ProcessCommit::default()
    };
    let error = store.commit_process("payout", commit("nul \u{0} byte")).await.unwrap_err();
    assert!(!error.is_invalid_input(), "refused by the server, not before: {error}");
    assert_eq!(store.load_process_instance("payout", "o-1").await.unwrap(), None);
    assert!(store.pending_commands("payout", 10).await.unwrap().is_empty());
    assert_eq!(store.next_deadline("payout").await.unwrap(), None);
    assert_eq!(store.load_checkpoint("process:payout").await.unwrap(), None);

    store.commit_process("payout", commit("{}")).await.unwrap();
    assert_eq!(store.load_process_instance("payout", "o-1").await.unwrap().as_deref(), Some("{}"));
    assert_eq!(store.pending_commands("payout", 10).await.unwrap().len(), 1);
    assert!(store.next_deadline("payout").await.unwrap().is_some());
    assert_eq!(store.load_checkpoint("process:payout").await.unwrap().map(|c| c.position), Some(3));
}
