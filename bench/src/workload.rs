//! The workloads of the figures, generic over factum's stores, shared by both comparison
//! binaries.

use std::sync::Arc;
use std::time::{Duration, Instant};

use factum::prelude::*;
use factum::{NewEvent, Snapshot, StreamRef};

use crate::bank::{
    AccountOpened, BalancesAnswer, BalancesQuery, BankAccount, BankAccountCommand, BankAccountEvent, BankServices,
    MoneyDeposited,
};
use crate::measure::Stats;
use crate::table::{Table, latency_note, num};

/// What a run of a comparison binary measures, from its arguments and environment.
pub struct Settings {
    /// Rounds per figure (`FACTUM_BENCH_ROUNDS`, default 5).
    pub rounds: usize,
    /// Length of one timed run of the durable figures (`FACTUM_BENCH_SECONDS`, default 1.5).
    pub run: Duration,
    /// The sections named on the command line; all when empty.
    pub sections: Vec<String>,
    /// `FACTUM_POSTGRES_URL`.
    pub postgres: Option<String>,
}

impl Settings {
    /// From the process's arguments and environment; `None` unless cargo bench passed
    /// `--bench` (under `cargo test` the benches do nothing).
    pub fn from_env() -> Option<Settings> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        if !args.iter().any(|arg| arg == "--bench") {
            return None;
        }
        let number =
            |name: &str, default: f64| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
        Some(Settings {
            rounds: number("FACTUM_BENCH_ROUNDS", 5.0).max(1.0) as usize,
            run: Duration::from_secs_f64(number("FACTUM_BENCH_SECONDS", 1.5)),
            sections: args.into_iter().filter(|a| !a.starts_with('-')).collect(),
            postgres: std::env::var("FACTUM_POSTGRES_URL").ok(),
        })
    }

    pub fn wants(&self, section: &str) -> bool {
        self.sections.is_empty() || self.sections.iter().any(|s| s == section)
    }
}

pub fn deposit() -> BankAccountCommand {
    BankAccountCommand::Deposit { amount: 1 }
}

pub fn open() -> BankAccountCommand {
    BankAccountCommand::Open { owner: "Ada".to_owned() }
}

pub fn encoded(event: BankAccountEvent) -> NewEvent {
    NewEvent { name: event.name(), version: event.version(), payload: event.encode().expect("bank events encode") }
}

/// Appends an account with `len` events to `store`: opened, then deposits of 1, in
/// batches of 1,000.
pub async fn seed<S: EventStore>(store: &S, id: &str, len: usize) {
    let stream = StreamRef::new(<BankAccount as AggregateType>::NAME, id);
    let mut version = 0u64;
    while (version as usize) < len {
        let count = (len - version as usize).min(1000);
        let batch: Vec<NewEvent> = (0..count)
            .map(|i| {
                if version == 0 && i == 0 {
                    encoded(AccountOpened { owner: "Ada".to_owned() }.into())
                } else {
                    encoded(MoneyDeposited { amount: 1 }.into())
                }
            })
            .collect();
        version = store.append(stream, version, &Metadata::new(), batch).await.expect("seeding appends").version;
    }
}

// ---- Rehydration ----

pub const REHYDRATION_LENGTH: usize = 100_000;

/// One load of `id` into a fresh repository (cold cache): snapshot, then the events after it.
pub struct Load {
    pub seconds: f64,
    /// What the load allocated (every thread), if the binary counts allocations.
    pub allocations: Option<crate::alloc::Count>,
}

/// Loads `id` into a fresh repository and checks the state: `len` events, all but the first
/// a deposit of 1.
pub async fn load<S: EventStore + Clone>(store: &S, id: &str, len: usize) -> Load {
    let repo = Repository::<BankAccount, _>::with_services(store.clone(), BankServices::standard());
    let (load, loaded) = measured(repo.load(id)).await;
    let loaded = loaded.expect("load").expect("exists");
    assert_eq!((loaded.version, loaded.state.balance), (len as u64, len as u64 - 1));
    load
}

