use factum::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Debug, Clone, PartialEq)]
pub struct Deposited { pub amount: u64 }

#[derive(Projection, Default, Serialize, Deserialize)]
pub struct Totals { total: u64 }

#[handlers]
impl Totals {
    #[on]
    fn deposited(&mut self, e: &Deposited) { self.total += e.amount; }

    #[query]
    pub fn total(&self) -> u64 { self.total }
}

// Running and testing the projection add no error of their own.
async fn run() {
    let totals = ProjectionRunner::<Totals, _>::start(MemoryStore::new()).await.unwrap();
    let _ = totals.ask(TotalsQuery::Total).await;
}

fn main() {
    let _ = run();
    factum::testing::projection::<Totals>().then_answer(TotalsQuery::Total, TotalsAnswer::Total(0));
}
