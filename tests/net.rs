//! Networking on the reactor: TCP, UDP and Unix sockets.

mod common;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use loopwork::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

async fn read_exact(s: &TcpStream, buf: &mut [u8]) {
    let mut got = 0;
    while got < buf.len() {
        let n = s.read(&mut buf[got..]).await.unwrap();
        assert!(n > 0, "unexpected end of stream after {got} bytes");
        got += n;
    }
}

/// Runs `fut`, calling `waiting` the first time it returns `Pending`: for a
/// socket operation that is the moment its waker is listed on the source,
/// so the caller knows the next event must wake it.
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

/// Yields until `count` reaches `n` (tasks on this loop raise it).
async fn until_count(count: &AtomicUsize, n: usize) {
    while count.load(SeqCst) < n {
        loopwork::yield_now().await;
    }
}

#[test]
fn tcp_echo_with_many_connections_across_loops_round_trips_every_byte() {
    common::within(60, "tcp-echo", || {
        let rt = common::runtime(2);
        rt.block_on(async {
            loopwork::spawn(async {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                const CONNS: usize = 32;
                const ROUNDS: usize = 100;
                let server = loopwork::spawn(async move {
                    let mut handlers = Vec::new();
                    for _ in 0..CONNS {
                        let (s, _) = listener.accept().await.unwrap();
                        handlers.push(loopwork::spawn(async move {
                            let mut buf = [0u8; 64];
                            loop {
                                let n = s.read(&mut buf).await.unwrap();
                                if n == 0 {
                                    break;
                                }
                                s.write_all(&buf[..n]).await.unwrap();
                            }
                        }));
                    }
                    for h in handlers {
                        h.await.unwrap();
                    }
                });
                let clients: Vec<_> = (0..CONNS)
                    .map(|c| {
                        loopwork::spawn(async move {
                            let s = TcpStream::connect(addr).await.unwrap();
                            s.set_nodelay(true).unwrap();
                            for r in 0..ROUNDS {
                                let msg = [(c * 7 + r) as u8; 64];
                                s.write_all(&msg).await.unwrap();
                                let mut back = [0u8; 64];
                                read_exact(&s, &mut back).await;
                                assert_eq!(back, msg, "connection {c} round {r} got other bytes");
                            }
                            s.shutdown(std::net::Shutdown::Write).unwrap();
                            ROUNDS
                        })
                    })
                    .collect();
                let mut total = 0;
                for c in clients {
                    total += c.await.unwrap();
                }
                server.await.unwrap();
                assert_eq!(total, CONNS * ROUNDS);
            })
            .await
            .unwrap();
        });
        rt.close();
    });
}

/// A listener task that accepts one connection and returns everything read
/// from it until end of stream, and a client connected to it.
async fn server_reading_to_end() -> (loopwork::Task<Vec<u8>>, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = loopwork::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).await.unwrap();
        all
    });
    (server, TcpStream::connect(addr).await.unwrap())
}

#[test]
fn tcp_streams_implement_futures_io_traits() {
    let rt = common::runtime(1);
    rt.block_on(async {
        let (server, mut c) = server_reading_to_end().await;
        c.write_all(b"through the traits").await.unwrap();
        c.close().await.unwrap();
        assert_eq!(server.await.unwrap(), b"through the traits");
    });
    rt.close();
}

#[test]
fn vectored_writes_send_every_slice_in_order() {
    let rt = common::runtime(1);
    rt.block_on(async {
        let (server, mut c) = server_reading_to_end().await;
        let parts: [&[u8]; 3] = [b"head ", b"", b"and body"];
        let slices: Vec<std::io::IoSlice<'_>> =
            parts.iter().map(|p| std::io::IoSlice::new(p)).collect();
        // The inherent method, then the futures-io trait method (whose
        // default would write only the first non-empty slice: 5 bytes).
        let n = c.write_vectored(&slices).await.unwrap();
        assert_eq!(
            n, 13,
            "a 13-byte gathered write to an empty socket buffer is whole"
        );
        let n = futures::io::AsyncWriteExt::write_vectored(&mut c, &slices)
            .await
            .unwrap();
        assert_eq!(n, 13, "poll_write_vectored must gather every slice");
        c.close().await.unwrap();
        assert_eq!(server.await.unwrap(), b"head and bodyhead and body");
    });
    rt.close();
}

