//! The repository on `MemoryStore`: loading, metadata, temporal queries, conflicts, the cache.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use factum::prelude::*;
use factum::{
    Appended, Checkpoint, EventFilter, NewEvent, RecordedEvent, RetryPolicy, Snapshot, StoreError, StreamRef,
};

use crate::domain::*;

/// Wraps a store, counting what is read, and optionally yielding before each append so that
/// concurrent commands interleave between deciding and appending.
#[derive(Clone, Default)]
struct Counting {
    inner: MemoryStore,
    stream_reads: Arc<AtomicU64>,
    events_read: Arc<AtomicU64>,
    yield_before_append: bool,
}

impl Counting {
    fn reads(&self) -> (u64, u64) {
        (self.stream_reads.load(Ordering::SeqCst), self.events_read.load(Ordering::SeqCst))
    }
}

impl EventStore for Counting {
    async fn append(
        &self,
        stream: StreamRef<'_>,
        expected: u64,
        metadata: &Metadata,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        if self.yield_before_append {
            tokio::task::yield_now().await;
        }
        self.inner.append(stream, expected, metadata, events).await
    }

    async fn read_stream(&self, stream: StreamRef<'_>, from: u64, to: u64) -> Result<Vec<RecordedEvent>, StoreError> {
        let events = self.inner.read_stream(stream, from, to).await?;
        self.stream_reads.fetch_add(1, Ordering::SeqCst);
        self.events_read.fetch_add(events.len() as u64, Ordering::SeqCst);
        Ok(events)
    }

    async fn stream_version(&self, stream: StreamRef<'_>) -> Result<u64, StoreError> {
        self.inner.stream_version(stream).await
    }

    async fn find_command(
        &self,
        stream: StreamRef<'_>,
        command_id: &str,
    ) -> Result<Option<std::ops::RangeInclusive<u64>>, StoreError> {
        self.inner.find_command(stream, command_id).await
    }

    async fn read_all(
        &self,
        after: u64,
        filter: EventFilter<'_>,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_all(after, filter, limit).await
    }

    async fn head_position(&self) -> Result<u64, StoreError> {
        self.inner.head_position().await
    }

    async fn wait_for_events(&self, after: u64) -> Result<(), StoreError> {
        self.inner.wait_for_events(after).await
    }

    async fn save_snapshot(&self, stream: StreamRef<'_>, snapshot: Snapshot) -> Result<(), StoreError> {
        self.inner.save_snapshot(stream, snapshot).await
    }

    async fn load_snapshot(&self, stream: StreamRef<'_>) -> Result<Option<Snapshot>, StoreError> {
        self.inner.load_snapshot(stream).await
    }

    async fn load_checkpoint(&self, name: &str) -> Result<Option<Checkpoint>, StoreError> {
        self.inner.load_checkpoint(name).await
    }

    async fn save_checkpoint(&self, name: &str, checkpoint: Checkpoint) -> Result<(), StoreError> {
        self.inner.save_checkpoint(name, checkpoint).await
    }

    async fn delete_checkpoint(&self, name: &str) -> Result<(), StoreError> {
        self.inner.delete_checkpoint(name).await
    }

    async fn record_failure(&self, name: &str, failure: factum::RunnerFailure) -> Result<(), StoreError> {
        self.inner.record_failure(name, failure).await
    }

    async fn load_failure(&self, name: &str) -> Result<Option<factum::RunnerFailure>, StoreError> {
        self.inner.load_failure(name).await
    }

    async fn load_process_instance(&self, process: &str, instance: &str) -> Result<Option<String>, StoreError> {
        self.inner.load_process_instance(process, instance).await
    }

    async fn commit_process(&self, process: &str, commit: factum::process::ProcessCommit) -> Result<(), StoreError> {
        self.inner.commit_process(process, commit).await
    }

    async fn pending_commands(
        &self,
        process: &str,
        limit: usize,
    ) -> Result<Vec<factum::process::OutgoingCommand>, StoreError> {
        self.inner.pending_commands(process, limit).await
    }

    async fn rejected_commands(
        &self,
        process: &str,
        limit: usize,
    ) -> Result<Vec<factum::process::RejectedCommand>, StoreError> {
        self.inner.rejected_commands(process, limit).await
    }

    async fn due_deadlines(
        &self,
        process: &str,
        until: std::time::SystemTime,
        limit: usize,
    ) -> Result<Vec<factum::process::DueDeadline>, StoreError> {
        self.inner.due_deadlines(process, until, limit).await
    }

    async fn next_deadline(&self, process: &str) -> Result<Option<std::time::SystemTime>, StoreError> {
        self.inner.next_deadline(process).await
    }

    async fn acquire_lease(&self, name: &str) -> Result<factum::Lease, StoreError> {
        self.inner.acquire_lease(name).await
    }

    async fn forget(&self, subject: &str, by: &str) -> Result<factum::Forgotten, StoreError> {
        self.inner.forget(subject, by).await
    }

    fn forget_epoch(&self) -> u64 {
        self.inner.forget_epoch()
    }

