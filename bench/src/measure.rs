//! Measuring helpers: order statistics, polling a future that never waits, silencing
//! stdout, and the fsync rate of a disk.

use std::fs::File;
use std::future::Future;
use std::io::{Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use factum::Aggregate;

/// Order statistics of a set of samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub p5: f64,
    pub p95: f64,
    pub p99: f64,
    pub count: usize,
}

impl Stats {
    /// The statistics of `samples` (nearest-rank percentiles). Panics on no samples.
    pub fn of(samples: &[f64]) -> Stats {
        assert!(!samples.is_empty(), "no samples");
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let rank = |p: f64| sorted[((p * n as f64).ceil() as usize).clamp(1, n) - 1];
        let median = if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 };
        Stats { median, min: sorted[0], max: sorted[n - 1], p5: rank(0.05), p95: rank(0.95), p99: rank(0.99), count: n }
    }

    /// Each sample `s` as `f(s)` (for a monotone `f`; a decreasing one swaps min and max).
    pub fn map(&self, f: impl Fn(f64) -> f64) -> Stats {
        let (a, b) = (f(self.min), f(self.max));
        let (c, d) = (f(self.p5), f(self.p95));
        Stats {
            median: f(self.median),
            min: a.min(b),
            max: a.max(b),
            p5: c.min(d),
            p95: c.max(d),
            p99: f(self.p99),
            count: self.count,
        }
    }
}

/// Polls `future` once: for futures that complete without waiting (a command that does no
/// I/O). Panics if it would wait.
pub fn now_or_never<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the future waited; this helper is for futures that complete at once"),
    }
}

/// Decides every command of `script` against a fresh aggregate and applies each event:
/// one `handle` plus its `apply`s per command, as the repository does. Returns a checksum so
/// that the work cannot be optimized away.
pub fn run_script<A: Aggregate>(script: Vec<A::Command>, services: &A::Services, observe: impl Fn(&A) -> u64) -> u64 {
    let mut state = A::default();
    let mut accepted = 0;
    for command in script {
        if let Ok(events) = now_or_never(state.handle(command, services)) {
            for event in &events {
                state.apply(event);
            }
            accepted += events.len() as u64;
        }
    }
    accepted + observe(&state)
}

/// Sends everything written to stdout (fd 1) to /dev/null until dropped; then stdout is
/// restored. cqrs-es's MemStore prints a line on every load and commit: both sides of the
/// comparison are measured inside one of these, so neither pays for terminal I/O.
pub struct Silenced {
    saved: libc::c_int,
}

impl Silenced {
    pub fn stdout() -> std::io::Result<Silenced> {
        std::io::stdout().flush()?;
        let null = File::options().write(true).open("/dev/null")?;
        // SAFETY: plain descriptor calls on descriptors this process owns; fd 1 is replaced
        // atomically by dup2 and restored in `drop`.
        let saved = unsafe { libc::dup(1) };
        if saved < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: as above.
        if unsafe { libc::dup2(null.as_raw_fd(), 1) } < 0 {
            let error = std::io::Error::last_os_error();
            // SAFETY: `saved` is a descriptor we just created.
            unsafe { libc::close(saved) };
            return Err(error);
        }
        Ok(Silenced { saved })
    }
}

impl Drop for Silenced {
    fn drop(&mut self) {
        let _ = std::io::stdout().flush();
        // SAFETY: `saved` is the original stdout, duplicated in `stdout`.
        unsafe {
            libc::dup2(self.saved, 1);
            libc::close(self.saved);
        }
    }
}

/// Durable writes per second the disk under `dir` sustains: overwrite 4 KiB and
/// `fdatasync`, in a loop, for `each` per run. The ceiling of any store that makes every
/// commit durable with one flush.
pub fn fsync_rate(dir: &Path, runs: usize, each: Duration) -> std::io::Result<Stats> {
    let path = dir.join(format!("fsync-probe-{}", std::process::id()));
    let mut file = File::options().create(true).truncate(true).read(true).write(true).open(&path)?;
    let block = [0x5au8; 4096];
    let mut rates = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let mut count = 0u64;
        while start.elapsed() < each {
            file.seek(SeekFrom::Start(0))?;
            file.write_all(&block)?;
            file.sync_data()?;
            count += 1;
        }
        rates.push(count as f64 / start.elapsed().as_secs_f64());
    }
    drop(file);
    std::fs::remove_file(&path)?;
    Ok(Stats::of(&rates))
}

/// Appending to a file and `fdatasync`: what a log append costs (the file grows, so the
/// file system's metadata is flushed too).
pub fn fsync_append_rate(dir: &Path, runs: usize, each: Duration) -> std::io::Result<Stats> {
    let path = dir.join(format!("fsync-append-probe-{}", std::process::id()));
    let mut rates = Vec::with_capacity(runs);
    for _ in 0..runs {
        let mut file = File::options().create(true).truncate(true).write(true).open(&path)?;
        let block = [0x5au8; 512];
        let start = Instant::now();
        let mut count = 0u64;
        while start.elapsed() < each {
            file.write_all(&block)?;
            file.sync_data()?;
            count += 1;
        }
        rates.push(count as f64 / start.elapsed().as_secs_f64());
    }
    std::fs::remove_file(&path)?;
    Ok(Stats::of(&rates))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_statistics() {
        let s = Stats::of(&[5.0, 1.0, 3.0, 2.0, 4.0]);
        assert_eq!((s.median, s.min, s.max, s.p5, s.p95), (3.0, 1.0, 5.0, 1.0, 5.0));
        let even = Stats::of(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(even.median, 2.5);
        let inverted = s.map(|x| 1.0 / x);
        assert_eq!((inverted.min, inverted.max), (0.2, 1.0));
    }

    #[test]
    fn generated_and_hand_written_dispatch_agree() {
        use crate::{bank, hand};
        let services = bank::BankServices::standard();
        let generated = run_script::<bank::BankAccount>(bank::script(), &services, |a| a.balance);
        let by_hand = run_script::<hand::HandAccount>(hand::script(), &services, |a| a.balance);
        // Open, deposit, withdraw, deposit, close (two events): 6 events, balance 0 at the end.
        assert_eq!((generated, by_hand), (6, 6));
    }
}
