//! Cooperative budget: one task cannot keep its loop to itself.
//!
//! # Invariants
//! * The budget is a thread-local counter, set by the loop to [`PER_POLL`]
//!   right before each task poll (`LoopCore::before_poll`) and lifted
//!   ("unconstrained") at the start of each loop iteration and before each
//!   batch of callbacks (`LoopCore::run_once` / `run_callbacks`): nothing
//!   else on a loop thread polls futures. Off the loops (`block_on` on a
//!   foreign thread, loom models) it is unconstrained, and `block_on`
//!   lifts it for its duration, so nothing here has any effect there.
//! * loopwork's leaf futures (I/O operations and readiness, `Sleep`, `Task`
//!   joins, `ConcurrentFuture`, `PromiseFuture`) go through [`poll`]: with
//!   the budget at zero they wake their task and return `Pending` *without*
//!   trying (so no result is taken and lost: the retry after the yield does
//!   the work); each `Ready` they return uses one unit.
//! * A task woken during its own poll is deferred by its loop behind the
//!   iteration's other ready work and an injector batch (`LoopCore::defer`),
//!   so a task whose leaf futures are always ready (an `accept` that keeps
//!   failing, a socket that is always readable) yields the loop every
//!   `PER_POLL` results instead of never.
//!
//! This is tokio's `coop` in miniature (tokio: 128 units per task poll);
//! the hot path is one thread-local read before, and one write after, each
//! leaf future's ready poll.

use std::cell::Cell;
use std::task::{Context, Poll};

/// Ready results a task may take from loopwork's leaf futures in one poll.
pub(crate) const PER_POLL: u32 = 128;

/// No budget: not inside a task poll on a loop.
const UNCONSTRAINED: u32 = u32::MAX;

crate::sync::loop_thread_local! {
    static BUDGET: Cell<u32> = Cell::new(UNCONSTRAINED);
}

/// Called by the loop right before a task poll.
#[inline(always)]
pub(crate) fn start_poll() {
    let _ = BUDGET.try_with(|b| b.set(PER_POLL));
}

/// Called by the loop before it runs anything but a task poll (once per
/// iteration, and before each batch of callbacks): the budget of the last
/// task poll must not constrain a callback's own (blocking) polls. Not
/// after every task poll: one thread-local write per poll instead of two.
#[inline(always)]
pub(crate) fn lift() {
    let _ = BUDGET.try_with(|b| b.set(UNCONSTRAINED));
}

/// Lifts the budget until the guard drops, then restores it: for
/// `block_on` nested in a task poll (a misuse, but one that must not turn
/// into an endless wake loop: its own waker would be woken by an exhausted
/// budget that nothing refills while it runs).
pub(crate) fn unconstrained() -> Unconstrained {
    let saved = BUDGET
        .try_with(|b| b.replace(UNCONSTRAINED))
        .unwrap_or(UNCONSTRAINED);
    Unconstrained(saved)
}

/// See [`unconstrained`].
pub(crate) struct Unconstrained(u32);

impl Drop for Unconstrained {
    fn drop(&mut self) {
        let _ = BUDGET.try_with(|b| b.set(self.0));
    }
}

/// Polls a leaf future's operation `f` under the budget (see the module
/// docs): `Pending` after waking the task if the budget is used up,
/// otherwise `f`'s result, a `Ready` one using a unit.
#[inline(always)]
pub(crate) fn poll<T>(
    cx: &mut Context<'_>,
    f: impl FnOnce(&mut Context<'_>) -> Poll<T>,
) -> Poll<T> {
    let left = BUDGET.try_with(Cell::get).unwrap_or(UNCONSTRAINED);
    if left == 0 {
        cx.waker().wake_by_ref();
        return Poll::Pending;
    }
    let r = f(cx);
    if r.is_ready() && left != UNCONSTRAINED {
        let _ = BUDGET.try_with(|b| b.set(left - 1));
    }
    r
}

#[cfg(test)]
#[cfg(not(loopwork_loom))]
mod tests {
    use super::*;
    use std::task::Waker;

    #[test]
    fn an_exhausted_budget_returns_pending_and_wakes_until_the_next_poll() {
        let mut cx = Context::from_waker(Waker::noop());
        start_poll();
        for _ in 0..PER_POLL {
            assert!(poll(&mut cx, |_| Poll::Ready(())).is_ready());
        }
        let mut called = false;
        assert!(poll(&mut cx, |_| {
            called = true;
            Poll::Ready(())
        })
        .is_pending());
        assert!(!called, "an exhausted budget does not try the operation");
        lift();
        assert!(
            poll(&mut cx, |_| Poll::Ready(())).is_ready(),
            "unconstrained outside a task poll"
        );
    }

    #[test]
    fn unconstrained_lifts_the_budget_until_its_guard_drops() {
        let mut cx = Context::from_waker(Waker::noop());
        start_poll();
        for _ in 0..PER_POLL {
            assert!(poll(&mut cx, |_| Poll::Ready(())).is_ready());
        }
        let guard = unconstrained();
        for _ in 0..PER_POLL * 2 {
            assert!(
                poll(&mut cx, |_| Poll::Ready(())).is_ready(),
                "no budget while the guard lives"
            );
        }
        drop(guard);
        assert!(
            poll(&mut cx, |_| Poll::Ready(())).is_pending(),
            "the exhausted budget is back"
        );
        lift();
    }

    #[test]
    fn pending_results_use_no_budget() {
        let mut cx = Context::from_waker(Waker::noop());
        start_poll();
        for _ in 0..PER_POLL * 2 {
            assert!(poll(&mut cx, |_| Poll::<()>::Pending).is_pending());
        }
        assert!(poll(&mut cx, |_| Poll::Ready(())).is_ready());
        lift();
    }
}
