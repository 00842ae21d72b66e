//! What the socket types share: `Async<T>`'s `futures-io` impls, the
//! read/write plumbing over a loop's readiness (with the `TCP_INQ` drained
//! hint for TCP), connect on the blocking pool, and `stream_api!`, the
//! stream API of `TcpStream` and `UnixStream`.

use super::inq;
pub(crate) use super::inq::{as_uninit, read_uninit};
use super::Async;
use crate::reactor::io::{READ, WRITE};
use futures_io::{AsyncRead, AsyncWrite};
use std::io::{self, IoSlice, Read, Write};
use std::mem::MaybeUninit;
use std::os::fd::AsFd;
use std::os::unix::net as unix;
use std::pin::Pin;
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
pub(crate) fn poll_read_on<T: AsFd>(
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

/// A TCP read through the reactor: a read that the kernel says drained the
/// socket (see `net::inq`) lets the next read wait without a syscall.
pub(crate) fn poll_read_tcp(
    io: &Async<std::net::TcpStream>,
    cx: &mut Context<'_>,
    buf: &mut [MaybeUninit<u8>],
) -> Poll<io::Result<usize>> {
    io.poll_io_drained(READ, cx, &mut |s: &std::net::TcpStream| inq::recv(s, buf))
}

/// A Unix stream read through the reactor.
pub(crate) fn poll_read_unix(
    io: &Async<unix::UnixStream>,
    cx: &mut Context<'_>,
    buf: &mut [MaybeUninit<u8>],
) -> Poll<io::Result<usize>> {
    io.poll_io(READ, cx, &mut |s: &unix::UnixStream| {
        read_uninit(s.as_fd(), buf)
    })
}

/// No per-stream set-up.
pub(crate) fn no_setup<T>(_: &T) {}

/// A stream write through the reactor.
pub(crate) fn poll_write_on<T: AsFd>(
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
pub(crate) fn poll_write_vectored_on<T: AsFd>(
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

/// Resolves `addr` on the blocking pool (a name lookup blocks): the
/// addresses to bind or connect to, never empty.
pub(crate) async fn resolve(
    addr: impl std::net::ToSocketAddrs + Send + 'static,
) -> io::Result<Vec<std::net::SocketAddr>> {
    let addrs =
        connect_blocking(move || addr.to_socket_addrs().map(|a| a.collect::<Vec<_>>())).await?;
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to no socket address",
        ));
    }
    Ok(addrs)
}

/// Runs a blocking connect on the blocking pool.
pub(crate) async fn connect_blocking<S: Send + 'static>(
    f: impl FnOnce() -> io::Result<S> + Send + 'static,
) -> io::Result<S> {
    match crate::blocking::spawn_blocking(f).await {
        Ok(res) => res,
        Err(e) => Err(io::Error::other(format!(
            "the blocking pool did not run the resolve or connect: {e}"
        ))),
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
                let buf = $crate::net::stream::as_uninit(buf);
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
                std::future::poll_fn(|cx| $crate::net::stream::poll_write_on(&self.0, cx, buf))
                    .await
            }

            /// Writes some of `bufs`, in order, with one gathered write
            /// (`writev`); returns how much.
            pub async fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
                std::future::poll_fn(|cx| {
                    $crate::net::stream::poll_write_vectored_on(&self.0, cx, bufs)
                })
                .await
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
                $read(&self.0, cx, $crate::net::stream::as_uninit(buf))
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

pub(crate) use stream_api;
