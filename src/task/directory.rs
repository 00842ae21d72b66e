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
        insert_into(&DIRECTORY[my_shard()], raw, owner);
    }

    /// `insert` into one given shard (a test's own shard, too).
    fn insert_into(shard: &Mutex<Shard>, raw: RawTask, owner: Owner) {
        let mut released = Vec::new();
        {
            let mut s = shard.lock();
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
        release_from(&DIRECTORY, owner);
    }

    /// `release` from the given shards (a test's own, too).
    fn release_from(shards: &[CachePadded<Mutex<Shard>>], owner: Owner) {
        let mut released = Vec::new();
        for shard in shards {
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
    pub(crate) fn for_each(owner: Owner, f: impl FnMut(&Header)) {
        for_each_in(&DIRECTORY, owner, f);
    }

    /// `for_each` over the given shards (a test's own, too).
    fn for_each_in(shards: &[CachePadded<Mutex<Shard>>], owner: Owner, mut f: impl FnMut(&Header)) {
        for shard in shards {
            let s = shard.lock();
            for (raw, o) in s.tasks.iter() {
                if *o == owner && !raw.header().state.load().is_complete() {
                    f(raw.header());
                }
            }
        }
    }

    #[cfg(test)]
    #[cfg(not(loopwork_loom))]
    mod tests {
        use super::*;
        use crate::task::{new_task, Notified, Schedule, Task, TaskKind, TaskMeta};
        use std::panic::Location;

        /// Runs nothing (the tests poll by hand); lists nothing in the
        /// process's directory (owner 0): the tests list in their own shards.
        struct Unlisted;
        impl Schedule for Unlisted {
            fn schedule(&self, _task: Notified) {
                unreachable!("the tests' futures never wait");
            }
        }

        fn shards() -> Vec<CachePadded<Mutex<Shard>>> {
            (0..2).map(|_| EMPTY).collect()
        }

        /// A task listed in `shard` for `owner`, with the directory's own
        /// reference (as `State::new_listed` gives a task `insert` lists):
        /// completed (`run`), or live with its `Notified` kept, to be run by
        /// `finish` (so no test leaks a task).
        fn listed(shard: &Mutex<Shard>, owner: Owner, run: bool) -> (Task<()>, Option<Notified>) {
            let meta = TaskMeta::new(None, Location::caller(), TaskKind::Stealable);
            let (notified, task) = new_task(async {}, Unlisted, meta);
            let raw = notified.raw();
            raw.header().state.ref_inc();
            insert_into(shard, raw, owner);
            if run {
                notified.run();
                return (task, None);
            }
            (task, Some(notified))
        }

        /// Completes the live tasks and releases every owner's.
        fn finish(
            shards: &[CachePadded<Mutex<Shard>>],
            live: Vec<Option<Notified>>,
            owners: &[Owner],
        ) {
            live.into_iter().flatten().for_each(Notified::run);
            for &o in owners {
                release_from(shards, o);
            }
            assert!(shards.iter().all(|s| s.lock().tasks.is_empty()));
        }

        fn refs(task: &Task<()>) -> usize {
            task.header().expect("not joined").state.load().ref_count()
        }

        fn ids(shards: &[CachePadded<Mutex<Shard>>], owner: Owner) -> Vec<usize> {
            let mut v = Vec::new();
            for_each_in(shards, owner, |h| v.push(h as *const Header as usize));
            v
        }

        fn id(t: &Task<()>) -> usize {
            t.header().unwrap() as *const Header as usize
        }

        #[test]
        fn a_listed_task_is_found_for_its_owner_only_until_it_completes() {
            let shards = shards();
            let (a, b) = (0xA0, 0xB0);
            let (live, live_n) = listed(&shards[0], a, false);
            let (done, _) = listed(&shards[1], a, true);
            let (other, other_n) = listed(&shards[1], b, false);
            assert_eq!(ids(&shards, a), vec![id(&live)], "a's live task only");
            assert_eq!(ids(&shards, b), vec![id(&other)], "b's task only");
            assert!(ids(&shards, 0xC0).is_empty(), "nothing of an unknown owner");
            assert_eq!(refs(&done), 1 + 1, "the handle's and the directory's");
            finish(&shards, vec![live_n, other_n], &[a, b]);
        }

        #[test]
        fn release_drops_the_references_of_one_owners_completed_tasks_only() {
            let shards = shards();
            let (a, b) = (0xA1, 0xB1);
            let (done_a, _) = listed(&shards[0], a, true);
            let (done_b, _) = listed(&shards[1], b, true);
            let (live_a, live_n) = listed(&shards[1], a, false);
            release_from(&shards, a);
            assert_eq!(refs(&done_a), 1, "a's completed task is released");
            assert_eq!(refs(&done_b), 2, "b's is not: another owner");
            assert_eq!(refs(&live_a), 3, "a's live task is not: it still runs");
            assert_eq!(shards[0].lock().tasks.len(), 0);
            assert_eq!(shards[1].lock().tasks.len(), 2);
            release_from(&shards, b);
            assert_eq!(refs(&done_b), 1);
            finish(&shards, vec![live_n], &[a]);
        }

        #[test]
        fn an_insert_sweeps_completed_tasks_only_once_the_shard_has_doubled() {
            let shards = shards();
            let owner = 0xA2;
            let (first, _) = listed(&shards[0], owner, true);
            let others: Vec<_> = (2..MIN_SWEEP)
                .map(|_| listed(&shards[0], owner, true).0)
                .collect();
            assert_eq!(shards[0].lock().tasks.len(), MIN_SWEEP - 1, "no sweep yet");
            assert_eq!(refs(&first), 2, "no sweep below MIN_SWEEP entries");
            let (_live, live_n) = listed(&shards[0], owner, false);
            assert_eq!(refs(&first), 1, "the MIN_SWEEP-th insert sweeps");
            let (len, sweep_at) = {
                let s = shards[0].lock();
                (s.tasks.len(), s.sweep_at)
            };
            assert_eq!(len, 1, "the live task stays");
            assert_eq!(
                sweep_at, MIN_SWEEP,
                "twice the live tasks, at least MIN_SWEEP"
            );
            assert!(others.iter().all(|t| refs(t) == 1));
            finish(&shards, vec![live_n], &[owner]);
        }

        #[test]
        fn the_sweep_threshold_is_twice_the_live_tasks_left() {
            let shards = shards();
            let owner = 0xA3;
            let live: Vec<_> = (0..MIN_SWEEP)
                .map(|_| listed(&shards[0], owner, false))
                .collect();
            assert_eq!(shards[0].lock().sweep_at, 2 * MIN_SWEEP);
            let (_tasks, notified): (Vec<_>, Vec<_>) = live.into_iter().unzip();
            finish(&shards, notified, &[owner]);
        }

        #[test]
        fn every_thread_gets_a_shard_within_the_directory_and_keeps_it() {
            // More threads than SHARDS * SHARDS: the round robin's counter
            // passes 256 (`NEXT` is shared with every other test's threads).
            let got: Vec<usize> = (0..SHARDS * SHARDS + 1)
                .map(|_| {
                    std::thread::spawn(|| {
                        let s = my_shard();
                        assert_eq!(my_shard(), s, "a thread keeps its shard");
                        s
                    })
                    .join()
                    .unwrap()
                })
                .collect();
            assert!(got.iter().all(|&s| s < SHARDS), "{got:?}");
            let mut distinct = got.clone();
            distinct.sort_unstable();
            distinct.dedup();
            assert!(
                distinct.len() > 1,
                "threads are spread over the shards: {distinct:?}"
            );
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
