//! hyper 1.x on loopwork (feature `hyper`).
//!
//! hyper brings its own HTTP state machines and asks the runtime for four
//! things, its `rt` traits; this module provides them:
//!
//! | hyper needs | loopwork gives |
//! |---|---|
//! | `rt::Read` / `rt::Write` | implemented by [`TcpStream`](crate::net::TcpStream) and [`UnixStream`](crate::net::UnixStream) themselves, so a stream is handed to hyper as it is; [`HyperIo`] adapts any other `futures-io` stream ([`Async<T>`](crate::net::Async), TLS) |
//! | `rt::Executor` (HTTP/2's background tasks) | [`HyperExecutor`]: spawns `Send` futures as loopwork tasks |
//! | `rt::Timer` (header-read timeout, HTTP/2 keep-alive pings) | [`HyperTimer`]: loopwork's [`Sleep`](crate::time::Sleep) |
//!
//! # Invariants
//! - Reads on loopwork's streams go straight into hyper's uninitialised
//!   buffer (`poll_read_uninit`): nothing is zeroed or copied, and a read
//!   writes only initialised bytes and never de-initialises any, which is
//!   what `ReadBufCursor::as_mut` requires of its caller. Through
//!   [`HyperIo`] the buffer is initialised before a `futures-io` read.
//! - Writes on loopwork's streams are vectored (`is_write_vectored` is
//!   true): headers and body leave in one `writev`, and hyper does not
//!   flatten them first.
//! - `poll_shutdown` on loopwork's streams shuts the write side
//!   (`shutdown(SHUT_WR)`), so the peer reads the end of the stream once
//!   hyper has flushed the last response.
//! - Every future hyper hands to [`HyperExecutor`] runs as a detached,
//!   stealable task named `"hyper"` (visible in task dumps); on a closed
//!   runtime it is dropped, and that is logged, never silent.
//! - Timers never fire early (loopwork's timers are exact); a `reset` re-arms
//!   the same boxed sleep instead of allocating a new one.
//!
//! # Examples
//!
//! A served HTTP/1.1 hello world, asked once by hyper's client (all of it on
//! loopwork):
//!
//! ```
//! use bytes::Bytes;
//! use http_body_util::{BodyExt, Empty, Full};
//! use hyper::service::service_fn;
//! use hyper::{Request, Response};
//! use loopwork::hyper::HyperTimer;
//! use loopwork::net::{TcpListener, TcpStream};
//! use std::convert::Infallible;
//! use std::time::Duration;
//!
//! async fn hello(_: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
//!     Ok(Response::new(Full::new(Bytes::from_static(b"Hello, world!"))))
//! }
//!
//! loopwork::run(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     loopwork::spawn(async move {
//!         loop {
//!             let (stream, _) = listener.accept().await.unwrap();
//!             loopwork::spawn(async move {
//!                 let _ = hyper::server::conn::http1::Builder::new()
//!                     .timer(HyperTimer::new())
//!                     .header_read_timeout(Duration::from_secs(5))
//!                     .serve_connection(stream, service_fn(hello))
//!                     .await;
//!             })
//!             .detach();
//!         }
//!     })
//!     .detach();
//!
//!     let stream = TcpStream::connect(addr).await.unwrap();
//!     let (mut client, conn) = hyper::client::conn::http1::handshake(stream).await.unwrap();
//!     loopwork::spawn(conn).detach();
//!     let req = Request::get("/").header("host", "localhost").body(Empty::<Bytes>::new()).unwrap();
//!     let res = client.send_request(req).await.unwrap();
//!     let body = res.into_body().collect().await.unwrap().to_bytes();
//!     assert_eq!(body, "Hello, world!");
//! });
//! ```

mod executor;
mod io;
mod timer;

pub use executor::HyperExecutor;
pub use io::HyperIo;
pub use timer::HyperTimer;
