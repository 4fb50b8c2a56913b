//! `factum`: look into a factum event store, a SQLite file or a PostgreSQL schema, without
//! the application's types: streams, a stream's events, the log as it grows, the
//! projections' positions and leases, and the stored versions of each event.
//!
//! ```text
//! factum --store shop.db streams
//! factum --store postgres://app@localhost/app events order/order-1 --at 3
//! FACTUM_STORE=shop.db factum tail
//! ```

mod commands;
mod output;
mod source;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::source::Source;

/// Look into a factum event store: a SQLite file or a PostgreSQL database.
///
/// Reads factum's tables directly and needs none of the application's types: payloads and
/// metadata are shown as the JSON they are stored as. Nothing is written but by `reset`.
#[derive(Debug, Parser)]
#[command(name = "factum", version, about, long_about)]
pub struct Cli {
    /// The store: the path of a SQLite file, or a PostgreSQL URL
    /// (postgres://user:password@host:port/database?sslmode=require).
    #[arg(long, short = 's', env = "FACTUM_STORE", global = true, value_name = "FILE|URL")]
    store: Option<String>,

    /// The PostgreSQL schema holding the store [default: factum].
    #[arg(long, env = "FACTUM_SCHEMA", global = true)]
    schema: Option<String>,

    /// Write JSON for scripts instead of tables for people.
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the streams, by aggregate type and id, with their versions.
    Streams(commands::streams::Args),
    /// Show the events of one stream: envelope, metadata and payload.
    Events(commands::events::Args),
    /// Show the newest events of the log, then follow it as events are appended.
    Tail(commands::tail::Args),
    /// Show each projection's position, lag behind the log, and lease holder.
    Projections,
    /// Delete a projection's checkpoint, so that it rebuilds from the log on its next start.
    Reset(commands::reset::Args),
    /// Count the stored events by name and schema version, and say which old versions remain.
    Stats,
}

/// Why a command failed.
#[derive(Debug)]
enum Failure {
    /// Bad input, or a store that cannot be read: said to the user.
    Store(source::Error),
    /// Writing the output failed.
    Io(io::Error),
}

impl From<source::Error> for Failure {
    fn from(error: source::Error) -> Failure {
        Failure::Store(error)
    }
}

impl From<io::Error> for Failure {
    fn from(error: io::Error) -> Failure {
        Failure::Io(error)
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        // `factum tail | head`: the reader has had enough.
        Err(Failure::Io(error)) if error.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Failure::Io(error)) => {
            eprintln!("error: writing the output failed: {error}");
            ExitCode::FAILURE
        }
        Err(Failure::Store(error)) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let Some(store) = cli.store.as_deref() else {
        return Err(source::Error(
            "no store given: pass --store with a SQLite file or a postgres:// URL (or set FACTUM_STORE)".to_owned(),
        )
        .into());
    };
    let source = Source::open(store, cli.schema.as_deref()).await?;
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let json = cli.json;
    match cli.command {
        Command::Streams(args) => commands::streams::run(&source, &args, json, &mut out).await?,
        Command::Events(args) => commands::events::run(&source, &args, json, &mut out).await?,
        Command::Tail(args) => commands::tail::run(&source, &args, json, &mut out).await?,
        Command::Projections => commands::projections::run(&source, json, &mut out).await?,
        Command::Reset(args) => commands::reset::run(&source, &args, json, &mut out).await?,
        Command::Stats => commands::stats::run(&source, json, &mut out).await?,
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_arguments_are_consistent() {
        super::Cli::command().debug_assert();
    }
}
