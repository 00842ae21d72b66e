//! The task state word: lifecycle flags and the reference count in one atomic.
//!
//! ```text
//!  63 ..................... 6 | 5          | 4             | 3         | 2        | 1        | 0
//!  reference count           | JOIN_WAKER | JOIN_INTEREST | CANCELLED | NOTIFIED | COMPLETE | RUNNING
//! ```
//!
//! Every transition is one atomic read-modify-write, so a flag change and the
//! reference-count change that goes with it are seen together. The transitions
//! (the `transition_*` methods) are the only way the word changes:
//!
//! | transition | from | to | who |
//! |---|---|---|---|
//! | `to_running` | NOTIFIED, idle | RUNNING | the loop that popped the `Notified` |
//! | `to_idle` | RUNNING | idle (or re-NOTIFIED) | the poller after `Pending` |
//! | `to_complete` | RUNNING | COMPLETE | the poller after `Ready`, a panic or a cancel |
//! | `to_notified_by_val/ref` | idle | NOTIFIED | a waker |
//! | `to_notified_and_cancel` | any | CANCELLED (+NOTIFIED if idle) | `Task::cancel` |
//! | `to_shutdown` | idle | RUNNING + CANCELLED | the runtime at shutdown |
//!
//! Reference counting: a task starts with two references, one owned by the
//! `Notified` handed to the scheduler and one by the `Task` join handle. Every
//! `Waker`, every `Notified` and the owning loop's registry entry hold one
//! more. The holder of the last reference frees the allocation.
//!
//! `NOTIFIED` is set at most once at a time, so there is at most one
//! `Notified` per task in any queue: a task is never polled twice for one wake.
//! A wake that arrives while the task is `RUNNING` only sets `NOTIFIED`; the
//! poller sees it in `transition_to_idle` and reschedules the task itself.
//!
//! The join waker slot is guarded by `JOIN_WAKER`: while the bit is clear only
//! the join handle may touch the slot; while it is set only the runtime may read
//! it. The join handle clears the bit (failing if the task completed) before it
//! writes a new waker. The waker is dropped as soon as neither side needs it,
//! not when the task is freed: the runtime clears the bit after it woke the
//! waker of a completed task, and whichever of the runtime and the join handle
//! sees the other gone empties the slot. Two tasks that await each other
//! hold each other's wakers; a slot kept until the free would keep both
//! alive forever once they are done.

use crate::sync::atomic::{AtomicUsize, Ordering::*};
use std::fmt;

/// Set while a thread is polling the future; grants exclusive access to the stage.
const RUNNING: usize = 0b00_0001;
/// Set once, when the output (or an error) is stored and the future dropped.
/// Never cleared.
const COMPLETE: usize = 0b00_0010;
/// Set by a wake; the holder of the matching `Notified` will poll the task.
const NOTIFIED: usize = 0b00_0100;
/// Set by `Task::cancel` or shutdown; the next scheduling point drops the future.
const CANCELLED: usize = 0b00_1000;
/// Set while a `Task` join handle exists. Cleared only by the join handle.
const JOIN_INTEREST: usize = 0b01_0000;
/// Set while the join waker slot holds a waker the runtime may read.
const JOIN_WAKER: usize = 0b10_0000;

const LIFECYCLE_MASK: usize = RUNNING | COMPLETE;
const REF_SHIFT: usize = 6;
const REF_ONE: usize = 1 << REF_SHIFT;
const REF_MASK: usize = !(REF_ONE - 1);

/// Two references (the first `Notified` and the `Task`), join interest, notified.
const INITIAL: usize = (2 * REF_ONE) | JOIN_INTEREST | NOTIFIED;

pub(crate) struct State {
    val: AtomicUsize,
}

