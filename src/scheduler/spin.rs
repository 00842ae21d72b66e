//! When an idle loop spins before parking: only while handoffs from other
//! threads have recently come back-to-back.
//!
//! # Invariants
//! * The spin is bounded by `Tuning::spin` per idle period and never runs
//!   when that is zero (`Builder::idle_spin(Duration::ZERO)`).
//! * The policy is a hint: it decides only whether a loop watches its queues
//!   for a while before it parks, never whether it parks or what it sees, so
//!   no wakeup depends on it.
//! * It lives on its loop's thread (plain `Cell`s).
//!
//! # Why adaptive
//! A spin pays when the next handoff comes within the spin window (a foreign
//! thread in a tight `run_coroutine_threadsafe(..).result()` loop): neither
//! side sleeps or wakes. When handoffs are sporadic it pays nothing and costs
//! more than its CPU: on a machine with few CPUs the thread the loop has just
//! woken (the waiter of the result it delivered) is often queued on the
//! spinning loop's CPU and runs only when the spin ends. Measured on 2 CPUs
//! (BENCHMARKS.md, "Issue 16: the server path"): with gaps of 50 µs between
//! round trips, 33 µs per round trip with the 25 µs spin, 7 µs without it.
//!
//! So the loop measures the gap it would have spun over: the time from going
//! idle after a handoff to the next handoff. A spin that found work within
//! the window proves a gap shorter than it and keeps spinning on (work found
//! only after it, because the OS ran something else meanwhile, does not);
//! two spins in a row that find nothing turn spinning off; while off, the
//! loop parks at once and times the gap until the next handoff, and a gap
//! shorter than the window turns spinning back on (the same idea as a mutex
//! that spins only when recent waits were short).
//!
//! How the loop spins (pausing, or yielding its CPU after it released a
//! blocked waiter) is `LoopScheduler::spin`'s business; this file only
//! decides whether.

use std::cell::Cell;
use std::time::{Duration, Instant};

std::thread_local! {
    /// Set on a thread that has just released a thread blocked on a result
    /// (`ConcurrentFuture::result`); read and cleared by the loop's next spin.
    static RELEASED_A_WAITER: Cell<bool> = const { Cell::new(false) };
}

/// This thread has just released a waiter blocked on a result it produced:
/// that waiter is about to run, and on a machine with more runnable threads
/// than CPUs it may be queued on this thread's CPU. The loop's next spin then
/// yields its CPU between two looks instead of only pausing
/// (`LoopScheduler::spin`).
pub(crate) fn released_a_waiter() {
    let _ = RELEASED_A_WAITER.try_with(|r| r.set(true));
}

/// Whether this thread released a waiter since the last call (see
/// `released_a_waiter`); clears it.
pub(crate) fn take_released_a_waiter() -> bool {
    RELEASED_A_WAITER
        .try_with(|r| r.replace(false))
        .unwrap_or(false)
}

/// One loop's spin decision (see the module docs).
pub(crate) struct SpinPolicy {
    /// Whether the next idle period after a handoff is spun.
    armed: Cell<bool>,
    /// Spins in a row that found nothing: at `MISSES_TO_DISARM`, spinning
    /// turns off.
    misses: Cell<u32>,
    /// While not armed: when the loop went idle after a handoff without
    /// spinning; the next handoff measures the gap from there.
    idle_since: Cell<Option<Instant>>,
}

/// Spins in a row that must find nothing before spinning turns off: one
/// late handoff in a back-to-back stream (the producer descheduled for a
/// moment) should not cost the stream its fast path.
const MISSES_TO_DISARM: u32 = 2;

impl SpinPolicy {
    pub(crate) fn new() -> SpinPolicy {
        SpinPolicy {
            armed: Cell::new(true),
            misses: Cell::new(0),
            idle_since: Cell::new(None),
        }
    }

    /// The loop is idle after a handoff: whether to spin now. When not,
    /// starts timing the gap to the next handoff.
    pub(crate) fn should_spin(&self) -> bool {
        if self.armed.get() {
            return true;
        }
        if self.idle_since.get().is_none() {
            self.idle_since.set(Some(Instant::now()));
        }
        false
    }