    async fn archive(&self, stream: StreamRef<'_>) -> Result<(), StoreError> {
        self.inner.archive(stream).await
    }

    async fn delete(&self, stream: StreamRef<'_>) -> Result<factum::StreamDeleted, StoreError> {
        self.inner.delete(stream).await
    }
}

fn ledgers<S: EventStore>(store: S) -> Repository<Ledger, S> {
    Repository::with_services(store, Policy::default())
}

#[tokio::test]
async fn a_stream_without_events_is_absent_not_default() {
    let repo = ledgers(MemoryStore::new());
    assert!(repo.load("nobody").await.unwrap().is_none());
    assert!(repo.load_at("nobody", 3).await.unwrap().is_none());
    assert!(repo.events("nobody").await.unwrap().is_empty());
    // A command that records nothing leaves the stream absent.
    let committed = repo.execute("l-1", LedgerCommand::CreditEach { amounts: vec![] }).await.unwrap();
    assert_eq!((committed.version, committed.events.len()), (0, 0));
    assert!(repo.load("l-1").await.unwrap().is_none());
}

#[tokio::test]
async fn execute_then_load_and_events_with_metadata() {
    let repo = ledgers(MemoryStore::new());
    repo.execute("l-1", LedgerCommand::Open { owner: "Ada".into() }).await.unwrap();
    let metadata = Metadata::new().with_correlation_id("corr-1").with_causation_id("cmd-7").with("user", "ada");
    let committed =
        repo.execute_with("l-1", LedgerCommand::CreditEach { amounts: vec![5, 6] }, metadata.clone()).await.unwrap();
    assert_eq!((committed.version, committed.positions.as_slice(), committed.attempts), (3, &[2, 3][..], 1));

    let loaded = repo.load("l-1").await.unwrap().unwrap();
    assert_eq!((loaded.version, loaded.state.balance, loaded.state.owner.as_deref()), (3, 11, Some("Ada")));

    let events = repo.events("l-1").await.unwrap();
    assert_eq!(events.len(), 3);
    assert!(events[0].meta.metadata.is_empty());
    for (i, envelope) in events.iter().enumerate() {
        assert_eq!(envelope.meta.stream_version, i as u64 + 1);
        assert_eq!((envelope.meta.aggregate_type.as_str(), envelope.meta.stream_id.as_str()), ("ledger", "l-1"));
    }
    assert_eq!(events[2].meta.metadata, metadata);
    assert_eq!(events[2].meta.event_name, "Credited");
    assert_eq!(events[2].event, LedgerEvent::Credited(Credited { amount: 6 }));
}

#[tokio::test]
async fn rejected_commands_store_nothing() {
    let repo = ledgers(MemoryStore::new());
    repo.execute("l-1", LedgerCommand::Freeze).await.unwrap();
    let error = repo.execute("l-1", LedgerCommand::Credit { amount: 1 }).await.unwrap_err();
    assert_eq!(error.rejection(), Some(&LedgerError::Frozen));
    assert_eq!(error.to_string(), "command rejected: the ledger is frozen");
    assert_eq!(repo.store().stream_version(StreamRef::new("ledger", "l-1")).await.unwrap(), 1);
}

#[tokio::test]
async fn load_at_replays_up_to_a_version() {
    let repo = ledgers(MemoryStore::new());
    for amount in 1..=5 {
        repo.execute("l-1", LedgerCommand::Credit { amount }).await.unwrap();
    }
    let at = |v| {
        let repo = &repo;
        async move { repo.load_at("l-1", v).await.unwrap().map(|l| (l.version, l.state.balance)) }
    };
    assert_eq!(at(0).await, None);
    assert_eq!(at(1).await, Some((1, 1)));
    assert_eq!(at(3).await, Some((3, 6)));
    assert_eq!(at(5).await, Some((5, 15)));
    assert_eq!(at(99).await, Some((5, 15)), "past the end: the current state and its version");
}

