//! A factum PostgreSQL schema, read with plain SQL over one connection made as factum makes
//! them (the URL's TLS parameters included).

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row};

use super::{
    CheckpointRow, Error, EventRow, FailureRow, LeaseRow, LogFilter, POSTGRES_SCHEMA, StatRow, StreamFilter, StreamRow,
    failed, json, signed, stream_state, unsigned,
};

/// A `timestamptz` column as RFC 3339 in UTC, to the millisecond: the same text the SQLite
/// side gives.
fn utc(column: &str) -> String {
    format!(r#"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"#)
}

pub struct Postgres {
    client: Client,
    schema: String,
    /// `"schema"`, quoted for SQL.
    quoted: String,
    pub(super) describe: String,
    /// Whether the schema has the `failures` table (migration 3 and later).
    has_failures: bool,
    /// Whether events can be archived (the `archived` column, migration 5 and later).
    has_lifecycle: bool,
}

impl Postgres {
    pub(super) async fn connect(url: &str, schema: Option<&str>) -> Result<Postgres, Error> {
        let mut options = factum::PostgresOptions::from_url(url).map_err(|e| Error(e.to_string()))?;
        if let Some(schema) = schema {
            options = options.schema(schema);
        }
        let (client, schema) = factum::__private::postgres_inspection_client(&options)
            .await
            .map_err(|e| Error(format!("cannot connect to PostgreSQL: {e}")))?;
        let database: String = client
            .query_one("SELECT current_database()", &[])
            .await
            .and_then(|row| row.try_get(0))
            .map_err(|e| Error(format!("cannot query PostgreSQL: {e}")))?;
        let describe = format!("the PostgreSQL schema {schema:?} of database {database:?}");
        let quoted = format!("\"{}\"", schema.replace('"', "\"\""));
        let migrations: Option<String> = client
            .query_one("SELECT to_regclass($1::text)::text", &[&format!("{quoted}.factum_migrations")])
            .await
            .and_then(|row| row.try_get(0))
            .map_err(|e| failed(&describe, "reading the tables", e))?;
        if migrations.is_none() {
            return Err(Error(format!(
                "{describe} is not a factum store: it has no factum tables (an application keeping its store in \
                 another schema needs --schema)"
            )));
        }
        let version: i32 = client
            .query_one(&format!("SELECT coalesce(max(version), 0) FROM {quoted}.factum_migrations"), &[])
            .await
            .and_then(|row| row.try_get(0))
            .map_err(|e| failed(&describe, "reading the schema version", e))?;
        if version > POSTGRES_SCHEMA {
            return Err(Error(format!(
                "{describe} was migrated by a newer factum (schema version {version}; this tool reads up to \
                 {POSTGRES_SCHEMA}): use the factum tool of the same release as the application"
            )));
        }
        Ok(Postgres { client, schema, quoted, describe, has_failures: version >= 3, has_lifecycle: version >= 5 })
    }

    async fn query(&self, what: &str, sql: &str, args: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, Error> {
        self.client.query(sql, args).await.map_err(|e| failed(&self.describe, what, e))
    }

    fn get<'a, T: tokio_postgres::types::FromSql<'a>>(&self, row: &'a Row, index: usize) -> Result<T, Error> {
        row.try_get(index).map_err(|e| failed(&self.describe, "reading a row", e))
    }

    fn unsigned_at(&self, row: &Row, index: usize, what: &str) -> Result<u64, Error> {
        unsigned(&self.describe, what, self.get(row, index)?)
    }

    pub(super) async fn head(&self) -> Result<u64, Error> {
        let sql = format!("SELECT coalesce(max(position), 0) FROM {}.events", self.quoted);
        let rows = self.query("reading the head of the log", &sql, &[]).await?;
        self.unsigned_at(&rows[0], 0, "position")
    }

    pub(super) async fn streams(&self, filter: &StreamFilter, limit: u64) -> Result<(Vec<StreamRow>, u64), Error> {
        let matching = "($1::text IS NULL OR aggregate_type = $1::text) \
                        AND ($2::text IS NULL OR left(stream_id, length($2::text)) = $2::text)";
        let sql = format!(
            "SELECT aggregate_type, stream_id, max(version), min(position), max(position), {}, {}, {}, \
                    bool_or(name = '$StreamDeleted') \
             FROM {}.events WHERE {matching} GROUP BY aggregate_type, stream_id \
             ORDER BY aggregate_type COLLATE \"C\", stream_id COLLATE \"C\" LIMIT $3::bigint",
            utc("min(recorded_at)"),
            utc("max(recorded_at)"),
            if self.has_lifecycle { "bool_or(archived)" } else { "false" },
            self.quoted
        );
        let limit = signed(limit);
        let rows =
            self.query("listing the streams", &sql, &[&filter.aggregate_type, &filter.id_prefix, &limit]).await?;
        let mut streams = Vec::with_capacity(rows.len());
        for row in &rows {
            streams.push(StreamRow {
                aggregate_type: self.get(row, 0)?,
                stream_id: self.get(row, 1)?,
                version: self.unsigned_at(row, 2, "version")?,
                first_position: self.unsigned_at(row, 3, "position")?,
                last_position: self.unsigned_at(row, 4, "position")?,
                created_at: self.get(row, 5)?,
                updated_at: self.get(row, 6)?,
                state: stream_state(self.get(row, 7)?, self.get(row, 8)?),
            });
        }
        let sql = format!(
            "SELECT count(*) FROM (SELECT 1 FROM {}.events WHERE {matching} GROUP BY aggregate_type, stream_id) AS s",
            self.quoted
        );
        let total = self.query("listing the streams", &sql, &[&filter.aggregate_type, &filter.id_prefix]).await?;
        Ok((streams, self.unsigned_at(&total[0], 0, "count")?))
    }

    pub(super) async fn stream_version(&self, aggregate_type: &str, stream_id: &str) -> Result<u64, Error> {
        let sql = format!(
            "SELECT coalesce(max(version), 0) FROM {}.events WHERE aggregate_type = $1::text AND stream_id = $2::text",
            self.quoted
        );
        let rows = self.query("reading a stream's version", &sql, &[&aggregate_type, &stream_id]).await?;
        self.unsigned_at(&rows[0], 0, "version")
    }

    pub(super) async fn stream_events(
        &self,
        aggregate_type: &str,
        stream_id: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<EventRow>, Error> {
        let (from, to) = (signed(from), signed(to));
        self.events(
            "WHERE aggregate_type = $1::text AND stream_id = $2::text AND version BETWEEN $3::bigint AND $4::bigint \
             ORDER BY version",
            &[&aggregate_type, &stream_id, &from, &to],
        )
        .await
    }

    pub(super) async fn events_after(
        &self,
        position: u64,
        filter: &LogFilter,
        limit: u64,
    ) -> Result<Vec<EventRow>, Error> {
        let (position, limit) = (signed(position), signed(limit));
        self.events(
            "WHERE position > $1::bigint AND ($2::text IS NULL OR aggregate_type = $2::text) \
             AND ($3::text IS NULL OR name = $3::text) ORDER BY position LIMIT $4::bigint",
            &[&position, &filter.aggregate_type, &filter.name, &limit],
        )
        .await
    }

    pub(super) async fn last_events(&self, count: u64, filter: &LogFilter) -> Result<Vec<EventRow>, Error> {
        let count = signed(count);
        let mut events = self
            .events(
                "WHERE ($1::text IS NULL OR aggregate_type = $1::text) AND ($2::text IS NULL OR name = $2::text) \
                 ORDER BY position DESC LIMIT $3::bigint",
                &[&filter.aggregate_type, &filter.name, &count],
            )
            .await?;
        events.reverse();
        Ok(events)
    }

    async fn events(&self, rest: &str, args: &[&(dyn ToSql + Sync)]) -> Result<Vec<EventRow>, Error> {
        let sql = format!(
            "SELECT position, aggregate_type, stream_id, version, name, schema_version, {}, metadata::text, \
                    payload::text FROM {}.events {rest}",
            utc("recorded_at"),
            self.quoted
        );
        let rows = self.query("reading events", &sql, args).await?;
        let mut events = Vec::with_capacity(rows.len());
        for row in &rows {
            let position = self.unsigned_at(row, 0, "position")?;
            let metadata: String = self.get(row, 7)?;
            let payload: String = self.get(row, 8)?;
            events.push(EventRow {
                position,
                aggregate_type: self.get(row, 1)?,
                stream_id: self.get(row, 2)?,
                version: self.unsigned_at(row, 3, "version")?,
                name: self.get(row, 4)?,
                schema_version: self.unsigned_at(row, 5, "schema version")?,
                recorded_at: self.get(row, 6)?,
                metadata: json(&self.describe, position, "metadata", Some(&metadata))?,
                payload: json(&self.describe, position, "payload", Some(&payload))?,
            });
        }
        Ok(events)
    }

    pub(super) async fn checkpoints(&self) -> Result<Vec<CheckpointRow>, Error> {
        let sql = format!(
            "SELECT name, position, octet_length(state)::bigint FROM {}.checkpoints ORDER BY name COLLATE \"C\"",
            self.quoted
        );
        let rows = self.query("reading the checkpoints", &sql, &[]).await?;
        rows.iter()
            .map(|row| {
                Ok(CheckpointRow {
                    name: self.get(row, 0)?,
                    position: self.unsigned_at(row, 1, "position")?,
                    state_bytes: self.unsigned_at(row, 2, "size")?,
                })
            })
            .collect()
    }

    /// Leases are session-level advisory locks keyed by a hash of schema and name: the
    /// holder is the server process that holds the lock, found in `pg_locks`.
    pub(super) async fn leases(&self, names: &[String]) -> Result<Vec<LeaseRow>, Error> {
        let sql = format!(
            "SELECT l.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'a local socket'), \
                    coalesce({}, '?') \
             FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
               AND l.classid::bigint = $1::bigint AND l.objid::bigint = $2::bigint",
            utc("a.backend_start")
        );
        let mut leases = Vec::new();
        for name in names {
            let key = factum::__private::postgres_lease_key(&self.schema, name) as u64;
            let (high, low) = ((key >> 32) as i64, (key & 0xffff_ffff) as i64);
            let rows = self.query("reading the leases", &sql, &[&high, &low]).await?;
            if let Some(row) = rows.first() {
                let pid: i32 = self.get(row, 0)?;
                let application: String = self.get(row, 1)?;
                let client: String = self.get(row, 2)?;
                let since: String = self.get(row, 3)?;
                let application = if application.is_empty() { String::new() } else { format!(" ({application})") };
                leases.push(LeaseRow {
                    name: name.clone(),
                    holder: format!("server pid {pid}{application} from {client}, connected since {since}"),
                    expires_at: None,
                    expired: false,
                });
            }
        }
        Ok(leases)
    }

    pub(super) async fn failures(&self) -> Result<Vec<FailureRow>, Error> {
        if !self.has_failures {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT name, position, error, {} FROM {}.failures ORDER BY name COLLATE \"C\"",
            utc("failed_at"),
            self.quoted
        );
        let rows = self.query("reading the runners' failures", &sql, &[]).await?;
        rows.iter()
            .map(|row| {
                Ok(FailureRow {
                    name: self.get(row, 0)?,
                    position: self.unsigned_at(row, 1, "position")?,
                    error: self.get(row, 2)?,
                    failed_at: self.get(row, 3)?,
                })
            })
            .collect()
    }

    pub(super) async fn delete_checkpoint(&self, name: &str) -> Result<bool, Error> {
        let failed = |e| failed(&self.describe, "deleting a checkpoint", e);
        let mut sql = format!("DELETE FROM {}.checkpoints WHERE name = $1::text", self.quoted);
        if self.has_failures {
            // One statement, so both go or neither.
            sql = format!(
                "WITH gone AS (DELETE FROM {q}.failures WHERE name = $1::text) \
                 DELETE FROM {q}.checkpoints WHERE name = $1::text",
                q = self.quoted
            );
        }
        let deleted = self.client.execute(&sql, &[&name]).await.map_err(failed)?;
        Ok(deleted > 0)
    }

    pub(super) async fn stats(&self) -> Result<Vec<StatRow>, Error> {
        let sql = format!(
            "SELECT aggregate_type, name, schema_version, count(*), min(position), max(position), {} \
             FROM {}.events GROUP BY aggregate_type, name, schema_version \
             ORDER BY aggregate_type COLLATE \"C\", name COLLATE \"C\", schema_version",
            utc("max(recorded_at)"),
            self.quoted
        );
        let rows = self.query("counting the events", &sql, &[]).await?;
        rows.iter()
            .map(|row| {
                Ok(StatRow {
                    aggregate_type: self.get(row, 0)?,
                    name: self.get(row, 1)?,
                    schema_version: self.unsigned_at(row, 2, "schema version")?,
                    events: self.unsigned_at(row, 3, "count")?,
                    first_position: self.unsigned_at(row, 4, "position")?,
                    last_position: self.unsigned_at(row, 5, "position")?,
                    last_recorded_at: self.get(row, 6)?,
                })
            })
            .collect()
    }
}
