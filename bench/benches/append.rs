//! Append throughput of the durable stores: single-event appends per second with 1 and with
//! 8 concurrent writers (each on its own streams), median of 5 runs with the spread.
//!
//! `cargo bench -p factum-bench --bench append` (SQLite); with `FACTUM_POSTGRES_URL` set,
//! PostgreSQL too. Never part of the test suite: without `--bench` it returns at once. The
//! full durable figures (commands, batches, latency percentiles) are in the `compare` bench.

use std::time::{Duration, Instant};

use factum::{EventStore, Metadata, NewEvent, SqliteStore, StreamRef};

const RUNS: usize = 5;
const PER_RUN: Duration = Duration::from_millis(1500);

/// Appends/second of `writers` tasks appending one event at a time for `PER_RUN`.
async fn measure<S: EventStore + Clone>(store: &S, writers: usize, run: usize) -> f64 {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut appended = 0u64;
            let mut version = 0;
            let id = format!("run{run}-writer{w}-{}", std::process::id());
            while start.elapsed() < PER_RUN {
                let event = NewEvent { name: "Deposited", version: 1, payload: r#"{"amount":1}"#.into() };
                let stream = StreamRef::new("bench", &id);
                version = store.append(stream, version, &Metadata::new(), vec![event]).await.unwrap().version;
                appended += 1;
            }
            appended
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    total as f64 / start.elapsed().as_secs_f64()
}

async fn report<S: EventStore + Clone>(name: &str, store: S) {
    for writers in [1, 8] {
        let mut rates = Vec::new();
        for run in 0..RUNS {
            rates.push(measure(&store, writers, run * 10 + writers).await);
        }
        rates.sort_by(f64::total_cmp);
        println!(
            "{name:<10} {writers} writer(s): median {:>8.0} appends/s   (min {:.0}, max {:.0}, {RUNS} runs of {} ms)",
            rates[RUNS / 2],
            rates[0],
            rates[RUNS - 1],
            PER_RUN.as_millis()
        );
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        eprintln!("append: a benchmark; run it with `cargo bench -p factum-bench --bench append`");
        return;
    }
    let dir = std::env::temp_dir().join(format!("factum-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    report("sqlite", SqliteStore::open(dir.join("append.db")).await.unwrap()).await;
    match std::env::var("FACTUM_POSTGRES_URL") {
        Ok(url) => report("postgres", factum::PostgresStore::connect(&url).await.unwrap()).await,
        Err(_) => println!("postgres   skipped: FACTUM_POSTGRES_URL is not set"),
    }
    let _ = std::fs::remove_dir_all(dir);
}
