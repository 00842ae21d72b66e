//! loopwork side by side with tokio and async-executor.
//!
//! ```text
//! cargo bench --bench compare                      # full run (about 20 repetitions)
//! cargo bench --bench compare -- --quick           # about 2 minutes on 2 CPUs
//! cargo bench --bench compare -- --only ping_pong  # one workload (or a name prefix)
//! cargo bench --bench compare -- --threads 4 --reps 30
//! cargo bench --bench compare -- --only yield_many --metrics  # + loopwork's counters
//! cargo bench --bench compare -- --only ping_pong --peer loopwork --reps 200  # for perf
//! cargo bench --bench compare -- --quick --only sporadic  # handoffs with gaps
//! cargo bench --bench compare -- --quick --scaling        # at 1, 2, ... nproc threads
//! cargo bench --bench compare -- --quick --shared-runtimes  # the old method, to compare
//! cargo bench --bench compare -- --only debug_overhead_yield_many --debug on  # one side, for perf stat
//! cargo bench --bench compare -- --quick --no-spin  # loopwork without its spins
//! ```
//!
//! # Method
//! * Each workload runs on three runtimes with the same number of worker
//!   threads (default 2): loopwork (`Runtime::builder().loops(n)`), tokio
//!   (multi-thread runtime, `worker_threads(n)`) and async-executor (one
//!   `Executor` run by `n` threads with `async_io::block_on(ex.run(..))`; timers
//!   are `async_io::Timer`).
//! * **One runtime awake at a time**: every sample gets a runtime built for it
//!   (the workload run once untimed first, so it is warm) and shut down,
//!   threads joined, before the next sample; no other runtime's threads can
//!   spin, search or park-and-wake during it. (async-io's reactor thread, shared
//!   by every async-executor sample, stays; it sleeps in `epoll_wait` when idle.)
//!   `--shared-runtimes` keeps the three runtimes alive for a whole workload,
//!   the method before, to show what the difference moves.
//! * The three runtimes are measured **interleaved**: repetition `r` runs
//!   loopwork, tokio, async-executor in an order rotated by `r`, so drift
//!   (frequency, other load on the machine) hits all three alike.
//! * **CPU time**: next to each wall time, the process's CPU time (user +
//!   system, `getrusage(RUSAGE_SELF)` deltas around the sample): every thread
//!   of the runtime, so a latency bought with spinning shows up. It is per round
//!   trip for `run_coroutine_threadsafe_*` and per item for `sporadic_*`.
//! * `sporadic_*`: workloads 8 and 9 with a gap (50 µs, 200 µs, 1 ms) between
//!   items, busy-waited on the producer so it is exact; the producer's
//!   busy-wait CPU (its thread CPU clock) is subtracted from the process's.
//! * `--scaling` runs everything at 1, 2, ... `nproc` threads, one table per
//!   thread count (`compare-Nt.json`).
//!   A few warm-up repetitions are discarded; the table gives the median and,
//!   in parentheses, the interquartile range; `compare.json` also has min, max
//!   and every sample.
//! * Work is spawned **from inside a runtime task** (a driver task), not from
//!   `block_on`, except in the `*_remote_*` workloads, whose point is spawning
//!   from a foreign thread.
//! * The synchronisation the workloads need (a countdown with a wake-up, a
//!   oneshot channel) is written here, once, and shared by all three runtimes,
//!   so what differs between columns is only the runtime.
//! * Every workload checks its own result (every task ran, counts and sums
//!   match) and panics on a wrong answer. A watchdog aborts the process if one
//!   sample runs longer than 60 s, naming the workload and the runtime.
//! * Nothing here asserts a timing.
//!
//! Writes `$CARGO_TARGET_DIR/compare.json` (default `target/compare.json`).

/// `--help`: the options (the examples at the top of this file, said once more).
const USAGE: &str = "\
usage: cargo bench --bench compare -- [OPTIONS]

  --quick             5 repetitions, 1 warm-up (about 2 minutes on 2 CPUs)
  --reps N            repetitions per workload (default 20, 5 with --quick)
  --threads N         worker threads of each runtime (default 2)
  --only NAME         one workload, or every workload whose name starts with NAME
  --peer NAME         one runtime only: loopwork, tokio or async-executor (for perf)
  --scaling           every workload at 1, 2, ... nproc threads
  --shared-runtimes   keep the runtimes alive for a whole workload (the old method)
  --no-spin           loopwork without its spins (idle_spin and result_spin zero)
  --debug on|off      the debug_overhead_* workloads: one side only
  --metrics           print loopwork's loop counters after each workload
  --help, -h          this text
";

