//! Leases: session-level advisory locks on connections of their own.

use std::time::Duration;

use super::connection::Role;
use super::{PostgresStore, backend, fnv1a};
use crate::error::StoreError;
use crate::store::Lease;

/// How often a process waiting for a lease tries to take it.
const LEASE_RETRY: Duration = Duration::from_millis(200);

/// The advisory lock key of lease `name` in `schema`: the same in every process, so that
/// the `factum` tool can find a lease's holder in `pg_locks`.
pub(crate) fn lease_key(schema: &str, name: &str) -> i64 {
    fnv1a(&["lease", schema, name]) as i64
}

/// Holds a session-level advisory lock (`pg_try_advisory_lock`, keyed by schema and
/// name) on a connection of its own, tried every 200 ms until taken. Dropping the lease
/// closes that connection, and PostgreSQL releases the lock; so does the death of the
/// process or the loss of the connection (which also ends the lease's exclusivity).
pub(super) async fn acquire(store: &PostgresStore, name: &str) -> Result<Lease, StoreError> {
    crate::store::validate_id("lease name", name)?;
    let key = lease_key(&store.inner.schema, name);
    let client = store.inner.pool.connector.connect_spawned(Role::Lease).await?;
    let try_lock = client.prepare("SELECT pg_try_advisory_lock($1::bigint)").await.map_err(backend)?;
    loop {
        let row = client.query_one(&try_lock, &[&key]).await.map_err(backend)?;
        if row.try_get::<_, bool>(0).map_err(backend)? {
            return Ok(Lease::new(client));
        }
        tokio::time::sleep(LEASE_RETRY).await;
    }
}
