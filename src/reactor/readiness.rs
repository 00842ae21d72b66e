//! The readiness cache of one I/O source: the state machine of `reactor::io`,
//! apart from the poller so that loom builds and checks it.
//!
//! # Invariants
//! * Per direction ([`READ`], [`WRITE`]): `ready` and `tick` packed in one
//!   atomic word (`tick << 1 | ready`), and a waiter list under the one
//!   mutex of the source. Any thread touches them through the operations
//!   ([`Readiness::poll_io`], [`Readiness::poll_ready`]); the owning loop
//!   through [`Readiness::dispatch`]. The protocol (sample, syscall, clear
//!   only if `tick` is unchanged, list the waker unless `ready`; dispatch sets
//!   `ready`, bumps `tick`, takes every waiter) is in `reactor::io`'s docs.
//! * `ready` is cleared only by [`Readiness::clear_ready_if`], after a
//!   syscall said `WouldBlock` or reported the fd drained, and only if no
//!   event arrived since the caller sampled `tick` (before the syscall): a CAS from the sampled word, which fails once an event
//!   has bumped `tick`. Every event sets `ready` and bumps `tick` in one RMW.
//! * No lost wakeup: `dispatch` updates the word *before* it locks the
//!   waiter list; `poll_ready` lists the waker and *then* reads `ready`,
//!   under the lock. Either the dispatch's lock comes later and finds the
//!   waker, or it came first and the read sees its `ready`.
//! * Waking happens after unlocking: `dispatch` hands the waiters to its
//!   caller, which wakes them once every lock is released.
//! * The oneshot re-arm (`rearm`, given the interests that still have
//!   waiters) runs **under the lock**, in `poll_ready` and in `dispatch`.
//!   Computed under the lock and applied after it, two re-arms could land in
//!   the opposite order to the waiter lists they describe, and the later,
//!   smaller one would drop a waiting interest. In edge-triggered mode the
//!   caller's `rearm` does nothing.
//!
//! * Shut down (sticky, set once by the owning loop's shutdown under the
//!   waiter lock, which then takes every waiter): every later `poll_ready`,
//!   so every operation that would wait, returns the closed-runtime error
//!   (an operation whose syscall succeeds at once still returns its result:
//!   nothing waits, and the hot path pays no extra check). `poll_ready`
//!   reads the flag under the lock after listing its waker, so a waiter is
//!   either taken by the shutdown or sees the flag: none sleeps forever.
//!
//! The loom models in `loom-tests/tests/reactor_readiness.rs` run this code
//! (through `loopwork::__loom::Readiness`) against a simulated fd and poller.

use crate::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
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

/// `ready` in the low bit, the event `tick` above it.
const READY: u64 = 1;

fn unpack(word: u64) -> (bool, u64) {
    (word & READY != 0, word >> 1)
}

/// The cached readiness of one source, both directions.
pub(crate) struct Readiness {
    /// Per direction: `tick << 1 | ready`. Sampled, cleared (one CAS) and set
    /// without the lock, so an operation that finds the fd ready, and one
    /// that finds it drained, take no lock at all.
    words: [AtomicU64; 2],
    /// Per direction: the tasks waiting for the next event.
    waiters: Mutex<[Vec<Waker>; 2]>,
    /// Sticky: an event reported a hang-up or an error. A closed source's
    /// read readiness is never cleared on a "drained" hint: the hint counts
    /// unread bytes and a FIN, not a reset (`TCP_INQ` is 0 after an RST), so
    /// a read after it must be allowed to return the error.
    closed: AtomicBool,
    /// Sticky: the runtime that owns this source has shut down (see the
    /// invariants).
    shut_down: AtomicBool,
}

/// The error of an I/O operation on a source whose runtime has shut down.
pub(crate) fn runtime_closed_error() -> io::Error {
    io::Error::other(
        "the loopwork runtime of this I/O object is closed: I/O cannot be driven after \
         Runtime::close / shutdown_timeout; create the object on a running runtime",
    )
}

impl Default for Readiness {
    fn default() -> Readiness {
        // A new fd may already be readable/writable: try the syscall first.
        Readiness {
            words: [AtomicU64::new(READY), AtomicU64::new(READY)],
            waiters: Mutex::new([Vec::new(), Vec::new()]),
            closed: AtomicBool::new(false),
            shut_down: AtomicBool::new(false),
        }
    }
}

/// The interests that still have waiters.
fn waiting(waiters: &[Vec<Waker>; 2]) -> Interest {
    Interest {
        read: !waiters[READ].is_empty(),
        write: !waiters[WRITE].is_empty(),
    }
}

impl Readiness {
    pub(crate) fn new() -> Readiness {
        Readiness::default()
    }

