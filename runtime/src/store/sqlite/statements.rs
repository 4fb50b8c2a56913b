//! Every SQL statement the store runs (the schema aside, which is in `migrate.rs`), each
//! written once. They are run through `prepare_cached`, so each is compiled once per
//! connection.

/// The columns of an event row, in the order `rows::events` decodes them.
macro_rules! event_columns {
    () => {
        "position, aggregate_type, stream_id, version, name, schema_version, recorded_at, metadata, payload"
    };
}

/// The stored name of the notice a deleted stream leaves ([`StreamDeleted`]), which reads of
/// the stream itself leave out.
///
/// [`StreamDeleted`]: crate::StreamDeleted
macro_rules! tombstone {
    () => {
        "$StreamDeleted"
    };
}

/// The name [`tombstone!`] writes, for the tests.
#[cfg(test)]
pub(super) const TOMBSTONE: &str = tombstone!();

/// The events of one stream (`?1`, `?2`) with versions in `?3..=?4`, in version order (its
/// deletion notice left out).
pub(super) const READ_STREAM: &str = concat!(
    "SELECT ",
    event_columns!(),
    " FROM events WHERE aggregate_type = ?1 AND stream_id = ?2 AND version BETWEEN ?3 AND ?4 AND name <> '",
    tombstone!(),
    "' ORDER BY version"
);

/// What a replay of one stream (`?1`, `?2`) reads of its events with versions in
/// `?3..=?4`, in version order: `version, position, name, schema_version, payload`.
pub(super) const REPLAY_STREAM: &str = concat!(
    "SELECT version, position, name, schema_version, payload FROM events \
     WHERE aggregate_type = ?1 AND stream_id = ?2 AND version BETWEEN ?3 AND ?4 AND name <> '",
    tombstone!(),
    "' ORDER BY version"
);

/// Up to `?4` events after position `?1`, in position order, with a name in the JSON array
/// `?2` (all if null), of aggregate type `?3` (all if null), and not archived unless `?5`.
/// The names travel as one JSON array parameter, so the statement stays one cached,
/// parameterized query whatever the list.
pub(super) const READ_ALL: &str = concat!(
    "SELECT ",
    event_columns!(),
    " FROM events
     WHERE position > ?1
       AND (?2 IS NULL OR name IN (SELECT value FROM json_each(?2)))
       AND (?3 IS NULL OR aggregate_type = ?3)
       AND (?5 OR archived = 0)
     ORDER BY position LIMIT ?4"
);

/// The first and last versions of stream `?1`/`?2` stored with command id `?3` (both null
/// if none), through the partial index `events_by_command`.
pub(super) const FIND_COMMAND: &str = "SELECT MIN(version), MAX(version) FROM events \
     WHERE aggregate_type = ?1 AND stream_id = ?2 AND command_id = ?3";

/// The version of stream `?1`/`?2`: 0 if it has no events.
pub(super) const STREAM_VERSION: &str =
    "SELECT COALESCE(MAX(version), 0) FROM events WHERE aggregate_type = ?1 AND stream_id = ?2";

/// The position of the newest event: 0 if there is none.
pub(super) const HEAD_POSITION: &str = "SELECT COALESCE(MAX(position), 0) FROM events";

/// One new event; its position is the new row id.
pub(super) const INSERT_EVENT: &str =
    "INSERT INTO events (aggregate_type, stream_id, version, name, schema_version, recorded_at, metadata, payload, command_id)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

/// Stores the snapshot of a stream, unless the stored one is of a later version.
pub(super) const SAVE_SNAPSHOT: &str =
    "INSERT INTO snapshots (aggregate_type, stream_id, version, fingerprint, state) VALUES (?1, ?2, ?3, ?4, ?5)
     ON CONFLICT (aggregate_type, stream_id) DO UPDATE
     SET version = excluded.version, fingerprint = excluded.fingerprint, state = excluded.state
     WHERE excluded.version >= snapshots.version";

/// The snapshot of stream `?1`/`?2`.
pub(super) const LOAD_SNAPSHOT: &str =
    "SELECT version, fingerprint, state FROM snapshots WHERE aggregate_type = ?1 AND stream_id = ?2";

/// Stores checkpoint `?1`: position and state in one row, so they move together.
pub(super) const SAVE_CHECKPOINT: &str = "INSERT INTO checkpoints (name, position, state) VALUES (?1, ?2, ?3)
     ON CONFLICT (name) DO UPDATE SET position = excluded.position, state = excluded.state";

/// Checkpoint `?1`.
pub(super) const LOAD_CHECKPOINT: &str = "SELECT position, state FROM checkpoints WHERE name = ?1";

/// Forgets checkpoint `?1`.
pub(super) const DELETE_CHECKPOINT: &str = "DELETE FROM checkpoints WHERE name = ?1";