#[tokio::test]
async fn invalid_stream_ids_are_rejected_with_the_reason() {
    let repo = ledgers(MemoryStore::new());
    let error = repo.execute("", LedgerCommand::Freeze).await.unwrap_err();
    assert_eq!(error.to_string(), r#"invalid stream id "": it is empty"#);
    let long = "x".repeat(300);
    let error = repo.load(&long).await.unwrap_err();
    assert!(error.to_string().contains("it is 300 bytes long; the limit is 255"), "{error}");
}

/// Eight repositories (eight "processes") on one store and one stream: every command lands
/// exactly once, the versions run 1..=n without gaps or repeats, and conflicts were retried.
#[tokio::test(flavor = "current_thread")]
async fn concurrent_writers_on_one_stream_retry_conflicts_and_lose_nothing() {
    const WRITERS: u64 = 8;
    const COMMANDS: u64 = 25;
    let store = Counting { yield_before_append: true, ..Counting::default() };
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        // Eight writers in lockstep on one stream starve one another under the default ten
        // attempts on a loaded machine; this test is about what retries do, not how often.
        let retry = RetryPolicy { max_attempts: 1000, ..RetryPolicy::default() };
        let repo = ledgers(store.clone()).with_retry(retry);
        tasks.push(tokio::spawn(async move {
            let mut attempts = 0;
            for i in 0..COMMANDS {
                let amount = writer * 1000 + i;
                attempts += repo.execute("hot", LedgerCommand::Credit { amount }).await.unwrap().attempts;
            }
            attempts
        }));
    }
    let mut attempts = 0;
    for task in tasks {
        attempts += task.await.unwrap();
    }
    assert!(u64::from(attempts) > WRITERS * COMMANDS, "the writers never met a conflict: {attempts} attempts");

    let events = ledgers(store.clone()).events("hot").await.unwrap();
    let versions: Vec<u64> = events.iter().map(|e| e.meta.stream_version).collect();
    assert_eq!(versions, (1..=WRITERS * COMMANDS).collect::<Vec<_>>());
    let amounts: BTreeSet<u64> = events
        .iter()
        .map(|e| match &e.event {
            LedgerEvent::Credited(c) => c.amount,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    let expected: BTreeSet<u64> = (0..WRITERS).flat_map(|w| (0..COMMANDS).map(move |i| w * 1000 + i)).collect();
    assert_eq!(amounts, expected, "every command recorded exactly once");
}

/// Eight tasks sharing one repository: commands on one aggregate are serialized in-process.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_tasks_on_one_repository_are_serialized_per_aggregate() {
    let repo = Arc::new(ledgers(MemoryStore::new()));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let repo = Arc::clone(&repo);
        tasks.push(tokio::spawn(async move {
            for _ in 0..50 {
                let committed = repo.execute("shared", LedgerCommand::Credit { amount: 1 }).await.unwrap();
                assert_eq!(committed.attempts, 1);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let loaded = repo.load("shared").await.unwrap().unwrap();
    assert_eq!((loaded.version, loaded.state.balance), (400, 400));
}

#[tokio::test]
async fn a_stale_cache_catches_up_or_gives_up_by_policy() {
    let store = MemoryStore::new();
    let patient = ledgers(store.clone());
    let impatient = ledgers(store.clone()).with_retry(RetryPolicy { max_attempts: 1, ..RetryPolicy::default() });
    let other = ledgers(store.clone());
    patient.execute("l-1", LedgerCommand::Credit { amount: 1 }).await.unwrap();
    impatient.load("l-1").await.unwrap();
    other.execute("l-1", LedgerCommand::Credit { amount: 2 }).await.unwrap();

    // The cached state of `patient` is at version 1; the stream is at 2.
    let committed = patient.execute("l-1", LedgerCommand::Credit { amount: 3 }).await.unwrap();
    assert_eq!((committed.version, committed.attempts), (3, 2));
    assert_eq!(patient.load("l-1").await.unwrap().unwrap().state.balance, 6);

    let error = impatient.execute("l-1", LedgerCommand::Credit { amount: 4 }).await.unwrap_err();
    assert!(matches!(error, ExecuteError::Conflict { attempts: 1, .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "gave up after 1 attempts on a concurrency conflict: stream ledger/l-1: expected version 1, but the stream is at version 3"
    );
}

/// A command against a 100,000-event stream reads the stream once, when the aggregate is
/// first loaded; after that each command reads nothing.
#[tokio::test]
async fn hot_aggregates_are_cached_and_do_not_replay_their_stream() {
    const LENGTH: u64 = 100_000;
    let store = Counting::default();
    let stream = StreamRef::new("ledger", "long");
    let credit = NewEvent { name: "Credited", version: 1, payload: r#"{"amount":1}"#.into() };
    for batch in 0..(LENGTH / 1000) {
        let events = vec![credit.clone(); 1000];
        store.inner.append(stream, batch * 1000, &Metadata::new(), events).await.unwrap();
    }

    let repo = ledgers(store.clone());
    repo.execute("long", LedgerCommand::Credit { amount: 1 }).await.unwrap();
    assert_eq!(store.reads(), (1, LENGTH), "the first command loads the stream once");

    for _ in 0..100 {
        repo.execute("long", LedgerCommand::Credit { amount: 1 }).await.unwrap();
    }
    assert_eq!(store.reads(), (1, LENGTH), "later commands read nothing");
    let loaded = repo.load("long").await.unwrap().unwrap();
    assert_eq!((loaded.version, loaded.state.balance), (LENGTH + 101, LENGTH + 101));
    assert_eq!(store.reads(), (2, LENGTH), "load only asks for the tail, which is empty");

    // With the cache off, every command replays the whole stream.
    let uncached = ledgers(store.clone()).with_cache_capacity(0);
    uncached.execute("long", LedgerCommand::Credit { amount: 1 }).await.unwrap();
    uncached.execute("long", LedgerCommand::Credit { amount: 1 }).await.unwrap();
    assert_eq!(store.reads().1, LENGTH + (LENGTH + 101) + (LENGTH + 102));
}
