use std::time::Duration;
use factum::prelude::*;
use factum::process::Steps;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct OrderPlaced { pub total: u64 }

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PaymentTaken { pub order_id: String }

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

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PaymentDue;

#[derive(ProcessManager, Default, Serialize, Deserialize)]
#[process(sends = [Order])]
pub struct PaymentDeadline { order: String }

#[handlers]
impl PaymentDeadline {
    #[on]
    fn placed(&mut self, _e: &OrderPlaced, meta: &EventMeta, steps: &mut Steps<Self>) {
        self.order = meta.stream_id.clone();
        steps.schedule(Duration::from_secs(900), PaymentDue);
    }

    #[deadline]
    fn payment_due(&mut self, _d: PaymentDue, steps: &mut Steps<Self>) { steps.end(); }
}

fn main() {}
