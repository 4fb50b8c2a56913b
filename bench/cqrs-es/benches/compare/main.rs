//! factum and cqrs-es 0.5 side by side on the same bank workload (same commands, events,
//! checks, services and read model), alternating round by round in one process, printed as
//! one Markdown table with medians, spread and the ratio factum / cqrs-es.
//!
//! ```sh
//! url=$(bash scripts/postgres.sh start /tmp/pgbench-dir | tail -n 1)
//! cd bench/cqrs-es && FACTUM_POSTGRES_URL=$url cargo bench --bench compare
//! cargo bench --bench compare -- memory     # only some sections: memory rehydrate postgres
//! # (rehydration from PostgreSQL runs with `rehydrate` and with `postgres`)
//! ```
//!
//! `FACTUM_BENCH_ROUNDS` (default 5) and `FACTUM_BENCH_SECONDS` (default 1.5, per timed run
//! of the PostgreSQL figures) trade time for precision. Without `--bench` it returns at
//! once. stdout goes to /dev/null while measuring, for both sides: cqrs-es's MemStore
//! prints a line on every load and commit. Progress goes to stderr; the table is printed to
//! stdout at the end.

mod cqrs_bank;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cqrs_es::mem_store::{MemStore, MemStoreAggregateContext};
use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{CqrsFramework, EventStore as _, Query};
use factum::PostgresStore;
use factum::prelude::*;
use factum_bench::bank::{
    self, AccountOpened, BalancesAnswer, BalancesQuery, BankAccount, BankServices, MoneyDeposited,
};
use factum_bench::measure::{Silenced, Stats};
use factum_bench::table::{Table, latency_note, num};
use factum_bench::workload::{self, Run, Settings, deposit, open};
use postgres_es::{PostgresCqrs, PostgresEventRepository};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Pool, Postgres};

use cqrs_bank::{CqrsBalances, CqrsBankAccount, CqrsBankCommand, CqrsBankEvent, SharedBalances};

/// Counts allocations, for the rehydration figures' allocations per event (both sides).
#[global_allocator]
static ALLOCATOR: factum_bench::alloc::Counting = factum_bench::alloc::Counting;

fn cqrs_deposit() -> CqrsBankCommand {
    CqrsBankCommand::Deposit { amount: 1 }
}

fn cqrs_open() -> CqrsBankCommand {
    CqrsBankCommand::Open { owner: "Ada".to_owned() }
}

fn cqrs_events(len: usize) -> Vec<CqrsBankEvent> {
    (0..len)
        .map(|i| {
            if i == 0 {
                CqrsBankEvent::AccountOpened(AccountOpened { owner: "Ada".to_owned() })
            } else {
                CqrsBankEvent::MoneyDeposited(MoneyDeposited { amount: 1 })
            }
        })
        .collect()
}

/// An account of `len` events (opened, then deposits of 1), committed in one go.
async fn seed_mem_store(store: &MemStore<CqrsBankAccount>, id: &str, len: usize) {
    let context = MemStoreAggregateContext {
        aggregate_id: id.to_owned(),
        aggregate: CqrsBankAccount::default(),
        current_sequence: 0,
    };
    store.commit(cqrs_events(len), context, HashMap::new()).await.expect("seeding the MemStore");
}

// ---- In memory ----

/// Whether a command also updates the balances read model, and how factum's is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadModel {
    /// No read model.
    None,
    /// factum: `ProjectionRunner::start` and `Repository::with_inline`, nothing tuned (what
    /// the examples and docs show); cqrs-es: a `Query`.
    Defaults,
    /// factum: the same, with the checkpoint written every 10,000 events or 10 s.
    Tuned,
}

/// Commands/s: open 1,000 accounts, then 10 deposits each, round robin (streams of 1–11 events).
async fn factum_many(accounts: &[String], per_account: usize, read_model: ReadModel) -> f64 {
    let store = MemoryStore::new();
    let mut repo = Repository::<BankAccount, _>::with_services(store.clone(), BankServices::standard());
    let balances = if read_model == ReadModel::None {
        None
    } else {
        let mut runner = ProjectionRunner::<bank::Balances, _>::start(store.clone()).await.expect("projection");
        if read_model == ReadModel::Tuned {
            runner = runner.with_checkpoint_every(10_000, Duration::from_secs(10));
        }
        let runner = Arc::new(runner);
        repo = repo.with_inline(runner.clone());
        Some(runner)
    };
    for id in accounts {
        repo.execute(id, open()).await.expect("open");
    }
    let start = Instant::now();
    for _ in 0..per_account {
        for id in accounts {
            repo.execute(id, deposit()).await.expect("deposit");
        }
    }
    let elapsed = start.elapsed();
    let last = repo.load(&accounts[accounts.len() - 1]).await.expect("load").expect("exists");
    assert_eq!(last.state.balance, per_account as u64);
    if let Some(balances) = balances {
        let total = (accounts.len() * per_account) as u64;
        assert_eq!(balances.ask(BalancesQuery::Total).await, BalancesAnswer::Total(total));
    }
    (accounts.len() * per_account) as f64 / elapsed.as_secs_f64()
}

