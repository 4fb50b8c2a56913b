//! The generated code compiles without a warning under strict lints, so that it never warns
//! in users' code. `cargo clippy --all-targets -- -D warnings` (run by `.ci/run`) adds
//! clippy's pedantic and nursery groups on top.
#![deny(
    warnings,
    unused_qualifications,
    unused_results,
    unused_import_braces,
    trivial_casts,
    trivial_numeric_casts,
    unsafe_code,
    rust_2018_idioms,
    single_use_lifetimes,
    variant_size_differences,
    clippy::pedantic,
    clippy::nursery
)]
#![allow(clippy::missing_errors_doc, clippy::unused_async, clippy::missing_const_for_fn)]

use factum::prelude::*;
use serde::{Deserialize, Serialize};

/// A user's own `core` module must not break the generated paths.
#[allow(dead_code)]
mod core {}

/// A user's own `factum` module neither.
#[allow(dead_code)]
mod factum_shadow {
    pub mod factum {}
}

/// An event.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Added {
    /// How many.
    pub count: u32,
}

/// An event with personal data.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[pii(subject = owner)]
pub struct Labelled {
    /// Whose label it is.
    pub owner: String,
    /// The label, personal.
    pub label: ::factum::Pii<String>,
}

/// The first schema of `Removed`.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[event(name = "Removed")]
pub struct RemovedV1 {
    /// How many.
    pub count: u16,
}

/// Another event, evolved once.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[event(name = "Removed", version = 2, upcast_from = RemovedV1)]
pub struct Removed {
    /// How many.
    pub count: u32,
}

impl From<RemovedV1> for Removed {
    fn from(old: RemovedV1) -> Self {
        Self { count: u32::from(old.count) }
    }
}

/// The error.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum StockError {
    /// Not enough.
    #[error("only {0} left")]
    Short(u32),
}

/// Services.
#[derive(Default)]
pub struct Warehouse {
    /// The most one command may add.
    pub limit: u32,
}

/// The aggregate.
#[derive(Aggregate, Default, Debug, Clone, Serialize, Deserialize)]
#[aggregate(name = "stock", snapshot_every = 100)]
pub struct Stock {
    count: u32,
}

#[handlers]
impl Stock {
    /// Adds.
    #[command]
    pub async fn add(&self, count: u32, #[services] warehouse: &Warehouse) -> Result<Option<Added>, StockError> {
        Ok((count > 0).then(|| Added { count: count.min(warehouse.limit) }))
    }

    /// Removes.
    #[command]
    pub fn remove(&self, count: u32) -> Result<Removed, StockError> {
        if count > self.count {
            return Err(StockError::Short(self.count));
        }
        Ok(Removed { count })
    }

    /// Moves.
    #[command(name = "MoveOut")]
    pub fn move_out(&self) -> Result<(Removed, Added), StockError> {
        Ok((Removed { count: self.count }, Added { count: 0 }))
    }

    /// Many at once.
    #[command]
    pub fn batch(&self, counts: Vec<u32>) -> Result<Vec<StockEvent>, StockError> {
        Ok(counts.into_iter().map(|count| Added { count }.into()).collect())
    }

    const fn added(&mut self, e: &Added) {
        self.count += e.count;
    }

    #[apply]
    fn on_added(&mut self, e: &Added) {
        self.added(e);
    }

    #[apply]
    fn removed(&mut self, e: &Removed) {
        self.count -= e.count;
    }
}

/// A projection.
#[derive(Projection, Default, Debug, Clone, Serialize, Deserialize)]
#[projection(name = "stock-levels")]
pub struct Levels {
    total: u64,
}

#[handlers]
impl Levels {
    #[on(aggregate = "stock")]
    fn added(&mut self, e: &Added, meta: &EventMeta) {
        if meta.stream_version > 0 {
            self.total += u64::from(e.count);
        }
    }