/// A copy of the state word at one moment.
#[derive(Copy, Clone, PartialEq, Eq)]
pub(crate) struct Snapshot(usize);

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TransitionToRunning {
    /// Poll the future.
    Success,
    /// The task was cancelled: drop the future and complete with `Cancelled`.
    Cancelled,
    /// Someone else runs or ran it; the caller's reference was released.
    Failed,
    /// As `Failed`, and it was the last reference: free the task.
    Dealloc,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TransitionToIdle {
    /// Idle; the running reference was released (other references remain).
    Ok,
    /// Woken while running: the running reference becomes a new `Notified`.
    OkNotified,
    /// Idle and the running reference was the last one: free the task.
    OkDealloc,
    /// Cancelled while running: still `RUNNING`, the caller must cancel it.
    Cancelled,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TransitionToNotified {
    /// Nothing to schedule.
    DoNothing,
    /// Hand a `Notified` (holding one reference) to the scheduler.
    Submit,
    /// Nothing to schedule and the caller's reference was the last: free the task.
    Dealloc,
}

impl State {
    pub(crate) fn new() -> State {
        State {
            val: AtomicUsize::new(INITIAL),
        }
    }

    /// As `new`, plus the task directory's reference (`directory.rs`):
    /// taken here instead of by a read-modify-write after the allocation.
    pub(crate) fn new_listed() -> State {
        State {
            val: AtomicUsize::new(INITIAL + REF_ONE),
        }
    }

    pub(crate) fn load(&self) -> Snapshot {
        // Acquire: pairs with the Release half of the transitions below (a
        // COMPLETE seen here comes with the output `transition_to_complete`
        // published).
        Snapshot(self.val.load(Acquire))
    }

    /// Called by the holder of a `Notified` before polling.
    pub(crate) fn transition_to_running(&self) -> TransitionToRunning {
        self.fetch_update_action(|curr| {
            assert!(curr.is_notified(), "task run without being notified");
            let mut next = curr;
            if !next.is_idle() {
                // Already running elsewhere or complete (shutdown claimed it):
                // this `Notified` is stale, release its reference.
                next.ref_dec();
                let action = if next.ref_count() == 0 {
                    TransitionToRunning::Dealloc
                } else {
                    TransitionToRunning::Failed
                };
                return (action, Some(next));
            }
            next.0 |= RUNNING;
            next.0 &= !NOTIFIED;
            let action = if next.is_cancelled() {
                TransitionToRunning::Cancelled
            } else {
                TransitionToRunning::Success
            };
            (action, Some(next))
        })
    }

    /// Called by the poller after the future returned `Pending`.
    pub(crate) fn transition_to_idle(&self) -> TransitionToIdle {
        self.fetch_update_action(|curr| {
            assert!(curr.is_running());
            if curr.is_cancelled() {
                return (TransitionToIdle::Cancelled, None);
            }
            let mut next = curr;
            next.0 &= !RUNNING;
            if next.is_notified() {
                // Keep the running reference: it is the new `Notified`'s.
                (TransitionToIdle::OkNotified, Some(next))
            } else {
                next.ref_dec();
                let action = if next.ref_count() == 0 {
                    TransitionToIdle::OkDealloc
                } else {
                    TransitionToIdle::Ok
                };
                (action, Some(next))
            }
        })
    }

    /// RUNNING → COMPLETE. Returns the state after the transition. The caller
    /// still holds the running reference and must release it afterwards.
    pub(crate) fn transition_to_complete(&self) -> Snapshot {
        // AcqRel: Release publishes the stored output to the join handle;
        // Acquire pairs with the join handle's JOIN_WAKER / JOIN_INTEREST writes.
        let prev = Snapshot(self.val.fetch_xor(RUNNING | COMPLETE, AcqRel));
        debug_assert!(prev.is_running() && !prev.is_complete());
        Snapshot(prev.0 ^ (RUNNING | COMPLETE))
    }

    /// A waker consumed by value (`wake`): its reference is either handed to the
    /// new `Notified` or released.
    pub(crate) fn transition_to_notified_by_val(&self) -> TransitionToNotified {
        self.fetch_update_action(|curr| {
            let mut next = curr;
            let action = if curr.is_running() {
                // The poller reschedules it; the waker's reference goes.
                next.0 |= NOTIFIED;
                next.ref_dec();
                assert!(next.ref_count() > 0, "the poller holds a reference");
                TransitionToNotified::DoNothing
            } else if curr.is_complete() || curr.is_notified() {
                next.ref_dec();
                if next.ref_count() == 0 {
                    TransitionToNotified::Dealloc
                } else {
                    TransitionToNotified::DoNothing
                }
            } else {
                next.0 |= NOTIFIED;
                TransitionToNotified::Submit
            };
            (action, Some(next))
        })
    }

    /// A waker used by reference (`wake_by_ref`): a submission takes a new reference.
    pub(crate) fn transition_to_notified_by_ref(&self) -> TransitionToNotified {
        self.fetch_update_action(|curr| {
            let mut next = curr;
            if curr.is_complete() || curr.is_notified() {
                (TransitionToNotified::DoNothing, None)
            } else if curr.is_running() {
                next.0 |= NOTIFIED;
                (TransitionToNotified::DoNothing, Some(next))
            } else {
                next.0 |= NOTIFIED;
                next.ref_inc();
                (TransitionToNotified::Submit, Some(next))
            }
        })
    }

    /// `Task::cancel`. Returns `true` when the caller must submit a new
    /// `Notified` (which holds the reference taken here) so the cancellation is
    /// carried out at the task's next scheduling point.
    pub(crate) fn transition_to_notified_and_cancel(&self) -> bool {
        self.fetch_update_action(|curr| {
            let mut next = curr;
            if curr.is_complete() || curr.is_cancelled() {
                (false, None)
            } else if curr.is_running() || curr.is_notified() {
                // The poller (after this poll) or the queued `Notified` sees it.
                next.0 |= CANCELLED;
                (false, Some(next))
            } else {
                next.0 |= CANCELLED | NOTIFIED;
                next.ref_inc();
                (true, Some(next))
            }
        })
    }

    /// Shutdown: claims an idle task (sets RUNNING) so the caller can drop its
    /// future right away; a running task only gets CANCELLED and its poller
    /// cancels it after the current poll. Returns `true` when claimed.
    pub(crate) fn transition_to_shutdown(&self) -> bool {
        self.fetch_update_action(|curr| {
            let mut next = curr;
            let claimed = if curr.is_idle() {
                next.0 |= RUNNING;
                true
            } else {
                false
            };
            next.0 |= CANCELLED;
            (claimed, Some(next))
        })
    }

    /// The join handle is dropped: clears `JOIN_INTEREST`, and `JOIN_WAKER`
    /// too unless the task completed (then the runtime may be reading the
    /// slot, and clears the bit itself in `unset_waker_after_complete`).
    /// Returns the state before and after: the output is the join handle's
    /// to drop if the task had completed, and the join waker slot is the
    /// join handle's to empty if `JOIN_WAKER` is clear afterwards.
    pub(crate) fn transition_to_join_handle_dropped(&self) -> (Snapshot, Snapshot) {
        self.fetch_update_action(|curr| {
            assert!(curr.is_join_interested());
            let mut next = curr;
            if !curr.is_complete() {
                next.0 &= !JOIN_WAKER;
            }
            next.0 &= !JOIN_INTEREST;
            ((curr, next), Some(next))
        })
    }

    /// The runtime has woken the join waker of a completed task and lets go
    /// of the slot. Returns the state after: if the join handle is gone
    /// (`JOIN_INTEREST` clear), emptying the slot is the runtime's job; if not,
    /// the join handle's, when it is dropped.
    pub(crate) fn unset_waker_after_complete(&self) -> Snapshot {
        // AcqRel: Release orders the runtime's read of the slot before the
        // join handle's later write; Acquire sees a join handle's drop.
        let prev = Snapshot(self.val.fetch_and(!JOIN_WAKER, AcqRel));
        assert!(prev.is_complete() && prev.is_join_waker_set());
        Snapshot(prev.0 & !JOIN_WAKER)
    }

    /// Publishes the join waker slot to the runtime. `Err` if the task
    /// completed first: the join handle then reads the output instead.
    pub(crate) fn set_join_waker(&self) -> Result<Snapshot, Snapshot> {
        self.fetch_update(|curr| {
            assert!(curr.is_join_interested() && !curr.is_join_waker_set());
            if curr.is_complete() {
                return None;
            }
            Some(Snapshot(curr.0 | JOIN_WAKER))
        })
    }

    /// Takes the join waker slot back from the runtime so it can be replaced.
    pub(crate) fn unset_waker(&self) -> Result<Snapshot, Snapshot> {
        self.fetch_update(|curr| {
            assert!(curr.is_join_interested() && curr.is_join_waker_set());
            if curr.is_complete() {
                return None;
            }
            Some(Snapshot(curr.0 & !JOIN_WAKER))
        })
    }

    pub(crate) fn ref_inc(&self) {
        // Relaxed: a new reference is made from an existing one, which already
        // keeps the task alive; no data is published by the increment.
        let prev = self.val.fetch_add(REF_ONE, Relaxed);
        if prev > isize::MAX as usize {
            // As `Arc`: an overflowing count would free a live task.
            std::process::abort();
        }
    }

    /// Releases one reference; `true` when it was the last.
    pub(crate) fn ref_dec(&self) -> bool {
        // AcqRel: Release so this thread's uses of the task happen before the
        // free; Acquire so the freeing thread sees everyone's uses.
        let prev = Snapshot(self.val.fetch_sub(REF_ONE, AcqRel));
        assert!(prev.ref_count() >= 1, "task reference count underflow");
        prev.ref_count() == 1
    }

    /// The transitions' CAS loop. AcqRel on success: Release publishes
    /// what this side did before the transition (a waker stored, the
    /// future dropped) to the side whose Acquire reads the new state (its
    /// own CAS, or `load`); Acquire on failure pairs likewise with the
    /// transition that got in first.
    fn fetch_update_action<T>(&self, mut f: impl FnMut(Snapshot) -> (T, Option<Snapshot>)) -> T {
        let mut curr = self.load();
        loop {
            let (output, next) = f(curr);
            let Some(next) = next else { return output };
            match self
                .val
                .compare_exchange_weak(curr.0, next.0, AcqRel, Acquire)
            {
                Ok(_) => return output,
                Err(actual) => curr = Snapshot(actual),
            }
        }
    }

    /// As `fetch_update_action` (same orderings, same pairing).
    fn fetch_update(
        &self,
        mut f: impl FnMut(Snapshot) -> Option<Snapshot>,
    ) -> Result<Snapshot, Snapshot> {
        let mut curr = self.load();
        loop {
            let Some(next) = f(curr) else {
                return Err(curr);
            };
            match self
                .val
                .compare_exchange_weak(curr.0, next.0, AcqRel, Acquire)
            {
                Ok(_) => return Ok(next),
                Err(actual) => curr = Snapshot(actual),
            }
        }
    }
}

impl Snapshot {
    /// Neither running nor complete.
    pub(crate) fn is_idle(self) -> bool {
        self.0 & LIFECYCLE_MASK == 0
    }
    pub(crate) fn is_running(self) -> bool {
        self.0 & RUNNING != 0
    }
    pub(crate) fn is_complete(self) -> bool {
        self.0 & COMPLETE != 0
    }
    pub(crate) fn is_notified(self) -> bool {
        self.0 & NOTIFIED != 0
    }
    pub(crate) fn is_cancelled(self) -> bool {
        self.0 & CANCELLED != 0
    }
    pub(crate) fn is_join_interested(self) -> bool {
        self.0 & JOIN_INTEREST != 0
    }
    pub(crate) fn is_join_waker_set(self) -> bool {
        self.0 & JOIN_WAKER != 0
    }
    pub(crate) fn ref_count(self) -> usize {
        (self.0 & REF_MASK) >> REF_SHIFT
    }
    fn ref_inc(&mut self) {
        self.0 += REF_ONE;
    }
    fn ref_dec(&mut self) {
        assert!(self.ref_count() > 0);
        self.0 -= REF_ONE;
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("running", &self.is_running())
            .field("complete", &self.is_complete())
            .field("notified", &self.is_notified())
            .field("cancelled", &self.is_cancelled())
            .field("join_interested", &self.is_join_interested())
            .field("join_waker", &self.is_join_waker_set())
            .field("refs", &self.ref_count())
            .finish()
    }
}

// Each transition, run alone from a known word: the integration tests reach
// most of them only through the scheduler, where a wrong reference count
// leaks or frees late without failing, and a wrong flag is often covered by
// the next wake (see TESTING.md, cargo-mutants).
#[cfg(test)]
#[cfg(not(loopwork_loom))]
mod tests {
    use super::*;

    /// A new task's state after its first poll returned `Pending`: idle, not
    /// notified, one reference (the `Task`'s) and join interest.
    fn idle_with_one_ref() -> State {
        let state = State::new();
        assert_eq!(state.transition_to_running(), TransitionToRunning::Success);
        assert_eq!(state.transition_to_idle(), TransitionToIdle::Ok);
        state
    }

    #[test]
    fn a_new_task_is_notified_join_interested_and_has_two_references() {
        let s = State::new().load();
        assert_eq!(s.0, (2 << REF_SHIFT) | JOIN_INTEREST | NOTIFIED);
        assert!(s.is_idle() && s.is_notified() && s.is_join_interested());
        assert!(!s.is_running() && !s.is_complete() && !s.is_cancelled());
        assert!(!s.is_join_waker_set());
        assert_eq!(s.ref_count(), 2);
    }

    #[test]
    fn the_flags_and_the_reference_count_do_not_overlap() {
        assert_eq!(LIFECYCLE_MASK, 0b11);
        assert_eq!(REF_ONE, 64);
        assert_eq!(REF_MASK, !63);
        assert_eq!(INITIAL, 128 + 16 + 4);
        let all_flags =
            Snapshot(RUNNING | COMPLETE | NOTIFIED | CANCELLED | JOIN_INTEREST | JOIN_WAKER);
        assert_eq!(all_flags.ref_count(), 0);
        let refs_only = Snapshot(5 * REF_ONE);
        assert_eq!(refs_only.ref_count(), 5);
        assert!(refs_only.is_idle());
        for flag in [
            RUNNING,
            COMPLETE,
            NOTIFIED,
            CANCELLED,
            JOIN_INTEREST,
            JOIN_WAKER,
        ] {
            let s = Snapshot(flag | (3 * REF_ONE));
            assert_eq!(s.ref_count(), 3);
            assert_eq!(s.is_running(), flag == RUNNING);
            assert_eq!(s.is_complete(), flag == COMPLETE);
            assert_eq!(s.is_notified(), flag == NOTIFIED);
            assert_eq!(s.is_cancelled(), flag == CANCELLED);
            assert_eq!(s.is_join_interested(), flag == JOIN_INTEREST);
            assert_eq!(s.is_join_waker_set(), flag == JOIN_WAKER);
            assert_eq!(s.is_idle(), flag != RUNNING && flag != COMPLETE);
        }
    }

    #[test]
    fn running_clears_notified_and_keeps_the_references() {
        let state = State::new();
        assert_eq!(state.transition_to_running(), TransitionToRunning::Success);
        let s = state.load();
        assert!(s.is_running() && !s.is_notified() && !s.is_idle());
        assert_eq!(s.ref_count(), 2);
        assert_eq!(s.0, (2 << REF_SHIFT) | JOIN_INTEREST | RUNNING);
    }

    #[test]
    fn running_a_cancelled_task_reports_cancelled() {
        let state = State::new();
        assert!(
            !state.transition_to_notified_and_cancel(),
            "already notified"
        );
        assert_eq!(
            state.transition_to_running(),
            TransitionToRunning::Cancelled
        );
        let s = state.load();
        assert!(s.is_running() && s.is_cancelled() && !s.is_notified());
    }

    #[test]
    fn a_stale_notified_releases_its_reference_and_frees_only_on_the_last() {
        let state = State::new();
        assert_eq!(state.transition_to_running(), TransitionToRunning::Success);
        // A wake while running sets NOTIFIED without a new `Notified`; a
        // `Notified` that then finds the task running is stale.
        assert_eq!(
            state.transition_to_notified_by_ref(),
            TransitionToNotified::DoNothing
        );
        assert_eq!(state.transition_to_running(), TransitionToRunning::Failed);
        assert_eq!(state.load().ref_count(), 1);
        assert!(state.load().is_running() && state.load().is_notified());
        // Same again with one reference left: that one is the last.
        assert_eq!(state.transition_to_running(), TransitionToRunning::Dealloc);
        assert_eq!(state.load().ref_count(), 0);
    }

    #[test]
    fn idle_after_pending_releases_the_running_reference() {
        let state = idle_with_one_ref();
        let s = state.load();
        assert!(s.is_idle() && !s.is_running() && !s.is_notified());
        assert_eq!(s.ref_count(), 1);
        assert_eq!(s.0, REF_ONE | JOIN_INTEREST);
    }

    #[test]
    fn idle_after_a_wake_while_running_keeps_the_reference_for_the_new_notified() {
        let state = State::new();
        state.transition_to_running();
        assert_eq!(
            state.transition_to_notified_by_ref(),
            TransitionToNotified::DoNothing
        );
        assert_eq!(state.transition_to_idle(), TransitionToIdle::OkNotified);
        let s = state.load();
        assert!(s.is_idle() && s.is_notified());
        assert_eq!(s.ref_count(), 2);
    }

    #[test]
    fn idle_with_the_last_reference_frees_the_task() {
        let state = State::new();
        state.transition_to_running();
        assert!(!state.ref_dec(), "two references, not the last");
        assert_eq!(state.transition_to_idle(), TransitionToIdle::OkDealloc);
        assert_eq!(state.load().ref_count(), 0);
    }

    #[test]
    fn idle_after_a_cancel_while_running_stays_running_for_the_canceller() {
        let state = State::new();
        state.transition_to_running();
        assert!(
            !state.transition_to_notified_and_cancel(),
            "running: no submit"
        );
        let before = state.load();
        assert!(before.is_cancelled() && !before.is_notified());
        assert_eq!(state.transition_to_idle(), TransitionToIdle::Cancelled);
        assert_eq!(state.load().0, before.0, "unchanged");
    }

    #[test]
    fn complete_swaps_running_for_complete_and_keeps_the_rest() {
        let state = State::new();
        state.transition_to_running();
        let s = state.transition_to_complete();
        assert_eq!(s.0, state.load().0);
        assert!(s.is_complete() && !s.is_running() && !s.is_idle());
        assert_eq!(s.0, (2 << REF_SHIFT) | JOIN_INTEREST | COMPLETE);
    }

    #[test]
    fn a_wake_by_value_of_an_idle_task_submits_with_the_wakers_reference() {
        let state = idle_with_one_ref();
        state.ref_inc(); // the waker's
        assert_eq!(
            state.transition_to_notified_by_val(),
            TransitionToNotified::Submit
        );
        let s = state.load();
        assert!(s.is_notified() && s.is_idle());
        assert_eq!(s.ref_count(), 2);
    }

    #[test]
    fn a_wake_by_value_while_running_marks_notified_and_drops_the_wakers_reference() {
        let state = State::new();
        state.transition_to_running();
        state.ref_inc(); // the waker's
        assert_eq!(
            state.transition_to_notified_by_val(),
            TransitionToNotified::DoNothing
        );
        let s = state.load();
        assert!(s.is_notified() && s.is_running());
        assert_eq!(s.ref_count(), 2);
    }

    #[test]
    fn a_wake_by_value_of_a_notified_or_complete_task_only_drops_the_reference() {
        // Notified: the queued `Notified` runs it.
        let state = State::new();
        state.ref_inc();
        assert_eq!(
            state.transition_to_notified_by_val(),
            TransitionToNotified::DoNothing
        );
        assert_eq!(state.load().0, INITIAL);
        // Complete, and the waker's reference is the last one.
        let state = State::new();
        state.transition_to_running();
        state.transition_to_complete();
        assert!(!state.ref_dec());
        assert_eq!(
            state.transition_to_notified_by_val(),
            TransitionToNotified::Dealloc
        );
        let s = state.load();
        assert_eq!(s.ref_count(), 0);
        assert!(s.is_complete() && !s.is_notified());
    }

    #[test]
    fn a_wake_by_reference_takes_a_reference_only_when_it_submits() {
        let state = idle_with_one_ref();
        assert_eq!(
            state.transition_to_notified_by_ref(),
            TransitionToNotified::Submit
        );
        let s = state.load();
        assert!(s.is_notified() && s.is_idle());
        assert_eq!(s.ref_count(), 2);
        // Already notified: nothing changes.
        assert_eq!(
            state.transition_to_notified_by_ref(),
            TransitionToNotified::DoNothing
        );
        assert_eq!(state.load().0, s.0);
        // Complete: nothing changes.
        let state = State::new();
        state.transition_to_running();
        let done = state.transition_to_complete();
        assert_eq!(
            state.transition_to_notified_by_ref(),
            TransitionToNotified::DoNothing
        );
        assert_eq!(state.load().0, done.0);
    }

    #[test]
    fn cancel_of_an_idle_task_notifies_it_with_a_new_reference() {
        let state = idle_with_one_ref();
        assert!(state.transition_to_notified_and_cancel());
        let s = state.load();
        assert!(s.is_cancelled() && s.is_notified() && s.is_idle());
        assert_eq!(s.ref_count(), 2);
        // A second cancel does nothing.
        assert!(!state.transition_to_notified_and_cancel());
        assert_eq!(state.load().0, s.0);
    }

    #[test]
    fn cancel_of_a_notified_task_only_marks_it() {
        let state = State::new();
        assert!(!state.transition_to_notified_and_cancel());
        assert_eq!(state.load().0, INITIAL | CANCELLED);
    }

    #[test]
    fn cancel_of_a_complete_task_changes_nothing() {
        let state = State::new();
        state.transition_to_running();
        let done = state.transition_to_complete();
        assert!(!state.transition_to_notified_and_cancel());
        assert_eq!(state.load().0, done.0);
        assert!(!state.load().is_cancelled());
    }

    #[test]
    fn shutdown_claims_an_idle_task_and_only_marks_a_running_one() {
        let state = idle_with_one_ref();
        assert!(state.transition_to_shutdown());
        let s = state.load();
        assert!(s.is_running() && s.is_cancelled());
        assert_eq!(s.ref_count(), 1);

        let state = State::new();
        state.transition_to_running();
        assert!(!state.transition_to_shutdown());
        let s = state.load();
        assert!(s.is_running() && s.is_cancelled());
        assert_eq!(s.0, (2 << REF_SHIFT) | JOIN_INTEREST | RUNNING | CANCELLED);
    }

    #[test]
    fn dropping_the_join_handle_takes_the_waker_bit_back_unless_the_task_completed() {
        // Pending with a waker: both bits go, the slot is the handle's to empty.
        let state = State::new();
        state.set_join_waker().unwrap();
        let (prev, next) = state.transition_to_join_handle_dropped();
        assert!(!prev.is_complete());
        assert!(!next.is_join_interested() && !next.is_join_waker_set());
        assert_eq!(state.load().0, (2 << REF_SHIFT) | NOTIFIED);

        // Completed, the runtime not yet done with the slot: the bit stays
        // for the runtime, which then sees the handle gone.
        let state = State::new();
        state.set_join_waker().unwrap();
        state.transition_to_running();
        state.transition_to_complete();
        let (prev, next) = state.transition_to_join_handle_dropped();
        assert!(prev.is_complete());
        assert!(!next.is_join_interested() && next.is_join_waker_set());
        let after = state.unset_waker_after_complete();
        assert!(!after.is_join_interested() && !after.is_join_waker_set());

        // Completed and the runtime done with the slot: the handle empties it.
        let state = State::new();
        state.set_join_waker().unwrap();
        state.transition_to_running();
        state.transition_to_complete();
        let after = state.unset_waker_after_complete();
        assert!(after.is_join_interested() && !after.is_join_waker_set());
        let (prev, next) = state.transition_to_join_handle_dropped();
        assert!(prev.is_complete() && !next.is_join_waker_set());
    }

    #[test]
    fn the_join_waker_bit_is_set_and_taken_back_until_the_task_completes() {
        let state = State::new();
        let set = state.set_join_waker().expect("not complete");
        assert_eq!(set.0, INITIAL | JOIN_WAKER);
        assert_eq!(state.load().0, set.0);
        let unset = state.unset_waker().expect("not complete");
        assert_eq!(unset.0, INITIAL);
        assert_eq!(state.load().0, INITIAL);

        state.set_join_waker().unwrap();
        state.transition_to_running();
        let done = state.transition_to_complete();
        assert_eq!(state.unset_waker(), Err(done));
        assert!(state.load().is_join_waker_set());

        let state = State::new();
        state.transition_to_running();
        let done = state.transition_to_complete();
        assert_eq!(state.set_join_waker(), Err(done));
        assert!(!state.load().is_join_waker_set());
    }

    #[test]
    fn references_count_up_and_the_last_release_says_so() {
        let state = State::new();
        state.ref_inc();
        assert_eq!(state.load().ref_count(), 3);
        assert_eq!(state.load().0, INITIAL + REF_ONE);
        assert!(!state.ref_dec());
        assert!(!state.ref_dec());
        assert_eq!(state.load().ref_count(), 1);
        assert!(state.ref_dec());
        assert_eq!(state.load().0, JOIN_INTEREST | NOTIFIED);
    }

    #[test]
    fn a_snapshot_debug_prints_each_flag_and_the_count() {
        let s = format!("{:?}", State::new().load());
        assert_eq!(
            s,
            "Snapshot { running: false, complete: false, notified: true, cancelled: false, \
             join_interested: true, join_waker: false, refs: 2 }"
        );
    }
}
