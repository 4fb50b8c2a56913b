//! factum's own figures, printed as one Markdown table: dispatch against hand-written code,
//! rehydration from memory, SQLite and PostgreSQL (time and allocations per event), durable
//! throughput and latency on SQLite and PostgreSQL (single appends side by side with the
//! engine's floor: the same insert and commit done directly with rusqlite or tokio-postgres,
//! and as events per flush of the disk measured in the same run),
//! projection catch-up and process managers on every store, and the disk's fsync rate (the ceiling of durable
//! appends). The side-by-side with cqrs-es is `bench/cqrs-es` (`--bench compare`).
//!
//! ```sh
//! url=$(bash scripts/postgres.sh start /tmp/pgbench-dir | tail -n 1)
//! FACTUM_POSTGRES_URL=$url cargo bench -p factum-bench --bench figures
//! cargo bench -p factum-bench --bench figures -- sqlite disk   # only some sections:
//! #   dispatch rehydrate sqlite postgres projections processes pii nats disk
//! # nats needs FACTUM_NATS_URL (bash scripts/nats.sh start DIR prints one)
//! ```
//!
//! `FACTUM_BENCH_ROUNDS` (default 5) and `FACTUM_BENCH_SECONDS` (default 1.5 per timed run
//! of the durable figures) trade time for precision. Without `--bench` it returns at once.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use factum::{MemoryStore, PostgresStore, SqliteStore};
use factum_bench::bank::{self, BankAccount, BankServices};
use factum_bench::hand::{self, HandAccount};
use factum_bench::measure::{Stats, fsync_append_rate, fsync_rate, run_script};
use factum_bench::table::{Table, latency_note};
use factum_bench::workload::{self, Flushes, Load, Run, Settings};

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

/// The engine's floor for durable appends on SQLite: `writers` threads, each with its own
/// connection to `path` (the store's file and schema, WAL, `synchronous = FULL`), each event
/// one `BEGIN IMMEDIATE`, one insert and one `COMMIT`, in the simplest loop. Writers contend
/// for SQLite's write lock through its busy handler, as separate connections do.
fn sqlite_floor(path: &Path, writers: usize, run: Duration, tag: &str) -> Run {
    sqlite_transactions(path, writers, 1, run, tag)
}

/// `writers` threads committing `per_commit` one-event inserts per transaction, each to a
/// stream of its own, back to back: [`sqlite_floor`] with `per_commit` 1. With one writer
/// and 8 per commit it is the ceiling of group commit at 8 writers, each with one append
/// outstanding: the best a committer can do is one transaction of 8 events per flush with
/// no pause between them. The rate counts events; the latencies are per transaction.
fn sqlite_transactions(path: &Path, writers: usize, per_commit: usize, run: Duration, tag: &str) -> Run {
    let start = Instant::now();
    let threads: Vec<_> = (0..writers)
        .map(|w| {
            let (path, stream_id) = (path.to_path_buf(), format!("{tag}-w{w}"));
            std::thread::spawn(move || {
                let connection = rusqlite::Connection::open(&path).expect("sqlite floor: open");
                connection.busy_timeout(Duration::from_secs(30)).expect("busy timeout");
                connection
                    .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")
                    .expect("sqlite floor: pragmas");
                let payload = workload::encoded(factum_bench::bank::MoneyDeposited { amount: 1 }.into()).payload;
                let mut latencies = Vec::new();
                let mut version = 0i64;
                while start.elapsed() < run {
                    let t = Instant::now();
                    version += 1;
                    connection.execute_batch("BEGIN IMMEDIATE").expect("sqlite floor: begin");
                    for stream in 0..per_commit {
                        connection
                            .prepare_cached(
                                "INSERT INTO events (aggregate_type, stream_id, version, name, schema_version, \
                                 recorded_at, metadata, payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                            )
                            .and_then(|mut insert| {
                                insert.execute(rusqlite::params![
                                    "append-floor",
                                    format!("{stream_id}-{stream}"),
                                    version,
                                    "MoneyDeposited",
                                    1,
                                    0,
                                    None::<String>,
                                    payload
                                ])
                            })
                            .expect("sqlite floor: insert");
                    }
                    connection.execute_batch("COMMIT").expect("sqlite floor: commit");
                    latencies.push(t.elapsed().as_secs_f64() * 1e6);
                }
                latencies
            })
        })
        .collect();
    let latencies_us: Vec<f64> = threads.into_iter().flat_map(|t| t.join().expect("sqlite floor writer")).collect();
    Run { rate: (latencies_us.len() * per_commit) as f64 / start.elapsed().as_secs_f64(), latencies_us }
}

/// The engine's floor for durable appends on PostgreSQL: `writers` connections, each event
/// one autocommitted `INSERT` (one round trip, one commit, one WAL flush) into a table of
/// the store's shape whose positions come from a sequence. No position lock: PostgreSQL
/// flushes concurrent commits together, and positions are not commit-ordered.
async fn postgres_floor(url: &str, schema: &str, writers: usize, run: Duration, tag: &str) -> Run {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (url, stream_id) = (url.to_owned(), format!("{tag}-w{w}"));
        let insert = format!(
            "INSERT INTO {schema}.events (aggregate_type, stream_id, version, name, schema_version, recorded_at, \
             metadata, payload) VALUES ($1, $2, $3, $4, $5, now(), '{{}}'::jsonb, $6::text::jsonb)"
        );
        tasks.push(tokio::spawn(async move {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.expect("connect");
            tokio::spawn(connection);
            let insert = client.prepare(&insert).await.expect("postgres floor: prepare");
            let payload = workload::encoded(factum_bench::bank::MoneyDeposited { amount: 1 }.into()).payload;
            let mut latencies = Vec::new();
            let mut version = 0i64;
            while start.elapsed() < run {
                let t = Instant::now();
                version += 1;
                client
                    .execute(&insert, &[&"append-floor", &stream_id, &version, &"MoneyDeposited", &1i64, &payload])
                    .await
                    .expect("postgres floor: insert");
                latencies.push(t.elapsed().as_secs_f64() * 1e6);
            }
            latencies
        }));
    }
    let mut latencies_us = Vec::new();
    for task in tasks {
        latencies_us.extend(task.await.expect("postgres floor writer"));
    }
    Run { rate: latencies_us.len() as f64 / start.elapsed().as_secs_f64(), latencies_us }
}

