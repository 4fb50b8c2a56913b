//! `factum stats`: stored events by name and schema version, and which old versions remain
//! (an upcaster may be dropped once no event of its version is stored).

use std::io::Write;

use serde::Serialize;

use crate::Failure;
use crate::output::{Table, json};
use crate::source::{Source, StatRow};

#[derive(Serialize)]
struct Stat {
    #[serde(flatten)]
    row: StatRow,
    /// Whether a newer schema version of this event is also stored: these events are read
    /// through the upcasters, which must stay while they are.
    superseded: bool,
}

pub async fn run(source: &Source, as_json: bool, out: &mut impl Write) -> Result<(), Failure> {
    let rows = source.stats().await?;
    let stats: Vec<Stat> = rows
        .iter()
        .map(|row| Stat {
            superseded: rows.iter().any(|other| {
                other.aggregate_type == row.aggregate_type
                    && other.name == row.name
                    && other.schema_version > row.schema_version
            }),
            row: row.clone(),
        })
        .collect();
    if as_json {
        return Ok(json(out, &stats)?);
    }
    if stats.is_empty() {
        writeln!(out, "no events in {}", source.describe())?;
        return Ok(());
    }
    let mut table = Table::new(&["TYPE", "EVENT", "#VERSION", "#EVENTS", "#FIRST", "#LAST", "NEWEST"]);
    for stat in &stats {
        let row = &stat.row;
        table.row(vec![
            row.aggregate_type.clone(),
            row.name.clone(),
            format!("v{}", row.schema_version),
            row.events.to_string(),
            row.first_position.to_string(),
            row.last_position.to_string(),
            row.last_recorded_at.clone(),
        ]);
    }
    table.write(out)?;
    let total: u64 = stats.iter().map(|stat| stat.row.events).sum();
    writeln!(out, "{}", events(total))?;
    let old: Vec<&StatRow> = stats.iter().filter(|stat| stat.superseded).map(|stat| &stat.row).collect();
    if old.is_empty() {
        writeln!(out, "every event is stored at one schema version only")?;
    } else {
        writeln!(out, "\nolder versions still stored (read through upcasters, which must stay):")?;
        for row in old {
            writeln!(
                out,
                "  {} v{}: {}, the newest at position {} ({})",
                row.name,
                row.schema_version,
                events(row.events),
                row.last_position,
                row.last_recorded_at
            )?;
        }
    }
    Ok(())
}

fn events(count: u64) -> String {
    if count == 1 { "1 event".to_owned() } else { format!("{count} events") }
}