use std::fmt::Write as _;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::sync::{Arc, Barrier, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

// ===== configuration =====

#[derive(Clone)]
struct Config {
    threads: usize,
    reps: usize,
    warmup: usize,
    quick: bool,
    only: Option<String>,
    /// Print loopwork's `RuntimeMetrics` after each workload.
    metrics: bool,
    /// Measure only this runtime (for profiling one of them).
    peer: Option<Peer>,
    /// `--shared-runtimes`: the three runtimes live for a whole workload
    /// (the method before fresh runtimes per sample), to compare the two.
    shared: bool,
    /// `--scaling`: the whole run at 1, 2, ... nproc threads.
    scaling: bool,
    /// `--debug on|off`: the `debug_overhead_*` workloads run only that
    /// side (in both columns), so `perf stat` can count one mode alone.
    debug_side: Option<bool>,
}

impl Config {
    /// Parses the arguments by hand. Unknown flags (cargo passes `--bench`)
    /// are ignored.
    fn from_args() -> Config {
        let mut cfg = Config {
            threads: 2,
            reps: 0,
            warmup: 2,
            quick: false,
            only: None,
            metrics: false,
            peer: None,
            shared: false,
            scaling: false,
            debug_side: None,
        };
        let mut reps = None;
        let args: Vec<String> = std::env::args().skip(1).collect();
        let mut i = 0;
        while i < args.len() {
            let (flag, inline) = match args[i].split_once('=') {
                Some((f, v)) => (f.to_string(), Some(v.to_string())),
                None => (args[i].clone(), None),
            };
            let mut value = |name: &str| -> String {
                if let Some(v) = inline.clone() {
                    return v;
                }
                i += 1;
                args.get(i)
                    .cloned()
                    .unwrap_or_else(|| panic!("compare: {name} needs a value"))
            };
            match flag.as_str() {
                "--quick" => cfg.quick = true,
                "--metrics" => cfg.metrics = true,
                "--shared-runtimes" => cfg.shared = true,
                "--scaling" => cfg.scaling = true,
                "--no-spin" => NO_SPIN.store(true, Relaxed),
                "--threads" => {
                    cfg.threads = value("--threads").parse().expect("--threads N: a number");
                    assert!(cfg.threads > 0, "--threads must be at least 1");
                }
                "--reps" => reps = Some(value("--reps").parse().expect("--reps N: a number")),
                "--only" => cfg.only = Some(value("--only")),
                "--debug" => {
                    cfg.debug_side = Some(match value("--debug").as_str() {
                        "on" => true,
                        "off" => false,
                        _ => panic!("--debug: on or off"),
                    })
                }
                "--peer" => {
                    let v = value("--peer");
                    cfg.peer = Some(
                        PEERS
                            .into_iter()
                            .find(|p| p.name() == v)
                            .unwrap_or_else(|| panic!("--peer: loopwork, tokio or async-executor")),
                    );
                }
                // cargo passes `--bench` to every bench binary.
                "--bench" => {}
                "--help" | "-h" => {
                    print!("{USAGE}");
                    std::process::exit(0);
                }
                other => {
                    eprint!("compare: unknown argument {other:?}\n\n{USAGE}");
                    std::process::exit(2);
                }
            }
            i += 1;
        }
        cfg.reps = reps.unwrap_or(if cfg.quick { 5 } else { 20 });
        if cfg.quick {
            cfg.warmup = 1;
        }
        cfg
    }

    fn runs(&self, peer: Peer) -> bool {
        self.peer.is_none_or(|p| p == peer)
    }

    fn selected(&self, name: &str) -> bool {
        match &self.only {
            None => true,
            Some(o) => name == o || name.starts_with(o.as_str()),
        }
    }
}

// ===== shared synchronisation (identical for all runtimes) =====

/// A counter that wakes one waiter when it reaches zero.
struct Countdown {
    remaining: AtomicUsize,
    waker: Mutex<Option<Waker>>,
}

impl Countdown {
    fn new(n: usize) -> Arc<Countdown> {
        Arc::new(Countdown {
            remaining: AtomicUsize::new(n),
            waker: Mutex::new(None),
        })
    }

    fn done_one(&self) {
        let prev = self.remaining.fetch_sub(1, AcqRel);
        assert!(prev > 0, "countdown went below zero: a task ran twice");
        if prev == 1 {
            let waker = self.waker.lock().unwrap().take();
            if let Some(w) = waker {
                w.wake();
            }
        }
    }

    async fn wait(&self) {
        std::future::poll_fn(|cx| {
            if self.remaining.load(Acquire) == 0 {
                return Poll::Ready(());
            }
            *self.waker.lock().unwrap() = Some(cx.waker().clone());
            // Re-check after publishing the waker: the last `done_one` may
            // have looked for it just before.
            if self.remaining.load(Acquire) == 0 {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

/// A minimal oneshot channel: one `Arc`, one mutex, no runtime involved.
mod oneshot {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll, Waker};

    struct Slot<T> {
        value: Option<T>,
        waker: Option<Waker>,
        closed: bool,
    }

    pub struct Sender<T>(Arc<Mutex<Slot<T>>>);
    pub struct Receiver<T>(Arc<Mutex<Slot<T>>>);

    pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
        let slot = Arc::new(Mutex::new(Slot {
            value: None,
            waker: None,
            closed: false,
        }));
        (Sender(slot.clone()), Receiver(slot))
    }

    impl<T> Sender<T> {
        pub fn send(self, value: T) {
            let waker = {
                let mut s = self.0.lock().unwrap();
                s.value = Some(value);
                s.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        }
    }

    impl<T> Drop for Sender<T> {
        fn drop(&mut self) {
            let waker = {
                let mut s = self.0.lock().unwrap();
                s.closed = true;
                s.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        }
    }

    impl<T> Future for Receiver<T> {
        /// `None` if the sender was dropped without sending.
        type Output = Option<T>;

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
            let mut s = self.0.lock().unwrap();
            if let Some(v) = s.value.take() {
                return Poll::Ready(Some(v));
            }
            if s.closed {
                return Poll::Ready(None);
            }
            match &s.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => s.waker = Some(cx.waker().clone()),
            }
            Poll::Pending
        }
    }
}

/// Increments a counter when dropped: tells when cancelled futures are gone.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Release);
    }
}

/// About 10 µs of CPU, as tokio's benchmark `stall()`.
fn stall() {
    let start = Instant::now();
    while start.elapsed() < Duration::from_micros(10) {
        std::thread::yield_now();
    }
}

/// Polls `fut` exactly once and reports what it returned.
async fn poll_once<F: Future>(mut fut: Pin<&mut F>) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await
}

// ===== the three runtimes behind one interface =====

/// What a workload needs from a runtime. `spawn` works from any thread: from a
/// worker of the runtime it is the runtime's ordinary local spawn
/// (`loopwork::spawn`, `tokio::spawn`, `Executor::spawn`).
trait Rt: Clone + Send + Sync + 'static {
    type Join<T: Send + 'static>: Future<Output = T> + Send + Unpin + 'static;

    fn spawn<F>(&self, fut: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Lets the task run on without anyone joining it.
    fn detach<T: Send + 'static>(join: Self::Join<T>);

    /// Cancels the task.
    fn abort<T: Send + 'static>(join: Self::Join<T>);

    /// Runs `fut` on the calling (non-worker) thread.
    fn block_on<F: Future>(&self, fut: F) -> F::Output;

    fn yield_now() -> impl Future<Output = ()> + Send;

    fn sleep(d: Duration) -> impl Future<Output = ()> + Send;

    /// Workload 8: runs `f` on the runtime, submitted from a foreign thread;
    /// `lane` picks the loop where the runtime has several targets.
    fn call_threadsafe<F: FnOnce() + Send + 'static>(&self, lane: usize, f: F);

    /// Workload 9: runs `fut` on the runtime and blocks this (foreign)
    /// thread until its output is back.
    fn round_trip<F>(&self, fut: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Workload 10: runs `f` on the runtime's blocking pool; `None` if the
    /// runtime has none.
    fn spawn_blocking<F, T>(&self, f: F) -> Option<Self::Join<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static;

    /// Workload 12: the TCP echo, to be run as a task of this runtime with its
    /// own networking: a listener on 127.0.0.1, an accept task spawning one
    /// echo task per connection, and `conns` client tasks each doing `trips`
    /// round trips of `ECHO_MSG` bytes (checked byte for byte). Returns
    /// (bytes the clients got back, bytes the server echoed).
    fn tcp_echo(&self, conns: usize, trips: usize) -> impl Future<Output = (usize, usize)> + Send;
}

#[derive(Clone)]
struct Lw(loopwork::runtime::Handle);

struct LwJoin<T>(loopwork::Task<T>);

impl<T> Future for LwJoin<T> {
    type Output = T;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.unwrap_or_else(|e| panic!("loopwork task failed: {e}")))
    }
}

impl Rt for Lw {
    type Join<T: Send + 'static> = LwJoin<T>;

    fn spawn<F>(&self, fut: F) -> LwJoin<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        LwJoin(self.0.spawn(fut))
    }

    fn detach<T: Send + 'static>(join: LwJoin<T>) {
        drop(join); // dropping a loopwork Task detaches it
    }

    fn abort<T: Send + 'static>(join: LwJoin<T>) {
        join.0.cancel();
    }

    fn block_on<F: Future>(&self, fut: F) -> F::Output {
        self.0.block_on(fut)
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        loopwork::yield_now()
    }

    fn sleep(d: Duration) -> impl Future<Output = ()> + Send {
        loopwork::sleep(d)
    }

    fn call_threadsafe<F: FnOnce() + Send + 'static>(&self, lane: usize, f: F) {
        self.0
            .loop_handle(lane % self.0.loops())
            .call_soon_threadsafe(f)
            .expect("call_soon_threadsafe: runtime closed");
    }

    fn round_trip<F>(&self, fut: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0
            .loop_handle(0)
            .run_coroutine_threadsafe(fut)
            .result()
            .unwrap_or_else(|e| panic!("run_coroutine_threadsafe failed: {e}"))
    }

    fn spawn_blocking<F, T>(&self, f: F) -> Option<LwJoin<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        Some(LwJoin(self.0.spawn_blocking(f)))
    }

    /// `loopwork::net`: `TcpListener`, `TcpStream` (connect on the blocking
    /// pool), inherent `read` / `write_all`.
    async fn tcp_echo(&self, conns: usize, trips: usize) -> (usize, usize) {
        use loopwork::net::{TcpListener, TcpStream};
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("tcp_echo: bind");
        let addr = listener.local_addr().expect("tcp_echo: local_addr");
        let server = self.spawn(async move {
            let mut echoers = Vec::with_capacity(conns);
            for _ in 0..conns {
                let (s, _) = listener.accept().await.expect("tcp_echo: accept");
                s.set_nodelay(true).expect("tcp_echo: nodelay");
                echoers.push(loopwork::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let mut echoed = 0;
                    loop {
                        let n = s.read(&mut buf).await.expect("tcp_echo: server read");
                        if n == 0 {
                            return echoed;
                        }
                        s.write_all(&buf[..n])
                            .await
                            .expect("tcp_echo: server write");
                        echoed += n;
                    }
                }));
            }
            let mut echoed = 0;
            for e in echoers {
                echoed += e.await.expect("tcp_echo: echo task failed");
            }
            echoed
        });
        let clients: Vec<_> = (0..conns)
            .map(|c| {
                self.spawn(async move {
                    let s = TcpStream::connect(addr).await.expect("tcp_echo: connect");
                    s.set_nodelay(true).expect("tcp_echo: nodelay");
                    let (mut msg, mut back) = ([0u8; ECHO_MSG], [0u8; ECHO_MSG]);
                    for t in 0..trips {
                        echo_fill(&mut msg, c, t);
                        s.write_all(&msg).await.expect("tcp_echo: client write");
                        let mut got = 0;
                        while got < ECHO_MSG {
                            match s
                                .read(&mut back[got..])
                                .await
                                .expect("tcp_echo: client read")
                            {
                                0 => panic!("tcp_echo: connection {c} closed early"),
                                n => got += n,
                            }
                        }
                        echo_check(&msg, &back, c, t);
                    }
                    trips * ECHO_MSG
                })
            })
            .collect();
        let mut received = 0;
        for c in clients {
            received += c.await;
        }
        (received, server.await)
    }
}

#[derive(Clone)]
struct Tk(tokio::runtime::Handle);

struct TkJoin<T>(tokio::task::JoinHandle<T>);

impl<T> Future for TkJoin<T> {
    type Output = T;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.unwrap_or_else(|e| panic!("tokio task failed: {e}")))
    }
}

impl Rt for Tk {
    type Join<T: Send + 'static> = TkJoin<T>;

