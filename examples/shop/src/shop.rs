//! The shop's wiring: one store, two repositories, three read models kept up to date inline,
//! and the process manager that cancels unpaid orders.
//!
//! A read model that stops (an event it cannot decode, a handler that fails) does not take
//! the shop down: the shop starts and keeps serving, the failure is logged as an error at
//! once, `GET /health` reports it (503), and the pages it backs show their last data under a
//! banner saying so. Commands are still carried out; their events wait in the store until
//! the read model is fixed.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use factum::{
    Committed, EventStore, ExecuteError, Forgotten, Metadata, ProcessError, ProcessRunner, Projection, ProjectionError,
    ProjectionRunner, ProjectionType, Repository, RunnerHealth, RunnerStatus, StoreError,
};
use serde::Serialize;

use crate::models::{
    Catalog, DEFAULT_PAYMENT_WINDOW, Order, OrderCommand, OrderDetails, OrderError, OrderEvent, OrderList,
    OrderServices, PAYMENT_WINDOW_KEY, PaymentWindow, Product, ProductCommand, ProductError, ProductEvent,
    ProductLookup, ProductOffer,
};

/// How long a stopped read model waits before its follower tries again: a fixed event (or
/// a store that is back) is taken in that much later without a restart.
pub const RETRY_STOPPED: Duration = Duration::from_secs(2);

/// Everything a controller needs: the repositories to send commands to, and the read models
/// to ask.
pub struct Shop<S: EventStore> {
    pub products: Repository<Product, S>,
    pub orders: Arc<Repository<Order, S>>,
    pub catalog: Arc<ProjectionRunner<Catalog, S>>,
    pub order_list: Arc<ProjectionRunner<OrderList, S>>,
    pub order_details: Arc<ProjectionRunner<OrderDetails, S>>,
    /// Cancels the orders not paid within [`payment_window`](Self::payment_window).
    pub payment_deadlines: Arc<ProcessRunner<PaymentWindow, S>>,
    /// How long a new order waits for its payment.
    pub payment_window: Duration,
}

