//! The dispatch figure in instructions rather than nanoseconds, for a noisy machine:
//! runs the bench's 8-command script 20,000 times through the generated code (`generated`),
//! the hand-written code (`hand-written`), or neither (`none`, the baseline), so that
//! callgrind's instruction counts, which do not depend on the machine's load, can be
//! compared:
//!
//! ```sh
//! cargo build --release -p factum-bench --example dispatch_count
//! for side in none generated hand-written; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/dispatch_count $side 2>&1 | grep Collected
//! done
//! ```
//!
//! (generated − none) / (hand-written − none) is the ratio; divide a difference by 160,000
//! for instructions per command.

use std::hint::black_box;

use factum_bench::measure::run_script;
use factum_bench::{bank, hand};

const REPEATS: usize = 20_000;

fn main() {
    let side = std::env::args().nth(1).unwrap_or_default();
    let services = bank::BankServices::standard();
    let mut checksum = 0;
    for _ in 0..REPEATS {
        checksum += match side.as_str() {
            "generated" => run_script::<bank::BankAccount>(black_box(bank::script()), &services, |a| a.balance),
            "hand-written" => run_script::<hand::HandAccount>(black_box(hand::script()), &services, |a| a.balance),
            "none" => black_box(bank::script()).len() as u64,
            other => {
                eprintln!("usage: dispatch_count generated|hand-written|none (not {other:?})");
                std::process::exit(2);
            }
        };
    }
    println!("{checksum}");
}
