//! Public APIs that had no test asserting what they do: runtime
//! construction and debug switch, handles, named tasks spawned on a handle,
//! `Sleep`'s accessors, socket addresses, connected UDP, writability that
//! really waits, `Async`'s raw operations, `call_at` and the loop counters.

mod common;

use loopwork::net::Async;
use loopwork::net::{TcpListener, TcpStream, UdpSocket};
use std::future::Future;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Runs `fut`, calling `waiting` the first time it returns `Pending` (for an
/// I/O readiness future: its waker is listed and it waits for an event).
async fn report_waiting<F: Future>(fut: F, waiting: impl FnOnce()) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut waiting = Some(waiting);
    std::future::poll_fn(|cx| {
        let out = fut.as_mut().poll(cx);
        if out.is_pending() {
            if let Some(report) = waiting.take() {
                report();
            }
        }
        out
    })
    .await
}

#[test]
fn runtime_new_starts_one_loop_per_cpu_and_runs_tasks() {
    let rt = loopwork::Runtime::new().unwrap();
    assert_eq!(rt.loops(), num_cpus::get().max(1));
    assert_eq!(rt.handle().loops(), rt.loops());
    let v = rt.block_on(async { loopwork::spawn(async { 6 * 7 }).await.unwrap() });
    assert_eq!(v, 42);
    rt.close();
}

/// `set_debug` reaches loops that are already running: a blocking wait on a
/// loop thread panics in debug mode, and only warns once it is off again.
#[test]
fn set_debug_is_picked_up_by_a_running_loop() {
    let rt = loopwork::Runtime::builder()
        .loops(1)
        .debug(false)
        .build()
        .unwrap();
    let handle = rt.handle();
    let blocking_wait_panics = |handle: &loopwork::runtime::Handle| {
        let inner = handle.clone();
        let task = handle.spawn(async move {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.block_on(async {})))
                .is_err()
        });
        futures::executor::block_on(task).unwrap()
    };
    assert!(!rt.debug());
    assert!(!blocking_wait_panics(&handle), "debug mode is off");
    rt.set_debug(true);
    assert!(rt.debug());
    assert!(
        blocking_wait_panics(&handle),
        "the running loop did not pick up debug mode"
    );
    rt.set_debug(false);
    assert!(!blocking_wait_panics(&handle), "debug mode is off again");
    rt.close();
}

#[test]
fn handle_loops_and_loop_handle_address_each_loop() {
    let rt = common::runtime(3);
    let handle = rt.handle();
    assert_eq!(handle.loops(), 3);
    for i in 0..3 {
        let lp = handle.loop_handle(i);
        let ran_on =
            futures::executor::block_on(lp.run_coroutine_threadsafe(async {
                std::thread::current().name().unwrap().to_owned()
            }))
            .unwrap();
        assert_eq!(ran_on, format!("loopwork-loop-{i}"));
    }
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handle.loop_handle(3)))
        .unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("loop_handle(3): this runtime has 3 loops"),
        "{msg}"
    );
    rt.close();
}

#[test]
fn task_builder_spawn_on_runs_a_named_task_on_the_handles_runtime() {
    let rt = common::runtime(2);
    let handle = rt.handle();
    // From a thread that is in no runtime: only the handle says where.
    let task = std::thread::spawn(move || {
        loopwork::task::Builder::new()
            .name("spawned-on")
            .spawn_on(&handle, async {
                std::thread::current().name().unwrap().to_owned()
            })
    })
    .join()
    .unwrap();
    assert_eq!(task.name(), Some("spawned-on"));
    let thread = futures::executor::block_on(task).unwrap();
    assert!(thread.starts_with("loopwork-loop-"), "{thread}");
    rt.close();
}

#[test]
fn sleep_reports_its_deadline_and_whether_it_elapsed() {
    let rt = common::runtime(1);
    rt.block_on(async {
        let when = Instant::now() + Duration::from_secs(3600);
        let far = loopwork::sleep_until(when);
        assert_eq!(far.deadline(), when);
        assert!(!far.is_elapsed(), "an hour has not passed");

        let before = Instant::now();
        let short = loopwork::sleep(Duration::from_millis(5));
        assert!(short.deadline() >= before + Duration::from_millis(5));
        assert!(short.deadline() <= Instant::now() + Duration::from_millis(5));
        let deadline = short.deadline();
        short.await;
        assert!(Instant::now() >= deadline, "the sleep completed early");

        let now = loopwork::sleep(Duration::ZERO);
        assert!(now.is_elapsed());
    });
    rt.close();
}

