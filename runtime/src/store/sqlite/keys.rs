//! Personal data: subjects' keys in the `pii_keys` table, sealing the values of an append
//! inside its transaction, opening them on reads, and `forget`.

use std::collections::HashMap;
use std::time::SystemTime;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::rows::{from_micros, to_i64, to_micros};
use super::{backend, statements};
use crate::envelope::RecordedEvent;
use crate::error::{StoreError, StreamName};
use crate::pii::seal::{Opener, Sealing, needs_sealing, seal};
use crate::pii::{Forgotten, Keyring, SubjectKey, holds_state};

/// Seals the values of one event about to be inserted, with the current key of each
/// subject (made if it has none, inside the append's transaction, so that a rolled-back
/// append takes its new keys with it). Returns the payload to store, and the ids of the keys
/// used, for [`record_use`].
pub(super) fn seal_event(
    connection: &Connection,
    keyring: &Keyring,
    at: &Sealing<'_>,
    payload: &str,
    keys: &mut HashMap<String, (u64, SubjectKey)>,
) -> Result<Option<(String, Vec<u64>)>, StoreError> {
    if !needs_sealing(payload) {
        return Ok(None);
    }
    let mut used = Vec::new();
    let sealed = seal(payload, at, |subject| {
        let found = match keys.get(subject) {
            Some(found) => found.clone(),
            None => {
                let found = current_key(connection, keyring, subject)?;
                keys.insert(subject.to_owned(), found.clone());
                found
            }
        };
        if !used.contains(&found.0) {
            used.push(found.0);
        }
        Ok(found)
    })?;
    Ok(Some((sealed, used)))
}

/// The newest key of `subject`, or a new one stored now.
fn current_key(connection: &Connection, keyring: &Keyring, subject: &str) -> Result<(u64, SubjectKey), StoreError> {
    let found: Option<(i64, Vec<u8>)> = connection
        .prepare_cached(statements::CURRENT_KEY)
        .and_then(|mut s| s.query_row(params![subject], |row| Ok((row.get(0)?, row.get(1)?))).optional())
        .map_err(backend)?;
    if let Some((id, stored)) = found {
        let id = key_id(id)?;
        return Ok((id, keyring.key(id, &stored)?));
    }
    let (key, stored) = keyring.new_key()?;
    connection
        .prepare_cached(statements::INSERT_KEY)
        .and_then(|mut s| s.execute(params![subject, stored, to_micros(SystemTime::now())]))
        .map_err(backend)?;
    Ok((connection.last_insert_rowid() as u64, key))
}

/// Records that the event at `position` of `stream` holds values sealed with `keys`: what
/// `forget` reads to find the snapshots and checkpoints to remove.
pub(super) fn record_use(
    connection: &Connection,
    stream: &StreamName,
    position: u64,
    keys: &[u64],
) -> Result<(), StoreError> {
    let mut insert = connection.prepare_cached(statements::RECORD_KEY_USE).map_err(backend)?;
    for &id in keys {
        insert
            .execute(params![to_i64(id), stream.aggregate_type, stream.stream_id, to_i64(position)])
            .map_err(backend)?;
    }
    Ok(())
}

/// What opens sealed values on `connection`: each key is read once per call, when the
/// first value sealed with it is met.
pub(super) fn opener<'c>(
    connection: &'c Connection,
    keyring: &'c Keyring,
) -> Opener<impl FnMut(u64) -> Result<Option<SubjectKey>, StoreError> + 'c> {
    Opener::new(move |id| {
        let stored: Option<Vec<u8>> = connection
            .prepare_cached(statements::LOAD_KEY)
            .and_then(|mut s| s.query_row(params![to_i64(id)], |row| row.get(0)).optional())
            .map_err(backend)?;
        stored.map(|stored| keyring.key(id, &stored)).transpose()
    })
}

/// Opens the sealed values of `events` in place.
pub(super) fn open_all(
    connection: &Connection,
    keyring: &Keyring,
    events: &mut [RecordedEvent],
) -> Result<(), StoreError> {
    opener(connection, keyring).open_all(events)
}

