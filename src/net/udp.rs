//! UDP: `UdpSocket`.

use super::Async;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// A UDP socket.
#[derive(Debug)]
pub struct UdpSocket(Async<std::net::UdpSocket>);

impl UdpSocket {
    /// Binds to `addr`, resolved on the blocking pool, never on a loop (see
    /// [`TcpListener::bind`](super::TcpListener::bind)).
    ///
    /// # Errors
    /// As `std::net::UdpSocket::bind`, or if the name does not resolve, or
    /// if registration fails.
    pub async fn bind(addr: impl ToSocketAddrs + Send + 'static) -> io::Result<UdpSocket> {
        let addrs = super::stream::resolve(addr).await?;
        Ok(UdpSocket(Async::new(std::net::UdpSocket::bind(
            &addrs[..],
        )?)?))
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
