//! The connection pool: connections with their statements prepared, lent out one at a time.

use std::sync::{Mutex, MutexGuard};

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio_postgres::Client;

use super::connection::{Connector, Role};
use super::statements::{Sql, Statements};

use super::backend;
use crate::error::StoreError;
use crate::store::StreamRef;
use crate::trace::warn;

/// At most `size` connections, each with its statements prepared; idle ones are reused,
/// closed ones dropped and replaced on demand.
pub(super) struct Pool {
    pub(super) connector: Connector,
    pub(super) sql: Sql,
    pub(super) permits: Semaphore,
    pub(super) idle: Mutex<Vec<Conn>>,
    pub(super) size: usize,
}

/// One pooled connection and its prepared statements.
pub(super) struct Conn {
    pub(super) client: Client,
    pub(super) statements: Statements,
}

/// A connection lent out of the pool; it goes back when dropped, unless it is closed or
/// may still be inside a transaction (a dropped append future, a failed `COMMIT`).
pub(super) struct PooledConn<'a> {
    pub(super) conn: Option<Conn>,
    pub(super) pool: &'a Pool,
    pub(super) in_transaction: bool,
    pub(super) _permit: SemaphorePermit<'a>,
}

impl Pool {
    pub(super) fn idle(&self) -> MutexGuard<'_, Vec<Conn>> {
        // Pushes and pops cannot leave the list half-changed: a poisoned lock is fine.
        self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) async fn get(&self) -> Result<PooledConn<'_>, StoreError> {
        let permit = self.permits.acquire().await.map_err(backend)?;
        let reused = loop {
            match self.idle().pop() {
                Some(conn) if conn.client.is_closed() => {
                    warn!(store = "postgres", "an idle connection had closed; dropped from the pool");
                    continue;
                }
                other => break other,
            }
        };
        let conn = match reused {
            Some(conn) => conn,
            None => {
                let client = self.connector.connect_spawned(Role::Pool).await?;
                self.prepare(client).await?
            }
        };
        Ok(PooledConn { conn: Some(conn), pool: self, in_transaction: false, _permit: permit })
    }

    pub(super) async fn prepare(&self, client: Client) -> Result<Conn, StoreError> {
        let statements = self.sql.prepare(&client).await.map_err(backend)?;
        Ok(Conn { client, statements })
    }
}

impl PooledConn<'_> {
    pub(super) fn conn(&self) -> &Conn {
        // `conn` is only taken in `drop`.
        match &self.conn {
            Some(conn) => conn,
            None => unreachable!("a pooled connection is used after being returned"),
        }
    }
}

impl Drop for PooledConn<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        if self.in_transaction {
            warn!(
                store = "postgres",
                "a connection may still be inside a transaction; closed, not returned to the pool"
            );
        } else if conn.client.is_closed() {
            warn!(store = "postgres", "a connection had closed; dropped from the pool");
        } else {
            self.pool.idle().push(conn);
        }
    }
}

impl Conn {
    pub(super) async fn stream_version(&self, stream: StreamRef<'_>) -> Result<u64, StoreError> {
        let row = self
            .client
            .query_one(&self.statements.version, &[&stream.aggregate_type, &stream.stream_id])
            .await
            .map_err(backend)?;
        let version: i64 = row.try_get(0).map_err(backend)?;
        u64::try_from(version).map_err(|_| {
            StoreError::corrupt(
                format!("stream {}", stream.name()),
                format!("its stored version {version} is negative"),
            )
        })
    }

    pub(super) async fn head_position(&self) -> Result<u64, StoreError> {
        let row = self.client.query_one(&self.statements.head, &[]).await.map_err(backend)?;
        let head: i64 = row.try_get(0).map_err(backend)?;
        u64::try_from(head)
            .map_err(|_| StoreError::corrupt("events table", format!("the highest position {head} is negative")))
    }
}
