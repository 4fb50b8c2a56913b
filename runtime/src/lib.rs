//! # factum
//!
//! Event sourcing and CQRS in which the domain is plain annotated Rust and procedural macros
//! write the plumbing: command and event enums, `apply` dispatch, serialization wiring.
//!
//! - [`Event`] (derive): a fact, stored under a stable name and schema version, with typed
//!   upcasting from older versions.
//! - [`Aggregate`] (derive) and [`handlers`] (attribute): the state, its `#[command]`s and its
//!   `#[apply]` handlers; the macros generate `{Aggregate}Command`, `{Aggregate}Event` and the
//!   [`Aggregate`](trait@Aggregate) impl.
//! - [`EventStore`] and its backends ([`MemoryStore`]), [`Repository`] to run commands, and
//!   [`testing`] for given / when / then.
//! - [`registry`]: the event model (events with their stored shapes, aggregates, projections),
//!   registered by the macros; [`catalog`] writes it as a page with a diagram, and
//!   [`schema::check`] compares the stored shapes with a committed lock file in a test.
//!
//! ```
//! use factum::prelude::*;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
//! pub struct MoneyDeposited { pub amount: u64 }
//!
//! #[derive(Debug, thiserror::Error, PartialEq)]
//! pub enum BankError {
//!     #[error("a deposit must be positive")]
//!     EmptyDeposit,
//! }
//!
//! #[derive(Aggregate, Default, Debug, Clone)]
//! pub struct BankAccount { balance: u64 }
//!
//! #[handlers]
//! impl BankAccount {
//!     #[command]
//!     pub fn deposit(&self, amount: u64) -> Result<MoneyDeposited, BankError> {
//!         if amount == 0 { return Err(BankError::EmptyDeposit) }
//!         Ok(MoneyDeposited { amount })
//!     }
//!
//!     #[apply]
//!     fn deposited(&mut self, e: &MoneyDeposited) { self.balance += e.amount; }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let accounts = Repository::<BankAccount, _>::new(MemoryStore::new());
//! accounts.execute("acc-1", BankAccountCommand::Deposit { amount: 30 }).await?;
//! let rejected = accounts.execute("acc-1", BankAccountCommand::Deposit { amount: 0 }).await;
//! assert_eq!(rejected.unwrap_err().rejection(), Some(&BankError::EmptyDeposit));
//! assert_eq!(accounts.load("acc-1").await?.unwrap().state.balance, 30);
//! # Ok(()) }
//! ```

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// The generated code names `::factum::...`; this lets the crate's own tests use the macros.
extern crate self as factum;

mod aggregate;
mod cache;
pub mod catalog;
mod envelope;
mod error;
mod event;
mod health;
pub mod pii;
pub mod process;
pub mod projection;
pub mod registry;
mod repository;
pub mod schema;
mod snapshot;
pub mod store;
pub mod testing;
mod trace;

pub use aggregate::{Aggregate, AggregateType, SnapshotCodec};
pub use envelope::{EventEnvelope, EventMeta, Metadata, NewEvent, RecordedEvent, StoredEvent};
pub use error::{
    ApplyError, BoxError, DecodeError, EncodeError, ExecuteError, ProcessError, ProjectionError, SealError, StoreError,
    StreamName,
};
pub use event::{Event, EventSet};
pub use health::{RunnerHealth, RunnerStatus};
pub use pii::{Forgotten, KeyWrap, MasterKey, Pii};
pub use process::{ProcessManager, ProcessRunner, ProcessType, Steps};
pub use projection::{InlineProjection, Projection, ProjectionRunner, ProjectionType};
pub use repository::{Committed, DEFAULT_CACHE_CAPACITY, Loaded, Repository, RetryPolicy};
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use store::SqliteStore;
pub use store::{
    Appended, Checkpoint, EventFilter, EventStore, Lease, MemoryStore, RunnerFailure, Snapshot, StreamDeleted,
    StreamRef,
};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use store::{PostgresOptions, PostgresStore, TlsMode};

mod macros;
#[cfg(feature = "nats")]
#[cfg_attr(docsrs, doc(cfg(feature = "nats")))]
pub mod nats;
pub use macros::*;

/// The names most programs need: `use factum::prelude::*;`.
pub mod prelude {
    pub use crate::{
        Aggregate, AggregateType, Event, EventEnvelope, EventMeta, EventSet, EventStore, ExecuteError, MemoryStore,
        Metadata, ProcessManager, ProcessRunner, ProcessType, Projection, ProjectionRunner, ProjectionType, Repository,
        Steps, handlers,
    };
}

/// Support for the generated code. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private;
