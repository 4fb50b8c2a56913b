//! The `Order` aggregate: placed with lines, then paid and shipped, or cancelled.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use factum::Pii;
use factum::prelude::*;
use serde::{Deserialize, Serialize};

use super::money::Cents;

/// The most of one product a single line may ask for.
pub const MAX_QUANTITY: u32 = 1_000;

/// The longest customer id an order takes.
pub const MAX_CUSTOMER_ID_LEN: usize = 40;

/// The longest customer name an order takes.
pub const MAX_CUSTOMER_NAME_LEN: usize = 200;

/// The longest delivery address an order takes.
pub const MAX_ADDRESS_LEN: usize = 500;

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

/// An order placed before the shop asked who the customer is: read as an [`OrderPlaced`]
/// with no customer (see its `From`).
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "OrderPlaced")]
pub struct OrderPlacedV1 {
    pub lines: Vec<OrderLine>,
    /// In cents.
    pub total: i64,
}

/// An order was placed by the customer `customer_id`, to be delivered to `customer_name` at
/// `address`. The name and the address are personal data, sealed with the customer's key:
/// once the customer is forgotten (`EventStore::forget(customer_id, ..)`) they read as
/// [`Pii::Forgotten`]; the customer id (an opaque number such as `c-1041`, never an e-mail
/// address) stays.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "OrderPlaced", version = 2, upcast_from = OrderPlacedV1)]
#[pii(subject = customer_id)]
pub struct OrderPlaced {
    pub customer_id: String,
    pub customer_name: Pii<String>,
    pub address: Pii<String>,
    pub lines: Vec<OrderLine>,
    /// In cents.
    pub total: i64,
}

impl OrderPlaced {
    /// The customer id, unless the order was placed before the shop asked for one (an
    /// upcast version 1).
    pub fn customer(&self) -> Option<&str> {
        Some(self.customer_id.as_str()).filter(|id| !id.is_empty())
    }
}

/// Version 1 knew no customer: its orders read with an empty customer id (no customer on
/// record: pages say so, and there is no one to forget) and an empty name and address.
impl From<OrderPlacedV1> for OrderPlaced {
    fn from(old: OrderPlacedV1) -> Self {
        OrderPlaced {
            customer_id: String::new(),
            customer_name: Pii::new(String::new()),
            address: Pii::new(String::new()),
            lines: old.lines,
            total: old.total,
        }
    }
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
    #[error(
        "a customer id is 1 to {MAX_CUSTOMER_ID_LEN} letters, digits, '-' or '_', such as c-1041 (not an e-mail address); {0:?} is not"
    )]
    BadCustomerId(String),
    #[error("an order needs the customer's name")]
    NoCustomerName,
    #[error("a customer name has at most {MAX_CUSTOMER_NAME_LEN} characters; this one has {0}")]
    CustomerNameTooLong(usize),
    #[error("an order needs the address to deliver to")]
    NoAddress,
    #[error("an address has at most {MAX_ADDRESS_LEN} characters; this one has {0}")]
    AddressTooLong(usize),
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
        let order = Order { status: self, ..Order::default() };
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
    /// Who placed it; empty for an order placed before the shop asked.
    #[serde(default)]
    customer_id: String,
}

impl Order {
    /// The customer who placed the order, if it was placed and the shop knows by whom.
    pub fn customer(&self) -> Option<&str> {
        Some(self.customer_id.as_str()).filter(|id| !id.is_empty())
    }
}

#[handlers]
impl Order {
    /// Places the order for the customer `customer_id`, delivered to `name` at `address`,
    /// pricing each line from the catalog.
    #[command]
    pub async fn place(
        &self,
        customer_id: String,
        name: String,
        address: String,
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
        let (customer_id, name, address) = customer(customer_id, name, address)?;
        Ok(OrderPlaced { customer_id, customer_name: Pii::new(name), address: Pii::new(address), lines: placed, total })
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
        self.customer_id = e.customer_id.clone();
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

/// The customer's id, name and address as an order takes them: trimmed, present, not too
/// long, and the id an opaque one (it stays in the clear when the customer is forgotten).
fn customer(id: String, name: String, address: String) -> Result<(String, String, String), OrderError> {
    let id = id.trim();
    let id_ok = (1..=MAX_CUSTOMER_ID_LEN).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !id_ok {
        return Err(OrderError::BadCustomerId(id.to_owned()));
    }
    let name = name.trim();
    match name.chars().count() {
        0 => return Err(OrderError::NoCustomerName),
        length if length > MAX_CUSTOMER_NAME_LEN => return Err(OrderError::CustomerNameTooLong(length)),
        _ => {}
    }
    // An address keeps its lines, each trimmed; blank lines are dropped.
    let address: Vec<&str> = address.lines().map(str::trim).filter(|line| !line.is_empty()).collect();
    let address = address.join("\n");
    match address.chars().count() {
        0 => return Err(OrderError::NoAddress),
        length if length > MAX_ADDRESS_LEN => return Err(OrderError::AddressTooLong(length)),
        _ => {}
    }
    Ok((id.to_owned(), name.to_owned(), address))
}

/// Shown when an order's price is formatted.
pub fn line_cost(line: &OrderLine) -> Cents {
    Cents(line.unit_price.saturating_mul(i64::from(line.quantity)))
}

#[cfg(test)]
mod tests {
    use factum::Pii;

    use super::OrderAction::{Cancel, Pay, Ship};
    use super::{OrderAction, OrderError, OrderLine, OrderPlaced, OrderPlacedV1, OrderStatus, customer};

    #[test]
    fn a_customer_is_an_opaque_id_a_name_and_an_address() {
        let taken = customer(" c-1815 ".into(), " Ada Lovelace ".into(), " 12 St James's Square \n\n London ".into());
        assert_eq!(taken, Ok(("c-1815".into(), "Ada Lovelace".into(), "12 St James's Square\nLondon".into())));
        let refused =
            |id: &str, name: &str, address: &str| customer(id.into(), name.into(), address.into()).unwrap_err();
        assert_eq!(refused("ada@example.com", "Ada", "London"), OrderError::BadCustomerId("ada@example.com".into()));
        assert_eq!(refused("", "Ada", "London"), OrderError::BadCustomerId(String::new()));
        assert_eq!(refused(&"c".repeat(41), "Ada", "London"), OrderError::BadCustomerId("c".repeat(41)));
        assert_eq!(refused("c-1", " ", "London"), OrderError::NoCustomerName);
        assert_eq!(refused("c-1", &"é".repeat(201), "London"), OrderError::CustomerNameTooLong(201));
        assert_eq!(refused("c-1", "Ada", "\n \n"), OrderError::NoAddress);
        assert_eq!(refused("c-1", "Ada", &"a".repeat(501)), OrderError::AddressTooLong(501));
    }

    #[test]
    fn an_order_of_version_1_reads_with_no_customer() {
        let line = OrderLine { product: "p-tea".into(), name: "Tea".into(), quantity: 2, unit_price: 450 };
        let old = OrderPlacedV1 { lines: vec![line.clone()], total: 900 };
        let new = OrderPlaced::from(old);
        assert_eq!((new.customer(), &new.lines, new.total), (None, &vec![line], 900));
        assert_eq!((new.customer_name, new.address), (Pii::new(String::new()), Pii::new(String::new())));
    }

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
