//! `Async<T>`: any fd-backed I/O object registered with a loop's reactor.

use crate::reactor::io::{Source, READ, WRITE};
use crate::runtime::context;
use crate::runtime::shared::Shared;
use crate::sync::OnceLock;
use crate::sync::{Arc, Mutex};
use crate::task::trace::{self, LeafKind};
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::task::{Context, Poll};

/// An I/O object (a socket, a pipe, any `AsFd`) driven by a loop's reactor.
///
/// `Async::new` puts the fd in non-blocking mode. Operations try the syscall
/// first and wait for readiness only when it would block; the fd is
/// registered with a loop's poller the first time an operation has to wait:
/// with the loop running the waiting task if that task is pinned
/// (`spawn_local`: its wake-ups then stay on its loop), otherwise with the
/// `Async`'s home loop — the loop that created it (loop 0 off a loop), or,
/// for a stream accepted by a `loopwork::net` listener, the next loop in
/// turn. `Async<T>` is `Send`/`Sync` when `T` is: a task using it may move
/// between loops; readiness events are collected by the loop it was
/// registered with and wake the task there (a `Send` task then runs on that
/// loop).
///
/// # Examples
///
/// ```
/// use loopwork::net::Async;
/// use std::net::{TcpListener, TcpStream};
///
/// loopwork::run(async {
///     let listener = Async::new(TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
///     let addr = listener.get_ref().local_addr().unwrap();
///     let client = std::thread::spawn(move || TcpStream::connect(addr).unwrap());
///     let (stream, _peer) = listener.read_with(|l| l.accept()).await.unwrap();
///     drop(stream);
///     client.join().unwrap();
/// });
/// ```
pub struct Async<T: AsFd> {
    /// Set at the first wait: the loop registered with, and the source.
    registered: OnceLock<(usize, Arc<Source>)>,
    /// Serialises first registrations: two threads waiting for the first
    /// time at once must not both add the fd (the second `epoll_ctl(ADD)`
    /// on one poller would fail with `EEXIST`).
    registering: Mutex<()>,
    shared: Arc<Shared>,
    /// The loop that created this `Async`: where it registers if its first
    /// wait is not on one of this runtime's loops.
    home: usize,
    io: Option<T>,
}

impl<T: AsFd> Async<T> {
    /// Registers `io` with the current runtime's reactor.
    ///
    /// # Errors
    /// If the fd cannot be made non-blocking or registered; always under
    /// the feature `loom` (`ErrorKind::Unsupported`, a message naming the
    /// feature: a loom model has no OS poller).
    ///
    /// # Panics
    /// Outside a loopwork runtime.
    #[track_caller]
    pub fn new(io: T) -> io::Result<Async<T>> {
        let location = std::panic::Location::caller();
        let (shared, index) = context::with_core(|c| c.map(|c| (c.shared.clone(), c.index)))
            .or_else(|| context::current_shared().map(|s| (s, 0)))
            .unwrap_or_else(|| crate::runtime::not_in_runtime("Async::new", location));
        // Under the feature `loom` no fd is ever watched: every I/O type
        // (they are all built on `Async`) fails here, naming the feature.
        #[cfg(loopwork_loom)]
        {
            let _ = (shared, index, io);
            return Err(crate::reactor::loom_io_error());
        }
        #[cfg_attr(loopwork_loom, allow(unreachable_code))]
        set_nonblocking(io.as_fd().as_raw_fd())?;
        Ok(Async {
            registered: OnceLock::new(),
            registering: Mutex::new(()),
            shared,
            home: index,
            io: Some(io),
        })
    }

    /// A stream accepted by a listener: home is the next loop in turn.
    pub(crate) fn spread(&mut self, next: &crate::sync::atomic::AtomicUsize) {
        let n = self.shared.loops.len();
        self.home = next.fetch_add(1, crate::sync::atomic::Ordering::Relaxed) % n;
    }

    /// The loop and source this `Async` is registered with; registers it the
    /// first time (see the type's docs for which loop).
    fn source(&self) -> io::Result<&(usize, Arc<Source>)> {
        if let Some(reg) = self.registered.get() {
            return Ok(reg);
        }
        let _first = self.registering.lock();
        if let Some(reg) = self.registered.get() {
            return Ok(reg);
        }
        let index = context::with_core(|c| match c {
            Some(c) if c.belongs_to(&self.shared) && c.polling_pinned() => c.index,
            _ => self.home,
        });
        let source = self.shared.loops[index]
            .driver
            .register(self.get_ref().as_fd())?;
        Ok(self.registered.get_or_init(|| (index, source)))
    }

    /// The inner I/O object.
    pub fn get_ref(&self) -> &T {
        self.io.as_ref().expect("present until drop")
    }

    /// Deregisters and returns the inner object (still non-blocking).
    pub fn into_inner(mut self) -> T {
        self.deregister();
        self.io.take().expect("present until drop")
    }

    fn deregister(&self) {
        if let Some((index, source)) = self.registered.get() {
            self.shared.loops[*index].driver.deregister(source);
        }
    }

    fn poll_ready(&self, dir: usize, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        crate::task::coop::poll(cx, |cx| self.poll_ready_unbudgeted(dir, cx))
    }

