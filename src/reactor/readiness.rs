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

// The cache driven by hand: scripted syscalls (`op`), a recorded re-arm, and
// events dispatched by the test. The integration tests reach these paths
// through real sockets, where a stale `ready` costs one extra syscall
// rather than a wrong result (see TESTING.md, cargo-mutants); the lost
// wakeups are loom's (`reactor_readiness`).
#[cfg(test)]
#[cfg(not(loopwork_loom))]
mod tests {
    use super::*;
    use crate::sync::test_waker::CountingWaker;
    use std::cell::RefCell;

    fn waker() -> Waker {
        CountingWaker::new().1
    }

    const READ_ONLY: Interest = Interest {
        read: true,
        write: false,
    };
    const WRITE_ONLY: Interest = Interest {
        read: false,
        write: true,
    };
    const BOTH: Interest = Interest {
        read: true,
        write: true,
    };

    fn would_block<R>() -> io::Result<(R, bool)> {
        Err(io::ErrorKind::WouldBlock.into())
    }

    fn listed(r: &Readiness) -> (usize, usize) {
        let w = r.waiters.lock();
        (w[READ].len(), w[WRITE].len())
    }

    #[test]
    fn a_new_source_is_ready_both_ways_at_tick_zero() {
        let r = Readiness::new();
        assert_eq!(r.readiness(READ), (true, 0));
        assert_eq!(r.readiness(WRITE), (true, 0));
        assert_eq!(unpack(5), (true, 2));
        assert_eq!(unpack(4), (false, 2));
    }

    #[test]
    fn a_result_that_does_not_drain_the_fd_leaves_it_ready() {
        let r = Readiness::new();
        let w = waker();
        let mut cx = Context::from_waker(&w);
        let res = r.poll_io(READ, &mut cx, || Ok((7, false)), |_| panic!("no re-arm"));
        assert!(matches!(res, Poll::Ready(Ok(7))));
        assert_eq!(r.readiness(READ), (true, 0));
    }

    #[test]
    fn a_draining_result_clears_ready_so_the_next_operation_waits_without_a_syscall() {
        let r = Readiness::new();
        let w = waker();
        let mut cx = Context::from_waker(&w);
        let res = r.poll_io(READ, &mut cx, || Ok((1, true)), |_| panic!("no re-arm"));
        assert!(matches!(res, Poll::Ready(Ok(1))));
        assert_eq!(r.readiness(READ), (false, 0));
        assert_eq!(
            r.readiness(WRITE),
            (true, 0),
            "the other direction is untouched"
        );
        let rearmed = RefCell::new(Vec::new());
        let res = r.poll_io(
            READ,
            &mut cx,
            || -> io::Result<((), bool)> { panic!("no syscall while not ready") },
            |i| {
                rearmed.borrow_mut().push(i);
                Ok(())
            },
        );
        assert!(res.is_pending());
        assert_eq!(*rearmed.borrow(), vec![READ_ONLY]);
        assert_eq!(listed(&r), (1, 0));
    }

    #[test]
    fn a_draining_result_on_a_closed_source_leaves_it_ready() {
        let r = Readiness::new();
        r.mark_closed();
        let w = waker();
        let mut cx = Context::from_waker(&w);
        let res = r.poll_io(READ, &mut cx, || Ok(((), true)), |_| panic!("no re-arm"));
        assert!(matches!(res, Poll::Ready(Ok(()))));
        assert_eq!(r.readiness(READ), (true, 0));
    }

