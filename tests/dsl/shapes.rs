//! Every command shape, the generated enums and the `EventSet` wiring.

use factum::prelude::*;
use factum::testing::given;

use crate::domain::*;

fn policy() -> Policy {
    Policy { refused: vec!["Mallory".into()], fee: 1 }
}

#[test]
fn one_event() {
    given::<Ledger>([], policy())
        .when(LedgerCommand::Credit { amount: 5 })
        .then_events([Credited { amount: 5 }.into()]);
}

#[test]
fn a_tuple_of_events_in_order_with_services_between_parameters() {
    given::<Ledger>([Credited { amount: 10 }.into()], policy())
        .when(LedgerCommand::DebitWithFee { amount: 4, memo: "rent".into() })
        .then_events([Debited { amount: 4 }.into(), Debited { amount: 1 }.into()])
        .then_state(|l| l.balance == 5 && l.entries == 3);
}

#[test]
fn option_some_and_none() {
    given::<Ledger>([], policy()).when(LedgerCommand::Freeze).then_events([Frozen.into()]);
    given::<Ledger>([Frozen.into()], policy()).when(LedgerCommand::Freeze).then_no_events();
}

#[test]
fn a_vec_of_the_event_enum() {
    given::<Ledger>([], policy()).when(LedgerCommand::CreditEach { amounts: vec![1, 2, 3] }).then_events([
        Credited { amount: 1 }.into(),
        Credited { amount: 2 }.into(),
        Credited { amount: 3 }.into(),
    ]);
    given::<Ledger>([], policy()).when(LedgerCommand::CreditEach { amounts: vec![] }).then_no_events();
}

#[test]
fn async_command_with_services() {
    given::<Ledger>([], policy())
        .when(LedgerCommand::Open { owner: "Ada".into() })
        .then_events([Opened { owner: "Ada".into() }.into()]);
    given::<Ledger>([], policy())
        .when(LedgerCommand::Open { owner: "Mallory".into() })
        .then_error(LedgerError::Refused { owner: "Mallory".into() });
}

#[tokio::test]
async fn async_command_on_the_tokio_executor() {
    given::<Ledger>([], policy())
        .when_async(LedgerCommand::Open { owner: "Ada".into() })
        .await
        .then_events([Opened { owner: "Ada".into() }.into()]);
}

#[test]
fn errors_are_the_domain_error() {
    given::<Ledger>([Frozen.into()], policy())
        .when(LedgerCommand::Credit { amount: 1 })
        .then_error(LedgerError::Frozen);
    given::<Ledger>([], policy())
        .when(LedgerCommand::DebitWithFee { amount: 4, memo: String::new() })
        .then_error_matches(|e| matches!(e, LedgerError::Insufficient { requested: 5, .. }));
}

