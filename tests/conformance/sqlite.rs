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
