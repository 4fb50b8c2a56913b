//! Personal data (see [`crate::pii`]): the subjects an append seals for, their keys taken
//! or made inside the append's transaction, the keys a read opens with (fetched in one
//! query), and `forget`'s one transaction.

use std::collections::{BTreeSet, HashMap};
use std::time::SystemTime;

use futures_util::future::join;
use serde_json::Value;
use tokio_postgres::Row;

use super::pool::{Conn, PooledConn};
use super::{backend, clamp, unexpected};
use crate::envelope::RecordedEvent;
use crate::error::StoreError;
use crate::pii::seal::{FORGOTTEN, Opener, PII, SEALED, SUBJECT, Sealing, key_ids, seal};
use crate::pii::{Forgotten, Keyring, SubjectKey, holds_state};

use super::committer::PendingAppend;

/// Adds to `into`, once each, the subjects of the `Pii` values of `payload`, found as
/// [`seal`] finds them. A payload `seal` would refuse (not JSON, a value with no subject)
/// is refused here, before anything is queued, with `seal`'s own error.
pub(super) fn subjects(payload: &str, at: &Sealing<'_>, into: &mut Vec<String>) -> Result<(), StoreError> {
    let found = serde_json::from_str::<Value>(payload).is_ok_and(|value| collect(&value, into));
    if found {
        return Ok(());
    }
    // On this failure path only: `seal` says what is wrong, in its words (the key is a
    // throwaway, and what it sealed is dropped).
    let key = SubjectKey::generate()?;
    match seal(payload, at, |_| Ok((0, key.clone()))) {
        Err(error) => Err(error),
        Ok(_) => Err(unexpected("a payload to seal whose subjects could not be found")),
    }
}

/// Walks `value` as `seal` does (an object holding `$pii` is a value, not walked into);
/// false at a value with no subject.
fn collect(value: &Value, into: &mut Vec<String>) -> bool {
    match value {
        Value::Object(object) if object.contains_key(PII) => match object.get(SUBJECT) {
            Some(Value::String(subject)) if !subject.is_empty() => {
                if !into.contains(subject) {
                    into.push(subject.clone());
                }
                true
            }
            _ => false,
        },
        Value::Object(object) if object.contains_key(SEALED) || object.contains_key(FORGOTTEN) => true,
        Value::Object(object) => object.values().all(|inner| collect(inner, into)),
        Value::Array(items) => items.iter().all(|inner| collect(inner, into)),
        _ => true,
    }
}

/// A batch's payloads sealed, and the keys that sealed them, as the sealed statements
/// take them.
pub(super) struct SealedBatch {
    /// Per append, per event: the sealed payload, or `None` for one with nothing to seal.
    pub(super) payloads: Vec<Vec<Option<String>>>,
    /// The append (from 1) of each key's first use in that append.
    pub(super) key_appends: Vec<i64>,
    /// The event (from 1, within its append) of each key's first use in that append.
    pub(super) key_ords: Vec<i64>,
    /// The key ids, pairwise with the two above.
    pub(super) key_ids: Vec<i64>,
}

impl SealedBatch {
    /// The payload to store for event `k` of append `i` (both from 0).
    pub(super) fn payload<'a>(&'a self, batch: &'a [PendingAppend], i: usize, k: usize) -> &'a str {
        self.payloads[i][k].as_deref().unwrap_or(&batch[i].events[k].payload)
    }
}

/// Begins the transaction of `batch` on `conn` and seals its payloads with the current key
/// of each subject, made if it has none, inside that transaction: a key made by a
/// transaction that rolls back is never used. The keys are locked (`FOR KEY SHARE`) until
/// the transaction ends, so that `forget` cannot destroy a key an append is sealing with.
/// On error the transaction is rolled back.
pub(super) async fn begin_sealed(
    conn: &mut PooledConn<'_>,
    keyring: &Keyring,
    batch: &[PendingAppend],
) -> Result<SealedBatch, StoreError> {
    conn.in_transaction = true;
    let sealed = seal_in_transaction(conn.conn(), keyring, batch).await;
    if sealed.is_err() && conn.conn().client.batch_execute("ROLLBACK").await.is_ok() {
        conn.in_transaction = false;
    }
    sealed
}

