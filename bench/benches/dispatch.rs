//! Dispatch: ns per command for `handle` plus its `apply`s, through the code `#[handlers]`
//! generates against the same bank written by hand (`factum_bench::hand`).
//!
//! `cargo bench -p factum-bench --bench dispatch`. Without `--bench` (as under `cargo test`)
//! it returns at once: benchmarks never run in the test suite.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput};
use factum_bench::measure::run_script;
use factum_bench::{bank, hand};

fn dispatch(c: &mut Criterion) {
    let services = bank::BankServices::standard();
    let mut group = c.benchmark_group("dispatch");
    group.throughput(Throughput::Elements(bank::script().len() as u64));
    // The same script, alternately: criterion runs the two functions one after the other,
    // so a change of machine load shows up in both.
    group.bench_function("generated", |b| {
        b.iter_batched(
            bank::script,
            |script| run_script::<bank::BankAccount>(black_box(script), &services, |a| a.balance),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("hand-written", |b| {
        b.iter_batched(
            hand::script,
            |script| run_script::<hand::HandAccount>(black_box(script), &services, |a| a.balance),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        eprintln!("dispatch: a benchmark; run it with `cargo bench -p factum-bench --bench dispatch`");
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    dispatch(&mut criterion);
    criterion.final_summary();
}