/// Forgets `subject`, in one immediate transaction: its keys, the snapshots of the streams
/// holding values they sealed, the checkpoints of projections that read one of them, and
/// the audit row. Returns the audit, and the audit row's id (the store's forget epoch when
/// keys were destroyed).
///
/// Deleted rows are overwritten (`secure_delete`, set on every connection), and the WAL is
/// checkpointed and truncated after the commit, so no copy of a key or of a removed state
/// stays in the files.
pub(super) fn forget(connection: &mut Connection, subject: &str, by: &str) -> Result<(Forgotten, u64), StoreError> {
    let at = crate::store::to_micros_floor(SystemTime::now());
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
    let keys: u64 = tx
        .prepare_cached(statements::COUNT_KEYS)
        .and_then(|mut s| s.query_row(params![subject], |row| row.get::<_, i64>(0)))
        .map_err(backend)?
        .try_into()
        .unwrap_or(0);
    let mut streams = Vec::new();
    let mut first = i64::MAX;
    {
        let mut query = tx.prepare_cached(statements::KEY_STREAMS).map_err(backend)?;
        let mut found = query.query(params![subject]).map_err(backend)?;
        while let Some(row) = found.next().map_err(backend)? {
            let (aggregate_type, stream_id, position): (String, String, i64) =
                (row.get(0).map_err(backend)?, row.get(1).map_err(backend)?, row.get(2).map_err(backend)?);
            first = first.min(position);
            streams.push((aggregate_type, stream_id));
        }
    }
    let mut snapshots = 0;
    for (aggregate_type, stream_id) in &streams {
        snapshots += tx
            .prepare_cached(statements::DELETE_SNAPSHOT)
            .and_then(|mut s| s.execute(params![aggregate_type, stream_id]))
            .map_err(backend)? as u64;
    }
    let mut checkpoints = Vec::new();
    if !streams.is_empty() {
        let mut query = tx.prepare_cached(statements::CHECKPOINTS_FROM).map_err(backend)?;
        let mut found = query.query(params![first]).map_err(backend)?;
        while let Some(row) = found.next().map_err(backend)? {
            let name: String = row.get(0).map_err(backend)?;
            if holds_state(&name) {
                checkpoints.push(name);
            }
        }
    }
    for name in &checkpoints {
        tx.prepare_cached(statements::DELETE_CHECKPOINT).and_then(|mut s| s.execute(params![name])).map_err(backend)?;
    }
    for sql in [statements::DELETE_KEY_STREAMS, statements::DELETE_KEYS] {
        tx.prepare_cached(sql).and_then(|mut s| s.execute(params![subject])).map_err(backend)?;
    }
    let listed = serde_json::to_string(&checkpoints).expect("a list of strings is JSON");
    tx.prepare_cached(statements::INSERT_FORGOTTEN)
        .and_then(|mut s| s.execute(params![subject, by, to_micros(at), to_i64(keys), to_i64(snapshots), listed]))
        .map_err(backend)?;
    let id = tx.last_insert_rowid() as u64;
    tx.commit().map_err(backend)?;
    empty_wal(connection)?;
    Ok((Forgotten { subject: subject.to_owned(), by: by.to_owned(), at, keys, snapshots, checkpoints }, id))
}

/// The audit of `forget`, oldest first.
pub(super) fn forgotten(connection: &Connection) -> Result<Vec<Forgotten>, StoreError> {
    let mut query = connection.prepare_cached(statements::LOAD_FORGOTTEN).map_err(backend)?;
    let mut found = query.query([]).map_err(backend)?;
    let mut audit = Vec::new();
    while let Some(row) = found.next().map_err(backend)? {
        let id: i64 = row.get(0).map_err(backend)?;
        let location = || format!("the audit row {id} of `forget`");
        let read_count = |index: usize| -> Result<u64, StoreError> {
            let count: i64 = row.get(index).map_err(backend)?;
            u64::try_from(count).map_err(|_| StoreError::corrupt(location(), format!("a count of {count}")))
        };
        let micros: i64 = row.get(3).map_err(backend)?;
        let listed: String = row.get(6).map_err(backend)?;
        audit.push(Forgotten {
            subject: row.get(1).map_err(backend)?,
            by: row.get(2).map_err(backend)?,
            at: from_micros(micros)
                .ok_or_else(|| StoreError::corrupt(location(), format!("its time {micros} µs is before 1970")))?,
            keys: read_count(4)?,
            snapshots: read_count(5)?,
            checkpoints: serde_json::from_str(&listed).map_err(|error| StoreError::Corrupt {
                location: location(),
                reason: format!("its list of checkpoints is not a JSON array of names: {error}"),
                source: Some(Box::new(error)),
            })?,
        });
    }
    Ok(audit)
}

/// The store's forget epoch as the file holds it: the id of the last `forget` that
/// destroyed keys (0 if none did).
pub(super) fn epoch(connection: &Connection) -> Result<u64, StoreError> {
    let id: Option<i64> = connection
        .prepare_cached(statements::FORGET_EPOCH)
        .and_then(|mut s| s.query_row([], |row| row.get(0)).optional())
        .map_err(backend)?;
    Ok(id.map_or(0, |id| id.max(0) as u64))
}

/// A stored key id: ids count from 1.
fn key_id(id: i64) -> Result<u64, StoreError> {
    u64::try_from(id)
        .ok()
        .filter(|&id| id >= 1)
        .ok_or_else(|| StoreError::corrupt("the pii_keys table", format!("a key id of {id}, but ids count from 1")))
}

/// Copies the WAL into the file and empties it: after deletes, the WAL still holds the pages
/// as they were before. Readers of this process hold no transaction between calls; one of
/// another process may keep the WAL from being emptied until it is done, and SQLite then
/// empties it at a later checkpoint.
pub(super) fn empty_wal(connection: &Connection) -> Result<(), StoreError> {
    connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).map_err(backend)
}
