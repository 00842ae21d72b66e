//! hyper's `rt::Read` / `rt::Write` for loopwork's streams.
//!
//! Implemented on loopwork's stream types themselves (they are loopwork's,
//! the traits hyper's), so no wrapper stands between a stream and hyper;
//! `HyperIo` adapts any other `futures-io` stream.

use crate::net::{TcpStream, UnixStream};
use ::hyper::rt::{Read, ReadBufCursor, Write};
use futures_io::{AsyncRead, AsyncWrite};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// `rt::Read` and `rt::Write` for a stream type with `poll_read_uninit` and
/// a vectored `futures-io` `AsyncWrite`.
macro_rules! hyper_io {
    ($name:ident) => {
        impl Read for $name {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                mut buf: ReadBufCursor<'_>,
            ) -> Poll<io::Result<()>> {
                // SAFETY: `poll_read_uninit` writes only initialised bytes
                // (the kernel's) into the slice and never de-initialises
                // any, as `ReadBufCursor::as_mut` requires.
                let n = ready!(self.poll_read_uninit(cx, unsafe { buf.as_mut() }))?;
                // SAFETY: on `Ok(n)` the read initialised the first `n`
                // bytes of the slice, and `n` is at most its length.
                unsafe { buf.advance(n) };
                Poll::Ready(Ok(()))
            }
        }

        impl Write for $name {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                AsyncWrite::poll_write(self, cx, buf)
            }

            /// One `writev` for headers and body (hyper then skips
            /// flattening them into one buffer).
            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                AsyncWrite::poll_write_vectored(self, cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                AsyncWrite::poll_flush(self, cx)
            }

            /// Shuts the write side: the peer reads the end of the stream.
            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                AsyncWrite::poll_close(self, cx)
            }
        }
    };
}

hyper_io!(TcpStream);
hyper_io!(UnixStream);

/// hyper's `rt::Read` / `rt::Write` for any other `futures-io` stream: an
/// [`Async<T>`](crate::net::Async), a TLS stream, a test double.
///
/// loopwork's own [`TcpStream`] and [`UnixStream`] need no wrapper (they
/// implement hyper's traits themselves, reading into hyper's buffer without
/// initialising it). Through `HyperIo`, hyper's buffer is zeroed the first
/// time each part of it is read into (a `futures-io` read takes an
/// initialised `&mut [u8]`), and writes are not vectored (`futures-io` has
/// no `is_write_vectored`, so hyper flattens headers and body first).
///
/// # Examples
///
/// ```
/// use hyper::rt::{Read, Write};
/// use loopwork::hyper::HyperIo;
/// use std::os::unix::net::UnixStream;
///
/// fn is_hyper_io<T: Read + Write + Unpin>(_: &T) {}
///
/// loopwork::run(async {
///     let (a, _b) = UnixStream::pair().unwrap();
///     let io = HyperIo::new(loopwork::net::Async::new(a).unwrap());
///     is_hyper_io(&io);
///     // hyper::server::conn::http1::Builder::new().serve_connection(io, service)
/// });
/// ```
#[derive(Debug)]
pub struct HyperIo<T>(T);

impl<T> HyperIo<T> {
    /// Wraps a `futures-io` stream.
    ///
    /// # Examples
    ///
    /// ```
    /// let io = loopwork::hyper::HyperIo::new(futures_lite::io::Cursor::new(vec![1u8]));
    /// assert_eq!(io.get_ref().get_ref(), &[1]);
    /// ```
    pub fn new(io: T) -> HyperIo<T> {
        HyperIo(io)
    }

    /// The wrapped stream.
    ///
    /// # Examples
    ///
    /// ```
    /// let io = loopwork::hyper::HyperIo::new(futures_lite::io::Cursor::new(vec![1u8]));
    /// assert_eq!(io.get_ref().position(), 0);
    /// ```
    pub fn get_ref(&self) -> &T {
        &self.0
    }

    /// The wrapped stream, mutably.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut io = loopwork::hyper::HyperIo::new(futures_lite::io::Cursor::new(vec![1u8]));
    /// io.get_mut().set_position(1);
    /// assert_eq!(io.get_ref().position(), 1);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.0
    }

    /// Unwraps the stream.
    ///
    /// # Examples
    ///
    /// ```
    /// let io = loopwork::hyper::HyperIo::new(futures_lite::io::Cursor::new(vec![1u8]));
    /// assert_eq!(io.into_inner().into_inner(), vec![1]);
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: AsyncRead + Unpin> Read for HyperIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let n = ready!(Pin::new(&mut self.0).poll_read(cx, buf.initialize_unfilled()))?;
        // SAFETY: `initialize_unfilled` initialised the whole unfilled part,
        // and a read returns at most the length it was given.
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> Write for HyperIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    /// The stream's `futures-io` `poll_close` (what closing does is the
    /// stream's: a TLS stream sends its close notification).
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}
