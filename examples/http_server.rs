//! hyper 1.x (HTTP/1.1 server) on loopwork.
//!
//! ```text
//! cargo run --release --example http_server                   # 2 loops, 127.0.0.1:0
//! cargo run --release --example http_server -- 4 127.0.0.1:8080
//! curl http://127.0.0.1:PORT/                                 # Hello, world!
//! ```
//!
//! Prints `listening on http://ADDR` once bound, then serves until killed.
//! `benches/http.sh` runs it under `wrk` next to the same server on tokio
//! (`benches/http_tokio_server.rs`).
//!
//! The adapter (`HyperIo`) implements `hyper::rt::Read` / `hyper::rt::Write`
//! over loopwork's `TcpStream`: reads go straight into hyper's uninitialised
//! buffer (`TcpStream::poll_read_uninit`, as hyper-util's `TokioIo` does with
//! tokio's `ReadBuf`), writes through its `futures-io` `AsyncWrite` impl.

use bytes::Bytes;
use futures_io::AsyncWrite;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use loopwork::net::{TcpListener, TcpStream};
use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// The fixed handler: "Hello, world!" (hyper sets `content-length` from the
/// `Full` body's exact size).
async fn hello(_req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"Hello, world!",
    ))))
}

/// hyper's I/O traits over a loopwork `TcpStream`.
struct HyperIo(TcpStream);

impl hyper::rt::Read for HyperIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // SAFETY: `poll_read_uninit` writes only initialised bytes into the
        // slice and never de-initialises any, as `ReadBufCursor::as_mut`
        // requires.
        let n = ready!(self.0.poll_read_uninit(cx, unsafe { buf.as_mut() }))?;
        // SAFETY: on `Ok(n)` the read initialised the first `n` bytes.
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

impl hyper::rt::Write for HyperIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    /// One `writev` for headers and body (hyper then skips flattening them).
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}

/// How long the accept loop waits after `EMFILE` / `ENFILE`.
const ACCEPT_BACKOFF: std::time::Duration = std::time::Duration::from_millis(100);

/// The process or the system has run out of file descriptors.
fn is_out_of_fds(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE))
}

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let mut args = std::env::args().skip(1);
    let loops: usize = args
        .next()
        .map(|a| a.parse().expect("first argument: number of loops"))
        .unwrap_or(2);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:0".to_string());

    let rt = loopwork::Runtime::builder()
        .loops(loops)
        .build()
        .expect("build the loopwork runtime");
    // The accept loop is a task like the connections it spawns; the main
    // thread only waits.
    let server = rt.handle().spawn(async move {
        let listener = TcpListener::bind(&addr).expect("bind");
        println!(
            "listening on http://{}",
            listener.local_addr().expect("local_addr")
        );
        loop {
            let (stream, _peer) = match listener.accept().await {
                Ok(conn) => conn,
                Err(e) if is_out_of_fds(&e) => {
                    // Out of file descriptors: retrying at once cannot
                    // succeed until a connection closes. Back off so the
                    // loops serve the open connections meanwhile.
                    log::warn!("accept: {e}; retrying in {ACCEPT_BACKOFF:?}");
                    loopwork::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
                Err(e) => {
                    eprintln!("accept: {e}");
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            // Dropping a loopwork Task detaches it.
            drop(loopwork::spawn(async move {
                if let Err(e) = http1::Builder::new()
                    .serve_connection(HyperIo(stream), service_fn(hello))
                    .await
                {
                    eprintln!("connection: {e}");
                }
            }));
        }
    });
    let _: Result<(), _> = rt.block_on(server);
}
