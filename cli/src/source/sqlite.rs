//! A factum SQLite file, read with plain SQL.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};

use super::{
    CheckpointRow, Error, EventRow, FailureRow, LeaseRow, LogFilter, SQLITE_SCHEMA, StatRow, StreamFilter, StreamRow,
    failed, json, signed, stream_state, unsigned,
};

/// A column of microseconds since 1970 (how factum stores times) as RFC 3339 in UTC, to the
/// millisecond: the same text PostgreSQL's `to_char` gives for its `timestamptz`.
fn utc(column: &str) -> String {
    format!(
        "strftime('%Y-%m-%dT%H:%M:%S', {column} / 1000000, 'unixepoch') || printf('.%03dZ', ({column} / 1000) % 1000)"
    )
}

pub struct Sqlite {
    connection: Connection,
    pub(super) describe: String,
    /// Whether the file has the `failures` table (schema version 4 and later).
    has_failures: bool,
    /// Whether events can be archived (the `archived` column, schema version 6 and later).
    has_lifecycle: bool,
}

impl Sqlite {
    /// Opens an existing factum file for reading (and `reset`), never creating one.
    pub(super) fn open(path: &str) -> Result<Sqlite, Error> {
        let describe = format!("the SQLite file {path}");
        if !Path::new(path).is_file() {
            return Err(Error(format!(
                "there is no SQLite file at {path} (give the path of an application's store, or a postgres:// URL)"
            )));
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(path, flags).map_err(|e| failed(&describe, "opening", e))?;
        // The application may be writing: wait for its transactions as factum does.
        connection.busy_timeout(Duration::from_secs(5)).map_err(|e| failed(&describe, "setting a busy timeout", e))?;
        let version: i64 = connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(|e| Error(format!("{path} is not a SQLite file a factum store can be read from: {e}")))?;
        let has_events: bool = connection
            .query_row("SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'events'", [], |row| {
                row.get(0)
            })
            .map_err(|e| failed(&describe, "reading the tables", e))?;
        if version == 0 || !has_events {
            return Err(Error(format!("{describe} is not a factum store: it has no factum tables")));
        }
        if version > SQLITE_SCHEMA {
            return Err(Error(format!(
                "{describe} was written by a newer factum (schema version {version}; this tool reads up to \
                 {SQLITE_SCHEMA}): use the factum tool of the same release as the application"
            )));
        }
        Ok(Sqlite { connection, describe, has_failures: version >= 4, has_lifecycle: version >= 6 })
    }

    fn fail<'a>(&'a self, what: &'a str) -> impl Fn(rusqlite::Error) -> Error + 'a {
        move |error| failed(&self.describe, what, error)
    }

    pub(super) fn head(&self) -> Result<u64, Error> {
        let head: i64 = self
            .connection
            .query_row("SELECT coalesce(max(position), 0) FROM events", [], |row| row.get(0))
            .map_err(self.fail("reading the head of the log"))?;
        unsigned(&self.describe, "position", head)
    }

    pub(super) fn streams(&self, filter: &StreamFilter, limit: u64) -> Result<(Vec<StreamRow>, u64), Error> {
        let matching = "(?1 IS NULL OR aggregate_type = ?1) AND (?2 IS NULL OR substr(stream_id, 1, length(?2)) = ?2)";
        let sql = format!(
            "SELECT aggregate_type, stream_id, v, first, last, {created}, {updated}, archived, deleted FROM ( \
                 SELECT aggregate_type, stream_id, max(version) AS v, min(position) AS first, \
                        max(position) AS last, min(recorded_at) AS created, max(recorded_at) AS updated, \
                        {archived} AS archived, max(name = '$StreamDeleted') AS deleted \
                 FROM events WHERE {matching} GROUP BY aggregate_type, stream_id \
                 ORDER BY aggregate_type, stream_id LIMIT ?3) \
             ORDER BY aggregate_type, stream_id",
            created = utc("created"),
            updated = utc("updated"),
            archived = if self.has_lifecycle { "max(archived)" } else { "0" },
        );
        let what = self.fail("listing the streams");
        let args = params![filter.aggregate_type, filter.id_prefix, signed(limit)];
        let mut statement = self.connection.prepare(&sql).map_err(&what)?;
        let rows = statement
            .query_map(args, |row| {
                let state = stream_state(row.get(7)?, row.get(8)?);
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?, state))
            })
            .map_err(&what)?;
        let mut streams = Vec::new();
        for row in rows {
            let (aggregate_type, stream_id, version, first, last, created_at, updated_at, state): (
                String,
                String,
                i64,
                i64,
                i64,
                String,
                String,
                &'static str,
            ) = row.map_err(&what)?;
            streams.push(StreamRow {
                aggregate_type,
                stream_id,
                version: unsigned(&self.describe, "version", version)?,
                first_position: unsigned(&self.describe, "position", first)?,
                last_position: unsigned(&self.describe, "position", last)?,
                created_at,
                updated_at,
                state,
            });
        }
        let total: i64 = self
            .connection
            .query_row(
                &format!(
                    "SELECT count(*) FROM (SELECT 1 FROM events WHERE {matching} GROUP BY aggregate_type, stream_id)"
                ),
                params![filter.aggregate_type, filter.id_prefix],
                |row| row.get(0),
            )
            .map_err(&what)?;
        Ok((streams, unsigned(&self.describe, "count", total)?))
    }

    pub(super) fn stream_version(&self, aggregate_type: &str, stream_id: &str) -> Result<u64, Error> {
        let version: i64 = self
            .connection
            .query_row(
                "SELECT coalesce(max(version), 0) FROM events WHERE aggregate_type = ?1 AND stream_id = ?2",
                params![aggregate_type, stream_id],
                |row| row.get(0),
            )
            .map_err(self.fail("reading a stream's version"))?;
        unsigned(&self.describe, "version", version)
    }

    pub(super) fn stream_events(
        &self,
        aggregate_type: &str,
        stream_id: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<EventRow>, Error> {
        self.events(
            "WHERE aggregate_type = ?1 AND stream_id = ?2 AND version BETWEEN ?3 AND ?4 ORDER BY version",
            params![aggregate_type, stream_id, signed(from), signed(to)],
        )
    }

    pub(super) fn events_after(&self, position: u64, filter: &LogFilter, limit: u64) -> Result<Vec<EventRow>, Error> {
        self.events(
            "WHERE position > ?1 AND (?2 IS NULL OR aggregate_type = ?2) AND (?3 IS NULL OR name = ?3) \
             ORDER BY position LIMIT ?4",
            params![signed(position), filter.aggregate_type, filter.name, signed(limit)],
        )
    }

    pub(super) fn last_events(&self, count: u64, filter: &LogFilter) -> Result<Vec<EventRow>, Error> {
        let mut events = self.events(
            "WHERE (?1 IS NULL OR aggregate_type = ?1) AND (?2 IS NULL OR name = ?2) ORDER BY position DESC LIMIT ?3",
            params![filter.aggregate_type, filter.name, signed(count)],
        )?;
        events.reverse();
        Ok(events)
    }

    fn events(&self, rest: &str, args: impl rusqlite::Params) -> Result<Vec<EventRow>, Error> {
        let sql = format!(
            "SELECT position, aggregate_type, stream_id, version, name, schema_version, {}, metadata, payload \
             FROM events {rest}",
            utc("recorded_at")
        );
        let what = self.fail("reading events");
        let mut statement = self.connection.prepare_cached(&sql).map_err(&what)?;
        let rows = statement.query_map(args, raw_event).map_err(&what)?;
        let mut events = Vec::new();
        for row in rows {
            let raw = row.map_err(&what)?;
            events.push(self.event(raw)?);
        }
        Ok(events)
    }

    fn event(&self, raw: RawEvent) -> Result<EventRow, Error> {
        let store = &self.describe;
        let position = unsigned(store, "position", raw.position)?;
        Ok(EventRow {
            position,
            aggregate_type: raw.aggregate_type,
            stream_id: raw.stream_id,
            version: unsigned(store, "version", raw.version)?,
            name: raw.name,
            schema_version: unsigned(store, "schema version", raw.schema_version)?,
            recorded_at: raw.recorded_at,
            metadata: json(store, position, "metadata", raw.metadata.as_deref())?,
            payload: json(store, position, "payload", Some(&raw.payload))?,
        })
    }

    pub(super) fn checkpoints(&self) -> Result<Vec<CheckpointRow>, Error> {
        let what = self.fail("reading the checkpoints");
        let mut statement = self
            .connection
            .prepare("SELECT name, position, length(CAST(state AS BLOB)) FROM checkpoints ORDER BY name")
            .map_err(&what)?;
        let rows = statement
            .query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?, row.get::<_, i64>(2)?)))
            .map_err(&what)?;
        let mut checkpoints = Vec::new();
        for row in rows {
            let (name, position, bytes) = row.map_err(&what)?;
            checkpoints.push(CheckpointRow {
                name,
                position: unsigned(&self.describe, "position", position)?,
                state_bytes: unsigned(&self.describe, "size", bytes)?,
            });
        }
        Ok(checkpoints)
    }

    pub(super) fn lease_names(&self) -> Result<Vec<String>, Error> {
        let what = self.fail("reading the leases");
        let mut statement = self.connection.prepare("SELECT name FROM leases ORDER BY name").map_err(&what)?;
        let names = statement.query_map([], |row| row.get(0)).map_err(&what)?;
        names.collect::<Result<_, _>>().map_err(&what)
    }

    pub(super) fn leases(&self, names: &[String]) -> Result<Vec<LeaseRow>, Error> {
        let what = self.fail("reading the leases");
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_micros() as i64);
        let sql = format!("SELECT owner, {}, expires_at FROM leases WHERE name = ?1", utc("expires_at"));
        let mut statement = self.connection.prepare(&sql).map_err(&what)?;
        let mut leases = Vec::new();
        for name in names {
            let found = statement
                .query_row([name], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, i64>(2)?))
                })
                .optional()
                .map_err(&what)?;
            if let Some((holder, expires_at, expires_micros)) = found {
                leases.push(LeaseRow {
                    name: name.clone(),
                    holder,
                    expires_at: Some(expires_at),
                    expired: expires_micros <= now,
                });
            }
        }
        Ok(leases)
    }

    pub(super) fn failures(&self) -> Result<Vec<FailureRow>, Error> {
        if !self.has_failures {
            return Ok(Vec::new());
        }
        let what = self.fail("reading the runners' failures");
        let sql = format!("SELECT name, position, error, {} FROM failures ORDER BY name", utc("failed_at"));
        let mut statement = self.connection.prepare(&sql).map_err(&what)?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                ))
            })
            .map_err(&what)?;
        let mut failures = Vec::new();
        for row in rows {
            let (name, position, error, failed_at) = row.map_err(&what)?;
            let position = unsigned(&self.describe, "position", position)?;
            failures.push(FailureRow { name, position, error, failed_at });
        }
        Ok(failures)
    }

    pub(super) fn delete_checkpoint(&self, name: &str) -> Result<bool, Error> {
        let what = self.fail("deleting a checkpoint");
        let transaction = self.connection.unchecked_transaction().map_err(&what)?;
        let deleted = transaction.execute("DELETE FROM checkpoints WHERE name = ?1", [name]).map_err(&what)?;
        if self.has_failures {
            transaction.execute("DELETE FROM failures WHERE name = ?1", [name]).map_err(&what)?;
        }
        transaction.commit().map_err(&what)?;
        Ok(deleted > 0)
    }

    pub(super) fn stats(&self) -> Result<Vec<StatRow>, Error> {
        let sql = format!(
            "SELECT aggregate_type, name, schema_version, events, first, last, {} FROM ( \
                 SELECT aggregate_type, name, schema_version, count(*) AS events, min(position) AS first, \
                        max(position) AS last, max(recorded_at) AS newest \
                 FROM events GROUP BY aggregate_type, name, schema_version) \
             ORDER BY aggregate_type, name, schema_version",
            utc("newest")
        );
        let what = self.fail("counting the events");
        let mut statement = self.connection.prepare(&sql).map_err(&what)?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, i64>(3)?,
                    row.get::<_, i64>(4)?,
                    row.get::<_, i64>(5)?,
                    row.get::<_, String>(6)?,
                ))
            })
            .map_err(&what)?;
        let store = &self.describe;
        let mut stats = Vec::new();
        for row in rows {
            let (aggregate_type, name, schema_version, events, first, last, last_recorded_at) = row.map_err(&what)?;
            stats.push(StatRow {
                aggregate_type,
                name,
                schema_version: unsigned(store, "schema version", schema_version)?,
                events: unsigned(store, "count", events)?,
                first_position: unsigned(store, "position", first)?,
                last_position: unsigned(store, "position", last)?,
                last_recorded_at,
            });
        }
        Ok(stats)
    }
}

/// An event's columns as SQLite returns them.
struct RawEvent {
    position: i64,
    aggregate_type: String,
    stream_id: String,
    version: i64,
    name: String,
    schema_version: i64,
    recorded_at: String,
    metadata: Option<String>,
    payload: String,
}

fn raw_event(row: &Row<'_>) -> rusqlite::Result<RawEvent> {
    Ok(RawEvent {
        position: row.get(0)?,
        aggregate_type: row.get(1)?,
        stream_id: row.get(2)?,
        version: row.get(3)?,
        name: row.get(4)?,
        schema_version: row.get(5)?,
        recorded_at: row.get(6)?,
        metadata: row.get(7)?,
        payload: row.get(8)?,
    })
}
