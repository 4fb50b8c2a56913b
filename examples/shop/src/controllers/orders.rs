//! `/orders`: the order list, placing an order, and each order's page.

use std::sync::Arc;

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::response::Response;
use factum::EventStore;

use super::{Failure, render, see_other, with_status};
use crate::models::{LineRequest, OrderCommand};
use crate::shop::{Shop, new_id};
use crate::views::{OrderPage, OrdersPage};

/// How many orders the list shows.
const LIST_LENGTH: usize = 50;

/// The form's quantity fields are named `qty-<product id>`.
const QUANTITY_FIELD: &str = "qty-";

pub async fn index<S: EventStore>(State(shop): State<Arc<Shop<S>>>) -> Response {
    list(&shop, None).await
}

/// Places an order of every product whose quantity field was filled in.
pub async fn place<S: EventStore>(
    State(shop): State<Arc<Shop<S>>>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let placed = async {
        let Form(fields) = form?;
        let lines = order_lines(fields)?;
        let id = new_id("o");
        shop.orders.execute(&id, OrderCommand::Place { lines }).await?;
        Ok::<_, Failure>(id)
    };
    match placed.await {
        Ok(id) => see_other(&format!("/orders/{id}")),
        Err(failure) => list(&shop, Some(failure)).await,
    }
}

pub async fn show<S: EventStore>(State(shop): State<Arc<Shop<S>>>, Path(id): Path<String>) -> Response {
    order_page(&shop, id, None).await
}

/// `POST /orders/{id}/pay`, `/ship` or `/cancel`.
pub async fn act<S: EventStore>(
    State(shop): State<Arc<Shop<S>>>,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    let command = match action.as_str() {
        "pay" => OrderCommand::Pay,
        "ship" => OrderCommand::Ship,
        "cancel" => OrderCommand::Cancel,
        _ => return Failure::not_found(format_args!("action {action:?} on orders")).page(),
    };
    match shop.orders.execute(&id, command).await {
        Ok(_) => see_other(&format!("/orders/{id}")),
        Err(error) => order_page(&shop, id, Some(error.into())).await,
    }
}

/// The lines of the order form: every filled-in `qty-<product>` field.
fn order_lines(fields: Vec<(String, String)>) -> Result<Vec<LineRequest>, Failure> {
    let mut lines = Vec::new();
    for (field, value) in fields {
        let (Some(product), value) = (field.strip_prefix(QUANTITY_FIELD), value.trim()) else { continue };
        if value.is_empty() {
            continue;
        }
        let quantity = value
            .parse()
            .map_err(|_| Failure::bad_input(format!("the quantity {value:?} of {product} is not a whole number")))?;
        lines.push(LineRequest { product: product.to_owned(), quantity });
    }
    Ok(lines)
}

async fn list<S: EventStore>(shop: &Shop<S>, failure: Option<Failure>) -> Response {
    let orders = shop.order_list.read(|list| list.recent(LIST_LENGTH)).await;
    let for_sale = shop.catalog.read(|catalog| catalog.products().into_iter().filter(|p| !p.retired).collect()).await;
    let status = failure.as_ref().map(Failure::status);
    let view = OrdersPage { orders, for_sale, error: failure.map(|f| f.message()) };
    with_status(status, render(&view))
}

async fn order_page<S: EventStore>(shop: &Shop<S>, id: String, failure: Option<Failure>) -> Response {
    let Some(order) = shop.order_details.read(|details| details.order(id.clone())).await else {
        return failure.unwrap_or_else(|| Failure::not_found(format_args!("order {id:?}"))).page();
    };
    let status = failure.as_ref().map(Failure::status);
    with_status(status, render(&OrderPage { order, error: failure.map(|f| f.message()) }))
}
