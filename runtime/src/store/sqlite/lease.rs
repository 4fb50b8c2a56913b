//! Leases: one holder at a time of a named worker among every process sharing the file.

use std::time::{Duration, SystemTime};

use rusqlite::params;

use super::rows::to_micros;
use super::{SqliteStore, backend, statements};
use crate::error::StoreError;
use crate::store::{Lease, validate_id};
use crate::trace::{debug, error, warn};

/// A lease not renewed for this long passes to another process: the holder renews it every
/// third of that, so only a dead or frozen holder loses it.
const LEASE_TTL: Duration = Duration::from_secs(5);

/// Waits until this process holds lease `name`, then renews it in the background.
pub(super) async fn acquire(store: &SqliteStore, name: &str) -> Result<Lease, StoreError> {
    validate_id("lease name", name)?;
    let owner = lease_owner();
    while !store.claim(name, &owner).await? {
        tokio::time::sleep(LEASE_TTL / 5).await;
    }
    let renewal = tokio::spawn({
        let (store, name, owner) = (store.clone(), name.to_owned(), owner.clone());
        async move {
            // Whether the last renewal found the lease taken, so a loss is logged once, not
            // at every renewal while another process holds it.
            let mut lost = false;
            loop {
                tokio::time::sleep(LEASE_TTL / 3).await;
                match store.claim(&name, &owner).await {
                    Ok(true) if lost => {
                        lost = false;
                        warn!(store = "sqlite", lease = %name, "the lease is held again after it was lost");
                    }
                    Ok(true) => {}
                    Ok(false) if lost => {}
                    Ok(false) => {
                        lost = true;
                        error!(
                            store = "sqlite",
                            lease = %name,
                            "the lease was lost to another process: it went unrenewed for {:?}, so two holders may now run",
                            LEASE_TTL
                        );
                    }
                    Err(error) => warn!(
                        store = "sqlite",
                        lease = %name,
                        error = %error,
                        "a lease renewal failed; trying again in {:?}, the lease expires {:?} after the last renewal",
                        LEASE_TTL / 3,
                        LEASE_TTL
                    ),
                }
            }
        }
    });
    Ok(Lease::new(HeldLease { store: store.clone(), name: name.to_owned(), owner, renewal }))
}

/// Releases a lease when dropped: stops renewing it and deletes its row.
struct HeldLease {
    store: SqliteStore,
    name: String,
    owner: String,
    renewal: tokio::task::JoinHandle<()>,
}

impl Drop for HeldLease {
    fn drop(&mut self) {
        self.renewal.abort();
        let (store, name, owner) =
            (self.store.clone(), std::mem::take(&mut self.name), std::mem::take(&mut self.owner));
        // Best effort: if the release never runs, the lease expires after `LEASE_TTL`.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            debug!(store = "sqlite", lease = %name, "no Tokio runtime to release the lease on; it expires in {:?}", LEASE_TTL);
            return;
        };
        runtime.spawn(async move {
            let released = store
                .write({
                    let name = name.clone();
                    move |c| {
                        c.prepare_cached(statements::RELEASE_LEASE)
                            .and_then(|mut s| s.execute(params![name, owner]))
                            .map_err(backend)
                    }
                })
                .await;
            if let Err(error) = released {
                warn!(
                    store = "sqlite",
                    lease = %name,
                    error = %error,
                    "a lease was not released; it passes to another process when it expires, within {:?}",
                    LEASE_TTL
                );
            }
        });
    }
}

impl SqliteStore {
    /// Takes or renews lease `name` for `owner`; true if it is `owner`'s now.
    pub(super) async fn claim(&self, name: &str, owner: &str) -> Result<bool, StoreError> {
        let (name, owner) = (name.to_owned(), owner.to_owned());
        self.write(move |connection| {
            let now = to_micros(SystemTime::now());
            let expires = now + LEASE_TTL.as_micros() as i64;
            let changed = connection
                .prepare_cached(statements::CLAIM_LEASE)
                .and_then(|mut s| s.execute(params![name, owner, expires, now]))
                .map_err(backend)?;
            Ok(changed > 0)
        })
        .await
    }
}

/// Identifies one holder of one lease.
fn lease_owner() -> String {
    use std::hash::{BuildHasher, RandomState};
    let random = RandomState::new().hash_one(SystemTime::now());
    format!("pid{}-{random:016x}", std::process::id())
}
