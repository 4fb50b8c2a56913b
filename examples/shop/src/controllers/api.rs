//! `/api`: the generated command enums in, the generated query enums in and answers out, all
//! as JSON. A command is `POST /api/products/{id}` with a body like
//! `{"AddToCatalog": {"name": "Tea", "price": 450}}` or `"Retire"`.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use factum::{Aggregate, Committed, EventSet, EventStore};
use serde::Serialize;

use super::{ApiError, Failure};
use crate::models::{
    CatalogAnswer, CatalogQuery, Order, OrderCommand, OrderDetailsAnswer, OrderDetailsQuery, OrderListAnswer,
    OrderListQuery, Product, ProductCommand,
};
use crate::shop::Shop;

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
) -> Result<Json<Recorded>, ApiError> {
    let Json(command) = command?;
    recorded::<Product>(&id, shop.products.execute(&id, command).await?)
}

pub async fn order_command<S: EventStore>(
    State(shop): State<Arc<Shop<S>>>,
    Path(id): Path<String>,
    command: Result<Json<OrderCommand>, JsonRejection>,
) -> Result<Json<Recorded>, ApiError> {
    let Json(command) = command?;
    recorded::<Order>(&id, shop.orders.execute(&id, command).await?)
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
