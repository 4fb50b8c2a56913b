//! `/products`: the catalog page and its forms.

use std::sync::Arc;

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::response::Response;
use factum::EventStore;
use serde::Deserialize;

use super::{Failure, render, see_other, with_status};
use crate::models::{ProductCommand, parse_price};
use crate::shop::{Shop, new_id};
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

pub async fn index<S: EventStore>(State(shop): State<Arc<Shop<S>>>) -> Response {
    page(&shop, None, ProductForm::default()).await
}

pub async fn add<S: EventStore>(
    State(shop): State<Arc<Shop<S>>>,
    form: Result<Form<ProductForm>, FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => return page(&shop, Some(rejection.into()), ProductForm::default()).await,
    };
    let added = async {
        let price = parse_price(&form.price)?.0;
        let command = ProductCommand::AddToCatalog { name: form.name.clone(), price };
        shop.products.execute(&new_id("p"), command).await?;
        Ok::<_, Failure>(())
    };
    match added.await {
        Ok(()) => see_other("/products"),
        Err(failure) => page(&shop, Some(failure), form).await,
    }
}

pub async fn change_price<S: EventStore>(
    State(shop): State<Arc<Shop<S>>>,
    Path(id): Path<String>,
    form: Result<Form<PriceForm>, FormRejection>,
) -> Response {
    let changed = async {
        let Form(form) = form?;
        let price = parse_price(&form.price)?.0;
        shop.products.execute(&id, ProductCommand::ChangePrice { price }).await?;
        Ok(())
    };
    done_or_page(&shop, changed.await).await
}

pub async fn retire<S: EventStore>(State(shop): State<Arc<Shop<S>>>, Path(id): Path<String>) -> Response {
    let retired = shop.products.execute(&id, ProductCommand::Retire).await.map(drop).map_err(Failure::from);
    done_or_page(&shop, retired).await
}

async fn done_or_page<S: EventStore>(shop: &Shop<S>, outcome: Result<(), Failure>) -> Response {
    match outcome {
        Ok(()) => see_other("/products"),
        Err(failure) => page(shop, Some(failure), ProductForm::default()).await,
    }
}

/// The catalog page; with a failure, its message above the form and its status code.
async fn page<S: EventStore>(shop: &Shop<S>, failure: Option<Failure>, form: ProductForm) -> Response {
    let products = shop.catalog.read(|catalog| catalog.products()).await;
    let status = failure.as_ref().map(Failure::status);
    let view = ProductsPage { products, error: failure.map(|f| f.message()), name: form.name, price: form.price };
    with_status(status, render(&view))
}
