//! Model-checking primitives: loom's atomics, `Arc`, locks and threads.
#![allow(unused_imports)]
#![allow(dead_code)]

pub(crate) use loom::cell::UnsafeCell;
pub(crate) use loom::sync::Arc;

pub(crate) mod atomic {
    pub(crate) use loom::sync::atomic::{
        fence, AtomicBool, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize, Ordering,
    };
}

pub(crate) mod thread {
    pub(crate) use loom::thread::{current, spawn, yield_now, JoinHandle, ThreadId};
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

    /// loom has no clock (and loom's own `wait_timeout` never times out): a
    /// timed wait is modelled as release the lock, let any other thread run,
    /// take the lock back, report a timeout. A notify sent meanwhile is not
    /// seen as such, so callers must re-check their condition after the wait,
    /// as they must after any timed-out wait; what this explores is "the
    /// producer acts while the waiter waits" against "the timeout fires first".
    pub(crate) fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        _timeout: std::time::Duration,
    ) -> (MutexGuard<'a, T>, bool) {
        let MutexGuard { lock, guard } = guard;
        drop(guard);
        loom::thread::yield_now();
        let guard = lock.lock().unwrap();
        (MutexGuard { lock, guard }, true)
    }

    pub(crate) fn notify_one(&self) {
        self.0.notify_one();
    }

    pub(crate) fn notify_all(&self) {
        self.0.notify_all();
    }
}