#[test]
fn tcp_streams_report_their_local_and_peer_addresses() {
    let rt = common::runtime(1);
    rt.block_on(async {
        loopwork::spawn(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let accept = loopwork::spawn(async move { listener.accept().await.unwrap() });
            let client = TcpStream::connect(addr).await.unwrap();
            let (server, client_addr) = accept.await.unwrap();
            assert_eq!(client.peer_addr().unwrap(), addr);
            assert_eq!(client.local_addr().unwrap(), client_addr);
            assert_eq!(server.local_addr().unwrap(), addr);
            assert_eq!(server.peer_addr().unwrap(), client_addr);
        })
        .await
        .unwrap();
    });
    rt.close();
}

#[test]
fn connected_udp_sockets_send_and_recv_to_their_peer_only() {
    let rt = common::runtime(1);
    rt.block_on(async {
        loopwork::spawn(async {
            let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
            a.connect(b_addr).unwrap();
            b.connect(a_addr).unwrap();
            // A stranger's datagram is filtered out by b's connection.
            let stranger = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            stranger.send_to(b"stranger", b_addr).unwrap();
            assert_eq!(a.send(b"ping").await.unwrap(), 4);
            let mut buf = [0u8; 16];
            let n = b.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"ping");
            assert_eq!(b.send(b"pong").await.unwrap(), 4);
            let n = a.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"pong");
        })
        .await
        .unwrap();
    });
    rt.close();
}

/// Writes to a non-blocking socket until its send buffer is full; returns
/// how many bytes it wrote.
fn fill(sock: &StdUnixStream) -> usize {
    let chunk = [7u8; 4096];
    let mut sent = 0;
    loop {
        match (&*sock).write(&chunk) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return sent,
            Err(e) => panic!("{e}"),
        }
    }
}

/// Fills a socket's send buffer, so that a write (`write_with`) and then
/// `writable` really wait, and lets the peer drain it only once the writer
/// waits: the readiness event must wake it each time.
#[test]
fn writes_wait_while_the_send_buffer_is_full_and_wake_when_drained() {
    common::within(30, "writable", || {
        let rt = common::runtime(1);
        let (ours, mut peer) = StdUnixStream::pair().unwrap();
        // Each message: the writer waits; drain this many bytes.
        let (drain_tx, drain_rx) = mpsc::channel::<usize>();
        let drainer = std::thread::spawn(move || {
            for n in drain_rx {
                let mut buf = vec![0u8; n];
                peer.read_exact(&mut buf).unwrap();
            }
        });
        let writer = rt.handle().spawn(async move {
            let sock = Async::new(ours).unwrap();
            // `Async::new` made the fd non-blocking.
            let full = fill(sock.get_ref());
            let tx = drain_tx.clone();
            let waited = std::sync::atomic::AtomicBool::new(false);
            let n = report_waiting(sock.write_with(|s| (&*s).write(b"after")), || {
                waited.store(true, std::sync::atomic::Ordering::SeqCst);
                tx.send(full).unwrap()
            })
            .await
            .unwrap();
            assert_eq!(n, 5);
            assert!(
                waited.load(std::sync::atomic::Ordering::SeqCst),
                "the write did not wait for the buffer to drain"
            );

            let full = fill(sock.get_ref()) + 5;
            // A write that meets WouldBlock clears the cached readiness (the
            // cache would otherwise answer `writable` at once): poll one
            // and drop it.
            let probe = std::future::poll_fn(|cx| {
                let mut write = std::pin::pin!(sock.write_with(|s| (&*s).write(b"x")));
                std::task::Poll::Ready(write.as_mut().poll(cx).is_pending())
            })
            .await;
            assert!(probe, "the send buffer is full");
            let tx = drain_tx.clone();
            let waited = std::sync::atomic::AtomicBool::new(false);
            report_waiting(sock.writable(), || {
                waited.store(true, std::sync::atomic::Ordering::SeqCst);
                tx.send(full).unwrap()
            })
            .await
            .unwrap();
            assert!(
                waited.load(std::sync::atomic::Ordering::SeqCst),
                "writable did not wait for the buffer to drain"
            );
            let ready =
                std::future::poll_fn(|cx| std::task::Poll::Ready(sock.poll_writable(cx))).await;
            assert!(ready.is_ready(), "poll_writable after writable: {ready:?}");
        });
        rt.block_on(writer).unwrap();
        rt.close();
        drainer.join().unwrap();
    });
}