    fn spawn<F>(&self, fut: F) -> TkJoin<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        TkJoin(self.0.spawn(fut))
    }

    fn detach<T: Send + 'static>(join: TkJoin<T>) {
        drop(join);
    }

    fn abort<T: Send + 'static>(join: TkJoin<T>) {
        join.0.abort();
    }

    fn block_on<F: Future>(&self, fut: F) -> F::Output {
        self.0.block_on(fut)
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }

    fn sleep(d: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(d)
    }

    /// tokio has no callback queue: the closure is wrapped in a task.
    fn call_threadsafe<F: FnOnce() + Send + 'static>(&self, _lane: usize, f: F) {
        drop(self.0.spawn(async move { f() }));
    }

    fn round_trip<F>(&self, fut: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        futures::executor::block_on(self.spawn(fut))
    }

    fn spawn_blocking<F, T>(&self, f: F) -> Option<TkJoin<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        Some(TkJoin(self.0.spawn_blocking(f)))
    }

    /// `tokio::net` with `AsyncReadExt` / `AsyncWriteExt`.
    async fn tcp_echo(&self, conns: usize, trips: usize) -> (usize, usize) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        use tokio::net::{TcpListener, TcpStream};
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("tcp_echo: bind");
        let addr = listener.local_addr().expect("tcp_echo: local_addr");
        let server = self.spawn(async move {
            let mut echoers = Vec::with_capacity(conns);
            for _ in 0..conns {
                let (mut s, _) = listener.accept().await.expect("tcp_echo: accept");
                s.set_nodelay(true).expect("tcp_echo: nodelay");
                echoers.push(tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let mut echoed = 0;
                    loop {
                        let n = s.read(&mut buf).await.expect("tcp_echo: server read");
                        if n == 0 {
                            return echoed;
                        }
                        s.write_all(&buf[..n])
                            .await
                            .expect("tcp_echo: server write");
                        echoed += n;
                    }
                }));
            }
            let mut echoed = 0;
            for e in echoers {
                echoed += e.await.expect("tcp_echo: echo task failed");
            }
            echoed
        });
        let clients: Vec<_> = (0..conns)
            .map(|c| {
                self.spawn(async move {
                    let mut s = TcpStream::connect(addr).await.expect("tcp_echo: connect");
                    s.set_nodelay(true).expect("tcp_echo: nodelay");
                    let (mut msg, mut back) = ([0u8; ECHO_MSG], [0u8; ECHO_MSG]);
                    for t in 0..trips {
                        echo_fill(&mut msg, c, t);
                        s.write_all(&msg).await.expect("tcp_echo: client write");
                        s.read_exact(&mut back)
                            .await
                            .expect("tcp_echo: client read");
                        echo_check(&msg, &back, c, t);
                    }
                    trips * ECHO_MSG
                })
            })
            .collect();
        let mut received = 0;
        for c in clients {
            received += c.await;
        }
        (received, server.await)
    }
}

#[derive(Clone)]
struct Ae(Arc<async_executor::Executor<'static>>);

impl Rt for Ae {
    type Join<T: Send + 'static> = async_executor::Task<T>;

    fn spawn<F>(&self, fut: F) -> async_executor::Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0.spawn(fut)
    }

    fn detach<T: Send + 'static>(join: async_executor::Task<T>) {
        join.detach(); // dropping an async-executor Task would cancel it
    }

    fn abort<T: Send + 'static>(join: async_executor::Task<T>) {
        drop(join);
    }

    fn block_on<F: Future>(&self, fut: F) -> F::Output {
        async_io::block_on(fut)
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        futures_lite::future::yield_now()
    }

    async fn sleep(d: Duration) {
        async_io::Timer::after(d).await;
    }

    /// async-executor has no callback queue: the closure is wrapped in a task.
    fn call_threadsafe<F: FnOnce() + Send + 'static>(&self, _lane: usize, f: F) {
        self.0.spawn(async move { f() }).detach();
    }

    fn round_trip<F>(&self, fut: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        futures::executor::block_on(self.spawn(fut))
    }

    /// async-executor has no blocking pool (smol's is the separate `blocking`
    /// crate, which is not a dependency here).
    fn spawn_blocking<F, T>(&self, _f: F) -> Option<async_executor::Task<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        None
    }

    /// `async_io::Async<std::net::TcpListener / TcpStream>` (what `async-net`
    /// wraps) with futures-lite's `AsyncReadExt` / `AsyncWriteExt`.
    async fn tcp_echo(&self, conns: usize, trips: usize) -> (usize, usize) {
        use async_io::Async;
        use futures_lite::{AsyncReadExt, AsyncWriteExt};
        use std::net::{TcpListener, TcpStream};
        let listener = Async::<TcpListener>::bind(([127, 0, 0, 1], 0)).expect("tcp_echo: bind");
        let addr = listener
            .get_ref()
            .local_addr()
            .expect("tcp_echo: local_addr");
        let ex = self.0.clone();
        let server = self.spawn(async move {
            let mut echoers = Vec::with_capacity(conns);
            for _ in 0..conns {
                let (mut s, _) = listener.accept().await.expect("tcp_echo: accept");
                s.get_ref().set_nodelay(true).expect("tcp_echo: nodelay");
                echoers.push(ex.spawn(async move {
                    let mut buf = [0u8; 4096];
                    let mut echoed = 0;
                    loop {
                        let n = s.read(&mut buf).await.expect("tcp_echo: server read");
                        if n == 0 {
                            return echoed;
                        }
                        s.write_all(&buf[..n])
                            .await
                            .expect("tcp_echo: server write");
                        echoed += n;
                    }
                }));
            }
            let mut echoed = 0;
            for e in echoers {
                echoed += e.await;
            }
            echoed
        });
        let clients: Vec<_> = (0..conns)
            .map(|c| {
                self.spawn(async move {
                    let mut s = Async::<TcpStream>::connect(addr)
                        .await
                        .expect("tcp_echo: connect");
                    s.get_ref().set_nodelay(true).expect("tcp_echo: nodelay");
                    let (mut msg, mut back) = ([0u8; ECHO_MSG], [0u8; ECHO_MSG]);
                    for t in 0..trips {
                        echo_fill(&mut msg, c, t);
                        s.write_all(&msg).await.expect("tcp_echo: client write");
                        s.read_exact(&mut back)
                            .await
                            .expect("tcp_echo: client read");
                        echo_check(&msg, &back, c, t);
                    }
                    trips * ECHO_MSG
                })
            })
            .collect();
        let mut received = 0;
        for c in clients {
            received += c.await;
        }
        (received, server.await)
    }
}

