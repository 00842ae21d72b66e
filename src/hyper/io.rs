//! hyper's `rt::Read` / `rt::Write` for loopwork's streams.
//!
//! Implemented on the stream types themselves (they are loopwork's, the
//! traits hyper's), so no wrapper stands between a stream and hyper.

use crate::net::{TcpStream, UnixStream};
use ::hyper::rt::{Read, ReadBufCursor, Write};
use futures_io::AsyncWrite;
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
