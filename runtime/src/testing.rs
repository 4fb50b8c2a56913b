//! Given / when / then for aggregates: the domain's rules as readable tests.
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
    Given {
        state,
        services,
        history,
    }
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
        Then {
            state: self.state,
            history: self.history,
            outcome,
        }
    }

    /// Decides `command` on the caller's executor.
    pub async fn when_async(self, command: A::Command) -> Then<A> {
        let outcome = self.state.handle(command, &self.services).await;
        Then {
            state: self.state,
            history: self.history,
            outcome,
        }
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
            Ok(events) => panic!(
                "{}\nactual events:\n{events:#?}",
                self.headline("was accepted, but an error was expected")
            ),
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
            panic!(
                "{}\nstate afterwards:\n{state:#?}",
                self.headline("left a state the check rejects")
            );
        }
        self
    }

    /// The events recorded, or the error.
    pub fn outcome(&self) -> &Result<Vec<A::Event>, A::Error> {
        &self.outcome
    }

    fn headline(&self, what: &str) -> String {
        format!(
            "the command {what} (aggregate `{}`, given {} events)",
            A::NAME,
            self.history.len()
        )
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
