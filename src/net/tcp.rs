//! TCP: `TcpListener` and `TcpStream`.

use super::stream::{connect_blocking, poll_read_tcp, resolve, stream_api};
use super::{inq, Async};
use crate::sync::atomic::AtomicUsize;
use futures_io::{AsyncRead, AsyncWrite};
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::task::{Context, Poll};

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
    /// Binds to `addr` (e.g. `"127.0.0.1:0"`, a `SocketAddr`, or
    /// `("localhost", 8080)`). The address is resolved on the blocking pool,
    /// never on a loop: a host name may need a DNS lookup, which would stall
    /// the loop and every task on it (as tokio's and smol's `bind`).
    ///
    /// # Errors
    /// As `std::net::TcpListener::bind` (every resolved address is tried in
    /// turn), or if the name does not resolve, or if registration fails.
    ///
    /// # Panics
    /// Outside a loopwork runtime.
    pub async fn bind(addr: impl ToSocketAddrs + Send + 'static) -> io::Result<TcpListener> {
        let addrs = resolve(addr).await?;
        let listener = Async::new(std::net::TcpListener::bind(&addrs[..])?)?;
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