/// Runs `work`, timing it and counting what it allocates.
pub async fn measured<T>(work: impl Future<Output = T>) -> (Load, T) {
    let before = crate::alloc::allocations();
    let start = Instant::now();
    let out = work.await;
    let seconds = start.elapsed().as_secs_f64();
    let after = crate::alloc::allocations();
    (Load { seconds, allocations: after.zip(before).map(|(after, before)| after.since(before)) }, out)
}

/// Seeds two accounts of `len` events, `plain` and `snap`, the latter with a snapshot at its end.
pub async fn seed_rehydration<S: EventStore>(store: &S, len: usize) {
    seed(store, "plain", len).await;
    seed(store, "snap", len).await;
    let state = BankAccount { open: true, balance: len as u64 - 1 };
    let codec = <BankAccount as AggregateType>::SNAPSHOT.expect("the bench bank takes snapshots");
    let snapshot = Snapshot {
        version: len as u64,
        fingerprint: <BankAccount as AggregateType>::FINGERPRINT,
        state: (codec.encode)(&state).expect("encode"),
    };
    store
        .save_snapshot(StreamRef::new(<BankAccount as AggregateType>::NAME, "snap"), snapshot)
        .await
        .expect("snapshot");
}

/// Rows: loading a 100,000-event account without and with a snapshot, and, if the binary
/// counts allocations, the allocations per event of a load without one. `other_load`: one
/// load of the other side (same account, no snapshot), measured in alternation; with
/// `label` `None` there is no other side and `other_load` is never called.
pub async fn rehydration<S: EventStore + Clone>(
    settings: &Settings,
    table: &mut Table,
    section: &'static str,
    store: S,
    label: Option<&str>,
    mut other_load: impl AsyncFnMut() -> Load,
) {
    const LEN: usize = REHYDRATION_LENGTH;
    seed_rehydration(&store, LEN).await;
    let (mut plain, mut snap, mut other) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..settings.rounds {
        plain.push(load(&store, "plain", LEN).await);
        if label.is_some() {
            other.push(other_load().await);
        }
        snap.push(load(&store, "snap", LEN).await);
    }
    let seconds = |loads: &[Load]| Stats::of(&loads.iter().map(|l| l.seconds).collect::<Vec<_>>());
    let rate = |s: Stats| s.map(|secs| LEN as f64 / secs);
    let plain_s = seconds(&plain);
    let row = table.push(section, "rehydration, 100,000-event aggregate, no snapshot", "events/s", rate(plain_s));
    let mut note = format!("factum {} ms per load", num(plain_s.median * 1e3));
    if let Some(label) = label {
        let other = seconds(&other);
        row.versus(rate(other));
        note.push_str(&format!("; {label} {} ms", num(other.median * 1e3)));
    }
    row.note(note);
    if let Some(per_event) = allocations_per_event(&plain, LEN) {
        let bytes: Vec<f64> = plain.iter().filter_map(|l| l.allocations).map(|c| c.bytes as f64 / LEN as f64).collect();
        let bytes = Stats::of(&bytes);
        let mut note =
            format!("every allocation during the load, all threads; {} bytes requested per event", num(bytes.median));
        if let Some(label) = label
            && let Some(other) = allocations_per_event(&other, LEN)
        {
            note.push_str(&format!("; {label}: {} allocations per event", num(other.median)));
        }
        table.push(section, "rehydration, allocations per event, no snapshot", "allocs/event", per_event).note(note);
    }
    // Only the first load of "plain" read it for the first time (a store that keeps what it
    // decoded, the MemoryStore, decodes it then): the first load of a fresh stream, each
    // round. After the rows above, so that the other side ran beside a heap of the same size.
    let mut first = Vec::new();
    for round in 0..settings.rounds {
        let fresh = format!("first-{round}");
        seed(&store, &fresh, LEN).await;
        first.push(load(&store, &fresh, LEN).await);
    }
    let first = seconds(&first);
    table
        .push(section, "rehydration, first load of a 100,000-event aggregate, no snapshot", "events/s", rate(first))
        .note(format!(
            "{} ms per load: a stream no load has read before (the row above loads one stream again and again)",
            num(first.median * 1e3)
        ));
    let snap = seconds(&snap);
    table
        .push(section, "rehydration, 100,000-event aggregate, snapshot at its end", "events/s", rate(snap))
        .note(format!("{} µs per load: the snapshot and an empty tail", num(snap.median * 1e6)));
}

