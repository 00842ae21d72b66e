//! The task directory: every live task of every runtime, readable from any
//! thread (for `all_tasks`, `dump_tasks` and the await-graph dump), without
//! asking any loop.
//!
//! # Invariants
//! * A task is listed from its spawn (before it is first scheduled, so a
//!   queued task that never ran is listed too) until its allocation is
//!   freed: the deallocating thread removes it under its shard's lock
//!   *before* freeing, so a reader holding that lock may read the header of
//!   every task it finds there. The directory holds no reference: listing a
//!   task never keeps it alive.
//! * A task's slot (`TaskTrace::dir_slot`) is written once, at insertion,
//!   before the task is shared, and read by the deallocating thread, which
//!   the final reference release orders after it.
//! * Shards: 16 slabs, each behind a short lock, taken once per insertion and
//!   once per removal. A thread inserts into its own shard (assigned round
//!   robin at its first spawn), so spawning loops do not contend; removal
//!   goes to the task's shard, wherever it is freed.
//!
//! This is not the shutdown registry: each loop still holds the tasks that
//! waited on it (`scheduler/worker.rs`, "The registry") with a reference, so
//! shutdown can cancel them on the right thread. The directory only reads.
//!
//! Under loom the directory is off (a same-API stand-in), so the loom models
//! explore the task protocols without its lock.

use super::{Header, RawTask};

/// Which runtime a task belongs to (the address of its scheduler's shared
/// state); 0 for tasks no runtime lists.
pub(crate) type Owner = usize;

#[cfg(not(loopwork_loom))]
mod imp {
    use super::super::trace::NOT_LISTED;
    use super::{Header, Owner, RawTask};
    use crate::sync::Mutex;
    use crossbeam_utils::CachePadded;
    use std::cell::Cell;
    use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

    const SHARDS: usize = 16;
    const INDEX_BITS: u32 = 24;
    const INDEX_MASK: u32 = (1 << INDEX_BITS) - 1;

    struct Shard {
        slots: Vec<Option<(RawTask, Owner)>>,
        free: Vec<u32>,
    }

    #[allow(clippy::declare_interior_mutable_const)]
    const EMPTY: CachePadded<Mutex<Shard>> = CachePadded::new(Mutex::new(Shard {
        slots: Vec::new(),
        free: Vec::new(),
    }));
    static DIRECTORY: [CachePadded<Mutex<Shard>>; SHARDS] = [EMPTY; SHARDS];

    std::thread_local! {
        static MY_SHARD: Cell<u32> = const { Cell::new(u32::MAX) };
    }

    fn my_shard() -> u32 {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        MY_SHARD
            .try_with(|s| {
                if s.get() == u32::MAX {
                    s.set(NEXT.fetch_add(1, Relaxed) % SHARDS as u32);
                }
                s.get()
            })
            .unwrap_or(0)
    }

    /// Lists a new task of runtime `owner`. Called once, before the task is
    /// first scheduled.
    pub(crate) fn insert(raw: RawTask, owner: Owner) {
        let shard = my_shard();
        let mut s = DIRECTORY[shard as usize].lock();
        let index = match s.free.pop() {
            Some(i) => {
                s.slots[i as usize] = Some((raw, owner));
                i
            }
            None => {
                // More than 16M live tasks in one shard: leave it unlisted
                // rather than corrupt a slot number.
                if s.slots.len() > INDEX_MASK as usize {
                    return;
                }
                s.slots.push(Some((raw, owner)));
                (s.slots.len() - 1) as u32
            }
        };
        raw.header()
            .trace
            .dir_slot
            .store((shard << INDEX_BITS) | index, Relaxed);
    }

    /// Unlists a task about to be freed (a no-op for an unlisted one).
    #[inline]
    pub(crate) fn remove(header: &Header) {
        let slot = header.trace.dir_slot.load(Relaxed);
        if slot == NOT_LISTED {
            return;
        }
        let index = slot & INDEX_MASK;
        let mut s = DIRECTORY[(slot >> INDEX_BITS) as usize].lock();
        s.slots[index as usize] = None;
        s.free.push(index);
    }

    /// Calls `f` with each listed task of runtime `owner`, under its shard's
    /// lock: `f` may read the header, must not block, and must not drop a
    /// task reference (a free would take the same lock).
    pub(crate) fn for_each(owner: Owner, mut f: impl FnMut(&Header)) {
        for shard in DIRECTORY.iter() {
            let s = shard.lock();
            for (raw, o) in s.slots.iter().flatten() {
                if *o == owner {
                    f(raw.header());
                }
            }
        }
    }
}

#[cfg(loopwork_loom)]
mod imp {
    use super::{Header, Owner, RawTask};

    pub(crate) fn insert(_raw: RawTask, _owner: Owner) {}
    pub(crate) fn remove(_header: &Header) {}
    pub(crate) fn for_each(_owner: Owner, _f: impl FnMut(&Header)) {}
}

pub(crate) use imp::{for_each, insert, remove};
