//! Every statement the store prepares, each named and written once: its text for one schema
//! (`{s}` is the quoted schema name) and what it does. `statements!` turns the list into
//! [`Sql`] (the texts of one store) and [`Statements`] (the same, prepared on one
//! connection), so a statement added here is prepared on every connection of the pool.

use futures_util::future::join_all;
use tokio_postgres::{Client, Statement};

/// The columns [`decode_event`](super::rows::decode_event) reads.
pub(super) const EVENT_COLUMNS: &str =
    "position, aggregate_type, stream_id, version, name, schema_version, recorded_at, metadata::text, payload::text";

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
}
