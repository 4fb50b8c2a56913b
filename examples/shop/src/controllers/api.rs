//! `/api`: the generated command enums in, the generated query enums in and answers out, all
//! as JSON. A command is `POST /api/products/{id}` with a body like
//! `{"AddToCatalog": {"name": "Tea", "price": 450}}` or `"Retire"`.
//!
//! A command answers 200 with what it recorded; or 202, `{"stream": ..., "out_of_date":
//! [...]}`, when it was recorded but a read model has stopped and does not show it yet.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use factum::{Aggregate, Committed, EventSet, EventStore};
use serde::Serialize;

use super::{ApiError, Failure};
use crate::models::{
    CatalogAnswer, CatalogQuery, Order, OrderCommand, OrderDetailsAnswer, OrderDetailsQuery, OrderListAnswer,
    OrderListQuery, Product, ProductCommand,
};
use crate::shop::{Shop, Stored, stale_banner};

/// A command recorded that a read model does not show yet: the stream, and one sentence for
/// each stopped read model (the banner its pages show).
#[derive(Serialize)]
pub struct RecordedStale {
    stream: String,
    out_of_date: Vec<String>,
}

/// What a command recorded.
#[derive(Serialize)]
pub struct Recorded {
    stream: String,
    version: u64,
    events: Vec<RecordedView>,
}

#[derive(Serialize)]
struct RecordedView {
    position: u64,
    name: &'static str,
    data: serde_json::Value,
}

pub async fn product_command<S: EventStore>(
    State(shop): State<Arc<Shop<S>>>,
    Path(id): Path<String>,
    command: Result<Json<ProductCommand>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(command) = command?;
    answer::<Product>(&id, shop.product(&id, command).await?)
}

pub async fn order_command<S: EventStore>(
    State(shop): State<Arc<Shop<S>>>,
    Path(id): Path<String>,
    command: Result<Json<OrderCommand>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(command) = command?;
    answer::<Order>(&id, shop.order(&id, command).await?)
}

pub async fn catalog_query<S: EventStore>(
    State(shop): State<Arc<Shop<S>>>,
    query: Result<Json<CatalogQuery>, JsonRejection>,
) -> Result<Json<CatalogAnswer>, ApiError> {
    let Json(query) = query?;
    Ok(Json(shop.catalog.ask(query).await))
}

pub async fn order_list_query<S: EventStore>(
    State(shop): State<Arc<Shop<S>>>,
    query: Result<Json<OrderListQuery>, JsonRejection>,
) -> Result<Json<OrderListAnswer>, ApiError> {
    let Json(query) = query?;
    Ok(Json(shop.order_list.ask(query).await))
}

pub async fn order_details_query<S: EventStore>(
    State(shop): State<Arc<Shop<S>>>,
    query: Result<Json<OrderDetailsQuery>, JsonRejection>,
) -> Result<Json<OrderDetailsAnswer>, ApiError> {
    let Json(query) = query?;
    Ok(Json(shop.order_details.ask(query).await))
}

/// 200 with what was recorded, or 202 with the read models that do not show it yet.
fn answer<A: Aggregate>(id: &str, stored: Stored<A::Event>) -> Result<Response, ApiError> {
    match stored {
        Stored::Projected(committed) => Ok(recorded::<A>(id, committed)?.into_response()),
        Stored::Stale(stopped) => {
            let out_of_date = stopped.iter().filter_map(stale_banner).collect();
            let stream = format!("{}/{id}", A::NAME);
            Ok((StatusCode::ACCEPTED, Json(RecordedStale { stream, out_of_date })).into_response())
        }
    }
}

/// The recorded events, each with its data as the JSON it is stored as.
fn recorded<A: Aggregate>(id: &str, committed: Committed<A::Event>) -> Result<Json<Recorded>, ApiError> {
    let mut events = Vec::with_capacity(committed.events.len());
    for (event, position) in committed.events.iter().zip(&committed.positions) {
        let data = serde_json::from_str(&event.encode().map_err(Failure::ours)?).map_err(Failure::ours)?;
        events.push(RecordedView { position: *position, name: event.name(), data });
    }
    let stream = format!("{}/{id}", A::NAME);
    Ok(Json(Recorded { stream, version: committed.version, events }))
}