    #[on]
    fn removed(&mut self, e: &Removed) -> Result<(), String> {
        self.total = self.total.checked_sub(u64::from(e.count)).ok_or("negative")?;
        Ok(())
    }

    /// The total.
    #[must_use]
    #[query]
    pub const fn total(&self) -> u64 {
        self.total
    }

    /// Whether at least `n` are there.
    #[must_use]
    #[query]
    pub const fn at_least(&self, n: u64) -> bool {
        self.total >= n
    }
}

/// A deadline.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restock {
    /// How many.
    pub count: u32,
}

/// A process manager: a start with a deadline, a fallible handler keyed by a field that ends
/// the instance, a deadline that sends a command, and a `#[rejected]`.
#[derive(ProcessManager, Default, Debug, Clone, Serialize, Deserialize)]
#[process(name = "restocking", sends = [Stock])]
pub struct Restocking {
    stock: String,
    refused: u32,
}

#[handlers]
impl Restocking {
    #[on(start, aggregate = "stock")]
    fn added(&mut self, e: &Added, meta: &EventMeta, steps: &mut Steps<Self>) {
        self.stock.clone_from(&meta.stream_id);
        steps.schedule(std::time::Duration::from_mins(1), Restock { count: e.count });
    }

    #[on(correlate = count, end)]
    fn removed(&mut self, e: &Removed) -> Result<(), String> {
        if e.count == 0 {
            return Err("nothing removed".to_owned());
        }
        self.stock.clear();
        Ok(())
    }

    #[deadline]
    fn restock(&mut self, d: Restock, steps: &mut Steps<Self>) {
        let Restock { count } = d;
        self.refused = 0;
        steps.send::<Stock>(&self.stock, StockCommand::Add { count });
    }

    #[rejected]
    fn refused(&mut self, _: &factum::process::RejectedCommand, steps: &mut Steps<Self>) {
        self.refused += 1;
        steps.end();
    }
}

/// Regression: private commands and event types on a public struct.
///
/// The enums used to take the commands' (private) visibility, and the generated
/// `impl Aggregate` then failed with E0446 (a private type in a public interface).
pub mod private_handlers {
    use factum::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
    struct Ticked;

    /// A clock.
    #[derive(Aggregate, Default, Debug, Clone)]
    pub struct Clock {
        ticks: u32,
    }

    #[handlers]
    impl Clock {
        #[command]
        #[allow(clippy::unused_self, clippy::unnecessary_wraps)]
        fn tick(&self) -> Result<Ticked, std::convert::Infallible> {
            Ok(Ticked)
        }

        #[apply]
        fn ticked(&mut self, _: &Ticked) {
            self.ticks += 1;
        }
    }

    #[test]
    fn private_handlers_compile_and_work() {
        let _ =
            factum::testing::given::<Clock>([Ticked.into()], ()).when(ClockCommand::Tick).then_state(|c| c.ticks == 2);
    }
}

#[test]
fn generated_code_is_lint_clean_and_works() {
    let _ = factum::testing::projection::<Levels>()
        .given("stock", "s-1", Added { count: 2 })
        .then_answer(LevelsQuery::AtLeast { n: 2 }, LevelsAnswer::AtLeast(true))
        .then_answer(LevelsQuery::Total, LevelsAnswer::Total(2));
    let then = factum::testing::given::<Stock>([Added { count: 3 }.into()], Warehouse { limit: 10 })
        .when(StockCommand::Remove { count: 2 })
        .then_events([Removed { count: 2 }.into()]);
    assert!(then.outcome().is_ok());
    assert_eq!(Removed::decode(1, r#"{"count":4}"#).unwrap(), Removed { count: 4 });
    let _ = factum::testing::process::<Restocking>()
        .given("stock", "s-1", Added { count: 2 })
        .then_schedules([Restock { count: 2 }])
        .advance(std::time::Duration::from_mins(1))
        .then_sends::<Stock>([("s-1", StockCommand::Add { count: 2 })]);
}
