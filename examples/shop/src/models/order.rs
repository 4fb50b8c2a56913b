//! The `Order` aggregate: placed with lines, then paid and shipped, or cancelled.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use factum::prelude::*;
use serde::{Deserialize, Serialize};

use super::money::Cents;

/// The most of one product a single line may ask for.
pub const MAX_QUANTITY: u32 = 1_000;

/// One line of an order as the customer asks for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineRequest {
    /// The product's id in the catalog.
    pub product: String,
    pub quantity: u32,
}

/// One line of a placed order, with the name and price the product had at that moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderLine {
    pub product: String,
    pub name: String,
    pub quantity: u32,
    /// In cents.
    pub unit_price: i64,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct OrderPlaced {
    pub lines: Vec<OrderLine>,
    /// In cents.
    pub total: i64,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct OrderPaid {
    /// In cents.
    pub amount: i64,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct OrderShipped;

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct OrderCancelled;

/// The order was cancelled by the shop because it was not paid within the payment window
/// (see [`PaymentWindow`](super::PaymentWindow)).
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct OrderExpired;

/// Why an order refused a command.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OrderError {
    #[error("an order needs at least one line")]
    NoLines,
    #[error("the quantity of {product} must be between 1 and {MAX_QUANTITY}; {quantity} was asked")]
    BadQuantity { product: String, quantity: u32 },
    #[error("there is no product {0:?} in the catalog")]
    UnknownProduct(String),
    #[error("{0} is no longer sold")]
    RetiredProduct(String),
    #[error("the order total is too large")]
    TotalTooLarge,
    #[error("this order was already placed")]
    AlreadyPlaced,
    #[error("there is no such order")]
    NotPlaced,
    #[error("the order is already paid")]
    AlreadyPaid,
    #[error("the order is cancelled")]
    Cancelled,
    #[error("the order cannot ship before it is paid")]
    NotPaid,
    #[error("the order has already shipped")]
    AlreadyShipped,
}

/// Where an order stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    /// No order under this id yet.
    #[default]
    New,
    Placed,
    Paid,
    Shipped,
    Cancelled,
}

impl OrderStatus {
    /// The word shown on pages.
    pub fn label(self) -> &'static str {
        match self {
            OrderStatus::New => "new",
            OrderStatus::Placed => "placed",
            OrderStatus::Paid => "paid",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Cancelled => "cancelled",
        }
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// What can be done to a placed order: the steps its page offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderAction {
    Pay,
    Ship,
    Cancel,
}

impl OrderAction {
    pub const ALL: [OrderAction; 3] = [OrderAction::Pay, OrderAction::Ship, OrderAction::Cancel];

    /// The last part of its path, `/orders/{id}/pay`.
    pub fn slug(self) -> &'static str {
        match self {
            OrderAction::Pay => "pay",
            OrderAction::Ship => "ship",
            OrderAction::Cancel => "cancel",
        }
    }

    pub fn from_slug(slug: &str) -> Option<OrderAction> {
        OrderAction::ALL.into_iter().find(|action| action.slug() == slug)
    }

    /// The word on its button.
    pub fn label(self) -> &'static str {
        match self {
            OrderAction::Pay => "Pay",
            OrderAction::Ship => "Ship",
            OrderAction::Cancel => "Cancel",
        }
    }

    pub fn command(self) -> OrderCommand {
        match self {
            OrderAction::Pay => OrderCommand::Pay,
            OrderAction::Ship => OrderCommand::Ship,
            OrderAction::Cancel => OrderCommand::Cancel,
        }
    }
}

impl OrderStatus {
    /// The actions an order in this status takes, as the aggregate's own commands decide (so
    /// a page offers no step the order would refuse): a placed order can be paid or
    /// cancelled, a paid one shipped or cancelled, and a shipped or cancelled one nothing.
    pub fn actions(self) -> Vec<OrderAction> {
        let order = Order { status: self, total: 0 };
        let accepts = |action: &OrderAction| match action {
            OrderAction::Pay => order.pay().is_ok(),
            OrderAction::Ship => order.ship().is_ok(),
            OrderAction::Cancel => order.cancel().is_ok(),
        };
        OrderAction::ALL.into_iter().filter(accepts).collect()
    }
}

/// What an order needs to know of a product when it is placed.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductOffer {
    pub name: String,
    /// In cents.
    pub price: i64,
    pub retired: bool,
}

/// The catalog as orders see it: the one thing an order asks of the rest of the shop.
///
/// The shop implements it with the catalog read model; a test can use a map.
pub trait ProductLookup: Send + Sync {
    /// The product `id` as the catalog knows it now, if it knows it.
    fn offer<'a>(&'a self, id: &'a str) -> Pin<Box<dyn Future<Output = Option<ProductOffer>> + Send + 'a>>;
}

/// The services of `Order`'s commands.
#[derive(Clone)]
pub struct OrderServices {
    pub products: Arc<dyn ProductLookup>,
}

/// A customer's order.
#[derive(Aggregate, Default, Debug, Clone, Serialize, Deserialize)]
#[aggregate(name = "order")]
pub struct Order {
    status: OrderStatus,
    total: i64,
}

