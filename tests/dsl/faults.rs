//! Failures the runtime handles by itself, or reports by cause: a store that fails on demand.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use factum::prelude::*;
use factum::{
    Appended, Checkpoint, EventFilter, NewEvent, RecordedEvent, RunnerStatus, Snapshot, StoreError, StreamRef,
};
use serde::{Deserialize, Serialize};

use crate::domain::*;

/// A `MemoryStore` whose operations fail, or misbehave, while their switch is on.
#[derive(Clone, Default)]
struct Faulty {
    inner: MemoryStore,
    switches: Arc<Switches>,
}

#[derive(Default)]
struct Switches {
    /// `head_position` and `wait_for_events` fail.
    head_fails: AtomicBool,
    /// `save_snapshot` fails.
    snapshots_fail: AtomicBool,
    /// `read_stream` leaves out the first event it would return (a store that lost a row).
    stream_reads_skip_one: AtomicBool,
}

fn on(switch: &AtomicBool) -> bool {
    switch.load(Ordering::SeqCst)
}

fn unavailable(what: &str) -> StoreError {
    StoreError::Backend(format!("{what}: connection refused").into())
}

impl EventStore for Faulty {
    async fn append(
        &self,
        stream: StreamRef<'_>,
        expected: u64,
        metadata: &Metadata,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        self.inner.append(stream, expected, metadata, events).await
    }

    async fn read_stream(&self, stream: StreamRef<'_>, from: u64, to: u64) -> Result<Vec<RecordedEvent>, StoreError> {
        let mut events = self.inner.read_stream(stream, from, to).await?;
        if on(&self.switches.stream_reads_skip_one) && !events.is_empty() {
            events.remove(0);
        }
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
        if on(&self.switches.head_fails) {
            return Err(unavailable("head"));
        }
        self.inner.head_position().await
    }

    async fn wait_for_events(&self, after: u64) -> Result<(), StoreError> {
        if on(&self.switches.head_fails) {
            return Err(unavailable("listen"));
        }
        self.inner.wait_for_events(after).await
    }