    fn poll_ready_unbudgeted(&self, dir: usize, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let (index, source) = match self.source() {
            Ok(reg) => reg,
            Err(e) => return Poll::Ready(Err(e)),
        };
        let res = self.shared.loops[*index].driver.poll_ready(source, dir, cx);
        if res.is_pending() {
            self.leaf(dir);
        }
        res
    }

    /// The await graph's leaf of a task waiting on this fd (two stores).
    #[inline]
    fn leaf(&self, dir: usize) {
        let kind = if dir == READ {
            LeafKind::Read
        } else {
            LeafKind::Write
        };
        let fd = self.get_ref().as_fd().as_raw_fd();
        trace::set_leaf(kind, fd as u64, None);
    }

    /// Polls until the fd is (probably) readable.
    pub fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_ready(READ, cx)
    }

    /// Polls until the fd is (probably) writable.
    pub fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_ready(WRITE, cx)
    }

    /// Waits until the fd is (probably) readable.
    pub async fn readable(&self) -> io::Result<()> {
        poll_fn(|cx| self.poll_readable(cx)).await
    }

    /// Waits until the fd is (probably) writable.
    pub async fn writable(&self) -> io::Result<()> {
        poll_fn(|cx| self.poll_writable(cx)).await
    }

    /// Runs a non-blocking read-side operation, waiting for readability
    /// whenever it returns `WouldBlock`.
    pub async fn read_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        poll_fn(|cx| self.poll_io(READ, cx, &mut op)).await
    }

    /// Runs a non-blocking write-side operation, waiting for writability
    /// whenever it returns `WouldBlock`.
    pub async fn write_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        poll_fn(|cx| self.poll_io(WRITE, cx, &mut op)).await
    }

    /// [`Async::read_with`] for `accept`: an error other than `WouldBlock`
    /// (`EMFILE`, `ENFILE`, `ECONNABORTED`, ...) leaves the listener's cached
    /// readiness cleared and the fd re-armed, so a caller that retries at
    /// once waits for the loop's next poll (other tasks and callbacks run in
    /// between) instead of making another immediately failing syscall.
    pub(crate) async fn accept_with<R>(
        &self,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        poll_fn(|cx| match self.poll_io(READ, cx, &mut op) {
            Poll::Ready(Err(e)) => {
                if e.kind() != io::ErrorKind::WouldBlock {
                    // Registered now if it never waited: the cache must
                    // exist to be cleared.
                    if let Ok((index, source)) = self.source() {
                        self.shared.loops[*index]
                            .driver
                            .retry_after_loop_poll(source, READ);
                    }
                }
                Poll::Ready(Err(e))
            }
            Poll::Pending => {
                let fd = self.get_ref().as_fd().as_raw_fd();
                trace::set_leaf(LeafKind::Accept, fd as u64, None);
                Poll::Pending
            }
            other => other,
        })
        .await
    }

    /// Tries `op` when the fd may be ready; after `WouldBlock` waits for
    /// readiness in `dir` and retries (see `reactor::io` for the caching).
    pub(crate) fn poll_io<R>(
        &self,
        dir: usize,
        cx: &mut Context<'_>,
        op: &mut impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io_drained(dir, cx, &mut |io: &T| op(io).map(|r| (r, false)))
    }

    /// [`Async::poll_io`] for an `op` that also says whether it left the fd
    /// drained in `dir` (nothing left to read, not even an end of stream),
    /// which lets the next operation wait for an event without first making
    /// a syscall that can only say `WouldBlock`.
    pub(crate) fn poll_io_drained<R>(
        &self,
        dir: usize,
        cx: &mut Context<'_>,
        op: &mut impl FnMut(&T) -> io::Result<(R, bool)>,
    ) -> Poll<io::Result<R>> {
        crate::task::coop::poll(cx, |cx| self.poll_io_unbudgeted(dir, cx, op))
    }

    fn poll_io_unbudgeted<R>(
        &self,
        dir: usize,
        cx: &mut Context<'_>,
        op: &mut impl FnMut(&T) -> io::Result<(R, bool)>,
    ) -> Poll<io::Result<R>> {
        let io = self.get_ref();
        let (index, source) = match self.registered.get() {
            Some(reg) => reg,
            None => {
                // Never waited yet: no registration needed until it must
                // (and no cached readiness to clear).
                match op(io) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    res => return Poll::Ready(res.map(|(r, _)| r)),
                }
                // Register, then go through the cache, whose first sample
                // says "ready": the retry (or the registration's initial
                // edge) sees whatever arrived since the `WouldBlock`.
                match self.source() {
                    Ok(reg) => reg,
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
        };
        let res = self.shared.loops[*index]
            .driver
            .poll_io(source, dir, cx, || op(io));
        if res.is_pending() {
            self.leaf(dir);
        }
        res
    }
}

impl<T: AsFd> Drop for Async<T> {
    fn drop(&mut self) {
        if self.io.is_some() {
            // Before the fd closes (when `io` drops right after).
            self.deregister();
        }
    }
}

impl<T: AsFd + fmt::Debug> fmt::Debug for Async<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Async")
            .field("io", &self.io)
            .field("loop", &self.registered.get().map(|(i, _)| *i))
            .finish()
    }
}

fn set_nonblocking(fd: std::os::fd::RawFd) -> io::Result<()> {
    // SAFETY: fcntl on an fd the caller owns (it is borrowed from `io`);
    // F_GETFL/F_SETFL do not touch memory.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    if flags & libc::O_NONBLOCK == 0 {
        // SAFETY: as above.
        if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
