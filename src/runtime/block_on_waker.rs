//! The waker of a thread blocked in `block_on`, and its wait.
//!
//! Production: a flag and the thread's park token (`unpark` after the
//! flag's Release store; the waiter's Acquire swap consumes it).
//!
//! Under loom (feature `loom`): a loom mutex-protected flag and condvar.
//! loom's model of park/unpark lets an atomic read-modify-write after an
//! `unpark` read a value older than the store that preceded the `unpark`
//! (its RMW candidates ignore the causality `unpark` carries), which
//! reports deadlocks no real execution has; a lock orders both sides
//! exactly.

#[cfg(not(loopwork_loom))]
use super::context;
use std::sync::Arc;
use std::task::Wake;

/// Wakes a thread blocked in `block_on` (a std `Arc`: `Wake` needs one).
pub(crate) struct ThreadWaker {
    #[cfg(not(loopwork_loom))]
    thread: std::thread::Thread,
    #[cfg(not(loopwork_loom))]
    notified: crate::sync::atomic::AtomicBool,
    #[cfg(loopwork_loom)]
    notified: crate::sync::Mutex<bool>,
    #[cfg(loopwork_loom)]
    cv: crate::sync::Condvar,
}

// `#[inline]`: this was `block_on`'s own code before it moved here; the
// production build stays as it was.
#[cfg(not(loopwork_loom))]
impl ThreadWaker {
    /// A waker for the calling thread.
    #[inline]
    pub(crate) fn new() -> ThreadWaker {
        ThreadWaker {
            thread: std::thread::current(),
            notified: crate::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Blocks the calling thread (the one that made this waker) until a wake.
    #[inline]
    pub(crate) fn wait(&self) {
        use crate::sync::atomic::Ordering::Acquire;
        // Acquire: pairs with `wake_by_ref`'s Release store.
        while !self.notified.swap(false, Acquire) {
            // On a loop thread (a misuse that `check_blocking_wait` reports)
            // the loop cannot fire its timers while it is held here, and a
            // `sleep` polled by `fut` is armed on exactly that loop: fire
            // them from this wait, or it never wakes.
            match context::with_core(|c| c.map(|c| c.next_timer_timeout())) {
                None | Some(None) => std::thread::park(),
                Some(Some(timeout)) => {
                    std::thread::park_timeout(timeout);
                    context::with_core(|c| c.map(|c| c.fire_due_timers()));
                }
            }
        }
    }
}

#[cfg(not(loopwork_loom))]
impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Release: pairs with `wait`'s Acquire swap (the wake is seen
        // with everything the waker's thread did before it).
        self.notified
            .store(true, crate::sync::atomic::Ordering::Release);
        self.thread.unpark();
    }
}

#[cfg(loopwork_loom)]
impl ThreadWaker {
    /// A waker for the calling thread.
    pub(crate) fn new() -> ThreadWaker {
        ThreadWaker {
            notified: crate::sync::Mutex::new(false),
            cv: crate::sync::Condvar::new(),
        }
    }

    /// Blocks until a wake. On a loop thread (a misuse) its timers cannot
    /// fire meanwhile: loom has no timed park, and a wait that nothing
    /// ends is reported by loom as a deadlock.
    pub(crate) fn wait(&self) {
        let mut n = self.notified.lock();
        while !*n {
            n = self.cv.wait(n);
        }
        *n = false;
    }
}

#[cfg(loopwork_loom)]
impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let mut n = self.notified.lock();
        if !*n {
            *n = true;
            self.cv.notify_one();
        }
    }
}
