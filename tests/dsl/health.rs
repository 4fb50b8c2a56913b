//! Projection health: what a runner reports while starting, behind, caught up and stopped, and
//! how a stopped one recovers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use factum::prelude::*;
use factum::{NewEvent, ProjectionError, RunnerHealth, RunnerStatus, StreamRef};
use serde::{Deserialize, Serialize};

use crate::domain::*;

/// Sums every credit; fails on a credit while `BROKEN` is set (a bug, until it is fixed).
#[derive(Projection, Default, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[projection(name = "credit-sums")]
pub struct CreditSums {
    total: u64,
}

static BROKEN: AtomicBool = AtomicBool::new(false);

#[handlers]
impl CreditSums {
    #[on]
    fn credited(&mut self, e: &Credited) -> Result<(), String> {
        if BROKEN.load(Ordering::SeqCst) {
            return Err(format!("cannot add {}: the handler is broken", e.amount));
        }
        self.total += e.amount;
        Ok(())
    }
}

/// Counts credits; never fails by itself, so only a bad stored event stops it.
#[derive(Projection, Default, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[projection(name = "credit-count")]
pub struct CreditCount {
    credits: u64,
}

#[handlers]
impl CreditCount {
    #[on]
    fn credited(&mut self, _: &Credited) {
        self.credits += 1;
    }
}

fn ledgers(store: MemoryStore) -> Repository<Ledger, MemoryStore> {
    Repository::with_services(store, Policy::default())
}

#[tokio::test]
async fn a_runner_reports_starting_then_caught_up_then_catching_up() {
    let store = MemoryStore::new();
    ledgers(store.clone()).execute("l-1", LedgerCommand::Credit { amount: 5 }).await.unwrap();
    let runner = ProjectionRunner::<CreditCount, _>::start(store.clone()).await.unwrap();
    let health = runner.health().await;
    assert_eq!(
        health,
        RunnerHealth { name: "credit-count", status: RunnerStatus::Starting, position: 0, head: 1, lag: 1 }
    );
    assert!(!health.is_stopped());

    runner.catch_up().await.unwrap();
    assert_eq!(
        runner.health().await,
        RunnerHealth { name: "credit-count", status: RunnerStatus::CaughtUp, position: 1, head: 1, lag: 0 }
    );

    ledgers(store.clone()).execute("l-1", LedgerCommand::Credit { amount: 6 }).await.unwrap();
    let behind = runner.health().await;
    assert_eq!((behind.status, behind.position, behind.head, behind.lag), (RunnerStatus::CatchingUp, 1, 2, 1));
}

/// A payload that does not decode as the projection's event type, planted with
/// `EventStore::append` as a buggy writer would have stored it.
#[tokio::test]
async fn a_planted_bad_event_stops_the_runner_and_health_names_it() {
    let store = MemoryStore::new();
    let ledgers = ledgers(store.clone());
    ledgers.execute("l-1", LedgerCommand::Credit { amount: 5 }).await.unwrap();
    let bad = NewEvent { name: "Credited", version: 1, payload: r#"{"amount":"five"}"#.into() };
    let planted = store.append(StreamRef::new("ledger", "l-2"), 0, &Metadata::new(), vec![bad]).await.unwrap();
    let position = planted.positions[0];
    ledgers.execute("l-1", LedgerCommand::Credit { amount: 6 }).await.unwrap();

    let runner = ProjectionRunner::<CreditCount, _>::start(store.clone()).await.unwrap();
    let error = runner.catch_up().await.unwrap_err();
    assert!(error.is_corrupt(), "an event that does not decode is stored data the code cannot read: {error}");
    assert!(matches!(&error, ProjectionError::Event { position: p, .. } if *p == position), "{error:?}");

    let health = runner.health().await;
    assert!(health.is_stopped());
    assert_eq!((health.position, health.head, health.lag), (1, 3, 2), "stopped right before the bad event");
    let RunnerStatus::Stopped { position: at, event, stream, error: message } = &health.status else {
        panic!("expected a stopped runner, got {health:?}")
    };
    assert_eq!((*at, event.as_deref(), stream.as_deref()), (position, Some("Credited"), Some("ledger/l-2")));
    assert!(
        message
            .contains("event `Credited` version 1: the payload does not match the type: invalid type: string \"five\""),
        "{message}"
    );
    assert_eq!(*message, error.to_string());

    // Trying again meets the same event: still stopped, at the same place.
    assert!(runner.catch_up().await.is_err());
    assert_eq!(runner.health().await, health);
    // So does a rebuild; a projection that does not subscribe to the event is not affected.
    assert!(runner.rebuild().await.is_err());
    assert!(runner.health().await.is_stopped());
    let others = ProjectionRunner::<Untouched, _>::start(store).await.unwrap();
    others.catch_up().await.unwrap();
    assert_eq!(others.health().await.status, RunnerStatus::CaughtUp);
}

/// Subscribes to `Opened` only: the bad `Credited` is not in its filter.
#[derive(Projection, Default, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Untouched {
    owners: u64,
}

