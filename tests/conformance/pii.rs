//! Personal data on every store: values sealed in storage and opened on every read path,
//! `Pii::Forgotten` everywhere once the subject is forgotten, snapshots and projection
//! checkpoints that held the values removed, and a value moved to another event refused.

use std::collections::BTreeMap;
use std::sync::Arc;

use factum::prelude::*;
use factum::{EventFilter, NewEvent, Pii, StoreError, StreamRef};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "PatientAdmitted")]
#[pii(subject = patient)]
pub struct PatientAdmittedV1 {
    pub patient: String,
    pub name: Pii<String>,
}

/// Version 2 adds the ward; version 1 payloads are upcast, their `Pii` carried over.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "PatientAdmitted", version = 2, upcast_from = PatientAdmittedV1)]
#[pii(subject = patient)]
pub struct PatientAdmitted {
    pub patient: String,
    pub name: Pii<String>,
    pub ward: String,
    pub notes: Vec<Pii<String>>,
}

impl From<PatientAdmittedV1> for PatientAdmitted {
    fn from(old: PatientAdmittedV1) -> Self {
        PatientAdmitted { patient: old.patient, name: old.name, ward: "unknown".into(), notes: Vec::new() }
    }
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PatientMoved {
    pub ward: String,
}

#[derive(Aggregate, Default, Debug, Clone, Serialize, Deserialize)]
#[aggregate(name = "stay", snapshot_every = 2)]
pub struct Stay {
    pub name: Option<Pii<String>>,
    pub notes: Vec<Pii<String>>,
    pub moves: u32,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("never")]
pub struct Never;

#[handlers]
impl Stay {
    #[command]
    pub fn admit(&self, patient: String, name: String, notes: Vec<String>) -> Result<PatientAdmitted, Never> {
        Ok(PatientAdmitted {
            patient,
            name: Pii::new(name),
            ward: "A".into(),
            notes: notes.into_iter().map(Pii::new).collect(),
        })
    }

    #[command]
    pub fn move_to(&self, ward: String) -> Result<PatientMoved, Never> {
        Ok(PatientMoved { ward })
    }

    #[apply]
    fn admitted(&mut self, e: &PatientAdmitted) {
        self.name = Some(e.name.clone());
        self.notes = e.notes.clone();
    }

    #[apply]
    fn moved(&mut self, _: &PatientMoved) {
        self.moves += 1;
    }
}

/// Names by stay: the read model a forgotten patient must vanish from.
#[derive(Projection, Default, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[projection(name = "ward-list")]
pub struct WardList {
    pub names: BTreeMap<String, Pii<String>>,
}

#[handlers]
impl WardList {
    #[on]
    fn admitted(&mut self, e: &PatientAdmitted, meta: &EventMeta) {
        self.names.insert(meta.stream_id.clone(), e.name.clone());
    }

