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
//! `ready` flag (initially set) and a `tick` counting events, packed in one
//! atomic word, and a list of waiters (several tasks may wait on one socket,
//! e.g. two `recv_from` on a shared `UdpSocket`) under the source's mutex:
//! * an operation samples `(ready, tick)` (an atomic load). If ready, it
//!   tries its syscall; on
//!   `WouldBlock` it clears `ready` **only if `tick` is unchanged** (a CAS; no event
//!   arrived since the sample, so the readiness it saw is really used up). If
//!   not ready, it skips the doomed syscall. A short read alone does not
//!   clear: it does not prove the fd drained (data and a FIN can arrive
//!   under one edge, and the FIN would then never be reported again). A
//!   read that the kernel says left *nothing*, not even a FIN, does clear,
//!   in the same way as `WouldBlock` (TCP streams: `net::inq`, `TCP_INQ`),
//!   unless an event has reported a hang-up or an error (a sticky
//!   `closed` flag: an RST is not counted in the hint);
//! * **poll_ready** (under the lock): add the waker to the list, then if
//!   `ready` is set, return `Ready` (the operation retries); otherwise
//!   (oneshot: re-arm) `Pending`;
//! * **dispatch** (the owning loop, after `Poller::wait`): for each event set
//!   `ready` and bump `tick` (one atomic RMW), *then* lock and take all the
//!   direction's waiters; wake them after unlocking.
//!
//! No wakeup is lost: an event that lands after the sample bumps `tick`, so
//! the clear does not apply and the next `poll_ready` returns `Ready`; an
//! event after the waker was listed wakes it. Edge-triggered mode only
//! reports *new* readiness, which is enough because `ready` is cleared only
//! when a syscall found the fd drained, with no event since. Oneshot re-arming
//! re-evaluates level readiness, with the same effect.
//!
//! Oneshot re-arms run under the source's mutex: one `modify` sets both
//! directions, so re-arms must land in the order of the waiter lists they
//! describe, or a stale one drops the other direction's interest.
//!
//! The state machine (`ready`, `tick`, the waiter lists, the operation
//! sequence and the dispatch step) is [`Readiness`], in `reactor::readiness`,
//! which is kept apart from the poller calls (the re-arm is a closure
//! parameter) so that loom builds it. Its model,
//! `loom-tests/tests/reactor_readiness.rs`, runs it against a simulated fd
//! and poller: a reader racing an edge, two readers and one edge, an edge
//! between `WouldBlock` and the clear, and oneshot re-arming (see
//! `loom-tests/README.md`, with the mutants that show each check can fail).
//!
//! Deregistration (`Poller::delete`, slot freed) happens in the owner's
//! `Drop`, before the fd is closed.

use super::readiness::{Interest, Readiness};
use crate::sync::Arc;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, RawFd};
use std::task::{Context, Poll, Waker};

pub(crate) use super::readiness::{READ, WRITE};

/// One registered file descriptor.
pub(crate) struct Source {
    fd: RawFd,
    key: usize,
    readiness: Readiness,
}

impl Source {
    fn fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the fd stays open while registered: `Async` deregisters
        // before it drops (and so closes) the I/O object; `add_reader`'s
        // caller is told to remove the watch before closing the fd (if it
        // does not, a stale number only misdirects this poller's calls).
        unsafe { BorrowedFd::borrow_raw(self.fd) }
    }

    /// Oneshot mode: re-arms the fd with `interest` (the directions that
    /// still have waiters). Edge-triggered registration never needs it.
    fn rearm(&self, poller: &polling::Poller, edge: bool, interest: Interest) -> io::Result<()> {
        if edge {
            return Ok(());
        }
        poller.modify(
            self.fd(),
            polling::Event::new(self.key, interest.read, interest.write),
        )
    }

    /// See the module docs. `poller` is the driver this source belongs to.
    pub(crate) fn poll_ready(
        &self,
        poller: &polling::Poller,
        edge: bool,
        dir: usize,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        self.readiness
            .poll_ready(dir, cx, |i| self.rearm(poller, edge, i))
    }

    /// Runs the non-blocking syscall `op` in direction `dir`, waiting for
    /// readiness whenever it returns `WouldBlock` (see the module docs).
    pub(crate) fn poll_io<R>(
        &self,
        poller: &polling::Poller,
        edge: bool,
        dir: usize,
        cx: &mut Context<'_>,
        op: impl FnMut() -> io::Result<(R, bool)>,
    ) -> Poll<io::Result<R>> {
        self.readiness
            .poll_io(dir, cx, op, |i| self.rearm(poller, edge, i))
    }
}

