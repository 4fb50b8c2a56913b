//! What personal data costs: the same event with two `Pii<String>` fields and with two plain
//! `String`s, appended and loaded side by side, round by round, on one store.
//!
//! Each round appends 200 streams of 50 events (one append of 50 events per stream, so that
//! the figure is the cost per event, not an fsync per command), then loads each stream
//! through a repository with no cache and no snapshots (a replay of all 50 events: opening
//! the sealed values, decoding, applying).

use std::time::Instant;

use factum::prelude::*;
use factum::{EventStore, Metadata, NewEvent, Pii, StreamRef};
use serde::{Deserialize, Serialize};

use crate::measure::Stats;
use crate::table::Table;
use crate::workload::Settings;

/// A customer's contact details, as personal data.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[pii(subject = customer_id)]
pub struct ContactNoted {
    pub customer_id: String,
    pub name: Pii<String>,
    pub address: Pii<String>,
    pub visits: u32,
}

/// The same details in the clear.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PlainContactNoted {
    pub customer_id: String,
    pub name: String,
    pub address: String,
    pub visits: u32,
}

/// What the loads fold the events into.
#[derive(Aggregate, Default, Debug, Clone, Serialize, Deserialize)]
#[aggregate(name = "contact")]
pub struct Contact {
    pub name_length: usize,
    pub visits: u32,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("never")]
pub struct Never;

#[handlers]
impl Contact {
    #[command]
    pub fn note(&self, customer_id: String, name: String, address: String) -> Result<ContactNoted, Never> {
        Ok(ContactNoted { customer_id, name: Pii::new(name), address: Pii::new(address), visits: self.visits + 1 })
    }

    #[apply]
    fn noted(&mut self, e: &ContactNoted) {
        self.name_length = e.name.get().map_or(0, String::len);
        self.visits = e.visits;
    }

    #[apply]
    fn noted_plainly(&mut self, e: &PlainContactNoted) {
        self.name_length = e.name.len();
        self.visits = e.visits;
    }
}

const STREAMS: usize = 200;
const EVENTS: usize = 50;

/// The events of one stream, encoded as a repository would.
fn events(stream: usize, pii: bool) -> Vec<NewEvent> {
    let customer_id = format!("c-{stream}");
    (1..=EVENTS as u32)
        .map(|visits| {
            let (name, address) = ("Ada Lovelace".to_owned(), format!("{visits} St James's Square, London"));
            let event = if pii {
                ContactEvent::ContactNoted(ContactNoted {
                    customer_id: customer_id.clone(),
                    name: Pii::new(name),
                    address: Pii::new(address),
                    visits,
                })
            } else {
                ContactEvent::PlainContactNoted(PlainContactNoted {
                    customer_id: customer_id.clone(),
                    name,
                    address,
                    visits,
                })
            };
            NewEvent { name: event.name(), version: event.version(), payload: event.encode().expect("encodes") }
        })
        .collect()
}

/// Seconds to append every stream (encoding included), and to load every one back.
async fn round<S: EventStore + Clone>(store: &S, tag: &str, pii: bool) -> (f64, f64) {
    let ids: Vec<String> = (0..STREAMS).map(|i| format!("{tag}-{i}")).collect();
    let start = Instant::now();
    for (i, id) in ids.iter().enumerate() {
        let batch = events(i, pii);
        store.append(StreamRef::new("contact", id), 0, &Metadata::new(), batch).await.expect("append");
    }
    let appended = start.elapsed().as_secs_f64();
    let contacts = Repository::<Contact, _>::new(store.clone()).with_cache_capacity(0);
    let start = Instant::now();
    for id in &ids {
        let loaded = contacts.load(id).await.expect("load").expect("stored");
        assert_eq!((loaded.state.visits, loaded.state.name_length), (EVENTS as u32, 12));
    }
    (appended, start.elapsed().as_secs_f64())
}

/// The section's rows for `section`: append and load, with and without `Pii`, on stores
/// `make` gives (a fresh one per round).
pub async fn pii<S: EventStore + Clone>(
    settings: &Settings,
    table: &mut Table,
    section: &'static str,
    make: impl AsyncFn(usize) -> S,
) {
    let (mut append, mut load) = ((Vec::new(), Vec::new()), (Vec::new(), Vec::new()));
    for n in 0..settings.rounds {
        let store = make(n).await;
        // Alternating which goes first, so that neither always meets a warmer store.
        for pii in if n % 2 == 0 { [true, false] } else { [false, true] } {
            let (appended, loaded) = round(&store, &format!("r{n}-{pii}"), pii).await;
            let (a, l) = if pii { (&mut append.0, &mut load.0) } else { (&mut append.1, &mut load.1) };
            a.push(appended);
            l.push(loaded);
        }
    }
    let events = (STREAMS * EVENTS) as f64;
    let per_event = |samples: &[f64]| Stats::of(samples).map(|s| s / events * 1e6);
    for (what, (with, plain)) in [("append", append), ("load (replay, open, decode, apply)", load)] {
        let (with, plain) = (per_event(&with), per_event(&plain));
        table.push(section, format!("{what}, event with 2 `Pii<String>` fields"), "µs/event", with).note(format!(
            "the same event with 2 plain `String`s, same run: {:.2} µs/event; `Pii` adds {:.2} µs ({:.2}×)",
            plain.median,
            with.median - plain.median,
            with.median / plain.median
        ));
    }
}
