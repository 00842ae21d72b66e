//! The hyper-on-tokio peer of `examples/http_server.rs` (hyper on loopwork),
//! for `benches/http.sh` only: same handler, same HTTP/1.1 server settings,
//! a multi-thread tokio runtime with the same number of worker threads.
//!
//! ```text
//! http_tokio_server --serve [THREADS] [ADDR]   # default 2 127.0.0.1:0
//! ```
//!
//! Prints `listening on http://ADDR` once bound, then serves until killed.
//! It is a `harness = false` bench target so that tokio and hyper-util stay
//! dev-dependencies; without `--serve` (as when `cargo bench` runs every
//! bench target) it prints a note and exits.

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::time::Duration;

/// The fixed handler, identical to the loopwork example's.
async fn hello(_req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"Hello, world!",
    ))))
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    match args.next().as_deref() {
        Some("--serve") => {}
        _ => {
            eprintln!("http_tokio_server: a server for benches/http.sh; run it with --serve [THREADS] [ADDR]");
            return;
        }
    }
    let threads: usize = args
        .next()
        .map(|a| a.parse().expect("THREADS: a number"))
        .unwrap_or(2);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:0".to_string());

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("build the tokio runtime");
    let server = rt.spawn(async move {
        let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
        println!(
            "listening on http://{}",
            listener.local_addr().expect("local_addr")
        );
        loop {
            let (stream, _peer) = match listener.accept().await {
                Ok(conn) => conn,
                Err(e) => {
                    eprintln!("accept: {e}");
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                if let Err(e) = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(10))
                    .serve_connection(TokioIo::new(stream), service_fn(hello))
                    .await
                {
                    eprintln!("connection: {e}");
                }
            });
        }
    });
    let _ = rt.block_on(server);
}
