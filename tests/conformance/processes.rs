//! The process runner on every store: commands executed once across crashes, deadlines
//! that survive restarts and fire once, one runner at a time, rejections recorded, ended
//! instances left alone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use factum::prelude::*;
use factum::process::Steps;
use serde::{Deserialize, Serialize};

// The source of events: a job, started with a target ledger, poked, stopped.

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct JobStarted {
    pub ledger: String,
    pub amount: u64,
    /// Credit `amount` again after this many milliseconds, if set.
    pub again_after_ms: Option<u64>,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct JobPoked {
    pub amount: u64,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct JobStopped;

#[derive(Aggregate, Default, Debug, Clone)]
#[aggregate(name = "job")]
pub struct Job;

#[handlers]
impl Job {
    #[command]
    pub fn start(&self, ledger: String, amount: u64, again_after_ms: Option<u64>) -> Result<JobStarted, Never> {
        Ok(JobStarted { ledger, amount, again_after_ms })
    }

    #[command]
    pub fn poke(&self, amount: u64) -> Result<JobPoked, Never> {
        Ok(JobPoked { amount })
    }

    #[command]
    pub fn stop(&self) -> Result<JobStopped, Never> {
        Ok(JobStopped)
    }

    #[apply]
    fn started(&mut self, _: &JobStarted) {}

    #[apply]
    fn poked(&mut self, _: &JobPoked) {}

    #[apply]
    fn stopped(&mut self, _: &JobStopped) {}
}

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum Never {}

// The target: a ledger that refuses a credit of zero.

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Credited {
    pub amount: u64,
}

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum LedgerError {
    #[error("a credit must be positive")]
    ZeroCredit,
}

#[derive(Aggregate, Default, Debug, Clone)]
#[aggregate(name = "ledger")]
pub struct Ledger {
    pub balance: u64,
    pub credits: u64,
}

#[handlers]
impl Ledger {
    #[command]
    pub fn credit(&self, amount: u64) -> Result<Credited, LedgerError> {
        if amount == 0 { Err(LedgerError::ZeroCredit) } else { Ok(Credited { amount }) }
    }

    #[apply]
    fn credited(&mut self, e: &Credited) {
        self.balance += e.amount;
        self.credits += 1;
    }
}

// The process: credits the job's ledger when it starts and when poked, again when its
// deadline is due; a refused credit is counted and compensated with a credit of 1.

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Again {
    pub amount: u64,
}

#[derive(ProcessManager, Default, Debug, Clone, Serialize, Deserialize)]
#[process(name = "payout", sends = [Ledger])]
pub struct Payout {
    pub ledger: String,
    pub refused: u32,
}

#[handlers]
impl Payout {
    #[on(start)]
    fn started(&mut self, e: &JobStarted, steps: &mut Steps<Self>) {
        self.ledger = e.ledger.clone();
        steps.send::<Ledger>(&self.ledger, LedgerCommand::Credit { amount: e.amount });
        if let Some(ms) = e.again_after_ms {
            steps.schedule(Duration::from_millis(ms), Again { amount: e.amount });
        }
    }

    #[on]
    fn poked(&mut self, e: &JobPoked, steps: &mut Steps<Self>) {
        assert!(e.amount != 13, "an unlucky poke");
        steps.send::<Ledger>(&self.ledger, LedgerCommand::Credit { amount: e.amount });
    }

    #[on(end)]
    fn stopped(&mut self, _: &JobStopped) {}

    #[deadline]
    fn again(&mut self, d: Again, steps: &mut Steps<Self>) {
        steps.send::<Ledger>(&self.ledger, LedgerCommand::Credit { amount: d.amount });
    }

    #[rejected]
    fn refused(&mut self, _: &factum::process::RejectedCommand, steps: &mut Steps<Self>) {
        self.refused += 1;
        steps.send::<Ledger>(&self.ledger, LedgerCommand::Credit { amount: 1 });
    }
}

type Runner<S> = ProcessRunner<Payout, S>;

async fn runner<S: EventStore + Clone>(store: &S) -> Runner<S> {
    let ledgers = Arc::new(Repository::<Ledger, _>::new(store.clone()));
    ProcessRunner::start(store.clone(), (ledgers,)).await.unwrap()
}

async fn ledger<S: EventStore + Clone>(store: &S, id: &str) -> Ledger {
    let ledgers = Repository::<Ledger, _>::new(store.clone());
    ledgers.load(id).await.unwrap().map(|l| l.state).unwrap_or_default()
}

async fn start_job<S: EventStore + Clone>(store: &S, job: &str, ledger: &str, amount: u64, again: Option<u64>) {
    let jobs = Repository::<Job, _>::new(store.clone());
    let command = JobCommand::Start { ledger: ledger.into(), amount, again_after_ms: again };
    jobs.execute(job, command).await.unwrap();
}

/// Commands sent, deadlines fired, an instance ended: the metadata of each command says
/// where it came from.
pub async fn a_process_sends_commands_with_their_causes<S: EventStore + Clone>(store: S) {
    let jobs = Repository::<Job, _>::new(store.clone());
    let command = JobCommand::Start { ledger: "l-1".into(), amount: 5, again_after_ms: None };
    jobs.execute_with("j-1", command, Metadata::new().with_correlation_id("signup-7")).await.unwrap();
    jobs.execute("j-1", JobCommand::Poke { amount: 2 }).await.unwrap();
    let runner = runner(&store).await;
    let position = runner.catch_up().await.unwrap();
    assert_eq!(position, 2);
    assert_eq!(ledger(&store, "l-1").await.balance, 7);

    let credits = Repository::<Ledger, _>::new(store.clone()).events("l-1").await.unwrap();
    let first = &credits[0].meta.metadata;
    assert_eq!(first.correlation_id.as_deref(), Some("signup-7"));
    assert_eq!(first.causation_id.as_deref(), Some("job/j-1/1"));
    assert_eq!(first.command_id.as_deref(), Some("payout/j-1/1/0"));
    // No correlation id on the poke: its causation stands in.
    assert_eq!(credits[1].meta.metadata.correlation_id.as_deref(), Some("job/j-1/2"));

    let instance = runner.instance("j-1").await.unwrap().expect("the instance lives");
    assert_eq!(instance.ledger, "l-1");
    jobs.execute("j-1", JobCommand::Stop).await.unwrap();
    runner.catch_up().await.unwrap();
    assert!(runner.instance("j-1").await.unwrap().is_none(), "a stopped job ends its instance");
}

/// An ended instance receives nothing more: a poke after the stop sends no command.
pub async fn an_ended_instance_receives_nothing<S: EventStore + Clone>(store: S) {
    let jobs = Repository::<Job, _>::new(store.clone());
    start_job(&store, "j-1", "l-1", 5, Some(50)).await;
    jobs.execute("j-1", JobCommand::Stop).await.unwrap();
    jobs.execute("j-1", JobCommand::Poke { amount: 100 }).await.unwrap();
    let runner = runner(&store).await;
    runner.catch_up().await.unwrap();
    tokio::time::sleep(Duration::from_millis(80)).await;
    runner.catch_up().await.unwrap();
    let ledger = ledger(&store, "l-1").await;
    assert_eq!((ledger.balance, ledger.credits), (5, 1), "only the start's credit; no poke, no deadline");
    assert_eq!(store.next_deadline("payout").await.unwrap(), None, "ending cancelled the deadline");
}

/// A handler that panics stops the runner with an error naming the event; what came
/// before it is committed and its commands executed, and the next run stops there again.
pub async fn a_panicking_handler_stops_the_runner_at_its_event<S: EventStore + Clone>(store: S) {
    let jobs = Repository::<Job, _>::new(store.clone());
    start_job(&store, "j-1", "l-1", 5, None).await;
    jobs.execute("j-1", JobCommand::Poke { amount: 13 }).await.unwrap();
    jobs.execute("j-1", JobCommand::Poke { amount: 1 }).await.unwrap();
    let runner = runner(&store).await;
    for _ in 0..2 {
        let error = runner.catch_up().await.unwrap_err().to_string();
        assert!(
            error.contains(
                "process manager `payout` stopped at position 2 (stream job/j-1, version 2, event `JobPoked`)"
            ) && error.contains("an unlucky poke"),
            "{error}"
        );
        assert_eq!(runner.position().await, 1);
        assert_eq!(ledger(&store, "l-1").await.balance, 5, "the start's credit, once; nothing after the poke");
    }
    let failure = store.load_failure("process:payout").await.unwrap().expect("the stop is recorded");
    assert_eq!(failure.position, 1);
    assert!(failure.error.contains("`JobPoked`"), "{}", failure.error);
}

/// A refused command is recorded, offered to `#[rejected]`, and its compensation executed.
pub async fn a_rejected_command_is_recorded<S: EventStore + Clone>(store: S) {
    start_job(&store, "j-1", "l-1", 0, None).await;
    let runner = runner(&store).await;
    runner.catch_up().await.unwrap();
    let rejections = runner.rejections(10).await.unwrap();
    assert_eq!(rejections.len(), 1, "{rejections:?}");
    let rejected = &rejections[0];
    assert!(rejected.error.contains("a credit must be positive"), "{}", rejected.error);
    assert_eq!((rejected.command.instance.as_str(), rejected.command.stream_id.as_str()), ("j-1", "l-1"));
    assert_eq!(rejected.command.command_id(), "payout/j-1/1/0");
    assert_eq!(runner.instance("j-1").await.unwrap().unwrap().refused, 1);
    let ledger = ledger(&store, "l-1").await;
    assert_eq!((ledger.balance, ledger.credits), (1, 1), "the compensation was executed once");
    runner.catch_up().await.unwrap();
    assert_eq!(runner.rejections(10).await.unwrap().len(), 1, "recorded once");
}

/// A runner killed at any point (its task dropped while it works) and started again
/// executes every command exactly once: the commands stored before the kill are executed
/// by the next runner, and those that had reached their ledger are not carried out twice.
pub async fn a_crash_between_commit_and_commands_executes_each_once<S: EventStore + Clone>(store: S) {
    const JOBS: u64 = 60;
    for job in 0..JOBS {
        start_job(&store, &format!("j-{job}"), &format!("l-{}", job % 7), 1, None).await;
    }
    // Kill runners after a growing while (each batch of 7 events is a commit, then its
    // commands), until one finishes on its own.
    let mut delay = Duration::from_micros(200);
    let mut kills = 0;
    for _ in 0..200 {
        let runner = Arc::new(runner(&store).await.with_batch_size(7));
        let task = {
            let runner = runner.clone();
            tokio::spawn(async move { runner.catch_up().await })
        };
        tokio::time::sleep(delay).await;
        let finished = task.is_finished();
        task.abort();
        let _ = task.await;
        if finished {
            break;
        }
        kills += 1;
        delay = (delay * 2).min(Duration::from_millis(50));
    }
    // The memory store never makes a catch-up wait, so there a kill lands only between
    // runs; the white-box half below covers it. The stores on disk must have been killed.
    let on_disk = !std::any::type_name::<S>().contains("MemoryStore");
    assert!(kills > 0 || !on_disk, "no runner was killed half-way: the test proves nothing");
    runner(&store).await.catch_up().await.unwrap();
    let mut credits = 0;
    for l in 0..7 {
        credits += ledger(&store, &format!("l-{l}")).await.credits;
    }
    assert_eq!(credits, JOBS, "each job's credit executed exactly once");
    assert!(store.pending_commands("payout", 10).await.unwrap().is_empty());

    // The same, white-box: a commit whose command reached its ledger before the crash.
    let runner = runner(&store).await;
    let ledgers = Repository::<Ledger, _>::new(store.clone());
    start_job(&store, "j-late", "l-late", 3, None).await;
    let mut commit = factum::process::ProcessCommit::default();
    let metadata = Metadata::new().with_command_id("payout/j-late/manual/0");
    commit.send.push(factum::process::OutgoingCommand {
        id: 0,
        instance: "j-late".into(),
        aggregate_type: "ledger".into(),
        stream_id: "l-late".into(),
        command: r#"{"Credit":{"amount":3}}"#.into(),
        metadata: metadata.clone(),
    });
    store.commit_process("payout", commit).await.unwrap();
    ledgers.execute_with("l-late", LedgerCommand::Credit { amount: 3 }, metadata).await.unwrap();
    runner.catch_up().await.unwrap();
    let late = ledger(&store, "l-late").await;
    assert_eq!((late.balance, late.credits), (6, 2), "the stored command once, the start's once");
}

/// 1,000 instances with deadlines survive a restart and fire once each.
pub async fn deadlines_survive_a_restart_and_fire_once<S: EventStore + Clone>(store: S) {
    const JOBS: usize = 1_000;
    let jobs = Repository::<Job, _>::new(store.clone());
    for job in 0..JOBS {
        let command = JobCommand::Start { ledger: format!("l-{job}"), amount: 2, again_after_ms: Some(2_000) };
        jobs.execute(&format!("j-{job}"), command).await.unwrap();
    }
    {
        let first = runner(&store).await;
        let started = Instant::now();
        first.catch_up().await.unwrap();
        // On a machine slow enough to take that long the deadlines may be due already; the
        // counts below still hold.
        if started.elapsed() < Duration::from_millis(1_500) {
            assert!(store.next_deadline("payout").await.unwrap().is_some(), "set, and not due yet");
        }
    } // dropped: the process stops
    let second = runner(&store).await;
    let started = Instant::now();
    while store.next_deadline("payout").await.unwrap().is_some() {
        assert!(started.elapsed() < Duration::from_secs(60), "the deadlines did not fire");
        tokio::time::sleep(Duration::from_millis(50)).await;
        second.catch_up().await.unwrap();
    }
    second.catch_up().await.unwrap();
    for job in [0, 1, JOBS / 2, JOBS - 1] {
        let ledger = ledger(&store, &format!("l-{job}")).await;
        assert_eq!((ledger.balance, ledger.credits), (4, 2), "job {job}: the start's credit and the deadline's");
    }
    let mut total = 0;
    for job in 0..JOBS {
        total += ledger(&store, &format!("l-{job}")).await.credits;
    }
    assert_eq!(total as usize, 2 * JOBS);
}

/// Two runners with `run_exclusive` on one store: one runs at a time, so no deadline fires
/// twice, also when the holder is stopped and the other takes over.
pub async fn two_exclusive_runners_never_fire_a_deadline_twice<S: EventStore + Clone>(store: S) {
    const JOBS: usize = 100;
    let jobs = Repository::<Job, _>::new(store.clone());
    for job in 0..JOBS {
        let command = JobCommand::Start { ledger: format!("l-{job}"), amount: 1, again_after_ms: Some(job as u64 * 3) };
        jobs.execute(&format!("j-{job}"), command).await.unwrap();
    }
    let spawn = |runner: Runner<S>| tokio::spawn(async move { runner.run_exclusive().await });
    let a = spawn(runner(&store).await);
    let b = spawn(runner(&store).await);
    tokio::time::sleep(Duration::from_millis(120)).await;
    a.abort(); // whichever held the lease, the other may take over now
    let started = Instant::now();
    while store.next_deadline("payout").await.unwrap().is_some()
        || !store.pending_commands("payout", 1).await.unwrap().is_empty()
    {
        assert!(started.elapsed() < Duration::from_secs(60), "the deadlines did not fire");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A last check that nothing fires late, then stop.
    tokio::time::sleep(Duration::from_millis(100)).await;
    b.abort();
    let _ = (a.await, b.await);
    for job in 0..JOBS {
        let ledger = ledger(&store, &format!("l-{job}")).await;
        assert_eq!(ledger.credits, 2, "job {job}: its start and its deadline, once each");
    }
}
