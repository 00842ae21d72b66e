//! One loop's OS poller and the I/O sources registered with it: waiting,
//! dispatching events to the sources' wakers, the loop's wake-up
//! (`notify`), and a sibling's zero-timeout wait that steals the events of
//! a stalled loop (the `scheduler::Driver` side of event stealing).

use super::io::{dispatch, Source, SourceSlab};
use super::wait::{Events, Waiter};
use crate::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use crate::sync::{Arc, Mutex};
use std::io;
use std::os::fd::BorrowedFd;
use std::task::{Context, Poll};
use std::time::Duration;

/// The OS poller of one loop, and the I/O sources registered with it.
pub(crate) struct Driver {
    poller: polling::Poller,
    /// The wait and the notify (on Linux a thin epoll path: `reactor::wait`).
    waiter: Waiter,
    /// Edge-triggered registration (see `reactor::io`), where supported.
    edge: bool,
    sources: Mutex<SourceSlab>,
    /// How many sources are registered: a poller without any has no
    /// events for a sibling to steal.
    registered: AtomicUsize,
    /// The events buffer of siblings that steal this poller's events
    /// (one at a time: a second stealer finds it taken and skips).
    steal_buf: Mutex<Events>,
    /// Set (under `sources`) by the loop's shutdown: no registration
    /// after it, and every source is shut down (see `Driver::close`).
    closed: AtomicBool,
}

impl Driver {
    pub(crate) fn new() -> io::Result<Driver> {
        let poller = polling::Poller::new()?;
        Ok(Driver {
            edge: poller.supports_edge(),
            waiter: Waiter::new(&poller)?,
            poller,
            sources: Mutex::new(SourceSlab::default()),
            registered: AtomicUsize::new(0),
            steal_buf: Mutex::new(Events::new()),
            closed: AtomicBool::new(false),
        })
    }

    /// Registers an fd (no interest yet) with this poller.
    pub(crate) fn register(&self, fd: BorrowedFd<'_>) -> io::Result<Arc<Source>> {
        let mut sources = self.sources.lock();
        if self.closed.load(Relaxed) {
            return Err(super::readiness::runtime_closed_error());
        }
        let source = sources.register(&self.poller, self.edge, fd)?;
        drop(sources);
        self.registered.fetch_add(1, Relaxed);
        Ok(source)
    }

    /// Removes a source; call before its fd is closed.
    pub(crate) fn deregister(&self, source: &Source) {
        if self.sources.lock().deregister(&self.poller, source) {
            self.registered.fetch_sub(1, Relaxed);
        }
    }

    /// I/O event stealing: a zero-timeout wait on this (a sibling's)
    /// poller from another loop's thread, and the dispatch of what it
    /// collects there; whether there were events. Run it only through
    /// `scheduler::park::poll_sibling`, which keeps the owner's wakeup:
    /// the wait may consume a notify meant for the owner. If the owner
    /// is waiting in it, `polling` returns at once, empty.
    fn steal_events(&self) -> bool {
        let Some(mut events) = self.steal_buf.try_lock() else {
            return false;
        };
        let events = &mut *events;
        if let Err(e) = self
            .waiter
            .wait(&self.poller, events, Some(Duration::ZERO))
        {
            if e.kind() != io::ErrorKind::Interrupted {
                log::error!(target: "loopwork", "failed to poll a sibling's poller: {e}");
            }
            return false;
        }
        self.dispatch(events)
    }

    /// Readiness of `source` in direction `dir` (see `reactor::io`).
    pub(crate) fn poll_ready(
        &self,
        source: &Source,
        dir: usize,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        source.poll_ready(&self.poller, self.edge, dir, cx)
    }

    /// Runs `op` on `source` in direction `dir`, waiting for readiness
    /// whenever it returns `WouldBlock`; `op` also says whether it left
    /// the fd drained (see `reactor::io`).
    pub(crate) fn poll_io<R>(
        &self,
        source: &Source,
        dir: usize,
        cx: &mut Context<'_>,
        op: impl FnMut() -> io::Result<(R, bool)>,
    ) -> Poll<io::Result<R>> {
        source.poll_io(&self.poller, self.edge, dir, cx, op)
    }

    /// The loop is shutting down: shuts every source down (its waiters
    /// are woken and see the closed-runtime error, as does any later
    /// operation) and refuses new registrations. Whether any waiter
    /// was woken (a second call wakes none).
    pub(crate) fn close(&self) -> bool {
        let mut wake = Vec::new();
        {
            let sources = self.sources.lock();
            self.closed.store(true, Relaxed);
            for source in sources.iter() {
                source.shut_down(&mut wake);
            }
        }
        let woke = !wake.is_empty();
        for w in wake {
            w.wake();
        }
        woke
    }

    /// See `Source::retry_after_loop_poll`.
    pub(crate) fn retry_after_loop_poll(&self, source: &Source, dir: usize) {
        source.retry_after_loop_poll(&self.poller, self.edge, dir);
    }

    /// Wakes the tasks waiting on the sources of `events`; whether there
    /// were any I/O events (a bare `notify` brings none).
    pub(crate) fn dispatch(&self, events: &mut Events) -> bool {
        if events.is_empty() {
            return false;
        }
        let mut wake = events.wakers_mut().take();
        {
            let sources = self.sources.lock();
            for ev in events.iter() {
                if let Some(source) = sources.get(ev.key) {
                    dispatch(&self.poller, self.edge, &source, &ev, &mut wake);
                }
            }
        }
        for w in wake.drain(..) {
            w.wake();
        }
        events.wakers_mut().put(wake);
        true
    }

    /// Blocks until an event, a notify, or the timeout. `None` waits forever.
    pub(crate) fn wait(
        &self,
        events: &mut Events,
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        self.waiter.wait(&self.poller, events, timeout)
    }

    /// Wakes the loop's `wait` (or makes its next one return at once).
    pub(crate) fn notify(&self) {
        if let Err(e) = self.waiter.notify(&self.poller) {
            log::error!(target: "loopwork", "failed to notify a loop's poller: {e}");
        }
    }
}

impl crate::scheduler::Driver for Driver {
    fn notify(&self) {
        Driver::notify(self);
    }

    /// Whether any source is registered (a hint: it may change at once).
    fn has_sources(&self) -> bool {
        self.registered.load(Relaxed) != 0
    }

    fn steal_events(&self) -> bool {
        Driver::steal_events(self)
    }
}
