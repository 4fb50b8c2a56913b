//! Given / when / then for aggregates, and given / then for projections: the domain's rules
//! as readable tests.
//!
//! ```
//! use factum::prelude::*;
//! use factum::testing::given;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
//! pub struct Opened;
//!
//! #[derive(Debug, PartialEq, thiserror::Error)]
//! pub enum DoorError {
//!     #[error("the door is already open")]
//!     AlreadyOpen,
//! }
//!
//! #[derive(Aggregate, Default, Debug, Clone)]
//! pub struct Door { open: bool }
//!
//! #[handlers]
//! impl Door {
//!     #[command]
//!     pub fn open(&self) -> Result<Opened, DoorError> {
//!         if self.open { Err(DoorError::AlreadyOpen) } else { Ok(Opened) }
//!     }
//!
//!     #[apply]
//!     fn opened(&mut self, _: &Opened) { self.open = true; }
//! }
//!
//! # fn main() {
//! given::<Door>([], ()).when(DoorCommand::Open).then_events([Opened.into()]);
//! given::<Door>([Opened.into()], ()).when(DoorCommand::Open).then_error(DoorError::AlreadyOpen);
//! # }
//! ```

use std::fmt::Debug;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

use crate::aggregate::Aggregate;

/// Starts a scenario: an aggregate that has already recorded `events`, with `services`.
pub fn given<A: Aggregate>(events: impl IntoIterator<Item = A::Event>, services: A::Services) -> Given<A> {
    let mut state = A::default();
    let mut history = Vec::new();
    for event in events {
        state.apply(&event);
        history.push(event);
    }
    Given { state, services, history }
}

/// An aggregate built from past events, waiting for a command.
pub struct Given<A: Aggregate> {
    state: A,
    services: A::Services,
    history: Vec<A::Event>,
}

impl<A: Aggregate> Given<A> {
    /// Decides `command`, running an `async` command to completion on the calling thread.
    ///
    /// Commands that need a Tokio runtime (timers, sockets) use
    /// [`when_async`](Self::when_async) from a `#[tokio::test]` instead.
    pub fn when(self, command: A::Command) -> Then<A> {
        let outcome = block_on(self.state.handle(command, &self.services));
        Then { state: self.state, history: self.history, outcome }
    }

    /// Decides `command` on the caller's executor.
    pub async fn when_async(self, command: A::Command) -> Then<A> {
        let outcome = self.state.handle(command, &self.services).await;
        Then { state: self.state, history: self.history, outcome }
    }

    /// The state built from the given events.
    pub fn state(&self) -> &A {
        &self.state
    }
}

/// The outcome of a command, to check against expectations. Each check panics with the
/// expected and the actual outcome side by side.
pub struct Then<A: Aggregate> {
    state: A,
    history: Vec<A::Event>,
    outcome: Result<Vec<A::Event>, A::Error>,
}

impl<A: Aggregate> Then<A> {
    /// Expects the command to record exactly `expected`, in order.
    #[track_caller]
    pub fn then_events(self, expected: impl IntoIterator<Item = A::Event>) -> Self {
        let expected: Vec<A::Event> = expected.into_iter().collect();
        match &self.outcome {
            Ok(actual) if *actual == expected => {}
            Ok(actual) => panic!(
                "{}\nexpected events:\n{expected:#?}\nactual events:\n{actual:#?}",
                self.headline("recorded other events than expected")
            ),
            Err(error) => panic!(
                "{}\nexpected events:\n{expected:#?}\nactual error:\n{error:#?} ({error})",
                self.headline("was rejected, but events were expected")
            ),
        }
        self
    }

    /// Expects the command to record nothing, and not to fail.
    #[track_caller]
    pub fn then_no_events(self) -> Self {
        self.then_events([])
    }

    /// Expects the command to be rejected with `expected`.
    #[track_caller]
    pub fn then_error(self, expected: A::Error) -> Self
    where
        A::Error: PartialEq,
    {
        match &self.outcome {
            Err(actual) if *actual == expected => {}
            Err(actual) => panic!(
                "{}\nexpected error:\n{expected:#?} ({expected})\nactual error:\n{actual:#?} ({actual})",
                self.headline("was rejected with another error than expected")
            ),
            Ok(events) => panic!(
                "{}\nexpected error:\n{expected:#?} ({expected})\nactual events:\n{events:#?}",
                self.headline("was accepted, but an error was expected")
            ),
        }
        self
    }

    /// Expects the command to be rejected with an error that `check` accepts.
    #[track_caller]
    pub fn then_error_matches(self, check: impl FnOnce(&A::Error) -> bool) -> Self {
        match &self.outcome {
            Err(actual) if check(actual) => {}
            Err(actual) => {
                panic!(
                    "{}\nactual error:\n{actual:#?} ({actual})",
                    self.headline("was rejected with an unexpected error")
                )
            }
            Ok(events) => {
                panic!("{}\nactual events:\n{events:#?}", self.headline("was accepted, but an error was expected"))
            }
        }
        self
    }

    /// Expects the state after applying the recorded events to satisfy `check`.
    #[track_caller]
    pub fn then_state(self, check: impl FnOnce(&A) -> bool) -> Self
    where
        A: Debug + Clone,
    {
        let mut state = self.state.clone();
        if let Ok(events) = &self.outcome {
            events.iter().for_each(|e| state.apply(e));
        }
        if !check(&state) {
            panic!("{}\nstate afterwards:\n{state:#?}", self.headline("left a state the check rejects"));
        }
        self
    }