async fn cqrs_many(accounts: &[String], per_account: usize, read_model: ReadModel) -> f64 {
    let inline = read_model != ReadModel::None;
    let store = MemStore::<CqrsBankAccount>::default();
    let balances = Arc::new(CqrsBalances::default());
    let queries: Vec<Box<dyn Query<CqrsBankAccount>>> =
        if inline { vec![Box::new(SharedBalances(balances.clone()))] } else { Vec::new() };
    let cqrs = CqrsFramework::new(store.clone(), queries, BankServices::standard());
    for id in accounts {
        cqrs.execute(id, cqrs_open()).await.expect("open");
    }
    let start = Instant::now();
    for _ in 0..per_account {
        for id in accounts {
            cqrs.execute(id, cqrs_deposit()).await.expect("deposit");
        }
    }
    let elapsed = start.elapsed();
    let last = store.load_aggregate(&accounts[accounts.len() - 1]).await.expect("load");
    assert_eq!(last.aggregate.balance(), per_account as u64);
    if inline {
        assert_eq!(balances.total(), (accounts.len() * per_account) as u64);
    }
    (accounts.len() * per_account) as f64 / elapsed.as_secs_f64()
}

/// µs per command on one account whose stream holds `len` events, over `commands` commands.
async fn factum_hot(len: usize, commands: usize) -> f64 {
    let store = MemoryStore::new();
    workload::seed(&store, "hot", len).await;
    let repo = Repository::<BankAccount, _>::with_services(store, BankServices::standard());
    repo.execute("hot", deposit()).await.expect("warm-up");
    let start = Instant::now();
    for _ in 0..commands {
        repo.execute("hot", deposit()).await.expect("deposit");
    }
    let elapsed = start.elapsed();
    let loaded = repo.load("hot").await.expect("load").expect("exists");
    assert_eq!(loaded.state.balance, (len + commands) as u64);
    elapsed.as_secs_f64() * 1e6 / commands as f64
}

/// The same on cqrs-es's MemStore: at most `commands` commands or `budget`, at least 3.
async fn cqrs_hot(len: usize, commands: usize, budget: Duration) -> f64 {
    let store = MemStore::<CqrsBankAccount>::default();
    seed_mem_store(&store, "hot", len).await;
    let cqrs = CqrsFramework::new(store.clone(), Vec::new(), BankServices::standard());
    cqrs.execute("hot", cqrs_deposit()).await.expect("warm-up");
    let start = Instant::now();
    let mut done = 0;
    while done < commands && (done < 3 || start.elapsed() < budget) {
        cqrs.execute("hot", cqrs_deposit()).await.expect("deposit");
        done += 1;
    }
    let elapsed = start.elapsed();
    let loaded = store.load_aggregate("hot").await.expect("load");
    assert_eq!(loaded.aggregate.balance(), (len + done) as u64);
    elapsed.as_secs_f64() * 1e6 / done as f64
}

async fn memory(settings: &Settings, table: &mut Table) {
    eprintln!("memory: command throughput, factum MemoryStore against cqrs-es MemStore");
    let accounts: Vec<String> = (0..1000).map(|i| format!("acc-{i}")).collect();
    for read_model in [ReadModel::None, ReadModel::Defaults, ReadModel::Tuned] {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..settings.rounds {
            a.push(factum_many(&accounts, 10, read_model).await);
            b.push(cqrs_many(&accounts, 10, read_model).await);
        }
        let (figure, note) = match read_model {
            ReadModel::None => (
                "commands/s, 1,000 accounts (streams of 1–11 events)",
                "each round: open 1,000 accounts, then 10 deposits each, round robin",
            ),
            ReadModel::Defaults => (
                "commands/s, 1,000 accounts, balances read model updated after each commit, defaults",
                "factum: `Repository::with_inline(ProjectionRunner<Balances>)` as started, nothing tuned; cqrs-es: a `Query` folding the same map",
            ),
            ReadModel::Tuned => (
                "commands/s, 1,000 accounts, balances read model updated after each commit, tuned",
                "factum: the same, `with_checkpoint_every(10_000, 10 s)`; cqrs-es: the same `Query` (it stores nothing)",
            ),
        };
        table.push("memory", figure, "cmd/s", Stats::of(&a)).versus(Stats::of(&b)).note(note);
    }
    let mut costs = Vec::new();
    for len in [1_000, 10_000, 100_000] {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..settings.rounds {
            a.push(factum_hot(len, 500).await);
            b.push(cqrs_hot(len, 500, Duration::from_millis(500)).await);
        }
        let (a, b) = (Stats::of(&a), Stats::of(&b));
        costs.push(a.median);
        let rate = |s: &Stats| s.map(|us| 1e6 / us);
        table
            .push("memory", format!("commands/s, one hot account of {} events", num(len as f64)), "cmd/s", rate(&a))
            .versus(rate(&b))
            .note(format!(
                "µs per command: factum {}, cqrs-es {}; factum 500 commands a round, cqrs-es up to 500 or 0.5 s",
                num(a.median),
                num(b.median)
            ));
    }
    let spread = costs.iter().copied().fold(f64::MIN, f64::max) / costs.iter().copied().fold(f64::MAX, f64::min);
    let note = &mut table.rows.last_mut().expect("rows").note;
    note.push_str(&format!("; factum's cost per command, largest / smallest over 1k–100k: {spread:.2}×"));
}

