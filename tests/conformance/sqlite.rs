//! Fresh SQLite stores for the suite: one new file each, under the system's temp directory.

use std::sync::atomic::{AtomicU32, Ordering};

use factum::SqliteStore;

/// A path no other test uses.
pub fn fresh_path(tag: &str) -> std::path::PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join("factum-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(format!("{tag}-{}-{n}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

pub async fn fresh_store() -> SqliteStore {
    SqliteStore::open(fresh_path("conformance")).await.unwrap()
}

/// What a process manager keeps is in the file: instances, outbox, refusals, deadlines and
/// the checkpoint are there after reopening it, and ids go on growing past every one given
/// before, even once all of those rows are gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_state_survives_reopening_the_file() {
    use factum::process::ProcessCommit;
    use factum::{Checkpoint, EventStore};

    use crate::suite::{at, command, deadline, kept, send};

    let path = fresh_path("process-reopen");
    let store = SqliteStore::open(&path).await.unwrap();
    let commit = ProcessCommit {
        position: Some(12),
        instances: vec![("o-1".to_owned(), Some(r#"{"step":1}"#.to_owned()))],
        send: vec![command("o-1", "l-1", 1), command("o-1", "l-2", 2)],
        schedule: vec![deadline("o-1", "Expire", at(5))],
        ..ProcessCommit::default()
    };
    store.commit_process("payout", commit).await.unwrap();
    let sent = store.pending_commands("payout", 10).await.unwrap();
    let reject = ProcessCommit { rejected: vec![(sent[0].id, "refused".to_owned())], ..ProcessCommit::default() };
    store.commit_process("payout", reject).await.unwrap();
    let due = store.due_deadlines("payout", at(10), 10).await.unwrap();
    drop(store);

    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.load_process_instance("payout", "o-1").await.unwrap().as_deref(), Some(r#"{"step":1}"#));
    assert_eq!(
        store.load_checkpoint("process:payout").await.unwrap(),
        Some(Checkpoint { position: 12, state: "".into() })
    );
    assert_eq!(store.pending_commands("payout", 10).await.unwrap(), sent[1..]);
    let rejected = store.rejected_commands("payout", 10).await.unwrap();
    assert_eq!((rejected.len(), &rejected[0].command, rejected[0].error.as_str()), (1, &sent[0], "refused"));
    assert_eq!(store.due_deadlines("payout", at(10), 10).await.unwrap(), due);
    assert_eq!(due[0].deadline, kept(deadline("o-1", "Expire", at(5))));

    // Every row goes; reopened, the file still gives only new ids.
    let clear =
        ProcessCommit { instances: vec![("o-1".to_owned(), None)], sent: vec![sent[1].id], ..ProcessCommit::default() };
    store.commit_process("payout", clear).await.unwrap();
    assert_eq!(store.next_deadline("payout").await.unwrap(), None);
    drop(store);
    let store = SqliteStore::open(&path).await.unwrap();
    let commit =
        ProcessCommit { schedule: vec![deadline("o-2", "Expire", at(6))], ..send(vec![command("o-2", "l-1", 3)]) };
    store.commit_process("payout", commit).await.unwrap();
    let new_command = store.pending_commands("payout", 10).await.unwrap()[0].id;
    let new_deadline = store.due_deadlines("payout", at(10), 10).await.unwrap()[0].id;
    assert!(new_command > sent[1].id, "{new_command} after {}", sent[1].id);
    assert!(new_deadline > due[0].id, "{new_deadline} after {}", due[0].id);
}

/// Personal data in the file: what `forget` leaves there, what a reopened store reads, and
/// what a tampered value gives.
mod personal_data {
    use factum::prelude::*;
    use factum::{EventFilter, Pii, SqliteStore, StoreError, StreamRef};

    use super::fresh_path;
    use crate::pii::{Stay, StayCommand, WardList};

    const ADA: &str = "Ada Lovelace";

    async fn admit(stays: &Repository<Stay, SqliteStore>, stay: &str, patient: &str) {
        let notes = vec![format!("{ADA} is allergic to penicillin")];
        let admit = StayCommand::Admit { patient: patient.into(), name: ADA.into(), notes };
        stays.execute(stay, admit).await.unwrap();
    }

    /// The bytes of the file and of its WAL, together.
    fn file_bytes(path: &std::path::Path) -> Vec<u8> {
        let mut bytes = std::fs::read(path).unwrap();
        bytes.extend(std::fs::read(format!("{}-wal", path.display())).unwrap_or_default());
        bytes
    }

    fn holds(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|window| window == needle)
    }

    /// Before `forget` the name is in the file (the snapshot and the projection's checkpoint
    /// hold it in the clear); after it, neither the name, nor the note, nor the key's bytes
    /// are anywhere in the file or its WAL, and a reopened store reads `Forgotten`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn after_forget_the_file_holds_no_copy_of_the_values() {
        let path = fresh_path("pii-file");
        let store = SqliteStore::open(&path).await.unwrap();
        let stays = Repository::<Stay, _>::new(store.clone());
        admit(&stays, "s-1", "p-1").await;
        stays.execute("s-1", StayCommand::MoveTo { ward: "B".into() }).await.unwrap();
        let names = ProjectionRunner::<WardList, _>::start(store.clone()).await.unwrap();
        names.catch_up().await.unwrap();
        names.save_checkpoint().await.unwrap();
        let key: Vec<u8> = rusqlite::Connection::open(&path)
            .unwrap()
            .query_row("SELECT key FROM pii_keys WHERE subject = 'p-1'", [], |row| row.get(0))
            .unwrap();
        let before = file_bytes(&path);
        assert!(holds(&before, ADA.as_bytes()), "the snapshot or checkpoint holds the name before `forget`");
        assert!(holds(&before, &key), "the key is in the file before `forget`");

        store.forget("p-1", "ticket 7").await.unwrap();
        drop((names, stays, store));
        let after = file_bytes(&path);
        for (what, bytes) in [("the name", ADA.as_bytes()), ("the note", b"penicillin".as_slice()), ("the key", &key)] {
            assert!(!holds(&after, bytes), "{what} is still in {} or its WAL", path.display());
        }

        let reopened = SqliteStore::open(&path).await.unwrap();
        let stays = Repository::<Stay, _>::new(reopened.clone());
        let loaded = stays.load("s-1").await.unwrap().unwrap();
        assert_eq!((loaded.state.name, loaded.state.moves), (Some(Pii::Forgotten), 1));
        for event in reopened.read_all(0, EventFilter::ALL, 10).await.unwrap() {
            assert!(!event.payload.contains("Ada"), "{}", event.payload);
        }
        let audit = reopened.forgotten().await.unwrap();
        assert_eq!(audit.len(), 1);
        assert_eq!((audit[0].subject.as_str(), audit[0].by.as_str(), audit[0].keys), ("p-1", "ticket 7", 1));
        assert_eq!(audit[0].checkpoints, ["ward-list"]);
        assert!(reopened.forget_epoch() > 0, "the epoch is read back from the file");
    }

    /// A deleted stream's events leave no copy in the file or its WAL; the notice survives
    /// reopening, and so does the refusal of new events.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_deleted_stream_leaves_no_copy_in_the_file() {
        use factum::{EventStore, Metadata, NewEvent, StreamDeleted};

        let path = fresh_path("delete-file");
        let store = SqliteStore::open(&path).await.unwrap();
        let stream = StreamRef::new("notebook", "n-1");
        let secret = NewEvent { name: "Noted", version: 1, payload: r#"{"text":"the combination is 4711"}"#.into() };
        store.append(stream, 0, &Metadata::new(), vec![secret]).await.unwrap();
        assert!(holds(&file_bytes(&path), b"combination is 4711"));
        store.delete(stream).await.unwrap();
        drop(store);
        assert!(!holds(&file_bytes(&path), b"combination is 4711"), "the deleted event is still in the file");

        let reopened = SqliteStore::open(&path).await.unwrap();
        assert_eq!(reopened.delete(stream).await.unwrap(), StreamDeleted { version: 1 });
        let log = reopened.read_all(0, EventFilter::ALL, 10).await.unwrap();
        assert_eq!(log.iter().map(|e| e.meta.event_name.as_str()).collect::<Vec<_>>(), ["$StreamDeleted"]);
        let error = reopened.append(stream, 2, &Metadata::new(), Vec::new()).await.unwrap_err();
        assert!(matches!(error, StoreError::Deleted { version: 1, .. }), "{error:?}");
    }

    /// The `sqlite3` tool, as scripts/test finds or installs it: `None` (and the test skipped,
    /// saying so) where it is missing, except in CI, which needs it.
    fn sqlite3() -> Option<String> {
        let tool = std::env::var("FACTUM_SQLITE3").unwrap_or_else(|_| "sqlite3".to_owned());
        let found = std::process::Command::new(&tool).arg("--version").output().is_ok_and(|out| out.status.success());
        if found {
            return Some(tool);
        }
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI needs the sqlite3 tool ({tool} did not run)");
        eprintln!("SKIPPED: the sqlite3 tool ({tool}) is not installed");
        None
    }

    /// One byte of a sealed value flipped with the `sqlite3` tool: every read of the event
    /// is an error naming the stream, the version and the field, never a panic and never the
    /// value; the other events still read, and a new append still works.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_byte_flipped_in_a_sealed_value_is_an_error_naming_stream_version_and_field() {
        let Some(sqlite3) = sqlite3() else { return };
        let path = fresh_path("pii-tamper");
        let store = SqliteStore::open(&path).await.unwrap();
        let stays = Repository::<Stay, _>::new(store.clone()).with_cache_capacity(0);
        admit(&stays, "s-1", "p-1").await;
        admit(&stays, "s-2", "p-2").await;

        let stored: String = rusqlite::Connection::open(&path)
            .unwrap()
            .query_row("SELECT payload FROM events WHERE position = 1", [], |row| row.get(0))
            .unwrap();
        let value: serde_json::Value = serde_json::from_str(&stored).unwrap();
        let sealed = value["name"]["$sealed"].as_str().unwrap().to_owned();
        let mut flipped = sealed.clone().into_bytes();
        flipped[30] = if flipped[30] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        let sql = format!("UPDATE events SET payload = replace(payload, '{sealed}', '{flipped}') WHERE position = 1;");
        let run = std::process::Command::new(&sqlite3).arg(&path).arg(&sql).output().unwrap();
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));

        let stream = StreamRef::new("stay", "s-1");
        let error = store.read_stream(stream, 1, 1).await.unwrap_err();
        assert!(
            matches!(&error, StoreError::Sealed(sealed) if sealed.version == 1 && sealed.field == "name")
                && error.is_corrupt(),
            "{error:?}"
        );
        let text = error.to_string();
        assert!(text.starts_with("stream stay/s-1, version 1: event `PatientAdmitted`, field `name`"), "{text}");
        assert!(text.contains("altered") && !text.contains("Ada"), "{text}");
        for failed in [
            stays.load("s-1").await.unwrap_err().to_string(),
            store.read_all(0, EventFilter::ALL, 10).await.unwrap_err().to_string(),
        ] {
            assert!(failed.contains("stay/s-1") && failed.contains("field `name`"), "{failed}");
        }
        assert_eq!(stays.load("s-2").await.unwrap().unwrap().state.name, Some(Pii::new(ADA.to_owned())));
        stays.execute("s-2", StayCommand::MoveTo { ward: "B".into() }).await.unwrap();
        assert_eq!(store.stream_version(stream).await.unwrap(), 1, "nothing was lost");
    }
}

