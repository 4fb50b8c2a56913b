#!/usr/bin/env bash
# Compile time of the bank example (examples/bank.rs, with factum's macros) against the same
# program written with cqrs-es 0.5 (bench/cqrs-es/examples/bank.rs).
#
# What is measured: the wall time of `cargo rustc --example bank` for the program's own
# crate only, built as `cargo run --example bank` builds it (the root package, factum with
# its default features, so the embedded SQLite store and nothing else), dependencies already built (debug profile, CARGO_INCREMENTAL=0 so that
# nothing of an earlier compile of the file is reused). Each run passes a fresh `--cfg`,
# which changes the example's fingerprint and nothing else: no file is touched. The two
# programs alternate; the median of RUNS (default 5) runs each is printed, with min and max.
#
#   bash bench/compile-time.sh
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
export CARGO_INCREMENTAL=0

build_factum() { cargo rustc --quiet -p factum-examples --example bank -- --cfg "compile_time_run=\"$1\"" ; }
build_cqrs() { (cd bench/cqrs-es && cargo rustc --quiet --example bank -- --cfg "compile_time_run=\"$1\"") ; }

echo "warming up: building the dependencies of both programs (not timed)" >&2
build_factum warm
build_cqrs warm

timed() { local start end; start=$(date +%s.%N); "$@"; end=$(date +%s.%N); echo "$end - $start" | bc; }

factum=() cqrs=()
for i in $(seq "$runs"); do
  factum+=("$(timed build_factum "$i-$RANDOM")")
  cqrs+=("$(timed build_cqrs "$i-$RANDOM")")
  echo "run $i: factum ${factum[-1]} s, cqrs-es ${cqrs[-1]} s" >&2
done

summary() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f s (%.2f–%.2f)", m, v[1], v[NR] }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
f=$(median "${factum[@]}") c=$(median "${cqrs[@]}")
echo
echo "| program | compile time, debug, its own crate only | factum / cqrs-es |"
echo "|---|---|---|"
echo "| examples/bank.rs (factum) | $(summary "${factum[@]}") | $(echo "scale=2; $f / $c" | bc) |"
echo "| bench/cqrs-es/examples/bank.rs (cqrs-es 0.5) | $(summary "${cqrs[@]}") | |"
