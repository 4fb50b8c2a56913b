//! The SQL of every statement, for one schema, and the statements prepared on a connection.

use tokio_postgres::Statement;

/// The text of every statement, for one schema.
pub(super) struct Sql {
    pub(super) version: String,
    pub(super) lock: String,
    pub(super) insert: String,
    pub(super) append: String,
    pub(super) read_stream: String,
    pub(super) read_all: String,
    pub(super) head: String,
    pub(super) save_snapshot: String,
    pub(super) load_snapshot: String,
    pub(super) load_checkpoint: String,
    pub(super) save_checkpoint: String,
    pub(super) delete_checkpoint: String,
}

/// The statements of [`Sql`], prepared on one connection.
pub(super) struct Statements {
    pub(super) version: Statement,
    pub(super) lock: Statement,
    pub(super) insert: Statement,
    pub(super) append: Statement,
    pub(super) read_stream: Statement,
    pub(super) read_all: Statement,
    pub(super) head: Statement,
    pub(super) save_snapshot: Statement,
    pub(super) load_snapshot: Statement,
    pub(super) load_checkpoint: Statement,
    pub(super) save_checkpoint: Statement,
    pub(super) delete_checkpoint: Statement,
}

/// The columns [`decode_event`] reads.
pub(super) const EVENT_COLUMNS: &str =
    "position, aggregate_type, stream_id, version, name, schema_version, recorded_at, metadata::text, payload::text";

impl Sql {
    pub(super) fn new(s: &str) -> Sql {
        Sql {
            version: format!(
                "SELECT coalesce(max(version), 0)::bigint FROM {s}.events \
                 WHERE aggregate_type = $1::text AND stream_id = $2::text"
            ),
            lock: "SELECT pg_advisory_xact_lock($1::bigint)".to_owned(),
            // Under the lock: checks the stream's version (`$3`, expected), then takes the
            // positions after the committed maximum and the versions after `$3`; returns the
            // version found and, if it matched, what was inserted, notifying the last position.
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
            ),
            // Under the lock: checks each append's stream version (`$3`, expected; the
            // batch holds one append per stream), then gives the accepted appends' events
            // the positions after the committed maximum, in order, and the versions after
            // `$3`. Returns, per append in order, the version found and the first position
            // (none if rejected), with the number of events inserted and the time, and
            // notifies the last position.
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
            ),
            read_stream: format!(
                "SELECT {EVENT_COLUMNS} FROM {s}.events \
                 WHERE aggregate_type = $1::text AND stream_id = $2::text AND version BETWEEN $3::bigint AND $4::bigint \
                 ORDER BY version"
            ),
            read_all: format!(
                "SELECT {EVENT_COLUMNS} FROM {s}.events \
                 WHERE position > $1::bigint \
                   AND ($2::text[] IS NULL OR name = ANY($2::text[])) \
                   AND ($3::text IS NULL OR aggregate_type = $3::text) \
                 ORDER BY position LIMIT $4::bigint"
            ),
            head: format!("SELECT coalesce(max(position), 0)::bigint FROM {s}.events"),
            save_snapshot: format!(
                "INSERT INTO {s}.snapshots AS stored (aggregate_type, stream_id, version, fingerprint, state) \
                 VALUES ($1::text, $2::text, $3::bigint, $4::bigint, $5::text) \
                 ON CONFLICT (aggregate_type, stream_id) DO UPDATE \
                 SET version = excluded.version, fingerprint = excluded.fingerprint, state = excluded.state \
                 WHERE stored.version <= excluded.version"
            ),
            load_snapshot: format!(
                "SELECT version, fingerprint, state FROM {s}.snapshots \
                 WHERE aggregate_type = $1::text AND stream_id = $2::text"
            ),
            load_checkpoint: format!("SELECT position, state FROM {s}.checkpoints WHERE name = $1::text"),
            save_checkpoint: format!(
                "INSERT INTO {s}.checkpoints (name, position, state) VALUES ($1::text, $2::bigint, $3::text) \
                 ON CONFLICT (name) DO UPDATE SET position = excluded.position, state = excluded.state"
            ),
            delete_checkpoint: format!("DELETE FROM {s}.checkpoints WHERE name = $1::text"),
        }
    }

    /// In the order of the fields of [`Statements`].
    pub(super) fn all(&self) -> [&str; 12] {
        [
            &self.version,
            &self.lock,
            &self.insert,
            &self.append,
            &self.read_stream,
            &self.read_all,
            &self.head,
            &self.save_snapshot,
            &self.load_snapshot,
            &self.load_checkpoint,
            &self.save_checkpoint,
            &self.delete_checkpoint,
        ]
    }
}