    /// Runs `op` (a non-blocking syscall) in direction `dir` when the fd may
    /// be ready; after `WouldBlock`, waits for readiness and retries. The
    /// sample is an atomic load and the clear one CAS; the only lock is
    /// `poll_ready`'s, when the task must wait.
    ///
    /// `op` returns its result and whether the syscall *also* proved the fd
    /// drained in `dir` (a stream read that the kernel reported left nothing
    /// to read, not even an end of stream: `TCP_INQ`). Such a result clears
    /// `ready` like a `WouldBlock` would, with the tick sampled *before*
    /// `op`, so the next operation waits for an event instead of making a
    /// syscall that can only say `WouldBlock`.
    #[inline(always)]
    pub(crate) fn poll_io<R>(
        &self,
        dir: usize,
        cx: &mut Context<'_>,
        mut op: impl FnMut() -> io::Result<(R, bool)>,
        mut rearm: impl FnMut(Interest) -> io::Result<()>,
    ) -> Poll<io::Result<R>> {
        loop {
            let (ready, tick) = self.readiness(dir);
            if ready {
                match op() {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        self.clear_ready_if(dir, tick);
                    }
                    Ok((res, drained)) => {
                        // Acquire: pairs with `mark_closed`'s Release (made
                        // before the dispatch whose tick was sampled).
                        let drained = drained && !self.closed.load(Acquire);
                        if drained {
                            self.clear_ready_if(dir, tick);
                        }
                        return Poll::Ready(Ok(res));
                    }
                    Err(e) => return Poll::Ready(Err(e)),
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
    ///
    /// `ready` is read under the waiter lock, after the waker is listed:
    /// `dispatch` sets `ready` *before* it takes the lock to collect the
    /// waiters, so either it finds this waker or this read sees its `ready`.
    pub(crate) fn poll_ready(
        &self,
        dir: usize,
        cx: &mut Context<'_>,
        rearm: impl FnOnce(Interest) -> io::Result<()>,
    ) -> Poll<io::Result<()>> {
        let mut waiters = self.waiters.lock();
        let list = &mut waiters[dir];
        let listed = list.iter().any(|w| w.will_wake(cx.waker()));
        if !listed {
            list.push(cx.waker().clone());
        }
        // Acquire: pairs with `dispatch`'s AcqRel update of the word; read
        // after the waker is listed (under the lock `dispatch` takes to
        // collect waiters), so an edge is seen here or wakes this waker.
        if self.words[dir].load(Acquire) & READY != 0 {
            if !listed {
                list.pop();
            }
            return Poll::Ready(Ok(()));
        }
        // Acquire: pairs with `shut_down`'s Release (both under the lock).
        if self.shut_down.load(Acquire) {
            if !listed {
                list.pop();
            }
            return Poll::Ready(Err(runtime_closed_error()));
        }
        let interest = waiting(&waiters);
        rearm(interest)?;
        Poll::Pending
    }

    /// The cached readiness of direction `dir` and its event tick.
    pub(crate) fn readiness(&self, dir: usize) -> (bool, u64) {
        // Acquire: pairs with `dispatch`'s update (and a clear's CAS).
        unpack(self.words[dir].load(Acquire))
    }

    /// A syscall found the fd drained in direction `dir` after sampling
    /// `tick`: clear `ready` unless an event arrived since (one CAS: it
    /// fails if `dispatch` bumped the tick).
    pub(crate) fn clear_ready_if(&self, dir: usize, tick: u64) {
        // AcqRel: pairs with `dispatch`'s update: the CAS fails exactly
        // when an event (a new tick) came in between. Relaxed on failure:
        // nothing is read then.
        let _ = self.words[dir].compare_exchange(tick << 1 | READY, tick << 1, AcqRel, Relaxed);
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
        // `ready` first, then the waiters (see `poll_ready`).
        self.set_ready(fired);
        let mut waiters = self.waiters.lock();
        for (dir, fired) in [(READ, fired.read), (WRITE, fired.write)] {
            if fired {
                wake.append(&mut waiters[dir]);
            }
        }
        let still = waiting(&waiters);
        if still.read || still.write {
            rearm(still);
        }
    }

    /// The owning runtime shut down: sets the sticky flag and moves every
    /// waiter of both directions into `wake` (the caller wakes them after
    /// unlocking); they, and every later operation, get the closed-runtime
    /// error. Whether there were waiters.
    pub(crate) fn shut_down(&self, wake: &mut Vec<Waker>) -> bool {
        let mut waiters = self.waiters.lock();
        // Release: pairs with `poll_ready`'s Acquire load.
        self.shut_down.store(true, Release);
        let before = wake.len();
        wake.append(&mut waiters[READ]);
        wake.append(&mut waiters[WRITE]);
        wake.len() != before
    }

    /// An event reported a hang-up or an error (`EPOLLHUP`, `EPOLLERR`):
    /// from now on a "drained" hint no longer clears `ready`. Called before
    /// [`Readiness::dispatch`] of that event, so an operation that samples
    /// the event's tick also sees the flag.
    pub(crate) fn mark_closed(&self) {
        // Release: pairs with `poll_io`'s Acquire load of the flag.
        self.closed.store(true, Release);
    }

    /// Sets `ready` and bumps `tick` (one RMW) in the directions that fired.
    fn set_ready(&self, fired: Interest) {
        for (dir, fired) in [(READ, fired.read), (WRITE, fired.write)] {
            if fired {
                // AcqRel: pairs with `poll_ready`'s and `readiness`'s
                // Acquire loads and with `clear_ready_if`'s CAS.
                let _ = self.words[dir].fetch_update(AcqRel, Acquire, |w| {
                    Some((w >> 1).wrapping_add(1) << 1 | READY)
                });
            }
        }
    }
}