/// Allocations per event over `loads` of `len` events; `None` if they were not counted.
fn allocations_per_event(loads: &[Load], len: usize) -> Option<Stats> {
    let counts: Option<Vec<f64>> =
        loads.iter().map(|l| l.allocations.map(|c| c.allocations as f64 / len as f64)).collect();
    counts.filter(|c| !c.is_empty()).map(|c| Stats::of(&c))
}

// ---- Durable stores ----

/// One timed run: the rate, and the latency of each operation in µs.
pub struct Run {
    pub rate: f64,
    pub latencies_us: Vec<f64>,
}

/// Commands on short streams for `run`: each writer opens an account and deposits into it 19
/// times (a stream of 20 events), then takes the next account.
pub async fn commands<S: EventStore + Clone>(store: &S, writers: usize, run: Duration, tag: &str) -> Run {
    let repo = Arc::new(Repository::<BankAccount, _>::with_services(store.clone(), BankServices::standard()));
    drive(writers, run, tag, move |id, first| {
        let repo = repo.clone();
        async move {
            let command = if first { open() } else { deposit() };
            repo.execute(&id, command).await.expect("command");
        }
    })
    .await
}

/// The writers of a command-throughput figure, whatever executes the commands: `writers`
/// tasks run for `run`, each taking accounts `{tag}-w{writer}-a{n}` one after another and
/// sending each 20 commands (`first` is true for the one that opens it), timed one by one.
pub async fn drive<E, F>(writers: usize, run: Duration, tag: &str, execute: E) -> Run
where
    E: Fn(String, bool) -> F + Clone + Send + 'static,
    F: Future<Output = ()> + Send,
{
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let execute = execute.clone();
        let tag = format!("{tag}-w{w}");
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut account = 0;
            while start.elapsed() < run {
                let id = format!("{tag}-a{account}");
                for n in 0..20 {
                    let t = Instant::now();
                    execute(id.clone(), n == 0).await;
                    latencies.push(t.elapsed().as_secs_f64() * 1e6);
                }
                account += 1;
            }
            latencies
        }));
    }
    let mut latencies_us = Vec::new();
    for task in tasks {
        latencies_us.extend(task.await.expect("writer"));
    }
    Run { rate: latencies_us.len() as f64 / start.elapsed().as_secs_f64(), latencies_us }
}

/// Raw appends of `batch` events at a time for `run`, each writer on its own stream; events/s.
pub async fn appends<S: EventStore + Clone>(store: &S, writers: usize, batch: usize, run: Duration, tag: &str) -> Run {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        let id = format!("{tag}-w{w}");
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut version = 0;
            let stream = StreamRef::new("append-bench", &id);
            while start.elapsed() < run {
                let events = (0..batch).map(|_| encoded(MoneyDeposited { amount: 1 }.into())).collect();
                let t = Instant::now();
                version = store.append(stream, version, &Metadata::new(), events).await.expect("append").version;
                latencies.push(t.elapsed().as_secs_f64() * 1e6);
            }
            latencies
        }));
    }
    let mut latencies_us = Vec::new();
    for task in tasks {
        latencies_us.extend(task.await.expect("writer"));
    }
    Run { rate: (latencies_us.len() * batch) as f64 / start.elapsed().as_secs_f64(), latencies_us }
}

/// The disk's flush rates (medians, flushes/s), measured in the same run as the durable
/// figures, which are quoted as events per flush of them.
#[derive(Debug, Clone)]
pub struct Flushes {
    /// Where the store's files are: each round of single-event appends is followed by a
    /// short growing-file probe here, since the disk's rate moves within one run.
    pub dir: std::path::PathBuf,
    /// Overwriting 4 KiB and `fdatasync`: the ceiling of one flush per commit.
    pub overwrite: f64,
    /// Appending 512 B and `fdatasync` (the file grows, so its metadata is flushed too).
    pub append: f64,
}

