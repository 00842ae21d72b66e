//! Networking: TCP, UDP and Unix sockets on loopwork's reactors.
//!
//! Every type wraps a std socket in [`Async`], so it is non-blocking,
//! registered with a loop's poller, and implements the `futures-io`
//! `AsyncRead` / `AsyncWrite` traits (streams) — plus inherent `read`,
//! `write`, `write_all` so simple programs need no extension traits.
//!
//! Connecting (`TcpStream::connect`, `UnixStream::connect`) resolves and
//! connects on the blocking pool: std has no non-blocking connect, and name
//! resolution blocks anyway. Accepting, reading and writing never block a loop.
//!
//! # Examples
//!
//! ```
//! use loopwork::net::{TcpListener, TcpStream};
//!
//! loopwork::run(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     let server = loopwork::spawn(async move {
//!         let (stream, _) = listener.accept().await.unwrap();
//!         let mut buf = [0u8; 5];
//!         let n = stream.read(&mut buf).await.unwrap();
//!         stream.write_all(&buf[..n]).await.unwrap(); // echo
//!     });
//!     let client = TcpStream::connect(addr).await.unwrap();
//!     client.write_all(b"hello").await.unwrap();
//!     let mut buf = [0u8; 5];
//!     let mut got = 0;
//!     while got < 5 {
//!         got += client.read(&mut buf[got..]).await.unwrap();
//!     }
//!     assert_eq!(&buf, b"hello");
//!     server.await.unwrap();
//! });
//! ```

mod async_io;
mod inq;

pub use async_io::Async;

use crate::reactor::io::{READ, WRITE};
use futures_io::{AsyncRead, AsyncWrite};
use std::io::{self, IoSlice, Read, Write};
use std::mem::MaybeUninit;
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net as unix;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::AtomicUsize;
use std::task::{Context, Poll};

impl<T: AsFd> AsyncRead for Async<T>
where
    for<'a> &'a T: Read,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        poll_read_on(&self, cx, buf)
    }
}

