//! Where the events are: a SQLite file or a PostgreSQL schema, opened without creating or
//! migrating anything, and the rows the commands read from it.
//!
//! Both stores answer the same questions with the same rows, so every command is written
//! once. Times are formatted by the database (RFC 3339 in UTC, to the millisecond), and
//! payloads and metadata come back as JSON values: no user type is needed.

mod postgres;
mod sqlite;

use serde::Serialize;
use serde_json::Value;

pub use self::postgres::Postgres;
pub use self::sqlite::Sqlite;

/// The newest schema this tool reads: SQLite's `PRAGMA user_version`, and PostgreSQL's
/// newest row in `factum_migrations`. A store migrated by a newer factum is refused.
const SQLITE_SCHEMA: i64 = 6;
const POSTGRES_SCHEMA: i32 = 5;

/// What went wrong, said for a person: the store, the stream, the projection.
#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// Says `what` failed in `store`, with the database's own words.
pub(crate) fn failed(store: &str, what: &str, error: impl std::fmt::Display) -> Error {
    Error(format!("{what} in {store} failed: {error}"))
}

/// An open store.
pub enum Source {
    Sqlite(Sqlite),
    Postgres(Postgres),
}

/// One stream: its aggregate type and id, its version, and where and when it was written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamRow {
    pub aggregate_type: String,
    pub stream_id: String,
    pub version: u64,
    pub first_position: u64,
    pub last_position: u64,
    pub created_at: String,
    pub updated_at: String,
    /// `open`, `archived` (kept, out of the global log, closed to appends) or `deleted` (its
    /// events gone, a `$StreamDeleted` notice in their place).
    pub state: &'static str,
}

/// A stream's state from what its rows say.
pub(crate) fn stream_state(archived: bool, deleted: bool) -> &'static str {
    match (deleted, archived) {
        (true, _) => "deleted",
        (false, true) => "archived",
        (false, false) => "open",
    }
}

/// A stored event as the tables hold it: the envelope, and the payload as JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRow {
    pub position: u64,
    pub aggregate_type: String,
    pub stream_id: String,
    pub version: u64,
    pub name: String,
    pub schema_version: u64,
    pub recorded_at: String,
    pub metadata: Value,
    pub payload: Value,
}

/// A projection's (or any worker's) saved checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckpointRow {
    pub name: String,
    pub position: u64,
    /// The size of the saved state, in bytes of JSON.
    pub state_bytes: u64,
}

/// Who holds a lease, and until when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeaseRow {
    pub name: String,
    /// SQLite: the owner the holder wrote (its process id and a random tag). PostgreSQL:
    /// the server process holding the advisory lock, its client's address and application.
    pub holder: String,
    /// SQLite: when the lease expires unless renewed. PostgreSQL: `None`, the lease lasts
    /// as long as the holder's connection.
    pub expires_at: Option<String>,
    /// SQLite: whether the expiry has passed (a holder that died, or froze).
    pub expired: bool,
}

/// Why a runner last stopped, as the runner recorded it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailureRow {
    pub name: String,
    /// The position the runner had reached when it stopped.
    pub position: u64,
    pub error: String,
    pub failed_at: String,
}

/// How many events of one stored name and schema version the store holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatRow {
    pub aggregate_type: String,
    pub name: String,
    pub schema_version: u64,
    pub events: u64,
    pub first_position: u64,
    pub last_position: u64,
    pub last_recorded_at: String,
}

/// Which streams to list.
#[derive(Debug, Clone, Default)]
pub struct StreamFilter {
    pub aggregate_type: Option<String>,
    pub id_prefix: Option<String>,
}

/// Which events of the log to read.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub aggregate_type: Option<String>,
    pub name: Option<String>,
}

impl Source {
    /// Opens `target`: a `postgres://` or `postgresql://` URL (or a `host=...` string),
    /// else the path of a SQLite file, which must exist. `schema` overrides PostgreSQL's
    /// default schema `factum`.
    pub async fn open(target: &str, schema: Option<&str>) -> Result<Source, Error> {
        let is_postgres = target.starts_with("postgres://")
            || target.starts_with("postgresql://")
            || target.split_whitespace().any(|part| part.starts_with("host="));
        if is_postgres {
            Ok(Source::Postgres(Postgres::connect(target, schema).await?))
        } else if schema.is_some() {
            Err(Error(format!("--schema names a PostgreSQL schema, and {target:?} is a SQLite file")))
        } else {
            Ok(Source::Sqlite(Sqlite::open(target)?))
        }
    }

    /// The store, as error messages name it.
    pub fn describe(&self) -> &str {
        match self {
            Source::Sqlite(store) => &store.describe,
            Source::Postgres(store) => &store.describe,
        }
    }

