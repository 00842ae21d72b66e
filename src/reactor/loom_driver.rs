//! The reactor of a runtime built under the feature `loom`: the loop's
//! wait and wake-up on the virtual clock, and no I/O.
//!
//! # Invariants
//! - `notify` is deduplicated and sticky, and `wait` consumes it, as with
//!   `polling::Poller` (the contract `scheduler::park` relies on); the
//!   loop's notification and parked state live in the execution's virtual
//!   clock (`sync::virtual_clock`), which advances time only when every
//!   loop is idle.
//! - No file descriptor is ever registered: [`Driver::register`] fails
//!   with [`loom_io_error`], so every I/O type (`net`, `process`,
//!   `signal`, `LoopHandle::add_reader` / `add_writer`, the hyper I/O)
//!   reports an error naming the feature instead of doing anything real.
//!   `has_sources` is therefore always false and no sibling ever steals
//!   this loop's events.

use super::io::Source;
use crate::sync::virtual_clock::Clock;
use std::io;
use std::os::fd::BorrowedFd;
use std::task::{Context, Poll};
use std::time::Duration;

/// The error of every I/O operation under the feature `loom`.
pub(crate) fn loom_io_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "loopwork's I/O (sockets, pipes, processes, signals, fd watches) is not available under \
         the `loom` feature: a loom model has no OS poller; model the I/O with a channel or a \
         `loopwork::handoff::promise` instead",
    )
}

/// One loop's wait and wake-up, on the virtual clock.
pub(crate) struct Driver {
    /// The execution's clock (held: it lives as long as a runtime does).
    clock: std::sync::Arc<Clock>,
    /// This loop's slot in the clock.
    id: usize,
}

/// The events buffer: under loom there are never any.
pub(crate) struct Events(());

impl Events {
    pub(crate) fn new() -> Events {
        Events(())
    }
}

impl Driver {
    pub(crate) fn new() -> io::Result<Driver> {
        let clock = crate::sync::virtual_clock::get_or_start();
        Ok(Driver {
            id: clock.add_loop(),
            clock,
        })
    }

    /// No I/O under loom: fails with [`loom_io_error`].
    pub(crate) fn register(&self, _fd: BorrowedFd<'_>) -> io::Result<crate::sync::Arc<Source>> {
        Err(loom_io_error())
    }

    /// Unreachable in practice: no source is ever registered.
    pub(crate) fn deregister(&self, _source: &Source) {}

    /// Unreachable in practice: no source is ever registered.
    pub(crate) fn poll_ready(
        &self,
        _source: &Source,
        _dir: usize,
        _cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        Poll::Ready(Err(loom_io_error()))
    }

    /// Unreachable in practice: no source is ever registered.
    pub(crate) fn poll_io<R>(
        &self,
        _source: &Source,
        _dir: usize,
        _cx: &mut Context<'_>,
        _op: impl FnMut() -> io::Result<(R, bool)>,
    ) -> Poll<io::Result<R>> {
        Poll::Ready(Err(loom_io_error()))
    }

    /// No sources to shut down.
    pub(crate) fn close(&self) -> bool {
        false
    }

    /// Unreachable in practice: no source is ever registered.
    pub(crate) fn retry_after_loop_poll(&self, _source: &Source, _dir: usize) {}

    /// Never any I/O events.
    pub(crate) fn dispatch(&self, _events: &mut Events) -> bool {
        false
    }

    /// Parks the loop until a notify or virtual time `timeout` from now.
    pub(crate) fn wait(&self, _events: &mut Events, timeout: Option<Duration>) -> io::Result<usize> {
        self.clock.park_loop(self.id, timeout);
        Ok(0)
    }

    /// Wakes the loop's `wait` (or makes its next one return at once).
    pub(crate) fn notify(&self) {
        self.clock.notify_loop(self.id);
    }

    /// The loop has finished its shutdown: it never waits again, and no
    /// longer holds virtual time back.
    pub(crate) fn loop_finished(&self) {
        self.clock.loop_done(self.id);
    }
}

impl crate::scheduler::Driver for Driver {
    fn notify(&self) {
        Driver::notify(self);
    }

    fn has_sources(&self) -> bool {
        false
    }

    fn steal_events(&self) -> bool {
        false
    }
}