/// An async-executor "runtime": one executor, `n` threads running it.
struct AeRuntime {
    ex: Arc<async_executor::Executor<'static>>,
    stops: Vec<oneshot::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl AeRuntime {
    fn new(n: usize) -> AeRuntime {
        let ex = Arc::new(async_executor::Executor::new());
        let mut stops = Vec::new();
        let mut threads = Vec::new();
        for i in 0..n {
            let (tx, rx) = oneshot::channel::<()>();
            let ex = ex.clone();
            stops.push(tx);
            threads.push(
                std::thread::Builder::new()
                    .name(format!("async-executor-{i}"))
                    .spawn(move || {
                        async_io::block_on(ex.run(async {
                            let _ = rx.await;
                        }))
                    })
                    .expect("spawn an executor thread"),
            );
        }
        AeRuntime { ex, stops, threads }
    }

    fn shutdown(self) {
        drop(self.stops);
        for t in self.threads {
            t.join().expect("an executor thread panicked");
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Peer {
    Loopwork,
    Tokio,
    AsyncExecutor,
}

const PEERS: [Peer; 3] = [Peer::Loopwork, Peer::Tokio, Peer::AsyncExecutor];

impl Peer {
    fn name(self) -> &'static str {
        match self {
            Peer::Loopwork => "loopwork",
            Peer::Tokio => "tokio",
            Peer::AsyncExecutor => "async-executor",
        }
    }
}

/// `--no-spin`: loopwork built with `idle_spin(ZERO)` and `result_spin(ZERO)`,
/// to show what its spinning buys and costs.
static NO_SPIN: AtomicBool = AtomicBool::new(false);

fn loopwork_rt(n: usize) -> loopwork::Runtime {
    let mut b = loopwork::Runtime::builder().loops(n).debug(false);
    if NO_SPIN.load(Relaxed) {
        b = b.idle_spin(Duration::ZERO).result_spin(Duration::ZERO);
    }
    b.build().expect("build loopwork")
}

fn tokio_rt(n: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(n)
        .enable_all()
        .build()
        .expect("build tokio")
}

/// The three runtimes, alive for the duration of one workload.
struct Peers {
    lw: loopwork::Runtime,
    tk: tokio::runtime::Runtime,
    ae: AeRuntime,
}

impl Peers {
    fn new(n: usize) -> Peers {
        Peers {
            lw: loopwork_rt(n),
            tk: tokio_rt(n),
            ae: AeRuntime::new(n),
        }
    }

    fn run<W: Workload>(&self, peer: Peer, w: &W) -> Sample {
        match peer {
            Peer::Loopwork => w.sample(&Lw(self.lw.handle())),
            Peer::Tokio => w.sample(&Tk(self.tk.handle().clone())),
            Peer::AsyncExecutor => w.sample(&Ae(self.ae.ex.clone())),
        }
    }

    fn shutdown(self) {
        self.lw.close();
        self.tk.shutdown_timeout(Duration::from_secs(10));
        self.ae.shutdown();
    }
}

// ===== idle =====

/// How long `idle_2s` watches an idle runtime.
const IDLE_WINDOW: Duration = Duration::from_secs(2);

/// `idle_2s`: the process's CPU time over `IDLE_WINDOW` while a runtime
/// that has run one task sits idle (100 ms after the task, so a spin after
/// it is over), per peer, and with no runtime at all (the bench's own
/// threads: the watchdog wakes once a second). Fractions of one core.
fn measure_idle(cfg: &Config) -> Vec<(&'static str, f64)> {
    let window = |what: &str| {
        eprintln!("idle_2s: {what} ...");
        std::thread::sleep(Duration::from_millis(100));
        let (t0, c0) = (Instant::now(), process_cpu());
        std::thread::sleep(IDLE_WINDOW);
        (process_cpu() - c0) / t0.elapsed().as_secs_f64()
    };
    let n = cfg.threads;
    let mut out = vec![("no runtime", window("no runtime"))];
    for peer in PEERS {
        if !cfg.runs(peer) {
            continue;
        }
        let peers_one = |p: Peer| -> f64 {
            match p {
                Peer::Loopwork => {
                    let rt = loopwork_rt(n);
                    let h = rt.handle();
                    rt.block_on(async move { h.spawn(async { 1 }).await.unwrap() });
                    let f = window(p.name());
                    rt.close();
                    f
                }
                Peer::Tokio => {
                    let rt = tokio_rt(n);
                    rt.block_on(async { tokio::spawn(async { 1 }).await.unwrap() });
                    let f = window(p.name());
                    rt.shutdown_timeout(Duration::from_secs(10));
                    f
                }
                Peer::AsyncExecutor => {
                    let rt = AeRuntime::new(n);
                    futures::executor::block_on(rt.ex.spawn(async { 1 }));
                    let f = window(p.name());
                    rt.shutdown();
                    f
                }
            }
        };
        out.push((
            peer.name(),
            watch(format!("idle_2s on {}", peer.name()), || peers_one(peer)),
        ));
    }
    out
}

fn print_idle_table(rows: &[(&'static str, f64)]) {
    println!(
        "idle_2s: the process's CPU time over {IDLE_WINDOW:?} while the runtime sits idle, \
         as % of one core (\"no runtime\": the bench's own threads)"
    );
    println!();
    println!("| runtime | CPU, % of a core |");
    println!("|---|---:|");
    for (name, frac) in rows {
        println!("| {name} | {:.3} % |", frac * 100.0);
    }
}

// ===== the watchdog =====

static CURRENT: Mutex<Option<(String, Instant)>> = Mutex::new(None);
const HANG_LIMIT: Duration = Duration::from_secs(60);

fn start_watchdog() {
    std::thread::Builder::new()
        .name("compare-watchdog".into())
        .spawn(|| loop {
            std::thread::sleep(Duration::from_secs(1));
            if let Some((what, since)) = &*CURRENT.lock().unwrap() {
                if since.elapsed() > HANG_LIMIT {
                    eprintln!(
                        "compare: {what} has run for more than {HANG_LIMIT:?}: assuming a hang, aborting"
                    );
                    std::process::exit(3);
                }
            }
        })
        .expect("spawn the watchdog");
}

fn watch<T>(what: String, f: impl FnOnce() -> T) -> T {
    *CURRENT.lock().unwrap() = Some((what, Instant::now()));
    let out = f();
    *CURRENT.lock().unwrap() = None;
    out
}

// ===== CPU time =====

/// What one sample measured: its value (seconds, or bytes for memory) and
/// the CPU seconds the whole process spent on it.
#[derive(Clone, Copy)]
struct Sample {
    value: f64,
    cpu: f64,
}

/// CPU seconds (user + system) the whole process has used so far: every
/// thread of every runtime, so a latency bought by spinning shows up.
fn process_cpu() -> f64 {
    // SAFETY: `rusage` is plain integers, for which all-zero is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable `rusage` that outlives the call.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    assert_eq!(rc, 0, "getrusage(RUSAGE_SELF) failed");
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    secs(ru.ru_utime) + secs(ru.ru_stime)
}

/// CPU seconds the calling thread has used so far (to subtract a
/// producer's busy-wait from the process's CPU time).
fn thread_cpu() -> f64 {
    // SAFETY: `timespec` is plain integers, for which all-zero is valid.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: `ts` is a valid, writable `timespec` that outlives the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

// ===== workloads =====

/// One measured run on one runtime. Returns seconds (or, for the memory
/// workload, bytes per task). Panics if the result is wrong.
trait Workload {
    fn run<R: Rt>(&self, rt: &R) -> f64;

    /// One sample: `run`'s value and the process CPU time (user + system)
    /// spent during it. Workloads that report per item override this and
    /// divide the CPU time the same way.
    fn sample<R: Rt>(&self, rt: &R) -> Sample {
        let cpu0 = process_cpu();
        let value = self.run(rt);
        Sample {
            value,
            cpu: process_cpu() - cpu0,
        }
    }

    /// Whether the workload has a meaning on `peer`.
    fn supports(&self, _peer: Peer) -> bool {
        true
    }
}

const NUM_SPAWN: usize = 10_000;

/// Workload 1: 10,000 empty tasks spawned from a task; completion by a countdown.
struct SpawnManyLocal;

impl Workload for SpawnManyLocal {
    fn run<R: Rt>(&self, rt: &R) -> f64 {
        let done = Countdown::new(NUM_SPAWN);
        let ran = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let (rt2, done2, ran2) = (rt.clone(), done.clone(), ran.clone());
        R::detach(rt.spawn(async move {
            for _ in 0..NUM_SPAWN {
                let (done, ran) = (done2.clone(), ran2.clone());
                R::detach(rt2.spawn(async move {
                    ran.fetch_add(1, Relaxed);
                    done.done_one();
                }));
            }
        }));
        rt.block_on(done.wait());
        let t = start.elapsed();
        assert_eq!(
            ran.load(Relaxed),
            NUM_SPAWN,
            "spawn_many_local: not every task ran"
        );
        t.as_secs_f64()
    }
}

/// Workloads 2 and 3: 10,000 spawns from a foreign thread, all joined; optionally while
/// `2 × workers` background tasks keep every worker busy (yield + 10 µs stall).
struct SpawnManyRemote {
    busy: usize,
}

impl Workload for SpawnManyRemote {
    fn run<R: Rt>(&self, rt: &R) -> f64 {
        let keep_going = Arc::new(AtomicBool::new(true));
        let running = Countdown::new(self.busy);
        let exited = Countdown::new(self.busy);
        for _ in 0..self.busy {
            let (keep_going, running, exited) =
                (keep_going.clone(), running.clone(), exited.clone());
            R::detach(rt.spawn(async move {
                running.done_one();
                while keep_going.load(Relaxed) {
                    R::yield_now().await;
                    stall();
                }
                exited.done_one();
            }));
        }
        rt.block_on(running.wait());

        let start = Instant::now();
        let handles: Vec<_> = (0..NUM_SPAWN).map(|i| rt.spawn(async move { i })).collect();
        let sum = rt.block_on(async move {
            let mut sum = 0;
            for h in handles {
                sum += h.await;
            }
            sum
        });
        let t = start.elapsed();

        keep_going.store(false, Relaxed);
        rt.block_on(exited.wait());
        assert_eq!(
            sum,
            NUM_SPAWN * (NUM_SPAWN - 1) / 2,
            "spawn_many_remote: wrong sum"
        );
        t.as_secs_f64()
    }
}

/// Workload 4: 1,000 pairs of tasks exchanging oneshot messages.
struct PingPong;

impl Workload for PingPong {
    fn run<R: Rt>(&self, rt: &R) -> f64 {
        const PAIRS: usize = 1_000;
        let done = Countdown::new(PAIRS);
        let pongs = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let (rt2, done2, pongs2) = (rt.clone(), done.clone(), pongs.clone());
        R::detach(rt.spawn(async move {
            for i in 0..PAIRS {
                let (rt3, done, pongs) = (rt2.clone(), done2.clone(), pongs2.clone());
                R::detach(rt2.spawn(async move {
                    let (tx1, rx1) = oneshot::channel::<usize>();
                    let (tx2, rx2) = oneshot::channel::<usize>();
                    R::detach(rt3.spawn(async move {
                        let v = rx1.await.expect("ping lost");
                        tx2.send(v + 1);
                    }));
                    tx1.send(i);
                    let v = rx2.await.expect("pong lost");
                    assert_eq!(v, i + 1, "ping_pong: wrong reply");
                    pongs.fetch_add(1, Relaxed);
                    done.done_one();
                }));
            }
        }));
        rt.block_on(done.wait());
        let t = start.elapsed();
        assert_eq!(pongs.load(Relaxed), PAIRS, "ping_pong: missing pongs");
        t.as_secs_f64()
    }
}

/// Workload 5: 200 tasks each yielding 1,000 times.
struct YieldMany;

impl Workload for YieldMany {
    fn run<R: Rt>(&self, rt: &R) -> f64 {
        const TASKS: usize = 200;
        const YIELDS: usize = 1_000;
        let done = Countdown::new(TASKS);
        let yields = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let (rt2, done2, yields2) = (rt.clone(), done.clone(), yields.clone());
        R::detach(rt.spawn(async move {
            for _ in 0..TASKS {
                let (done, yields) = (done2.clone(), yields2.clone());
                R::detach(rt2.spawn(async move {
                    let mut n = 0;
                    for _ in 0..YIELDS {
                        R::yield_now().await;
                        n += 1;
                    }
                    yields.fetch_add(n, Relaxed);
                    done.done_one();
                }));
            }
        }));
        rt.block_on(done.wait());
        let t = start.elapsed();
        assert_eq!(
            yields.load(Relaxed),
            TASKS * YIELDS,
            "yield_many: wrong yield count"
        );
        t.as_secs_f64()
    }
}

/// Workload 6: A chain of 1,000 tasks, each spawning the next.
struct ChainedSpawn;

fn chain<R: Rt>(rt: R, n: usize, hops: Arc<AtomicUsize>, done: Arc<Countdown>) {
    if n == 0 {
        done.done_one();
    } else {
        let rt2 = rt.clone();
        R::detach(rt.spawn(async move {
            hops.fetch_add(1, Relaxed);
            chain(rt2, n - 1, hops, done);
        }));
    }
}

impl Workload for ChainedSpawn {
    fn run<R: Rt>(&self, rt: &R) -> f64 {
        const ITER: usize = 1_000;
        let done = Countdown::new(1);
        let hops = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let (rt2, done2, hops2) = (rt.clone(), done.clone(), hops.clone());
        R::detach(rt.spawn(async move { chain(rt2, ITER, hops2, done2) }));
        rt.block_on(done.wait());
        let t = start.elapsed();
        assert_eq!(
            hops.load(Relaxed),
            ITER,
            "chained_spawn: wrong chain length"
        );
        t.as_secs_f64()
    }
}

/// Workload 7: 12,800 tasks spawned from `threads` foreign threads at once (12,800 /
/// threads each); each thread joins its own tasks.
struct RemoteSpawn {
    threads: usize,
}

impl Workload for RemoteSpawn {
    fn run<R: Rt>(&self, rt: &R) -> f64 {
        const TOTAL: usize = 12_800;
        let per = TOTAL / self.threads;
        let ran = AtomicUsize::new(0);
        let barrier = Barrier::new(self.threads + 1);
        let mut start = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..self.threads {
                s.spawn(|| {
                    barrier.wait();
                    let handles: Vec<_> = (0..per).map(|i| rt.spawn(async move { i })).collect();
                    let sum = rt.block_on(async move {
                        let mut sum = 0;
                        for h in handles {
                            sum += h.await;
                        }
                        sum
                    });
                    assert_eq!(sum, per * (per - 1) / 2, "remote_spawn: wrong sum");
                    ran.fetch_add(per, Relaxed);
                });
            }
            start = Instant::now();
            barrier.wait();
        });
        let t = start.elapsed();
        assert_eq!(ran.load(Relaxed), TOTAL, "remote_spawn: not every task ran");
        t.as_secs_f64()
    }
}

/// Workload 11a: 10,000 tasks each sleeping 1 ms once (spawned from a task, all joined).
struct TimersSleep;

impl Workload for TimersSleep {
    fn run<R: Rt>(&self, rt: &R) -> f64 {
        const DELAY: Duration = Duration::from_millis(1);
        let early = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let (rt2, early2) = (rt.clone(), early.clone());
        let driver = rt.spawn(async move {
            let handles: Vec<_> = (0..NUM_SPAWN)
                .map(|_| {
                    let early = early2.clone();
                    rt2.spawn(async move {
                        let t0 = Instant::now();
                        R::sleep(DELAY).await;
                        if t0.elapsed() < DELAY {
                            early.fetch_add(1, Relaxed);
                        }
                    })
                })
                .collect();
            let mut n = 0;
            for h in handles {
                h.await;
                n += 1;
            }
            n
        });
        let n = rt.block_on(driver);
        let t = start.elapsed();
        assert_eq!(n, NUM_SPAWN, "timers_sleep: not every sleeper finished");
        assert_eq!(
            early.load(Relaxed),
            0,
            "timers_sleep: a sleep completed early"
        );
        t.as_secs_f64()
    }
}

/// Workload 11b: 100,000 timers armed (a 1 h sleep polled once) then cancelled (dropped),
/// by `workers` tasks at once.
struct TimersCancel {
    tasks: usize,
}

impl Workload for TimersCancel {
    fn run<R: Rt>(&self, rt: &R) -> f64 {
        const TIMERS: usize = 100_000;
        let per = TIMERS / self.tasks;
        let armed = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let (rt2, armed2, tasks) = (rt.clone(), armed.clone(), self.tasks);
        let driver = rt.spawn(async move {
            let handles: Vec<_> = (0..tasks)
                .map(|_| {
                    let armed = armed2.clone();
                    rt2.spawn(async move {
                        for _ in 0..per {
                            let sleep = pin!(R::sleep(Duration::from_secs(3600)));
                            assert!(poll_once(sleep).await.is_pending(), "a 1 h sleep completed");
                            armed.fetch_add(1, Relaxed);
                        }
                    })
                })
                .collect();
            for h in handles {
                h.await;
            }
        });
        rt.block_on(driver);
        let t = start.elapsed();
        assert_eq!(
            armed.load(Relaxed),
            per * self.tasks,
            "timers_cancel: wrong count"
        );
        t.as_secs_f64()
    }
}

/// Workload 8: 4 foreign threads each submit 10,000 closures (loopwork:
/// `LoopHandle::call_soon_threadsafe`, thread `i` to loop `i % loops`; the
/// peers: the closure wrapped in a spawned task).
struct CallThreadsafe;

impl Workload for CallThreadsafe {
    fn run<R: Rt>(&self, rt: &R) -> f64 {
        const THREADS: usize = 4;
        const PER_THREAD: usize = 10_000;
        let done = Countdown::new(THREADS * PER_THREAD);
        let ran = Arc::new(AtomicUsize::new(0));
        let barrier = Barrier::new(THREADS + 1);
        let mut start = Instant::now();
        std::thread::scope(|s| {
            for lane in 0..THREADS {
                let (done, ran, barrier) = (&done, &ran, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    for _ in 0..PER_THREAD {
                        let (done, ran) = (done.clone(), ran.clone());
                        rt.call_threadsafe(lane, move || {
                            ran.fetch_add(1, Relaxed);
                            done.done_one();
                        });
                    }
                });
            }
            start = Instant::now();
            barrier.wait();
        });
        rt.block_on(done.wait());
        let t = start.elapsed();
        assert_eq!(
            ran.load(Relaxed),
            THREADS * PER_THREAD,
            "call_threadsafe: lost callbacks"
        );
        t.as_secs_f64()
    }
}

/// Workload 9: a foreign thread runs a future on the runtime and blocks for
/// its result, 1,000 times in a row (loopwork: `run_coroutine_threadsafe(..)
/// .result()` on loop 0; the peers: spawn + `futures::executor::block_on` of
/// the join handle). Returns the `quantile` of the round-trip latencies;
/// its CPU time is per round trip.
struct RoundTrip {
    quantile: f64,
}

/// Workload 9: round trips per sample.
const TRIPS: usize = 1_000;

impl Workload for RoundTrip {
    fn sample<R: Rt>(&self, rt: &R) -> Sample {
        let cpu0 = process_cpu();
        let value = self.run(rt);
        Sample {
            value,
            cpu: (process_cpu() - cpu0) / TRIPS as f64,
        }
    }

    fn run<R: Rt>(&self, rt: &R) -> f64 {
        let mut lat = Vec::with_capacity(TRIPS);
        for i in 0..TRIPS {
            let t0 = Instant::now();
            let v = rt.round_trip(async move { i + 1 });
            lat.push(t0.elapsed().as_secs_f64());
            assert_eq!(v, i + 1, "round_trip: wrong result");
        }
        lat.sort_by(f64::total_cmp);
        quantile(&lat, self.quantile)
    }
}

/// Workloads 8 and 9, sporadic: one foreign thread hands `items` items to
/// the runtime with `gap` between them, busy-waiting the gap so that it is
/// exact and no sleep granularity enters. `Call`: `call_threadsafe` (lane 0),
/// the value is the median latency from submission to the closure running;
/// `RoundTrip`: the value is the median round trip. CPU is per item: the
/// process's CPU time less the producer's busy-wait (its own thread CPU time
/// across the gaps), divided by `items`. The producer's submitting and
/// waiting stay in, since that is a cost of the handoff.
struct Sporadic {
    round_trip: bool,
    gap: Duration,
}

impl Sporadic {
    /// Enough items for a stable median, about 0.2 s of gaps per sample.
    fn items(&self) -> usize {
        ((0.2 / self.gap.as_secs_f64()) as usize).clamp(100, 1_000)
    }
}

/// Spins until `gap` has passed; returns the CPU time it took on this thread.
fn busy_wait(gap: Duration) -> f64 {
    let cpu0 = thread_cpu();
    let end = Instant::now() + gap;
    while Instant::now() < end {
        std::hint::spin_loop();
    }
    thread_cpu() - cpu0
}

impl Workload for Sporadic {
    fn run<R: Rt>(&self, rt: &R) -> f64 {
        self.sample(rt).value
    }

    fn sample<R: Rt>(&self, rt: &R) -> Sample {
        let items = self.items();
        let mut gaps_cpu = 0.0;
        let cpu0 = process_cpu();
        let mut lat: Vec<f64> = if self.round_trip {
            let mut lat = Vec::with_capacity(items);
            for i in 0..items {
                gaps_cpu += busy_wait(self.gap);
                let t0 = Instant::now();
                let v = rt.round_trip(async move { i + 1 });
                lat.push(t0.elapsed().as_secs_f64());
                assert_eq!(v, i + 1, "sporadic round_trip: wrong result");
            }
            lat
        } else {
            let done = Countdown::new(items);
            let nanos: Arc<Vec<std::sync::atomic::AtomicU64>> =
                Arc::new((0..items).map(|_| Default::default()).collect());
            for i in 0..items {
                gaps_cpu += busy_wait(self.gap);
                let (done, nanos) = (done.clone(), nanos.clone());
                let t0 = Instant::now();
                rt.call_threadsafe(0, move || {
                    // At least 1 ns, so that 0 still means "never ran".
                    nanos[i].store((t0.elapsed().as_nanos() as u64).max(1), Relaxed);
                    done.done_one();
                });
            }
            rt.block_on(done.wait());
            nanos
                .iter()
                .map(|n| match n.load(Relaxed) {
                    0 => panic!("sporadic call_threadsafe: a callback never ran"),
                    n => n as f64 * 1e-9,
                })
                .collect()
        };
        let cpu = process_cpu() - cpu0 - gaps_cpu;
        lat.sort_by(f64::total_cmp);
        Sample {
            value: quantile(&lat, 0.5),
            cpu: cpu / items as f64,
        }
    }
}

/// Workload 10: 8 tasks each run 1,250 no-op jobs on the blocking pool
/// (10,000 in all), all submitted first, then joined.
struct SpawnBlocking;

impl Workload for SpawnBlocking {
    fn run<R: Rt>(&self, rt: &R) -> f64 {
        const TASKS: usize = 8;
        const PER_TASK: usize = 1_250;
        let start = Instant::now();
        let rt2 = rt.clone();
        let total = rt.block_on(rt.spawn(async move {
            let tasks: Vec<_> = (0..TASKS)
                .map(|_| {
                    let rt3 = rt2.clone();
                    rt2.spawn(async move {
                        let jobs: Vec<_> = (0..PER_TASK)
                            .map(|i| rt3.spawn_blocking(move || i).expect("no blocking pool"))
                            .collect();
                        let mut sum = 0;
                        for j in jobs {
                            sum += j.await;
                        }
                        sum
                    })
                })
                .collect();
            let mut total = 0;
            for t in tasks {
                total += t.await;
            }
            total
        }));
        let t = start.elapsed();
        assert_eq!(
            total,
            TASKS * PER_TASK * (PER_TASK - 1) / 2,
            "spawn_blocking: wrong sum"
        );
        t.as_secs_f64()
    }

    fn supports(&self, peer: Peer) -> bool {
        peer != Peer::AsyncExecutor
    }
}

/// Workload 12: bytes per message of the TCP echo.
const ECHO_MSG: usize = 64;

/// The message of round trip `t` on connection `c`: different on every trip
/// and every connection, so a reply read from the wrong place cannot pass.
fn echo_fill(msg: &mut [u8; ECHO_MSG], c: usize, t: usize) {
    for (k, b) in msg.iter_mut().enumerate() {
        *b = (c.wrapping_mul(131) ^ t.wrapping_mul(31)).wrapping_add(k) as u8;
    }
}

fn echo_check(sent: &[u8; ECHO_MSG], back: &[u8; ECHO_MSG], c: usize, t: usize) {
    assert!(
        sent == back,
        "tcp_echo: connection {c}, round trip {t}: the echo differs from what was sent"
    );
}

/// Workload 12: TCP echo on loopback, 64 connections × 1,000 round trips of
/// 64 bytes; server (accept task + one echo task per connection) and clients
/// are all tasks of the runtime under test, spawned from a driver task. The
/// time covers bind, connect, all round trips and the close.
struct TcpEcho {
    conns: usize,
    trips: usize,
}

impl Workload for TcpEcho {
    fn run<R: Rt>(&self, rt: &R) -> f64 {
        let (conns, trips) = (self.conns, self.trips);
        let start = Instant::now();
        let rt2 = rt.clone();
        let (received, echoed) =
            rt.block_on(rt.spawn(async move { rt2.tcp_echo(conns, trips).await }));
        let t = start.elapsed();
        let total = conns * trips * ECHO_MSG;
        assert_eq!(
            received, total,
            "tcp_echo: clients got back the wrong byte count"
        );
        assert_eq!(
            echoed, total,
            "tcp_echo: the server echoed the wrong byte count"
        );
        t.as_secs_f64()
    }
}

// ----- 13. memory -----

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim_heap() {
    extern "C" {
        fn malloc_trim(pad: usize) -> std::ffi::c_int;
    }
    // SAFETY: glibc's malloc_trim takes no pointers and may be called at any time.
    unsafe {
        malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim_heap() {}

/// Resident set size from `/proc/self/statm` (second field, in pages).
fn rss_bytes() -> usize {
    extern "C" {
        fn sysconf(name: std::ffi::c_int) -> std::ffi::c_long;
    }
    const SC_PAGESIZE: std::ffi::c_int = 30; // Linux
                                             // SAFETY: sysconf takes no pointers.
    let page = unsafe { sysconf(SC_PAGESIZE) } as usize;
    let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|f| f.parse().ok())
        .expect("parse /proc/self/statm");
    pages * page
}

const MEM_TASKS: usize = 100_000;

/// Workload 13: Resident bytes per pending task: 100,000 tasks (spawned from a task)
/// wait on a never-ready future. The join handles' own `Vec` is subtracted.
/// Measured on a fresh runtime each time (see `measure_memory`).
struct Memory;

impl Workload for Memory {
    fn run<R: Rt>(&self, rt: &R) -> f64 {
        let started = Countdown::new(MEM_TASKS);
        let dropped = Arc::new(AtomicUsize::new(0));
        trim_heap();
        let before = rss_bytes();
        let (rt2, started2, dropped2) = (rt.clone(), started.clone(), dropped.clone());
        let handles: Vec<R::Join<()>> = rt.block_on(rt.spawn(async move {
            (0..MEM_TASKS)
                .map(|_| {
                    let (started, guard) = (started2.clone(), DropCount(dropped2.clone()));
                    rt2.spawn(async move {
                        let _guard = guard;
                        started.done_one();
                        std::future::pending::<()>().await
                    })
                })
                .collect()
        }));
        rt.block_on(started.wait());
        let after = rss_bytes();
        let handles_vec = handles.capacity() * std::mem::size_of::<R::Join<()>>();
        for h in handles {
            R::abort(h);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while dropped.load(Acquire) < MEM_TASKS {
            assert!(
                Instant::now() < deadline,
                "memory: cancelled tasks were not dropped"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        (after.saturating_sub(before).saturating_sub(handles_vec)) as f64 / MEM_TASKS as f64
    }
}

// ===== measurement =====

#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Seconds,
    BytesPerTask,
}

struct Series {
    label: &'static str,
    samples: Vec<f64>,
    /// Process CPU seconds of each sample (empty where not measured).
    cpu: Vec<f64>,
}

struct Row {
    name: String,
    unit: Unit,
    series: Vec<Series>,
}

struct Stats {
    median: f64,
    q1: f64,
    q3: f64,
    min: f64,
    max: f64,
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

fn stats(samples: &[f64]) -> Stats {
    if samples.is_empty() {
        let nan = f64::NAN;
        return Stats {
            median: nan,
            q1: nan,
            q3: nan,
            min: nan,
            max: nan,
        };
    }
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    Stats {
        median: quantile(&s, 0.5),
        q1: quantile(&s, 0.25),
        q3: quantile(&s, 0.75),
        min: s[0],
        max: s[s.len() - 1],
    }
}

/// One sample of `w` on `peer`, on a runtime built for it alone and shut
/// down (threads joined) before the next sample starts: no other runtime's
/// threads are awake to spin, search or steal CPU during the sample. The
/// workload runs once untimed first, so that the runtime is as warm (threads
/// started, caches and pools filled) as a long-lived one.
fn fresh_sample<W: Workload>(cfg: &Config, name: &str, peer: Peer, w: &W, last: bool) -> Sample {
    match peer {
        Peer::Loopwork => {
            let rt = loopwork_rt(cfg.threads);
            let h = Lw(rt.handle());
            w.sample(&h);
            let s = w.sample(&h);
            if cfg.metrics && last {
                print_metrics(name, &rt);
            }
            rt.close();
            s
        }
        Peer::Tokio => {
            let rt = tokio_rt(cfg.threads);
            let h = Tk(rt.handle().clone());
            w.sample(&h);
            let s = w.sample(&h);
            rt.shutdown_timeout(Duration::from_secs(10));
            s
        }
        Peer::AsyncExecutor => {
            let rt = AeRuntime::new(cfg.threads);
            let h = Ae(rt.ex.clone());
            w.sample(&h);
            let s = w.sample(&h);
            drop(h);
            rt.shutdown();
            s
        }
    }
}

/// Interleaves the three runtimes: repetition `r` starts with peer `r % 3`.
/// Each sample gets a fresh runtime (`fresh_sample`), unless
/// `--shared-runtimes`, where the three live for the whole workload.
fn measure<W: Workload>(cfg: &Config, name: &str, w: &W) -> Row {
    eprint!("{name} ...");
    let peers = cfg.shared.then(|| Peers::new(cfg.threads));
    let mut samples: [Vec<Sample>; 3] = Default::default();
    let total = cfg.warmup + cfg.reps;
    for rep in 0..total {
        for k in 0..3 {
            let p = (rep + k) % 3;
            let peer = PEERS[p];
            if !cfg.runs(peer) || !w.supports(peer) {
                continue;
            }
            let v = watch(
                format!("workload {name} on {}", peer.name()),
                || match &peers {
                    Some(peers) => peers.run(peer, w),
                    None => fresh_sample(cfg, name, peer, w, rep + 1 == total),
                },
            );
            if rep >= cfg.warmup {
                samples[p].push(v);
            }
        }
    }
    if let Some(peers) = peers {
        if cfg.metrics {
            print_metrics(name, &peers.lw);
        }
        peers.shutdown();
    }
    eprintln!(" done");
    Row {
        name: name.to_string(),
        unit: Unit::Seconds,
        series: PEERS
            .iter()
            .zip(samples)
            .map(|(p, samples)| Series {
                label: p.name(),
                samples: samples.iter().map(|s| s.value).collect(),
                cpu: samples.iter().map(|s| s.cpu).collect(),
            })
            .collect(),
    }
}

/// Memory: a fresh runtime for every sample, so memory freed by an earlier
/// sample (a registry sweep, an allocator cache) cannot flatter a later one.
fn measure_memory(cfg: &Config, name: &str) -> Row {
    eprint!("{name} ...");
    let reps = if cfg.quick { 3 } else { cfg.reps.clamp(10, 15) };
    let mut samples: [Vec<f64>; 3] = Default::default();
    for rep in 0..1 + reps {
        for k in 0..3 {
            let p = (rep + k) % 3;
            let peer = PEERS[p];
            if !cfg.runs(peer) {
                continue;
            }
            let v = watch(
                format!("workload {name} on {}", peer.name()),
                || match peer {
                    Peer::Loopwork => {
                        let rt = loopwork_rt(cfg.threads);
                        let h = Lw(rt.handle());
                        h.block_on(h.spawn(async {}));
                        let v = Memory.run(&h);
                        rt.close();
                        v
                    }
                    Peer::Tokio => {
                        let rt = tokio_rt(cfg.threads);
                        let h = Tk(rt.handle().clone());
                        h.block_on(h.spawn(async {}));
                        let v = Memory.run(&h);
                        rt.shutdown_timeout(Duration::from_secs(10));
                        v
                    }
                    Peer::AsyncExecutor => {
                        let rt = AeRuntime::new(cfg.threads);
                        let h = Ae(rt.ex.clone());
                        h.block_on(h.spawn(async {}));
                        let v = Memory.run(&h);
                        drop(h);
                        rt.shutdown();
                        v
                    }
                },
            );
            if rep >= 1 {
                samples[p].push(v);
            }
        }
    }
    eprintln!(" done");
    Row {
        name: name.to_string(),
        unit: Unit::BytesPerTask,
        series: PEERS
            .iter()
            .zip(samples)
            .map(|(p, samples)| Series {
                label: p.name(),
                samples,
                cpu: Vec::new(),
            })
            .collect(),
    }
}

/// Workload 14: loopwork alone, debug mode off vs on, interleaved on one runtime.
fn measure_debug<W: Workload>(cfg: &Config, name: &str, w: &W) -> Row {
    eprint!("{name} ...");
    let rt = loopwork_rt(cfg.threads);
    let h = Lw(rt.handle());
    let mut samples: [Vec<Sample>; 2] = Default::default();
    for rep in 0..cfg.warmup + cfg.reps {
        for k in 0..2 {
            let debug = cfg.debug_side.unwrap_or((rep + k) % 2 == 1);
            rt.set_debug(debug);
            let v = watch(format!("workload {name} (debug={debug})"), || w.sample(&h));
            if rep >= cfg.warmup {
                samples[usize::from(debug)].push(v);
            }
        }
    }
    rt.set_debug(false);
    rt.close();
    eprintln!(" done");
    let [off, on] = samples;
    Row {
        name: name.to_string(),
        unit: Unit::Seconds,
        series: vec![
            Series {
                label: "debug off",
                samples: off.iter().map(|s| s.value).collect(),
                cpu: off.iter().map(|s| s.cpu).collect(),
            },
            Series {
                label: "debug on",
                samples: on.iter().map(|s| s.value).collect(),
                cpu: on.iter().map(|s| s.cpu).collect(),
            },
        ],
    }
}

// ===== output =====

/// loopwork's counters for one workload, all repetitions together.
fn print_metrics(name: &str, rt: &loopwork::Runtime) {
    let m = rt.metrics();
    eprintln!();
    for (i, l) in m.loops.iter().enumerate() {
        eprintln!(
            "  [{name}] loop {i}: polls {} spawned {} stolen {} from_injector {} parks {} timers_fired {} inbox_items {} event_steals {}",
            l.polls, l.spawned, l.stolen, l.from_injector, l.parks, l.timers_fired, l.inbox_items, l.event_steals
        );
    }
}

fn fmt_value(unit: Unit, v: f64) -> String {
    match unit {
        Unit::BytesPerTask => format!("{v:.0} B"),
        Unit::Seconds if v >= 1.0 => format!("{v:.2} s"),
        Unit::Seconds if v >= 1e-3 => format!("{:.2} ms", v * 1e3),
        Unit::Seconds => format!("{:.1} µs", v * 1e6),
    }
}

/// `median (q1–q3)`, the unit written once when q1 and q3 share it.
fn fmt_cell(unit: Unit, s: &Stats) -> String {
    if s.median.is_nan() {
        return "—".into();
    }
    let (q1, q3) = (fmt_value(unit, s.q1), fmt_value(unit, s.q3));
    let q1 = match (q1.split_once(' '), q3.split_once(' ')) {
        (Some((n1, u1)), Some((_, u3))) if u1 == u3 => n1.to_string(),
        _ => q1,
    };
    format!("{} ({q1}–{q3})", fmt_value(unit, s.median))
}

fn ratio(a: &Stats, b: &Stats) -> String {
    if b.median > 0.0 && a.median.is_finite() {
        format!("{:.2}", a.median / b.median)
    } else {
        "—".into()
    }
}

/// The median CPU time of a series, `—` where none was measured.
fn fmt_cpu(cpu: &Stats) -> String {
    if cpu.median.is_nan() {
        "—".into()
    } else {
        fmt_value(Unit::Seconds, cpu.median)
    }
}

fn print_main_table(rows: &[Row]) {
    println!(
        "| workload | loopwork | CPU | tokio | CPU | async-executor | CPU \
         | loopwork/tokio | CPU | loopwork/async-executor | CPU |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        let st: Vec<Stats> = row.series.iter().map(|s| stats(&s.samples)).collect();
        let cpu: Vec<Stats> = row.series.iter().map(|s| stats(&s.cpu)).collect();
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.name,
            fmt_cell(row.unit, &st[0]),
            fmt_cpu(&cpu[0]),
            fmt_cell(row.unit, &st[1]),
            fmt_cpu(&cpu[1]),
            fmt_cell(row.unit, &st[2]),
            fmt_cpu(&cpu[2]),
            ratio(&st[0], &st[1]),
            ratio(&cpu[0], &cpu[1]),
            ratio(&st[0], &st[2]),
            ratio(&cpu[0], &cpu[2]),
        );
    }
}

fn print_debug_table(rows: &[Row]) {
    println!("| workload (loopwork only) | debug off | debug on | on/off |");
    println!("|---|---:|---:|---:|");
    for row in rows {
        let st: Vec<Stats> = row.series.iter().map(|s| stats(&s.samples)).collect();
        println!(
            "| {} | {} | {} | {} |",
            row.name,
            fmt_cell(row.unit, &st[0]),
            fmt_cell(row.unit, &st[1]),
            ratio(&st[1], &st[0]),
        );
    }
}

fn json_row(out: &mut String, row: &Row) {
    let unit = match row.unit {
        Unit::Seconds => "seconds",
        Unit::BytesPerTask => "bytes_per_task",
    };
    let _ = write!(
        out,
        "    {{\"workload\": \"{}\", \"unit\": \"{unit}\", \"results\": {{",
        row.name
    );
    for (i, s) in row
        .series
        .iter()
        .filter(|s| !s.samples.is_empty())
        .enumerate()
    {
        let st = stats(&s.samples);
        let list = |v: &[f64]| {
            v.iter()
                .map(|v| format!("{v:e}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let cpu = if s.cpu.is_empty() {
            String::new()
        } else {
            format!(
                ", \"cpu_median\": {:e}, \"cpu_samples\": [{}]",
                stats(&s.cpu).median,
                list(&s.cpu)
            )
        };
        let _ = write!(
            out,
            "{}\"{}\": {{\"median\": {:e}, \"q1\": {:e}, \"q3\": {:e}, \"min\": {:e}, \"max\": {:e}, \"samples\": [{}]{cpu}}}",
            if i == 0 { "" } else { ", " },
            s.label,
            st.median,
            st.q1,
            st.q3,
            st.min,
            st.max,
            list(&s.samples)
        );
    }
    out.push_str("}}");
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn write_json(cfg: &Config, main: &[Row], debug: &[Row], missing: &[(&str, &str)]) {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "target".into());
    let mut out = String::new();
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let _ = writeln!(out, "{{");
    let _ = writeln!(
        out,
        "  \"unix_time\": {unix},\n  \"runtimes\": \"{}\",\n  \"threads\": {},\n  \"reps\": {},\n  \"warmup\": {},\n  \"quick\": {},\n  \"nproc\": {},\n  \"cpu\": \"{}\",",
        if cfg.shared {
            "shared per workload"
        } else {
            "fresh per sample"
        },
        cfg.threads,
        cfg.reps,
        cfg.warmup,
        cfg.quick,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        cpu_model().replace('"', "'")
    );
    for (key, rows) in [("workloads", main), ("debug_overhead", debug)] {
        let _ = writeln!(out, "  \"{key}\": [");
        for (i, row) in rows.iter().enumerate() {
            json_row(&mut out, row);
            out.push_str(if i + 1 < rows.len() { ",\n" } else { "\n" });
        }
        out.push_str("  ],\n");
    }
    out.push_str("  \"not_measurable\": [");
    for (i, (name, why)) in missing.iter().enumerate() {
        let _ = write!(
            out,
            "{}{{\"workload\": \"{name}\", \"why\": \"{why}\"}}",
            if i == 0 { "" } else { ", " }
        );
    }
    out.push_str("]\n}\n");
    let _ = std::fs::create_dir_all(&dir);
    // One file per thread count under --scaling, so none overwrites another.
    let path = if cfg.scaling {
        dir.join(format!("compare-{}t.json", cfg.threads))
    } else {
        dir.join("compare.json")
    };
    match std::fs::write(&path, out) {
        Ok(()) => eprintln!("wrote {}", path.display()),
        Err(e) => eprintln!("could not write {}: {e}", path.display()),
    }
}

fn main() {
    let cfg = Config::from_args();
    start_watchdog();
    if !cfg.scaling {
        run_suite(&cfg);
        return;
    }
    let nproc = std::thread::available_parallelism().map_or(1, |n| n.get());
    for threads in 1..=nproc {
        println!();
        println!("## {threads} of {nproc} worker threads");
        run_suite(&Config {
            threads,
            ..cfg.clone()
        });
    }
}

/// Every selected workload at `cfg.threads` threads: the tables on stdout,
/// the samples in `compare.json`.
fn run_suite(cfg: &Config) {
    let cfg = cfg.clone();
    let n = cfg.threads;
    eprintln!(
        "compare: {n} worker threads per runtime, {} repetitions after {} warm-up{}, runtimes {}; cpu: {} ({} cpus)",
        cfg.reps,
        cfg.warmup,
        if cfg.quick { " (--quick)" } else { "" },
        if cfg.shared { "shared per workload" } else { "fresh per sample" },
        cpu_model(),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
    );

    let remote_names = ["remote_spawn_1t", "remote_spawn_2t", "remote_spawn_4t"];
    let mut main_rows = Vec::new();
    let mut run = |name: &str, f: &dyn Fn(&str) -> Row| {
        if cfg.selected(name) {
            main_rows.push(f(name));
        }
    };
    run("spawn_many_local", &|name| {
        measure(&cfg, name, &SpawnManyLocal)
    });
    run("spawn_many_remote_idle", &|name| {
        measure(&cfg, name, &SpawnManyRemote { busy: 0 })
    });
    run("spawn_many_remote_busy", &|name| {
        measure(&cfg, name, &SpawnManyRemote { busy: 2 * n })
    });
    run("ping_pong", &|name| measure(&cfg, name, &PingPong));
    run("yield_many", &|name| measure(&cfg, name, &YieldMany));
    run("chained_spawn", &|name| measure(&cfg, name, &ChainedSpawn));
    for (name, threads) in remote_names.iter().zip([1, 2, 4]) {
        run(name, &|name| measure(&cfg, name, &RemoteSpawn { threads }));
    }
    run("call_soon_threadsafe_4t", &|name| {
        measure(&cfg, name, &CallThreadsafe)
    });
    run("run_coroutine_threadsafe_p50", &|name| {
        measure(&cfg, name, &RoundTrip { quantile: 0.5 })
    });
    run("run_coroutine_threadsafe_p99", &|name| {
        measure(&cfg, name, &RoundTrip { quantile: 0.99 })
    });
    for (gap, label) in [(50, "50us"), (200, "200us"), (1_000, "1ms")] {
        let gap = Duration::from_micros(gap);
        for (round_trip, what) in [
            (false, "call_soon_threadsafe"),
            (true, "run_coroutine_threadsafe"),
        ] {
            run(&format!("sporadic_{what}_{label}"), &|name| {
                measure(&cfg, name, &Sporadic { round_trip, gap })
            });
        }
    }
    run("spawn_blocking", &|name| {
        measure(&cfg, name, &SpawnBlocking)
    });
    run("timers_sleep_1ms", &|name| {
        measure(&cfg, name, &TimersSleep)
    });
    run("timers_cancel_100k", &|name| {
        measure(&cfg, name, &TimersCancel { tasks: n })
    });
    run("tcp_echo", &|name| {
        measure(
            &cfg,
            name,
            &TcpEcho {
                conns: 64,
                trips: 1_000,
            },
        )
    });
    run("memory_per_task", &|name| measure_memory(&cfg, name));

    let idle = if cfg.selected("idle_2s") {
        Some(measure_idle(&cfg))
    } else {
        None
    };

    let mut debug_rows = Vec::new();
    if cfg.selected("debug_overhead_spawn_many_local") {
        debug_rows.push(measure_debug(
            &cfg,
            "debug_overhead_spawn_many_local",
            &SpawnManyLocal,
        ));
    }
    if cfg.selected("debug_overhead_yield_many") {
        debug_rows.push(measure_debug(&cfg, "debug_overhead_yield_many", &YieldMany));
    }

    let missing: &[(&str, &str)] = &[(
        "spawn_blocking (10) on async-executor",
        "async-executor has no blocking pool (smol's is the separate `blocking` crate)",
    )];

    if main_rows.is_empty() && debug_rows.is_empty() && idle.is_none() {
        eprintln!(
            "compare: no workload matches --only {:?}",
            cfg.only.as_deref().unwrap_or("")
        );
        std::process::exit(2);
    }
    println!();
    println!(
        "{n} worker threads per runtime; median (interquartile range) of {} repetitions, \
         interleaved, {}; work spawned from inside a runtime task (foreign threads for \
         *_remote_*). CPU: median process CPU time (user + system) of a sample, per round trip \
         for run_coroutine_threadsafe_*, per item for sporadic_*. \
         Ratios < 1 mean loopwork is faster (or smaller, or uses less CPU).",
        cfg.reps,
        if cfg.shared {
            "the three runtimes alive for the whole workload"
        } else {
            "a fresh runtime per sample, no other runtime alive"
        }
    );
    println!();
    if !main_rows.is_empty() {
        print_main_table(&main_rows);
        println!();
    }
    if !debug_rows.is_empty() {
        print_debug_table(&debug_rows);
        println!();
    }
    if let Some(idle) = &idle {
        print_idle_table(idle);
        println!();
    }
    println!("Not yet measurable:");
    for (name, why) in missing {
        println!("- {name}: {why}");
    }
    write_json(&cfg, &main_rows, &debug_rows, missing);
}
