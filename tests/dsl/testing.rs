//! The given / when / then helpers fail with expected against actual.

use std::panic::{AssertUnwindSafe, catch_unwind};

use factum::testing::given;

use crate::domain::*;

fn failure(scenario: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(scenario)).expect_err("the scenario should fail");
    payload.downcast_ref::<String>().cloned().unwrap_or_default()
}

#[test]
fn other_events_show_both_lists() {
    let message = failure(|| {
        given::<Ledger>([], Policy::default())
            .when(LedgerCommand::Credit { amount: 5 })
            .then_events([Credited { amount: 6 }.into()]);
    });
    assert!(
        message.starts_with("the command recorded other events than expected (aggregate `ledger`, given 0 events)")
    );
    assert!(
        message.contains("expected events:\n[\n    Credited(\n        Credited {\n            amount: 6,"),
        "{message}"
    );
    assert!(
        message.contains("actual events:\n[\n    Credited(\n        Credited {\n            amount: 5,"),
        "{message}"
    );
}

#[test]
fn an_error_where_events_were_expected_shows_the_error() {
    let message = failure(|| {
        given::<Ledger>([Frozen.into()], Policy::default())
            .when(LedgerCommand::Credit { amount: 5 })
            .then_events([Credited { amount: 5 }.into()]);
    });
    assert!(message.contains("was rejected, but events were expected (aggregate `ledger`, given 1 events)"));
    assert!(message.contains("actual error:\nFrozen (the ledger is frozen)"), "{message}");
}

#[test]
fn events_where_an_error_was_expected_show_the_events() {
    let message = failure(|| {
        given::<Ledger>([], Policy::default()).when(LedgerCommand::Freeze).then_error(LedgerError::Frozen);
    });
    assert!(message.contains("was accepted, but an error was expected"));
    assert!(message.contains("expected error:\nFrozen (the ledger is frozen)\nactual events:"), "{message}");
}

#[test]
fn a_failed_state_check_shows_the_state() {
    let message = failure(|| {
        given::<Ledger>([], Policy::default()).when(LedgerCommand::Credit { amount: 5 }).then_state(|l| l.balance == 4);
    });
    assert!(message.contains("state afterwards:\nLedger {"), "{message}");
    assert!(message.contains("balance: 5,"), "{message}");
}