/// Keys wrapped by a master key: stored wrapped, read back with the same master key, and a
/// file opened without it (or with another) refuses to read the values, naming the key,
/// without writing anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_wrapped_by_a_master_key_need_it_to_read() {
    use factum::prelude::*;
    use factum::{EventStore, MasterKey, Pii, StreamRef};

    use crate::pii::{Stay, StayCommand};

    let master = || MasterKey::new([7; 32]);
    let path = fresh_path("pii-master");
    let store = SqliteStore::open(&path).await.unwrap().with_key_wrap(master());
    let stays = Repository::<Stay, _>::new(store.clone()).with_cache_capacity(0);
    let admit = StayCommand::Admit { patient: "p-1".into(), name: "Ada Lovelace".into(), notes: Vec::new() };
    stays.execute("s-1", admit).await.unwrap();
    let stored: Vec<u8> =
        rusqlite::Connection::open(&path).unwrap().query_row("SELECT key FROM pii_keys", [], |row| row.get(0)).unwrap();
    assert_eq!(stored.len(), 24 + 32 + 16, "a nonce, the sealed key and its tag");
    drop((stays, store));

    let again = SqliteStore::open(&path).await.unwrap().with_key_wrap(master());
    let loaded = Repository::<Stay, _>::new(again).load("s-1").await.unwrap().unwrap();
    assert_eq!(loaded.state.name, Some(Pii::new("Ada Lovelace".to_owned())));

    for (store, why) in [
        (SqliteStore::open(&path).await.unwrap(), "was it stored wrapped"),
        (SqliteStore::open(&path).await.unwrap().with_key_wrap(MasterKey::new([8; 32])), "does not unwrap"),
    ] {
        let error = store.read_stream(StreamRef::new("stay", "s-1"), 1, 1).await.unwrap_err();
        let text = error.to_string();
        assert!(error.is_corrupt() && text.contains("subject key 1") && text.contains(why), "{text}");
        assert_eq!(store.stream_version(StreamRef::new("stay", "s-1")).await.unwrap(), 1);
    }
}