#[test]
fn a_reader_waiting_on_a_socket_is_woken_by_data_from_a_foreign_thread() {
    common::within(60, "tcp-wake", || {
        let rt = common::runtime(2);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (waiting_tx, waiting_rx) = std::sync::mpsc::channel();
        let reader = rt.handle().spawn(async move {
            let s = TcpStream::connect(addr).await.unwrap();
            let mut buf = [0u8; 4];
            let n = report_waiting(s.read(&mut buf), move || waiting_tx.send(()).unwrap())
                .await
                .unwrap();
            buf[..n].to_vec()
        });
        let (mut peer, _) = listener.accept().unwrap();
        // The reader is waiting on the socket: only the wake path can end it.
        waiting_rx.recv().unwrap();
        std::io::Write::write_all(&mut peer, b"ping").unwrap();
        assert_eq!(rt.block_on(reader).unwrap(), b"ping");
        rt.close();
    });
}

#[test]
fn udp_send_to_and_recv_from_round_trip() {
    let rt = common::runtime(2);
    rt.block_on(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b_addr = b.local_addr().unwrap();
        let echo = loopwork::spawn(async move {
            let mut buf = [0u8; 16];
            let (n, from) = b.recv_from(&mut buf).await.unwrap();
            b.send_to(&buf[..n], from).await.unwrap();
        });
        a.send_to(b"datagram", b_addr).await.unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = a.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"datagram");
        assert_eq!(from, b_addr);
        echo.await.unwrap();
    });
    rt.close();
}

#[test]
fn unix_streams_connect_and_pair() {
    let rt = common::runtime(1);
    let dir = std::env::temp_dir().join(format!("loopwork-test-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("sock");
    let _ = std::fs::remove_file(&path);
    rt.block_on(async {
        let listener = UnixListener::bind(&path).unwrap();
        let server = loopwork::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 3];
            let n = s.read(&mut buf).await.unwrap();
            s.write_all(&buf[..n]).await.unwrap();
        });
        let c = UnixStream::connect(&path).await.unwrap();
        c.write_all(b"abc").await.unwrap();
        let mut buf = [0u8; 3];
        let mut got = 0;
        while got < 3 {
            got += c.read(&mut buf[got..]).await.unwrap();
        }
        assert_eq!(&buf, b"abc");
        server.await.unwrap();

        let (x, y) = UnixStream::pair().unwrap();
        x.write_all(b"z").await.unwrap();
        let mut one = [0u8; 1];
        assert_eq!(y.read(&mut one).await.unwrap(), 1);
        assert_eq!(&one, b"z");
    });
    let _ = std::fs::remove_file(&path);
    rt.close();
}

#[test]
fn dropping_a_stream_closes_it_and_the_peer_reads_end_of_stream() {
    let rt = common::runtime(1);
    rt.block_on(async {
        let (x, y) = UnixStream::pair().unwrap();
        drop(x);
        let mut buf = [0u8; 1];
        assert_eq!(y.read(&mut buf).await.unwrap(), 0);
    });
    rt.close();
}

#[test]
fn async_new_outside_a_runtime_panics_with_the_fix() {
    let err = std::panic::catch_unwind(|| {
        let _ = loopwork::net::Async::new(std::net::UdpSocket::bind("127.0.0.1:0").unwrap());
    })
    .unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(msg.contains("outside a loopwork runtime"), "{msg}");
}

/// Three tasks wait on one UDP socket at once (each has returned `Pending`
/// from `recv_from`), then three datagrams arrive together, under one
/// edge-triggered event: that event must wake all three. (Sent one at a
/// time, each datagram brought its own event, and a reactor that woke one
/// waiter per event passed.)
#[test]
fn several_tasks_waiting_on_one_socket_are_all_woken() {
    common::within(20, "multi-waiter", || {
        // One loop: the datagrams are sent while it runs the sending task,
        // so its next poller wait collects them as one event.
        let rt = common::runtime(1);
        rt.block_on(async {
            loopwork::spawn(async {
                let sock = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
                let addr = sock.local_addr().unwrap();
                let waiting = Arc::new(AtomicUsize::new(0));
                let receivers: Vec<_> = (0..3)
                    .map(|_| {
                        let (sock, waiting) = (sock.clone(), waiting.clone());
                        loopwork::spawn_local(async move {
                            let mut buf = [0u8; 16];
                            let (n, _) = report_waiting(sock.recv_from(&mut buf), || {
                                waiting.fetch_add(1, SeqCst);
                            })
                            .await
                            .unwrap();
                            buf[..n].to_vec()
                        })
                    })
                    .collect();
                until_count(&waiting, 3).await;
                let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                for msg in [&b"one"[..], b"two", b"three"] {
                    tx.send_to(msg, addr).unwrap();
                }
                let mut seen = Vec::new();
                for r in receivers {
                    seen.push(r.await.unwrap());
                }
                seen.sort();
                assert_eq!(seen, [b"one".to_vec(), b"three".to_vec(), b"two".to_vec()]);
            })
            .await
            .unwrap();
        });
        rt.close();
    });
}