#[test]
fn commands_arrive_as_json() {
    let command: LedgerCommand = serde_json::from_str(r#"{"DebitWithFee":{"amount":3,"memo":"x"}}"#).unwrap();
    assert_eq!(command, LedgerCommand::DebitWithFee { amount: 3, memo: "x".into() });
    let unit: LedgerCommand = serde_json::from_str(r#""Freeze""#).unwrap();
    assert_eq!(unit, LedgerCommand::Freeze);
    assert_eq!(serde_json::to_string(&LedgerCommand::Credit { amount: 2 }).unwrap(), r#"{"Credit":{"amount":2}}"#);
    let error = serde_json::from_str::<LedgerCommand>(r#"{"Credit":{"amount":-2}}"#).unwrap_err();
    assert!(error.to_string().contains("invalid value"), "{error}");
}

#[test]
fn the_event_set_names_versions_and_round_trips() {
    assert_eq!(<LedgerEvent as EventSet>::NAMES, ["Opened", "Credited", "Debited", "ledger.frozen"]);
    assert_eq!(<Ledger as AggregateType>::NAME, "ledger");
    assert_eq!(<Ledger as AggregateType>::SNAPSHOT_EVERY, None);
    let event: LedgerEvent = Frozen.into();
    assert_eq!((event.name(), event.version()), ("ledger.frozen", 1));
    let payload = event.encode().unwrap();
    assert_eq!(LedgerEvent::decode("ledger.frozen", 1, &payload).unwrap(), event);
    let credited = LedgerEvent::decode("Credited", 1, r#"{"amount":7}"#).unwrap();
    assert_eq!(credited, LedgerEvent::Credited(Credited { amount: 7 }));
}

/// The event enum's `Debug`, `Clone` and `PartialEq` are written out by `#[handlers]` (through
/// `__private::AsEvent`): they behave as the derives would.
#[test]
fn the_event_enum_prints_clones_and_compares_as_derived() {
    let credited = LedgerEvent::Credited(Credited { amount: 7 });
    assert_eq!(format!("{credited:?}"), "Credited(Credited { amount: 7 })");
    assert_eq!(format!("{:?}", LedgerEvent::from(Frozen)), "Frozen(Frozen)");
    let copy = credited.clone();
    assert_eq!(copy, credited);
    assert_ne!(copy, LedgerEvent::Credited(Credited { amount: 8 }));
    assert_ne!(copy, LedgerEvent::Debited(Debited { amount: 7 }));
}

#[test]
fn decoding_an_unknown_name_or_a_bad_payload_names_the_event() {
    let unknown = LedgerEvent::decode("Teleported", 1, "{}").unwrap_err();
    assert_eq!(
        unknown.to_string(),
        "unknown event `Teleported` (this set knows `Opened`, `Credited`, `Debited`, `ledger.frozen`)"
    );
    let bad = LedgerEvent::decode("Credited", 1, r#"{"amount":"lots"}"#).unwrap_err();
    assert!(bad.to_string().starts_with("event `Credited` version 1: the payload does not match the type"), "{bad}");
}

#[test]
fn snapshot_policy_and_kebab_case_default_name() {
    #[derive(Aggregate, Default, serde::Serialize, serde::Deserialize)]
    #[aggregate(snapshot_every = 50)]
    struct ShoppingCart;
    assert_eq!(<ShoppingCart as AggregateType>::NAME, "shopping-cart");
    assert_eq!(<ShoppingCart as AggregateType>::SNAPSHOT_EVERY, Some(50));
}

#[test]
#[allow(dead_code)]
fn the_fingerprint_follows_the_shape_of_the_state() {
    mod before {
        #[derive(factum::Aggregate, Default)]
        pub struct Cart {
            pub items: u32,
        }
    }
    mod same {
        #[derive(factum::Aggregate, Default)]
        pub struct Cart {
            pub items: u32,
        }
    }
    mod after {
        #[derive(factum::Aggregate, Default)]
        pub struct Cart {
            pub items: u64,
        }
    }
    use factum::AggregateType;
    assert_eq!(before::Cart::FINGERPRINT, same::Cart::FINGERPRINT);
    assert_ne!(before::Cart::FINGERPRINT, after::Cart::FINGERPRINT);
}

mod cfg_on_handlers {
    use factum::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
    pub struct Ticked;

    #[allow(dead_code)]
    #[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
    pub struct Never;

    #[derive(Aggregate, Default, Debug, Clone)]
    pub struct Clock {
        ticks: u32,
    }

    #[handlers]
    impl Clock {
        #[command]
        pub fn tick(&self) -> Result<Ticked, std::convert::Infallible> {
            Ok(Ticked)
        }

        #[cfg(any())]
        #[command]
        pub fn never(&self) -> Result<Never, std::convert::Infallible> {
            Ok(Never)
        }

        #[apply]
        fn ticked(&mut self, _: &Ticked) {
            self.ticks += 1;
        }

        #[cfg(any())]
        #[apply]
        fn never_applied(&mut self, _: &Never) {}
    }

    #[test]
    fn cfg_removes_the_variants_of_disabled_methods() {
        assert_eq!(<ClockEvent as EventSet>::NAMES, ["Ticked"]);
        let all = [ClockCommand::Tick];
        assert!(all.iter().all(|c| matches!(c, ClockCommand::Tick)));
        factum::testing::given::<Clock>([ClockEvent::Ticked(Ticked)], ())
            .when(ClockCommand::Tick)
            .then_state(|c| c.ticks == 2);
    }
}

#[test]
fn command_names_are_the_variant_names() {
    assert_eq!(Ledger::command_name(&LedgerCommand::Credit { amount: 1 }), "Credit");
    assert_eq!(Ledger::command_name(&LedgerCommand::DebitWithFee { amount: 1, memo: String::new() }), "DebitWithFee");
    assert_eq!(Ledger::command_name(&LedgerCommand::Freeze), "Freeze");
    assert_eq!(Ledger::command_name(&LedgerCommand::CreditEach { amounts: vec![] }), "CreditEach");
    assert_eq!(Ledger::command_name(&LedgerCommand::Open { owner: "Ada".into() }), "Open");
}
