//! The controllers: each one parses a request, sends a command or asks a read model, then
//! renders a view or redirects. No business rule lives here; the aggregates hold them all.
//! A handler that fails returns a [`PageError`] or an [`ApiError`] (see `failure.rs`).

mod api;
mod failure;
mod health;
mod orders;
mod products;

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use factum::EventStore;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

pub use failure::{ApiError, Failure, OUR_FAILURE, PageError, Refusal};

use crate::shop::Shop;

/// The largest request body the shop reads: forms and JSON commands are small.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// All routes of the shop.
pub fn router<S: EventStore + Clone>(shop: Arc<Shop<S>>) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/products") }))
        .route("/health", get(health::show::<S>))
        .route("/products", get(products::index::<S>).post(products::add::<S>))
        .route("/products/{id}/price", post(products::change_price::<S>))
        .route("/products/{id}/retire", post(products::retire::<S>))
        .route("/orders", get(orders::index::<S>).post(orders::place::<S>))
        .route("/orders/{id}", get(orders::show::<S>))
        .route("/orders/{id}/forget", post(orders::forget::<S>))
        .route("/orders/{id}/{action}", post(orders::act::<S>))
        .route("/api/products/{id}", post(api::product_command::<S>))
        .route("/api/orders/{id}", post(api::order_command::<S>))
        .route("/api/queries/catalog", post(api::catalog_query::<S>))
        .route("/api/queries/order-list", post(api::order_list_query::<S>))
        .route("/api/queries/order-details", post(api::order_details_query::<S>))
        .fallback(|| async { PageError::from(Failure::not_found("such page")) })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(request_log())
        .with_state(shop)
}

/// Logs each request at `info`: a span with the method and path around whatever the handler
/// logs, and a line with the status and latency when it is answered (tower-http's own default
/// is `debug`, below the shop's default filter). A 5xx is logged as an error too.
fn request_log() -> TraceLayer<SharedClassifier<ServerErrorsAsFailures>> {
    TraceLayer::new_for_http()
        .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
        .on_response(DefaultOnResponse::new().level(Level::INFO))
}

/// A view as HTML, with the status of the refusal it shows (200 without one). A template
/// that fails to render is a failure of ours.
fn render(view: &impl Template, refusal: Option<&Refusal>) -> Result<Response, PageError> {
    let status = refusal.map_or(StatusCode::OK, |refusal| refusal.status);
    Ok((status, Html(view.render()?)).into_response())
}

/// After a POST that worked, the browser is sent to `to` with a GET (303 See Other).
fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}
