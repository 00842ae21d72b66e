//! hyper 1.x (HTTP/1.1 server) on loopwork, through the `hyper` feature.
//!
//! ```text
//! cargo run --release --features hyper --example http_server                   # 2 loops, 127.0.0.1:0
//! cargo run --release --features hyper --example http_server -- 4 127.0.0.1:8080
//! curl http://127.0.0.1:PORT/                                                  # Hello, world!
//! ```
//!
//! Prints `listening on http://ADDR` once bound, then serves until Ctrl-C
//! (SIGINT) or SIGTERM: it stops accepting, closes the runtime (open
//! connections are cancelled) and prints the requests each loop served.
//! `benches/http.sh` runs it under `wrk` next to the same server on tokio
//! (`benches/http_tokio_server.rs`).
//!
//! loopwork's `TcpStream` implements hyper's `rt::Read` / `rt::Write` itself
//! (reads into hyper's uninitialised buffer, vectored writes), so a stream
//! goes to hyper as it is; `HyperTimer` gives hyper its header-read timeout.

use bytes::Bytes;
use crossbeam_utils::CachePadded;
use futures_lite::future;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use loopwork::hyper::HyperTimer;
use loopwork::net::TcpListener;
use loopwork::signal::{signal, SignalKind};
use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::Duration;

/// Requests served, per loop (each on its own cache line: the loops count
/// without sharing one).
static SERVED: OnceLock<Vec<CachePadded<AtomicU64>>> = OnceLock::new();

/// The fixed handler: "Hello, world!" (hyper sets `content-length` from the
/// `Full` body's exact size).
async fn hello(_req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if let Some(served) = SERVED.get() {
        served[loopwork::current_loop().id()].fetch_add(1, Relaxed);
    }
    Ok(Response::new(Full::new(Bytes::from_static(
        b"Hello, world!",
    ))))
}

/// Completes at the first Ctrl-C (SIGINT) or SIGTERM.
async fn shutdown_signal() {
    let mut term = signal(SignalKind::terminate()).expect("listen for SIGTERM");
    let ctrl_c = async {
        let _ = loopwork::signal::ctrl_c().await;
    };
    future::or(ctrl_c, async {
        term.recv().await;
    })
    .await;
}

/// Accepts connections until `shutdown` completes, serving each in its own
/// task (connections already accepted are not waited for).
async fn serve(listener: TcpListener, shutdown: impl Future<Output = ()>) {
    let mut server = http1::Builder::new();
    server
        .timer(HyperTimer::new())
        .header_read_timeout(Duration::from_secs(10));
    let mut shutdown = pin!(shutdown);
    loop {
        let accepted = future::or(async { Some(listener.accept().await) }, async {
            shutdown.as_mut().await;
            None
        });
        let (stream, _peer) = match accepted.await {
            Some(Ok(conn)) => conn,
            Some(Err(e)) if is_out_of_fds(&e) => {
                // Out of file descriptors: retrying at once cannot succeed
                // until a connection closes. Back off so the loops serve
                // the open connections meanwhile.
                log::warn!("accept: {e}; retrying in {ACCEPT_BACKOFF:?}");
                loopwork::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
            Some(Err(e)) => {
                eprintln!("accept: {e}");
                continue;
            }
            None => return,
        };
        let _ = stream.set_nodelay(true);
        let conn = server.serve_connection(stream, service_fn(hello));
        // Dropping a loopwork Task detaches it.
        loopwork::spawn(async move {
            if let Err(e) = conn.await {
                eprintln!("connection: {e}");
            }
        })
        .detach();
    }
}

/// How long the accept loop waits after `EMFILE` / `ENFILE`.
const ACCEPT_BACKOFF: std::time::Duration = std::time::Duration::from_millis(100);

/// The process or the system has run out of file descriptors.
fn is_out_of_fds(e: &std::io::Error) -> bool {
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
    let _ = SERVED.set((0..loops).map(|_| Default::default()).collect());
    // The accept loop is a task like the connections it spawns; the main
    // thread only waits on it.
    let server = rt.handle().spawn(async move {
        let listener = TcpListener::bind(addr.clone()).await.expect("bind");
        println!(
            "listening on http://{}",
            listener.local_addr().expect("local_addr")
        );
        serve(listener, shutdown_signal()).await
    });
    let _: Result<(), _> = rt.block_on(server);
    // The loops' counters (polls, steals, parks, ...), for benches/http.sh.
    let metrics = rt.metrics();
    // Connections still open are cancelled (closed); a loop stuck for more
    // than a second would be left detached and reported.
    rt.shutdown_timeout(Duration::from_secs(1));
    let served: Vec<u64> = SERVED
        .get()
        .map(|s| s.iter().map(|c| c.load(Relaxed)).collect())
        .unwrap_or_default();
    println!(
        "shut down; requests served per loop: {served:?} (total {})",
        served.iter().sum::<u64>()
    );
    println!("loop metrics: {:?}", metrics.loops);
}
