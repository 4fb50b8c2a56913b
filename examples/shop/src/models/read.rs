//! The read models: what pages and the JSON API show. Each is a projection of the events,
//! kept up to date inline by the repositories, so a page rendered after a command already
//! shows it.

use std::collections::BTreeMap;
use std::time::UNIX_EPOCH;

use factum::Pii;
use factum::prelude::*;
use serde::{Deserialize, Serialize};

use super::money::Cents;
use super::order::{
    OrderCancelled, OrderExpired, OrderLine, OrderPaid, OrderPlaced, OrderShipped, OrderStatus, ProductOffer,
};
use super::product::{PriceChanged, ProductAdded, ProductRetired};

/// A product as the catalog page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogEntry {
    pub id: String,
    pub name: String,
    /// In cents.
    pub price: i64,
    pub retired: bool,
}

impl CatalogEntry {
    /// The price, written like `12.50`.
    pub fn price_text(&self) -> String {
        Cents(self.price).to_string()
    }
}

/// Every product ever added, by id.
#[derive(Projection, Default, Debug, Clone, Serialize, Deserialize)]
#[projection(name = "catalog")]
pub struct Catalog {
    products: BTreeMap<String, CatalogEntry>,
}

#[handlers]
impl Catalog {
    #[on]
    fn added(&mut self, e: &ProductAdded, meta: &EventMeta) {
        let id = meta.stream_id.clone();
        self.products.insert(id.clone(), CatalogEntry { id, name: e.name.clone(), price: e.price, retired: false });
    }

    #[on]
    fn price_changed(&mut self, e: &PriceChanged, meta: &EventMeta) {
        if let Some(entry) = self.products.get_mut(&meta.stream_id) {
            entry.price = e.price;
        }
    }

    #[on]
    fn retired(&mut self, _: &ProductRetired, meta: &EventMeta) {
        if let Some(entry) = self.products.get_mut(&meta.stream_id) {
            entry.retired = true;
        }
    }

    /// All products, by name; retired ones too.
    #[query]
    pub fn products(&self) -> Vec<CatalogEntry> {
        let mut all: Vec<_> = self.products.values().cloned().collect();
        all.sort_by(|a, b| a.name.to_lowercase().cmp(&b.name.to_lowercase()).then(a.id.cmp(&b.id)));
        all
    }

    /// One product.
    #[query]
    pub fn product(&self, id: String) -> Option<CatalogEntry> {
        self.products.get(&id).cloned()
    }
}

impl Catalog {
    /// What an order needs to know of the product `id`.
    pub fn offer(&self, id: &str) -> Option<ProductOffer> {
        let entry = self.products.get(id)?;
        Some(ProductOffer { name: entry.name.clone(), price: entry.price, retired: entry.retired })
    }
}

/// One row of the order list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderSummary {
    pub id: String,
    /// The customer's id; empty for an order placed before the shop asked. (Not their name:
    /// the list shows no personal data.)
    #[serde(default)]
    pub customer: String,
    /// Seconds since the Unix epoch, when the order was placed.
    pub placed_at: u64,
    pub items: u32,
    /// In cents.
    pub total: i64,
    pub status: OrderStatus,
}

impl OrderSummary {
    /// The total, written like `12.50`.
    pub fn total_text(&self) -> String {
        Cents(self.total).to_string()
    }

    /// When the order was placed, in UTC.
    pub fn placed_text(&self) -> String {
        utc_text(self.placed_at)
    }
}

/// All orders, newest first.
#[derive(Projection, Default, Debug, Clone, Serialize, Deserialize)]
#[projection(name = "order-list")]
pub struct OrderList {
    orders: Vec<OrderSummary>,
}

#[handlers]
impl OrderList {
    #[on]
    fn placed(&mut self, e: &OrderPlaced, meta: &EventMeta) {
        self.orders.push(OrderSummary {
            id: meta.stream_id.clone(),
            customer: e.customer_id.clone(),
            placed_at: seconds(meta),
            items: e.lines.iter().map(|l| l.quantity).sum(),
            total: e.total,
            status: OrderStatus::Placed,
        });
    }

    #[on]
    fn paid(&mut self, _: &OrderPaid, meta: &EventMeta) {
        self.set_status(&meta.stream_id, OrderStatus::Paid);
    }

    #[on]
    fn shipped(&mut self, _: &OrderShipped, meta: &EventMeta) {
        self.set_status(&meta.stream_id, OrderStatus::Shipped);
    }

    #[on]
    fn cancelled(&mut self, _: &OrderCancelled, meta: &EventMeta) {
        self.set_status(&meta.stream_id, OrderStatus::Cancelled);
    }

    #[on]
    fn expired(&mut self, _: &OrderExpired, meta: &EventMeta) {
        self.set_status(&meta.stream_id, OrderStatus::Cancelled);
    }