#[handlers]
impl Order {
    /// Places the order, pricing each line from the catalog.
    #[command]
    pub async fn place(
        &self,
        lines: Vec<LineRequest>,
        #[services] shop: &OrderServices,
    ) -> Result<OrderPlaced, OrderError> {
        if self.status != OrderStatus::New {
            return Err(OrderError::AlreadyPlaced);
        }
        if lines.is_empty() {
            return Err(OrderError::NoLines);
        }
        let mut placed = Vec::with_capacity(lines.len());
        let mut total: i64 = 0;
        for line in lines {
            if line.quantity == 0 || line.quantity > MAX_QUANTITY {
                return Err(OrderError::BadQuantity { product: line.product, quantity: line.quantity });
            }
            let offer = shop.products.offer(&line.product).await;
            let Some(offer) = offer else { return Err(OrderError::UnknownProduct(line.product)) };
            if offer.retired {
                return Err(OrderError::RetiredProduct(offer.name));
            }
            total = offer
                .price
                .checked_mul(i64::from(line.quantity))
                .and_then(|cost| total.checked_add(cost))
                .ok_or(OrderError::TotalTooLarge)?;
            placed.push(OrderLine {
                product: line.product,
                name: offer.name,
                quantity: line.quantity,
                unit_price: offer.price,
            });
        }
        Ok(OrderPlaced { lines: placed, total })
    }

    /// Records the payment of the order's total.
    #[command]
    pub fn pay(&self) -> Result<OrderPaid, OrderError> {
        match self.status {
            OrderStatus::New => Err(OrderError::NotPlaced),
            OrderStatus::Placed => Ok(OrderPaid { amount: self.total }),
            OrderStatus::Paid | OrderStatus::Shipped => Err(OrderError::AlreadyPaid),
            OrderStatus::Cancelled => Err(OrderError::Cancelled),
        }
    }

    /// Sends a paid order on its way.
    #[command]
    pub fn ship(&self) -> Result<OrderShipped, OrderError> {
        match self.status {
            OrderStatus::New => Err(OrderError::NotPlaced),
            OrderStatus::Placed => Err(OrderError::NotPaid),
            OrderStatus::Paid => Ok(OrderShipped),
            OrderStatus::Shipped => Err(OrderError::AlreadyShipped),
            OrderStatus::Cancelled => Err(OrderError::Cancelled),
        }
    }

    /// Cancels an order that has not shipped.
    #[command]
    pub fn cancel(&self) -> Result<OrderCancelled, OrderError> {
        match self.status {
            OrderStatus::New => Err(OrderError::NotPlaced),
            OrderStatus::Placed | OrderStatus::Paid => Ok(OrderCancelled),
            OrderStatus::Shipped => Err(OrderError::AlreadyShipped),
            OrderStatus::Cancelled => Err(OrderError::Cancelled),
        }
    }

    /// Cancels an order that was placed and is still unpaid: what the payment window's
    /// process manager sends when the window closes. An order paid or cancelled in the
    /// meantime refuses it (the refusal is recorded by the process runner).
    #[command]
    pub fn expire(&self) -> Result<OrderExpired, OrderError> {
        match self.status {
            OrderStatus::New => Err(OrderError::NotPlaced),
            OrderStatus::Placed => Ok(OrderExpired),
            OrderStatus::Paid | OrderStatus::Shipped => Err(OrderError::AlreadyPaid),
            OrderStatus::Cancelled => Err(OrderError::Cancelled),
        }
    }

    #[apply]
    fn placed(&mut self, e: &OrderPlaced) {
        self.status = OrderStatus::Placed;
        self.total = e.total;
    }

    #[apply]
    fn paid(&mut self, _: &OrderPaid) {
        self.status = OrderStatus::Paid;
    }

    #[apply]
    fn shipped(&mut self, _: &OrderShipped) {
        self.status = OrderStatus::Shipped;
    }

    #[apply]
    fn cancelled(&mut self, _: &OrderCancelled) {
        self.status = OrderStatus::Cancelled;
    }

    #[apply]
    fn expired(&mut self, _: &OrderExpired) {
        self.status = OrderStatus::Cancelled;
    }
}

/// Shown when an order's price is formatted.
pub fn line_cost(line: &OrderLine) -> Cents {
    Cents(line.unit_price.saturating_mul(i64::from(line.quantity)))
}

#[cfg(test)]
mod tests {
    use super::OrderAction::{Cancel, Pay, Ship};
    use super::{OrderAction, OrderStatus};

    #[test]
    fn each_status_offers_the_actions_its_order_takes() {
        assert_eq!(OrderStatus::New.actions(), []);
        assert_eq!(OrderStatus::Placed.actions(), [Pay, Cancel]);
        assert_eq!(OrderStatus::Paid.actions(), [Ship, Cancel]);
        assert_eq!(OrderStatus::Shipped.actions(), []);
        assert_eq!(OrderStatus::Cancelled.actions(), []);
    }

    #[test]
    fn actions_are_found_by_their_slug() {
        for action in OrderAction::ALL {
            assert_eq!(OrderAction::from_slug(action.slug()), Some(action));
        }
        assert_eq!(OrderAction::from_slug("fly"), None);
        assert_eq!(OrderAction::from_slug("Pay"), None);
    }
}