impl<T: AsFd> AsyncWrite for Async<T>
where
    for<'a> &'a T: Write,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        poll_write_on(&self, cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        poll_write_vectored_on(&self, cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A stream read through the reactor.
fn poll_read_on<T: AsFd>(
    io: &Async<T>,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>>
where
    for<'a> &'a T: Read,
{
    io.poll_io(READ, cx, &mut |s: &T| {
        let mut s = s;
        s.read(buf)
    })
}

/// `buf` as a slice of possibly uninitialised bytes, for the reads below.
pub(crate) fn as_uninit(buf: &mut [u8]) -> &mut [MaybeUninit<u8>] {
    // SAFETY: `MaybeUninit<u8>` has the layout of `u8`. The slice is only
    // handed to reads, which write initialised bytes (the kernel's) and never
    // de-initialise any, so `buf` stays initialised.
    unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) }
}

/// `read(2)` into possibly uninitialised memory: on `Ok(n)` the first `n`
/// bytes of `buf` are initialised.
pub(crate) fn read_uninit(fd: BorrowedFd<'_>, buf: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`, which
    // is exclusively borrowed for the call; `fd` is open (borrowed).
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// A TCP read through the reactor: a read that the kernel says drained the
/// socket (see `net::inq`) lets the next read wait without a syscall.
fn poll_read_tcp(
    io: &Async<std::net::TcpStream>,
    cx: &mut Context<'_>,
    buf: &mut [MaybeUninit<u8>],
) -> Poll<io::Result<usize>> {
    io.poll_io_drained(READ, cx, &mut |s: &std::net::TcpStream| inq::recv(s, buf))
}

/// A Unix stream read through the reactor.
fn poll_read_unix(
    io: &Async<unix::UnixStream>,
    cx: &mut Context<'_>,
    buf: &mut [MaybeUninit<u8>],
) -> Poll<io::Result<usize>> {
    io.poll_io(READ, cx, &mut |s: &unix::UnixStream| {
        read_uninit(s.as_fd(), buf)
    })
}

/// No per-stream set-up.
fn no_setup<T>(_: &T) {}

/// A stream write through the reactor.
fn poll_write_on<T: AsFd>(
    io: &Async<T>,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Poll<io::Result<usize>>
where
    for<'a> &'a T: Write,
{
    io.poll_io(WRITE, cx, &mut |s: &T| {
        let mut s = s;
        s.write(buf)
    })
}

/// A gathered stream write (one `writev`) through the reactor.
fn poll_write_vectored_on<T: AsFd>(
    io: &Async<T>,
    cx: &mut Context<'_>,
    bufs: &[IoSlice<'_>],
) -> Poll<io::Result<usize>>
where
    for<'a> &'a T: Write,
{
    io.poll_io(WRITE, cx, &mut |s: &T| {
        let mut s = s;
        s.write_vectored(bufs)
    })
}

/// Runs a blocking connect on the blocking pool.
async fn connect_blocking<S: Send + 'static>(
    f: impl FnOnce() -> io::Result<S> + Send + 'static,
) -> io::Result<S> {
    match crate::blocking::spawn_blocking(f).await {
        Ok(res) => res,
        Err(e) => Err(io::Error::other(format!("connect did not complete: {e}"))),
    }
}

/// The stream API shared by `TcpStream` and `UnixStream`: `$read` is the
/// stream's read (into possibly uninitialised memory), `$setup` runs on the
/// std stream before it is wrapped.
macro_rules! stream_api {
    ($name:ident, $std:ty, read = $read:path, setup = $setup:path) => {
        impl $name {
            /// Wraps a connected std stream (made non-blocking).
            ///
            /// # Errors
            /// If it cannot be registered with the reactor.
            pub fn from_std(stream: $std) -> io::Result<$name> {
                $setup(&stream);
                Ok($name(Async::new(stream)?))
            }

            /// The std stream (still non-blocking).
            pub fn get_ref(&self) -> &$std {
                self.0.get_ref()
            }

            /// Reads into `buf`; `Ok(0)` at end of stream.
            pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
                let buf = as_uninit(buf);
                std::future::poll_fn(|cx| $read(&self.0, cx, buf)).await
            }

            /// Reads into `buf`, which need not be initialised (no zeroing
            /// of a large buffer before each read); `Ok(0)` at end of stream.
            /// On `Ok(n)` the first `n` bytes of `buf` are initialised.
            pub async fn read_uninit(&self, buf: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
                std::future::poll_fn(|cx| $read(&self.0, cx, buf)).await
            }

            /// The poll form of [`Self::read_uninit`], for I/O adapters
            /// such as hyper's `rt::Read` (whose `ReadBufCursor` hands out
            /// uninitialised memory) or tokio's `AsyncRead` (`ReadBuf`).
            pub fn poll_read_uninit(
                &self,
                cx: &mut Context<'_>,
                buf: &mut [MaybeUninit<u8>],
            ) -> Poll<io::Result<usize>> {
                $read(&self.0, cx, buf)
            }

            /// Writes some of `buf`; returns how much.
            pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
                std::future::poll_fn(|cx| poll_write_on(&self.0, cx, buf)).await
            }

            /// Writes some of `bufs`, in order, with one gathered write
            /// (`writev`); returns how much.
            pub async fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
                std::future::poll_fn(|cx| poll_write_vectored_on(&self.0, cx, bufs)).await
            }

            /// Writes all of `buf`.
            pub async fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
                while !buf.is_empty() {
                    match self.write(buf).await? {
                        0 => return Err(io::ErrorKind::WriteZero.into()),
                        n => buf = &buf[n..],
                    }
                }
                Ok(())
            }

            /// Waits until the stream may be readable: at once unless the
            /// last read found it drained (`WouldBlock`, or, for TCP on
            /// Linux, a read that took everything), then until the next
            /// readiness event. A read may still find nothing.
            pub async fn readable(&self) -> io::Result<()> {
                self.0.readable().await
            }

            /// The poll form of [`Self::readable`].
            pub fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.0.poll_readable(cx)
            }

            /// Waits until the stream may be writable (as
            /// [`Self::readable`], for writes).
            pub async fn writable(&self) -> io::Result<()> {
                self.0.writable().await
            }

            /// The poll form of [`Self::writable`].
            pub fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.0.poll_writable(cx)
            }

            /// Shuts down the read side, the write side, or both.
            pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
                self.0.get_ref().shutdown(how)
            }
        }

        impl AsyncRead for $name {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                $read(&self.0, cx, as_uninit(buf))
            }
        }

        impl AsyncWrite for $name {
            fn poll_write(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                Pin::new(&mut self.0).poll_write(cx, buf)
            }

            fn poll_write_vectored(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
            }

            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(self.0.get_ref().shutdown(Shutdown::Write))
            }
        }
    };
}

/// A TCP listener.
///
/// Accepted streams are spread over the runtime's loops in turn: each is
/// registered with the next loop at its first wait, unless the task waiting
/// on it is pinned (`spawn_local`), which keeps it on its own loop. A `Send`
/// handler task moves to its stream's loop at its first wake-up, so the
/// loops share the connections instead of the accepting loop collecting
/// every event (see `Async`).
#[derive(Debug)]
pub struct TcpListener(Async<std::net::TcpListener>, AtomicUsize);

