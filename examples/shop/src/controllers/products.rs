//! `/products`: the catalog page and its forms.

use std::sync::Arc;

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::response::Response;
use factum::EventStore;
use serde::Deserialize;

use super::{Failure, PageError, Refusal, render, see_other};
use crate::models::{ProductCommand, parse_price};
use crate::shop::{Shop, banner, new_id};
use crate::views::ProductsPage;

/// The add form: a name and a price.
#[derive(Debug, Default, Deserialize)]
pub struct ProductForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    price: String,
}

/// The change-price form.
#[derive(Debug, Deserialize)]
pub struct PriceForm {
    #[serde(default)]
    price: String,
}

pub async fn index<S: EventStore>(State(shop): State<Arc<Shop<S>>>) -> Result<Response, PageError> {
    page(&shop, None, ProductForm::default()).await
}

pub async fn add<S: EventStore>(
    State(shop): State<Arc<Shop<S>>>,
    form: Result<Form<ProductForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form?;
    let added = add_to_catalog(&shop, &form).await;
    back_to_catalog(&shop, added, form).await
}

pub async fn change_price<S: EventStore>(
    State(shop): State<Arc<Shop<S>>>,
    Path(id): Path<String>,
    form: Result<Form<PriceForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form?;
    let changed = reprice(&shop, &id, &form.price).await;
    back_to_catalog(&shop, changed, ProductForm::default()).await
}

pub async fn retire<S: EventStore>(
    State(shop): State<Arc<Shop<S>>>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let retired = shop.product(&id, ProductCommand::Retire).await.map(drop).map_err(Failure::from);
    back_to_catalog(&shop, retired, ProductForm::default()).await
}

async fn add_to_catalog<S: EventStore>(shop: &Shop<S>, form: &ProductForm) -> Result<(), Failure> {
    let price = parse_price(&form.price)?.0;
    let command = ProductCommand::AddToCatalog { name: form.name.clone(), price };
    shop.product(&new_id("p"), command).await?;
    Ok(())
}

async fn reprice<S: EventStore>(shop: &Shop<S>, id: &str, price: &str) -> Result<(), Failure> {
    let price = parse_price(price)?.0;
    shop.product(id, ProductCommand::ChangePrice { price }).await?;
    Ok(())
}

/// After a form: to the catalog if it worked (also when the catalog then stopped: the
/// command was recorded, and the page says the catalog is out of date); back to the catalog
/// page with a refusal (what was typed still in `form`); to the error page with a failure of
/// ours.
async fn back_to_catalog<S: EventStore>(
    shop: &Shop<S>,
    outcome: Result<(), Failure>,
    form: ProductForm,
) -> Result<Response, PageError> {
    match outcome {
        Ok(()) => Ok(see_other("/products")),
        Err(failure) => page(shop, Some(failure.refusal()?), form).await,
    }
}

/// The catalog page; with a refusal, its message above the form and its status code; with a
/// banner if the catalog has stopped.
async fn page<S: EventStore>(
    shop: &Shop<S>,
    refusal: Option<Refusal>,
    form: ProductForm,
) -> Result<Response, PageError> {
    let products = shop.catalog.read(|catalog| catalog.products()).await;
    let error = refusal.as_ref().map(|refusal| refusal.message.clone());
    let stale = banner(&shop.catalog).await.into_iter().collect();
    render(&ProductsPage { products, error, name: form.name, price: form.price, stale }, refusal.as_ref())
}
