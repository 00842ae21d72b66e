//! Model-checking primitives: loom's atomics, `Arc`, locks and threads.
#![allow(unused_imports)]
#![allow(dead_code)]

pub(crate) use loom::cell::UnsafeCell;
pub(crate) use loom::sync::Arc;
/// loom has no `OnceLock`: std's, for process-wide caches and for values
/// the models never set concurrently (an I/O source's registration, which
/// never happens under loom).
pub(crate) use std::sync::OnceLock;

pub(crate) mod atomic {
    pub(crate) use loom::sync::atomic::{
        fence, AtomicBool, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize, Ordering,
    };
}

pub(crate) mod thread {
    pub(crate) use loom::thread::{current, spawn, yield_now, Builder, JoinHandle, ThreadId};
    pub(crate) use std::thread::panicking;
}

/// Under loom a spin must yield, or the model never lets the other thread run.
#[inline]
pub(crate) fn spin_loop() {
    loom::thread::yield_now();
}

/// A loom mutex with the never-poisoned API of the std side.
#[derive(Debug)]
pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

/// loom's guard plus the mutex it came from, so that a timed wait can release
/// the lock and take it back (loom's guard does not give its mutex back).
pub(crate) struct MutexGuard<'a, T> {
    lock: &'a loom::sync::Mutex<T>,
    guard: loom::sync::MutexGuard<'a, T>,
}

impl<T> std::ops::Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> std::ops::DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        Mutex(loom::sync::Mutex::new(value))
    }

    pub(crate) fn into_inner(self) -> T {
        self.0.into_inner().unwrap()
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        MutexGuard {
            lock: &self.0,
            guard: self.0.lock().unwrap(),
        }
    }

    pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        let guard = self.0.try_lock().ok()?;
        Some(MutexGuard {
            lock: &self.0,
            guard,
        })
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

/// A loom condition variable with the std side's API.
#[derive(Debug, Default)]
pub(crate) struct Condvar(loom::sync::Condvar);

impl Condvar {
    pub(crate) fn new() -> Self {
        Condvar(loom::sync::Condvar::new())
    }

    pub(crate) fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        let MutexGuard { lock, guard } = guard;
        MutexGuard {
            lock,
            guard: self.0.wait(guard).unwrap(),
        }
    }

    /// Inside a runtime's model (feature `loom`: a runtime exists in this
    /// execution) the wait is on the virtual clock
    /// (`sync::virtual_clock`): it times out only once every loop is idle
    /// and virtual time has reached `timeout`, and a notify meanwhile ends
    /// it as a real one does.
    ///
    /// Otherwise (the protocol models of `loom-tests/`, which build no
    /// runtime) there is no clock (and loom's own `wait_timeout` never
    /// times out): a timed wait is modelled as release the lock, let any
    /// other thread run, take the lock back, report a timeout. A notify sent
    /// meanwhile is not seen as such, so callers must re-check their
    /// condition after the wait, as they must after any timed-out wait; what
    /// this explores is "the producer acts while the waiter waits" against
    /// "the timeout fires first".
    pub(crate) fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: std::time::Duration,
    ) -> (MutexGuard<'a, T>, bool) {
        let MutexGuard { lock, guard } = guard;
        if let Some(clock) = super::virtual_clock::current() {
            // Registered under the caller's lock: a notify after a state
            // change under it finds the registration.
            let id = clock.register(self.addr(), timeout);
            drop(guard);
            let woken = clock.wait(id);
            let guard = lock.lock().unwrap();
            return (MutexGuard { lock, guard }, !woken);
        }
        drop(guard);
        loom::thread::yield_now();
        let guard = lock.lock().unwrap();
        (MutexGuard { lock, guard }, true)
    }

    fn addr(&self) -> usize {
        self as *const Condvar as usize
    }

    pub(crate) fn notify_one(&self) {
        self.0.notify_one();
        if let Some(clock) = super::virtual_clock::current() {
            clock.notify_cv(self.addr(), false);
        }
    }

    pub(crate) fn notify_all(&self) {
        self.0.notify_all();
        if let Some(clock) = super::virtual_clock::current() {
            clock.notify_cv(self.addr(), true);
        }
    }
}

/// The runtime's clock: virtual inside a model (see `sync::virtual_clock`).
#[inline]
pub(crate) fn now() -> std::time::Instant {
    super::virtual_clock::now()
}
