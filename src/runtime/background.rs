//! A background thread the runtime owns (debug mode's watchdog): started at
//! most once, woken or stopped through one lock and condition variable,
//! joined at shutdown.
//!
//! # Invariants
//! * At most one thread per slot: `start` does nothing while one runs or
//!   after `stop`.
//! * `stop` sets the flag under the lock before it wakes the thread, so a
//!   thread between its check and its sleep cannot miss it.
//!
//! It knows nothing of what the thread does: the runtime's shared state
//! holds the slot, the thread's body lives with its role (`watchdog`),
//! so the shared state does not depend on the roles it serves.

use crate::sync::{Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// A stoppable background thread's handle.
pub(crate) struct BackgroundThread {
    state: Mutex<State>,
    wake: Condvar,
}

struct State {
    thread: Option<JoinHandle<()>>,
    stop: bool,
}

impl BackgroundThread {
    pub(crate) fn new() -> BackgroundThread {
        BackgroundThread {
            state: Mutex::new(State {
                thread: None,
                stop: false,
            }),
            wake: Condvar::new(),
        }
    }

    /// Runs `spawn` to start the thread unless one runs or the slot was
    /// stopped; `spawn`'s error is returned to be reported by the caller.
    pub(crate) fn start(
        &self,
        spawn: impl FnOnce() -> std::io::Result<JoinHandle<()>>,
    ) -> std::io::Result<()> {
        let mut state = self.state.lock();
        if state.thread.is_some() || state.stop {
            return Ok(());
        }
        state.thread = Some(spawn()?);
        Ok(())
    }

    /// The thread's sleep between rounds: `false` once the slot is stopped
    /// (before or during the sleep).
    pub(crate) fn sleep(&self, period: Duration) -> bool {
        let state = self.state.lock();
        if state.stop {
            return false;
        }
        !self.wake.wait_timeout(state, period).0.stop
    }

    /// Stops and joins the thread (the runtime's shutdown). From the thread
    /// itself it only stops it.
    pub(crate) fn stop(&self) {
        let thread = {
            let mut state = self.state.lock();
            state.stop = true;
            state.thread.take()
        };
        self.wake.notify_all();
        if let Some(t) = thread {
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }

    /// Whether the thread runs (for tests).
    #[cfg(test)]
    pub(crate) fn is_running(&self) -> bool {
        self.state.lock().thread.is_some()
    }
}
