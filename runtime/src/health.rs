//! How each projection runner is doing, for a health endpoint or an operator's dashboard.
//!
//! [`ProjectionRunner::health`](crate::ProjectionRunner::health) reports one runner;
//! [`Repository::inline_health`](crate::Repository::inline_health) the inline projections of a
//! repository. Both serialize with serde, so a web service can answer `GET /health` with them
//! (and a 503 when any [`is_stopped`](RunnerHealth::is_stopped)):
//!
//! ```
//! use factum::{RunnerHealth, RunnerStatus};
//!
//! let health = RunnerHealth { name: "balances", status: RunnerStatus::CaughtUp, position: 42, head: 42, lag: 0 };
//! assert_eq!(
//!     serde_json::to_string(&health).unwrap(),
//!     r#"{"name":"balances","status":{"status":"caught_up"},"position":42,"head":42,"lag":0}"#
//! );
//! assert!(!health.is_stopped());
//! ```

use serde::Serialize;

/// One projection runner's state, at the moment it was asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunnerHealth {
    /// The projection's name ([`ProjectionType::NAME`](crate::ProjectionType::NAME)).
    pub name: &'static str,
    /// What the runner is doing.
    pub status: RunnerStatus,
    /// The position of the last event the projection reflects.
    pub position: u64,
    /// The position of the newest event in the store (the last one seen, if the store could
    /// not be asked).
    pub head: u64,
    /// How many positions the projection is behind the head. It counts every event in the
    /// store, including those the projection does not subscribe to, until the runner next
    /// reads past them.
    pub lag: u64,
}

impl RunnerHealth {
    /// True when the runner is stopped: it will not move on by itself.
    pub fn is_stopped(&self) -> bool {
        matches!(self.status, RunnerStatus::Stopped { .. })
    }
}

/// What a projection runner is doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RunnerStatus {
    /// Loaded (from its checkpoint, or empty) and not caught up yet since it started or was
    /// told to rebuild.
    Starting,
    /// Behind the head of the store.
    CatchingUp,
    /// At the head of the store.
    CaughtUp,
    /// A catch-up failed; the runner stays stopped until a [`rebuild`] or a catch-up that
    /// succeeds. When it failed on an event, `event` and `stream` name it and `position` is
    /// its place in the log; otherwise (the store failed, or could not even be asked for its
    /// head) they are `None` and `position` is the runner's own.
    ///
    /// [`rebuild`]: crate::ProjectionRunner::rebuild
    Stopped {
        /// The position of the failing event, or the runner's position.
        position: u64,
        /// The stored name of the failing event.
        event: Option<String>,
        /// The failing event's stream, as `aggregate-type/id`.
        stream: Option<String>,
        /// The error's message.
        error: String,
    },
}
