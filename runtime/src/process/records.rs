//! What a process runner keeps in the store: instance states, the outbox of commands, the
//! deadlines, and the commands aggregates refused. One [`ProcessCommit`] moves all of them
//! together with the runner's checkpoint, in one transaction.

use std::time::SystemTime;

use crate::envelope::Metadata;

/// The name a process manager's position in the log is stored under, among the
/// checkpoints: `process:<name>`, so that it never meets a projection of the same name.
///
/// ```
/// assert_eq!(factum::process::checkpoint_name("payment-deadline"), "process:payment-deadline");
/// ```
pub fn checkpoint_name(process: &str) -> String {
    format!("process:{process}")
}

/// A command a process manager decided to send, kept in its outbox until it has been
/// carried out.
///
/// The runner stores it in the same transaction as the instance state that decided it,
/// then executes it through the aggregate's [`Repository`](crate::Repository) with its
/// [`Metadata::command_id`]: a command that was executed and not yet marked so (a crash in
/// between) is executed again after a restart, and its stream answers the first outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingCommand {
    /// Its place in the outbox, given by the store (0 in a [`ProcessCommit`]).
    pub id: u64,
    /// The process instance that sent it.
    pub instance: String,
    /// The aggregate type of the target stream.
    pub aggregate_type: String,
    /// The target aggregate's id.
    pub stream_id: String,
    /// The command, as JSON (`{"Cancel":{"reason":"not paid in time"}}`).
    pub command: String,
    /// Correlation, causation and command ids.
    pub metadata: Metadata,
}

impl OutgoingCommand {
    /// The command id it is executed with (empty if it has none, which the runner never
    /// stores).
    pub fn command_id(&self) -> &str {
        self.metadata.command_id.as_deref().unwrap_or_default()
    }
}

/// A deadline a process instance set, to be stored by a [`ProcessCommit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeadline {
    /// The instance it fires on.
    pub instance: String,
    /// The variant of the process's deadline enum (the deadline type's name): what
    /// [`Steps::cancel`](crate::process::Steps::cancel) cancels by.
    pub kind: String,
    /// When it is due (stored to the microsecond).
    pub due_at: SystemTime,
    /// The deadline value, as JSON.
    pub payload: String,
    /// The correlation id of what set it, kept for the commands it sends.
    pub correlation_id: Option<String>,
}

/// A stored deadline, as [`EventStore::due_deadlines`](crate::EventStore::due_deadlines)
/// returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDeadline {
    /// Its id, given by the store; never reused.
    pub id: u64,
    /// What was stored.
    pub deadline: NewDeadline,
}

/// A command an aggregate refused, recorded with its error for as long as the store is
/// kept; [`ProcessRunner::rejections`](crate::process::ProcessRunner::rejections) lists
/// them, and the process's `#[rejected]` handler, if it has one, was offered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedCommand {
    /// The command as it was sent.
    pub command: OutgoingCommand,
    /// Why it was refused, as displayed.
    pub error: String,
    /// When (stored to the microsecond).
    pub rejected_at: SystemTime,
}

/// Everything one step of a process runner changes, written by
/// [`EventStore::commit_process`](crate::EventStore::commit_process) in one transaction.
///
/// The store applies it in this order: the checkpoint; the instances; `sent`, `rejected`
/// and `fired` are removed from the outbox and the deadlines (`rejected` kept as
/// records); `cancel` removes deadlines; then `send` and `schedule` are added. An instance
/// set to `None` is removed with all of its deadlines.
///
/// A runner writes these; a tool that inspects or repairs a process manager's tables may too:
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use factum::process::{NewDeadline, OutgoingCommand, ProcessCommit};
/// use factum::{EventStore, MemoryStore, Metadata};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), factum::StoreError> {
/// let store = MemoryStore::new();
/// let due_at = SystemTime::now() - Duration::from_secs(1);
/// let commit = ProcessCommit {
///     position: Some(7),
///     instances: vec![("o-1".into(), Some(r#"{"order":"o-1"}"#.into()))],
///     send: vec![OutgoingCommand {
///         id: 0,
///         instance: "o-1".into(),
///         aggregate_type: "order".into(),
///         stream_id: "o-1".into(),
///         command: r#"{"Expire":null}"#.into(),
///         metadata: Metadata::new().with_command_id("payment-window/o-1/7/0"),
///     }],
///     schedule: vec![NewDeadline {
///         instance: "o-1".into(),
///         kind: "PaymentDue".into(),
///         due_at,
///         payload: r#"{"PaymentDue":null}"#.into(),
///         correlation_id: None,
///     }],
///     ..ProcessCommit::default()
/// };
/// store.commit_process("payment-window", commit).await?;
///
/// let pending = store.pending_commands("payment-window", 10).await?;
/// assert_eq!(pending[0].command_id(), "payment-window/o-1/7/0");
/// let due = store.due_deadlines("payment-window", SystemTime::now(), 10).await?;
/// assert_eq!((due[0].deadline.instance.as_str(), due[0].deadline.kind.as_str()), ("o-1", "PaymentDue"));
/// let checkpoint = store.load_checkpoint(&factum::process::checkpoint_name("payment-window")).await?;
/// assert_eq!(checkpoint.map(|c| c.position), Some(7));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessCommit {
    /// The runner's new position in the log, if it moved.
    pub position: Option<u64>,
    /// Instance states, as JSON; `None` ends the instance.
    pub instances: Vec<(String, Option<String>)>,
    /// Commands to add to the outbox.
    pub send: Vec<OutgoingCommand>,
    /// Outbox entries that were carried out.
    pub sent: Vec<u64>,
    /// Outbox entries an aggregate refused, with the error; kept as [`RejectedCommand`]s.
    pub rejected: Vec<(u64, String)>,
    /// Deadlines to add.
    pub schedule: Vec<NewDeadline>,
    /// Deadlines to remove, by instance and kind.
    pub cancel: Vec<(String, String)>,
    /// Deadlines that fired, by id.
    pub fired: Vec<u64>,
}

impl ProcessCommit {
    /// True when it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.position.is_none()
            && self.instances.is_empty()
            && self.send.is_empty()
            && self.sent.is_empty()
            && self.rejected.is_empty()
            && self.schedule.is_empty()
            && self.cancel.is_empty()
            && self.fired.is_empty()
    }
}
