//! The one-shot core that [`ConcurrentFuture`](super::ConcurrentFuture) and
//! [`PromiseFuture`](super::PromiseFuture) share: a result slot and the
//! waker of the task awaiting it.
//!
//! A `OneShot` has no lock of its own: it lives inside its owner's mutex
//! (with the owner's other state: callbacks, a condvar's flag, the cancel
//! decision), and every method runs under that lock. A waker it hands back
//! is woken by the caller *after* the lock is released: a waker may run
//! arbitrary code, which must not find the owner locked.

use std::task::{Context, Poll, Waker};

pub(crate) struct OneShot<T> {
    slot: Slot<T>,
    waker: Option<Waker>,
}

enum Slot<T> {
    Empty,
    Full(T),
    Taken,
}

impl<T> OneShot<T> {
    pub(crate) const fn new() -> OneShot<T> {
        OneShot {
            slot: Slot::Empty,
            waker: None,
        }
    }

    /// Whether a value was set (whether or not it was taken since).
    pub(crate) fn is_set(&self) -> bool {
        !matches!(self.slot, Slot::Empty)
    }

    /// Stores `value`; returns the awaiting task's waker, to wake once the
    /// owner's lock is released. The caller has checked [`is_set`]: a
    /// second value replaces the first (the owners decide who may set).
    ///
    /// [`is_set`]: OneShot::is_set
    pub(crate) fn set(&mut self, value: T) -> Option<Waker> {
        self.slot = Slot::Full(value);
        self.waker.take()
    }

    /// The value, while it is set and not taken.
    pub(crate) fn get(&self) -> Option<&T> {
        match &self.slot {
            Slot::Full(v) => Some(v),
            _ => None,
        }
    }

    /// Takes the value; `None` if none is set, or it was taken already.
    pub(crate) fn take(&mut self) -> Option<T> {
        match std::mem::replace(&mut self.slot, Slot::Taken) {
            Slot::Full(v) => Some(v),
            Slot::Empty => {
                self.slot = Slot::Empty;
                None
            }
            Slot::Taken => None,
        }
    }

    /// Until a value is set: `Pending`, with `cx`'s waker kept (replacing
    /// the previous one unless it would wake the same task). Then the value,
    /// taken; `Ready(None)` if it was taken already.
    pub(crate) fn poll_take(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if self.is_set() {
            return Poll::Ready(self.take());
        }
        match &self.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => self.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

#[cfg(test)]
#[cfg(not(loopwork_loom))]
mod tests {
    use super::*;
    use crate::sync::test_waker::CountingWaker;

    #[test]
    fn a_value_set_after_a_pending_poll_returns_the_waker_and_is_taken_once() {
        let (count, waker) = CountingWaker::new();
        let mut cx = Context::from_waker(&waker);
        let mut shot = OneShot::new();
        assert!(shot.poll_take(&mut cx).is_pending());
        assert!(!shot.is_set());
        let w = shot.set(7).expect("the awaiting waker is handed back");
        w.wake();
        assert_eq!(count.wakes(), 1);
        assert_eq!(shot.get(), Some(&7));
        assert_eq!(shot.poll_take(&mut cx), Poll::Ready(Some(7)));
        assert!(shot.is_set(), "taken is still set");
        assert_eq!(shot.poll_take(&mut cx), Poll::Ready(None));
        assert_eq!(shot.take(), None);
    }
}
