//! What only a file on disk can show: crashes, several processes, and bad stored data.
//!
//! The child processes are this test binary itself, started with `--ignored --exact` on a
//! child entry point below and told what to do through environment variables.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use factum::prelude::*;
use factum::{EventFilter, NewEvent, SqliteStore, StoreError, StreamRef};
use serde::{Deserialize, Serialize};

fn fresh_path(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join("factum-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let path = dir.join(format!("{tag}-{}-{nanos}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

fn child(entry: &str, db: &std::path::Path, extra: &[(&str, String)]) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args(["--ignored", "--exact", entry, "--nocapture", "--test-threads=1"]);
    command.env("FACTUM_CHILD_DB", db);
    for (key, value) in extra {
        command.env(key, value);
    }
    command
}

/// Child: appends batches of three events to rotating streams forever, printing
/// `acked <stream> <version>` after each append returns `Ok`.
#[tokio::test]
#[ignore = "a child process of `a_killed_writer_loses_no_acknowledged_batch`"]
async fn child_appends_until_killed() {
    let db = std::env::var("FACTUM_CHILD_DB").expect("run by the parent test");
    let store = SqliteStore::open(&db).await.unwrap();
    let mut versions = [0u64; 4];
    for i in 0.. {
        let s = i % 4;
        let id = format!("s{s}");
        let batch: Vec<NewEvent> = (0..3)
            .map(|k| NewEvent { name: "Part", version: 1, payload: format!(r#"{{"batch":{i},"part":{k}}}"#) })
            .collect();
        let appended = store.append(StreamRef::new("crash", &id), versions[s], &Metadata::new(), batch).await.unwrap();
        versions[s] = appended.version;
        println!("acked {id} {}", appended.version);
    }
}

/// A writer killed with SIGKILL mid-stream: after reopening, every acknowledged append is
/// there, no batch is partly written, and the store takes new appends.
#[tokio::test]
async fn a_killed_writer_loses_no_acknowledged_batch() {
    let db = fresh_path("crash");
    // Create the schema first, so the child starts appending at once.
    drop(SqliteStore::open(&db).await.unwrap());
    let mut writer = child("child_appends_until_killed", &db, &[]).stdout(Stdio::piped()).spawn().unwrap();
    let mut acked = std::collections::BTreeMap::<String, u64>::new();
    let mut lines = BufReader::new(writer.stdout.take().unwrap()).lines();
    while acked.values().sum::<u64>() < 600 {
        let line = lines.next().expect("the child writes until killed").unwrap();
        if let Some(rest) = line.strip_prefix("acked ") {
            let (id, version) = rest.split_once(' ').unwrap();
            acked.insert(id.to_owned(), version.parse().unwrap());
        }
    }
    writer.kill().unwrap(); // SIGKILL: no destructor, no flush, no rollback runs in the child.
    writer.wait().unwrap();

    let store = SqliteStore::open(&db).await.unwrap();
    for (id, &version) in &acked {
        let stream = StreamRef::new("crash", id);
        let stored = store.stream_version(stream).await.unwrap();
        assert!(stored >= version, "{id}: acknowledged version {version}, but only {stored} survived");
        assert_eq!(stored % 3, 0, "{id}: a batch of three was partly written ({stored} events)");
        let events = store.read_stream(stream, 1, u64::MAX).await.unwrap();
        let versions: Vec<u64> = events.iter().map(|e| e.meta.stream_version).collect();
        assert_eq!(versions, (1..=stored).collect::<Vec<_>>());
    }
    let stream = StreamRef::new("crash", "s0");
    let version = store.stream_version(stream).await.unwrap();
    let event = NewEvent { name: "Part", version: 1, payload: "{}".into() };
    store.append(stream, version, &Metadata::new(), vec![event]).await.expect("the store takes new appends");
}

/// Child: appends single events to one shared stream, retrying conflicts.
#[tokio::test]
#[ignore = "a child process of `two_processes_share_one_file`"]
async fn child_appends_to_a_shared_stream() {
    let db = std::env::var("FACTUM_CHILD_DB").expect("run by the parent test");
    let tag: String = std::env::var("FACTUM_CHILD_TAG").unwrap();
    let store = SqliteStore::open(&db).await.unwrap();
    let stream = StreamRef::new("shared", "one");
    for i in 0..200 {
        loop {
            let version = store.stream_version(stream).await.unwrap();
            let event = NewEvent { name: "Written", version: 1, payload: format!(r#"{{"by":"{tag}","i":{i}}}"#) };
            match store.append(stream, version, &Metadata::new(), vec![event]).await {
                Ok(_) => break,
                Err(StoreError::Conflict { .. }) => continue,
                Err(other) => panic!("{other}"),
            }
        }
    }
}

/// Two processes open one new file at the same moment (both run the migration check) and
/// append to one stream: nothing is corrupted and no version is handed out twice.
#[tokio::test]
async fn two_processes_share_one_file() {
    let db = fresh_path("shared");
    let children: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|tag| {
            child("child_appends_to_a_shared_stream", &db, &[("FACTUM_CHILD_TAG", tag.to_owned())])
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "a child failed");
    }
    let store = SqliteStore::open(&db).await.unwrap();
    let events = store.read_stream(StreamRef::new("shared", "one"), 1, u64::MAX).await.unwrap();
    assert_eq!(events.iter().map(|e| e.meta.stream_version).collect::<Vec<_>>(), (1..=400).collect::<Vec<_>>());
    let distinct: std::collections::BTreeSet<&str> = events.iter().map(|e| e.payload.as_str()).collect();
    assert_eq!(distinct.len(), 400, "every append stored exactly once");
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Deposited {
    pub amount: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
pub struct Never;

#[derive(Aggregate, Default, Debug, Clone)]
pub struct Account {
    balance: u64,
}

#[handlers]
impl Account {
    #[command]
    pub fn deposit(&self, amount: u64) -> Result<Deposited, Never> {
        Ok(Deposited { amount })
    }

    #[apply]
    fn deposited(&mut self, e: &Deposited) {
        self.balance += e.amount;
    }
}

/// Rows planted behind the store's back: each yields an error naming stream, version and
/// event; nothing panics; other streams stay readable; nothing is overwritten.
#[tokio::test]
async fn bad_stored_data_is_an_error_naming_stream_version_and_event() {
    let db = fresh_path("bad");
    let store = SqliteStore::open(&db).await.unwrap();
    let accounts = Repository::<Account, _>::new(store.clone());
    for id in ["corrupt", "unknown-name", "unknown-version", "healthy"] {
        accounts.execute(id, AccountCommand::Deposit { amount: 1 }).await.unwrap();
    }
    {
        let raw = rusqlite::Connection::open(&db).unwrap();
        let plant = |id: &str, name: &str, version: u32, payload: &str| {
            raw.execute(
                "INSERT INTO events (aggregate_type, stream_id, version, name, schema_version, recorded_at, payload)
                 VALUES ('account', ?1, 2, ?2, ?3, 0, ?4)",
                rusqlite::params![id, name, version, payload],
            )
            .unwrap();
        };
        plant("corrupt", "Deposited", 1, "{not json");
        plant("unknown-name", "Teleported", 1, "{}");
        plant("unknown-version", "Deposited", 7, r#"{"amount":1}"#);
    }

    let fresh = Repository::<Account, _>::new(store.clone());
    let message = |id: &'static str| {
        let fresh = &fresh;
        async move { fresh.load(id).await.unwrap_err().to_string() }
    };
    let corrupt = message("corrupt").await;
    assert!(
        corrupt.starts_with(
            "stream account/corrupt, version 2: event `Deposited` version 1: the payload does not match the type"
        ),
        "{corrupt}"
    );
    assert_eq!(
        message("unknown-name").await,
        "stream account/unknown-name, version 2: unknown event `Teleported` (this set knows `Deposited`)"
    );
    assert_eq!(
        message("unknown-version").await,
        "stream account/unknown-version, version 2: event `Deposited` has no type for schema version 7 (the newest is 1)"
    );
    let error = fresh.execute("corrupt", AccountCommand::Deposit { amount: 1 }).await.unwrap_err();
    assert!(matches!(error, ExecuteError::Store(StoreError::Decode { version: 2, .. })), "{error}");

    // The healthy stream is untouched and takes commands; nothing was overwritten.
    fresh.execute("healthy", AccountCommand::Deposit { amount: 2 }).await.unwrap();
    assert_eq!(fresh.load("healthy").await.unwrap().unwrap().state.balance, 3);
    assert_eq!(store.read_all(0, EventFilter::ALL, 100).await.unwrap().len(), 8);

    // Metadata that is not JSON is corruption, naming stream and version.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute("UPDATE events SET metadata = 'oops' WHERE stream_id = 'healthy' AND version = 1", [])
        .unwrap();
    let error = store.read_stream(StreamRef::new("account", "healthy"), 1, 1).await.unwrap_err();
    assert!(error.to_string().starts_with("corrupt store: stream account/healthy, version 1 (position 4):"), "{error}");
}

/// The first error of `error`'s source chain that is an `E`.
fn source_of<'a, E: std::error::Error + 'static>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a E> {
    std::iter::successors(error.source(), |e| e.source()).find_map(|e| e.downcast_ref::<E>())
}

/// Rows no factum writes, planted with rusqlite (metadata that is not JSON, a recorded time
/// that is text, a version below 1): a read that meets one returns `StoreError::Corrupt`
/// naming the row, with the underlying error kept as the source. The rows around them, the
/// planted rows themselves and the numbering of positions are unharmed.
#[tokio::test]
async fn a_row_that_does_not_decode_is_corrupt_and_named() {
    let db = fresh_path("corrupt-row");
    let store = SqliteStore::open(&db).await.unwrap();
    let stream = |id| StreamRef::new("note", id);
    let event = || NewEvent { name: "Noted", version: 1, payload: "{}".into() };
    for id in ["before", "bad-metadata", "bad-time", "after"] {
        store.append(stream(id), 0, &Metadata::new(), vec![event()]).await.unwrap(); // positions 1 to 4
    }
    let raw = rusqlite::Connection::open(&db).unwrap();
    raw.execute("UPDATE events SET metadata = '{not json' WHERE stream_id = 'bad-metadata'", []).unwrap();
    raw.execute("UPDATE events SET recorded_at = 'yesterday' WHERE stream_id = 'bad-time'", []).unwrap();
    raw.execute(
        "INSERT INTO events (aggregate_type, stream_id, version, name, schema_version, recorded_at, payload)
         VALUES ('note', 'bad-version', -1, 'Noted', 1, 0, '{}')",
        [],
    )
    .unwrap(); // position 5

    let corrupt = |error: StoreError| match error {
        StoreError::Corrupt { ref location, ref source, .. } => {
            assert!(error.is_corrupt() && !error.is_invalid_input(), "{error}");
            (location.clone(), source.is_some(), error.to_string())
        }
        other => panic!("expected Corrupt, got {other:?}"),
    };

    let error = store.read_stream(stream("bad-metadata"), 1, u64::MAX).await.unwrap_err();
    assert!(source_of::<serde_json::Error>(&error).is_some(), "the JSON error is kept: {error:?}");
    let (location, _, message) = corrupt(error);
    assert_eq!(location, "stream note/bad-metadata, version 1 (position 2)");
    assert!(message.contains("metadata"), "{message}");

    let error = store.read_stream(stream("bad-time"), 1, u64::MAX).await.unwrap_err();
    let sqlite = source_of::<rusqlite::Error>(&error).expect("the rusqlite error is kept");
    assert!(matches!(sqlite, rusqlite::Error::InvalidColumnType(..)), "{sqlite:?}");
    let (location, _, message) = corrupt(error);
    assert_eq!(location, "stream note/bad-time, version 1 (position 3)");
    assert!(message.contains("recorded time"), "{message}");

    // The global log stops at the first bad row, and reads up to it and past it work.
    let (location, _, _) = corrupt(store.read_all(0, EventFilter::ALL, 100).await.unwrap_err());
    assert_eq!(location, "stream note/bad-metadata, version 1 (position 2)");
    let first = store.read_all(0, EventFilter::ALL, 1).await.unwrap();
    assert_eq!(first.iter().map(|e| e.meta.stream_id.as_str()).collect::<Vec<_>>(), ["before"]);
    let error = store.read_all(3, EventFilter::ALL, 100).await.unwrap_err();
    let (location, has_source, message) = corrupt(error);
    assert_eq!(location, "stream note/bad-version, version -1 (position 5)");
    assert!(!has_source && message.contains("count from 1"), "{message}");
    let (location, _, message) = corrupt(store.stream_version(stream("bad-version")).await.unwrap_err());
    assert_eq!(location, "stream note/bad-version");
    assert!(message.contains("-1"), "{message}");

    // Nothing else was harmed: the healthy streams read and take appends, positions go on
    // from the planted row without a gap, and the bad rows are still there as planted.
    for id in ["before", "after"] {
        assert_eq!(store.read_stream(stream(id), 1, u64::MAX).await.unwrap().len(), 1, "{id}");
    }
    let appended = store.append(stream("after"), 1, &Metadata::new(), vec![event()]).await.unwrap();
    assert_eq!(appended.positions, [6]);
    let planted: (String, String, i64) = raw
        .query_row(
            "SELECT (SELECT metadata FROM events WHERE position = 2),
                    (SELECT recorded_at FROM events WHERE position = 3),
                    (SELECT version FROM events WHERE position = 5)",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .unwrap();
    assert_eq!(planted, ("{not json".to_owned(), "yesterday".to_owned(), -1));
}

/// The replay the repository loads with reads rows of its own: one it cannot lend (a
/// payload that is not UTF-8 text, a schema version out of range, a version below 1) is
/// `StoreError::Corrupt` naming stream, version and position, with SQLite's error kept.
#[tokio::test]
async fn a_replay_names_the_row_it_cannot_lend() {
    let db = fresh_path("replay-row");
    let store = SqliteStore::open(&db).await.unwrap();
    let stream = |id| StreamRef::new("note", id);
    for id in ["bad-payload", "bad-schema-version", "bad-version"] {
        let event = NewEvent { name: "Noted", version: 1, payload: "{}".into() };
        store.append(stream(id), 0, &Metadata::new(), vec![event]).await.unwrap(); // positions 1 to 3
    }
    let raw = rusqlite::Connection::open(&db).unwrap();
    raw.execute("UPDATE events SET payload = x'ff7b7d' WHERE stream_id = 'bad-payload'", []).unwrap();
    raw.execute("UPDATE events SET schema_version = 5000000000 WHERE stream_id = 'bad-schema-version'", []).unwrap();
    raw.execute("UPDATE events SET version = 0 WHERE stream_id = 'bad-version'", []).unwrap();
    let replay = |id| {
        let store = store.clone();
        async move { store.replay(stream(id), 0, u64::MAX, |_| Ok(())).await.unwrap_err() }
    };
    for (id, location, column) in [
        ("bad-payload", "stream note/bad-payload, version 1 (position 1)", "payload"),
        ("bad-schema-version", "stream note/bad-schema-version, version 1 (position 2)", "schema version"),
    ] {
        let error = replay(id).await;
        assert!(source_of::<rusqlite::Error>(&error).is_some(), "the rusqlite error is kept: {error:?}");
        match &error {
            StoreError::Corrupt { location: at, reason, .. } => {
                assert_eq!(at, location);
                assert!(reason.contains(column), "{reason}");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }
    match replay("bad-version").await {
        StoreError::Corrupt { location, reason, .. } => {
            assert_eq!(location, "stream note/bad-version, version 0 (position 3)");
            assert!(reason.contains("count from 1"), "{reason}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

/// A file of the schema before command ids (version 2) is migrated when opened: its events
/// are kept, and commands with ids run once from then on.
#[tokio::test]
async fn a_file_from_before_command_ids_is_migrated() {
    let db = fresh_path("before-command-ids");
    let stream = StreamRef::new("note", "n-1");
    let store = SqliteStore::open(&db).await.unwrap();
    let old = NewEvent { name: "Noted", version: 1, payload: r#"{"text":"old"}"#.into() };
    store.append(stream, 0, &Metadata::new().with_correlation_id("c-1"), vec![old]).await.unwrap();
    drop(store);
    // What version 2 of the schema was: no command id column, no index of them.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(
            "DROP TABLE pii_keys; DROP TABLE pii_key_streams; DROP TABLE pii_forgotten; \
             ALTER TABLE events DROP COLUMN archived; \
             DROP TABLE process_instances; DROP TABLE process_outbox; DROP TABLE process_deadlines; \
             DROP TABLE failures; DROP INDEX events_by_command; ALTER TABLE events DROP COLUMN command_id; \
             PRAGMA user_version = 2;",
        )
        .unwrap();

    let store = SqliteStore::open(&db).await.unwrap();
    let version: i64 =
        rusqlite::Connection::open(&db).unwrap().query_row("PRAGMA user_version", [], |row| row.get(0)).unwrap();
    assert_eq!(version, 6);
    let kept = store.read_stream(stream, 1, u64::MAX).await.unwrap();
    assert_eq!((kept.len(), kept[0].meta.metadata.correlation_id.as_deref()), (1, Some("c-1")));
    assert_eq!(store.find_command(stream, "c-1").await.unwrap(), None);
    let new = NewEvent { name: "Noted", version: 1, payload: r#"{"text":"new"}"#.into() };
    store.append(stream, 1, &Metadata::new().with_command_id("note-2"), vec![new]).await.unwrap();
    assert_eq!(store.find_command(stream, "note-2").await.unwrap(), Some(2..=2));
}

/// A file written by a newer factum (a higher schema version) is refused as `Incompatible`
/// naming the file, not "migrated", and left as it was.
#[tokio::test]
async fn a_newer_schema_is_refused_as_incompatible() {
    let db = fresh_path("newer");
    drop(SqliteStore::open(&db).await.unwrap());
    rusqlite::Connection::open(&db).unwrap().pragma_update(None, "user_version", 99).unwrap();
    let error = SqliteStore::open(&db).await.unwrap_err();
    assert!(error.is_corrupt() && !error.is_invalid_input(), "{error}");
    match &error {
        StoreError::Incompatible { store, found: 99, supported } => {
            assert!(store.contains(&db.display().to_string()), "{store}");
            assert!(*supported < 99, "{supported}");
        }
        other => panic!("expected Incompatible, got {other:?}"),
    }
    assert!(error.to_string().contains("upgrade factum"), "{error}");
    let version: i64 =
        rusqlite::Connection::open(&db).unwrap().query_row("PRAGMA user_version", [], |row| row.get(0)).unwrap();
    assert_eq!(version, 99, "the file is left as it was");
}

/// A batch whose transaction fails as a whole (here its COMMIT, on a deferred foreign key
/// planted in the file) fails its appends with the SQLite error kept as the source, not
/// flattened into a string; nothing of it is stored and the next append takes position 1.
#[tokio::test]
async fn a_failed_commit_keeps_the_sqlite_error_as_its_source() {
    let db = fresh_path("failed-commit");
    let store = SqliteStore::open(&db).await.unwrap();
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(
            "CREATE TABLE parent (id INTEGER PRIMARY KEY);
             CREATE TABLE child (parent INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);
             CREATE TRIGGER planted AFTER INSERT ON events WHEN NEW.stream_id = 'doomed'
             BEGIN INSERT INTO child VALUES (42); END;",
        )
        .unwrap();
    let event = || NewEvent { name: "Noted", version: 1, payload: "{}".into() };
    let error = store.append(StreamRef::new("note", "doomed"), 0, &Metadata::new(), vec![event()]).await.unwrap_err();
    assert!(matches!(error, StoreError::Backend(_)), "{error:?}");
    assert!(error.to_string().contains("the transaction failed"), "{error}");
    let sqlite = source_of::<rusqlite::Error>(&error).expect("the rusqlite error is kept");
    assert_eq!(sqlite.sqlite_error_code(), Some(rusqlite::ErrorCode::ConstraintViolation), "{sqlite:?}");

    assert_eq!(store.stream_version(StreamRef::new("note", "doomed")).await.unwrap(), 0);
    let appended = store.append(StreamRef::new("note", "fine"), 0, &Metadata::new(), vec![event()]).await.unwrap();
    assert_eq!(appended.positions, [1], "the rolled-back batch left no gap");
}

#[tokio::test]
async fn wait_for_events_sees_another_process() {
    let db = fresh_path("wait");
    let store = SqliteStore::open(&db).await.unwrap();
    let waiter = tokio::spawn({
        let store = store.clone();
        async move { store.wait_for_events(0).await }
    });
    // Another "process": a second store on the same file, unknown to the first.
    let other = SqliteStore::open(&db).await.unwrap();
    let event = NewEvent { name: "Deposited", version: 1, payload: r#"{"amount":1}"#.into() };
    other.append(StreamRef::new("account", "x"), 0, &Metadata::new(), vec![event]).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), waiter).await.unwrap().unwrap().unwrap();
}

/// Group commit: an append that fails on something other than a conflict (here a trigger
/// planted in the file) takes its batch's transaction down; the other appends of the batch
/// are committed again on their own, so that only the faulty one fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_append_that_fails_in_a_group_fails_only_itself() {
    let path = fresh_path("faulty-append");
    let store = SqliteStore::open(&path).await.unwrap();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER planted BEFORE INSERT ON events WHEN NEW.stream_id = 'poison' \
             BEGIN SELECT RAISE(ABORT, 'planted failure'); END;",
        )
        .unwrap();
    let event = || NewEvent { name: "Noted", version: 1, payload: "{}".into() };
    let mut tasks = Vec::new();
    for writer in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let id = if writer == 0 { "poison".to_owned() } else { format!("good-{writer}") };
            let mut failures = Vec::new();
            let mut version = 0;
            for _ in 0..25 {
                match store.append(StreamRef::new("note", &id), version, &Metadata::new(), vec![event(), event()]).await
                {
                    Ok(appended) => version = appended.version,
                    Err(error) => failures.push(error.to_string()),
                }
            }
            (id, version, failures)
        }));
    }
    for task in tasks {
        let (id, version, failures) = task.await.unwrap();
        if id == "poison" {
            assert_eq!((version, failures.len()), (0, 25), "{failures:?}");
            let named = |f: &String| f.contains("stream note/poison, version 1") && f.contains("planted failure");
            assert!(failures.iter().all(named), "{failures:?}");
        } else {
            assert_eq!((version, failures.len()), (50, 0), "{id}: {failures:?}");
        }
    }
    assert_eq!(store.head_position().await.unwrap(), 7 * 50, "nothing of the poison, everything of the others");
    let _ = std::fs::remove_file(&path);
}
