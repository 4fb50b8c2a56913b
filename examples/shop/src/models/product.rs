//! The `Product` aggregate: what the shop sells, at what price, and whether it still does.

use factum::prelude::*;
use serde::{Deserialize, Serialize};

use super::money::Cents;

/// The longest product name the catalog takes.
pub const MAX_NAME_LEN: usize = 80;

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ProductAdded {
    pub name: String,
    /// In cents.
    pub price: i64,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PriceChanged {
    /// In cents.
    pub price: i64,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ProductRetired;

/// Why the catalog refused a command.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProductError {
    #[error("a product needs a name")]
    EmptyName,
    #[error("a product name has at most {MAX_NAME_LEN} characters; this one has {0}")]
    NameTooLong(usize),
    #[error("a price cannot be negative: {} was given", Cents(*.0))]
    NegativePrice(i64),
    #[error("this product is already in the catalog")]
    AlreadyInCatalog,
    #[error("there is no such product in the catalog")]
    NotInCatalog,
    #[error("the product is retired and can no longer change")]
    Retired,
}

/// A product of the catalog.
#[derive(Aggregate, Default, Debug, Clone, Serialize, Deserialize)]
#[aggregate(name = "product")]
pub struct Product {
    listed: bool,
    retired: bool,
    price: i64,
}

#[handlers]
impl Product {
    /// Adds a product to the catalog at `price` cents.
    #[command]
    pub fn add_to_catalog(&self, name: String, price: i64) -> Result<ProductAdded, ProductError> {
        if self.listed {
            return Err(ProductError::AlreadyInCatalog);
        }
        let name = name.trim().to_owned();
        if name.is_empty() {
            return Err(ProductError::EmptyName);
        }
        let length = name.chars().count();
        if length > MAX_NAME_LEN {
            return Err(ProductError::NameTooLong(length));
        }
        if price < 0 {
            return Err(ProductError::NegativePrice(price));
        }
        Ok(ProductAdded { name, price })
    }

    /// Sets a new price in cents; the same price again records nothing.
    #[command]
    pub fn change_price(&self, price: i64) -> Result<Option<PriceChanged>, ProductError> {
        self.ensure_on_sale()?;
        if price < 0 {
            return Err(ProductError::NegativePrice(price));
        }
        Ok((price != self.price).then_some(PriceChanged { price }))
    }

    /// Takes the product off sale for good. Orders placed before keep it.
    #[command]
    pub fn retire(&self) -> Result<ProductRetired, ProductError> {
        self.ensure_on_sale()?;
        Ok(ProductRetired)
    }

    #[apply]
    fn added(&mut self, e: &ProductAdded) {
        self.listed = true;
        self.price = e.price;
    }

    #[apply]
    fn price_changed(&mut self, e: &PriceChanged) {
        self.price = e.price;
    }

    #[apply]
    fn retired(&mut self, _: &ProductRetired) {
        self.retired = true;
    }

    fn ensure_on_sale(&self) -> Result<(), ProductError> {
        match (self.listed, self.retired) {
            (false, _) => Err(ProductError::NotInCatalog),
            (true, true) => Err(ProductError::Retired),
            (true, false) => Ok(()),
        }
    }
}