    #[query]
    pub fn name(&self, stay: String) -> Option<String> {
        self.names.get(&stay).map(ToString::to_string)
    }
}

const ADA: &str = "Ada Lovelace";
const ALAN: &str = "Alan Turing";

async fn admit<S: EventStore + Clone>(stays: &Repository<Stay, S>, stay: &str, patient: &str, name: &str) {
    let notes = vec![format!("{name} is allergic to penicillin")];
    stays.execute(stay, StayCommand::Admit { patient: patient.into(), name: name.into(), notes }).await.unwrap();
}

/// Every read path opens the values, and none of the stored JSON holds them.
pub async fn pii_values_are_sealed_and_open_on_every_path<S: EventStore + Clone>(store: S) {
    let stays = Repository::<Stay, _>::new(store.clone()).with_cache_capacity(0);
    admit(&stays, "s-1", "p-1", ADA).await;
    let stream = StreamRef::new("stay", "s-1");

    let read = store.read_stream(stream, 1, 1).await.unwrap();
    let opened: serde_json::Value = serde_json::from_str(&read[0].payload).unwrap();
    assert_eq!(opened["name"], serde_json::json!({"$pii": ADA}));
    assert_eq!(opened["patient"], "p-1", "the rest of the JSON stays as it was");
    let all = store.read_all(0, EventFilter::ALL, 10).await.unwrap();
    assert_eq!(all[0].payload, read[0].payload);
    let mut lent = Vec::new();
    store
        .replay(stream, 1, 1, |event| {
            lent.push(event.payload.to_owned());
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(lent, [read[0].payload.clone()]);

    let loaded = stays.load("s-1").await.unwrap().unwrap();
    assert_eq!(loaded.state.name, Some(Pii::new(ADA.to_owned())));
    let events = stays.events("s-1").await.unwrap();
    let StayEvent::PatientAdmitted(admitted) = &events[0].event else { panic!("{:?}", events[0].event) };
    assert_eq!(admitted.notes, [Pii::new(format!("{ADA} is allergic to penicillin"))]);
    let names = ProjectionRunner::<WardList, _>::start(store.clone()).await.unwrap();
    names.catch_up().await.unwrap();
    assert_eq!(names.ask(WardListQuery::Name { stay: "s-1".into() }).await, WardListAnswer::Name(Some(ADA.into())));
}

/// After `forget`, the values are `Forgotten` on every path; another patient's are not; the
/// snapshot and the projection's checkpoint that held the name are gone.
pub async fn a_forgotten_subject_reads_as_forgotten_everywhere<S: EventStore + Clone>(store: S) {
    let stays = Repository::<Stay, _>::new(store.clone());
    admit(&stays, "s-1", "p-1", ADA).await;
    stays.execute("s-1", StayCommand::MoveTo { ward: "B".into() }).await.unwrap();
    admit(&stays, "s-2", "p-2", ALAN).await;
    let names = Arc::new(ProjectionRunner::<WardList, _>::start(store.clone()).await.unwrap());
    names.catch_up().await.unwrap();
    names.save_checkpoint().await.unwrap();
    let s1 = StreamRef::new("stay", "s-1");
    assert!(store.load_snapshot(s1).await.unwrap().is_some(), "snapshot_every = 2 took one");
    assert!(store.load_checkpoint("ward-list").await.unwrap().unwrap().state.contains(ADA));
    // The cached aggregate holds the name in the clear.
    assert_eq!(stays.load("s-1").await.unwrap().unwrap().state.name, Some(Pii::new(ADA.to_owned())));

    let before = store.forget_epoch();
    let forgotten = store.forget("p-1", "ticket 7").await.unwrap();
    assert!(store.forget_epoch() > before);
    assert_eq!((forgotten.subject.as_str(), forgotten.by.as_str()), ("p-1", "ticket 7"));
    assert_eq!((forgotten.keys, forgotten.snapshots), (1, 1));
    assert_eq!(forgotten.checkpoints, ["ward-list"]);
    assert!(store.load_snapshot(s1).await.unwrap().is_none());
    assert!(store.load_checkpoint("ward-list").await.unwrap().is_none());

    // The repository's cache, the projection in memory, and every read of the store.
    let loaded = stays.load("s-1").await.unwrap().unwrap();
    assert_eq!(
        (loaded.state.name, loaded.state.notes, loaded.state.moves),
        (Some(Pii::Forgotten), vec![Pii::Forgotten], 1)
    );
    assert_eq!(
        names.ask(WardListQuery::Name { stay: "s-1".into() }).await,
        WardListAnswer::Name(Some("(forgotten)".into()))
    );
    assert_eq!(names.ask(WardListQuery::Name { stay: "s-2".into() }).await, WardListAnswer::Name(Some(ALAN.into())));
    let fresh = Repository::<Stay, _>::new(store.clone());
    assert_eq!(fresh.load("s-2").await.unwrap().unwrap().state.name, Some(Pii::new(ALAN.to_owned())));
    let events = fresh.events("s-1").await.unwrap();
    assert_eq!(events.len(), 2, "the events are all there");
    let StayEvent::PatientAdmitted(admitted) = &events[0].event else { panic!("{:?}", events[0].event) };
    assert_eq!((admitted.patient.as_str(), &admitted.name), ("p-1", &Pii::Forgotten));
    for event in store.read_all(0, EventFilter::ALL, 100).await.unwrap() {
        assert!(!event.payload.contains(ADA), "{}", event.payload);
    }
    let rebuilt = ProjectionRunner::<WardList, _>::start(store.clone()).await.unwrap();
    rebuilt.catch_up().await.unwrap();
    assert_eq!(rebuilt.state().await, names.state().await);
    assert!(!store.load_checkpoint("ward-list").await.unwrap().map(|c| c.state).unwrap_or_default().contains(ADA));

    // The aggregate takes commands and snapshots again, without the name.
    fresh.execute("s-1", StayCommand::MoveTo { ward: "C".into() }).await.unwrap();
    fresh.execute("s-1", StayCommand::MoveTo { ward: "D".into() }).await.unwrap();
    let snapshot = store.load_snapshot(s1).await.unwrap().expect("a new snapshot");
    assert!(!snapshot.state.contains(ADA), "{}", snapshot.state);

    // Forgetting again destroys nothing more; a patient who comes back gets a new key.
    let again = store.forget("p-1", "ticket 8").await.unwrap();
    assert_eq!((again.keys, again.snapshots, again.checkpoints.len()), (0, 0, 0));
    admit(&fresh, "s-3", "p-1", ADA).await;
    assert_eq!(fresh.load("s-3").await.unwrap().unwrap().state.name, Some(Pii::new(ADA.to_owned())));
    assert_eq!(fresh.load("s-1").await.unwrap().unwrap().state.name, Some(Pii::Forgotten));
}

/// A payload written at version 1 is upcast with its `Pii` values: opened while the key
/// exists, `Forgotten` after.
pub async fn upcasting_carries_pii_values<S: EventStore + Clone>(store: S) {
    let stream = StreamRef::new("stay", "s-9");
    let v1 = NewEvent {
        name: "PatientAdmitted",
        version: 1,
        payload: format!(r#"{{"patient":"p-9","name":{{"$pii":"{ADA}","$subject":"p-9"}}}}"#),
    };
    store.append(stream, 0, &Metadata::new(), vec![v1]).await.unwrap();
    let stays = Repository::<Stay, _>::new(store.clone()).with_cache_capacity(0);
    assert_eq!(stays.load("s-9").await.unwrap().unwrap().state.name, Some(Pii::new(ADA.to_owned())));
    store.forget("p-9", "test").await.unwrap();
    assert_eq!(stays.load("s-9").await.unwrap().unwrap().state.name, Some(Pii::Forgotten));
}

/// What a store holds at rest, read around it: the sealed payload of the event at
/// `position`, as a copy of the database would show it.
pub trait AtRest {
    fn at_rest(&self, position: u64) -> impl std::future::Future<Output = String> + Send;
}

impl AtRest for MemoryStore {
    async fn at_rest(&self, position: u64) -> String {
        self.stored_payload(position).expect("an event at that position")
    }
}

impl AtRest for factum::SqliteStore {
    async fn at_rest(&self, position: u64) -> String {
        let file = rusqlite::Connection::open(self.path()).unwrap();
        file.query_row("SELECT payload FROM events WHERE position = ?1", [position as i64], |row| row.get(0)).unwrap()
    }
}

#[cfg(feature = "postgres")]
impl AtRest for factum::PostgresStore {
    async fn at_rest(&self, position: u64) -> String {
        let url = std::env::var("FACTUM_POSTGRES_URL").unwrap();
        let options = factum::PostgresOptions::from_url(&url).unwrap();
        let (client, _) = factum::__private::postgres_inspection_client(&options).await.unwrap();
        let query = format!("SELECT payload::text FROM \"{}\".events WHERE position = $1", self.schema());
        client.query_one(&query, &[&(position as i64)]).await.unwrap().get(0)
    }
}

/// In storage the values are sealed: the person's name is nowhere in the stored JSON.
pub async fn at_rest_the_values_are_sealed<S: EventStore + Clone + AtRest>(store: S) {
    let stays = Repository::<Stay, _>::new(store.clone());
    admit(&stays, "s-1", "p-1", ADA).await;
    let stored = store.at_rest(1).await;
    assert!(!stored.contains("Ada") && !stored.contains("penicillin"), "{stored}");
    let value: serde_json::Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(value["patient"], "p-1", "the rest of the JSON stays readable: {stored}");
    assert!(value["name"]["$sealed"].is_string() && value["name"]["$key"].is_u64(), "{stored}");
    assert!(value["notes"][0]["$sealed"].is_string(), "{stored}");
}

/// A sealed value copied into another event (same subject and key, another stream version)
/// does not open: an error naming the stream, version and field, never the value.
pub async fn a_sealed_value_moved_to_another_event_does_not_open<S: EventStore + Clone + AtRest>(store: S) {
    let stays = Repository::<Stay, _>::new(store.clone());
    admit(&stays, "s-1", "p-1", ADA).await;
    let stream = StreamRef::new("stay", "s-1");
    let copied = NewEvent { name: "PatientAdmitted", version: 2, payload: store.at_rest(1).await };
    store.append(stream, 1, &Metadata::new(), vec![copied]).await.unwrap();
    let error = store.read_stream(stream, 2, 2).await.unwrap_err();
    assert!(matches!(&error, StoreError::Sealed(sealed) if sealed.version == 2), "{error:?}");
    let text = error.to_string();
    assert!(text.starts_with("stream stay/s-1, version 2: event `PatientAdmitted`, field `"), "{text}");
    assert!(error.is_corrupt() && !text.contains(ADA), "{text}");
    // The first event still reads; loading names the bad one.
    assert_eq!(store.read_stream(stream, 1, 1).await.unwrap().len(), 1);
    let failed = Repository::<Stay, _>::new(store.clone()).load("s-1").await.unwrap_err().to_string();
    assert!(failed.contains("version 2") && failed.contains("field `"), "{failed}");
}

/// A `Pii` value with no subject (a hand-made payload, or a `Pii` outside an event with
/// `#[pii(subject = ..)]`) is refused at append, naming the field, and nothing is stored.
pub async fn a_pii_value_without_a_subject_is_refused<S: EventStore>(store: S) {
    let stream = StreamRef::new("stay", "s-1");
    let bad = NewEvent { name: "Noted", version: 1, payload: r#"{"who":{"$pii":"Ada"}}"#.into() };
    let error = store.append(stream, 0, &Metadata::new(), vec![bad]).await.unwrap_err();
    assert!(matches!(error, StoreError::Sealed(_)), "{error:?}");
    assert!(
        error.to_string().contains("field `who`") && error.to_string().contains("#[pii(subject = field)]"),
        "{error}"
    );
    assert_eq!(store.stream_version(stream).await.unwrap(), 0);
    let error = store.forget("", "nobody").await.unwrap_err();
    assert!(error.is_invalid_input(), "{error}");
}