// ---- PostgreSQL ----

async fn postgres_es_pool(url: &str, schema: &str) -> Pool<Postgres> {
    let pool = PgPoolOptions::new().max_connections(8).connect(url).await.expect("postgres-es pool");
    // postgres-es's own schema (its db/init.sql), in a schema of its own.
    let ddl = format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema};
         CREATE TABLE {schema}.events (
             aggregate_type text NOT NULL, aggregate_id text NOT NULL,
             sequence bigint CHECK (sequence >= 0) NOT NULL,
             event_type text NOT NULL, event_version text NOT NULL,
             payload json NOT NULL, metadata json NOT NULL,
             PRIMARY KEY (aggregate_type, aggregate_id, sequence));
         CREATE TABLE {schema}.snapshots (
             aggregate_type text NOT NULL, aggregate_id text NOT NULL,
             last_sequence bigint CHECK (last_sequence >= 0) NOT NULL,
             current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL,
             payload json NOT NULL,
             PRIMARY KEY (aggregate_type, aggregate_id, last_sequence));"
    );
    sqlx::raw_sql(&ddl).execute(&pool).await.expect("postgres-es tables");
    pool
}

fn postgres_es_repo(pool: &Pool<Postgres>, schema: &str) -> PostgresEventRepository {
    PostgresEventRepository::new(pool.clone()).with_tables(&format!("{schema}.events"), &format!("{schema}.snapshots"))
}

/// An account of `len` events in postgres-es's table, as cqrs-es would have written it.
async fn seed_postgres_es(pool: &Pool<Postgres>, schema: &str, id: &str, len: usize) {
    let sql = format!(
        "INSERT INTO {schema}.events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         SELECT 'bank-account', $1, s,
                CASE WHEN s = 1 THEN 'AccountOpened' ELSE 'MoneyDeposited' END, '1',
                CASE WHEN s = 1 THEN $3::json ELSE $4::json END, '{{}}'::json
         FROM generate_series(1, $2::bigint) AS s"
    );
    let events = cqrs_events(2);
    let opened = serde_json::to_string(&events[0]).expect("json");
    let deposited = serde_json::to_string(&events[1]).expect("json");
    sqlx::query(&sql).bind(id).bind(len as i64).bind(opened).bind(deposited).execute(pool).await.expect("seeding");
}

async fn cqrs_commands(cqrs: &Arc<PostgresCqrs<CqrsBankAccount>>, writers: usize, run: Duration, tag: &str) -> Run {
    let cqrs = cqrs.clone();
    workload::drive(writers, run, tag, move |id, first| {
        let cqrs = cqrs.clone();
        async move {
            let command = if first { cqrs_open() } else { cqrs_deposit() };
            cqrs.execute(&id, command).await.expect("command");
        }
    })
    .await
}