    /// The events recorded, or the error.
    pub fn outcome(&self) -> &Result<Vec<A::Event>, A::Error> {
        &self.outcome
    }

    fn headline(&self, what: &str) -> String {
        format!("the command {what} (aggregate `{}`, given {} events)", A::NAME, self.history.len())
    }
}

/// Runs a future to completion on this thread, parking while it waits.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        match future.as_mut().poll(&mut context) {
            Poll::Ready(output) => return output,
            Poll::Pending => thread::park(),
        }
    }
}

/// Starts a projection scenario: feed it events, then check its state or its answers.
///
/// ```
/// use std::collections::BTreeMap;
/// use factum::prelude::*;
/// use factum::testing::projection;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
/// pub struct Deposited { pub amount: u64 }
///
/// #[derive(Projection, Default, Debug, Clone, Serialize, Deserialize)]
/// pub struct Balances { by_account: BTreeMap<String, u64> }
///
/// #[handlers]
/// impl Balances {
///     #[on(aggregate = "account")]
///     fn deposited(&mut self, e: &Deposited, meta: &EventMeta) {
///         *self.by_account.entry(meta.stream_id.clone()).or_default() += e.amount;
///     }
///
///     #[query]
///     pub fn balance(&self, account: String) -> Option<u64> {
///         self.by_account.get(&account).copied()
///     }
/// }
///
/// projection::<Balances>()
///     .given("account", "a-1", Deposited { amount: 5 })
///     .given("account", "a-1", Deposited { amount: 2 })
///     .given("shop", "s-1", Deposited { amount: 100 }) // another aggregate: not handled
///     .then_answer(BalancesQuery::Balance { account: "a-1".into() }, BalancesAnswer::Balance(Some(7)))
///     .then_state(|b| b.by_account.len() == 1);
/// ```
pub fn projection<P: crate::Projection>() -> ProjectionScenario<P> {
    ProjectionScenario { projection: P::default(), log: TestLog::default() }
}

/// A projection fed with events, to check. Each check panics with expected and actual.
pub struct ProjectionScenario<P: crate::Projection> {
    projection: P,
    log: TestLog,
}

/// The log a scenario's events are "stored" in: each stream's version and the global
/// position, so that handlers see the metadata a store would give them.
#[derive(Default)]
struct TestLog {
    streams: Vec<((String, String), u64)>,
    position: u64,
}

impl TestLog {
    /// `event` as the next event of `aggregate_type/stream_id`, recorded at `at`.
    #[track_caller]
    fn next<E: crate::Event>(
        &mut self,
        aggregate_type: &str,
        stream_id: &str,
        event: &E,
        at: std::time::SystemTime,
        metadata: crate::Metadata,
    ) -> crate::RecordedEvent {
        let key = (aggregate_type.to_owned(), stream_id.to_owned());
        let version = match self.streams.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => {
                *v += 1;
                *v
            }
            None => {
                self.streams.push((key, 1));
                1
            }
        };
        self.position += 1;
        crate::RecordedEvent {
            meta: crate::EventMeta {
                aggregate_type: aggregate_type.to_owned(),
                stream_id: stream_id.to_owned(),
                stream_version: version,
                position: self.position,
                event_name: E::NAME.to_owned(),
                event_version: E::VERSION,
                recorded_at: at,
                metadata,
            },
            payload: event.encode().unwrap_or_else(|e| panic!("{e}")),
        }
    }
}

impl<P: crate::Projection> ProjectionScenario<P> {
    /// Feeds `event`, as if stored as the next event of `aggregate_type/stream_id`.
    #[track_caller]
    pub fn given<E: crate::Event>(mut self, aggregate_type: &str, stream_id: &str, event: E) -> Self {
        let recorded =
            self.log.next(aggregate_type, stream_id, &event, std::time::SystemTime::now(), Default::default());
        if let Err(error) = self.projection.project(&recorded) {
            panic!(
                "projection `{}` failed on event `{}` at position {}: {error}",
                P::NAME,
                E::NAME,
                recorded.meta.position
            );
        }
        self
    }

    /// Expects `query` to be answered with `expected`.
    #[track_caller]
    pub fn then_answer(self, query: P::Query, expected: P::Answer) -> Self
    where
        P::Query: Debug,
        P::Answer: PartialEq + Debug,
    {
        let shown = format!("{query:?}");
        let actual = self.projection.ask(query);
        if actual != expected {
            panic!(
                "projection `{}`, query {shown}:\nexpected answer:\n{expected:#?}\nactual answer:\n{actual:#?}",
                P::NAME
            );
        }
        self
    }

    /// Expects the state to satisfy `check`.
    #[track_caller]
    pub fn then_state(self, check: impl FnOnce(&P) -> bool) -> Self
    where
        P: Debug,
    {
        if !check(&self.projection) {
            panic!("projection `{}`: the state fails the check:\n{:#?}", P::NAME, self.projection);
        }
        self
    }

    /// The state built so far.
    pub fn state(&self) -> &P {
        &self.projection
    }
}

mod process;
pub use process::{ProcessScenario, process};
