//! Tests that look inside the store; they need `FACTUM_POSTGRES_URL` and pass at once
//! without it. The conformance suite and its PostgreSQL tests are in `tests/conformance`.

use std::sync::atomic::{AtomicU32, Ordering};

use super::committer::{PendingAppend, take_batch};
use super::migrate::MIGRATIONS;
use super::*;

async fn fresh_store() -> Option<PostgresStore> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let Ok(url) = std::env::var("FACTUM_POSTGRES_URL") else {
        eprintln!("skipped: FACTUM_POSTGRES_URL is not set");
        return None;
    };
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().subsec_nanos();
    let schema = format!("u_{}_{}_{nanos}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    Some(PostgresStore::connect_with(&url, &schema, 2).await.unwrap())
}

fn numbered(n: u64) -> NewEvent {
    NewEvent { name: "Numbered", version: 1, payload: format!(r#"{{"n":{n}}}"#) }
}

/// Runs `sql` on a pooled connection, as someone editing the tables by hand would.
async fn execute(store: &PostgresStore, sql: &str) {
    let conn = store.inner.pool.get().await.unwrap();
    let sql = sql.replace("{schema}", &quote_identifier(store.schema()));
    conn.conn().client.batch_execute(&sql).await.unwrap();
}

#[tokio::test]
async fn bad_stored_rows_are_errors_not_panics() {
    let Some(store) = fresh_store().await else { return };
    let stream = StreamRef::new("account", "a-1");
    store.append(stream, 0, &Metadata::new(), vec![numbered(1), numbered(2)]).await.unwrap();
    execute(&store, r#"UPDATE {schema}.events SET metadata = '[1, 2]' WHERE version = 2"#).await;
    let error = store.read_stream(stream, 1, u64::MAX).await.unwrap_err();
    assert!(error.is_corrupt(), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("events row at position 2 (stream account/a-1 version 2)"), "{message}");
    assert!(message.contains("metadata does not decode"), "{message}");
    assert!(std::error::Error::source(&error).is_some(), "the JSON error is kept as the source");
    assert!(store.read_all(0, EventFilter::ALL, 100).await.is_err());
    // The first event is still readable on its own.
    assert_eq!(store.read_stream(stream, 1, 1).await.unwrap().len(), 1);
    execute(&store, r#"UPDATE {schema}.events SET metadata = '{}', schema_version = -1 WHERE version = 2"#).await;
    let error = store.read_stream(stream, 1, u64::MAX).await.unwrap_err();
    assert!(matches!(error, StoreError::Corrupt { .. }), "{error:?}");
    assert!(error.to_string().contains("its schema version: -1 is out of range"), "{error}");
    // The tables' constraints keep positions and versions positive; checkpoints have none.
    execute(&store, r#"INSERT INTO {schema}.checkpoints VALUES ('bad', -1, '{}')"#).await;
    let error = store.load_checkpoint("bad").await.unwrap_err();
    assert!(matches!(error, StoreError::Corrupt { .. }), "{error:?}");
    assert!(error.to_string().contains(r#"checkpoint "bad": its position -1 is negative"#), "{error}");
}

#[tokio::test]
async fn a_writer_bypassing_the_lock_still_cannot_fork_a_stream() {
    let Some(store) = fresh_store().await else { return };
    let stream = StreamRef::new("account", "a-1");
    store.append(stream, 0, &Metadata::new(), vec![numbered(1), numbered(2)]).await.unwrap();
    // Another writer inserts version 3 without the lock and has not committed yet: the
    // version check of an append at 2 passes, and its insert waits on the unique index.
    let other = store.inner.pool.get().await.unwrap();
    let sql = format!(
        "BEGIN; INSERT INTO {}.events VALUES (1000, 'account', 'a-1', 3, 'Numbered', 1, now(), '{{}}', '{{}}')",
        quote_identifier(store.schema())
    );
    other.conn().client.batch_execute(&sql).await.unwrap();
    let racing = {
        let store = store.clone();
        tokio::spawn(async move {
            let stream = StreamRef::new("account", "a-1");
            store.append(stream, 2, &Metadata::new(), vec![numbered(3)]).await
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!racing.is_finished(), "the append waits for the other writer");
    other.conn().client.batch_execute("COMMIT").await.unwrap();
    drop(other);
    let error = racing.await.unwrap().unwrap_err();
    assert!(matches!(error, StoreError::Conflict { expected: 2, actual: 3, .. }), "{error}");
    assert_eq!(store.read_stream(stream, 1, u64::MAX).await.unwrap().len(), 3);
    let appended = store.append(stream, 3, &Metadata::new(), vec![numbered(4)]).await.unwrap();
    assert_eq!((appended.version, appended.positions.as_slice()), (4, &[1001][..]));
}

/// A pending append to `stream` at `expected`, and where its answer arrives.
fn pending(
    stream: &str,
    expected: i64,
    payloads: &[&str],
) -> (PendingAppend, oneshot::Receiver<Result<Appended, StoreError>>) {
    let (reply, answer) = oneshot::channel();
    let events = payloads.iter().map(|p| NewEvent { name: "Numbered", version: 1, payload: (*p).to_owned() }).collect();
    let append = PendingAppend {
        aggregate_type: "account".to_owned(),
        stream_id: stream.to_owned(),
        expected,
        metadata: "{}".to_owned(),
        events,
        subjects: Vec::new(),
        reply,
    };
    (append, answer)
}

#[tokio::test]
async fn one_batch_commits_its_appends_together_and_rejects_only_the_conflicting_ones() {
    let Some(store) = fresh_store().await else { return };
    store.append(StreamRef::new("account", "b"), 0, &Metadata::new(), vec![numbered(1)]).await.unwrap();
    let (a, a_answer) = pending("a", 0, &["1", "2"]);
    let (b, b_answer) = pending("b", 0, &["3"]); // b is at 1: a conflict
    let (c, c_answer) = pending("c", 0, &["4", "5", "6"]);
    let (d, d_answer) = pending("d", 0, &["7"]);
    let mut conn = store.inner.pool.get().await.unwrap();
    store.commit(&mut conn, vec![a, b, c, d]).await;
    let a = a_answer.await.unwrap().unwrap();
    assert_eq!((a.version, a.positions.as_slice()), (2, &[2, 3][..]));
    let error = b_answer.await.unwrap().unwrap_err();
    assert!(
        matches!(&error, StoreError::Conflict { stream, expected: 0, actual: 1 } if stream.stream_id == "b"),
        "{error}"
    );
    let c = c_answer.await.unwrap().unwrap();
    assert_eq!((c.version, c.positions.as_slice()), (3, &[4, 5, 6][..]));
    let d = d_answer.await.unwrap().unwrap();
    assert_eq!((d.version, d.positions.as_slice()), (1, &[7][..]));
    assert_eq!(a.recorded_at, c.recorded_at, "one statement");
    drop(conn);
    let log = store.read_all(0, EventFilter::ALL, 100).await.unwrap();
    let stored: Vec<(u64, &str, u64, &str)> = log
        .iter()
        .map(|e| (e.meta.position, e.meta.stream_id.as_str(), e.meta.stream_version, e.payload.as_str()))
        .collect();
    assert_eq!(
        stored,
        [(1, "b", 1, r#"{"n": 1}"#), (2, "a", 1, "1"), (3, "a", 2, "2"), (4, "c", 1, "4"), (5, "c", 2, "5")]
            .into_iter()
            .chain([(6, "c", 3, "6"), (7, "d", 1, "7")])
            .collect::<Vec<_>>()
    );
    assert_eq!(*store.inner.head.borrow(), 7);
}

#[tokio::test]
async fn a_bad_payload_fails_only_its_own_append_in_a_batch() {
    let Some(store) = fresh_store().await else { return };
    let (a, a_answer) = pending("a", 0, &["1"]);
    let (b, b_answer) = pending("b", 0, &["2", "not json"]);
    let (c, c_answer) = pending("c", 0, &["3"]);
    let mut conn = store.inner.pool.get().await.unwrap();
    store.commit(&mut conn, vec![a, b, c]).await;
    assert_eq!(a_answer.await.unwrap().unwrap().positions, [1]);
    let error = b_answer.await.unwrap().unwrap_err();
    assert!(matches!(error, StoreError::Backend(_)), "{error}");
    assert_eq!(c_answer.await.unwrap().unwrap().positions, [2]);
    drop(conn);
    let streams: Vec<String> =
        store.read_all(0, EventFilter::ALL, 100).await.unwrap().into_iter().map(|e| e.meta.stream_id).collect();
    assert_eq!(streams, ["a", "c"]);
}

#[test]
fn a_batch_takes_one_append_per_stream_and_keeps_the_rest_in_order() {
    let mut queue: Vec<PendingAppend> =
        [("a", 0), ("b", 0), ("a", 1), ("c", 0), ("a", 2), ("b", 1)].map(|(s, v)| pending(s, v, &["1"]).0).into();
    let key = |a: &PendingAppend| (a.stream_id.clone(), a.expected);
    let batch = take_batch(&mut queue);
    let keys = |appends: &[PendingAppend]| appends.iter().map(key).collect::<Vec<_>>();
    let owned = |keys: &[(&str, i64)]| keys.iter().map(|&(s, v)| (s.to_owned(), v)).collect::<Vec<_>>();
    assert_eq!(keys(&batch), owned(&[("a", 0), ("b", 0), ("c", 0)]));
    assert_eq!(keys(&queue), owned(&[("a", 1), ("a", 2), ("b", 1)]));
    let batch = take_batch(&mut queue);
    assert_eq!(keys(&batch), owned(&[("a", 1), ("b", 1)]));
    assert_eq!(keys(&take_batch(&mut queue)), owned(&[("a", 2)]));
    assert!(queue.is_empty());
}

#[tokio::test]
async fn notifications_from_another_store_raise_the_known_head() {
    let Some(store) = fresh_store().await else { return };
    let Ok(url) = std::env::var("FACTUM_POSTGRES_URL") else {
        return;
    };
    let other = PostgresStore::connect_with(&url, store.schema(), 1).await.unwrap();
    let mut known = store.inner.head.subscribe();
    assert_eq!(*known.borrow_and_update(), 0);
    other.append(StreamRef::new("account", "a"), 0, &Metadata::new(), vec![numbered(1), numbered(2)]).await.unwrap();
    // Nothing on `store` queries the head: only the notification can raise it.
    tokio::time::timeout(Duration::from_secs(10), known.wait_for(|&head| head == 2))
        .await
        .expect("the notification arrives")
        .unwrap();
}

#[tokio::test]
async fn migrations_are_recorded_and_a_newer_schema_is_refused() {
    let Some(store) = fresh_store().await else { return };
    let conn = store.inner.pool.get().await.unwrap();
    let table = format!("{}.factum_migrations", quote_identifier(store.schema()));
    let versions: Vec<i32> = conn
        .conn()
        .client
        .query(&format!("SELECT version FROM {table} ORDER BY version"), &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(versions, MIGRATIONS.iter().map(|m| m.0).collect::<Vec<_>>());
    drop(conn);
    execute(&store, "INSERT INTO {schema}.factum_migrations (version, description) VALUES (1000, 'from the future')")
        .await;
    let Ok(url) = std::env::var("FACTUM_POSTGRES_URL") else {
        return;
    };
    let error = PostgresStore::connect_with(&url, store.schema(), 1).await.unwrap_err();
    let newest = MIGRATIONS.last().map(|m| i64::from(m.0));
    assert!(
        matches!(error, StoreError::Incompatible { found: 1000, supported, .. } if Some(supported) == newest),
        "{error:?}"
    );
    assert!(error.to_string().contains("upgrade factum"), "{error}");
}

fn admitted(patient: &str, name: &str) -> NewEvent {
    NewEvent {
        name: "PatientAdmitted",
        version: 1,
        payload: format!(r#"{{"patient":"{patient}","name":{{"$pii":"{name}","$subject":"{patient}"}}}}"#),
    }
}

/// A pending append to `stream` at 0 of one event with `patient`'s name, its subject found.
fn pending_admission(stream: &str, patient: &str) -> (PendingAppend, oneshot::Receiver<Result<Appended, StoreError>>) {
    let (mut append, answer) = pending(stream, 0, &[]);
    append.events = vec![admitted(patient, "Ada Lovelace")];
    append.subjects = vec![patient.to_owned()];
    (append, answer)
}

/// The rows of `sql` on a pooled connection: the first column of each, as text.
async fn texts(store: &PostgresStore, sql: &str) -> Vec<String> {
    let conn = store.inner.pool.get().await.unwrap();
    let sql = sql.replace("{schema}", &quote_identifier(store.schema()));
    conn.conn().client.query(&sql, &[]).await.unwrap().iter().map(|row| row.get(0)).collect()
}

#[tokio::test]
async fn a_batch_seals_in_its_transaction_and_a_rolled_back_key_is_never_used() {
    let Some(store) = fresh_store().await else { return };
    // One batch: two admissions of one patient, and a bad payload that rolls it back whole,
    // so each append is retried in a transaction of its own.
    let (a, a_answer) = pending_admission("a", "p-1");
    let (b, b_answer) = pending("b", 0, &["not json"]);
    let (c, c_answer) = pending_admission("c", "p-1");
    let mut conn = store.inner.pool.get().await.unwrap();
    store.commit(&mut conn, vec![a, b, c]).await;
    assert_eq!(a_answer.await.unwrap().unwrap().positions, [1]);
    assert!(b_answer.await.unwrap().is_err());
    assert_eq!(c_answer.await.unwrap().unwrap().positions, [2]);
    drop(conn);
    // The key made in the rolled-back batch is gone; the retries share the one made first.
    let keys = texts(&store, "SELECT id::text || ' ' || subject FROM {schema}.pii_keys ORDER BY id").await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    let id = keys[0].split(' ').next().unwrap().to_owned();
    let used = texts(
        &store,
        "SELECT key_id::text || ' ' || stream_id || ' ' || first_position FROM {schema}.pii_key_streams ORDER BY 1",
    )
    .await;
    assert_eq!(used, [format!("{id} a 1"), format!("{id} c 2")]);
    let stored = texts(&store, "SELECT payload::text FROM {schema}.events ORDER BY position").await;
    assert!(stored.iter().all(|payload| !payload.contains("Ada") && payload.contains(&format!("\"$key\": {id}"))));
    for event in store.read_all(0, EventFilter::ALL, 10).await.unwrap() {
        assert!(event.payload.contains(r#""name":{"$pii":"Ada Lovelace"}"#), "{}", event.payload);
    }
}

#[tokio::test]
async fn forget_is_audited_and_moves_the_epoch_of_every_store_on_the_schema() {
    let Some(store) = fresh_store().await else { return };
    let Ok(url) = std::env::var("FACTUM_POSTGRES_URL") else {
        return;
    };
    let other = PostgresStore::connect_with(&url, store.schema(), 1).await.unwrap();
    let stream = StreamRef::new("stay", "s-1");
    store.append(stream, 0, &Metadata::new(), vec![admitted("p-1", "Ada Lovelace")]).await.unwrap();
    let snapshot = Snapshot { version: 1, fingerprint: 7, state: "{}".into() };
    store.save_snapshot(stream, snapshot).await.unwrap();
    for name in ["ward-list", "process:billing", "early"] {
        let position = if name == "early" { 0 } else { 1 };
        store.save_checkpoint(name, Checkpoint { position, state: "{}".into() }).await.unwrap();
    }
    let epoch = other.forget_epoch();
    let forgotten = store.forget("p-1", "ticket 7").await.unwrap();
    assert_eq!(
        (forgotten.keys, forgotten.snapshots, forgotten.checkpoints.as_slice()),
        (1, 1, &["ward-list".to_owned()][..])
    );
    assert!(store.load_checkpoint("process:billing").await.unwrap().is_some(), "holds no state");
    assert!(store.load_checkpoint("early").await.unwrap().is_some(), "before the subject's first event");
    // Only the notification can move the other store's epoch.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while other.forget_epoch() == epoch {
        assert!(tokio::time::Instant::now() < deadline, "the notification arrives");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let again = other.forget("p-1", "ticket 8").await.unwrap();
    assert_eq!((again.keys, again.snapshots), (0, 0));
    assert_eq!(store.forgotten().await.unwrap(), [forgotten, again]);
    let read = other.read_stream(stream, 1, 1).await.unwrap();
    assert_eq!(read[0].payload, r#"{"name":{"$forgotten":true},"patient":"p-1"}"#);
    assert!(texts(&store, "SELECT subject FROM {schema}.pii_keys").await.is_empty());
    assert!(texts(&store, "SELECT stream_id FROM {schema}.pii_key_streams").await.is_empty());
}

/// A replay fetches the keys the stream recorded with its rows; a row that needs another
/// (a value copied from another stream, a key gone) is opened once that key was looked up.
#[tokio::test]
async fn a_replay_opens_values_whose_keys_the_stream_did_not_record() {
    let Some(store) = fresh_store().await else { return };
    let (s1, s2) = (StreamRef::new("stay", "s-1"), StreamRef::new("stay", "s-2"));
    store.append(s1, 0, &Metadata::new(), vec![admitted("p-1", "Ada Lovelace")]).await.unwrap();
    let at_rest = texts(&store, "SELECT payload::text FROM {schema}.events WHERE position = 1").await.remove(0);
    let copied = NewEvent { name: "PatientAdmitted", version: 1, payload: at_rest };
    store.append(s2, 0, &Metadata::new(), vec![copied]).await.unwrap();
    let error = store.replay(s2, 1, 1, |_| Ok(())).await.unwrap_err();
    assert!(matches!(&error, StoreError::Sealed(sealed) if sealed.version == 1), "{error:?}");
    assert!(error.to_string().contains("field `name`") && !error.to_string().contains("Ada"), "{error}");
    let replayed = |stream| {
        let store = store.clone();
        async move {
            let mut payloads = Vec::new();
            store
                .replay(stream, 1, u64::MAX, |event| {
                    payloads.push(event.payload.to_owned());
                    Ok(())
                })
                .await
                .unwrap();
            payloads
        }
    };
    assert_eq!(replayed(s1).await, [r#"{"name":{"$pii":"Ada Lovelace"},"patient":"p-1"}"#]);
    store.forget("p-1", "test").await.unwrap();
    assert_eq!(replayed(s1).await, [r#"{"name":{"$forgotten":true},"patient":"p-1"}"#]);
}

/// In one batch, appends to an archived or a deleted stream are refused alone, whatever
/// version they expect, beside a conflict; the others land.
#[tokio::test]
async fn one_batch_refuses_appends_to_closed_streams_alone() {
    let Some(store) = fresh_store().await else { return };
    for id in ["archived", "deleted", "behind"] {
        store.append(StreamRef::new("account", id), 0, &Metadata::new(), vec![numbered(1)]).await.unwrap();
    }
    store.archive(StreamRef::new("account", "archived")).await.unwrap();
    assert_eq!(store.delete(StreamRef::new("account", "deleted")).await.unwrap(), StreamDeleted { version: 1 });
    let (a, a_answer) = pending("archived", 1, &["2"]);
    let (d, d_answer) = pending("deleted", 2, &["3"]); // at its notice's version: still refused
    let (b, b_answer) = pending("behind", 0, &["4"]);
    let (n, n_answer) = pending("new", 0, &["5", "6"]);
    let mut conn = store.inner.pool.get().await.unwrap();
    store.commit(&mut conn, vec![a, d, b, n]).await;
    let error = a_answer.await.unwrap().unwrap_err();
    assert!(matches!(&error, StoreError::Archived { stream } if stream.stream_id == "archived"), "{error:?}");
    let error = d_answer.await.unwrap().unwrap_err();
    assert!(matches!(&error, StoreError::Deleted { stream, version: 1 } if stream.stream_id == "deleted"), "{error:?}");
    let error = b_answer.await.unwrap().unwrap_err();
    assert!(matches!(error, StoreError::Conflict { expected: 0, actual: 1, .. }), "{error:?}");
    let n = n_answer.await.unwrap().unwrap();
    // Positions 1 to 3 were the first events, 4 the notice (2, removed, is not given again).
    assert_eq!((n.version, n.positions.as_slice()), (2, &[5, 6][..]));
    // Alone, and with nothing to write, the same refusals.
    let (a, _) = pending("archived", 1, &["7"]);
    assert!(matches!(store.commit_one(&mut conn, &a).await, Err(StoreError::Archived { .. })));
    drop(conn);
    let deleted = StreamRef::new("account", "deleted");
    let error = store.append(deleted, 2, &Metadata::new(), Vec::new()).await.unwrap_err();
    assert!(matches!(error, StoreError::Deleted { version: 1, .. }), "{error:?}");
    let error = store.append(deleted, u64::MAX, &Metadata::new(), vec![numbered(8)]).await.unwrap_err();
    assert!(matches!(error, StoreError::Deleted { version: 1, .. }), "{error:?}");
    let archived = StreamRef::new("account", "archived");
    let error = store.append(archived, 1, &Metadata::new(), Vec::new()).await.unwrap_err();
    assert!(matches!(error, StoreError::Archived { .. }), "{error:?}");
    assert_eq!(store.stream_version(archived).await.unwrap(), 1);
    assert_eq!(store.stream_version(deleted).await.unwrap(), 2);
}

/// A deletion takes the position after the committed maximum, even when the stream held it;
/// removes the stream's rows, snapshot and keys' records; records itself once; wakes the
/// readers of every store on the schema; and leaves the forget epoch alone.
#[tokio::test]
async fn a_deletion_is_recorded_and_notified_to_every_store_on_the_schema() {
    let Some(store) = fresh_store().await else { return };
    let Ok(url) = std::env::var("FACTUM_POSTGRES_URL") else {
        return;
    };
    let other = PostgresStore::connect_with(&url, store.schema(), 1).await.unwrap();
    let (kept, doomed) = (StreamRef::new("stay", "kept"), StreamRef::new("stay", "doomed"));
    store.append(kept, 0, &Metadata::new(), vec![admitted("p-1", "Ada Lovelace")]).await.unwrap();
    store.append(doomed, 0, &Metadata::new(), vec![admitted("p-1", "Ada Lovelace"), numbered(2)]).await.unwrap();
    store.save_snapshot(doomed, Snapshot { version: 2, fingerprint: 7, state: "{}".into() }).await.unwrap();
    let mut known = other.inner.head.subscribe();
    tokio::time::timeout(Duration::from_secs(10), known.wait_for(|&head| head == 3)).await.unwrap().unwrap();
    let (epoch, other_epoch) = (store.forget_epoch(), other.forget_epoch());
    let notice = store.delete(doomed).await.unwrap();
    assert_eq!(notice, StreamDeleted { version: 2 });
    assert_eq!(*store.inner.head.borrow(), 4, "this store's head moves at once");
    // Nothing on `other` queries the head: only the notification can raise it.
    tokio::time::timeout(Duration::from_secs(10), known.wait_for(|&head| head == 4))
        .await
        .expect("the notification arrives")
        .unwrap();
    assert_eq!((store.forget_epoch(), other.forget_epoch()), (epoch, other_epoch), "no epoch moves");
    let rows = texts(
        &store,
        "SELECT position || ' ' || stream_id || ' ' || version || ' ' || name || ' ' || payload::text \
         FROM {schema}.events ORDER BY position",
    )
    .await;
    assert_eq!(rows[1..], ["4 doomed 3 $StreamDeleted {\"version\": 2}".to_owned()]);
    assert!(rows[0].starts_with("1 kept 1 PatientAdmitted"), "{rows:?}");
    assert!(store.load_snapshot(doomed).await.unwrap().is_none());
    assert_eq!(texts(&store, "SELECT stream_id FROM {schema}.pii_key_streams").await, ["kept"]);
    let recorded =
        "SELECT stream_id || ' ' || (payload->>'version') FROM {schema}.events WHERE name = '$StreamDeleted'";
    assert_eq!(texts(&store, recorded).await, ["doomed 2"]);
    assert_eq!(other.delete(doomed).await.unwrap(), notice, "deleting again answers the same notice");
    assert_eq!(texts(&store, recorded).await.len(), 1, "and records nothing");
    assert!(other.read_stream(doomed, 1, u64::MAX).await.unwrap().is_empty());
    let replayed = other.replay(doomed, 1, u64::MAX, |_| Ok(())).await.unwrap();
    assert_eq!(replayed, 0, "the notice is not replayed");
    let next = other.append(kept, 1, &Metadata::new(), vec![numbered(3)]).await.unwrap();
    assert_eq!(next.positions, [5]);
    let log = other.read_all(0, EventFilter::ALL, 10).await.unwrap();
    assert_eq!(log.iter().map(|e| e.meta.position).collect::<Vec<_>>(), [1, 4, 5]);
    assert_eq!(log[1].meta.event_name, StreamDeleted::NAME);
    use crate::event::Event;
    assert_eq!(StreamDeleted::decode(log[1].meta.event_version, &log[1].payload).unwrap(), notice);
}
