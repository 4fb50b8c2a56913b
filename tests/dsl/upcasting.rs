//! Typed schema evolution: a three-step chain, and clear errors off the chain.

use factum::prelude::*;
use factum::{DecodeError, NewEvent, StreamRef};
use serde::{Deserialize, Serialize};

/// Version 1: an amount in whole units.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "Priced")]
pub struct PricedV1 {
    pub units: u64,
}

/// Version 2: the amount in cents.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "Priced", version = 2, upcast_from = PricedV1)]
pub struct PricedV2 {
    pub cents: u64,
}

/// Version 3: cents and a currency.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "Priced", version = 3, upcast_from = PricedV2)]
pub struct Priced {
    pub cents: u64,
    pub currency: String,
}

impl From<PricedV1> for PricedV2 {
    fn from(v1: PricedV1) -> Self {
        PricedV2 { cents: v1.units * 100 }
    }
}

impl From<PricedV2> for Priced {
    fn from(v2: PricedV2) -> Self {
        Priced { cents: v2.cents, currency: "EUR".into() }
    }
}

#[test]
fn every_stored_version_decodes_as_the_newest_type() {
    assert_eq!(Priced::decode(1, r#"{"units":3}"#).unwrap(), Priced { cents: 300, currency: "EUR".into() });
    assert_eq!(Priced::decode(2, r#"{"cents":250}"#).unwrap(), Priced { cents: 250, currency: "EUR".into() });
    assert_eq!(
        Priced::decode(3, r#"{"cents":1,"currency":"USD"}"#).unwrap(),
        Priced { cents: 1, currency: "USD".into() }
    );
    assert_eq!((Priced::NAME, Priced::VERSION), ("Priced", 3));
}

#[test]
fn a_version_off_the_chain_is_an_error_not_a_panic() {
    let newer = Priced::decode(4, "{}").unwrap_err();
    assert!(matches!(newer, DecodeError::UnknownVersion { name: "Priced", version: 4, newest: 3 }));
    assert_eq!(newer.to_string(), "event `Priced` has no type for schema version 4 (the newest is 3)");
    let older = Priced::decode(0, "{}").unwrap_err();
    assert!(matches!(older, DecodeError::UnknownVersion { name: "Priced", version: 0, .. }), "{older}");
}

#[test]
fn a_payload_that_does_not_fit_its_version_names_event_and_version() {
    let error = Priced::decode(1, r#"{"cents":3}"#).unwrap_err();
    assert!(error.to_string().starts_with("event `Priced` version 1: the payload does not match the type"), "{error}");
}

#[derive(Aggregate, Default, Debug, Clone)]
pub struct Product {
    cents: u64,
    currency: String,
}

#[handlers]
impl Product {
    #[command]
    pub fn price(&self, cents: u64) -> Result<Priced, std::convert::Infallible> {
        Ok(Priced { cents, currency: "EUR".into() })
    }

    #[apply]
    fn priced(&mut self, e: &Priced) {
        self.cents = e.cents;
        self.currency = e.currency.clone();
    }
}

#[tokio::test]
async fn a_stream_written_by_three_schemas_loads_as_today_s_types() {
    let store = MemoryStore::new();
    let stream = StreamRef::new("product", "p-1");
    let old = |version, payload: &str| NewEvent { name: "Priced", version, payload: payload.to_owned() };
    store
        .append(stream, 0, &Metadata::new(), vec![old(1, r#"{"units":2}"#), old(2, r#"{"cents":250}"#)])
        .await
        .unwrap();
    let products = Repository::<Product, _>::new(store);
    products.execute("p-1", ProductCommand::Price { cents: 399 }).await.unwrap();

    let events: Vec<_> =
        products.events("p-1").await.unwrap().into_iter().map(|e| (e.meta.event_version, e.event)).collect();
    assert_eq!(
        events,
        [
            (1, ProductEvent::Priced(Priced { cents: 200, currency: "EUR".into() })),
            (2, ProductEvent::Priced(Priced { cents: 250, currency: "EUR".into() })),
            (3, ProductEvent::Priced(Priced { cents: 399, currency: "EUR".into() })),
        ]
    );
    let at_two = products.load_at("p-1", 2).await.unwrap().unwrap();
    assert_eq!((at_two.state.cents, at_two.version), (250, 2));
}

#[tokio::test]
async fn an_unknown_stored_version_names_stream_version_and_event() {
    let store = MemoryStore::new();
    let stream = StreamRef::new("product", "p-9");
    let future = NewEvent { name: "Priced", version: 9, payload: "{}".into() };
    store.append(stream, 0, &Metadata::new(), vec![future]).await.unwrap();
    let products = Repository::<Product, _>::new(store);
    let error = products.load("p-9").await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "stream product/p-9, version 1: event `Priced` has no type for schema version 9 (the newest is 3)"
    );
    // Other streams stay usable.
    products.execute("p-1", ProductCommand::Price { cents: 1 }).await.unwrap();
}