/// A schema of the store's shape for [`postgres_floor`], its positions from a sequence.
async fn postgres_floor_schema(url: &str) -> String {
    let schema = format!("factum_floor_{}", std::process::id());
    drop(PostgresStore::connect_with(url, &schema, 1).await.expect("PostgresStore"));
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("connect");
    tokio::spawn(connection);
    client
        .batch_execute(&format!(
            "CREATE SEQUENCE {schema}.positions; \
             ALTER TABLE {schema}.events ALTER COLUMN position SET DEFAULT nextval('{schema}.positions')"
        ))
        .await
        .expect("postgres floor: sequence");
    schema
}

/// One tokio-postgres connection committing transactions of `per_commit` one-event inserts
/// (each to a stream of its own, one multi-row `INSERT`) back to back, `BEGIN`, the insert
/// and `COMMIT` pipelined in one round trip, into [`postgres_floor_schema`]'s table. With 8
/// per commit it is the ceiling of group commit at 8 clients, each with one append
/// outstanding: one transaction of 8 events per WAL flush, no pause between them, and none
/// of factum's work (no version check, no position lock, no notification). The rate counts
/// events; the latencies are per transaction.
async fn postgres_transactions(url: &str, schema: &str, per_commit: usize, run: Duration, tag: &str) -> Run {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("connect");
    tokio::spawn(connection);
    let insert = client
        .prepare(&format!(
            "INSERT INTO {schema}.events (aggregate_type, stream_id, version, name, schema_version, recorded_at, \
             metadata, payload) \
             SELECT 'append-ceiling', s, $2::bigint, 'MoneyDeposited', 1, now(), '{{}}'::jsonb, $3::text::jsonb \
             FROM unnest($1::text[]) AS s"
        ))
        .await
        .expect("postgres ceiling: prepare");
    let payload = workload::encoded(factum_bench::bank::MoneyDeposited { amount: 1 }.into()).payload;
    let streams: Vec<String> = (0..per_commit).map(|stream| format!("{tag}-{stream}")).collect();
    let (start, mut latencies_us, mut version) = (Instant::now(), Vec::new(), 0i64);
    while start.elapsed() < run {
        let t = Instant::now();
        version += 1;
        // `join` polls its first future first, so the three go out in order, in one burst.
        let (begin, (inserted, commit)) = futures_util::future::join(
            client.batch_execute("BEGIN"),
            futures_util::future::join(
                client.execute(&insert, &[&streams, &version, &payload]),
                client.batch_execute("COMMIT"),
            ),
        )
        .await;
        begin.and(inserted.map(drop)).and(commit).expect("postgres ceiling: transaction");
        latencies_us.push(t.elapsed().as_secs_f64() * 1e6);
    }
    Run { rate: (latencies_us.len() * per_commit) as f64 / start.elapsed().as_secs_f64(), latencies_us }
}