    /// The position of the newest event, 0 for an empty store.
    pub async fn head(&self) -> Result<u64, Error> {
        match self {
            Source::Sqlite(store) => store.head(),
            Source::Postgres(store) => store.head().await,
        }
    }

    /// The streams `filter` picks, ordered by aggregate type then id (byte order), at most
    /// `limit`; and how many it picks in all.
    pub async fn streams(&self, filter: &StreamFilter, limit: u64) -> Result<(Vec<StreamRow>, u64), Error> {
        match self {
            Source::Sqlite(store) => store.streams(filter, limit),
            Source::Postgres(store) => store.streams(filter, limit).await,
        }
    }

    /// The events of one stream from version `from` to `to`, in order.
    pub async fn stream_events(
        &self,
        aggregate_type: &str,
        stream_id: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<EventRow>, Error> {
        match self {
            Source::Sqlite(store) => store.stream_events(aggregate_type, stream_id, from, to),
            Source::Postgres(store) => store.stream_events(aggregate_type, stream_id, from, to).await,
        }
    }

    /// The version of a stream, 0 when it has no events.
    pub async fn stream_version(&self, aggregate_type: &str, stream_id: &str) -> Result<u64, Error> {
        match self {
            Source::Sqlite(store) => store.stream_version(aggregate_type, stream_id),
            Source::Postgres(store) => store.stream_version(aggregate_type, stream_id).await,
        }
    }

    /// Up to `limit` events of the log after `position` that `filter` picks, in order.
    pub async fn events_after(&self, position: u64, filter: &LogFilter, limit: u64) -> Result<Vec<EventRow>, Error> {
        match self {
            Source::Sqlite(store) => store.events_after(position, filter, limit),
            Source::Postgres(store) => store.events_after(position, filter, limit).await,
        }
    }

    /// The last `count` events of the log that `filter` picks, oldest first.
    pub async fn last_events(&self, count: u64, filter: &LogFilter) -> Result<Vec<EventRow>, Error> {
        match self {
            Source::Sqlite(store) => store.last_events(count, filter),
            Source::Postgres(store) => store.last_events(count, filter).await,
        }
    }

    /// Every saved checkpoint, by name.
    pub async fn checkpoints(&self) -> Result<Vec<CheckpointRow>, Error> {
        match self {
            Source::Sqlite(store) => store.checkpoints(),
            Source::Postgres(store) => store.checkpoints().await,
        }
    }

    /// The holder of each lease in `names` that is held (on SQLite, also one held last by a
    /// process that let it expire).
    pub async fn leases(&self, names: &[String]) -> Result<Vec<LeaseRow>, Error> {
        match self {
            Source::Sqlite(store) => store.leases(names),
            Source::Postgres(store) => store.leases(names).await,
        }
    }

    /// The names of every lease the store knows of (SQLite keeps a row per lease;
    /// PostgreSQL's advisory locks carry no name, so there it is `None`).
    pub async fn lease_names(&self) -> Result<Option<Vec<String>>, Error> {
        match self {
            Source::Sqlite(store) => store.lease_names().map(Some),
            Source::Postgres(_) => Ok(None),
        }
    }

    /// Every runner's recorded failure, by name (a store written by a factum from before
    /// failures were recorded has none).
    pub async fn failures(&self) -> Result<Vec<FailureRow>, Error> {
        match self {
            Source::Sqlite(store) => store.failures(),
            Source::Postgres(store) => store.failures().await,
        }
    }

    /// Deletes checkpoint `name` and its recorded failure; whether there was a checkpoint.
    pub async fn delete_checkpoint(&self, name: &str) -> Result<bool, Error> {
        match self {
            Source::Sqlite(store) => store.delete_checkpoint(name),
            Source::Postgres(store) => store.delete_checkpoint(name).await,
        }
    }

    /// How many events of each aggregate type, name and schema version are stored.
    pub async fn stats(&self) -> Result<Vec<StatRow>, Error> {
        match self {
            Source::Sqlite(store) => store.stats(),
            Source::Postgres(store) => store.stats().await,
        }
    }
}

/// Parses a stored JSON text (payload or metadata), naming the event if it is not JSON.
fn json(store: &str, position: u64, column: &str, text: Option<&str>) -> Result<Value, Error> {
    match text {
        None => Ok(Value::Object(Default::default())),
        Some(text) => serde_json::from_str(text).map_err(|error| {
            Error(format!("the {column} of the event at position {position} in {store} is not JSON: {error}"))
        }),
    }
}

/// A count or position read from a signed column, which factum never writes negative.
fn unsigned(store: &str, what: &str, value: i64) -> Result<u64, Error> {
    u64::try_from(value)
        .map_err(|_| Error(format!("{store} holds a negative {what} ({value}): it was not written by factum")))
}

/// A position, version or limit as the databases take it.
fn signed(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
