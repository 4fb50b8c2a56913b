//! Streams that end, on every store: archived (kept, read by name, out of the global log,
//! closed to appends) and deleted (events and snapshot gone, a `StreamDeleted` notice in
//! their place for projections, the id closed for good).

use std::collections::BTreeMap;

use factum::prelude::*;
use factum::{EventFilter, NewEvent, Snapshot, StoreError, StreamDeleted, StreamRef};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Noted {
    pub text: String,
}

#[derive(Aggregate, Default, Debug, Clone, Serialize, Deserialize)]
#[aggregate(name = "notebook")]
pub struct Notebook {
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("never")]
pub struct Never;

#[handlers]
impl Notebook {
    #[command]
    pub fn note(&self, text: String) -> Result<Noted, Never> {
        Ok(Noted { text })
    }

    #[apply]
    fn noted(&mut self, e: &Noted) {
        self.notes.push(e.text.clone());
    }
}

/// Notes by notebook; a deleted notebook's entry goes.
#[derive(Projection, Default, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[projection(name = "notes-by-notebook")]
pub struct NotesByNotebook {
    pub notes: BTreeMap<String, usize>,
    pub deleted: Vec<(String, u64)>,
}

#[handlers]
impl NotesByNotebook {
    #[on]
    fn noted(&mut self, _: &Noted, meta: &EventMeta) {
        *self.notes.entry(meta.stream_id.clone()).or_default() += 1;
    }

    #[on]
    fn deleted(&mut self, e: &StreamDeleted, meta: &EventMeta) {
        self.notes.remove(&meta.stream_id);
        self.deleted.push((meta.stream_id.clone(), e.version));
    }

    #[query]
    pub fn count(&self, notebook: String) -> Option<usize> {
        self.notes.get(&notebook).copied()
    }
}

/// Counts every note, without a handler for the notice.
#[derive(Projection, Default, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[projection(name = "all-notes")]
pub struct AllNotes {
    pub total: usize,
}

#[handlers]
impl AllNotes {
    #[on]
    fn noted(&mut self, _: &Noted) {
        self.total += 1;
    }

    #[query]
    pub fn total(&self) -> usize {
        self.total
    }
}

