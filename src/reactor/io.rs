//! I/O readiness: file descriptors registered with a loop's poller.
//!
//! # Protocol
//! A [`Source`] is registered once (`Poller::add`, no interest) with the
//! poller of one loop — the loop that created it, or loop 0 off a loop — and
//! keyed by its slot in that driver's slab. `polling` runs in oneshot mode:
//! an event disarms the fd until it is re-armed with `Poller::modify`.
//!
//! Per direction (read, write) the source keeps a waker and a `ready` flag,
//! all under the source's mutex:
//! * **poll_ready** (any thread): if `ready` is set, clear it and return
//!   `Ready` (the caller retries its syscall); otherwise store the waker and
//!   re-arm the fd with the interests that have wakers, then `Pending`.
//!   Re-arming re-evaluates readiness (level-triggered oneshot), so readiness
//!   that arrived between the caller's failed syscall and the re-arm is still
//!   reported: no wakeup is lost.
//! * **dispatch** (the owning loop, after `Poller::wait`): for each event set
//!   `ready` on its directions, take their wakers, re-arm the directions
//!   that still wait, and wake after unlocking.
//!
//! Deregistration (`Poller::delete`, slot freed) happens in the owner's
//! `Drop`, before the fd is closed.

use crate::sync::{Arc, Mutex};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, RawFd};
use std::task::{Context, Poll, Waker};

pub(crate) const READ: usize = 0;
pub(crate) const WRITE: usize = 1;

#[derive(Default)]
struct Direction {
    waker: Option<Waker>,
    ready: bool,
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
        dir: usize,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        let mut st = self.state.lock();
        if std::mem::take(&mut st[dir].ready) {
            return Poll::Ready(Ok(()));
        }
        match &st[dir].waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => st[dir].waker = Some(cx.waker().clone()),
        }
        let interest = polling::Event::new(
            self.key,
            st[READ].waker.is_some(),
            st[WRITE].waker.is_some(),
        );
        poller.modify(self.fd(), interest)?;
        Poll::Pending
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
        // SAFETY: the fd is deleted from the poller (in `deregister`) before
        // its owner closes it, as `Poller::add` requires.
        if let Err(e) = unsafe { poller.add(&fd, polling::Event::none(key)) } {
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

/// Applies one poller event to its source; returns the wakers to wake.
pub(crate) fn dispatch(
    poller: &polling::Poller,
    source: &Source,
    ev: &polling::Event,
    wake: &mut Vec<Waker>,
) {
    let mut st = source.state.lock();
    for (dir, fired) in [(READ, ev.readable), (WRITE, ev.writable)] {
        if fired {
            st[dir].ready = true;
            wake.extend(st[dir].waker.take());
        }
    }
    // Oneshot: the event disarmed the fd; re-arm what still waits.
    let (r, w) = (st[READ].waker.is_some(), st[WRITE].waker.is_some());
    if r || w {
        let _ = poller.modify(source.fd(), polling::Event::new(source.key, r, w));
    }
}

impl AsFd for Source {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd()
    }
}
