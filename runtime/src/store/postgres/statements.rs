//! Every statement the store prepares, each named and written once: its text for one schema
//! (`{s}` is the quoted schema name) and what it does. `statements!` turns the list into
//! [`Sql`] (the texts of one store) and [`Statements`] (the same, prepared on one
//! connection), so a statement added here is prepared on every connection of the pool.

use futures_util::future::join_all;
use tokio_postgres::{Client, Statement};

/// The columns [`decode_event`](super::rows::decode_event) reads.
pub(super) const EVENT_COLUMNS: &str =
    "position, aggregate_type, stream_id, version, name, schema_version, recorded_at, metadata::text, payload::text";

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
    /// The schema's position lock (`$1`, its key), held until the transaction ends.
    lock: "SELECT pg_advisory_xact_lock($1::bigint)".to_owned();
    /// One append, under the lock: checks the stream's version (`$3`, expected), then takes
    /// the positions after the committed maximum and the versions after `$3`; returns the
    /// version found and, if it matched, what was inserted, notifying the last position.
    insert: format!(
        "WITH current AS ( \
           SELECT coalesce(max(version), 0)::bigint AS version FROM {s}.events \
           WHERE aggregate_type = $1::text AND stream_id = $2::text), \
         head AS (SELECT coalesce(max(position), 0)::bigint AS position FROM {s}.events), \
         inserted AS ( \
           INSERT INTO {s}.events (position, aggregate_type, stream_id, version, name, schema_version, \
                                   recorded_at, metadata, payload) \
           SELECT head.position + e.ord, $1::text, $2::text, $3::bigint + e.ord, e.name, e.schema_version, \
                  statement_timestamp(), $4::text::jsonb, e.payload::jsonb \
           FROM current, head, unnest($5::text[], $6::bigint[], $7::text[]) \
                WITH ORDINALITY AS e(name, schema_version, payload, ord) \
           WHERE current.version = $3::bigint \
           RETURNING position, recorded_at) \
         SELECT (SELECT version FROM current), count(*)::bigint, min(position)::bigint, max(recorded_at), \
                CASE WHEN count(*) > 0 THEN pg_notify($8::text, max(position)::text) IS NULL END \
         FROM inserted"
    );
    /// A batch of appends, under the lock: checks each append's stream version (`$3`,
    /// expected; the batch holds one append per stream), then gives the accepted appends'
    /// events the positions after the committed maximum, in order, and the versions after
    /// `$3`. Returns, per append in order, the version found and the first position (none if
    /// rejected), with the number of events inserted and the time, and notifies the last
    /// position.
    append: format!(
        "WITH appends AS ( \
           SELECT a.*, (SELECT coalesce(max(e.version), 0)::bigint FROM {s}.events e \
                        WHERE e.aggregate_type = a.aggregate_type AND e.stream_id = a.stream_id) AS version \
           FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[]) \
                WITH ORDINALITY AS a(aggregate_type, stream_id, expected, metadata, count, i)), \
         accepted AS ( \
           SELECT i, aggregate_type, stream_id, expected, metadata, \
                  (sum(count) OVER (ORDER BY i) - count)::bigint AS before \
           FROM appends WHERE version = expected), \
         head AS (SELECT coalesce(max(position), 0)::bigint AS position FROM {s}.events), \
         inserted AS ( \
           INSERT INTO {s}.events (position, aggregate_type, stream_id, version, name, schema_version, \
                                   recorded_at, metadata, payload) \
           SELECT head.position + a.before + e.k, a.aggregate_type, a.stream_id, a.expected + e.k, e.name, \
                  e.schema_version, statement_timestamp(), a.metadata::jsonb, e.payload::jsonb \
           FROM head, accepted a \
                JOIN unnest($6::bigint[], $7::bigint[], $8::text[], $9::bigint[], $10::text[]) \
                     AS e(i, k, name, schema_version, payload) ON e.i = a.i \
           RETURNING position), \
         notified AS ( \
           SELECT count(*)::bigint AS count, \
                  CASE WHEN count(*) > 0 THEN pg_notify($11::text, max(position)::text) IS NULL END \
           FROM inserted) \
         SELECT appends.version, head.position + accepted.before + 1, notified.count, statement_timestamp() \
         FROM appends LEFT JOIN accepted ON accepted.i = appends.i, head, notified \
         ORDER BY appends.i"
    );
    /// The events of one stream (`$1` type, `$2` id) with versions in `$3..=$4`.
    read_stream: format!(
        "SELECT {EVENT_COLUMNS} FROM {s}.events \
         WHERE aggregate_type = $1::text AND stream_id = $2::text AND version BETWEEN $3::bigint AND $4::bigint \
         ORDER BY version"
    );
    /// What a replay of one stream (`$1` type, `$2` id) reads of its events with versions in
    /// `$3..=$4`: [`rows::stored_event`](super::rows::stored_event)'s columns.
    replay_stream: format!(
        "SELECT version, position, name, schema_version, payload::text FROM {s}.events \
         WHERE aggregate_type = $1::text AND stream_id = $2::text AND version BETWEEN $3::bigint AND $4::bigint \
         ORDER BY version"
    );
    /// Up to `$4` events after position `$1`, of the names `$2` and the aggregate type `$3`
    /// (either `NULL` for all).
    read_all: format!(
        "SELECT {EVENT_COLUMNS} FROM {s}.events \
         WHERE position > $1::bigint \
           AND ($2::text[] IS NULL OR name = ANY($2::text[])) \
           AND ($3::text IS NULL OR aggregate_type = $3::text) \
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
}
