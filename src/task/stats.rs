//! Per-task scheduling statistics, read by diagnostics from any thread.
//!
//! Invariants: every field is written only by the thread that polls the task,
//! while it holds `RUNNING` (so a load-then-store is an exact increment and no
//! read-modify-write is needed), and read from anywhere with `Relaxed` loads:
//! the figures are a diagnostic snapshot, never a synchronisation point. The
//! counters use the `sync` switch's atomics so that loom sees every access.
//!
//! Cost: production writes two words per poll into the task's header, a cache
//! line the poll touches anyway; debug mode adds the poll time (the clock read
//! it already makes for the slow-poll check).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// No loop has polled the task yet.
const NO_LOOP: u32 = u32::MAX;

/// Where and how much a task has run.
// The readers are the diagnostics of issues 12 and 13 (task repr,
// `all_tasks`, the await-graph dump), which land on top of this.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) struct TaskStats {
    /// The loop that polled the task last, or `NO_LOOP`.
    last_loop: AtomicU32,
    /// Completed polls (saturating at `u32::MAX`).
    polls: AtomicU32,
    /// Total and longest poll time in nanoseconds (debug mode only).
    busy_ns: AtomicU64,
    longest_ns: AtomicU64,
}

#[cfg_attr(not(test), allow(dead_code))]
impl TaskStats {
    pub(crate) fn new() -> TaskStats {
        TaskStats {
            last_loop: AtomicU32::new(NO_LOOP),
            polls: AtomicU32::new(0),
            busy_ns: AtomicU64::new(0),
            longest_ns: AtomicU64::new(0),
        }
    }

    /// Records that loop `index` is polling the task. Called by the poller,
    /// under `RUNNING`, before the poll.
    #[inline]
    pub(crate) fn poll_started(&self, index: usize) {
        self.last_loop.store(index as u32, Relaxed);
    }

    /// Records a finished poll (`took` is known in debug mode only).
    /// Called by the poller, under `RUNNING`.
    #[inline]
    pub(crate) fn poll_finished(&self, took: Option<Duration>) {
        let polls = self.polls.load(Relaxed);
        self.polls.store(polls.saturating_add(1), Relaxed);
        if let Some(took) = took {
            let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
            self.busy_ns
                .store(self.busy_ns.load(Relaxed).saturating_add(ns), Relaxed);
            if ns > self.longest_ns.load(Relaxed) {
                self.longest_ns.store(ns, Relaxed);
            }
        }
    }

    /// The loop that polled the task last, if any has.
    pub(crate) fn last_loop(&self) -> Option<usize> {
        match self.last_loop.load(Relaxed) {
            NO_LOOP => None,
            i => Some(i as usize),
        }
    }

    /// Completed polls.
    pub(crate) fn polls(&self) -> u32 {
        self.polls.load(Relaxed)
    }

    /// Total time spent in polls (zero unless debug mode timed them).
    pub(crate) fn busy(&self) -> Duration {
        Duration::from_nanos(self.busy_ns.load(Relaxed))
    }

    /// The longest single poll (zero unless debug mode timed it).
    pub(crate) fn longest_poll(&self) -> Duration {
        Duration::from_nanos(self.longest_ns.load(Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_record_the_last_loop_the_poll_count_and_poll_times() {
        let s = TaskStats::new();
        assert_eq!(s.last_loop(), None, "never polled: no loop yet");
        s.poll_started(3);
        s.poll_finished(None);
        assert_eq!((s.last_loop(), s.polls()), (Some(3), 1));
        assert_eq!(s.busy(), Duration::ZERO, "production polls are not timed");
        s.poll_started(1);
        s.poll_finished(Some(Duration::from_micros(5)));
        s.poll_started(1);
        s.poll_finished(Some(Duration::from_micros(2)));
        assert_eq!((s.last_loop(), s.polls()), (Some(1), 3));
        assert_eq!(s.busy(), Duration::from_micros(7));
        assert_eq!(s.longest_poll(), Duration::from_micros(5));
    }
}
