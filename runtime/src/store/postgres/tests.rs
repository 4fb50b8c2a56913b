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
