//! factum's benchmark suite: the bank domain written with factum's macros ([`bank`]) and the
//! same domain with its `Aggregate` impl written by hand ([`hand`]), the workloads generic
//! over the stores ([`workload`]), the cost of personal data ([`pii`]), the measuring helpers ([`measure`], the counting allocator [`alloc`]) and the table both
//! comparison binaries print ([`table`]). The benches live in `benches/` and, for the
//! side-by-side with cqrs-es, in `cqrs-es/`; `BENCHMARKS.md` at the repository root has the
//! figures and how to reproduce them.

pub mod alloc;
pub mod bank;
pub mod hand;
pub mod measure;
pub mod pii;
pub mod process;
pub mod table;
pub mod workload;
