//! Runtime counters, read with `Runtime::metrics()`.

use super::blocking::BlockingMetrics;
use super::shared::Shared;
use crate::sync::atomic::Ordering::Relaxed;

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
/// rt.close();
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RuntimeMetrics {
    /// One entry per loop, by loop id.
    pub loops: Vec<LoopMetrics>,
    /// Loop-local calls made from a thread that does not own the loop and
    /// routed through the thread-safe path (production mode).
    pub wrong_thread_calls: u64,
    /// The blocking pool: threads alive and idle, queued jobs, jobs run.
    pub blocking: BlockingMetrics,
}

/// What one loop has done since it started.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct LoopMetrics {
    /// Task polls run on this loop.
    pub polls: u64,
    /// Tasks spawned from this loop's thread.
    pub spawned: u64,
    /// Tasks this loop stole from siblings' deques.
    pub stolen: u64,
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
}

impl RuntimeMetrics {
    pub(crate) fn collect(shared: &Shared) -> RuntimeMetrics {
        RuntimeMetrics {
            loops: shared
                .sched
                .loops
                .iter()
                .map(|l| {
                    let m = &l.counters;
                    LoopMetrics {
                        polls: m.polls.load(Relaxed),
                        spawned: m.spawned.load(Relaxed),
                        stolen: m.stolen.load(Relaxed),
                        from_injector: m.from_injector.load(Relaxed),
                        parks: m.parks.load(Relaxed),
                        timers_fired: m.timers_fired.load(Relaxed),
                        inbox_items: m.inbox_items.load(Relaxed),
                        event_steals: m.event_steals.load(Relaxed),
                    }
                })
                .collect(),
            wrong_thread_calls: shared.wrong_thread_calls.load(Relaxed),
            blocking: shared.blocking.stats(),
        }
    }
}