#[test]
fn async_read_with_and_write_with_run_the_raw_operations_and_into_inner_gives_the_io_back() {
    let rt = common::runtime(1);
    rt.block_on(async {
        loopwork::spawn(async {
            let (a, b) = StdUnixStream::pair().unwrap();
            let (a, b) = (Async::new(a).unwrap(), Async::new(b).unwrap());
            let n = a.write_with(|s| (&*s).write(b"raw bytes")).await.unwrap();
            assert_eq!(n, 9);
            let mut buf = [0u8; 16];
            let n = b.read_with(|s| (&*s).read(&mut buf)).await.unwrap();
            assert_eq!(&buf[..n], b"raw bytes");
            // Back to a plain std stream, still connected (and non-blocking).
            let mut a = a.into_inner();
            a.write_all(b"!").unwrap();
            let n = b.read_with(|s| (&*s).read(&mut buf)).await.unwrap();
            assert_eq!(&buf[..n], b"!");
        })
        .await
        .unwrap();
    });
    rt.close();
}

#[test]
fn call_at_fires_its_callback_on_the_loop_not_before_its_time() {
    let rt = common::runtime(2);
    let (tx, rx) = mpsc::channel();
    let when = rt.block_on(async move {
        loopwork::spawn(async move {
            let lp = loopwork::current_loop();
            let when = lp.time() + Duration::from_millis(5);
            lp.call_at(when, move || {
                tx.send((
                    Instant::now(),
                    std::thread::current().name().map(str::to_owned),
                ))
                .unwrap()
            });
            (when, std::thread::current().name().unwrap().to_owned())
        })
        .await
        .unwrap()
    });
    let (fired_at, thread) = rx.recv().unwrap();
    assert!(fired_at >= when.0, "fired before its time");
    assert_eq!(
        thread.as_deref(),
        Some(when.1.as_str()),
        "fired on its loop"
    );
    rt.close();
}

/// Each `LoopStats` counter moves with the event it counts.
#[test]
fn loop_stats_count_what_each_loop_did() {
    let rt = common::runtime(2);
    let lp0 = rt.loop_handle(0);
    // Spawned from loop 0: counted as spawned and polled there (or stolen).
    let (child_ran_tx, child_ran_rx) = mpsc::channel();
    let stolen_by = lp0.run_coroutine_threadsafe(async move {
        for _ in 0..3 {
            loopwork::spawn_local(async {}).await.unwrap();
        }
        // A stealable child while loop 0 blocks: only loop 1 can run it,
        // and only by stealing it from loop 0's deque.
        let child = loopwork::spawn(async move {
            child_ran_tx
                .send(std::thread::current().name().unwrap().to_owned())
                .unwrap();
        });
        let thread = child_ran_rx.recv().unwrap();
        drop(child);
        loopwork::sleep(Duration::from_millis(1)).await;
        thread
    });
    let stolen_by = futures::executor::block_on(stolen_by).unwrap();
    assert_eq!(stolen_by, "loopwork-loop-1");
    // From a foreign thread: through the injector.
    futures::executor::block_on(rt.handle().spawn(async {})).unwrap();
    lp0.call_soon_threadsafe(|| {}).unwrap();
    futures::executor::block_on(lp0.run_coroutine_threadsafe(async {})).unwrap();
    let m = rt.metrics();
    let (l0, l1) = (&m.loops[0], &m.loops[1]);
    assert!(l0.spawned >= 4, "spawn_local x3 + spawn on loop 0: {l0:?}");
    assert!(l0.polls >= 4, "{l0:?}");
    assert!(l1.stolen >= 1, "loop 1 stole the child: {l1:?}");
    assert!(l0.timers_fired >= 1, "the 1 ms sleep: {l0:?}");
    assert!(
        l0.inbox_items >= 2,
        "coroutines and a callback sent to loop 0: {l0:?}"
    );
    assert!(
        l0.from_injector + l1.from_injector >= 1,
        "a task spawned from a foreign thread: {m:?}"
    );
    assert!(l0.parks + l1.parks >= 1, "{m:?}");
    rt.close();
}
