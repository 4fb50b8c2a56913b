//! Connections: opening one (busy timeout, WAL, `synchronous = FULL`), and running work
//! with one on Tokio's blocking pool.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::Connection;

use super::{SqliteStore, backend};
use crate::error::StoreError;

/// How long a connection waits for another process's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens a connection to `path` with the store's pragmas: the WAL journal, `synchronous =
/// FULL` (every commit fsynced before it returns), foreign keys on, `secure_delete` (deleted
/// and overwritten rows are zeroed, so that a forgotten subject's key or a removed snapshot
/// leaves no copy in the file), and [`BUSY_TIMEOUT`].
pub(super) fn connect(path: &Path) -> Result<Connection, StoreError> {
    let connection = Connection::open(path).map_err(backend)?;
    connection.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
    connection
        .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;")
        .map_err(backend)?;
    Ok(connection)
}

impl SqliteStore {
    /// Runs `work` with a reading connection, on the blocking pool.
    pub(super) async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            let idle = lock(&inner.readers).pop();
            let connection = match idle {
                Some(connection) => connection,
                None => connect(&inner.path)?,
            };
            let result = work(&connection);
            lock(&inner.readers).push(connection);
            result
        })
        .await
    }

    /// Runs `work` with the writing connection, on the blocking pool.
    pub(super) async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = Arc::clone(&self.inner);
        blocking(move || work(&mut lock(&inner.writer))).await
    }
}

/// Locks `mutex`, poisoned or not.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in a blocking task cannot leave a connection mid-transaction: rusqlite rolls
    // back an unfinished transaction when it is dropped.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs `work` on Tokio's blocking pool; a panic in it becomes a backend error.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| StoreError::Backend(Box::new(e)))?
}
