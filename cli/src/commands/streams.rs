//! `factum streams`: the streams, with their versions and when they were written.

use std::io::Write;

use serde::Serialize;

use crate::Failure;
use crate::output::{Table, json};
use crate::source::{Source, StreamFilter, StreamRow};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only streams of this aggregate type (as stored, e.g. bank-account).
    #[arg(long = "type", short = 't', value_name = "AGGREGATE")]
    aggregate_type: Option<String>,
    /// Only streams whose id starts with this.
    #[arg(long, value_name = "PREFIX")]
    prefix: Option<String>,
    /// Show at most this many streams.
    #[arg(long, default_value_t = 100)]
    limit: u64,
}

#[derive(Serialize)]
struct Listing {
    /// How many streams match, shown or not.
    total: u64,
    streams: Vec<StreamRow>,
}

pub async fn run(source: &Source, args: &Args, as_json: bool, out: &mut impl Write) -> Result<(), Failure> {
    let filter = StreamFilter { aggregate_type: args.aggregate_type.clone(), id_prefix: args.prefix.clone() };
    let (streams, total) = source.streams(&filter, args.limit).await?;
    if as_json {
        return Ok(json(out, &Listing { total, streams })?);
    }
    if streams.is_empty() {
        writeln!(out, "no streams{} in {}", filtered(args), source.describe())?;
        return Ok(());
    }
    let mut table = Table::new(&["TYPE", "STREAM", "#VERSION", "#FIRST", "#LAST", "CREATED", "UPDATED", "STATE"]);
    for stream in &streams {
        table.row(vec![
            stream.aggregate_type.clone(),
            stream.stream_id.clone(),
            stream.version.to_string(),
            stream.first_position.to_string(),
            stream.last_position.to_string(),
            stream.created_at.clone(),
            stream.updated_at.clone(),
            stream.state.to_owned(),
        ]);
    }
    table.write(out)?;
    let plural = if total == 1 { "" } else { "s" };
    if (streams.len() as u64) < total {
        writeln!(out, "{} of {total} stream{plural}{} shown: --limit shows more", streams.len(), filtered(args))?;
    } else {
        writeln!(out, "{total} stream{plural}{}", filtered(args))?;
    }
    Ok(())
}

fn filtered(args: &Args) -> String {
    let mut said = String::new();
    if let Some(aggregate_type) = &args.aggregate_type {
        said.push_str(&format!(" of type {aggregate_type}"));
    }
    if let Some(prefix) = &args.prefix {
        said.push_str(&format!(" with ids starting {prefix:?}"));
    }
    said
}
