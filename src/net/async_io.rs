//! `Async<T>`: any fd-backed I/O object registered with a loop's reactor.

use crate::reactor::io::{Source, READ, WRITE};
use crate::runtime::context;
use crate::runtime::shared::Shared;
use crate::sync::Arc;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::task::{Context, Poll};

/// An I/O object (a socket, a pipe, any `AsFd`) driven by a loop's reactor.
///
/// `Async::new` puts the fd in non-blocking mode and registers it with the
/// poller of the current loop (loop 0 when called off a loop, inside
/// `block_on`). Operations try the syscall first and wait for readiness only
/// when it would block. `Async<T>` is `Send`/`Sync` when `T` is: a task
/// using it may move between loops; readiness events are still collected by
/// the loop it was registered with and wake the task wherever it runs.
///
/// # Examples
///
/// ```
/// use loopwork::Async;
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
    source: Arc<Source>,
    shared: Arc<Shared>,
    index: usize,
    io: Option<T>,
}

impl<T: AsFd> Async<T> {
    /// Registers `io` with the current runtime's reactor.
    ///
    /// # Errors
    /// If the fd cannot be made non-blocking or registered.
    ///
    /// # Panics
    /// Outside a loopwork runtime.
    #[track_caller]
    pub fn new(io: T) -> io::Result<Async<T>> {
        let location = std::panic::Location::caller();
        let (shared, index) = context::with_core(|c| c.map(|c| (c.shared.clone(), c.index)))
            .or_else(|| context::current_shared().map(|s| (s, 0)))
            .unwrap_or_else(|| crate::task::not_in_runtime("Async::new", location));
        set_nonblocking(io.as_fd().as_raw_fd())?;
        let source = shared.loops[index].driver.register(io.as_fd())?;
        Ok(Async {
            source,
            shared,
            index,
            io: Some(io),
        })
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
        self.shared.loops[self.index]
            .driver
            .deregister(&self.source);
    }

    /// Polls until the fd is (probably) readable.
    pub fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shared.loops[self.index]
            .driver
            .poll_ready(&self.source, READ, cx)
    }

    /// Polls until the fd is (probably) writable.
    pub fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shared.loops[self.index]
            .driver
            .poll_ready(&self.source, WRITE, cx)
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

    /// Tries `op` when the fd may be ready; after `WouldBlock` waits for
    /// readiness in `dir` and retries (see `reactor::io` for the caching).
    pub(crate) fn poll_io<R>(
        &self,
        dir: usize,
        cx: &mut Context<'_>,
        op: &mut impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let io = self.get_ref();
        self.shared.loops[self.index]
            .driver
            .poll_io(&self.source, dir, cx, || op(io))
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
            .field("loop", &self.index)
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
