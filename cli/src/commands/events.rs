//! `factum events TYPE/ID`: one stream's events, envelope, metadata and payload.

use std::io::Write;

use crate::Failure;
use crate::output::json;
use crate::source::{Error, EventRow, Source, StreamFilter};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The stream, as aggregate type and id: bank-account/acc-1.
    #[arg(value_name = "TYPE/ID")]
    stream: String,
    /// Show the stream as it was at this version: its events up to and including it.
    #[arg(long, value_name = "VERSION")]
    at: Option<u64>,
    /// Start at this version instead of the first.
    #[arg(long, value_name = "VERSION", default_value_t = 1)]
    from: u64,
}

pub async fn run(source: &Source, args: &Args, as_json: bool, out: &mut impl Write) -> Result<(), Failure> {
    let Some((aggregate_type, stream_id)) = args.stream.split_once('/') else {
        return Err(Error(format!(
            "{:?} is not a stream: give its aggregate type and id, as in bank-account/acc-1",
            args.stream
        ))
        .into());
    };
    let version = source.stream_version(aggregate_type, stream_id).await?;
    if version == 0 {
        return Err(missing(source, aggregate_type, stream_id).await?.into());
    }
    let to = args.at.unwrap_or(version);
    if to == 0 || to > version {
        return Err(Error(format!(
            "--at {to} is not a version of {aggregate_type}/{stream_id}, which runs from 1 to {version}"
        ))
        .into());
    }
    if args.from == 0 || args.from > to {
        return Err(Error(format!("--from {} must be between 1 and {to}", args.from)).into());
    }
    let events = source.stream_events(aggregate_type, stream_id, args.from, to).await?;
    if as_json {
        return Ok(json(out, &events)?);
    }
    let shown = if to < version { format!(", shown as at version {to}") } else { String::new() };
    writeln!(out, "{aggregate_type}/{stream_id}: version {version}{shown}")?;
    for event in &events {
        writeln!(out)?;
        write_event(out, event)?;
    }
    Ok(())
}

/// One event for people: a heading line, the metadata if any, the payload as pretty JSON.
fn write_event(out: &mut impl Write, event: &EventRow) -> std::io::Result<()> {
    writeln!(
        out,
        "#{} {} v{}  position {}  {}",
        event.version, event.name, event.schema_version, event.position, event.recorded_at
    )?;
    if event.metadata.as_object().is_none_or(|fields| !fields.is_empty()) {
        writeln!(out, "metadata: {}", event.metadata)?;
    }
    let payload = serde_json::to_string_pretty(&event.payload).map_err(std::io::Error::other)?;
    writeln!(out, "{payload}")
}

/// Why there is no such stream: an unknown aggregate type, or an unknown id.
async fn missing(source: &Source, aggregate_type: &str, stream_id: &str) -> Result<Error, Error> {
    let of_type = StreamFilter { aggregate_type: Some(aggregate_type.to_owned()), id_prefix: None };
    let (_, streams_of_type) = source.streams(&of_type, 0).await?;
    let store = source.describe();
    if streams_of_type > 0 {
        return Ok(Error(format!(
            "there is no stream {aggregate_type}/{stream_id} in {store}; it has {streams_of_type} stream(s) of \
             type {aggregate_type} (factum streams --type {aggregate_type} lists them)"
        )));
    }
    let stats = source.stats().await?;
    let mut types: Vec<&str> = stats.iter().map(|row| row.aggregate_type.as_str()).collect();
    types.dedup();
    let known = if types.is_empty() {
        "it holds no streams at all".to_owned()
    } else {
        format!("its types are {}", types.join(", "))
    };
    Ok(Error(format!("there is no aggregate type {aggregate_type:?} in {store}: {known}")))
}