    async fn save_snapshot(&self, stream: StreamRef<'_>, snapshot: Snapshot) -> Result<(), StoreError> {
        if on(&self.switches.snapshots_fail) {
            return Err(unavailable("snapshot"));
        }
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

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Ticked;

#[derive(Aggregate, Default, Debug, Clone, Serialize, Deserialize)]
#[aggregate(snapshot_every = 2)]
pub struct Meter {
    ticks: u64,
}

#[handlers]
impl Meter {
    #[command]
    pub fn tick(&self) -> Result<Ticked, std::convert::Infallible> {
        Ok(Ticked)
    }

    #[apply]
    fn ticked(&mut self, _: &Ticked) {
        self.ticks += 1;
    }
}

#[tokio::test]
async fn a_snapshot_that_cannot_be_saved_does_not_fail_the_committed_command() {
    let store = Faulty::default();
    store.switches.snapshots_fail.store(true, Ordering::SeqCst);
    let meters = Repository::<Meter, _>::new(store.clone());
    for _ in 0..3 {
        meters.execute("m-1", MeterCommand::Tick).await.unwrap();
    }
    let stream = StreamRef::new("meter", "m-1");
    assert_eq!(store.load_snapshot(stream).await.unwrap(), None, "no snapshot was saved");
    let loaded = Repository::<Meter, _>::new(store.clone()).load("m-1").await.unwrap().unwrap();
    assert_eq!((loaded.version, loaded.state.ticks), (3, 3), "replayed instead");

    store.switches.snapshots_fail.store(false, Ordering::SeqCst);
    meters.execute("m-1", MeterCommand::Tick).await.unwrap();
    assert_eq!(store.load_snapshot(stream).await.unwrap().map(|s| s.version), Some(4));
}

#[tokio::test]
async fn a_store_that_skips_a_version_is_corrupt_not_the_callers_fault() {
    let store = Faulty::default();
    let ledgers = Repository::<Ledger, _>::with_services(store.clone(), Policy::default());
    ledgers.execute("l-1", LedgerCommand::Credit { amount: 1 }).await.unwrap();
    ledgers.execute("l-1", LedgerCommand::Credit { amount: 2 }).await.unwrap();

    store.switches.stream_reads_skip_one.store(true, Ordering::SeqCst);
    let fresh = Repository::<Ledger, _>::with_services(store.clone(), Policy::default());
    let error = fresh.load("l-1").await.unwrap_err();
    assert!(error.is_corrupt() && !error.is_invalid_input(), "{error:?}");
    assert_eq!(
        error.to_string(),
        "corrupt store: stream ledger/l-1: the store returned version 2 where version 1 was due"
    );
    let error = fresh.execute("l-1", LedgerCommand::Credit { amount: 3 }).await.unwrap_err();
    assert!(error.is_corrupt() && !error.is_invalid_input() && error.rejection().is_none(), "{error:?}");
}

#[tokio::test]
async fn caller_errors_and_operator_errors_are_told_apart() {
    let ledgers = Repository::<Ledger, _>::with_services(MemoryStore::new(), Policy::default());
    let bad_id = ledgers.execute("", LedgerCommand::Credit { amount: 1 }).await.unwrap_err();
    assert!(bad_id.is_invalid_input() && !bad_id.is_corrupt(), "{bad_id:?}");
    ledgers.execute("l-1", LedgerCommand::Freeze).await.unwrap();
    let rejected = ledgers.execute("l-1", LedgerCommand::Credit { amount: 1 }).await.unwrap_err();
    assert!(!rejected.is_invalid_input() && !rejected.is_corrupt(), "{rejected:?}");
    assert_eq!(rejected.rejection(), Some(&LedgerError::Frozen));
}

#[derive(Projection, Default, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Credits {
    count: u64,
}

#[handlers]
impl Credits {
    #[on]
    fn credited(&mut self, _: &Credited) {
        self.count += 1;
    }
}

#[tokio::test]
async fn health_reports_a_head_that_cannot_be_read_without_latching_it() {
    let store = Faulty::default();
    let runner = ProjectionRunner::<Credits, _>::start(store.clone()).await.unwrap();
    Repository::<Ledger, _>::with_services(store.clone(), Policy::default())
        .execute("l-1", LedgerCommand::Credit { amount: 1 })
        .await
        .unwrap();
    runner.catch_up().await.unwrap();

    store.switches.head_fails.store(true, Ordering::SeqCst);
    let health = runner.health().await;
    assert!(health.is_stopped(), "{health:?}");
    assert_eq!(
        health.status,
        RunnerStatus::Stopped {
            position: 1,
            event: None,
            stream: None,
            error: "the store's head cannot be read: storage backend: head: connection refused".into(),
        }
    );
    assert_eq!((health.position, health.head), (1, 1), "the last head seen");

    store.switches.head_fails.store(false, Ordering::SeqCst);
    assert_eq!(runner.health().await.status, RunnerStatus::CaughtUp, "health itself does not stop the runner");
}

#[tokio::test]
async fn a_runner_whose_store_fails_while_following_reports_stopped() {
    let store = Faulty::default();
    let runner = ProjectionRunner::<Credits, _>::start(store.clone()).await.unwrap();
    runner.catch_up().await.unwrap();
    store.switches.head_fails.store(true, Ordering::SeqCst);
    let error = runner.run().await.unwrap_err();
    assert!(!error.is_corrupt(), "a backend that fails is not corrupt data: {error}");
    store.switches.head_fails.store(false, Ordering::SeqCst);
    let health = runner.health().await;
    let RunnerStatus::Stopped { event: None, stream: None, error: message, .. } = &health.status else {
        panic!("expected a stopped runner with no event: {health:?}")
    };
    assert_eq!(*message, error.to_string());
    assert_eq!(message, "projection `credits`: storage backend: head: connection refused");

    // It stays stopped until a catch-up succeeds.
    assert!(runner.health().await.is_stopped());
    runner.catch_up().await.unwrap();
    assert_eq!(runner.health().await.status, RunnerStatus::CaughtUp);
}
