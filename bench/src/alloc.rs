//! A counting global allocator: the system allocator, plus a count of the allocations made
//! (by every thread), so that a figure can say how many allocations its work took.
//!
//! A bench binary installs it with
//!
//! ```
//! #[global_allocator]
//! static ALLOCATOR: factum_bench::alloc::Counting = factum_bench::alloc::Counting;
//!
//! let before = factum_bench::alloc::allocations().expect("installed above");
//! let boxed = std::hint::black_box(Box::new(7_u64));
//! let took = factum_bench::alloc::allocations().expect("installed above").since(before);
//! assert!(took.allocations >= 1 && took.bytes >= 8);
//! # drop(boxed);
//! ```
//!
//! and reads [`allocations`] before and after the work. Counted: every `alloc`,
//! `alloc_zeroed` and `realloc` (a `realloc` may move the block, and costs like an
//! allocation); frees are not. The count is global, so it includes whatever other threads
//! allocate meanwhile (a store's blocking pool, its connection task): for the rehydration
//! figures that is part of the load.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

/// The system allocator, counting.
pub struct Counting;

// SAFETY: every call is forwarded unchanged to `System`, which upholds `GlobalAlloc`'s
// contract; the counters are plain atomics and never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller's guarantees for `alloc` are passed on as they are.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout` (every allocation goes there).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: as for `dealloc`; the caller's guarantees on `new_size` are passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn count(bytes: usize) {
    ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    BYTES.fetch_add(bytes as u64, Ordering::Relaxed);
}

/// Allocations and bytes requested so far, by every thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Count {
    pub allocations: u64,
    pub bytes: u64,
}

impl Count {
    /// What was allocated since `earlier`.
    pub fn since(self, earlier: Count) -> Count {
        Count { allocations: self.allocations - earlier.allocations, bytes: self.bytes - earlier.bytes }
    }
}

/// The count so far; `None` when the binary has not installed [`Counting`] (nothing counted).
pub fn allocations() -> Option<Count> {
    let count = Count { allocations: ALLOCATIONS.load(Ordering::Relaxed), bytes: BYTES.load(Ordering::Relaxed) };
    // Any Rust program has allocated by the time it measures: zero means not installed.
    (count.allocations > 0).then_some(count)
}
