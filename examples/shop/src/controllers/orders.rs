//! `/orders`: the order list, placing an order, each order's page, and forgetting the
//! customer of an order.

use std::sync::Arc;

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::response::Response;
use factum::EventStore;

use super::{Failure, PageError, Refusal, render, see_other};
use crate::models::{LineRequest, OrderAction, OrderCommand};
use crate::shop::{Shop, banner, new_id};
use crate::views::{CustomerForm, OrderPage, OrdersPage};

/// How many orders the list shows.
const LIST_LENGTH: usize = 50;

/// The form's quantity fields are named `qty-<product id>`.
const QUANTITY_FIELD: &str = "qty-";

/// Who forgets a customer, as the store's audit row records it.
const FORGOTTEN_BY: &str = "shop";

pub async fn index<S: EventStore>(State(shop): State<Arc<Shop<S>>>) -> Result<Response, PageError> {
    list(&shop, None, CustomerForm::default()).await
}

/// Places an order of every product whose quantity field was filled in, for the customer of
/// the fields `customer`, `name` and `address`.
pub async fn place<S: EventStore>(
    State(shop): State<Arc<Shop<S>>>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(fields) = form?;
    let id = new_id("o");
    let customer = customer_form(&fields);
    match place_order(&shop, &id, customer.clone(), fields).await {
        Ok(()) => Ok(see_other(&format!("/orders/{id}"))),
        Err(failure) => list(&shop, Some(failure.refusal()?), customer).await,
    }
}

/// `POST /orders/{id}/forget`: forgets the customer who placed the order, then shows the
/// order again, with "(forgotten)" where their name and address were.
pub async fn forget<S: EventStore>(
    State(shop): State<Arc<Shop<S>>>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    match shop.forget_customer(&id, FORGOTTEN_BY).await {
        Ok(_) => Ok(see_other(&format!("/orders/{id}"))),
        Err(error) => order_page(&shop, id, Some(Failure::from(error).refusal()?)).await,
    }
}

pub async fn show<S: EventStore>(
    State(shop): State<Arc<Shop<S>>>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    order_page(&shop, id, None).await
}

/// `POST /orders/{id}/pay`, `/ship` or `/cancel`.
pub async fn act<S: EventStore>(
    State(shop): State<Arc<Shop<S>>>,
    Path((id, action)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let action = OrderAction::from_slug(&action);
    let action = action.ok_or_else(|| Failure::not_found(format_args!("action {action:?} on orders")))?;
    match shop.order(&id, action.command()).await {
        Ok(_) => Ok(see_other(&format!("/orders/{id}"))),
        Err(error) => order_page(&shop, id, Some(Failure::from(error).refusal()?)).await,
    }
}

async fn place_order<S: EventStore>(
    shop: &Shop<S>,
    id: &str,
    customer: CustomerForm,
    fields: Vec<(String, String)>,
) -> Result<(), Failure> {
    let lines = order_lines(fields)?;
    let CustomerForm { customer: customer_id, name, address } = customer;
    shop.order(id, OrderCommand::Place { customer_id, name, address, lines }).await?;
    Ok(())
}

/// The customer fields of the order form, as typed (the aggregate checks them); a missing
/// one is empty.
fn customer_form(fields: &[(String, String)]) -> CustomerForm {
    let field = |name: &str| fields.iter().find(|(field, _)| field == name).map(|(_, value)| value.clone());
    CustomerForm {
        customer: field("customer").unwrap_or_default(),
        name: field("name").unwrap_or_default(),
        address: field("address").unwrap_or_default(),
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

/// The order list; with a refusal, its message above the form, which keeps the customer
/// fields as they were typed.
async fn list<S: EventStore>(
    shop: &Shop<S>,
    refusal: Option<Refusal>,
    customer: CustomerForm,
) -> Result<Response, PageError> {
    let orders = shop.order_list.read(|list| list.recent(LIST_LENGTH)).await;
    let for_sale = shop.catalog.read(|catalog| catalog.products().into_iter().filter(|p| !p.retired).collect()).await;
    let error = refusal.as_ref().map(|refusal| refusal.message.clone());
    let stale = [banner(&shop.order_list).await, banner(&shop.catalog).await].into_iter().flatten().collect();
    render(&OrdersPage { orders, for_sale, error, customer, stale }, refusal.as_ref())
}

/// The order's page; with a refusal, its message above the order. An order that does not
/// exist is a 404, or the refusal on a page of its own. Both carry a banner if the order
/// details have stopped (an order placed since then is not in them yet).
async fn order_page<S: EventStore>(
    shop: &Shop<S>,
    id: String,
    refusal: Option<Refusal>,
) -> Result<Response, PageError> {
    let stale: Vec<String> = banner(&shop.order_details).await.into_iter().collect();
    let Some(order) = shop.order_details.read(|details| details.order(id.clone())).await else {
        let missing = if stale.is_empty() {
            Failure::not_found(format_args!("order {id:?}"))
        } else {
            Failure::not_found(format_args!("order {id:?} in the order details, which are out of date"))
        };
        return Ok(PageError(refusal.map_or(missing, Failure::Refused)).with_banners(stale));
    };
    let error = refusal.as_ref().map(|refusal| refusal.message.clone());
    render(&OrderPage { order, error, stale }, refusal.as_ref())
}