/// Two accepts wait on one listener at once, then two connections arrive
/// together (one event): each accept gets one. (With the accepts spawned
/// from `block_on` and the connections made from its thread, nothing made
/// both wait at once, and a reactor waking one waiter per event passed.)
#[test]
fn two_accepts_on_one_listener_each_get_a_connection() {
    common::within(20, "multi-accept", || {
        let rt = common::runtime(1);
        rt.block_on(async {
            loopwork::spawn(async {
                let listener = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
                let addr = listener.local_addr().unwrap();
                let waiting = Arc::new(AtomicUsize::new(0));
                let acceptors: Vec<_> = (0..2)
                    .map(|_| {
                        let (l, waiting) = (listener.clone(), waiting.clone());
                        loopwork::spawn_local(async move {
                            report_waiting(l.accept(), || {
                                waiting.fetch_add(1, SeqCst);
                            })
                            .await
                            .unwrap()
                            .1
                        })
                    })
                    .collect();
                until_count(&waiting, 2).await;
                // Both complete in the kernel's backlog, before the loop's
                // next poller wait.
                let c1 = std::net::TcpStream::connect(addr).unwrap();
                let c2 = std::net::TcpStream::connect(addr).unwrap();
                let mut peers = Vec::new();
                for a in acceptors {
                    peers.push(a.await.unwrap());
                }
                peers.sort();
                let mut expected = vec![c1.local_addr().unwrap(), c2.local_addr().unwrap()];
                expected.sort();
                assert_eq!(peers, expected);
            })
            .await
            .unwrap();
        });
        rt.close();
    });
}

/// Accepts `n` connections on a 2-loop runtime and hands each to a handler
/// spawned with `spawn` (`Send`) or `spawn_local` (pinned); each handler
/// waits once on its stream (registering it) and reports which loop it is
/// registered with, from the stream's `Debug` (`loop: Some(i)`).
fn loops_of_accepted_streams(pinned: bool, n: usize) -> Vec<String> {
    use futures::io::AsyncRead;
    use std::pin::Pin;
    use std::task::Poll;
    let rt = common::runtime(2);
    let loops = rt.block_on(async move {
        loopwork::spawn(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let clients: Vec<_> = (0..n)
                .map(|_| std::net::TcpStream::connect(addr).unwrap())
                .collect();
            let mut handlers = Vec::new();
            for _ in 0..n {
                let (mut s, _) = listener.accept().await.unwrap();
                let handler = async move {
                    // Nothing was sent: the read waits, which registers.
                    let mut buf = [0u8; 1];
                    let waited = futures::future::poll_fn(|cx| {
                        Poll::Ready(Pin::new(&mut s).poll_read(cx, &mut buf).is_pending())
                    })
                    .await;
                    assert!(waited, "the read should have had to wait");
                    let dbg = format!("{s:?}");
                    let at = dbg.find("loop: ").expect("Debug names the loop");
                    dbg[at..].split([',', ' ', '}']).nth(1).unwrap().to_string()
                };
                handlers.push(if pinned {
                    loopwork::spawn_local(handler)
                } else {
                    loopwork::spawn(handler)
                });
            }
            let mut loops = Vec::new();
            for h in handlers {
                loops.push(h.await.unwrap());
            }
            drop(clients);
            loops
        })
        .await
        .unwrap()
    });
    rt.close();
    loops
}

#[test]
fn accepted_streams_are_spread_over_the_loops() {
    let loops = loops_of_accepted_streams(false, 4);
    assert_eq!(
        loops,
        ["Some(0)", "Some(1)", "Some(0)", "Some(1)"],
        "accepted streams take the loops in turn"
    );
}

#[test]
fn a_pinned_handler_keeps_its_accepted_stream_on_its_own_loop() {
    let loops = loops_of_accepted_streams(true, 4);
    assert_eq!(loops.len(), 4);
    assert!(
        loops.iter().all(|l| l == &loops[0]),
        "every spawn_local handler runs on the accepting loop and must \
         register there: {loops:?}"
    );
}

