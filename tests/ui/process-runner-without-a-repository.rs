use factum::prelude::*;
use factum::process::Steps;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct OrderPlaced { pub total: u64 }

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct OrderCancelled { pub reason: String }

#[derive(Aggregate, Default, Debug, Clone)]
pub struct Order { cancelled: bool }

#[handlers]
impl Order {
    #[command]
    pub fn cancel(&self, reason: String) -> Result<OrderCancelled, std::convert::Infallible> { Ok(OrderCancelled { reason }) }
    #[apply]
    fn cancelled(&mut self, _: &OrderCancelled) { self.cancelled = true; }
}

#[derive(ProcessManager, Default, Serialize, Deserialize)]
#[process(sends = [Order])]
pub struct Canceller { order: String }

#[handlers]
impl Canceller {
    #[on(start)]
    fn placed(&mut self, _: &OrderPlaced, meta: &EventMeta, steps: &mut Steps<Self>) {
        self.order = meta.stream_id.clone();
        steps.send::<Order>(&self.order, OrderCommand::Cancel { reason: "at once".into() });
    }
}

async fn run() {
    let store = MemoryStore::new();
    // `sends = [Order]`: the runner needs the orders' repository, `(orders,)`.
    let _runner = ProcessRunner::<Canceller, _>::start(store, ()).await;
}

fn main() {
    let _ = run();
}
