//! Unix-domain streams: `UnixListener` and `UnixStream`.

use super::stream::{connect_blocking, no_setup, poll_read_unix, stream_api};
use super::Async;
use crate::sync::atomic::AtomicUsize;
use futures_io::{AsyncRead, AsyncWrite};
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::net::Shutdown;
use std::os::unix::net as unix;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A Unix-domain stream listener. Accepted streams are spread over the
/// loops like [`TcpListener`](super::TcpListener)'s.
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
