//! `/api`: the generated command enums in, the generated query enums in and answers out, all
//! as JSON. A command is `POST /api/products/{id}` with a body like
//! `{"AddToCatalog": {"name": "Tea", "price": 450}}` or `"Retire"`.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use factum::{Aggregate, Committed, EventSet, EventStore, ExecuteError, Projection, ProjectionRunner, Repository};
use serde::Serialize;

use super::Failure;
use crate::models::{CatalogQuery, OrderCommand, OrderDetailsQuery, OrderListQuery, ProductCommand};
use crate::shop::Shop;

/// What a command recorded.
#[derive(Serialize)]
struct Recorded {
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
) -> Response {
    execute(&shop.products, &id, command).await
}

pub async fn order_command<S: EventStore>(
    State(shop): State<Arc<Shop<S>>>,
    Path(id): Path<String>,
    command: Result<Json<OrderCommand>, JsonRejection>,
) -> Response {
    execute(&shop.orders, &id, command).await
}

pub async fn catalog_query<S: EventStore>(
    State(shop): State<Arc<Shop<S>>>,
    query: Result<Json<CatalogQuery>, JsonRejection>,
) -> Response {
    ask(&shop.catalog, query).await
}

pub async fn order_list_query<S: EventStore>(
    State(shop): State<Arc<Shop<S>>>,
    query: Result<Json<OrderListQuery>, JsonRejection>,
) -> Response {
    ask(&shop.order_list, query).await
}

pub async fn order_details_query<S: EventStore>(
    State(shop): State<Arc<Shop<S>>>,
    query: Result<Json<OrderDetailsQuery>, JsonRejection>,
) -> Response {
    ask(&shop.order_details, query).await
}

/// Executes a command that arrived as JSON.
async fn execute<A: Aggregate, S: EventStore>(
    repository: &Repository<A, S>,
    id: &str,
    command: Result<Json<A::Command>, JsonRejection>,
) -> Response
where
    A::Command: Clone,
    A::Error: std::fmt::Display,
{
    match command {
        Ok(Json(command)) => answer::<A, _>(id, repository.execute(id, command).await),
        Err(rejection) => Failure::from(rejection).json(),
    }
}

/// Asks a read model a query that arrived as JSON.
async fn ask<P: Projection, S: EventStore>(
    read_model: &ProjectionRunner<P, S>,
    query: Result<Json<P::Query>, JsonRejection>,
) -> Response
where
    P::Answer: Serialize,
{
    match query {
        Ok(Json(query)) => Json(read_model.ask(query).await).into_response(),
        Err(rejection) => Failure::from(rejection).json(),
    }
}

/// The recorded events as JSON, or the failure as `{"error": ...}`.
fn answer<A: Aggregate, E: std::fmt::Display>(
    id: &str,
    outcome: Result<Committed<A::Event>, ExecuteError<E>>,
) -> Response {
    let committed = match outcome {
        Ok(committed) => committed,
        Err(error) => return Failure::from(error).json(),
    };
    let mut events = Vec::with_capacity(committed.events.len());
    for (event, position) in committed.events.iter().zip(&committed.positions) {
        let data = match event.encode().map(|json| serde_json::from_str(&json)) {
            Ok(Ok(data)) => data,
            Ok(Err(error)) => return Failure::Server(format!("re-reading an encoded event: {error}")).json(),
            Err(error) => return Failure::Server(format!("encoding an event: {error}")).json(),
        };
        events.push(RecordedView { position: *position, name: event.name(), data });
    }
    let stream = format!("{}/{id}", A::NAME);
    Json(Recorded { stream, version: committed.version, events }).into_response()
}
