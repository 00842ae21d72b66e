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
//!     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
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
pub(crate) mod stream;
mod tcp;
mod udp;
mod unix;

pub use async_io::Async;
pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};
