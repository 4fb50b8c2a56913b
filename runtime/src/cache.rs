//! The repository's cache of hot aggregates: state and version, one lock per stream.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A cached aggregate. `loaded` is false until the state has been rebuilt from the store, and
/// again while events are being applied, so a panic half-way through forces a reload.
pub(crate) struct Cached<A> {
    pub(crate) state: A,
    pub(crate) version: u64,
    pub(crate) loaded: bool,
    /// The store's [`forget_epoch`](crate::EventStore::forget_epoch) when the state was
    /// rebuilt: once the store's has moved, the state may hold a forgotten subject's values
    /// and is rebuilt again.
    pub(crate) epoch: u64,
}

pub(crate) struct Slot<A> {
    pub(crate) cached: tokio::sync::Mutex<Cached<A>>,
    last_used: AtomicU64,
}

/// Least-recently-used slots, bounded by `capacity` streams.
pub(crate) struct Cache<A> {
    slots: Mutex<HashMap<String, Arc<Slot<A>>>>,
    capacity: usize,
    clock: AtomicU64,
}

impl<A: Default> Cache<A> {
    pub(crate) fn new(capacity: usize) -> Self {
        Cache { slots: Mutex::default(), capacity, clock: AtomicU64::new(0) }
    }

    /// The slot of `id`, created empty (not loaded) if it is not cached.
    pub(crate) fn slot(&self, id: &str) -> Arc<Slot<A>> {
        let now = self.clock.fetch_add(1, Ordering::Relaxed);
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = slots.get(id) {
            slot.last_used.store(now, Ordering::Relaxed);
            return Arc::clone(slot);
        }
        let slot = Arc::new(Slot {
            cached: tokio::sync::Mutex::new(Cached { state: A::default(), version: 0, loaded: false, epoch: 0 }),
            last_used: AtomicU64::new(now),
        });
        if self.capacity > 0 {
            if slots.len() >= self.capacity {
                Self::evict(&mut slots, self.capacity);
            }
            slots.insert(id.to_owned(), Arc::clone(&slot));
        }
        slot
    }

    /// Drops the least recently used eighth of the slots that no task is using.
    fn evict(slots: &mut HashMap<String, Arc<Slot<A>>>, capacity: usize) {
        let mut idle: Vec<(u64, String)> = slots
            .iter()
            .filter(|(_, slot)| Arc::strong_count(slot) == 1)
            .map(|(id, slot)| (slot.last_used.load(Ordering::Relaxed), id.clone()))
            .collect();
        idle.sort_unstable();
        let excess = slots.len() + 1 - capacity;
        let drop = excess.max(capacity / 8).min(idle.len());
        for (_, id) in idle.into_iter().take(drop) {
            slots.remove(&id);
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_stays_within_capacity_and_keeps_recent_slots() {
        let cache: Cache<u32> = Cache::new(16);
        cache.slot("hot").cached.try_lock().unwrap().state = 42;
        cache.slot("cold").cached.try_lock().unwrap().state = 7;
        for i in 0..100 {
            cache.slot(&format!("s{i}"));
            cache.slot("hot");
        }
        assert!(cache.len() <= 16, "{} slots cached", cache.len());
        assert_eq!(cache.slot("hot").cached.try_lock().unwrap().state, 42, "the hot slot was evicted");
        assert_eq!(cache.slot("cold").cached.try_lock().unwrap().state, 0, "the cold slot was kept");
    }

    #[test]
    fn capacity_zero_caches_nothing() {
        let cache: Cache<u32> = Cache::new(0);
        cache.slot("a");
        assert_eq!(cache.len(), 0);
    }
}
