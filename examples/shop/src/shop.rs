//! The shop's wiring: one store, two repositories, three read models kept up to date inline.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use factum::{EventStore, ProjectionError, ProjectionRunner, Repository};

use crate::models::{Catalog, Order, OrderDetails, OrderList, OrderServices, Product, ProductLookup, ProductOffer};

/// Everything a controller needs: the repositories to send commands to, and the read models
/// to ask.
pub struct Shop<S: EventStore> {
    pub products: Repository<Product, S>,
    pub orders: Repository<Order, S>,
    pub catalog: Arc<ProjectionRunner<Catalog, S>>,
    pub order_list: Arc<ProjectionRunner<OrderList, S>>,
    pub order_details: Arc<ProjectionRunner<OrderDetails, S>>,
}

impl<S: EventStore + Clone> Shop<S> {
    /// Opens the shop on `store`: the read models catch up with what the store already holds,
    /// and from then on every command updates them before it returns (read-your-writes).
    pub async fn open(store: S) -> Result<Self, ProjectionError> {
        let catalog = Arc::new(ProjectionRunner::<Catalog, _>::start(store.clone()).await?);
        let order_list = Arc::new(ProjectionRunner::<OrderList, _>::start(store.clone()).await?);
        let order_details = Arc::new(ProjectionRunner::<OrderDetails, _>::start(store.clone()).await?);
        for caught_up in [catalog.catch_up().await, order_list.catch_up().await, order_details.catch_up().await] {
            caught_up?;
        }
        let products = Repository::new(store.clone()).with_inline(catalog.clone());
        let services = OrderServices { products: catalog.clone() };
        let orders = Repository::with_services(store, services)
            .with_inline(order_list.clone())
            .with_inline(order_details.clone());
        Ok(Shop { products, orders, catalog, order_list, order_details })
    }

    /// Follows the store in the background, so that what other processes write (several
    /// shops on one PostgreSQL database, say) reaches this one's read models too. Returns the
    /// first error of any of them.
    pub async fn follow(&self) -> ProjectionError {
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(failure_of(self.catalog.clone()));
        tasks.spawn(failure_of(self.order_list.clone()));
        tasks.spawn(failure_of(self.order_details.clone()));
        match tasks.join_next().await {
            Some(Ok(error)) => error,
            Some(Err(panicked)) => std::panic::resume_unwind(panicked.into_panic()),
            None => unreachable!("three runners were spawned"),
        }
    }
}

async fn failure_of<P: factum::Projection, S: EventStore>(runner: Arc<ProjectionRunner<P, S>>) -> ProjectionError {
    match runner.run().await {
        Err(error) => error,
        Ok(never) => match never {},
    }
}

/// Orders price their lines from the catalog read model, as this process last saw it.
impl<S: EventStore> ProductLookup for ProjectionRunner<Catalog, S> {
    fn offer<'a>(&'a self, id: &'a str) -> Pin<Box<dyn Future<Output = Option<ProductOffer>> + Send + 'a>> {
        Box::pin(self.read(move |catalog| catalog.offer(id)))
    }
}

/// A fresh id such as `p-19ab3c5d2e1-3f0a-2`: the time in milliseconds, the process, a counter.
/// Ids are never reused in one process; across processes a clash is refused by the aggregate
/// (it is already placed or listed) rather than mixing two streams.
pub fn new_id(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let millis = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{millis:x}-{:x}-{n:x}", std::process::id())
}