#[handlers]
impl Untouched {
    #[on]
    fn opened(&mut self, _: &Opened) {
        self.owners += 1;
    }
}

#[tokio::test]
async fn a_stopped_runner_stays_stopped_until_a_catch_up_succeeds_and_inline_health_lists_it() {
    let store = MemoryStore::new();
    let sums = Arc::new(ProjectionRunner::<CreditSums, _>::start(store.clone()).await.unwrap());
    let counts = Arc::new(ProjectionRunner::<CreditCount, _>::start(store.clone()).await.unwrap());
    let ledgers = ledgers(store.clone()).with_inline(sums.clone()).with_inline(counts.clone());
    ledgers.execute("l-1", LedgerCommand::Credit { amount: 5 }).await.unwrap();
    let listed: Vec<_> = ledgers.inline_health().await.into_iter().map(|h| (h.name, h.status)).collect();
    assert_eq!(listed, [("credit-sums", RunnerStatus::CaughtUp), ("credit-count", RunnerStatus::CaughtUp)]);

    BROKEN.store(true, Ordering::SeqCst);
    let error = ledgers.execute("l-1", LedgerCommand::Credit { amount: 6 }).await.unwrap_err();
    BROKEN.store(false, Ordering::SeqCst);
    let ExecuteError::Projection { version, positions, source: stopped } = &error else {
        panic!("expected an inline projection's error: {error:?}")
    };
    let stored = ledgers.store().read_stream(StreamRef::new(Ledger::NAME, "l-1"), 1, u64::MAX).await.unwrap();
    let last = stored.last().expect("the command was committed");
    assert_eq!((*version, positions.as_slice()), (last.meta.stream_version, [last.meta.position].as_slice()));
    assert!(!stopped.is_corrupt() && !error.is_corrupt(), "a handler's own error is not corrupt data");
    let health = ledgers.inline_health().await;
    assert_eq!(
        health[0].status,
        RunnerStatus::Stopped {
            position: 2,
            event: Some("Credited".into()),
            stream: Some("ledger/l-1".into()),
            error: "projection `credit-sums` stopped at position 2 (stream ledger/l-1, version 2, event `Credited`): cannot add 6: the handler is broken".into(),
        }
    );
    // No checkpoint was due yet (the default policy writes one every 1,000 events or 1 s),
    // so putting the state back as it was before the failing event means applying event 1
    // again from the stored start; the handler, broken for every event, fails on it too. The
    // runner then reports the stored checkpoint's position and reloads it on its next
    // catch-up.
    assert_eq!((health[0].position, health[0].lag), (0, 2));
    assert!(!health[1].is_stopped(), "the other inline projection was not stopped");
    // ... and took the event all the same: a failing inline projection does not hold back
    // the ones added after it.
    assert_eq!((health[1].status.clone(), health[1].position, health[1].lag), (RunnerStatus::CaughtUp, 2, 0));

    // The handler is fixed: the next successful catch-up (here, the next command's) clears it.
    assert!(sums.health().await.is_stopped(), "stays stopped by itself");
    ledgers.execute("l-1", LedgerCommand::Credit { amount: 7 }).await.unwrap();
    let health = sums.health().await;
    assert_eq!((health.status, health.position, health.lag), (RunnerStatus::CaughtUp, 3, 0));
    assert_eq!(sums.state().await.total, 18);
}

