//! The task directory: every live task of every runtime, readable from any
//! thread (for `all_tasks`, `dump_tasks` and the await-graph dump), without
//! asking any loop.
//!
//! # Invariants
//! * A task is listed from its spawn (before it is first scheduled, so a
//!   queued task that never ran is listed too). The directory holds **one
//!   reference** to each listed task, so a reader holding a shard's lock may
//!   read the header of every task it finds there; readers skip completed
//!   tasks.
//! * Completed tasks are released in sweeps, by the thread that inserts into
//!   the shard, when the shard has doubled since its last sweep (at least
//!   `MIN_SWEEP` entries): amortised O(1) per task, as the loops' shutdown
//!   registry does. A runtime's shutdown releases its completed tasks from
//!   every shard ([`release`]), so a closed runtime is not kept alive by the
//!   directory. The references are dropped outside the lock. A released task
//!   is complete, its future and output already gone, so freeing it runs no
//!   user code.
//! * Shards: 16, each behind a short lock. A thread inserts into its own
//!   shard (assigned round robin at its first spawn), and only inserting
//!   threads sweep: a task completing on another loop never touches the
//!   shard, so the lock is contended only by a dump. (Removing each task
//!   when it is freed, as a first version did, made the spawning loop and
//!   the loop that ran the stolen tasks fight over the lock: 1.8× on
//!   `spawn_many_local`.)
//!
//! Memory: up to twice the live tasks of a shard (at least `MIN_SWEEP`)
//! stay allocated after they complete, until the next sweep.
//!
//! This is not the shutdown registry: each loop still holds the tasks that
//! waited on it (`scheduler/worker.rs`, "The registry") so shutdown can
//! cancel them on the right thread. The directory only reads.
//!
//! Under loom the directory is off (a same-API stand-in), so the loom models
//! explore the task protocols without its lock or its references.

use super::{Header, RawTask};

/// Which runtime a task belongs to (the address of its scheduler's shared
/// state); 0 for tasks no runtime lists.
pub(crate) type Owner = usize;

#[cfg(not(loopwork_loom))]
mod imp {
    use super::{Header, Owner, RawTask};
    use crate::sync::Mutex;
    use crossbeam_utils::CachePadded;
    use std::cell::Cell;
    use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

    const SHARDS: usize = 16;
    const MIN_SWEEP: usize = 256;

    struct Shard {
        tasks: Vec<(RawTask, Owner)>,
        sweep_at: usize,
    }

    #[allow(clippy::declare_interior_mutable_const)]
    const EMPTY: CachePadded<Mutex<Shard>> = CachePadded::new(Mutex::new(Shard {
        tasks: Vec::new(),
        sweep_at: MIN_SWEEP,
    }));
    static DIRECTORY: [CachePadded<Mutex<Shard>>; SHARDS] = [EMPTY; SHARDS];

    std::thread_local! {
        static MY_SHARD: Cell<u32> = const { Cell::new(u32::MAX) };
    }

    fn my_shard() -> usize {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        MY_SHARD
            .try_with(|s| {
                if s.get() == u32::MAX {
                    s.set(NEXT.fetch_add(1, Relaxed) % SHARDS as u32);
                }
                s.get() as usize
            })
            .unwrap_or(0)
    }

    /// Lists a new task of runtime `owner`, with the reference it was
    /// created with for the directory (`State::new_listed`). Called once,
    /// before the task is first scheduled.
    pub(crate) fn insert(raw: RawTask, owner: Owner) {
        let mut released = Vec::new();
        {
            let mut s = DIRECTORY[my_shard()].lock();
            s.tasks.push((raw, owner));
            if s.tasks.len() >= s.sweep_at {
                s.tasks.retain(|&(t, _)| {
                    let done = t.header().state.load().is_complete();
                    if done {
                        released.push(t);
                    }
                    !done
                });
                s.sweep_at = (s.tasks.len() * 2).max(MIN_SWEEP);
            }
        }
        for t in released {
            t.drop_reference();
        }
    }

    /// Releases the completed tasks of runtime `owner` from every shard
    /// (its shutdown, once its loops have finished).
    pub(crate) fn release(owner: Owner) {
        let mut released = Vec::new();
        for shard in DIRECTORY.iter() {
            shard.lock().tasks.retain(|&(t, o)| {
                let done = o == owner && t.header().state.load().is_complete();
                if done {
                    released.push(t);
                }
                !done
            });
        }
        for t in released {
            t.drop_reference();
        }
    }

    /// Calls `f` with each listed, not yet completed task of runtime
    /// `owner`, under its shard's lock: `f` may read the header and must not
    /// block.
    pub(crate) fn for_each(owner: Owner, mut f: impl FnMut(&Header)) {
        for shard in DIRECTORY.iter() {
            let s = shard.lock();
            for (raw, o) in s.tasks.iter() {
                if *o == owner && !raw.header().state.load().is_complete() {
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
    pub(crate) fn release(_owner: Owner) {}
    pub(crate) fn for_each(_owner: Owner, _f: impl FnMut(&Header)) {}
}

pub(crate) use imp::{for_each, insert, release};
