//! The models: two aggregates that hold every business rule, the read models that pages
//! and the JSON API show, and the process manager that cancels unpaid orders.

pub mod money;
pub mod order;
pub mod payment_window;
pub mod product;
pub mod read;

pub use money::{Cents, PriceSyntaxError, parse_price};
pub use order::{
    LineRequest, MAX_ADDRESS_LEN, MAX_CUSTOMER_ID_LEN, MAX_CUSTOMER_NAME_LEN, Order, OrderAction, OrderCommand,
    OrderError, OrderEvent, OrderLine, OrderPlaced, OrderPlacedV1, OrderServices, OrderStatus, ProductLookup,
    ProductOffer, line_cost,
};
pub use payment_window::{DEFAULT_PAYMENT_WINDOW, PAYMENT_WINDOW_KEY, PaymentDue, PaymentWindow};
pub use product::{Product, ProductCommand, ProductError, ProductEvent};
pub use read::{
    Catalog, CatalogAnswer, CatalogEntry, CatalogQuery, CustomerDetail, OrderDetail, OrderDetails, OrderDetailsAnswer,
    OrderDetailsQuery, OrderList, OrderListAnswer, OrderListQuery, OrderSummary,
};