#[test]
fn two_threads_waiting_first_at_once_both_register_without_error() {
    use std::sync::{Arc, Barrier};
    use std::task::{Context, Poll};
    let rt = common::runtime(2);
    // Inside block_on (off the loops): `Async::new` works, and both first
    // waits register with the same (home) loop.
    rt.block_on(async {
        for round in 0..300 {
            let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let a = Arc::new(loopwork::net::Async::new(sock).unwrap());
            let barrier = Arc::new(Barrier::new(2));
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    let (a, barrier) = (a.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        let waker = futures::task::noop_waker();
                        let mut cx = Context::from_waker(&waker);
                        barrier.wait();
                        match a.poll_readable(&mut cx) {
                            Poll::Ready(Err(e)) => Err(e.to_string()),
                            _ => Ok(()),
                        }
                    })
                })
                .collect();
            for t in threads {
                let res = t.join().unwrap();
                assert!(res.is_ok(), "round {round}: a first wait failed: {res:?}");
            }
        }
    });
    rt.close();
}

/// Waits (bounded, on the socket's own state) until `events` show on `fd`.
fn wait_for_poll_events(stream: &std::net::TcpStream, events: libc::c_short) {
    use std::os::fd::AsRawFd;
    let mut pfd = libc::pollfd {
        fd: stream.as_raw_fd(),
        events,
        revents: 0,
    };
    // SAFETY: one valid `pollfd`; the fd is open for the call.
    let n = unsafe { libc::poll(&mut pfd, 1, 10_000) };
    assert_eq!(n, 1, "the peer's data and close did not arrive");
}

/// One connection whose server side has a registered read waiting (so the
/// loop will report what arrives next under one event), and the raw client.
async fn registered_pair(listener: &std::net::TcpListener) -> (TcpStream, std::net::TcpStream) {
    let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    let server = TcpStream::from_std(server).unwrap();
    {
        let mut buf = [0u8; 64];
        let mut first = std::pin::pin!(server.read(&mut buf));
        let polled =
            std::future::poll_fn(|cx| std::task::Poll::Ready(first.as_mut().poll(cx))).await;
        assert!(polled.is_pending(), "nothing sent yet");
    }
    (server, client)
}

/// Reads until end of stream or an error; the bytes, and the error if any.
async fn read_until_closed(s: &TcpStream) -> (Vec<u8>, Option<std::io::Error>) {
    let mut all = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        match s.read(&mut buf).await {
            Ok(0) => return (all, None),
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) => return (all, Some(e)),
        }
    }
}

/// Runs `f` (given a bound std listener) as a task on a one-loop runtime,
/// failing the test if it hangs.
fn on_one_loop<F, Fut>(what: &'static str, f: F)
where
    F: FnOnce(std::net::TcpListener) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    common::within(60, what, move || {
        let rt = common::runtime(1);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let task = rt.handle().spawn(f(listener));
        rt.block_on(task).unwrap();
        rt.close();
    });
}

#[test]
fn data_and_a_fin_reported_under_one_event_still_end_the_stream() {
    // A read shorter than its buffer must not be taken for "drained" when a
    // FIN came with the data: no further event will report the FIN.
    on_one_loop("data-and-fin", |listener| async move {
        for _ in 0..20 {
            let (server, mut client) = registered_pair(&listener).await;
            // Data and FIN both reach the kernel while this task runs,
            // before the loop next asks the poller: one event for both.
            std::io::Write::write_all(&mut client, b"hello").unwrap();
            client.shutdown(std::net::Shutdown::Write).unwrap();
            wait_for_poll_events(server.get_ref(), libc::POLLRDHUP);
            let (bytes, err) = read_until_closed(&server).await;
            assert_eq!(bytes, b"hello");
            assert!(err.is_none(), "{err:?}");
        }
    });
}

#[test]
fn data_and_a_reset_reported_under_one_event_end_the_reads_with_the_reset() {
    // The drained hint counts data and a FIN, not an RST: after a hang-up
    // event a read must still reach the error instead of waiting.
    on_one_loop("data-and-rst", |listener| async move {
        for _ in 0..20 {
            let (server, mut client) = registered_pair(&listener).await;
            std::io::Write::write_all(&mut client, b"hello").unwrap();
            wait_for_poll_events(server.get_ref(), libc::POLLIN);
            reset(client);
            wait_for_poll_events(server.get_ref(), libc::POLLHUP);
            let (bytes, err) = read_until_closed(&server).await;
            assert!(bytes.is_empty() || bytes == b"hello", "{bytes:?}");
            let err = err.expect("a reset connection reports an error");
            assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
        }
    });
}