impl TcpListener {
    /// Binds to `addr` (e.g. `"127.0.0.1:0"`).
    ///
    /// # Errors
    /// As `std::net::TcpListener::bind`, or if registration fails.
    ///
    /// # Panics
    /// Outside a loopwork runtime.
    #[track_caller]
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let listener = Async::new(std::net::TcpListener::bind(addr)?)?;
        Ok(TcpListener(listener, AtomicUsize::new(0)))
    }

    /// Waits for a connection.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, peer) = self.0.accept_with(|l| l.accept()).await?;
        let mut stream = TcpStream::from_std(stream)?;
        stream.0.spread(&self.1);
        Ok((stream, peer))
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().local_addr()
    }
}

/// A TCP stream: `AsyncRead + AsyncWrite`.
#[derive(Debug)]
pub struct TcpStream(Async<std::net::TcpStream>);

impl TcpStream {
    /// Connects to `addr` (resolution and connect run on the blocking pool).
    ///
    /// # Errors
    /// As `std::net::TcpStream::connect`.
    pub async fn connect(addr: impl ToSocketAddrs + Send + 'static) -> io::Result<TcpStream> {
        let stream = connect_blocking(move || std::net::TcpStream::connect(addr)).await?;
        TcpStream::from_std(stream)
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().local_addr()
    }

    /// Sets `TCP_NODELAY`.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.0.get_ref().set_nodelay(on)
    }
}

stream_api!(
    TcpStream,
    std::net::TcpStream,
    read = poll_read_tcp,
    setup = inq::enable
);

/// A UDP socket.
#[derive(Debug)]
pub struct UdpSocket(Async<std::net::UdpSocket>);

impl UdpSocket {
    /// Binds to `addr`.
    ///
    /// # Errors
    /// As `std::net::UdpSocket::bind`, or if registration fails.
    #[track_caller]
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        Ok(UdpSocket(Async::new(std::net::UdpSocket::bind(addr)?)?))
    }

    /// Sends a datagram to `addr`.
    pub async fn send_to(&self, buf: &[u8], addr: SocketAddr) -> io::Result<usize> {
        self.0.write_with(|s| s.send_to(buf, addr)).await
    }

    /// Receives a datagram and its sender.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.0.read_with(|s| s.recv_from(buf)).await
    }

    /// Sets the default peer for `send` / `recv` (does not block for UDP).
    pub fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        self.0.get_ref().connect(addr)
    }

    /// Sends to the connected peer.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_with(|s| s.send(buf)).await
    }

    /// Receives from the connected peer.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read_with(|s| s.recv(buf)).await
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().local_addr()
    }
}

/// A Unix-domain stream listener. Accepted streams are spread over the
/// loops like [`TcpListener`]'s.
#[derive(Debug)]
pub struct UnixListener(Async<unix::UnixListener>, AtomicUsize);

impl UnixListener {
    /// Binds to a filesystem path.
    ///
    /// # Errors
    /// As `std::os::unix::net::UnixListener::bind`.
    #[track_caller]
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let listener = Async::new(unix::UnixListener::bind(path)?)?;
        Ok(UnixListener(listener, AtomicUsize::new(0)))
    }

    /// Waits for a connection.
    pub async fn accept(&self) -> io::Result<(UnixStream, unix::SocketAddr)> {
        let (stream, peer) = self.0.accept_with(|l| l.accept()).await?;
        let mut stream = UnixStream::from_std(stream)?;
        stream.0.spread(&self.1);
        Ok((stream, peer))
    }
}

/// A Unix-domain stream: `AsyncRead + AsyncWrite`.
#[derive(Debug)]
pub struct UnixStream(Async<unix::UnixStream>);

impl UnixStream {
    /// Connects to the socket at `path` (on the blocking pool).
    ///
    /// # Errors
    /// As `std::os::unix::net::UnixStream::connect`.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let path = path.as_ref().to_owned();
        let stream = connect_blocking(move || unix::UnixStream::connect(path)).await?;
        UnixStream::from_std(stream)
    }

    /// A connected pair.
    ///
    /// # Errors
    /// As `std::os::unix::net::UnixStream::pair`.
    #[track_caller]
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = unix::UnixStream::pair()?;
        Ok((UnixStream::from_std(a)?, UnixStream::from_std(b)?))
    }
}

stream_api!(
    UnixStream,
    unix::UnixStream,
    read = poll_read_unix,
    setup = no_setup
);
