//! A small web shop on factum, in the Model-View-Controller shape.
//!
//! - **Models** (`models/`): the `Product` and `Order` aggregates hold every business rule;
//!   the `Catalog`, `OrderList` and `OrderDetails` projections are the read models.
//! - **Views** (`views.rs`, `templates/`): askama templates, checked when the crate compiles.
//! - **Controllers** (`controllers/`): axum handlers that turn a request into a command or a
//!   query, then render a view or redirect.
//!
//! `shop.rs` wires them onto one event store. Run it with `cargo run -p factum-shop`.

pub mod cli;
pub mod controllers;
pub mod models;
pub mod shop;
pub mod views;

/// The source name the shop publishes its events under on NATS (`factum.shop.…`, stream
/// `FACTUM_SHOP`).
pub const NATS_SOURCE: &str = "shop";

use std::error::Error;
use std::sync::Arc;

use factum::EventStore;

pub use shop::Shop;

/// Serves the shop on `listener` until `shutdown` completes. The read models also follow the
/// store in the background, so writes of other processes on the same store show up here; a
/// read model that stops is logged when it does, and the others keep following.
pub async fn serve<S: EventStore + Clone>(
    listener: tokio::net::TcpListener,
    shop: Arc<Shop<S>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let follower = shop.clone();
    let following = tokio::spawn(async move { follower.follow().await });
    let served = axum::serve(listener, controllers::router(shop.clone())).with_graceful_shutdown(shutdown).await;
    following.abort();
    let _ = following.await;
    shop.save_checkpoints().await;
    served
}

/// The `source()` chain of `error`, outermost first, for the log: what a one-line message
/// leaves out.
pub(crate) fn causes(error: &(dyn Error + 'static)) -> Vec<String> {
    std::iter::successors(error.source(), |&cause| cause.source()).map(ToString::to_string).collect()
}
