//! The readiness cache of one I/O source: the state machine of `reactor::io`,
//! apart from the poller so that loom builds and checks it.
//!
//! # Invariants
//! * Per direction ([`READ`], [`WRITE`]): `ready`, `tick` and the waiter list,
//!   all under one mutex. Any thread touches them through the operations
//!   ([`Readiness::poll_io`], [`Readiness::poll_ready`]); the owning loop
//!   through [`Readiness::dispatch`]. The protocol (sample, syscall, clear
//!   only if `tick` is unchanged, list the waker unless `ready`; dispatch sets
//!   `ready`, bumps `tick`, takes every waiter) is in `reactor::io`'s docs.
//! * `ready` is cleared only by [`Readiness::clear_ready_if`], after a
//!   syscall said `WouldBlock`, and only if no event arrived since the caller
//!   sampled `tick`. `tick` is bumped by every event, under the same lock.
//! * Waking happens after unlocking: `dispatch` hands the waiters to its
//!   caller, which wakes them once every lock is released.
//! * The oneshot re-arm (`rearm`, given the interests that still have
//!   waiters) runs **under the lock**, in `poll_ready` and in `dispatch`.
//!   Computed under the lock and applied after it, two re-arms could land in
//!   the opposite order to the waiter lists they describe, and the later,
//!   smaller one would drop a waiting interest. In edge-triggered mode the
//!   caller's `rearm` does nothing.
//!
//! The loom models in `loom-tests/tests/reactor_readiness.rs` run this code
//! (through `loopwork::__loom::Readiness`) against a simulated fd and poller.

use crate::sync::Mutex;
use std::io;
use std::task::{Context, Poll, Waker};

/// The read direction (index into a source's directions).
pub(crate) const READ: usize = 0;
/// The write direction.
pub(crate) const WRITE: usize = 1;

/// Which directions a poller event reports, or a re-arm asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interest {
    /// The read direction.
    pub read: bool,
    /// The write direction.
    pub write: bool,
}

struct Direction {
    waiters: Vec<Waker>,
    ready: bool,
    tick: u64,
}

impl Default for Direction {
    fn default() -> Direction {
        // A new fd may already be readable/writable: try the syscall first.
        Direction {
            waiters: Vec::new(),
            ready: true,
            tick: 0,
        }
    }
}

/// The cached readiness of one source, both directions.
#[derive(Default)]
pub(crate) struct Readiness {
    state: Mutex<[Direction; 2]>,
}

/// The interests that still have waiters.
fn waiting(st: &[Direction; 2]) -> Interest {
    Interest {
        read: !st[READ].waiters.is_empty(),
        write: !st[WRITE].waiters.is_empty(),
    }
}

impl Readiness {
    pub(crate) fn new() -> Readiness {
        Readiness::default()
    }

    /// Runs `op` (a non-blocking syscall) in direction `dir` when the fd may
    /// be ready; after `WouldBlock`, waits for readiness and retries. One
    /// lock to sample, one more to clear after `WouldBlock`, one in
    /// `poll_ready` when the cache says not ready.
    pub(crate) fn poll_io<R>(
        &self,
        dir: usize,
        cx: &mut Context<'_>,
        mut op: impl FnMut() -> io::Result<R>,
        mut rearm: impl FnMut(Interest) -> io::Result<()>,
    ) -> Poll<io::Result<R>> {
        loop {
            let (ready, tick) = self.readiness(dir);
            if ready {
                match op() {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        self.clear_ready_if(dir, tick);
                    }
                    res => return Poll::Ready(res),
                }
            }
            match self.poll_ready(dir, cx, &mut rearm) {
                Poll::Ready(Ok(())) => continue,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// `Ready` if `ready` is set; otherwise lists the task's waker, re-arms
    /// (`rearm`, under the lock) and returns `Pending`.
    pub(crate) fn poll_ready(
        &self,
        dir: usize,
        cx: &mut Context<'_>,
        rearm: impl FnOnce(Interest) -> io::Result<()>,
    ) -> Poll<io::Result<()>> {
        let mut st = self.state.lock();
        #[cfg(not(loopwork_mutant = "readiness_poll_ready_no_check"))]
        if st[dir].ready {
            return Poll::Ready(Ok(()));
        }
        let waiters = &mut st[dir].waiters;
        if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
            waiters.push(cx.waker().clone());
        }
        let interest = waiting(&st);
        #[cfg(loopwork_mutant = "readiness_rearm_after_unlock")]
        drop(st);
        #[cfg(not(loopwork_mutant = "readiness_oneshot_no_rearm"))]
        rearm(interest)?;
        #[cfg(loopwork_mutant = "readiness_oneshot_no_rearm")]
        let _ = (rearm, interest);
        Poll::Pending
    }

    /// The cached readiness of direction `dir` and its event tick.
    pub(crate) fn readiness(&self, dir: usize) -> (bool, u64) {
        let st = self.state.lock();
        (st[dir].ready, st[dir].tick)
    }

    /// A syscall found the fd drained in direction `dir` after sampling
    /// `tick`: clear `ready` unless an event arrived since.
    pub(crate) fn clear_ready_if(&self, dir: usize, tick: u64) {
        let mut st = self.state.lock();
        #[cfg(not(loopwork_mutant = "readiness_clear_ignores_tick"))]
        if st[dir].tick == tick {
            st[dir].ready = false;
        }
        #[cfg(loopwork_mutant = "readiness_clear_ignores_tick")]
        {
            let _ = tick;
            st[dir].ready = false;
        }
    }

    /// Applies one poller event (the directions in `fired`): sets `ready`,
    /// bumps `tick` and moves every waiter into `wake`, for the caller to
    /// wake after unlocking. Then re-arms (`rearm`, under the lock) the
    /// interests that still have waiters, if any.
    pub(crate) fn dispatch(
        &self,
        fired: Interest,
        wake: &mut Vec<Waker>,
        rearm: impl FnOnce(Interest),
    ) {
        let mut st = self.state.lock();
        for (dir, fired) in [(READ, fired.read), (WRITE, fired.write)] {
            if fired {
                st[dir].ready = true;
                #[cfg(not(loopwork_mutant = "readiness_dispatch_no_tick"))]
                {
                    st[dir].tick = st[dir].tick.wrapping_add(1);
                }
                #[cfg(not(loopwork_mutant = "readiness_dispatch_wakes_one"))]
                wake.append(&mut st[dir].waiters);
                #[cfg(loopwork_mutant = "readiness_dispatch_wakes_one")]
                wake.extend(st[dir].waiters.pop());
            }
        }
        let still = waiting(&st);
        #[cfg(not(loopwork_mutant = "readiness_dispatch_no_rearm"))]
        if still.read || still.write {
            rearm(still);
        }
        #[cfg(loopwork_mutant = "readiness_dispatch_no_rearm")]
        let _ = (rearm, still);
    }
}
