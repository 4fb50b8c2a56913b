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