fn note(text: &str) -> NewEvent {
    NewEvent { name: "Noted", version: 1, payload: format!(r#"{{"text":"{text}"}}"#) }
}

async fn write<S: EventStore + Clone>(notebooks: &Repository<Notebook, S>, id: &str, notes: &[&str]) {
    for text in notes {
        notebooks.execute(id, NotebookCommand::Note { text: (*text).into() }).await.unwrap();
    }
}

/// Archived: reads by name, loads, leaves the global log unless asked for, refuses appends
/// without writing; archiving twice changes nothing; a stream with no events is refused.
pub async fn an_archived_stream_is_kept_out_of_the_log_and_closed<S: EventStore + Clone>(store: S) {
    let notebooks = Repository::<Notebook, _>::new(store.clone());
    write(&notebooks, "n-1", &["a", "b"]).await;
    write(&notebooks, "n-2", &["c"]).await;
    let n1 = StreamRef::new("notebook", "n-1");
    notebooks.archive("n-1").await.unwrap();
    store.archive(n1).await.unwrap();

    assert_eq!(store.read_stream(n1, 1, u64::MAX).await.unwrap().len(), 2);
    assert_eq!(notebooks.load("n-1").await.unwrap().unwrap().state.notes, ["a", "b"]);
    let log = store.read_all(0, EventFilter::ALL, 10).await.unwrap();
    assert_eq!(log.iter().map(|e| e.meta.stream_id.as_str()).collect::<Vec<_>>(), ["n-2"]);
    let asked = store.read_all(0, EventFilter::ALL.with_archived(), 10).await.unwrap();
    assert_eq!(asked.iter().map(|e| e.meta.stream_id.as_str()).collect::<Vec<_>>(), ["n-1", "n-1", "n-2"]);
    let named = store.read_all(0, EventFilter::names(&["Noted"]).with_archived(), 10).await.unwrap();
    assert_eq!(named.len(), 3);

    let error = store.append(n1, 2, &Metadata::new(), vec![note("d")]).await.unwrap_err();
    assert!(matches!(&error, StoreError::Archived { stream } if stream.stream_id == "n-1"), "{error:?}");
    assert_eq!(error.to_string(), "stream notebook/n-1 is archived: it takes no new events");
    let refused = notebooks.execute("n-1", NotebookCommand::Note { text: "e".into() }).await.unwrap_err();
    assert!(refused.to_string().contains("is archived"), "{refused}");
    assert_eq!(store.stream_version(n1).await.unwrap(), 2, "nothing was written");

    let rebuilt = ProjectionRunner::<AllNotes, _>::start(store.clone()).await.unwrap();
    rebuilt.catch_up().await.unwrap();
    assert_eq!(rebuilt.ask(AllNotesQuery::Total).await, AllNotesAnswer::Total(1), "a rebuild leaves it out");

    let error = store.archive(StreamRef::new("notebook", "none")).await.unwrap_err();
    assert!(error.is_invalid_input() && error.to_string().contains("it has no events"), "{error}");
}

/// Deleted: events and snapshot gone, the notice at the next position and version, reads
/// empty, appends refused at any version; deleting twice answers the same notice.
pub async fn a_deleted_stream_is_gone_and_closed_for_good<S: EventStore + Clone>(store: S) {
    let notebooks = Repository::<Notebook, _>::new(store.clone());
    write(&notebooks, "n-1", &["a", "b", "c"]).await;
    write(&notebooks, "n-2", &["d"]).await;
    let n1 = StreamRef::new("notebook", "n-1");
    store.save_snapshot(n1, Snapshot { version: 3, fingerprint: 1, state: "{}".into() }).await.unwrap();
    assert_eq!(notebooks.load("n-1").await.unwrap().unwrap().version, 3, "cached");

    let notice = notebooks.delete("n-1").await.unwrap();
    assert_eq!(notice, StreamDeleted { version: 3 });
    assert!(store.read_stream(n1, 1, u64::MAX).await.unwrap().is_empty());
    assert!(store.load_snapshot(n1).await.unwrap().is_none());
    assert!(notebooks.load("n-1").await.unwrap().is_none(), "the cache dropped it");
    assert!(Repository::<Notebook, _>::new(store.clone()).load("n-1").await.unwrap().is_none());
    assert_eq!(store.stream_version(n1).await.unwrap(), 4, "at its notice's version: the id is never reused");

    let log = store.read_all(0, EventFilter::ALL, 10).await.unwrap();
    let seen: Vec<_> = log.iter().map(|e| (e.meta.stream_id.as_str(), e.meta.event_name.as_str())).collect();
    assert_eq!(seen, [("n-2", "Noted"), ("n-1", "$StreamDeleted")]);
    let tombstone = &log[1].meta;
    assert_eq!((tombstone.stream_version, tombstone.position), (4, store.head_position().await.unwrap()));
    assert!(tombstone.position > 4, "a new position, after the removed ones");

    for expected in [0, 3, 4] {
        let error = store.append(n1, expected, &Metadata::new(), vec![note("x")]).await.unwrap_err();
        assert!(matches!(error, StoreError::Deleted { version: 3, .. }), "{error:?}");
        assert_eq!(error.to_string(), "stream notebook/n-1 was deleted (it had 3 events): it takes no new events");
    }
    let refused = notebooks.execute("n-1", NotebookCommand::Note { text: "y".into() }).await.unwrap_err();
    assert!(refused.to_string().contains("was deleted"), "{refused}");

    let head = store.head_position().await.unwrap();
    assert_eq!(store.delete(n1).await.unwrap(), notice, "deleting again answers the same notice");
    assert_eq!(store.head_position().await.unwrap(), head, "and writes nothing");
    let error = store.archive(n1).await.unwrap_err();
    assert!(matches!(error, StoreError::Deleted { .. }), "{error:?}");
    let error = store.delete(StreamRef::new("notebook", "none")).await.unwrap_err();
    assert!(error.is_invalid_input(), "{error}");
    // The other stream is untouched, and an archived stream can be deleted.
    assert_eq!(notebooks.load("n-2").await.unwrap().unwrap().state.notes, ["d"]);
    notebooks.archive("n-2").await.unwrap();
    assert_eq!(notebooks.delete("n-2").await.unwrap(), StreamDeleted { version: 1 });
    let log = store.read_all(0, EventFilter::ALL, 10).await.unwrap();
    assert_eq!(
        log.iter().map(|e| e.meta.event_name.as_str()).collect::<Vec<_>>(),
        ["$StreamDeleted", "$StreamDeleted"]
    );
}

/// A projection with a handler for the notice gets it, in order, live and on a rebuild; one
/// without goes on as before.
pub async fn projections_receive_the_deletion_notice<S: EventStore + Clone>(store: S) {
    let notebooks = Repository::<Notebook, _>::new(store.clone());
    write(&notebooks, "n-1", &["a", "b"]).await;
    write(&notebooks, "n-2", &["c"]).await;
    let by_notebook = ProjectionRunner::<NotesByNotebook, _>::start(store.clone()).await.unwrap();
    let all = ProjectionRunner::<AllNotes, _>::start(store.clone()).await.unwrap();
    by_notebook.catch_up().await.unwrap();
    all.catch_up().await.unwrap();
    let count = |id: &str| NotesByNotebookQuery::Count { notebook: id.into() };
    assert_eq!(by_notebook.ask(count("n-1")).await, NotesByNotebookAnswer::Count(Some(2)));

    notebooks.delete("n-1").await.unwrap();
    by_notebook.catch_up().await.unwrap();
    all.catch_up().await.unwrap();
    assert_eq!(by_notebook.ask(count("n-1")).await, NotesByNotebookAnswer::Count(None));
    assert_eq!(by_notebook.ask(count("n-2")).await, NotesByNotebookAnswer::Count(Some(1)));
    assert_eq!(by_notebook.state().await.deleted, [("n-1".to_owned(), 2)]);
    assert_eq!(all.ask(AllNotesQuery::Total).await, AllNotesAnswer::Total(3), "no handler: what it built stays");

    let rebuilt = ProjectionRunner::<NotesByNotebook, _>::start(store.clone()).await.unwrap();
    rebuilt.rebuild().await.unwrap();
    assert_eq!(rebuilt.state().await, by_notebook.state().await);
    // Work goes on after the gap the removed events left.
    write(&notebooks, "n-3", &["d"]).await;
    by_notebook.catch_up().await.unwrap();
    assert_eq!(by_notebook.ask(count("n-3")).await, NotesByNotebookAnswer::Count(Some(1)));
}

/// Appends racing an archive: each either lands before it or is refused, alone; the other
/// streams' appends in the same group commit land.
pub async fn appends_to_a_closed_stream_fail_alone<S: EventStore + Clone>(store: S) {
    let closed = StreamRef::new("notebook", "closed");
    store.append(closed, 0, &Metadata::new(), vec![note("a")]).await.unwrap();
    store.archive(closed).await.unwrap();
    let mut writers = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            let id = if i % 2 == 0 { "closed".to_owned() } else { format!("open-{i}") };
            let expected = if i % 2 == 0 { 1 } else { 0 };
            store.append(StreamRef::new("notebook", &id), expected, &Metadata::new(), vec![note("b")]).await
        }));
    }
    for (i, writer) in writers.into_iter().enumerate() {
        let outcome = writer.await.unwrap();
        if i % 2 == 0 {
            assert!(matches!(outcome, Err(StoreError::Archived { .. })), "{outcome:?}");
        } else {
            assert_eq!(outcome.unwrap().version, 1);
        }
    }
    assert_eq!(store.stream_version(closed).await.unwrap(), 1);
}
