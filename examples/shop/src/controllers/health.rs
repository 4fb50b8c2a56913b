//! `GET /health`: how each read model is doing, for a load balancer or an operator. 200 while
//! they all run, 503 once any has stopped (the body says which, and on what event).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use factum::EventStore;

use crate::shop::{Health, HealthStatus, Shop};

pub async fn show<S: EventStore>(State(shop): State<Arc<Shop<S>>>) -> (StatusCode, Json<Health>) {
    let health = shop.health().await;
    let status = match health.status {
        HealthStatus::Ok => StatusCode::OK,
        HealthStatus::Degraded => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, Json(health))
}