async fn postgres(settings: &Settings, table: &mut Table, url: &str) {
    let tag = std::process::id();
    let cqrs_schema = format!("cqrs_bench_{tag}");
    let store = PostgresStore::connect_with(url, &format!("factum_bench_{tag}"), 8).await.expect("PostgresStore");
    let pool = postgres_es_pool(url, &cqrs_schema).await;
    let cqrs = Arc::new(CqrsFramework::new(
        PersistedEventStore::new_event_store(postgres_es_repo(&pool, &cqrs_schema)),
        Vec::new(),
        BankServices::standard(),
    ));

    eprintln!("postgres: commands, factum PostgresStore against postgres-es, same server");
    for writers in [1, 8] {
        let (mut a, mut b, mut la, mut lb) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for round in 0..settings.rounds {
            let run = workload::commands(&store, writers, settings.run, &format!("cmd-{writers}-{round}")).await;
            a.push(run.rate);
            la.extend(run.latencies_us);
            let run = cqrs_commands(&cqrs, writers, settings.run, &format!("cmd-{writers}-{round}")).await;
            b.push(run.rate);
            lb.extend(run.latencies_us);
        }
        table
            .push("postgres", format!("commands/s, {writers} client(s), streams of 20 events"), "cmd/s", Stats::of(&a))
            .versus(Stats::of(&b))
            .note(format!("{}; {}", latency_note("factum", &la), latency_note("postgres-es", &lb)));
    }

    // One client, one account of 1,000 events (and a few more as the rounds go by).
    workload::seed(&store, "long", 1000).await;
    seed_postgres_es(&pool, &cqrs_schema, "long", 1000).await;
    let repo = Repository::<BankAccount, _>::with_services(store.clone(), BankServices::standard());
    repo.execute("long", deposit()).await.expect("warm-up");
    cqrs.execute("long", cqrs_deposit()).await.expect("warm-up");
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..settings.rounds {
        let start = Instant::now();
        let mut done = 0usize;
        while start.elapsed() < settings.run / 3 {
            repo.execute("long", deposit()).await.expect("deposit");
            done += 1;
        }
        a.push(done as f64 / start.elapsed().as_secs_f64());
        let start = Instant::now();
        let mut done = 0usize;
        while start.elapsed() < settings.run / 3 {
            cqrs.execute("long", cqrs_deposit()).await.expect("deposit");
            done += 1;
        }
        b.push(done as f64 / start.elapsed().as_secs_f64());
    }
    let (a, b) = (Stats::of(&a), Stats::of(&b));
    table.push("postgres", "commands/s, 1 client, one account of 1,000+ events", "cmd/s", a).versus(b).note(format!(
        "ms per command: factum {}, postgres-es {}",
        num(1e3 / a.median),
        num(1e3 / b.median)
    ));
}

/// Rows: rehydration of a 100,000-event account from PostgreSQL, factum against postgres-es.
async fn postgres_rehydration(settings: &Settings, table: &mut Table, url: &str) {
    eprintln!("postgres: rehydration");
    let tag = std::process::id();
    let cqrs_schema = format!("cqrs_rehydrate_{tag}");
    let pool = postgres_es_pool(url, &cqrs_schema).await;
    seed_postgres_es(&pool, &cqrs_schema, "plain", workload::REHYDRATION_LENGTH).await;
    let es_store = PersistedEventStore::<_, CqrsBankAccount>::new_event_store(postgres_es_repo(&pool, &cqrs_schema));
    let load = async || {
        let (load, loaded) = workload::measured(es_store.load_aggregate("plain")).await;
        assert_eq!(loaded.expect("load").aggregate.balance(), workload::REHYDRATION_LENGTH as u64 - 1);
        load
    };
    let rehydration = PostgresStore::connect_with(url, &format!("factum_rehydrate_{tag}"), 8).await.expect("store");
    workload::rehydration(settings, table, "postgres", rehydration, Some("postgres-es"), load).await;
}

fn main() {
    let Some(settings) = Settings::from_env() else {
        eprintln!("compare: a benchmark; run it with `cargo bench --bench compare` in bench/cqrs-es");
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let mut table = Table::default();
    let silenced = Silenced::stdout().expect("stdout to /dev/null");
    runtime.block_on(async {
        if settings.wants("memory") {
            memory(&settings, &mut table).await;
        }
        if settings.wants("rehydrate") {
            eprintln!("memory: rehydration");
            let seeded = MemStore::<CqrsBankAccount>::default();
            seed_mem_store(&seeded, "plain", workload::REHYDRATION_LENGTH).await;
            let load = async || {
                let (load, loaded) = workload::measured(seeded.load_aggregate("plain")).await;
                assert_eq!(loaded.expect("load").aggregate.balance(), workload::REHYDRATION_LENGTH as u64 - 1);
                load
            };
            workload::rehydration(&settings, &mut table, "memory", MemoryStore::new(), Some("cqrs-es MemStore"), load)
                .await;
        }
        if settings.wants("postgres") {
            match &settings.postgres {
                Some(url) => postgres(&settings, &mut table, url).await,
                None => eprintln!("postgres: skipped, FACTUM_POSTGRES_URL is not set"),
            }
        }
        // Rehydration from PostgreSQL belongs to both sections; it runs once.
        if settings.wants("rehydrate") || settings.wants("postgres") {
            match &settings.postgres {
                Some(url) => postgres_rehydration(&settings, &mut table, url).await,
                None => eprintln!("postgres rehydration: skipped, FACTUM_POSTGRES_URL is not set"),
            }
        }
    });
    drop(silenced);
    println!();
    println!(
        "factum against cqrs-es 0.5: {} rounds, PostgreSQL runs of {} s; medians with (min–max) over rounds",
        settings.rounds,
        settings.run.as_secs_f64()
    );
    println!();
    table.print("cqrs-es");
}
