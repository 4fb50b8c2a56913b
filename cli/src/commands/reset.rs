//! `factum reset NAME`: delete a projection's checkpoint, so it rebuilds on its next start.

use std::io::{BufRead, IsTerminal, Write};

use serde::Serialize;

use super::projections::{describe_lease, lease_name};
use crate::Failure;
use crate::output::json;
use crate::source::{Error, Source};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The projection, by the name it stores its checkpoint under.
    projection: String,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    yes: bool,
}

#[derive(Serialize)]
struct Reset<'a> {
    projection: &'a str,
    /// The position its checkpoint was at.
    was_at: u64,
}

pub async fn run(source: &Source, args: &Args, as_json: bool, out: &mut impl Write) -> Result<(), Failure> {
    let name = args.projection.as_str();
    let checkpoints = source.checkpoints().await?;
    let Some(checkpoint) = checkpoints.iter().find(|checkpoint| checkpoint.name == name) else {
        let known: Vec<&str> = checkpoints.iter().map(|checkpoint| checkpoint.name.as_str()).collect();
        let known = if known.is_empty() {
            "none has saved one".to_owned()
        } else {
            format!("those saved are {}", known.join(", "))
        };
        return Err(Error(format!(
            "there is no checkpoint of a projection {name:?} in {}: {known}",
            source.describe()
        ))
        .into());
    };
    // A runner holding the lease would write its checkpoint back at its next save.
    if let Some(lease) = source.leases(&[lease_name(name)]).await?.into_iter().find(|lease| !lease.expired) {
        return Err(Error(format!(
            "projection {name:?} is running: its lease is {}. Stop it first, or it will save its checkpoint \
             again and the reset is lost",
            describe_lease(&lease)
        ))
        .into());
    }
    if !args.yes {
        confirm(name, checkpoint.position)?;
    }
    source.delete_checkpoint(name).await?;
    if as_json {
        return Ok(json(out, &Reset { projection: name, was_at: checkpoint.position })?);
    }
    writeln!(
        out,
        "reset {name:?} (it was at position {}): it rebuilds from the start of the log on its next start",
        checkpoint.position
    )?;
    Ok(())
}

/// Asks on the terminal; without one, `--yes` is needed.
fn confirm(name: &str, position: u64) -> Result<(), Failure> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Error(format!(
            "resetting {name:?} needs confirmation and there is no terminal to ask on: pass --yes"
        ))
        .into());
    }
    let mut stderr = std::io::stderr();
    write!(
        stderr,
        "Reset projection {name:?}, now at position {position}? It rebuilds from the start of the log on its next start, \
         so a process running it now without a lease must be restarted. [y/N] "
    )?;
    stderr.flush()?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(Error(format!("not reset: {name:?} is unchanged")).into())
    }
}