/// Takes lease `?1` for owner `?2` until `?3` (microseconds since the epoch), if it is free,
/// already `?2`'s, or expired at `?4` (now). Changes one row if the lease is `?2`'s now.
pub(super) const CLAIM_LEASE: &str = "INSERT INTO leases (name, owner, expires_at) VALUES (?1, ?2, ?3)
     ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
     WHERE leases.owner = excluded.owner OR leases.expires_at < ?4";

/// Gives lease `?1` up, if owner `?2` still holds it.
pub(super) const RELEASE_LEASE: &str = "DELETE FROM leases WHERE name = ?1 AND owner = ?2";

/// Records why runner `?1` stopped, replacing the previous record.
pub(super) const RECORD_FAILURE: &str = "INSERT INTO failures (name, position, error, failed_at) VALUES (?1, ?2, ?3, ?4)
    ON CONFLICT (name) DO UPDATE SET position = excluded.position, error = excluded.error, failed_at = excluded.failed_at";

/// Why runner `?1` last stopped.
pub(super) const LOAD_FAILURE: &str = "SELECT position, error, failed_at FROM failures WHERE name = ?1";

/// The columns of an outbox row, in the order `rows::outgoing` decodes them.
macro_rules! outbox_columns {
    () => {
        "id, instance, aggregate_type, stream_id, command, metadata"
    };
}

/// The columns of a deadline row, in the order `rows::deadline` decodes them.
macro_rules! deadline_columns {
    () => {
        "id, instance, kind, due_at, payload, correlation_id"
    };
}

/// The state of instance `?2` of process `?1`.
pub(super) const LOAD_PROCESS_INSTANCE: &str =
    "SELECT state FROM process_instances WHERE process = ?1 AND instance = ?2";

/// The states of the instances of process `?1` named in the JSON array `?2`, with their names.
pub(super) const LOAD_PROCESS_INSTANCES: &str = "SELECT instance, state FROM process_instances
     WHERE process = ?1 AND instance IN (SELECT value FROM json_each(?2))";

/// Stores the state `?3` of instance `?2` of process `?1`, replacing the previous one.
pub(super) const SAVE_PROCESS_INSTANCE: &str =
    "INSERT INTO process_instances (process, instance, state) VALUES (?1, ?2, ?3)
     ON CONFLICT (process, instance) DO UPDATE SET state = excluded.state";

/// Ends instance `?2` of process `?1`.
pub(super) const DELETE_PROCESS_INSTANCE: &str = "DELETE FROM process_instances WHERE process = ?1 AND instance = ?2";

/// Every deadline of instance `?2` of process `?1`, when it ends.
pub(super) const DELETE_INSTANCE_DEADLINES: &str = "DELETE FROM process_deadlines WHERE process = ?1 AND instance = ?2";

/// Outbox entry `?2` of process `?1` was carried out; a refused one stays as the record.
pub(super) const DELETE_OUTGOING: &str =
    "DELETE FROM process_outbox WHERE process = ?1 AND id = ?2 AND rejected_error IS NULL";

/// Outbox entry `?2` of process `?1` was refused with error `?3` at `?4` (microseconds since
/// the epoch): it leaves the pending entries and is kept as the record of the refusal.
pub(super) const REJECT_OUTGOING: &str = "UPDATE process_outbox SET rejected_error = ?3, rejected_at = ?4
     WHERE process = ?1 AND id = ?2 AND rejected_error IS NULL";

/// Deadline `?2` of process `?1` fired.
pub(super) const DELETE_DEADLINE: &str = "DELETE FROM process_deadlines WHERE process = ?1 AND id = ?2";

/// The deadlines of kind `?3` of instance `?2` of process `?1` are cancelled.
pub(super) const CANCEL_DEADLINES: &str =
    "DELETE FROM process_deadlines WHERE process = ?1 AND instance = ?2 AND kind = ?3";

/// A new outbox entry of process `?1`; its id is the new row id.
pub(super) const INSERT_OUTGOING: &str =
    "INSERT INTO process_outbox (process, instance, aggregate_type, stream_id, command, metadata)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

/// A new deadline of process `?1`, due at `?4` (microseconds since the epoch); its id is the
/// new row id.
pub(super) const INSERT_DEADLINE: &str =
    "INSERT INTO process_deadlines (process, instance, kind, due_at, payload, correlation_id)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

/// Up to `?2` pending outbox entries of process `?1`, oldest first.
pub(super) const PENDING_COMMANDS: &str = concat!(
    "SELECT ",
    outbox_columns!(),
    " FROM process_outbox WHERE process = ?1 AND rejected_error IS NULL ORDER BY id LIMIT ?2"
);

/// Up to `?2` refused outbox entries of process `?1`, oldest refusal first, with their
/// error and time.
pub(super) const REJECTED_COMMANDS: &str = concat!(
    "SELECT ",
    outbox_columns!(),
    ", rejected_error, rejected_at FROM process_outbox WHERE process = ?1 AND rejected_error IS NOT NULL
     ORDER BY rejected_at, id LIMIT ?2"
);

