//! The sales board: a second service, on another port and with a store of its own, whose read
//! model is fed only through NATS JetStream (feature `nats`). A program of its own, so its
//! read model is not part of the shop's event model (`CATALOG.md`).
//!
//! The shop publishes its events (`factum-shop --nats URL`); this service subscribes to them
//! and keeps [`Sales`] in its own SQLite file, never reading the shop's store. Started again,
//! it resumes from its own checkpoint.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use factum::nats::NatsSubscriber;
use factum::prelude::*;
use factum::{EventStore, ProjectionRunner};
use serde::{Deserialize, Serialize};

use factum_shop::models::Cents;
use factum_shop::models::order::{OrderCancelled, OrderPaid, OrderPlaced, OrderShipped};

/// What the sales board shows: orders by what became of them, and the money.
#[derive(Projection, Default, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[projection(name = "sales")]
pub struct Sales {
    pub placed: u64,
    pub paid: u64,
    pub shipped: u64,
    pub cancelled: u64,
    /// The totals of the orders placed, in cents.
    pub ordered: i64,
    /// What was paid, in cents.
    pub revenue: i64,
    /// The position in the shop's log of the last event seen.
    pub position: u64,
}

#[handlers]
impl Sales {
    #[on]
    fn placed(&mut self, event: &OrderPlaced, meta: &EventMeta) {
        self.placed += 1;
        self.ordered += event.total;
        self.position = meta.position;
    }

    #[on]
    fn paid(&mut self, event: &OrderPaid, meta: &EventMeta) {
        self.paid += 1;
        self.revenue += event.amount;
        self.position = meta.position;
    }

    #[on]
    fn shipped(&mut self, _: &OrderShipped, meta: &EventMeta) {
        self.shipped += 1;
        self.position = meta.position;
    }

    #[on]
    fn cancelled(&mut self, _: &OrderCancelled, meta: &EventMeta) {
        self.cancelled += 1;
        self.position = meta.position;
    }
}

/// The board's routes: `GET /` a page, `GET /api/sales` the JSON.
pub fn router<S: EventStore>(subscriber: Arc<NatsSubscriber<Sales, S>>) -> axum::Router {
    axum::Router::new().route("/", get(page::<S>)).route("/api/sales", get(json::<S>)).with_state(subscriber)
}

async fn json<S: EventStore>(State(subscriber): State<Arc<NatsSubscriber<Sales, S>>>) -> Json<Sales> {
    Json(subscriber.runner().state().await)
}

async fn page<S: EventStore>(State(subscriber): State<Arc<NatsSubscriber<Sales, S>>>) -> Html<String> {
    let sales = subscriber.runner().state().await;
    Html(format!(
        "<!doctype html><title>Sales</title><h1>Sales</h1>\
         <p>fed through NATS, up to position {} of the shop's log</p>\
         <table><tr><td>orders placed</td><td>{}</td><td>{}</td></tr>\
         <tr><td>paid</td><td>{}</td><td>{}</td></tr>\
         <tr><td>shipped</td><td>{}</td><td></td></tr><tr><td>cancelled</td><td>{}</td><td></td></tr></table>",
        sales.position,
        sales.placed,
        Cents(sales.ordered),
        sales.paid,
        Cents(sales.revenue),
        sales.shipped,
        sales.cancelled
    ))
}

/// Subscribes `local` (the board's own store) to the events `source` publishes on NATS at
/// `url` (the shop publishes as [`factum_shop::NATS_SOURCE`]).
pub async fn subscribe<S: EventStore>(
    local: S,
    url: &str,
    source: &str,
) -> Result<NatsSubscriber<Sales, S>, Box<dyn std::error::Error>> {
    let runner = ProjectionRunner::<Sales, _>::start(local).await?;
    let client =
        factum::nats::async_nats::connect(url).await.map_err(|e| format!("cannot connect to NATS at {url}: {e}"))?;
    Ok(NatsSubscriber::new(runner, factum::nats::async_nats::jetstream::new(client), source))
}
