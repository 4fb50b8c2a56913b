//! Personal data in an append-only log: crypto-shredding with [`Pii<T>`].
//!
//! An event log is never rewritten, and a person still has the right to be forgotten. The
//! answer is to encrypt what is personal with a key per person (the *subject*), and to forget
//! the person by destroying the key: the events stay, whole and in order, and what was
//! personal in them can no longer be read by anyone.
//!
//! - Mark the fields with [`Pii<T>`] and name the field that identifies the person with
//!   `#[pii(subject = customer_id)]` on the event. The subject is a field of the event, not
//!   the stream: one stream (an order) can hold the data of several people (the buyer, the
//!   one it is shipped to, in two events), and one person's data spans many streams.
//! - The store makes a key on a subject's first event, seals each value with it (see
//!   [`Pii`] for how), and opens the values on every read.
//! - [`EventStore::forget`](crate::EventStore::forget) deletes the subject's keys in one
//!   transaction, records an audit row ([`Forgotten`]: the subject, who asked, when; nothing
//!   personal), and removes what factum kept in the clear from the subject's events:
//!   - the snapshots of every stream that holds one of them;
//!   - the stored state of every projection that has read one of them: the projection
//!     rebuilds from the log on its next catch-up, with the values `Forgotten`, and a
//!     runner in this process drops its state in memory at once;
//!   - the aggregates a [`Repository`](crate::Repository) of this process caches.
//! - A subject who comes back after being forgotten (a new order) gets a new key: the new
//!   events read, the old ones stay forgotten.
//! - A master key ([`MasterKey`], or a [`KeyWrap`] that calls a KMS) wraps the subjects'
//!   keys, so that a copy of the database alone does not read personal data.
//!
//! # What it protects against, and what it does not
//!
//! After `forget`, the subject's values cannot be read from the store, from its files or its
//! dumps, by this program or anyone with a copy made from then on: the key is gone (SQLite
//! overwrites deleted rows, `secure_delete`; PostgreSQL leaves the dead row to `VACUUM`,
//! so run one if the disk itself may be read). It does not reach:
//! - backups and replicas taken *before* `forget` (they hold the key; expire them);
//! - what the application copied out of factum: read models in its own tables, caches,
//!   search indexes, logs, e-mails. A projection of yours that writes elsewhere must handle
//!   the subject's events again (they read `Forgotten`) or be rebuilt;
//! - process managers' stored state, which holds whatever they copy from events: keep
//!   personal data out of it, or wrap it in `Pii` there too;
//! - other processes sharing a PostgreSQL store: their caches and projection runners drop
//!   what they hold when the store's notification reaches them, within moments.
//!
//! `Pii` protects the value, not the fact that the subject's events exist, nor the subject
//! id itself: use an opaque id (`c-1041`), never an e-mail address, as the subject.

mod keys;
pub(crate) mod seal;
mod value;

pub use keys::{KeyWrap, MasterKey, MasterKeyError};
pub(crate) use keys::{Keyring, SubjectKey};
pub use value::Pii;
pub(crate) use value::with_subject;

use std::time::SystemTime;

/// What [`EventStore::forget`](crate::EventStore::forget) did: the audit row it recorded,
/// and what it removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forgotten {
    /// The subject forgotten.
    pub subject: String,
    /// Who asked (a user, a ticket), as given.
    pub by: String,
    /// When (stored to the microsecond).
    pub at: SystemTime,
    /// How many keys were destroyed: 0 when the subject had none (never seen, or forgotten
    /// before).
    pub keys: u64,
    /// How many streams' snapshots were removed.
    pub snapshots: u64,
    /// The projections whose stored state was removed, to rebuild from the log.
    pub checkpoints: Vec<String>,
}

/// Whether a checkpoint holds a projection's state, and so may hold personal data: the
/// positions of process managers and publishers hold none, and are kept.
pub(crate) fn holds_state(checkpoint: &str) -> bool {
    !checkpoint.starts_with("process:") && !checkpoint.starts_with("nats-publisher:")
}