impl Source {
    /// After an operation failed with an error that retrying at once would
    /// only repeat (`accept` under `EMFILE`): clears `ready` in `dir` and
    /// asks the poller to report the fd's *current* readiness again
    /// (`EPOLL_CTL_MOD` re-evaluates it, also in edge-triggered mode). The
    /// next attempt then waits for the loop's next poll instead of making
    /// an immediate syscall, and, since the re-arm reports a connection still
    /// waiting in the backlog, it is not left waiting for a new one.
    pub(crate) fn retry_after_loop_poll(&self, poller: &polling::Poller, edge: bool, dir: usize) {
        let (_, tick) = self.readiness.readiness(dir);
        self.readiness.clear_ready_if(dir, tick);
        let mode = if edge {
            polling::PollMode::Edge
        } else {
            polling::PollMode::Oneshot
        };
        let ev = polling::Event::new(self.key, dir == READ, dir == WRITE);
        let ev = if edge {
            polling::Event::all(self.key)
        } else {
            ev
        };
        if let Err(e) = poller.modify_with_mode(self.fd(), ev, mode) {
            log::error!(target: "loopwork", "failed to re-arm fd {}: {e}", self.fd);
        }
    }

    /// The owning runtime shut down: see `Readiness::shut_down`.
    pub(crate) fn shut_down(&self, wake: &mut Vec<Waker>) -> bool {
        self.readiness.shut_down(wake)
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
            readiness: Readiness::new(),
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

    /// Whether `source` was registered here (and is now removed).
    pub(crate) fn deregister(&mut self, poller: &polling::Poller, source: &Source) -> bool {
        let _ = poller.delete(source.fd());
        match self.entries.get_mut(source.key) {
            Some(slot) if slot.is_some() => {
                *slot = None;
                self.free.push(source.key);
                true
            }
            _ => false,
        }
    }

    /// Every registered source.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Arc<Source>> {
        self.entries.iter().flatten()
    }

    pub(crate) fn get(&self, key: usize) -> Option<Arc<Source>> {
        self.entries.get(key).and_then(|s| s.clone())
    }
}

/// Applies one poller event to its source; collects the wakers to wake.
/// (Not under loom: its reactor has no I/O, see `loom_driver`.)
#[cfg(not(loopwork_loom))]
pub(crate) fn dispatch(
    poller: &polling::Poller,
    edge: bool,
    source: &Source,
    ev: &super::wait::IoEvent,
    wake: &mut Vec<Waker>,
) {
    let fired = Interest {
        read: ev.readable,
        write: ev.writable,
    };
    if ev.closed {
        source.readiness.mark_closed();
    }
    // Oneshot: the event disarmed the fd; re-arm what still waits.
    source.readiness.dispatch(fired, wake, |i| {
        let _ = source.rearm(poller, edge, i);
    });
}

impl AsFd for Source {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd()
    }
}

#[cfg(test)]
mod tests {
    use super::SourceSlab;
    use std::os::fd::AsFd;

    /// A source registered and deregistered, over and over, keeps reusing
    /// one slot: the slab does not grow with the sockets a loop has seen.
    #[test]
    fn a_deregistered_sources_slot_is_reused() {
        let poller = polling::Poller::new().unwrap();
        let mut slab = SourceSlab::default();
        for _ in 0..1000 {
            let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
            let source = slab
                .register(&poller, poller.supports_edge(), a.as_fd())
                .unwrap();
            assert_eq!(source.key, 0, "a freed slot was not reused");
            assert!(slab.deregister(&poller, &source));
        }
        assert_eq!(slab.entries.len(), 1, "the slab grew");
    }
}
