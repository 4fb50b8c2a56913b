//! `factum tail`: the newest events of the log, then each new one as it is appended.

use std::io::Write;
use std::time::Duration;

use crate::Failure;
use crate::output::json_line;
use crate::source::{EventRow, LogFilter, Source};

/// How often the log is read again for new events while following it.
const POLL: Duration = Duration::from_millis(250);

/// How many events are read at once while catching up.
const BATCH: u64 = 1_000;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Start with this many of the newest events.
    #[arg(long, short = 'n', default_value_t = 10, conflicts_with = "after")]
    lines: u64,
    /// Start after this position instead (0: from the beginning of the log).
    #[arg(long, value_name = "POSITION")]
    after: Option<u64>,
    /// Only events of this aggregate type.
    #[arg(long = "type", short = 't', value_name = "AGGREGATE")]
    aggregate_type: Option<String>,
    /// Only events of this stored name.
    #[arg(long)]
    name: Option<String>,
    /// Print what is there and stop, instead of following the log.
    #[arg(long)]
    no_follow: bool,
}

pub async fn run(source: &Source, args: &Args, as_json: bool, out: &mut impl Write) -> Result<(), Failure> {
    let filter = LogFilter { aggregate_type: args.aggregate_type.clone(), name: args.name.clone() };
    // From here on events are read by position after the last one shown, so none is
    // missed or shown twice while the application appends.
    let mut last = match args.after {
        Some(after) => after,
        None if args.lines == 0 => source.head().await?,
        None => {
            let newest = source.last_events(args.lines, &filter).await?;
            write_events(out, &newest, as_json)?;
            newest.last().map_or(0, |event| event.position)
        }
    };
    loop {
        let events = source.events_after(last, &filter, BATCH).await?;
        write_events(out, &events, as_json)?;
        if let Some(newest) = events.last() {
            last = newest.position;
        }
        if events.len() < BATCH as usize {
            if args.no_follow {
                return Ok(());
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

fn write_events(out: &mut impl Write, events: &[EventRow], as_json: bool) -> std::io::Result<()> {
    for event in events {
        if as_json {
            json_line(out, event)?;
        } else {
            writeln!(
                out,
                "{:>8}  {}  {}/{}@{}  {} v{}  {}",
                event.position,
                event.recorded_at,
                event.aggregate_type,
                event.stream_id,
                event.version,
                event.name,
                event.schema_version,
                event.payload
            )?;
        }
    }
    out.flush()
}