    /// A spin ended: `found` work within the window or not.
    pub(crate) fn spun(&self, found: bool) {
        if found {
            self.misses.set(0);
            return;
        }
        let misses = self.misses.get() + 1;
        if misses >= MISSES_TO_DISARM {
            self.armed.set(false);
            self.misses.set(0);
        } else {
            self.misses.set(misses);
        }
    }

    /// Work arrived in the inbox: if the loop was timing a gap, a gap shorter
    /// than `window` turns spinning back on.
    pub(crate) fn handoff(&self, window: Duration) {
        // The clock is read only while a gap is being timed: a handoff
        // to a loop that spins costs no clock read.
        if let Some(since) = self.idle_since.take() {
            self.armed.set(gap_is_short(since, Instant::now(), window));
        }
    }

    /// Whether the next idle period after a handoff will be spun.
    #[cfg(test)]
    pub(super) fn armed(&self) -> bool {
        self.armed.get()
    }
}

/// Whether the gap from `since` to `now` is shorter than `window` (apart
/// from `handoff` so that a test can put the gap exactly at the window).
fn gap_is_short(since: Instant, now: Instant, window: Duration) -> bool {
    now.saturating_duration_since(since) < window
}

#[cfg(test)]
#[cfg(not(loopwork_loom))]
mod tests {
    use super::*;

    fn disarmed() -> SpinPolicy {
        let p = SpinPolicy::new();
        for _ in 0..MISSES_TO_DISARM {
            assert!(p.should_spin());
            p.spun(false);
        }
        p
    }

    #[test]
    fn spins_that_time_out_in_a_row_turn_spinning_off() {
        let p = disarmed();
        assert!(!p.should_spin());
    }

    #[test]
    fn a_spin_that_finds_work_resets_the_misses() {
        let p = SpinPolicy::new();
        for _ in 0..10 {
            p.spun(false);
            p.spun(true);
        }
        assert!(p.should_spin());
    }

    #[test]
    fn a_short_gap_while_off_turns_spinning_back_on() {
        let p = disarmed();
        assert!(!p.should_spin());
        // A window no gap can reach: the gap is "short".
        p.handoff(Duration::MAX);
        assert!(p.armed());
    }

    #[test]
    fn a_long_gap_while_off_keeps_spinning_off() {
        let p = disarmed();
        assert!(!p.should_spin());
        // A zero window: every gap is "long".
        p.handoff(Duration::ZERO);
        assert!(!p.armed());
        assert!(!p.should_spin());
    }

    #[test]
    fn a_gap_exactly_as_long_as_the_window_is_long() {
        let window = Duration::from_micros(25);
        let since = Instant::now();
        assert!(
            !gap_is_short(since, since + window, window),
            "a gap of the whole window is not shorter than it"
        );
        assert!(
            gap_is_short(since, since + window - Duration::from_nanos(1), window),
            "a gap just under the window is short"
        );
        assert!(
            gap_is_short(since + window, since, window),
            "a clock reading before the start is a zero gap"
        );
    }

    #[test]
    fn releasing_a_waiter_is_reported_once_to_the_next_spin() {
        assert!(
            !take_released_a_waiter(),
            "nothing released on this thread yet"
        );
        released_a_waiter();
        assert!(take_released_a_waiter(), "the release is reported");
        assert!(!take_released_a_waiter(), "and cleared by the report");
    }

    #[test]
    fn a_single_spin_that_finds_nothing_keeps_spinning_on() {
        let p = SpinPolicy::new();
        p.spun(false);
        assert!(p.should_spin(), "one miss in a row is below the limit");
        p.spun(false);
        assert!(!p.should_spin(), "two in a row turn it off");
    }

    #[test]
    fn a_handoff_without_a_timed_gap_changes_nothing() {
        let p = SpinPolicy::new();
        p.handoff(Duration::ZERO);
        assert!(p.armed());
        let p = disarmed();
        p.handoff(Duration::MAX);
        assert!(!p.armed(), "no gap was being timed (the loop had spun)");
    }
}
