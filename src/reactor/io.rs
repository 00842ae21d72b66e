//! I/O readiness: file descriptors registered with a loop's poller.
//!
//! # Protocol
//! A [`Source`] is registered once with the poller of one loop — the loop
//! that created it, or loop 0 off a loop — and keyed by its slot in that
//! driver's slab. Where the poller supports it (epoll, kqueue) the fd is
//! registered **edge-triggered** for both directions, once: a wait costs no
//! `epoll_ctl`. Elsewhere it is registered in oneshot mode and re-armed with
//! the interests that have waiters, at each wait and after each event.
//!
//! Per direction (read, write) the source caches readiness as tokio does: a
//! `ready` flag (initially set), a `tick` counting events, and a list of
//! waiters (several tasks may wait on one socket, e.g. two `recv_from` on a
//! shared `UdpSocket`), all under the source's mutex:
//! * an operation samples `(ready, tick)`. If ready, it tries its syscall; on
//!   `WouldBlock` it clears `ready` **only if `tick` is unchanged** (no event
//!   arrived since the sample, so the readiness it saw is really used up). If
//!   not ready, it skips the doomed syscall. Only `WouldBlock` clears: a short
//!   read does not prove the fd drained (data and a FIN can arrive under one
//!   edge, and the FIN would then never be reported again);
//! * **poll_ready**: if `ready` is set, return `Ready` (the operation
//!   retries); otherwise add the waker to the list (oneshot: re-arm), then
//!   `Pending`;
//! * **dispatch** (the owning loop, after `Poller::wait`): for each event set
//!   `ready`, bump `tick`, take all the direction's waiters; wake them after
//!   unlocking.
//!
//! No wakeup is lost: an event that lands after the sample bumps `tick`, so
//! the clear does not apply and the next `poll_ready` returns `Ready`; an
//! event after the waker was listed wakes it. Edge-triggered mode only
//! reports *new* readiness, which is enough because `ready` is cleared only
//! when a syscall found the fd drained, with no event since. Oneshot re-arming
//! re-evaluates level readiness, with the same effect.
//!
//! Deregistration (`Poller::delete`, slot freed) happens in the owner's
//! `Drop`, before the fd is closed.

use crate::sync::{Arc, Mutex};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, RawFd};
use std::task::{Context, Poll, Waker};

pub(crate) const READ: usize = 0;
pub(crate) const WRITE: usize = 1;

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

/// One registered file descriptor.
pub(crate) struct Source {
    fd: RawFd,
    key: usize,
    state: Mutex<[Direction; 2]>,
}

impl Source {
    fn fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the fd stays open while registered: `Async` deregisters
        // before it drops (and so closes) the I/O object.
        unsafe { BorrowedFd::borrow_raw(self.fd) }
    }

    /// See the module docs. `poller` is the driver this source belongs to.
    pub(crate) fn poll_ready(
        &self,
        poller: &polling::Poller,
        edge: bool,
        dir: usize,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        let mut st = self.state.lock();
        if st[dir].ready {
            return Poll::Ready(Ok(()));
        }
        let waiters = &mut st[dir].waiters;
        if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
            waiters.push(cx.waker().clone());
        }
        if !edge {
            let interest = polling::Event::new(
                self.key,
                !st[READ].waiters.is_empty(),
                !st[WRITE].waiters.is_empty(),
            );
            poller.modify(self.fd(), interest)?;
        }
        Poll::Pending
    }

    /// The cached readiness of direction `dir` and its event tick.
    pub(crate) fn readiness(&self, dir: usize) -> (bool, u64) {
        let st = self.state.lock();
        (st[dir].ready, st[dir].tick)
    }

    /// A syscall found the fd drained in direction `dir` after sampling `tick`:
    /// clear `ready` unless an event arrived since (see the module docs).
    pub(crate) fn clear_ready_if(&self, dir: usize, tick: u64) {
        let mut st = self.state.lock();
        if st[dir].tick == tick {
            st[dir].ready = false;
        }
    }
}

/// The sources of one loop's poller.
#[derive(Default)]
pub(crate) struct SourceSlab {
    entries: Vec<Option<Arc<Source>>>,
    free: Vec<usize>,
}

impl SourceSlab {
    pub(crate) fn register(
        &mut self,
        poller: &polling::Poller,
        edge: bool,
        fd: BorrowedFd<'_>,
    ) -> io::Result<Arc<Source>> {
        let key = self.free.pop().unwrap_or_else(|| {
            self.entries.push(None);
            self.entries.len() - 1
        });
        let source = Arc::new(Source {
            fd: std::os::fd::AsRawFd::as_raw_fd(&fd),
            key,
            state: Mutex::new(Default::default()),
        });
        let (interest, mode) = if edge {
            (polling::Event::all(key), polling::PollMode::Edge)
        } else {
            (polling::Event::none(key), polling::PollMode::Oneshot)
        };
        // SAFETY: the fd is deleted from the poller (in `deregister`) before
        // its owner closes it, as `Poller::add` requires.
        if let Err(e) = unsafe { poller.add_with_mode(&fd, interest, mode) } {
            self.free.push(key);
            return Err(e);
        }
        self.entries[key] = Some(source.clone());
        Ok(source)
    }

    pub(crate) fn deregister(&mut self, poller: &polling::Poller, source: &Source) {
        let _ = poller.delete(source.fd());
        if let Some(slot) = self.entries.get_mut(source.key) {
            *slot = None;
            self.free.push(source.key);
        }
    }

    pub(crate) fn get(&self, key: usize) -> Option<Arc<Source>> {
        self.entries.get(key).and_then(|s| s.clone())
    }
}

/// Applies one poller event to its source; collects the wakers to wake.
pub(crate) fn dispatch(
    poller: &polling::Poller,
    edge: bool,
    source: &Source,
    ev: &polling::Event,
    wake: &mut Vec<Waker>,
) {
    let mut st = source.state.lock();
    for (dir, fired) in [(READ, ev.readable), (WRITE, ev.writable)] {
        if fired {
            st[dir].ready = true;
            st[dir].tick = st[dir].tick.wrapping_add(1);
            wake.append(&mut st[dir].waiters);
        }
    }
    if !edge {
        // Oneshot: the event disarmed the fd; re-arm what still waits.
        let (r, w) = (!st[READ].waiters.is_empty(), !st[WRITE].waiters.is_empty());
        if r || w {
            let _ = poller.modify(source.fd(), polling::Event::new(source.key, r, w));
        }
    }
}

impl AsFd for Source {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd()
    }
}
