//! The `PaymentWindow` process manager: an order not paid within the payment window is
//! cancelled by the shop.
//!
//! Each placed order starts an instance, keyed by the order's id, that sets a deadline. If
//! the order is paid or cancelled first, the instance ends and its deadline with it. If the
//! deadline comes first, the instance sends `Expire` to the order, which records
//! `OrderExpired` ("cancelled: not paid in time" in its history). The window is part of the
//! order's terms: the shop writes it into the metadata of the `Place` command
//! ([`PAYMENT_WINDOW_KEY`]), so an order keeps the window it was placed under when the
//! shop restarts with another.

use std::time::Duration;

use factum::prelude::*;
use factum::process::Steps;
use serde::{Deserialize, Serialize};

use super::order::{Order, OrderCancelled, OrderCommand, OrderPaid, OrderPlaced};

/// How long a placed order waits for its payment unless the shop is told otherwise
/// (`--payment-window-secs`).
pub const DEFAULT_PAYMENT_WINDOW: Duration = Duration::from_secs(15 * 60);

/// The metadata key of the `Place` command holding the order's payment window, in seconds.
pub const PAYMENT_WINDOW_KEY: &str = "payment-window-secs";

/// The deadline: the order's payment window has closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentDue;

/// Cancels an order that is not paid in time.
#[derive(ProcessManager, Default, Debug, Clone, Serialize, Deserialize)]
#[process(name = "payment-window", sends = [Order])]
pub struct PaymentWindow {
    order: String,
}

#[handlers]
impl PaymentWindow {
    #[on(start)]
    fn placed(&mut self, _: &OrderPlaced, meta: &EventMeta, steps: &mut Steps<Self>) {
        self.order = meta.stream_id.clone();
        let window = meta
            .metadata
            .get(PAYMENT_WINDOW_KEY)
            .and_then(|secs| secs.parse().ok())
            .map_or(DEFAULT_PAYMENT_WINDOW, Duration::from_secs);
        steps.schedule(window, PaymentDue);
    }

    #[on(end)]
    fn paid(&mut self, _: &OrderPaid) {}

    #[on(end)]
    fn cancelled(&mut self, _: &OrderCancelled) {}

    #[deadline]
    fn payment_due(&mut self, _: PaymentDue, steps: &mut Steps<Self>) {
        steps.send::<Order>(&self.order, OrderCommand::Expire);
        steps.end();
    }
}

#[cfg(test)]
mod tests {
    use factum::testing::process;
    use factum::{Metadata, Pii};

    use super::*;

    fn placed() -> OrderPlaced {
        OrderPlaced {
            customer_id: "c-1".into(),
            customer_name: Pii::new("Ada Lovelace".into()),
            address: Pii::new("12 St James's Square, London".into()),
            lines: Vec::new(),
            total: 1250,
        }
    }

    #[test]
    fn an_unpaid_order_expires_when_its_window_closes() {
        process::<PaymentWindow>()
            .given("order", "o-1", placed())
            .then_schedules([PaymentDue])
            .then_schedules_in(DEFAULT_PAYMENT_WINDOW)
            .advance(DEFAULT_PAYMENT_WINDOW - Duration::from_secs(1))
            .then_sends_nothing()
            .advance(Duration::from_secs(1))
            .then_sends::<Order>([("o-1", OrderCommand::Expire)])
            .then_ends();
    }

    #[test]
    fn a_paid_or_cancelled_order_does_not_expire() {
        process::<PaymentWindow>()
            .given("order", "o-1", placed())
            .given("order", "o-2", placed())
            .given("order", "o-1", OrderPaid { amount: 1250 })
            .then_ends()
            .given("order", "o-2", OrderCancelled)
            .then_ends()
            .advance(DEFAULT_PAYMENT_WINDOW * 2)
            .then_sends_nothing();
    }

    #[test]
    fn the_window_comes_from_the_place_command() {
        let terms = Metadata::new().with(PAYMENT_WINDOW_KEY, "60");
        process::<PaymentWindow>()
            .given_with("order", "o-1", placed(), terms)
            .then_schedules_in(Duration::from_secs(60))
            .advance(Duration::from_secs(60))
            .then_sends::<Order>([("o-1", OrderCommand::Expire)]);
    }
}