#[tokio::test]
async fn a_rebuild_recovers_a_stopped_runner() {
    let store = MemoryStore::new();
    ledgers(store.clone()).execute("l-9", LedgerCommand::Credit { amount: 1 }).await.unwrap();
    let runner = ProjectionRunner::<CreditSumsTwin, _>::start(store.clone()).await.unwrap();
    TWIN_BROKEN.store(true, Ordering::SeqCst);
    runner.catch_up().await.unwrap_err();
    assert!(runner.health().await.is_stopped());
    TWIN_BROKEN.store(false, Ordering::SeqCst);
    assert_eq!(runner.rebuild().await.unwrap(), 1);
    assert_eq!(runner.health().await.status, RunnerStatus::CaughtUp);
}

/// Like `CreditSums`, with a flag of its own, so the tests do not break each other's handler.
#[derive(Projection, Default, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreditSumsTwin {
    total: u64,
}

static TWIN_BROKEN: AtomicBool = AtomicBool::new(false);

#[handlers]
impl CreditSumsTwin {
    #[on]
    fn credited(&mut self, e: &Credited) -> Result<(), String> {
        if TWIN_BROKEN.load(Ordering::SeqCst) {
            return Err("broken".to_owned());
        }
        self.total += e.amount;
        Ok(())
    }
}

#[test]
fn a_stopped_runner_serializes_with_what_stopped_it() {
    let health = RunnerHealth {
        name: "balances",
        status: RunnerStatus::Stopped {
            position: 17,
            event: Some("Deposited".into()),
            stream: Some("bank-account/acc-1".into()),
            error: "boom".into(),
        },
        position: 16,
        head: 20,
        lag: 4,
    };
    assert_eq!(
        serde_json::to_value(&health).unwrap(),
        serde_json::json!({
            "name": "balances",
            "status": { "status": "stopped", "position": 17, "event": "Deposited", "stream": "bank-account/acc-1", "error": "boom" },
            "position": 16, "head": 20, "lag": 4,
        })
    );
    let starting = serde_json::to_value(RunnerStatus::CatchingUp).unwrap();
    assert_eq!(starting, serde_json::json!({ "status": "catching_up" }));
}

/// A checkpoint whose state no longer fits the projection's type (its fields changed) stops
/// the start with an error that says how to recover; deleting the checkpoint, as it says,
/// makes the next start rebuild from the log.
#[tokio::test]
async fn a_checkpoint_of_another_shape_says_how_to_rebuild() {
    let store = MemoryStore::new();
    ledgers(store.clone()).execute("l-1", LedgerCommand::Credit { amount: 5 }).await.unwrap();
    let older = factum::Checkpoint { position: 1, state: r#"{"sum":5}"#.into() };
    store.save_checkpoint("credit-count", older).await.unwrap();

    let error = ProjectionRunner::<CreditCount, _>::start(store.clone()).await.unwrap_err();
    assert!(matches!(&error, ProjectionError::State { projection: "credit-count", position: 1, .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("delete its checkpoint (`factum reset credit-count`, or `EventStore::delete_checkpoint`)")
    );

    store.delete_checkpoint("credit-count").await.unwrap();
    let runner = ProjectionRunner::<CreditCount, _>::start(store.clone()).await.unwrap();
    assert_eq!(runner.catch_up().await.unwrap(), 1);
    assert_eq!(runner.state().await, CreditCount { credits: 1 });
}