async fn seal_in_transaction(
    conn: &Conn,
    keyring: &Keyring,
    batch: &[PendingAppend],
) -> Result<SealedBatch, StoreError> {
    let mut subjects: Vec<&str> = Vec::new();
    for subject in batch.iter().flat_map(|append| &append.subjects) {
        if !subjects.contains(&subject.as_str()) {
            subjects.push(subject);
        }
    }
    // `BEGIN` and the lookup in one round trip.
    let (begin, rows) =
        join(conn.client.batch_execute("BEGIN"), conn.client.query(&conn.statements.lock_keys, &[&subjects])).await;
    begin.map_err(backend)?;
    // Oldest first: the last row of a subject is its newest key, the one it seals with.
    let mut stored: HashMap<String, (i64, Vec<u8>)> = HashMap::new();
    for row in rows.map_err(backend)? {
        stored.insert(
            row.try_get(1).map_err(backend)?,
            (row.try_get(0).map_err(backend)?, row.try_get(2).map_err(backend)?),
        );
    }
    let mut keys: HashMap<&str, (u64, SubjectKey)> = HashMap::with_capacity(subjects.len());
    for &subject in &subjects {
        if let Some((id, bytes)) = stored.get(subject) {
            let id = key_id(*id)?;
            keys.insert(subject, (id, keyring.key(id, bytes)?));
        }
    }
    let missing: Vec<&str> = subjects.iter().copied().filter(|subject| !keys.contains_key(subject)).collect();
    if !missing.is_empty() {
        let mut made = HashMap::with_capacity(missing.len());
        let mut bytes = Vec::with_capacity(missing.len());
        for &subject in &missing {
            let (key, stored) = keyring.new_key()?;
            made.insert(subject, key);
            bytes.push(stored);
        }
        let rows = conn.client.query(&conn.statements.insert_keys, &[&missing, &bytes]).await.map_err(backend)?;
        for row in rows {
            let id = key_id(row.try_get(0).map_err(backend)?)?;
            let subject: String = row.try_get(1).map_err(backend)?;
            let (subject, key) =
                made.remove_entry(subject.as_str()).ok_or_else(|| unexpected("a new key for another subject"))?;
            keys.insert(subject, (id, key));
        }
    }

    let mut sealed = SealedBatch {
        payloads: Vec::with_capacity(batch.len()),
        key_appends: Vec::new(),
        key_ords: Vec::new(),
        key_ids: Vec::new(),
    };
    for (append, i) in batch.iter().zip(1_i64..) {
        let mut payloads = Vec::with_capacity(append.events.len());
        let first_use = sealed.key_ids.len();
        for (event, k) in append.events.iter().zip(1_i64..) {
            if append.subjects.is_empty() || !crate::pii::seal::needs_sealing(&event.payload) {
                payloads.push(None);
                continue;
            }
            let at = Sealing {
                aggregate_type: &append.aggregate_type,
                stream_id: &append.stream_id,
                stream_version: (append.expected + k) as u64,
                event_name: event.name,
                event_version: event.version,
            };
            let mut used = Vec::new();
            let payload = seal(&event.payload, &at, |subject| {
                let (id, key) =
                    keys.get(subject).ok_or_else(|| unexpected("a subject to seal for that was not looked up"))?;
                used.push(*id as i64);
                Ok((*id, key.clone()))
            })?;
            for id in used {
                if !sealed.key_ids[first_use..].contains(&id) {
                    sealed.key_appends.push(i);
                    sealed.key_ords.push(k);
                    sealed.key_ids.push(id);
                }
            }
            payloads.push(Some(payload));
        }
        sealed.payloads.push(payloads);
    }
    Ok(sealed)
}

/// A key id as stored: identities count from 1.
fn key_id(id: i64) -> Result<u64, StoreError> {
    u64::try_from(id)
        .ok()
        .filter(|&id| id >= 1)
        .ok_or_else(|| StoreError::corrupt("the pii_keys table", format!("a key id is {id}, but ids count from 1")))
}

/// Keys as stored, by id; `None` for an id looked up and not found (its subject forgotten).
pub(super) type StoredKeys = HashMap<u64, Option<Vec<u8>>>;

/// Adds the `(id, key)` rows to `keys`.
pub(super) fn add_keys(keys: &mut StoredKeys, rows: &[Row]) -> Result<(), StoreError> {
    for row in rows {
        keys.insert(key_id(row.try_get(0).map_err(backend)?)?, Some(row.try_get(1).map_err(backend)?));
    }
    Ok(())
}

/// Looks up the keys `ids` in one query, and adds them to `keys` (those not found as `None`).
pub(super) async fn fetch_keys(conn: &Conn, ids: &[u64], keys: &mut StoredKeys) -> Result<(), StoreError> {
    let wanted: Vec<i64> = ids.iter().map(|&id| clamp(id)).collect();
    let rows = conn.client.query(&conn.statements.keys_by_id, &[&wanted]).await.map_err(backend)?;
    for &id in ids {
        keys.insert(id, None);
    }
    add_keys(keys, &rows)
}

/// What opens values with the keys of `keys`; an id missing there opens as forgotten.
pub(super) fn opener<'k>(
    keyring: &'k Keyring,
    keys: &'k StoredKeys,
) -> Opener<impl FnMut(u64) -> Result<Option<SubjectKey>, StoreError> + 'k> {
    Opener::new(move |id| keys.get(&id).and_then(Option::as_ref).map(|stored| keyring.key(id, stored)).transpose())
}

