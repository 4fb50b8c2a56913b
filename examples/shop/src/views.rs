//! The views: one askama template per page, compiled and type-checked with the crate. Every
//! `{{ value }}` is HTML-escaped.
//!
//! Every page has `stale`: one banner for each read model behind the page that has stopped
//! (see `shop::stale_banner`), shown at the top by `layout.html`.

use askama::Template;

use crate::models::{CatalogEntry, OrderDetail, OrderSummary, line_cost};

/// The catalog, with the form to add a product.
#[derive(Template)]
#[template(path = "products.html")]
pub struct ProductsPage {
    pub products: Vec<CatalogEntry>,
    /// Why the last form was refused, if it was.
    pub error: Option<String>,
    /// What the add form shows (kept after a refusal, so nothing typed is lost).
    pub name: String,
    pub price: String,
    pub stale: Vec<String>,
}

/// The order list, with the form to place an order.
#[derive(Template)]
#[template(path = "orders.html")]
pub struct OrdersPage {
    pub orders: Vec<OrderSummary>,
    /// The products that can be ordered.
    pub for_sale: Vec<CatalogEntry>,
    pub error: Option<String>,
    /// What the customer fields show (kept after a refusal).
    pub customer: CustomerForm,
    pub stale: Vec<String>,
}

/// The customer fields of the order form.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomerForm {
    /// The customer's id, such as `c-1041`.
    pub customer: String,
    pub name: String,
    pub address: String,
}

/// One order: its customer, lines, status, history, and what can be done next (and the
/// button that forgets the customer, while there is one to forget).
#[derive(Template)]
#[template(path = "order.html")]
pub struct OrderPage {
    pub order: OrderDetail,
    pub error: Option<String>,
    pub stale: Vec<String>,
}

impl OrderPage {
    /// A line's cost, written like `12.50`.
    fn cost(&self, line: &crate::models::OrderLine) -> String {
        line_cost(line).to_string()
    }

    fn price(&self, cents: &i64) -> String {
        crate::models::Cents(*cents).to_string()
    }
}

/// A page for a request that went wrong: not found, bad input, or a failure of ours.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub status: u16,
    pub title: String,
    pub message: String,
    pub stale: Vec<String>,
}