/// What `GET /health` answers.
/// Why the shop could not open its store.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// A read model's checkpoint could not be loaded.
    #[error(transparent)]
    ReadModel(#[from] ProjectionError),
    /// The payment window's position could not be loaded.
    #[error(transparent)]
    Process(#[from] ProcessError),
}

#[derive(Debug, Clone, Serialize)]
pub struct Health {
    /// `ok`, or `degraded` when a read model has stopped.
    pub status: HealthStatus,
    /// Each read model's runner, in the order catalog, order list, order details.
    pub read_models: Vec<RunnerHealth>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    Ok,
    Degraded,
}

/// Why the customer of an order could not be forgotten.
#[derive(Debug, thiserror::Error)]
pub enum ForgetError {
    #[error("there is no such order")]
    NoSuchOrder,
    #[error("this order has no customer on record: it was placed before the shop asked for one")]
    NoCustomer,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A command that was carried out: its events are stored.
#[derive(Debug)]
pub enum Stored<E> {
    /// And every read model took them in.
    Projected(Committed<E>),
    /// But a read model stopped on them (or was stopped already): the repository's inline
    /// read models that have stopped, which do not show them yet.
    Stale(Vec<RunnerHealth>),
}

impl<S: EventStore + Clone> Shop<S> {
    /// Opens the shop on `store`: the read models catch up with what the store already holds,
    /// and from then on every command updates them before it returns (read-your-writes).
    ///
    /// A read model that fails to catch up does not keep the shop from opening: it is logged
    /// as an error and reported by [`health`](Self::health). Only a read model that cannot
    /// even be loaded (the store fails, or its stored checkpoint does not decode) is an error.
    pub async fn open(store: S) -> Result<Self, OpenError> {
        Self::open_with_payment_window(store, DEFAULT_PAYMENT_WINDOW).await
    }

    /// Like [`open`](Self::open), with new orders waiting `payment_window` for their payment
    /// instead of [`DEFAULT_PAYMENT_WINDOW`].
    pub async fn open_with_payment_window(store: S, payment_window: Duration) -> Result<Self, OpenError> {
        let catalog = Arc::new(ProjectionRunner::<Catalog, _>::start(store.clone()).await?);
        let order_list = Arc::new(ProjectionRunner::<OrderList, _>::start(store.clone()).await?);
        let order_details = Arc::new(ProjectionRunner::<OrderDetails, _>::start(store.clone()).await?);
        caught_up_or_logged(&catalog).await;
        caught_up_or_logged(&order_list).await;
        caught_up_or_logged(&order_details).await;
        let products = Repository::new(store.clone()).with_inline(catalog.clone());
        let services = OrderServices { products: catalog.clone() };
        let orders = Arc::new(
            Repository::with_services(store.clone(), services)
                .with_inline(order_list.clone())
                .with_inline(order_details.clone()),
        );
        let payment_deadlines = Arc::new(ProcessRunner::<PaymentWindow, _>::start(store, (orders.clone(),)).await?);
        Ok(Shop { products, orders, catalog, order_list, order_details, payment_deadlines, payment_window })
    }

    pub async fn follow(&self) {
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(follow_one(self.catalog.clone()));
        tasks.spawn(follow_one(self.order_list.clone()));
        tasks.spawn(follow_one(self.order_details.clone()));
        tasks.spawn(follow_process(self.payment_deadlines.clone()));
        while let Some(ended) = tasks.join_next().await {
            match ended {
                Ok(never) => match never {},
                Err(panicked) => tracing::error!("a read model's follower panicked: {panicked}"),
            }
        }
    }
}

impl<S: EventStore> Shop<S> {
    /// Writes every read model's checkpoint, on a clean shutdown. The runners write them as
    /// they go every 1,000 events or second; this saves the ones since, so that the next
    /// start replays nothing. A failure is logged: the events are stored all the same, and
    /// the next start replays them.
    pub async fn save_checkpoints(&self) {
        let saved = [
            (Catalog::NAME, self.catalog.save_checkpoint().await),
            (OrderList::NAME, self.order_list.save_checkpoint().await),
            (OrderDetails::NAME, self.order_details.save_checkpoint().await),
        ];
        for (read_model, outcome) in saved {
            if let Err(error) = outcome {
                tracing::warn!(read_model, "checkpoint not saved on shutdown; the next start replays: {error}");
            }
        }
    }

    /// How every read model is doing.
    pub async fn health(&self) -> Health {
        let read_models =
            vec![self.catalog.health().await, self.order_list.health().await, self.order_details.health().await];
        let stopped = read_models.iter().any(RunnerHealth::is_stopped);
        Health { status: if stopped { HealthStatus::Degraded } else { HealthStatus::Ok }, read_models }
    }

    /// Sends a command to a product.
    pub async fn product(
        &self,
        id: &str,
        command: ProductCommand,
    ) -> Result<Stored<ProductEvent>, ExecuteError<ProductError>> {
        let executed = self.products.execute(id, command).await;
        self.settle(executed, self.products.inline_health()).await
    }

    /// Sends a command to an order.
    /// Runs an order's command. `Place` carries the shop's payment window in its metadata:
    /// the order's terms, which its [`PaymentWindow`] instance reads.
    pub async fn order(&self, id: &str, command: OrderCommand) -> Result<Stored<OrderEvent>, ExecuteError<OrderError>> {
        let metadata = match command {
            OrderCommand::Place { .. } => {
                Metadata::new().with(PAYMENT_WINDOW_KEY, self.payment_window.as_secs().max(1).to_string())
            }
            _ => Metadata::new(),
        };
        let executed = self.orders.execute_with(id, command, metadata).await;
        self.settle(executed, self.orders.inline_health()).await
    }

    /// Forgets the customer who placed `order` (see `factum::pii`): the store destroys their
    /// key, so that their name and address read as `Forgotten` in every order they placed,
    /// on every page and in every read model (which rebuild from the log without them), and
    /// records `by` as who asked. Their orders, lines and totals stay. Forgetting a customer
    /// again changes nothing, and is recorded too.
    ///
    /// The customer is the one the order itself names (its aggregate, not a read model that
    /// may lag).
    pub async fn forget_customer(&self, order: &str, by: &str) -> Result<Forgotten, ForgetError> {
        let loaded = self.orders.load(order).await?.ok_or(ForgetError::NoSuchOrder)?;
        let customer = loaded.state.customer().ok_or(ForgetError::NoCustomer)?;
        let forgotten = self.orders.store().forget(customer, by).await?;
        tracing::info!(
            customer,
            order,
            by,
            keys = forgotten.keys,
            snapshots = forgotten.snapshots,
            read_models = ?forgotten.checkpoints,
            "a customer was forgotten"
        );
        Ok(forgotten)
    }

    /// A command whose events were stored counts as done, even when an inline read model
    /// then failed on them (`ExecuteError::Projection`): the command must not be sent
    /// again, and telling the user it failed would invite exactly that. The stopped read
    /// model is in the log and `/health`, and its pages say they are out of date. `execute`
    /// stops at the first inline read model that fails, so the others are caught up here:
    /// the pages they back still show the change at once. `inline` is the health of the
    /// repository's inline read models, asked only then.
    async fn settle<E, R>(
        &self,
        executed: Result<Committed<E>, ExecuteError<R>>,
        inline: impl Future<Output = Vec<RunnerHealth>>,
    ) -> Result<Stored<E>, ExecuteError<R>> {
        match executed {
            Ok(committed) => Ok(Stored::Projected(committed)),
            Err(ExecuteError::Projection { source: error, .. }) => {
                tracing::warn!(
                    read_model = error.projection(),
                    "a command was recorded, but a read model did not take it in: {error}"
                );
                // A failure here is recorded in the runner's health, and logged by its follower.
                let _ = self.catalog.catch_up().await;
                let _ = self.order_list.catch_up().await;
                let _ = self.order_details.catch_up().await;
                Ok(Stored::Stale(inline.await.into_iter().filter(RunnerHealth::is_stopped).collect()))
            }
            Err(other) => Err(other),
        }
    }
}

/// The banner of a page backed by `runner`, when it has stopped: what it shows is out of
/// date, and since where.
pub async fn banner<P: Projection, S: EventStore>(runner: &ProjectionRunner<P, S>) -> Option<String> {
    stale_banner(&runner.health().await)
}

/// "The order list is out of date: it stopped at event OrderPlaced of stream order/o-1
/// (position 7). An operator has been alerted.", for a stopped read model.
pub fn stale_banner(health: &RunnerHealth) -> Option<String> {
    let RunnerStatus::Stopped { position, event, stream, .. } = &health.status else { return None };
    let subject = match health.name {
        Catalog::NAME => "The catalog is",
        OrderList::NAME => "The order list is",
        OrderDetails::NAME => "The order details are",
        other => return Some(format!("The read model {other} is out of date. An operator has been alerted.")),
    };
    let place = match (event, stream) {
        (Some(event), Some(stream)) => format!("event {event} of stream {stream} (position {position})"),
        _ => format!("position {position}"),
    };
    Some(format!("{subject} out of date: it stopped at {place}. An operator has been alerted."))
}

/// Catches `runner` up; a failure is logged, and left for `/health` to report.
async fn caught_up_or_logged<P: Projection, S: EventStore>(runner: &ProjectionRunner<P, S>) {
    if let Err(error) = runner.catch_up().await {
        log_stopped(&runner.health().await, &error);
    }
}

/// Keeps one read model following the store. When it stops, it is logged once, and tried
/// again every [`RETRY_STOPPED`] (silently) until a catch-up succeeds.
async fn follow_one<P: Projection, S: EventStore>(runner: Arc<ProjectionRunner<P, S>>) -> Infallible {
    // A read model that stopped while the shop opened was logged then.
    let mut stopped = runner.health().await.is_stopped();
    loop {
        match runner.catch_up().await {
            Ok(position) => {
                if stopped {
                    tracing::info!(read_model = P::NAME, position, "the read model follows the store again");
                    stopped = false;
                }
                if let Err(error) = runner.store().wait_for_events(position).await {
                    tracing::warn!(read_model = P::NAME, "cannot wait for new events, trying again: {error}");
                    tokio::time::sleep(RETRY_STOPPED).await;
                }
            }
            Err(error) => {
                if !stopped {
                    log_stopped(&runner.health().await, &error);
                    stopped = true;
                }
                tokio::time::sleep(RETRY_STOPPED).await;
            }
        }
    }
}

/// An error naming the read model and where it stopped: the event, its stream and position.
/// Runs a process manager for as long as the shop runs, holding its lease (so that of
/// several shops on one PostgreSQL store, one cancels the unpaid orders), and starts it
/// again after a failure: a stopped one is logged, and its commands wait in its outbox.
async fn follow_process<S: EventStore>(runner: Arc<ProcessRunner<PaymentWindow, S>>) -> Infallible {
    loop {
        let Err(error) = runner.run_exclusive().await;
        log_process_stopped(&error);
        tokio::time::sleep(RETRY_STOPPED).await;
    }
}

fn log_process_stopped(error: &ProcessError) {
    tracing::error!(
        process = <PaymentWindow as factum::ProcessType>::NAME,
        caused_by = ?crate::causes(error),
        "the payment window stopped; unpaid orders are not cancelled until it runs again: {error}"
    );
}

fn log_stopped(health: &RunnerHealth, error: &ProjectionError) {
    let (position, event, stream) = match &health.status {
        RunnerStatus::Stopped { position, event, stream, .. } => (*position, event.as_deref(), stream.as_deref()),
        _ => (health.position, None, None),
    };
    tracing::error!(
        read_model = error.projection(),
        event = event.unwrap_or("-"),
        stream = stream.unwrap_or("-"),
        position,
        caused_by = ?crate::causes(error),
        "a read model stopped; its pages show a banner and /health answers 503 until it is fixed: {error}"
    );
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
