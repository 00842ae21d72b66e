//! Runtime counters, read with `Runtime::metrics()`.
//!
//! Each loop's figures are counted by that loop's thread alone (load +
//! store, no read-modify-write: nothing shared on the hot path, cheap
//! enough to stay on in production); a figure about two loops is counted by
//! the loop whose thread saw it (a steal by the thief, per victim) and
//! summed here. Reading is a snapshot of relaxed loads: figures of one loop
//! may be a few events apart from each other.

use super::blocking::BlockingMetrics;
use super::shared::Shared;
use crate::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// A snapshot of the runtime's counters.
///
/// # Examples
///
/// ```
/// let rt = loopwork::Runtime::builder().loops(2).build().unwrap();
/// rt.block_on(async { loopwork::spawn(async {}).await.unwrap() });
/// let m = rt.metrics();
/// assert_eq!(m.loops.len(), 2);
/// assert!(m.loops.iter().map(|l| l.polls).sum::<u64>() >= 1);
/// assert!(m.injector_pushes >= 1, "spawned from block_on: through the injector");
/// assert_eq!(m.tasks_alive, 0, "the one task has completed");
/// rt.close();
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RuntimeMetrics {
    /// One entry per loop, by loop id.
    pub loops: Vec<LoopMetrics>,
    /// Loop-local calls made from a thread that does not own the loop and
    /// routed through the thread-safe path (production mode); the sum of
    /// the loops' [`LoopMetrics::wrong_thread_calls`].
    pub wrong_thread_calls: u64,
    /// Tasks pushed to the global injector (spawned or woken outside the
    /// runtime's loops): those the loops have taken plus those waiting in
    /// it now.
    pub injector_pushes: u64,
    /// Tasks spawned on this runtime that have not completed (running,
    /// queued or waiting), counted from the task directory that
    /// [`all_tasks`](crate::all_tasks) reads: no counter on the hot path.
    pub tasks_alive: u64,
    /// The blocking pool: threads alive and idle, queued jobs, jobs run.
    pub blocking: BlockingMetrics,
}

/// What one loop has done since it started.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct LoopMetrics {
    /// Task polls run on this loop.
    pub polls: u64,
    /// Callbacks run on this loop (`call_soon`, `call_soon_threadsafe`,
    /// due `call_later` / `call_at`).
    pub callbacks: u64,
    /// Tasks spawned from this loop's thread.
    pub spawned: u64,
    /// Tasks this loop stole from siblings' deques (steals in).
    pub stolen: u64,
    /// Tasks siblings stole from this loop's deque (steals out).
    pub stolen_out: u64,
    /// Tasks this loop took from the global injector.
    pub from_injector: u64,
    /// Times this loop parked in its poller.
    pub parks: u64,
    /// Timers this loop fired.
    pub timers_fired: u64,
    /// Items received through this loop's inbox.
    pub inbox_items: u64,
    /// Times this loop, idle, collected a busy sibling's I/O events and ran
    /// the tasks they woke (I/O event stealing).
    pub event_steals: u64,
    /// Loop-local calls aimed at this loop from another thread and routed
    /// through the thread-safe path (production mode; debug mode panics).
    pub wrong_thread_calls: u64,
    /// The longest task poll on this loop. Measured in debug mode only
    /// (production reads no clock per poll): zero if debug mode was never
    /// on, and only polls run while it was on count.
    pub longest_poll: Duration,
}

impl RuntimeMetrics {
    pub(crate) fn collect(shared: &Shared) -> RuntimeMetrics {
        let sched = &shared.sched;
        let loops: Vec<LoopMetrics> = sched
            .loops
            .iter()
            .map(|l| {
                let m = &l.counters;
                LoopMetrics {
                    polls: m.polls.load(Relaxed),
                    callbacks: m.callbacks.load(Relaxed),
                    spawned: m.spawned.load(Relaxed),
                    stolen: m.stolen.load(Relaxed),
                    stolen_out: sched.stolen_from(l.index),
                    from_injector: m.from_injector.load(Relaxed),
                    parks: m.parks.load(Relaxed),
                    timers_fired: m.timers_fired.load(Relaxed),
                    inbox_items: m.inbox_items.load(Relaxed),
                    event_steals: m.event_steals.load(Relaxed),
                    wrong_thread_calls: m.wrong_thread_calls.load(Relaxed),
                    longest_poll: crate::debug::clock::to_duration(
                        m.longest_poll_ticks.load(Relaxed),
                    ),
                }
            })
            .collect();
        RuntimeMetrics {
            injector_pushes: loops.iter().map(|l| l.from_injector).sum::<u64>()
                + sched.injector.len() as u64,
            loops,
            tasks_alive: {
                let mut n = 0;
                crate::task::directory::for_each(sched.directory_owner(), |_| n += 1);
                n
            },
            wrong_thread_calls: shared.wrong_thread_calls.load(Relaxed),
            blocking: shared.blocking.stats(),
        }
    }
}
