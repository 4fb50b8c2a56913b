//! `factum projections`: each projection's position, lag behind the log, and lease.

use std::io::Write;

use serde::Serialize;

use crate::Failure;
use crate::output::{Table, json};
use crate::source::{FailureRow, LeaseRow, Source};

/// The lease the worker behind checkpoint `name` takes: a NATS publisher's and a process
/// manager's leases are named as their checkpoints (`nats-publisher:<source>`,
/// `process:<name>`), a projection runner's (in `run_exclusive`) is `projection:<name>`.
pub fn lease_name(name: &str) -> String {
    if named_as_checkpoint(name) { name.to_owned() } else { format!("projection:{name}") }
}

/// True for the workers whose lease is named as their checkpoint.
fn named_as_checkpoint(name: &str) -> bool {
    name.starts_with("nats-publisher:") || name.starts_with("process:")
}

#[derive(Serialize)]
struct Report {
    /// The position of the newest event in the log.
    head: u64,
    projections: Vec<ProjectionRow>,
}

#[derive(Serialize)]
struct ProjectionRow {
    name: String,
    /// The position of its checkpoint; `None` when it holds a lease but saved none yet.
    position: Option<u64>,
    /// How many positions of the log it has still to read from its checkpoint.
    lag: u64,
    /// The size of its saved state, in bytes of JSON.
    state_bytes: Option<u64>,
    lease: Option<LeaseRow>,
    /// Why its runner last stopped, while its checkpoint has not moved past that point
    /// (the runner has not got over it yet).
    last_error: Option<FailureRow>,
}

pub async fn run(source: &Source, as_json: bool, out: &mut impl Write) -> Result<(), Failure> {
    let head = source.head().await?;
    let mut rows: Vec<ProjectionRow> = source
        .checkpoints()
        .await?
        .into_iter()
        .map(|checkpoint| ProjectionRow {
            name: checkpoint.name,
            position: Some(checkpoint.position),
            lag: head.saturating_sub(checkpoint.position),
            state_bytes: Some(checkpoint.state_bytes),
            lease: None,
            last_error: None,
        })
        .collect();
    // A runner that holds a lease (SQLite names them) or stopped before it saved anything
    // is listed too.
    let leases = source.lease_names().await?.unwrap_or_default();
    let failures = source.failures().await?;
    let others = leases
        .iter()
        .filter_map(|lease| lease.strip_prefix("projection:").or(named_as_checkpoint(lease).then_some(lease)))
        .chain(failures.iter().map(|failure| failure.name.as_str()));
    for name in others {
        if !rows.iter().any(|row| row.name == name) {
            rows.push(ProjectionRow {
                name: name.to_owned(),
                position: None,
                lag: head,
                state_bytes: None,
                lease: None,
                last_error: None,
            });
        }
    }
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    let names: Vec<String> = rows.iter().map(|row| lease_name(&row.name)).collect();
    for lease in source.leases(&names).await? {
        if let Some(row) = rows.iter_mut().find(|row| lease_name(&row.name) == lease.name) {
            row.lease = Some(lease);
        }
    }
    for failure in failures {
        if let Some(row) = rows.iter_mut().find(|row| row.name == failure.name)
            && row.position.is_none_or(|position| position <= failure.position)
        {
            row.last_error = Some(failure);
        }
    }
    if as_json {
        return Ok(json(out, &Report { head, projections: rows })?);
    }
    writeln!(out, "log head: position {head}")?;
    if rows.is_empty() {
        writeln!(out, "no projection has saved a checkpoint in {}", source.describe())?;
        return Ok(());
    }
    let mut table = Table::new(&["PROJECTION", "#POSITION", "#LAG", "#STATE", "LEASE"]);
    for row in &rows {
        table.row(vec![
            row.name.clone(),
            row.position.map_or("-".to_owned(), |p| p.to_string()),
            row.lag.to_string(),
            row.state_bytes.map_or("-".to_owned(), bytes),
            row.lease.as_ref().map_or("none".to_owned(), describe_lease),
        ]);
    }
    table.write(out)?;
    for row in &rows {
        if let Some(failure) = &row.last_error {
            writeln!(
                out,
                "\n{} stopped at position {}, {}:\n  {}",
                row.name, failure.position, failure.failed_at, failure.error
            )?;
        }
    }
    Ok(())
}

/// A lease for people: who holds it, and until when.
pub fn describe_lease(lease: &LeaseRow) -> String {
    match (&lease.expires_at, lease.expired) {
        (Some(at), true) => format!("expired {at} (last held by {})", lease.holder),
        (Some(at), false) => format!("held by {} until {at} (renewed while it runs)", lease.holder),
        (None, _) => format!("held by {}", lease.holder),
    }
}

fn bytes(count: u64) -> String {
    match count {
        0..1_000 => format!("{count} B"),
        1_000..1_000_000 => format!("{:.1} kB", count as f64 / 1e3),
        _ => format!("{:.1} MB", count as f64 / 1e6),
    }
}