/// The ceiling of group commit at 8 writers, each with one append outstanding: `round`
/// commits transactions of 8 one-event inserts back to back, directly with the engine's
/// client; quoted, like the durable rows, in events per flush of the growing file probed
/// beside each round. `how` says what `round` runs.
async fn ceiling(
    settings: &Settings,
    table: &mut Table,
    section: &'static str,
    figure: &'static str,
    disk: Option<&Flushes>,
    how: &str,
    mut round: impl AsyncFnMut(String) -> Run,
) {
    let (mut rates, mut latencies, mut per_flush) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..settings.rounds {
        let result = round(format!("ceiling-{i}")).await;
        if let Some(disk) = disk {
            let probe = fsync_append_rate(&disk.dir, 1, Duration::from_millis(500)).expect("fsync probe");
            per_flush.push(result.rate / probe.median);
        }
        rates.push(result.rate);
        latencies.extend(result.latencies_us);
    }
    let mut note = format!("{how}; {}", latency_note("transaction", &latencies));
    if !per_flush.is_empty() {
        note.push_str(&format!(
            "; **{:.2} events per flush** of the growing file probed beside each round",
            Stats::of(&per_flush).median
        ));
    }
    table.push(section, figure, "events/s", Stats::of(&rates)).note(note);
}

/// The disk's flush rates, measured now (in the same run as the durable figures they divide).
fn flushes(settings: &Settings, dir: &Path, table: &mut Table) -> Flushes {
    eprintln!("disk: fsync rate in {}", dir.display());
    let overwrite = fsync_rate(dir, settings.rounds, Duration::from_secs(1)).expect("fsync probe");
    table
        .push("disk", "overwrite 4 KiB + fdatasync", "flushes/s", overwrite)
        .note("the ceiling of one-flush-per-commit");
    let append = fsync_append_rate(dir, settings.rounds, Duration::from_secs(1)).expect("fsync probe");
    table
        .push("disk", "append 512 B + fdatasync (the file grows)", "flushes/s", append)
        .note("durable appends below are quoted in events per flush of this rate");
    Flushes { dir: dir.to_path_buf(), overwrite: overwrite.median, append: append.median }
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
    // Measured first, and whenever a durable section runs: events per flush are only worth
    // quoting against the disk of the same run.
    let disk = (settings.wants("disk") || settings.wants("sqlite") || settings.wants("postgres"))
        .then(|| flushes(&settings, &dir, &mut table));
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
            let path: PathBuf = dir.join("durable.db");
            let sqlite = SqliteStore::open(&path).await.expect("sqlite");
            let floor = async |writers, run, tag: String| {
                let path = path.clone();
                tokio::task::spawn_blocking(move || sqlite_floor(&path, writers, run, &tag)).await.expect("floor")
            };
            workload::durable(&settings, &mut table, "sqlite", &sqlite, disk.clone(), "rusqlite", floor).await;
            let how = "rusqlite, one thread, transactions of 8 one-event inserts (8 streams) back to back: what group \
                       commit at 8 writers reaches at best, with no pause between transactions";
            let round = async |tag: String| {
                let (path, run) = (path.clone(), settings.run);
                let transactions = move || sqlite_transactions(&path, 1, 8, run, &tag);
                tokio::task::spawn_blocking(transactions).await.expect("sqlite ceiling")
            };
            let figure = "engine ceiling at 8 writers: 8 events per transaction";
            ceiling(&settings, &mut table, "sqlite", figure, disk.as_ref(), how, round).await;
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
                    let url = settings.postgres.as_deref().expect("a store, so a URL");
                    let schema = postgres_floor_schema(url).await;
                    let floor =
                        async |writers, run, tag: String| postgres_floor(url, &schema, writers, run, &tag).await;
                    workload::durable(&settings, &mut table, "postgres", store, disk.clone(), "tokio-postgres", floor)
                        .await;
                    let how = "tokio-postgres, one connection, transactions of one 8-row insert (8 streams) back \
                               to back, pipelined: what group commit at 8 clients reaches at best, with none of \
                               factum's checks";
                    let round = async |tag: String| postgres_transactions(url, &schema, 8, settings.run, &tag).await;
                    let figure = "engine ceiling at 8 clients: 8 events per transaction";
                    ceiling(&settings, &mut table, "postgres", figure, disk.as_ref(), how, round).await;
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
        if settings.wants("processes") {
            eprintln!("processes: events in → commands executed, and due deadlines");
            factum_bench::process::processes(&settings, &mut table, "memory", async |_| MemoryStore::new()).await;
            let sqlite =
                async |round| SqliteStore::open(dir.join(format!("processes-{round}.db"))).await.expect("sqlite");
            factum_bench::process::processes(&settings, &mut table, "sqlite", sqlite).await;
            if let Some(url) = &settings.postgres {
                let postgres = async |round| {
                    let schema = format!("factum_processes_{}_{round}", std::process::id());
                    PostgresStore::connect_with(url, &schema, 8).await.expect("PostgresStore")
                };
                factum_bench::process::processes(&settings, &mut table, "postgres", postgres).await;
            }
        }
        if settings.wants("pii") {
            eprintln!("pii: events with personal data against the same in the clear");
            factum_bench::pii::pii(&settings, &mut table, "memory", async |_| MemoryStore::new()).await;
            let sqlite = async |round| SqliteStore::open(dir.join(format!("pii-{round}.db"))).await.expect("sqlite");
            factum_bench::pii::pii(&settings, &mut table, "sqlite", sqlite).await;
            if let Some(url) = &settings.postgres {
                let postgres = async |round| {
                    let schema = format!("factum_pii_{}_{round}", std::process::id());
                    PostgresStore::connect_with(url, &schema, 8).await.expect("PostgresStore")
                };
                factum_bench::pii::pii(&settings, &mut table, "postgres", postgres).await;
            }
        }
        if settings.wants("nats") {
            match std::env::var("FACTUM_NATS_URL") {
                Ok(url) if !url.is_empty() => {
                    eprintln!("nats: the log through JetStream into a projection elsewhere, against a direct catch-up");
                    through_nats(&settings, &mut table, &url).await;
                }
                _ => eprintln!("nats: skipped, FACTUM_NATS_URL is not set"),
            }
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
    println!();
    println!(
        "factum figures: {} rounds, durable runs of {} s; medians with (min–max) over rounds",
        settings.rounds,
        settings.run.as_secs_f64()
    );
    println!();
    table.print("hand-written / engine floor");
}

/// The same 100,000-event log (1,000 accounts) into the `Balances` projection two ways, in
/// one run, round by round: a runner reading the store directly (a full rebuild), and a
/// publisher to JetStream with a subscriber in the same process feeding a runner on a store
/// of its own, timed from the first publish until the subscriber has applied the last event.
async fn through_nats(settings: &Settings, table: &mut Table, url: &str) {
    use factum::ProjectionRunner;
    use factum::nats::{NatsPublisher, NatsSubscriber, async_nats};
    use factum_bench::bank::Balances;

    let store = MemoryStore::new();
    for i in 0..1000 {
        workload::seed(&store, &format!("nats-{i}"), 100).await;
    }
    let head = 100_000;
    let jetstream = async_nats::jetstream::new(async_nats::connect(url).await.expect("FACTUM_NATS_URL"));
    let direct = ProjectionRunner::<Balances, _>::start(store.clone()).await.expect("projection");
    let (mut directly, mut through, mut published) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..settings.rounds {
        let start = Instant::now();
        direct.rebuild().await.expect("rebuild");
        directly.push(start.elapsed().as_secs_f64());

        let source = format!("bench-{}-{round}", std::process::id());
        let publisher = NatsPublisher::new(store.clone(), jetstream.clone(), &source).expect("publisher");
        publisher.ensure_stream().await.expect("stream");
        let stream = publisher.stream_name().to_owned();
        let runner = ProjectionRunner::<Balances, _>::start(MemoryStore::new()).await.expect("projection");
        let subscriber = NatsSubscriber::new(runner, jetstream.clone(), &source);
        let start = Instant::now();
        let publishing = tokio::spawn(async move {
            publisher.publish_pending().await.expect("publish");
            start.elapsed().as_secs_f64()
        });
        while subscriber.consume_available().await.expect("consume") < head {}
        through.push(start.elapsed().as_secs_f64());
        published.push(publishing.await.expect("publisher task"));
        let total = factum_bench::bank::BalancesQuery::Total;
        assert_eq!(subscriber.runner().ask(total.clone()).await, direct.ask(total).await, "the same state both ways");
        jetstream.delete_stream(&stream).await.expect("delete stream");
    }
    let events = 100_000.0;
    let (directly, through, published) = (Stats::of(&directly), Stats::of(&through), Stats::of(&published));
    table
        .push(
            "nats",
            "projection catch-up reading the store directly, 100,000-event log",
            "events/s",
            directly.map(|s| events / s),
        )
        .note("the reference for the rows below, in the same run: a full rebuild from MemoryStore");
    table
        .push(
            "nats",
            "the same log published to JetStream (ack awaited, pipelined 500 at a time)",
            "events/s",
            published.map(|s| events / s),
        )
        .note("store → nats-server on 127.0.0.1: headers, Nats-Msg-Id and the expected last id on every message");
    table
        .push("nats", "store → JetStream → subscriber's projection state, end to end", "events/s", through.map(|s| events / s))
        .note(format!(
            "publisher and a durable consumer (batches of 500, state and checkpoint stored, then ack) running together; {:.2}× the direct catch-up's time",
            through.median / directly.median
        ));
}