/// Opens the sealed values of `events` in place, their keys fetched in one query (none if
/// nothing is sealed).
pub(super) async fn open_events(
    conn: &Conn,
    keyring: &Keyring,
    events: &mut [RecordedEvent],
) -> Result<(), StoreError> {
    let mut ids = Vec::new();
    for event in events.iter() {
        key_ids(&event.payload, &mut ids);
    }
    if ids.is_empty() {
        return Ok(());
    }
    let mut keys = StoredKeys::with_capacity(ids.len());
    fetch_keys(conn, &ids, &mut keys).await?;
    opener(keyring, &keys).open_all(events)
}

/// `forget`'s one transaction on `conn`, notifying `channel` at commit if keys were destroyed
/// (see [`PostgresStore`](super::PostgresStore)): destroys the keys of `subject` first,
/// waiting for the appends sealing with them, so that the streams they sealed values in are
/// read after those appends committed; then removes those streams' snapshots and the
/// checkpoints holding projection state from their first position on, and records the
/// audit row.
pub(super) async fn forget(
    conn: &mut PooledConn<'_>,
    channel: &str,
    subject: &str,
    by: &str,
    at: SystemTime,
) -> Result<Forgotten, StoreError> {
    conn.in_transaction = true;
    let forgotten = forget_in_transaction(conn.conn(), channel, subject, by, at).await;
    let end = if forgotten.is_ok() { "COMMIT" } else { "ROLLBACK" };
    let ended = conn.conn().client.batch_execute(end).await.map_err(backend);
    if ended.is_ok() {
        conn.in_transaction = false;
    }
    let forgotten = forgotten?;
    ended?;
    Ok(forgotten)
}

async fn forget_in_transaction(
    conn: &Conn,
    channel: &str,
    subject: &str,
    by: &str,
    at: SystemTime,
) -> Result<Forgotten, StoreError> {
    let (client, statements) = (&conn.client, &conn.statements);
    let (begin, ids) = join(client.batch_execute("BEGIN"), client.query(&statements.forget_keys, &[&subject])).await;
    begin.map_err(backend)?;
    let ids: Vec<i64> =
        ids.map_err(backend)?.iter().map(|row| row.try_get(0)).collect::<Result<_, _>>().map_err(backend)?;
    let (mut snapshots, mut checkpoints) = (0, Vec::new());
    if !ids.is_empty() {
        let used = client.query(&statements.forget_streams, &[&ids]).await.map_err(backend)?;
        let mut streams = BTreeSet::new();
        let mut first = i64::MAX;
        for row in &used {
            let stream: (String, String) = (row.try_get(0).map_err(backend)?, row.try_get(1).map_err(backend)?);
            streams.insert(stream);
            first = first.min(row.try_get(2).map_err(backend)?);
        }
        if !streams.is_empty() {
            let (types, ids): (Vec<&str>, Vec<&str>) =
                streams.iter().map(|(aggregate_type, stream_id)| (aggregate_type.as_str(), stream_id.as_str())).unzip();
            snapshots = client.execute(&statements.forget_snapshots, &[&types, &ids]).await.map_err(backend)?;
            let names = client.query(&statements.checkpoints_from, &[&first]).await.map_err(backend)?;
            for row in &names {
                let name: String = row.try_get(0).map_err(backend)?;
                if holds_state(&name) {
                    checkpoints.push(name);
                }
            }
            checkpoints.sort();
            if !checkpoints.is_empty() {
                client.execute(&statements.forget_checkpoints, &[&checkpoints]).await.map_err(backend)?;
            }
        }
    }
    let keys = ids.len() as i64;
    let snapshots = snapshots as i64;
    let row = client
        .query_one(&statements.record_forgotten, &[&subject, &by, &at, &keys, &snapshots, &checkpoints])
        .await
        .map_err(backend)?;
    if keys > 0 {
        // Delivered at commit, to every store listening on this schema (this one included).
        let audit: i64 = row.try_get(0).map_err(backend)?;
        client.execute(&statements.notify, &[&channel, &audit.to_string()]).await.map_err(backend)?;
    }
    Ok(Forgotten {
        subject: subject.to_owned(),
        by: by.to_owned(),
        at,
        keys: keys as u64,
        snapshots: snapshots as u64,
        checkpoints,
    })
}

/// The audit of `forget`, oldest first.
pub(super) async fn forgotten(conn: &Conn) -> Result<Vec<Forgotten>, StoreError> {
    let rows = conn.client.query(&conn.statements.forgotten, &[]).await.map_err(backend)?;
    rows.iter()
        .map(|row| {
            let count = |column: usize| -> Result<u64, StoreError> {
                let n: i64 = row.try_get(column).map_err(backend)?;
                u64::try_from(n)
                    .map_err(|_| StoreError::corrupt("the pii_forgotten table", format!("a count is {n}, negative")))
            };
            Ok(Forgotten {
                subject: row.try_get(0).map_err(backend)?,
                by: row.try_get(1).map_err(backend)?,
                at: row.try_get(2).map_err(backend)?,
                keys: count(3)?,
                snapshots: count(4)?,
                checkpoints: row.try_get(5).map_err(backend)?,
            })
        })
        .collect()
}
