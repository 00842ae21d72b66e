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
//! it already makes for the slow-poll check), kept in the debug clock's ticks
//! and converted to time only when read.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::debug::clock;

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
    /// Total and longest poll time in `debug::clock` ticks (debug mode
    /// only).
    busy_ticks: AtomicU64,
    longest_ticks: AtomicU64,
}

#[cfg_attr(not(test), allow(dead_code))]
impl TaskStats {
    pub(crate) fn new() -> TaskStats {
        TaskStats {
            last_loop: AtomicU32::new(NO_LOOP),
            polls: AtomicU32::new(0),
            busy_ticks: AtomicU64::new(0),
            longest_ticks: AtomicU64::new(0),
        }
    }

    /// Records that loop `index` is polling the task. Called by the poller,
    /// under `RUNNING`, before the poll.
    #[inline]
    pub(crate) fn poll_started(&self, index: usize) {
        self.last_loop.store(index as u32, Relaxed);
    }

    /// Records a finished poll; `ticks`: how long it ran, in debug clock
    /// ticks (known in debug mode only). Called by the poller, under
    /// `RUNNING`.
    #[inline]
    pub(crate) fn poll_finished(&self, ticks: Option<u64>) {
        let polls = self.polls.load(Relaxed);
        self.polls.store(polls.saturating_add(1), Relaxed);
        if let Some(ticks) = ticks {
            self.busy_ticks
                .store(self.busy_ticks.load(Relaxed).saturating_add(ticks), Relaxed);
            if ticks > self.longest_ticks.load(Relaxed) {
                self.longest_ticks.store(ticks, Relaxed);
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
        clock::to_duration(self.busy_ticks.load(Relaxed))
    }

    /// The longest single poll (zero unless debug mode timed it).
    pub(crate) fn longest_poll(&self) -> Duration {
        clock::to_duration(self.longest_ticks.load(Relaxed))
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
        let ticks = |us| clock::from_duration(Duration::from_micros(us));
        s.poll_started(1);
        s.poll_finished(Some(ticks(5)));
        s.poll_started(1);
        s.poll_finished(Some(ticks(2)));
        assert_eq!((s.last_loop(), s.polls()), (Some(1), 3));
        assert_eq!(s.busy(), clock::to_duration(ticks(5) + ticks(2)));
        assert_eq!(s.longest_poll(), clock::to_duration(ticks(5)));
        assert!(s.busy().abs_diff(Duration::from_micros(7)) < Duration::from_micros(1));
    }
}