/// Rows: commands with 1 and 8 writers; appends of 1 and 100 events with 1 and 8 writers.
/// Single-event appends run side by side, round by round, with `floor` (`floor_label`: the
/// same inserts and commits done directly with the engine's client, in the simplest loop,
/// called with the writers, the run's length and a tag for its streams), and are quoted in
/// events per flush of `disk`.
pub async fn durable<S: EventStore + Clone>(
    settings: &Settings,
    table: &mut Table,
    section: &'static str,
    store: &S,
    disk: Option<Flushes>,
    floor_label: &str,
    mut floor: impl AsyncFnMut(usize, Duration, String) -> Run,
) {
    for writers in [1, 8] {
        let mut rates = Vec::new();
        let mut latencies = Vec::new();
        for round in 0..settings.rounds {
            let run = commands(store, writers, settings.run, &format!("cmd-{writers}-{round}")).await;
            rates.push(run.rate);
            latencies.extend(run.latencies_us);
        }
        table
            .push(section, format!("commands/s, {writers} writer(s), streams of 20 events"), "cmd/s", Stats::of(&rates))
            .note(latency_note("command", &latencies));
    }
    for batch in [1, 100] {
        for writers in [1, 8] {
            let mut rates = Vec::new();
            let mut latencies = Vec::new();
            let (mut floor_rates, mut floor_latencies) = (Vec::new(), Vec::new());
            let (mut per_flush, mut floor_per_flush) = (Vec::new(), Vec::new());
            for round in 0..settings.rounds {
                let run = appends(store, writers, batch, settings.run, &format!("app-{batch}-{writers}-{round}")).await;
                let rate = run.rate;
                rates.push(rate);
                latencies.extend(run.latencies_us);
                if batch == 1 {
                    let run = floor(writers, settings.run, format!("floor-{writers}-{round}")).await;
                    floor_rates.push(run.rate);
                    floor_latencies.extend(run.latencies_us);
                    if let Some(disk) = &disk {
                        let probe = crate::measure::fsync_append_rate(&disk.dir, 1, Duration::from_millis(500))
                            .expect("fsync probe");
                        per_flush.push(rate / probe.median);
                        floor_per_flush.push(run.rate / probe.median);
                    }
                }
            }
            let rates = Stats::of(&rates);
            let row =
                table.push(section, format!("appends of {batch} event(s), {writers} writer(s)"), "events/s", rates);
            let mut note = latency_note("append", &latencies);
            if batch == 1 {
                let floor_rates = Stats::of(&floor_rates);
                row.versus(floor_rates);
                note = format!(
                    "{note}; other side: {floor_label}, one insert and commit per event, {}",
                    latency_note("its", &floor_latencies)
                );
                if let Some(disk) = &disk {
                    note = format!(
                        "{note}; **{:.2} events per flush** of the growing file probed beside each round ({:.2} of \
                         the run's growing-file median, {:.2} of its overwrite), {floor_label} {:.2}",
                        Stats::of(&per_flush).median,
                        rates.median / disk.append,
                        rates.median / disk.overwrite,
                        Stats::of(&floor_per_flush).median,
                    );
                }
            }
            row.note(note);
        }
    }
}

// ---- Projections ----

/// Row: events applied per second by a full rebuild of the balances projection over 1,000
/// accounts of 100 events (99,000 deposits among 100,000 events).
pub async fn catch_up<S: EventStore + Clone>(settings: &Settings, table: &mut Table, section: &'static str, store: S) {
    for i in 0..1000 {
        seed(&store, &format!("proj-{i}"), 100).await;
    }
    let runner = ProjectionRunner::<crate::bank::Balances, _>::start(store).await.expect("projection");
    let mut seconds = Vec::new();
    for _ in 0..settings.rounds {
        let start = Instant::now();
        runner.rebuild().await.expect("rebuild");
        seconds.push(start.elapsed().as_secs_f64());
        assert_eq!(runner.ask(BalancesQuery::Total).await, BalancesAnswer::Total(99_000));
    }
    let seconds = Stats::of(&seconds);
    table
        .push(
            section,
            "projection catch-up (full rebuild), 100,000-event log",
            "events/s",
            seconds.map(|s| 99_000.0 / s),
        )
        .note(format!(
            "{} ms for the 99,000 events it subscribes to; a checkpoint (state + position) every 1,000",
            num(seconds.median * 1e3)
        ));
}