    /// The most recent `limit` orders, newest first.
    #[query]
    pub fn recent(&self, limit: usize) -> Vec<OrderSummary> {
        self.orders.iter().rev().take(limit).cloned().collect()
    }
}

impl OrderList {
    fn set_status(&mut self, id: &str, status: OrderStatus) {
        if let Some(order) = self.orders.iter_mut().rev().find(|o| o.id == id) {
            order.status = status;
        }
    }
}

/// One step in an order's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The version of the order's stream this event made.
    pub version: u64,
    /// Seconds since the Unix epoch.
    pub at: u64,
    pub what: String,
}

impl HistoryEntry {
    /// When it happened, in UTC.
    pub fn at_text(&self) -> String {
        utc_text(self.at)
    }
}

/// Who placed an order, and where it goes. The name and address are `Forgotten` once the
/// customer is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerDetail {
    pub id: String,
    pub name: Pii<String>,
    pub address: Pii<String>,
}

impl CustomerDetail {
    /// True once the customer was forgotten: their name and address can no longer be read.
    pub fn is_forgotten(&self) -> bool {
        self.name.is_forgotten() || self.address.is_forgotten()
    }
}

/// An order with its customer, lines, status and history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderDetail {
    pub id: String,
    /// `None` for an order placed before the shop asked who the customer is.
    #[serde(default)]
    pub customer: Option<CustomerDetail>,
    pub lines: Vec<OrderLine>,
    /// In cents.
    pub total: i64,
    pub status: OrderStatus,
    pub history: Vec<HistoryEntry>,
}

impl OrderDetail {
    /// The total, written like `12.50`.
    pub fn total_text(&self) -> String {
        Cents(self.total).to_string()
    }
}

/// Each order's status and history, by id.
#[derive(Projection, Default, Debug, Clone, Serialize, Deserialize)]
#[projection(name = "order-details")]
pub struct OrderDetails {
    orders: BTreeMap<String, OrderDetail>,
}

#[handlers]
impl OrderDetails {
    #[on]
    fn placed(&mut self, e: &OrderPlaced, meta: &EventMeta) {
        let items: u32 = e.lines.iter().map(|l| l.quantity).sum();
        let customer = e.customer().map(|id| CustomerDetail {
            id: id.to_owned(),
            name: e.customer_name.clone(),
            address: e.address.clone(),
        });
        let detail = OrderDetail {
            id: meta.stream_id.clone(),
            customer,
            lines: e.lines.clone(),
            total: e.total,
            status: OrderStatus::Placed,
            history: Vec::new(),
        };
        self.orders.insert(meta.stream_id.clone(), detail);
        self.record(meta, OrderStatus::Placed, format!("placed: {items} item(s), {} in all", Cents(e.total)));
    }

    #[on]
    fn paid(&mut self, e: &OrderPaid, meta: &EventMeta) {
        self.record(meta, OrderStatus::Paid, format!("paid {}", Cents(e.amount)));
    }

    #[on]
    fn shipped(&mut self, _: &OrderShipped, meta: &EventMeta) {
        self.record(meta, OrderStatus::Shipped, "shipped".to_owned());
    }

    #[on]
    fn cancelled(&mut self, _: &OrderCancelled, meta: &EventMeta) {
        self.record(meta, OrderStatus::Cancelled, "cancelled".to_owned());
    }

    #[on]
    fn expired(&mut self, _: &OrderExpired, meta: &EventMeta) {
        self.record(meta, OrderStatus::Cancelled, "cancelled: not paid in time".to_owned());
    }

    /// One order, if it was placed.
    #[query]
    pub fn order(&self, id: String) -> Option<OrderDetail> {
        self.orders.get(&id).cloned()
    }
}

impl OrderDetails {
    fn record(&mut self, meta: &EventMeta, status: OrderStatus, what: String) {
        if let Some(order) = self.orders.get_mut(&meta.stream_id) {
            order.status = status;
            order.history.push(HistoryEntry { version: meta.stream_version, at: seconds(meta), what });
        }
    }
}

fn seconds(meta: &EventMeta) -> u64 {
    meta.recorded_at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `2026-11-23 17:05:09 UTC` from seconds since the Unix epoch.
pub fn utc_text(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let rest = seconds % 86_400;
    // Days to a civil date (proleptic Gregorian), after Howard Hinnant's `civil_from_days`.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC", rest / 3600, rest / 60 % 60, rest % 60)
}

#[cfg(test)]
mod tests {
    use super::utc_text;

    #[test]
    fn writes_utc_dates() {
        assert_eq!(utc_text(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_text(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc_text(1_795_453_509), "2026-11-23 17:05:09 UTC");
    }
}