/// Up to `?3` deadlines of process `?1` due at or before `?2` (microseconds since the
/// epoch), earliest first, then by id.
pub(super) const DUE_DEADLINES: &str = concat!(
    "SELECT ",
    deadline_columns!(),
    " FROM process_deadlines WHERE process = ?1 AND due_at <= ?2 ORDER BY due_at, id LIMIT ?3"
);

/// When the earliest deadline of process `?1` is due (null if it has none).
pub(super) const NEXT_DEADLINE: &str = "SELECT MIN(due_at) FROM process_deadlines WHERE process = ?1";

/// The newest key of subject `?1`: `id, key`.
pub(super) const CURRENT_KEY: &str = "SELECT id, key FROM pii_keys WHERE subject = ?1 ORDER BY id DESC LIMIT 1";

/// A new key of subject `?1`, stored as `?2`, made at `?3` (microseconds since the epoch);
/// its id is the new row id.
pub(super) const INSERT_KEY: &str = "INSERT INTO pii_keys (subject, key, created_at) VALUES (?1, ?2, ?3)";

/// Key `?1` as stored.
pub(super) const LOAD_KEY: &str = "SELECT key FROM pii_keys WHERE id = ?1";

/// Key `?1` sealed values of stream `?2`/`?3`, first at position `?4`: the first event
/// that did so is the one kept.
pub(super) const RECORD_KEY_USE: &str =
    "INSERT INTO pii_key_streams (key_id, aggregate_type, stream_id, first_position) VALUES (?1, ?2, ?3, ?4)
     ON CONFLICT (key_id, aggregate_type, stream_id) DO NOTHING";

/// How many keys subject `?1` has.
pub(super) const COUNT_KEYS: &str = "SELECT COUNT(*) FROM pii_keys WHERE subject = ?1";

/// The streams holding values sealed with a key of subject `?1`, each with the first
/// position of one: `aggregate_type, stream_id, first_position`.
pub(super) const KEY_STREAMS: &str = "SELECT aggregate_type, stream_id, MIN(first_position) FROM pii_key_streams
     WHERE key_id IN (SELECT id FROM pii_keys WHERE subject = ?1) GROUP BY aggregate_type, stream_id";

/// Removes the snapshot of stream `?1`/`?2`.
pub(super) const DELETE_SNAPSHOT: &str = "DELETE FROM snapshots WHERE aggregate_type = ?1 AND stream_id = ?2";

/// The names of the checkpoints at or past position `?1`, in order.
pub(super) const CHECKPOINTS_FROM: &str = "SELECT name FROM checkpoints WHERE position >= ?1 ORDER BY name";

/// Removes what records the streams of the keys of subject `?1`.
pub(super) const DELETE_KEY_STREAMS: &str =
    "DELETE FROM pii_key_streams WHERE key_id IN (SELECT id FROM pii_keys WHERE subject = ?1)";

/// Destroys the keys of subject `?1`.
pub(super) const DELETE_KEYS: &str = "DELETE FROM pii_keys WHERE subject = ?1";

/// The audit row of a `forget`: subject, by, at (microseconds since the epoch), keys
/// destroyed, snapshots removed, checkpoints removed (a JSON array of names).
pub(super) const INSERT_FORGOTTEN: &str =
    "INSERT INTO pii_forgotten (subject, forgotten_by, forgotten_at, keys, snapshots, checkpoints)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

/// The audit of `forget`, oldest first.
pub(super) const LOAD_FORGOTTEN: &str =
    "SELECT id, subject, forgotten_by, forgotten_at, keys, snapshots, checkpoints FROM pii_forgotten ORDER BY id";

/// The id of the last `forget` that destroyed keys.
pub(super) const FORGET_EPOCH: &str = "SELECT id FROM pii_forgotten WHERE keys > 0 ORDER BY id DESC LIMIT 1";

/// The last event of stream `?1`/`?2`: `version, name, archived`, what an append checks.
pub(super) const STREAM_HEAD: &str = "SELECT version, name, archived FROM events WHERE aggregate_type = ?1 AND stream_id = ?2 ORDER BY version DESC LIMIT 1";

/// Archives stream `?1`/`?2`.
pub(super) const ARCHIVE_STREAM: &str = "UPDATE events SET archived = 1 WHERE aggregate_type = ?1 AND stream_id = ?2";

/// Removes the events of stream `?1`/`?2`.
pub(super) const DELETE_STREAM_EVENTS: &str = "DELETE FROM events WHERE aggregate_type = ?1 AND stream_id = ?2";

/// Forgets which keys sealed values of stream `?1`/`?2`, once its events are gone.
pub(super) const DELETE_STREAM_KEYS: &str = "DELETE FROM pii_key_streams WHERE aggregate_type = ?1 AND stream_id = ?2";

#[cfg(test)]
mod tests {
    use crate::event::Event;

    #[test]
    fn the_tombstone_is_the_deletion_notice() {
        assert_eq!(super::TOMBSTONE, crate::store::StreamDeleted::NAME);
    }
}
