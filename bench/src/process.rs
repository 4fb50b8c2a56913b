//! Process-manager figures: events in → commands executed per second, and 10,000 due
//! deadlines fired, beside the projection runner's catch-up of the same events on the same
//! store.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use factum::prelude::*;
use factum::process::{NewDeadline, ProcessCommit, Steps};
use serde::{Deserialize, Serialize};

use crate::bank::MoneyDeposited;
use crate::measure::Stats;
use crate::table::{Table, num};
use crate::workload::{Settings, seed};

/// What the process manager sends: a receipt per deposit.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ReceiptIssued {
    pub amount: u64,
}

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum ReceiptError {}

#[derive(Aggregate, Default, Debug, Clone)]
#[aggregate(name = "receipt")]
pub struct Receipt {
    pub issued: u64,
}

#[handlers]
impl Receipt {
    #[command]
    pub fn issue(&self, amount: u64) -> Result<ReceiptIssued, ReceiptError> {
        Ok(ReceiptIssued { amount })
    }

    #[apply]
    fn issued(&mut self, _: &ReceiptIssued) {
        self.issued += 1;
    }
}

/// A deadline that ends its instance.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Expire;

/// One instance per account: each deposit sends a receipt to the account's receipt stream.
#[derive(ProcessManager, Default, Debug, Clone, Serialize, Deserialize)]
#[process(name = "receipts", sends = [Receipt])]
pub struct Receipts {
    pub deposits: u64,
}

#[handlers]
impl Receipts {
    #[on(start, aggregate = "bank-account")]
    fn deposited(&mut self, e: &MoneyDeposited, meta: &EventMeta, steps: &mut Steps<Self>) {
        self.deposits += 1;
        steps.send::<Receipt>(&meta.stream_id, ReceiptCommand::Issue { amount: e.amount });
    }

    #[deadline]
    fn expire(&mut self, _: Expire, steps: &mut Steps<Self>) {
        steps.end();
    }
}

const ACCOUNTS: usize = 1_000;
const EVENTS_PER_ACCOUNT: usize = 10;
const DEADLINES: usize = 10_000;

/// Rows: the process manager over a 10,000-deposit log (commands executed, one per
/// deposit), the projection runner's catch-up of the same log, and 10,000 due deadlines.
/// Each round runs on a store of its own from `make`.
pub async fn processes<S, F>(settings: &Settings, table: &mut Table, section: &'static str, make: F)
where
    S: EventStore + Clone,
    F: AsyncFn(usize) -> S,
{
    let deposits = (ACCOUNTS * (EVENTS_PER_ACCOUNT - 1)) as f64;
    let (mut processed, mut projected, mut fired) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..settings.rounds {
        let store = make(round).await;
        for i in 0..ACCOUNTS {
            seed(&store, &format!("pm-{i}"), EVENTS_PER_ACCOUNT).await;
        }
        let projection = factum::ProjectionRunner::<crate::bank::Balances, _>::start(store.clone()).await.unwrap();
        let start = Instant::now();
        projection.rebuild().await.expect("rebuild");
        projected.push(start.elapsed().as_secs_f64());

        let receipts = Arc::new(Repository::<Receipt, _>::new(store.clone()));
        let runner = ProcessRunner::<Receipts, _>::start(store.clone(), (receipts.clone(),)).await.unwrap();
        let start = Instant::now();
        runner.catch_up().await.expect("process catch-up");
        processed.push(start.elapsed().as_secs_f64());
        let sample = receipts.load("pm-7").await.unwrap().expect("receipts of pm-7");
        assert_eq!(sample.state.issued, (EVENTS_PER_ACCOUNT - 1) as u64, "one receipt per deposit");

        // 10,000 instances, each with a deadline that is due, stored as a runner would.
        let due = SystemTime::now() - Duration::from_secs(1);
        for chunk in (0..DEADLINES).collect::<Vec<_>>().chunks(1_000) {
            let mut commit = ProcessCommit::default();
            for i in chunk {
                let instance = format!("d-{i}");
                commit.instances.push((instance.clone(), Some(r#"{"deposits":0}"#.to_owned())));
                commit.schedule.push(NewDeadline {
                    instance,
                    kind: "Expire".to_owned(),
                    due_at: due,
                    payload: r#"{"Expire":null}"#.to_owned(),
                    correlation_id: None,
                });
            }
            store.commit_process("receipts", commit).await.expect("deadlines");
        }
        let start = Instant::now();
        runner.catch_up().await.expect("deadlines fire");
        fired.push(start.elapsed().as_secs_f64());
        assert_eq!(store.next_deadline("receipts").await.unwrap(), None, "every deadline fired");
    }
    let (processed, projected, fired) = (Stats::of(&processed), Stats::of(&projected), Stats::of(&fired));
    table
        .push(section, "process manager: deposits in → receipts executed, 10,000-event log", "events/s", processed.map(|s| deposits / s))
        .note(format!(
            "one command per event through `Repository::execute_with` (its own append each, 16 streams in flight), the outbox stored with the instances and position a batch of 500; {} ms",
            num(processed.median * 1e3)
        ));
    table
        .push(
            section,
            "projection catch-up of the same log, for comparison",
            "events/s",
            projected.map(|s| deposits / s),
        )
        .note(format!("the same run: {:.1}× the process manager's rate", processed.median / projected.median));
    table
        .push(
            section,
            "10,000 due deadlines fired (handler, instance ended)",
            "deadlines/s",
            fired.map(|s| DEADLINES as f64 / s),
        )
        .note(format!(
            "{} ms; the instances of 500 loaded in one query, then one transaction",
            num(fired.median * 1e3)
        ));
}
