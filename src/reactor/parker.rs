//! The poller's stand-in under loom: a loom-modelled parker with the
//! contract the scheduler relies on from `polling::Poller`.
//!
//! `notify` is deduplicated and sticky (a notify before `wait` makes the
//! next `wait` return at once), and `wait` consumes it. There is no timeout:
//! the models arm no timers, so a loop that should have been woken and was
//! not blocks for ever, and loom reports the deadlock.
//!
//! With event stealing ([`Parker::with_wait_lock`]) it also models the
//! poller's wait lock: `Poller::wait` try-locks an internal mutex and, if
//! another thread holds it, returns at once with no events and leaves the
//! notification alone; whoever waits clears the notification. The owner's
//! [`wait`](Parker::wait) holds the lock while it blocks; a sibling's
//! zero-timeout [`steal_wait`](Parker::steal_wait) takes it, consumes any
//! pending notification and releases it, as three separate steps. Without
//! stealers nobody else ever waits on a loop's poller, the try-lock always
//! succeeds, and the plain `Parker` (no lock, fewer loom steps) is exact.

use crate::sync::atomic::{AtomicBool, Ordering::*};
use crate::sync::{Condvar, Mutex};

#[derive(Default)]
pub(crate) struct Parker {
    notified: Mutex<bool>,
    cv: Condvar,
    /// `Poller`'s internal wait lock (`polling` try-locks a `Mutex<()>`; an
    /// atomic try-lock here, so that taking it and releasing it are each a
    /// loom step); `None`: not modelled (no stealers).
    wait_lock: Option<AtomicBool>,
}

impl Parker {
    /// A parker whose `wait` can be raced by [`steal_wait`](Parker::steal_wait).
    pub(crate) fn with_wait_lock() -> Parker {
        Parker {
            wait_lock: Some(AtomicBool::new(false)),
            ..Parker::default()
        }
    }

    /// Wakes the waiting loop, or makes its next `wait` return at once.
    pub(crate) fn notify(&self) {
        let mut n = self.notified.lock();
        if !*n {
            *n = true;
            self.cv.notify_one();
        }
    }

    /// The owner's `Poller::wait` with no timeout: blocks until notified, and
    /// consumes the notification. Returns `false`, at once and without
    /// consuming anything, if a stealer holds the wait lock (`polling`'s
    /// `Ok(0)`: the loop goes round again).
    pub(crate) fn wait(&self) -> bool {
        if let Some(lock) = &self.wait_lock {
            if !try_lock(lock) {
                return false;
            }
        }
        let mut n = self.notified.lock();
        while !*n {
            n = self.cv.wait(n);
        }
        *n = false;
        drop(n);
        if let Some(lock) = &self.wait_lock {
            // Release: pairs with the next `try_lock`'s Acquire.
            lock.store(false, Release);
        }
        true
    }

    /// A sibling's zero-timeout `Poller::wait` (I/O event stealing): returns
    /// `false` at once if the owner is waiting (holds the wait lock);
    /// otherwise takes the lock, consumes any pending notification (the
    /// notify may have been meant for the owner) and releases the lock, each
    /// a step of its own so the owner's `wait` can land between them.
    /// Returns whether it took the lock. Without a wait lock, a no-op.
    pub(crate) fn steal_wait(&self) -> bool {
        let Some(lock) = &self.wait_lock else {
            return false;
        };
        if !try_lock(lock) {
            return false;
        }
        *self.notified.lock() = false;
        // Release: pairs with the next `try_lock`'s Acquire.
        lock.store(false, Release);
        true
    }
}

/// `Mutex::try_lock` on the poller's wait lock: `Acquire` pairs with the
/// `Release` store that frees it.
fn try_lock(lock: &AtomicBool) -> bool {
    lock.compare_exchange(false, true, Acquire, Relaxed).is_ok()
}

impl crate::scheduler::Driver for Parker {
    fn notify(&self) {
        Parker::notify(self);
    }

    /// The models register no I/O sources, but a parker with a wait lock
    /// stands for a poller that has some, so siblings may steal from it.
    fn has_sources(&self) -> bool {
        self.wait_lock.is_some()
    }

    /// Takes the wait lock and consumes the notification; never any event.
    fn steal_events(&self) -> bool {
        self.steal_wait();
        false
    }
}