    #[test]
    fn would_block_waits_for_the_event_and_the_event_wakes_and_retries() {
        let r = Readiness::new();
        let (count, w) = CountingWaker::new();
        let mut cx = Context::from_waker(&w);
        let calls = RefCell::new(0);
        let op = || {
            *calls.borrow_mut() += 1;
            if *calls.borrow() == 1 {
                would_block()
            } else {
                Ok((*calls.borrow(), false))
            }
        };
        let rearmed = RefCell::new(Vec::new());
        let rearm = |i| {
            rearmed.borrow_mut().push(i);
            Ok(())
        };
        assert!(r.poll_io(WRITE, &mut cx, op, rearm).is_pending());
        assert_eq!(r.readiness(WRITE), (false, 0));
        assert_eq!(*rearmed.borrow(), vec![WRITE_ONLY]);
        // The event: the waiter is handed back, ready set, tick bumped, and
        // nothing is left waiting, so no re-arm.
        let mut wake = Vec::new();
        r.dispatch(WRITE_ONLY, &mut wake, |_| panic!("nothing waits"));
        assert_eq!(wake.len(), 1);
        assert!(wake[0].will_wake(&w));
        assert_eq!(r.readiness(WRITE), (true, 1));
        assert_eq!(r.readiness(READ), (true, 0));
        assert_eq!(listed(&r), (0, 0));
        wake.into_iter().for_each(Waker::wake);
        assert_eq!(count.wakes(), 1);
        let res = r.poll_io(WRITE, &mut cx, op, rearm);
        assert!(matches!(res, Poll::Ready(Ok(2))));
    }

    #[test]
    fn an_event_between_the_sample_and_the_clear_keeps_the_fd_ready() {
        let r = Readiness::new();
        let (_, tick) = r.readiness(READ);
        r.dispatch(READ_ONLY, &mut Vec::new(), |_| {});
        r.clear_ready_if(READ, tick);
        assert_eq!(r.readiness(READ), (true, 1), "the stale clear lost");
        r.clear_ready_if(READ, 1);
        assert_eq!(r.readiness(READ), (false, 1));
    }

    #[test]
    fn an_event_seen_after_would_block_retries_at_once() {
        let r = Readiness::new();
        let w = waker();
        let mut cx = Context::from_waker(&w);
        let calls = RefCell::new(0);
        let res = r.poll_io(
            READ,
            &mut cx,
            || {
                *calls.borrow_mut() += 1;
                if *calls.borrow() == 1 {
                    // The event lands while the syscall runs.
                    r.dispatch(READ_ONLY, &mut Vec::new(), |_| {});
                    would_block()
                } else {
                    Ok(("second", false))
                }
            },
            |_| panic!("no wait"),
        );
        assert!(matches!(res, Poll::Ready(Ok("second"))));
        assert_eq!(listed(&r), (0, 0));
    }

