//! What process managers keep: [`EventStore::commit_process`](crate::EventStore::commit_process)'s
//! one transaction.

use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

use futures_util::future::{join, join5};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};

use super::{PostgresStore, backend, clamp};
use crate::error::StoreError;
use crate::process::{ProcessCommit, checkpoint_name};
use crate::store::to_micros_floor;

/// A commit of one process, as the statements take it: arrays, one per column.
struct Arrays {
    checkpoint: Option<(String, i64)>,
    /// The instances whose last state in the commit is a state, with it.
    saved: (Vec<String>, Vec<String>),
    /// The instances whose last state in the commit is `None`.
    ended: Vec<String>,
    /// The instances set to `None` at any point of the commit: their deadlines stored before
    /// it go, as they would were the instances applied one after another.
    cleared: Vec<String>,
    sent: Vec<i64>,
    /// Each refused id once, with the first error given for it (a second refusal of one entry
    /// would find it refused already).
    rejected: (Vec<i64>, Vec<String>),
    fired: Vec<i64>,
    cancel: (Vec<String>, Vec<String>),
    /// Instance, aggregate type, stream id, command and metadata (JSON) of each new command.
    send: [Vec<String>; 5],
    schedule: Deadlines,
}

/// The new deadlines, a column each.
#[derive(Default)]
struct Deadlines {
    instances: Vec<String>,
    kinds: Vec<String>,
    due_at: Vec<SystemTime>,
    payloads: Vec<String>,
    correlation_ids: Vec<Option<String>>,
}

impl Arrays {
    fn of(process: &str, commit: ProcessCommit) -> Arrays {
        // The last state of each instance, in the order the instances first appear.
        let mut last: Vec<(String, Option<String>)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut cleared = Vec::new();
        for (instance, state) in commit.instances {
            if state.is_none() && !cleared.contains(&instance) {
                cleared.push(instance.clone());
            }
            match index.get(&instance) {
                Some(&at) => last[at].1 = state,
                None => {
                    index.insert(instance.clone(), last.len());
                    last.push((instance, state));
                }
            }
        }
        let (mut saved, mut ended) = ((Vec::new(), Vec::new()), Vec::new());
        for (instance, state) in last {
            match state {
                Some(state) => {
                    saved.0.push(instance);
                    saved.1.push(state);
                }
                None => ended.push(instance),
            }
        }
        let mut seen = HashSet::new();
        let rejected = commit.rejected.into_iter().filter(|(id, _)| seen.insert(*id)).map(|(id, e)| (clamp(id), e));
        let mut send: [Vec<String>; 5] = Default::default();
        for command in commit.send {
            let metadata = serde_json::to_string(&command.metadata).expect("metadata is plain strings");
            let columns = [command.instance, command.aggregate_type, command.stream_id, command.command, metadata];
            for (array, value) in send.iter_mut().zip(columns) {
                array.push(value);
            }
        }
        let mut schedule = Deadlines::default();
        for deadline in commit.schedule {
            schedule.instances.push(deadline.instance);
            schedule.kinds.push(deadline.kind);
            // Whole microseconds, as PostgreSQL keeps them: none is rounded either way.
            schedule.due_at.push(to_micros_floor(deadline.due_at));
            schedule.payloads.push(deadline.payload);
            schedule.correlation_ids.push(deadline.correlation_id);
        }
        Arrays {
            checkpoint: commit.position.map(|position| (checkpoint_name(process), clamp(position))),
            saved,
            ended,
            cleared,
            sent: commit.sent.into_iter().map(clamp).collect(),
            rejected: rejected.unzip(),
            fired: commit.fired.into_iter().map(clamp).collect(),
            cancel: commit.cancel.into_iter().unzip(),
            send,
            schedule,
        }
    }
}

impl PostgresStore {
    /// Writes `commit` of `process` (validated already) in one transaction, in the order
    /// [`ProcessCommit`] documents. `BEGIN` and every statement that has something to do go
    /// in one pipelined burst; `COMMIT` follows once all of them succeeded (a statement that
    /// failed on the client, before the server saw it, must not leave the others to be
    /// committed), `ROLLBACK` otherwise. Two round trips.
    pub(super) async fn write_process_commit(&self, process: &str, commit: ProcessCommit) -> Result<(), StoreError> {
        let a = Arrays::of(process, commit);
        let rejected_at = to_micros_floor(SystemTime::now());
        let mut conn = self.inner.pool.get().await?;
        // Until the transaction is known to be over, the connection is not handed back.
        conn.in_transaction = true;
        let (statements, client) = (&conn.conn().statements, &conn.conn().client);
        let (p, d) = (&process, &a.schedule);
        let (cp_name, cp_position) =
            a.checkpoint.as_ref().map_or(("", 0), |(name, position)| (name.as_str(), *position));
        // `join` polls its futures in order, and each sends its request when first polled:
        // the server runs them in this order.
        let ((begin, checkpoint, saved, ended, sent), (rejected, fired, cancelled, sent_new, scheduled)) = join(
            join5(
                client.batch_execute("BEGIN"),
                run(client, &statements.save_checkpoint, &[&cp_name, &cp_position, &""], a.checkpoint.is_some()),
                run(client, &statements.save_process_instances, &[p, &a.saved.0, &a.saved.1], !a.saved.0.is_empty()),
                run(client, &statements.end_process_instances, &[p, &a.ended, &a.cleared], !a.cleared.is_empty()),
                run(client, &statements.delete_outgoing, &[p, &a.sent], !a.sent.is_empty()),
            ),
            join5(
                run(
                    client,
                    &statements.reject_outgoing,
                    &[p, &a.rejected.0, &a.rejected.1, &rejected_at],
                    !a.rejected.0.is_empty(),
                ),
                run(client, &statements.delete_deadlines, &[p, &a.fired], !a.fired.is_empty()),
                run(client, &statements.cancel_deadlines, &[p, &a.cancel.0, &a.cancel.1], !a.cancel.0.is_empty()),
                run(
                    client,
                    &statements.insert_outgoing,
                    &[p, &a.send[0], &a.send[1], &a.send[2], &a.send[3], &a.send[4]],
                    !a.send[0].is_empty(),
                ),
                run(
                    client,
                    &statements.insert_deadlines,
                    &[p, &d.instances, &d.kinds, &d.due_at, &d.payloads, &d.correlation_ids],
                    !d.instances.is_empty(),
                ),
            ),
        )
        .await;
        // The first error is the one that counts: after it the server refused the rest, the
        // transaction being aborted.
        let written: Result<(), _> =
            [begin, checkpoint, saved, ended, sent, rejected, fired, cancelled, sent_new, scheduled]
                .into_iter()
                .collect();
        let end = if written.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let over = client.batch_execute(end).await;
        // Over either way once the server answered; if it did not, the connection is dropped.
        conn.in_transaction = over.is_err();
        written.map_err(backend)?;
        over.map_err(backend)
    }
}

/// Runs `statement` with `params` if `wanted`; nothing is sent otherwise.
async fn run(
    client: &Client,
    statement: &Statement,
    params: &[&(dyn ToSql + Sync)],
    wanted: bool,
) -> Result<(), tokio_postgres::Error> {
    if wanted { client.execute(statement, params).await.map(drop) } else { Ok(()) }
}