/// Closes `s` with an RST (`SO_LINGER` 0) instead of a FIN.
fn reset(s: std::net::TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: `setsockopt` reads `size_of::<linger>()` bytes from `&linger`.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
    drop(s);
}

#[test]
fn after_a_read_that_takes_everything_readable_waits_for_new_data() {
    // A TCP read that the kernel says left nothing (TCP_INQ) clears the
    // cached readiness, as a `WouldBlock` would: the next wait needs an event.
    on_one_loop("drained-read", |listener| async move {
        let (server, mut client) = registered_pair(&listener).await;
        std::io::Write::write_all(&mut client, b"hello").unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(server.read(&mut buf).await.unwrap(), 5);
        let polled =
            std::future::poll_fn(|cx| std::task::Poll::Ready(server.poll_readable(cx))).await;
        assert!(
            polled.is_pending(),
            "readiness still cached after a read that drained the socket"
        );
        std::io::Write::write_all(&mut client, b"more").unwrap();
        server.readable().await.unwrap();
        let mut rest = [std::mem::MaybeUninit::<u8>::uninit(); 64];
        let n = server.read_uninit(&mut rest).await.unwrap();
        // SAFETY: `read_uninit` initialised the first `n` bytes.
        let got: Vec<u8> = rest[..n]
            .iter()
            .map(|b| unsafe { b.assume_init() })
            .collect();
        assert_eq!(got, b"more");
    });
}

#[test]
fn unix_streams_read_into_uninitialised_buffers() {
    let rt = common::runtime(1);
    rt.block_on(async {
        let (a, b) = UnixStream::pair().unwrap();
        a.write_all(b"uninit").await.unwrap();
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 16];
        let n = b.read_uninit(&mut buf).await.unwrap();
        // SAFETY: `read_uninit` initialised the first `n` bytes.
        let got: Vec<u8> = buf[..n]
            .iter()
            .map(|x| unsafe { x.assume_init() })
            .collect();
        assert_eq!(got, b"uninit");
        drop(a);
        assert_eq!(b.read_uninit(&mut buf).await.unwrap(), 0);
    });
    rt.close();
}

/// An address whose resolution records the thread it ran on.
#[derive(Clone)]
struct RecordingAddr(std::sync::Arc<std::sync::Mutex<Option<String>>>);

impl std::net::ToSocketAddrs for RecordingAddr {
    type Iter = std::vec::IntoIter<std::net::SocketAddr>;
    fn to_socket_addrs(&self) -> std::io::Result<Self::Iter> {
        *self.0.lock().unwrap() = std::thread::current().name().map(str::to_owned);
        Ok(vec![std::net::SocketAddr::from(([127, 0, 0, 1], 0))].into_iter())
    }
}

#[test]
fn bind_resolves_its_address_on_the_blocking_pool_not_on_a_loop() {
    let rt = common::runtime(1);
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let addr = RecordingAddr(seen.clone());
    let (tcp, udp) = rt.block_on(async move {
        loopwork::spawn(async move {
            let listener = TcpListener::bind(addr.clone()).await.unwrap();
            let tcp = seen.lock().unwrap().take();
            let socket = UdpSocket::bind(addr).await.unwrap();
            let udp = seen.lock().unwrap().take();
            assert_ne!(listener.local_addr().unwrap().port(), 0);
            assert_ne!(socket.local_addr().unwrap().port(), 0);
            (tcp, udp)
        })
        .await
        .unwrap()
    });
    for name in [tcp, udp] {
        let name = name.expect("the address was resolved on a named thread");
        assert!(
            name.contains("blocking"),
            "resolved on '{name}', not the blocking pool"
        );
    }
    rt.close();
}

#[test]
fn bind_accepts_a_host_name_and_port() {
    let rt = common::runtime(1);
    let port = rt.block_on(async {
        loopwork::spawn(async {
            let listener = TcpListener::bind(("localhost", 0)).await.unwrap();
            listener.local_addr().unwrap().port()
        })
        .await
        .unwrap()
    });
    assert_ne!(port, 0);
    rt.close();
}
