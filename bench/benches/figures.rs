//! factum's own figures, printed as one Markdown table: dispatch against hand-written code,
//! rehydration from memory, SQLite and PostgreSQL (time and allocations per event), durable throughput and latency on SQLite and PostgreSQL,
//! projection catch-up on every store, and the disk's fsync rate (the ceiling of durable
//! appends). The side-by-side with cqrs-es is `bench/cqrs-es` (`--bench compare`).
//!
//! ```sh
//! url=$(bash scripts/postgres.sh start /tmp/pgbench-dir | tail -n 1)
//! FACTUM_POSTGRES_URL=$url cargo bench -p factum-bench --bench figures
//! cargo bench -p factum-bench --bench figures -- sqlite disk   # only some sections:
//! #   dispatch rehydrate sqlite postgres projections disk
//! ```
//!
//! `FACTUM_BENCH_ROUNDS` (default 5) and `FACTUM_BENCH_SECONDS` (default 1.5 per timed run
//! of the durable figures) trade time for precision. Without `--bench` it returns at once.

use std::hint::black_box;
use std::time::{Duration, Instant};

use factum::{MemoryStore, PostgresStore, SqliteStore};
use factum_bench::bank::{self, BankAccount, BankServices};
use factum_bench::hand::{self, HandAccount};
use factum_bench::measure::{Stats, fsync_append_rate, fsync_rate, run_script};
use factum_bench::table::Table;
use factum_bench::workload::{self, Load, Settings};

/// Counts allocations, for the rehydration figures' allocations per event.
#[global_allocator]
static ALLOCATOR: factum_bench::alloc::Counting = factum_bench::alloc::Counting;

/// ns per command over `scripts` fresh runs of the dispatch script.
fn dispatch_ns<A: factum::Aggregate<Services = BankServices>>(
    scripts: Vec<Vec<A::Command>>,
    per_script: usize,
    observe: fn(&A) -> u64,
) -> f64 {
    let services = BankServices::standard();
    let count = scripts.len() * per_script;
    let start = Instant::now();
    let mut sum = 0;
    for script in scripts {
        sum += run_script::<A>(black_box(script), &services, observe);
    }
    black_box(sum);
    start.elapsed().as_nanos() as f64 / count as f64
}

fn dispatch(settings: &Settings, table: &mut Table) {
    eprintln!("dispatch: handle + apply, generated against hand-written");
    const SCRIPTS: usize = 50_000;
    let per_script = bank::script().len();
    let generated =
        || dispatch_ns::<BankAccount>((0..SCRIPTS).map(|_| bank::script()).collect(), per_script, |a| a.balance);
    let by_hand =
        || dispatch_ns::<HandAccount>((0..SCRIPTS).map(|_| hand::script()).collect(), per_script, |a| a.balance);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for round in 0..settings.rounds * 3 {
        // Alternating, and alternating which goes first.
        if round % 2 == 0 {
            a.push(generated());
            b.push(by_hand());
        } else {
            b.push(by_hand());
            a.push(generated());
        }
    }
    table
        .push("dispatch", "handle + apply, ns per command: generated vs hand-written", "ns", Stats::of(&a))
        .versus(Stats::of(&b))
        .note(format!(
            "other side: the same bank, enums and `impl Aggregate` written by hand; {} rounds of {SCRIPTS} × {per_script}-command scripts",
            settings.rounds * 3
        ));
}

fn main() {
    let Some(settings) = Settings::from_env() else {
        eprintln!("figures: a benchmark; run it with `cargo bench -p factum-bench --bench figures`");
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let dir = std::env::temp_dir().join(format!("factum-figures-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut table = Table::default();
    if settings.wants("dispatch") {
        dispatch(&settings, &mut table);
    }
    runtime.block_on(async {
        if settings.wants("rehydrate") {
            eprintln!("rehydration");
            let none = async || Load { seconds: 0.0, allocations: None };
            workload::rehydration(&settings, &mut table, "memory", MemoryStore::new(), None, none).await;
            let sqlite = SqliteStore::open(dir.join("rehydrate.db")).await.expect("sqlite");
            workload::rehydration(&settings, &mut table, "sqlite", sqlite, None, none).await;
            match &settings.postgres {
                Some(url) => {
                    let schema = format!("factum_rehydrate_{}", std::process::id());
                    let store = PostgresStore::connect_with(url, &schema, 8).await.expect("PostgresStore");
                    workload::rehydration(&settings, &mut table, "postgres", store, None, none).await;
                }
                None => eprintln!("postgres rehydration: skipped, FACTUM_POSTGRES_URL is not set"),
            }
        }
        if settings.wants("sqlite") {
            eprintln!("sqlite: durable throughput (WAL, synchronous = FULL, group commit)");
            let sqlite = SqliteStore::open(dir.join("durable.db")).await.expect("sqlite");
            workload::durable(&settings, &mut table, "sqlite", &sqlite).await;
        }
        let postgres = match &settings.postgres {
            Some(url) if settings.wants("postgres") => {
                let schema = format!("factum_figures_{}", std::process::id());
                Some(PostgresStore::connect_with(url, &schema, 8).await.expect("PostgresStore"))
            }
            _ => None,
        };
        if settings.wants("postgres") {
            match &postgres {
                Some(store) => {
                    eprintln!("postgres: durable throughput (fsync on, commit-ordered positions)");
                    workload::durable(&settings, &mut table, "postgres", store).await;
                }
                None => eprintln!("postgres: skipped, FACTUM_POSTGRES_URL is not set"),
            }
        }
        if settings.wants("projections") {
            eprintln!("projections: catch-up");
            workload::catch_up(&settings, &mut table, "memory", MemoryStore::new()).await;
            let sqlite = SqliteStore::open(dir.join("projections.db")).await.expect("sqlite");
            workload::catch_up(&settings, &mut table, "sqlite", sqlite).await;
            if let Some(url) = &settings.postgres {
                // A schema of its own: the durable figures' deposits would count in the balances.
                let schema = format!("factum_projections_{}", std::process::id());
                let store = PostgresStore::connect_with(url, &schema, 8).await.expect("PostgresStore");
                workload::catch_up(&settings, &mut table, "postgres", store).await;
            }
        }
    });
    if settings.wants("disk") {
        eprintln!("disk: fsync rate in {}", dir.display());
        let probe = fsync_rate(&dir, settings.rounds, Duration::from_secs(1)).expect("fsync probe");
        table
            .push("disk", "overwrite 4 KiB + fdatasync", "flushes/s", probe)
            .note("the ceiling of one-flush-per-commit");
        let probe = fsync_append_rate(&dir, settings.rounds, Duration::from_secs(1)).expect("fsync probe");
        table.push("disk", "append 512 B + fdatasync (the file grows)", "flushes/s", probe);
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!();
    println!(
        "factum figures: {} rounds, durable runs of {} s; medians with (min–max) over rounds",
        settings.rounds,
        settings.run.as_secs_f64()
    );
    println!();
    table.print("hand-written");
}
