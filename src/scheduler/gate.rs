//! The shutdown gate: submissions from outside a loop versus `close()`.
//!
//! One word: bit 0 is `CLOSED`, the rest counts submitters inside the gate.
//! A submitter enters (`fetch_add`), and if `CLOSED` was already set leaves
//! and reports `Closed`; otherwise it pushes its item and leaves. `close()`
//! sets `CLOSED` and then waits until no submitter is inside. After `close()`
//! returns, every item that was accepted is in its queue, so a final drain
//! reaches it: nothing is accepted and then lost. The read-modify-writes are
//! `SeqCst` so the submitter's entry and the closer's flag are totally ordered.
//!
//! Waiting (`close`, and each loop before its final pass) blocks on a
//! condvar instead of spinning: the submitter that leaves last after the
//! close (the one whose `fetch_sub` takes the word from `CLOSED | ONE` to
//! `CLOSED`) takes the lock and wakes the waiters. A waiter reads the word
//! under the same lock, so either it sees the last submitter gone or that
//! submitter's notify comes after its wait began. A spin would also work
//! in production, but under loom two spinning waiters (the closer and a
//! loop at its exit) can starve the submitter they wait for within the
//! preemption bound.
//!
//! Every loop asks `is_closed` once per iteration. It reads a separate flag
//! on its own cache line, written once by `close`, so that submitters'
//! read-modify-writes on the counter do not invalidate the line every loop
//! keeps reading.

use crate::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use crate::sync::{Condvar, Mutex};
use crossbeam_utils::CachePadded;

const CLOSED: usize = 1;
const ONE: usize = 2;

#[derive(Default)]
pub(crate) struct Gate {
    state: CachePadded<AtomicUsize>,
    /// Mirrors `CLOSED` for readers that only ask (see the module docs).
    closed: CachePadded<AtomicBool>,
    /// Where `close` and the loops wait for the submitters inside to leave.
    drained: Mutex<()>,
    drained_cv: Condvar,
}

/// Proof of being inside the gate; leaving happens on drop.
pub(crate) struct Pass<'a>(&'a Gate);

impl Gate {
    pub(crate) fn new() -> Gate {
        Gate {
            state: CachePadded::new(AtomicUsize::new(0)),
            closed: CachePadded::new(AtomicBool::new(false)),
            drained: Mutex::new(()),
            drained_cv: Condvar::new(),
        }
    }

    /// Enters the gate, or `None` when closed.
    pub(crate) fn enter(&self) -> Option<Pass<'_>> {
        let prev = self.state.fetch_add(ONE, SeqCst);
        if prev & CLOSED != 0 {
            self.leave();
            return None;
        }
        Some(Pass(self))
    }

    /// A submitter leaves; the last one out after a close wakes the waiters.
    fn leave(&self) {
        let prev = self.state.fetch_sub(ONE, SeqCst);
        if prev == CLOSED | ONE {
            // Under the lock: a waiter that read the old word under it is
            // already waiting on the condvar (see the module docs).
            let _guard = self.drained.lock();
            self.drained_cv.notify_all();
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(SeqCst)
    }

    /// Closes the gate and waits until every submitter inside has left.
    /// Returns `false` if it was already closed.
    pub(crate) fn close(&self) -> bool {
        let prev = self.state.fetch_or(CLOSED, SeqCst);
        self.closed.store(true, SeqCst);
        self.wait_drained();
        prev & CLOSED == 0
    }

    /// After `is_closed()` is seen: waits until every submitter that entered
    /// before the close has left, so what they accepted is in its queue. A
    /// loop calls it before its final pass: `is_closed()` turns true before
    /// `close()` has waited, and a submitter still inside could otherwise
    /// push after the loop's last look at its inbox (found by the loom model
    /// of `Local<T>` sent home during shutdown).
    pub(crate) fn wait_drained(&self) {
        let mut guard = self.drained.lock();
        while self.state.load(SeqCst) != CLOSED {
            guard = self.drained_cv.wait(guard);
        }
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        self.0.leave();
    }
}

#[cfg(test)]
#[cfg(not(loopwork_loom))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    #[test]
    fn close_answers_true_only_for_the_call_that_closed_the_gate() {
        let gate = Gate::new();
        assert!(!gate.is_closed());
        assert!(gate.close(), "the first close closes the gate");
        assert!(gate.is_closed());
        assert!(!gate.close(), "the gate was already closed");
        assert!(gate.enter().is_none(), "a closed gate lets no one in");
    }

    #[test]
    fn close_returns_only_after_the_submitter_inside_has_left() {
        let gate = Arc::new(Gate::new());
        let pass = gate.enter().expect("the gate is open");
        let left = Arc::new(AtomicBool::new(false));
        let closer = {
            let (gate, left) = (gate.clone(), left.clone());
            std::thread::spawn(move || {
                assert!(gate.close());
                // Read after `close` returned: the submitter must be gone.
                left.load(SeqCst)
            })
        };
        // `is_closed` turns true before `close` waits; leave only then, so
        // a `close` that does not wait returns with the submitter inside.
        while !gate.is_closed() {
            std::thread::yield_now();
        }
        left.store(true, SeqCst);
        drop(pass);
        assert!(
            closer.join().unwrap(),
            "close returned while a submitter was still inside the gate"
        );
    }
}