    #[test]
    fn a_syscall_error_is_returned_as_is() {
        let r = Readiness::new();
        let w = waker();
        let mut cx = Context::from_waker(&w);
        let res: Poll<io::Result<()>> = r.poll_io(
            READ,
            &mut cx,
            || Err(io::ErrorKind::ConnectionReset.into()),
            |_| panic!("no re-arm"),
        );
        match res {
            Poll::Ready(Err(e)) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset),
            _ => panic!("expected the error"),
        }
        assert_eq!(r.readiness(READ), (true, 0));
    }

    #[test]
    fn a_waiter_polled_again_is_listed_once_and_a_ready_poll_lists_nothing() {
        let r = Readiness::new();
        r.clear_ready_if(READ, 0);
        let (w1, w2) = (waker(), waker());
        let rearmed = RefCell::new(Vec::new());
        let rearm = |i| {
            rearmed.borrow_mut().push(i);
            Ok(())
        };
        assert!(r
            .poll_ready(READ, &mut Context::from_waker(&w1), rearm)
            .is_pending());
        assert!(r
            .poll_ready(READ, &mut Context::from_waker(&w1), rearm)
            .is_pending());
        assert_eq!(listed(&r), (1, 0));
        assert!(r
            .poll_ready(READ, &mut Context::from_waker(&w2), rearm)
            .is_pending());
        assert_eq!(listed(&r), (2, 0));
        // Write is ready: no waiter is listed, no re-arm.
        let res = r.poll_ready(WRITE, &mut Context::from_waker(&w1), |_| panic!("ready"));
        assert!(matches!(res, Poll::Ready(Ok(()))));
        assert_eq!(listed(&r), (2, 0));
        // An already listed waiter that finds the fd ready stays listed.
        r.dispatch(WRITE_ONLY, &mut Vec::new(), |_| {});
        r.set_ready(READ_ONLY);
        let res = r.poll_ready(READ, &mut Context::from_waker(&w1), |_| panic!("ready"));
        assert!(matches!(res, Poll::Ready(Ok(()))));
        assert_eq!(listed(&r), (2, 0));
        assert_eq!(rearmed.borrow().len(), 3);
    }

    #[test]
    fn a_failing_rearm_is_the_operations_error() {
        let r = Readiness::new();
        r.clear_ready_if(WRITE, 0);
        let w = waker();
        let res = r.poll_ready(WRITE, &mut Context::from_waker(&w), |_| {
            Err(io::ErrorKind::OutOfMemory.into())
        });
        match res {
            Poll::Ready(Err(e)) => assert_eq!(e.kind(), io::ErrorKind::OutOfMemory),
            _ => panic!("expected the re-arm error"),
        }
    }

    #[test]
    fn an_event_in_one_direction_wakes_its_waiters_and_rearms_the_other() {
        let r = Readiness::new();
        r.clear_ready_if(READ, 0);
        r.clear_ready_if(WRITE, 0);
        let (wr, ww) = (waker(), waker());
        let rearmed = RefCell::new(Vec::new());
        let rearm = |i| {
            rearmed.borrow_mut().push(i);
            Ok(())
        };
        assert!(r
            .poll_ready(READ, &mut Context::from_waker(&wr), rearm)
            .is_pending());
        assert!(r
            .poll_ready(WRITE, &mut Context::from_waker(&ww), rearm)
            .is_pending());
        assert_eq!(*rearmed.borrow(), vec![READ_ONLY, BOTH]);
        let mut wake = Vec::new();
        let mut again = None;
        r.dispatch(READ_ONLY, &mut wake, |i| again = Some(i));
        assert_eq!(again, Some(WRITE_ONLY));
        assert_eq!(wake.len(), 1);
        assert!(wake[0].will_wake(&wr));
        assert_eq!(
            (r.readiness(READ), r.readiness(WRITE)),
            ((true, 1), (false, 0))
        );
        let mut wake = Vec::new();
        r.dispatch(BOTH, &mut wake, |_| panic!("nothing waits"));
        assert_eq!(wake.len(), 1);
        assert!(wake[0].will_wake(&ww));
        assert_eq!(
            (r.readiness(READ), r.readiness(WRITE)),
            ((true, 2), (true, 1))
        );
    }

    #[test]
    fn shutdown_hands_back_every_waiter_and_later_waits_get_the_closed_error() {
        let r = Readiness::new();
        assert!(!r.shut_down(&mut Vec::new()), "no waiters");
        let r = Readiness::new();
        r.clear_ready_if(READ, 0);
        r.clear_ready_if(WRITE, 0);
        let (wr, ww) = (waker(), waker());
        assert!(r
            .poll_ready(READ, &mut Context::from_waker(&wr), |_| Ok(()))
            .is_pending());
        assert!(r
            .poll_ready(WRITE, &mut Context::from_waker(&ww), |_| Ok(()))
            .is_pending());
        let mut wake = vec![waker()];
        assert!(r.shut_down(&mut wake));
        assert_eq!(wake.len(), 3);
        assert_eq!(listed(&r), (0, 0));
        let res = r.poll_ready(READ, &mut Context::from_waker(&wr), |_| panic!("closed"));
        match res {
            Poll::Ready(Err(e)) => assert!(e
                .to_string()
                .contains("runtime of this I/O object is closed")),
            _ => panic!("expected the closed-runtime error"),
        }
        assert_eq!(listed(&r), (0, 0), "the failed waiter is not left listed");
        // A ready direction still answers: nothing waits.
        r.set_ready(WRITE_ONLY);
        assert!(matches!(
            r.poll_ready(WRITE, &mut Context::from_waker(&ww), |_| panic!("ready")),
            Poll::Ready(Ok(()))
        ));
    }

    #[test]
    fn a_listed_waiter_polling_after_shutdown_stays_listed_until_handed_back() {
        let r = Readiness::new();
        r.clear_ready_if(READ, 0);
        let w = waker();
        assert!(r
            .poll_ready(READ, &mut Context::from_waker(&w), |_| Ok(()))
            .is_pending());
        r.shut_down.store(true, Release);
        assert!(r
            .poll_ready(READ, &mut Context::from_waker(&w), |_| panic!("closed"))
            .is_ready());
        assert_eq!(listed(&r), (1, 0));
    }
}
