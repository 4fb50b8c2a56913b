//! Every statement the store prepares, each named and written once: its text for one schema
//! (`{s}` is the quoted schema name) and what it does. `statements!` turns the list into
//! [`Sql`] (the texts of one store) and [`Statements`] (the same, prepared on one
//! connection), so a statement added here is prepared on every connection of the pool.

use futures_util::future::join_all;
use tokio_postgres::{Client, Statement};

/// The columns [`decode_event`](super::rows::decode_event) reads.
pub(super) const EVENT_COLUMNS: &str =
    "position, aggregate_type, stream_id, version, name, schema_version, recorded_at, metadata::text, payload::text";

/// The stored name of the notice a deleted stream leaves ([`StreamDeleted`]), which reads of
/// the stream itself leave out. It holds no quote: it is spliced into the statements.
///
/// [`StreamDeleted`]: crate::StreamDeleted
pub(super) const TOMBSTONE: &str = <crate::store::StreamDeleted as crate::event::Event>::NAME;

/// The columns of an outbox row, as [`rows::outgoing`](super::rows::outgoing) reads them.
pub(super) const OUTBOX_COLUMNS: &str = "id, instance, aggregate_type, stream_id, command, metadata::text";

macro_rules! statements {
    ($schema:ident => $( $(#[doc = $doc:literal])* $name:ident: $sql:expr; )*) => {
        /// The text of every statement, for one schema.
        pub(super) struct Sql {
            $( $(#[doc = $doc])* pub(super) $name: String, )*
        }

        /// The statements of [`Sql`], prepared on one connection.
        pub(super) struct Statements {
            $( $(#[doc = $doc])* pub(super) $name: Statement, )*
        }

        impl Sql {
            /// The statements of the schema `quoted` (an identifier, already quoted).
            pub(super) fn new(quoted: &str) -> Sql {
                let $schema = quoted;
                Sql { $( $name: $sql, )* }
            }

            /// Prepares every statement on `client`, all sent at once (one round trip).
            pub(super) async fn prepare(&self, client: &Client) -> Result<Statements, tokio_postgres::Error> {
                let texts = [$( self.$name.as_str(), )*];
                let mut prepared = join_all(texts.map(|sql| client.prepare(sql))).await.into_iter();
                Ok(Statements {
                    $( $name: match prepared.next() {
                        Some(statement) => statement?,
                        None => unreachable!("one prepared statement per text"),
                    }, )*
                })
            }
        }
    };
}

statements! { s =>
    /// The version of one stream (`$1` type, `$2` id): 0 when it has no events.
    version: format!(
        "SELECT coalesce(max(version), 0)::bigint FROM {s}.events \
         WHERE aggregate_type = $1::text AND stream_id = $2::text"
    );
    /// The first and last versions of one stream (`$1` type, `$2` id) stored with command id
    /// `$3` (both null if none), through the partial index `events_by_command`.
    find_command: format!(
        "SELECT min(version), max(version) FROM {s}.events \
         WHERE aggregate_type = $1::text AND stream_id = $2::text AND (metadata->>'command_id') = $3::text"
    );
    /// Where one stream (`$1` type, `$2` id) stands, from its last event: its version (0 when
    /// it has none), whether it is archived, whether it is deleted.
    stream_head: format!(
        "SELECT coalesce(max(version), 0)::bigint, coalesce(bool_or(archived), false), \
                coalesce(bool_or(deleted), false) \
         FROM ({}) last",
        last_event(s, "$1::text", "$2::text")
    );
    /// The schema's position lock (`$1`, its key), held until the transaction ends.
    lock: "SELECT pg_advisory_xact_lock($1::bigint)".to_owned();
    /// One append, under the lock: checks the stream's version (`$3`, expected) and that it
    /// is neither archived nor deleted, then takes the positions after the committed maximum
    /// and the versions after `$3`; returns the version found and, if it matched, what was
    /// inserted, notifying the last position, then whether the stream is archived or deleted.
    insert: insert(s, false);
    /// [`insert`](Statements::insert), for events whose personal data was sealed: also
    /// records, for each key id `$9` first used by the event of ordinal `$10`, that it sealed
    /// values in this stream, from that event's position on.
    insert_sealed: insert(s, true);
    /// A batch of appends, under the lock: checks each append's stream version (`$3`,
    /// expected; the batch holds one append per stream) and that the stream is neither
    /// archived nor deleted, then gives the accepted appends' events the positions after the
    /// committed maximum, in order, and the versions after `$3`. Returns, per append in
    /// order, the version found and the first position (none if rejected), with the number
    /// of events inserted and the time, then whether the stream is archived or deleted, and
    /// notifies the last position.
    append: append(s, false);
    /// [`append`](Statements::append), for appends whose personal data was sealed: also
    /// records, for each key id `$14` first used by the event of ordinal `$13` of append
    /// `$12`, that it sealed values in that append's stream, from that event's position on.
    append_sealed: append(s, true);
    /// The events of one stream (`$1` type, `$2` id) with versions in `$3..=$4` (its
    /// deletion notice left out).
    read_stream: format!(
        "SELECT {EVENT_COLUMNS} FROM {s}.events \
         WHERE aggregate_type = $1::text AND stream_id = $2::text AND version BETWEEN $3::bigint AND $4::bigint \
           AND name <> '{TOMBSTONE}' \
         ORDER BY version"
    );
    /// What a replay of one stream (`$1` type, `$2` id) reads of its events with versions in
    /// `$3..=$4` (its deletion notice left out): [`rows::stored_event`](super::rows::stored_event)'s
    /// columns.
    replay_stream: format!(
        "SELECT version, position, name, schema_version, payload::text FROM {s}.events \
         WHERE aggregate_type = $1::text AND stream_id = $2::text AND version BETWEEN $3::bigint AND $4::bigint \
           AND name <> '{TOMBSTONE}' \
         ORDER BY version"
    );
    /// Up to `$4` events after position `$1`, of the names `$2` and the aggregate type `$3`
    /// (either `NULL` for all), and not archived unless `$5`.
    read_all: format!(
        "SELECT {EVENT_COLUMNS} FROM {s}.events \
         WHERE position > $1::bigint \
           AND ($2::text[] IS NULL OR name = ANY($2::text[])) \
           AND ($3::text IS NULL OR aggregate_type = $3::text) \
           AND ($5::boolean OR NOT archived) \
         ORDER BY position LIMIT $4::bigint"
    );
    /// The position of the newest event: 0 when there is none.
    head: format!("SELECT coalesce(max(position), 0)::bigint FROM {s}.events");
    /// Stores a stream's snapshot, unless a newer one is stored.
    save_snapshot: format!(
        "INSERT INTO {s}.snapshots AS stored (aggregate_type, stream_id, version, fingerprint, state) \
         VALUES ($1::text, $2::text, $3::bigint, $4::bigint, $5::text) \
         ON CONFLICT (aggregate_type, stream_id) DO UPDATE \
         SET version = excluded.version, fingerprint = excluded.fingerprint, state = excluded.state \
         WHERE stored.version <= excluded.version"
    );
    /// A stream's snapshot.
    load_snapshot: format!(
        "SELECT version, fingerprint, state FROM {s}.snapshots \
         WHERE aggregate_type = $1::text AND stream_id = $2::text"
    );
    /// A reader's checkpoint, by name.
    load_checkpoint: format!("SELECT position, state FROM {s}.checkpoints WHERE name = $1::text");
    /// Stores a reader's checkpoint, position and state in one row.
    save_checkpoint: format!(
        "INSERT INTO {s}.checkpoints (name, position, state) VALUES ($1::text, $2::bigint, $3::text) \
         ON CONFLICT (name) DO UPDATE SET position = excluded.position, state = excluded.state"
    );
    /// Forgets a reader's checkpoint.
    delete_checkpoint: format!("DELETE FROM {s}.checkpoints WHERE name = $1::text");
    /// Records why a runner stopped, replacing the previous record.
    record_failure: format!(
        "INSERT INTO {s}.failures (name, position, error, failed_at) \
         VALUES ($1::text, $2::bigint, $3::text, $4::timestamptz) \
         ON CONFLICT (name) DO UPDATE \
         SET position = excluded.position, error = excluded.error, failed_at = excluded.failed_at"
    );
    /// Why a runner last stopped.
    load_failure: format!("SELECT position, error, failed_at FROM {s}.failures WHERE name = $1::text");
    /// The state of instance `$2` of process `$1`.
    load_process_instance: format!(
        "SELECT state FROM {s}.process_instances WHERE process = $1::text AND instance = $2::text"
    );
    /// The states of the instances `$2` of process `$1`, with their names.
    load_process_instances: format!(
        "SELECT instance, state FROM {s}.process_instances WHERE process = $1::text AND instance = ANY($2::text[])"
    );
    /// Stores the states `$3` of the instances `$2` of process `$1` (each instance once).
    save_process_instances: format!(
        "INSERT INTO {s}.process_instances (process, instance, state) \
         SELECT $1::text, i.instance, i.state FROM unnest($2::text[], $3::text[]) AS i(instance, state) \
         ON CONFLICT (process, instance) DO UPDATE SET state = excluded.state"
    );
    /// Ends the instances `$2` of process `$1`, and drops every deadline of the instances
    /// `$3` (those ended at any point of the commit).
    end_process_instances: format!(
        "WITH ended AS (DELETE FROM {s}.process_instances WHERE process = $1::text AND instance = ANY($2::text[])) \
         DELETE FROM {s}.process_deadlines WHERE process = $1::text AND instance = ANY($3::text[])"
    );
    /// The outbox entries `$2` of process `$1` were carried out; refused ones stay as records.
    delete_outgoing: format!(
        "DELETE FROM {s}.process_outbox \
         WHERE process = $1::text AND id = ANY($2::bigint[]) AND rejected_error IS NULL"
    );
    /// The outbox entries `$2` of process `$1` were refused, with the errors `$3`, at `$4`
    /// (each id once): they leave the pending entries and stay as the records of it.
    reject_outgoing: format!(
        "UPDATE {s}.process_outbox o SET rejected_error = r.error, rejected_at = $4::timestamptz \
         FROM unnest($2::bigint[], $3::text[]) AS r(id, error) \
         WHERE o.process = $1::text AND o.id = r.id AND o.rejected_error IS NULL"
    );
    /// The deadlines `$2` of process `$1` fired.
    delete_deadlines: format!(
        "DELETE FROM {s}.process_deadlines WHERE process = $1::text AND id = ANY($2::bigint[])"
    );
    /// Cancels the deadlines of process `$1` of each instance `$2` and kind `$3`, pairwise.
    cancel_deadlines: format!(
        "DELETE FROM {s}.process_deadlines d USING unnest($2::text[], $3::text[]) AS c(instance, kind) \
         WHERE d.process = $1::text AND d.instance = c.instance AND d.kind = c.kind"
    );
    /// New outbox entries of process `$1`, their ids given in the order of the arrays.
    insert_outgoing: format!(
        "INSERT INTO {s}.process_outbox (process, instance, aggregate_type, stream_id, command, metadata) \
         SELECT $1::text, c.instance, c.aggregate_type, c.stream_id, c.command, c.metadata::jsonb \
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) \
              WITH ORDINALITY AS c(instance, aggregate_type, stream_id, command, metadata, ord) \
         ORDER BY c.ord"
    );
    /// New deadlines of process `$1`, their ids given in the order of the arrays.
    insert_deadlines: format!(
        "INSERT INTO {s}.process_deadlines (process, instance, kind, due_at, payload, correlation_id) \
         SELECT $1::text, d.instance, d.kind, d.due_at, d.payload, d.correlation_id \
         FROM unnest($2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[]) \
              WITH ORDINALITY AS d(instance, kind, due_at, payload, correlation_id, ord) \
         ORDER BY d.ord"
    );
    /// Up to `$2` pending outbox entries of process `$1`, oldest first:
    /// [`rows::outgoing`](super::rows::outgoing)'s columns.
    pending_commands: format!(
        "SELECT {OUTBOX_COLUMNS} FROM {s}.process_outbox \
         WHERE process = $1::text AND rejected_error IS NULL ORDER BY id LIMIT $2::bigint"
    );
    /// Up to `$2` refused outbox entries of process `$1`, oldest refusal first:
    /// [`rows::rejected`](super::rows::rejected)'s columns.
    rejected_commands: format!(
        "SELECT {OUTBOX_COLUMNS}, rejected_error, rejected_at FROM {s}.process_outbox \
         WHERE process = $1::text AND rejected_error IS NOT NULL ORDER BY rejected_at, id LIMIT $2::bigint"
    );
    /// Up to `$3` deadlines of process `$1` due at or before `$2`, earliest first, then by
    /// id: [`rows::deadline`](super::rows::deadline)'s columns.
    due_deadlines: format!(
        "SELECT id, instance, kind, due_at, payload, correlation_id FROM {s}.process_deadlines \
         WHERE process = $1::text AND due_at <= $2::timestamptz ORDER BY due_at, id LIMIT $3::bigint"
    );
    /// When the earliest deadline of process `$1` is due (null if it has none).
    next_deadline: format!("SELECT min(due_at) FROM {s}.process_deadlines WHERE process = $1::text");
    /// Every key of the subjects `$1` (id, subject, key as stored), oldest first, locked
    /// against `forget` until the append that seals with them ends.
    lock_keys: format!(
        "SELECT id, subject, key FROM {s}.pii_keys WHERE subject = ANY($1::text[]) ORDER BY id FOR KEY SHARE"
    );
    /// New keys `$2` (as stored) for the subjects `$1`: their ids, with their subjects.
    insert_keys: format!(
        "INSERT INTO {s}.pii_keys (subject, key, created_at) \
         SELECT k.subject, k.key, statement_timestamp() FROM unnest($1::text[], $2::bytea[]) AS k(subject, key) \
         RETURNING id, subject"
    );
    /// The keys (id, key as stored) of the ids `$1` that still exist.
    keys_by_id: format!("SELECT id, key FROM {s}.pii_keys WHERE id = ANY($1::bigint[])");
    /// Destroys the keys of subject `$1`, once no append is sealing with them: their ids.
    forget_keys: format!("DELETE FROM {s}.pii_keys WHERE subject = $1::text RETURNING id");
    /// Forgets where the keys `$1` sealed values: the streams, with the first position.
    forget_streams: format!(
        "DELETE FROM {s}.pii_key_streams WHERE key_id = ANY($1::bigint[]) \
         RETURNING aggregate_type, stream_id, first_position"
    );
    /// Deletes the snapshots of the streams `$1` (types) and `$2` (ids), pairwise.
    forget_snapshots: format!(
        "DELETE FROM {s}.snapshots s USING unnest($1::text[], $2::text[]) AS f(aggregate_type, stream_id) \
         WHERE s.aggregate_type = f.aggregate_type AND s.stream_id = f.stream_id"
    );
    /// The names of the checkpoints at or past position `$1`, locked until the end of `forget`.
    checkpoints_from: format!("SELECT name FROM {s}.checkpoints WHERE position >= $1::bigint FOR UPDATE");
    /// Deletes the checkpoints `$1`.
    forget_checkpoints: format!("DELETE FROM {s}.checkpoints WHERE name = ANY($1::text[])");
    /// The audit row of one `forget`: subject, by, at, keys, snapshots, checkpoints; its id.
    record_forgotten: format!(
        "INSERT INTO {s}.pii_forgotten (subject, forgotten_by, forgotten_at, keys, snapshots, checkpoints) \
         VALUES ($1::text, $2::text, $3::timestamptz, $4::bigint, $5::bigint, $6::text[]) RETURNING id"
    );
    /// Notifies channel `$1` with `$2`, at commit.
    notify: "SELECT pg_notify($1::text, $2::text)".to_owned();
    /// The audit of `forget`, oldest first: [`pii::forgotten`](super::pii::forgotten)'s columns.
    forgotten: format!(
        "SELECT subject, forgotten_by, forgotten_at, keys, snapshots, checkpoints FROM {s}.pii_forgotten ORDER BY id"
    );
    /// Archives one stream (`$1` type, `$2` id), under the position lock, unless it is
    /// deleted: returns its version (0 when it has no events), whether it is deleted, and how
    /// many rows were flagged.
    archive: format!(
        "WITH last AS ({last}), \
         flagged AS ( \
           UPDATE {s}.events SET archived = true \
           WHERE aggregate_type = $1::text AND stream_id = $2::text AND NOT archived \
             AND EXISTS (SELECT 1 FROM last WHERE NOT deleted) \
           RETURNING 1) \
         SELECT coalesce(max(version), 0)::bigint, coalesce(bool_or(deleted), false), \
                (SELECT count(*) FROM flagged)::bigint \
         FROM last",
        last = last_event(s, "$1::text", "$2::text")
    );
    /// Deletes one stream (`$1` type, `$2` id), under the position lock, unless it has no
    /// events or is deleted already: removes its events, its snapshot and the records of the
    /// keys that sealed values in it; appends the notice at the version after its last event
    /// and the position after the committed maximum (taken before the removal, so that no
    /// position is given twice); records the deletion. Notifies the notice's position on
    /// channel `$3`. Returns one row: the version of the last event before (null when there
    /// is none), whether it was the notice already, and the notice's position (null if
    /// nothing was done).
    delete: format!(
        "WITH last AS ({last}), \
         doomed AS (SELECT version FROM last WHERE NOT deleted), \
         head AS (SELECT coalesce(max(position), 0)::bigint AS position FROM {s}.events), \
         removed AS ( \
           DELETE FROM {s}.events WHERE aggregate_type = $1::text AND stream_id = $2::text \
             AND EXISTS (SELECT 1 FROM doomed)), \
         snapshot AS ( \
           DELETE FROM {s}.snapshots WHERE aggregate_type = $1::text AND stream_id = $2::text \
             AND EXISTS (SELECT 1 FROM doomed)), \
         keys AS ( \
           DELETE FROM {s}.pii_key_streams WHERE aggregate_type = $1::text AND stream_id = $2::text \
             AND EXISTS (SELECT 1 FROM doomed)), \
         notice AS ( \
           INSERT INTO {s}.events (position, aggregate_type, stream_id, version, name, schema_version, \
                                   recorded_at, metadata, payload) \
           SELECT head.position + 1, $1::text, $2::text, doomed.version + 1, '{TOMBSTONE}', {version}, \
                  statement_timestamp(), '{{}}'::jsonb, jsonb_build_object('version', doomed.version) \
           FROM doomed, head \
           RETURNING position) \
         SELECT last.version, last.deleted, notice.position, \
                CASE WHEN notice.position IS NOT NULL THEN pg_notify($3::text, notice.position::text) IS NULL END \
         FROM (SELECT 1) AS one LEFT JOIN last ON true LEFT JOIN notice ON true",
        last = last_event(s, "$1::text", "$2::text"),
        version = <crate::store::StreamDeleted as crate::event::Event>::VERSION,
    );
}

/// The last event of the stream `aggregate_type`/`stream_id` (SQL expressions), as a query
/// of at most one row: `version, archived, deleted` (whether it is the deletion notice).
/// One probe of the unique index on `(aggregate_type, stream_id, version)`, backwards.
fn last_event(s: &str, aggregate_type: &str, stream_id: &str) -> String {
    format!(
        "SELECT version, archived, name = '{TOMBSTONE}' AS deleted FROM {s}.events \
         WHERE aggregate_type = {aggregate_type} AND stream_id = {stream_id} \
         ORDER BY version DESC LIMIT 1"
    )
}

/// The statement of one append (see [`Statements::insert`]); `keyed`, with the recording
/// of the keys that sealed its values (see [`Statements::insert_sealed`]).
fn insert(s: &str, keyed: bool) -> String {
    let (returned, keys) = if keyed {
        (
            ", version",
            format!(
                ", keyed AS ( \
                   INSERT INTO {s}.pii_key_streams (key_id, aggregate_type, stream_id, first_position) \
                   SELECT k.key_id, $1::text, $2::text, min(i.position) \
                   FROM unnest($9::bigint[], $10::bigint[]) AS k(key_id, ord) \
                        JOIN inserted i ON i.version = $3::bigint + k.ord \
                   GROUP BY k.key_id \
                   ON CONFLICT DO NOTHING)"
            ),
        )
    } else {
        ("", String::new())
    };
    format!(
        "WITH current AS ( \
           SELECT coalesce(max(version), 0)::bigint AS version, coalesce(bool_or(archived), false) AS archived, \
                  coalesce(bool_or(deleted), false) AS deleted \
           FROM ({last}) last), \
         head AS (SELECT coalesce(max(position), 0)::bigint AS position FROM {s}.events), \
         inserted AS ( \
           INSERT INTO {s}.events (position, aggregate_type, stream_id, version, name, schema_version, \
                                   recorded_at, metadata, payload) \
           SELECT head.position + e.ord, $1::text, $2::text, $3::bigint + e.ord, e.name, e.schema_version, \
                  statement_timestamp(), $4::text::jsonb, e.payload::jsonb \
           FROM current, head, unnest($5::text[], $6::bigint[], $7::text[]) \
                WITH ORDINALITY AS e(name, schema_version, payload, ord) \
           WHERE current.version = $3::bigint AND NOT current.archived AND NOT current.deleted \
           RETURNING position, recorded_at{returned}){keys} \
         SELECT (SELECT version FROM current), count(*)::bigint, min(position)::bigint, max(recorded_at), \
                CASE WHEN count(*) > 0 THEN pg_notify($8::text, max(position)::text) IS NULL END, \
                (SELECT archived FROM current), (SELECT deleted FROM current) \
         FROM inserted",
        last = last_event(s, "$1::text", "$2::text")
    )
}

/// The statement of a batch of appends (see [`Statements::append`]); `keyed`, with the
/// recording of the keys that sealed their values (see [`Statements::append_sealed`]).
fn append(s: &str, keyed: bool) -> String {
    let (returned, keys) = if keyed {
        (
            ", aggregate_type, stream_id, version",
            format!(
                "keyed AS ( \
                   INSERT INTO {s}.pii_key_streams (key_id, aggregate_type, stream_id, first_position) \
                   SELECT k.key_id, a.aggregate_type, a.stream_id, min(e.position) \
                   FROM unnest($12::bigint[], $13::bigint[], $14::bigint[]) AS k(i, ord, key_id) \
                        JOIN accepted a ON a.i = k.i \
                        JOIN inserted e ON e.aggregate_type = a.aggregate_type AND e.stream_id = a.stream_id \
                                       AND e.version = a.expected + k.ord \
                   GROUP BY k.key_id, a.aggregate_type, a.stream_id \
                   ON CONFLICT DO NOTHING), "
            ),
        )
    } else {
        ("", String::new())
    };
    format!(
        "WITH appends AS ( \
           SELECT a.*, coalesce(l.version, 0)::bigint AS version, coalesce(l.archived, false) AS archived, \
                  coalesce(l.deleted, false) AS deleted \
           FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[]) \
                WITH ORDINALITY AS a(aggregate_type, stream_id, expected, metadata, count, i) \
                LEFT JOIN LATERAL ({last}) l ON true), \
         accepted AS ( \
           SELECT i, aggregate_type, stream_id, expected, metadata, \
                  (sum(count) OVER (ORDER BY i) - count)::bigint AS before \
           FROM appends WHERE version = expected AND NOT archived AND NOT deleted), \
         head AS (SELECT coalesce(max(position), 0)::bigint AS position FROM {s}.events), \
         inserted AS ( \
           INSERT INTO {s}.events (position, aggregate_type, stream_id, version, name, schema_version, \
                                   recorded_at, metadata, payload) \
           SELECT head.position + a.before + e.k, a.aggregate_type, a.stream_id, a.expected + e.k, e.name, \
                  e.schema_version, statement_timestamp(), a.metadata::jsonb, e.payload::jsonb \
           FROM head, accepted a \
                JOIN unnest($6::bigint[], $7::bigint[], $8::text[], $9::bigint[], $10::text[]) \
                     AS e(i, k, name, schema_version, payload) ON e.i = a.i \
           RETURNING position{returned}), \
         {keys}notified AS ( \
           SELECT count(*)::bigint AS count, \
                  CASE WHEN count(*) > 0 THEN pg_notify($11::text, max(position)::text) IS NULL END \
           FROM inserted) \
         SELECT appends.version, head.position + accepted.before + 1, notified.count, statement_timestamp(), \
                appends.archived, appends.deleted \
         FROM appends LEFT JOIN accepted ON accepted.i = appends.i, head, notified \
         ORDER BY appends.i",
        last = last_event(s, "a.aggregate_type", "a.stream_id")
    )
}
