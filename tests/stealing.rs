//! Work stealing is real: a blocked loop's queued tasks run elsewhere.

mod common;

use std::sync::mpsc;
use std::time::Duration;

#[test]
fn tasks_queued_on_a_blocked_loop_complete_on_the_other_loop() {
    common::within(60, "stealing", || {
        let rt = common::runtime(2);
        const N: usize = 64;
        let (done_tx, done_rx) = mpsc::channel::<String>();
        let blocker =
            rt.handle().spawn(async move {
                let blocked_thread = std::thread::current().name().unwrap().to_owned();
                // Queue N Send tasks on this loop's own deque...
                for _ in 0..N {
                    let tx = done_tx.clone();
                    loopwork::spawn(async move {
                        tx.send(std::thread::current().name().unwrap().to_owned())
                            .unwrap();
                    })
                    .detach();
                }
                // ...then block this loop synchronously until they have all run.
                // Only another loop can run them now.
                let mut ran_on = Vec::new();
                for _ in 0..N {
                    ran_on.push(done_rx.recv_timeout(Duration::from_secs(30)).expect(
                        "queued tasks did not run while their loop was blocked: no stealing",
                    ));
                }
                (blocked_thread, ran_on)
            });
        let (blocked_thread, ran_on) = rt.block_on(blocker).unwrap();
        assert_eq!(ran_on.len(), N);
        assert!(
            ran_on.iter().all(|t| *t != blocked_thread),
            "a task ran on the blocked loop {blocked_thread}"
        );
        let stolen: u64 = rt.metrics().loops.iter().map(|l| l.stolen).sum();
        assert!(
            stolen >= N as u64,
            "metrics report {stolen} stolen tasks, expected >= {N}"
        );
        rt.close();
    });
}

#[test]
fn loop_threads_are_named_prefix_loop_index() {
    let rt = loopwork::Runtime::builder()
        .loops(2)
        .thread_name("lw")
        .build()
        .unwrap();
    let names = rt.block_on(async {
        let mut names = Vec::new();
        for _ in 0..50 {
            let t = loopwork::spawn(async { std::thread::current().name().unwrap().to_owned() });
            names.push(t.await.unwrap());
        }
        names
    });
    for n in &names {
        assert!(
            n == "lw-loop-0" || n == "lw-loop-1",
            "unexpected loop thread name {n}"
        );
    }
    assert_eq!(rt.loop_handle(0).thread_name(), "lw-loop-0");
    assert_eq!(rt.loop_handle(1).thread_name(), "lw-loop-1");
    rt.close();
}

#[test]
fn a_blocked_loops_socket_events_are_handled_by_an_awake_sibling() {
    // A stream registered with loop 0, a task waiting on it, and loop 0
    // stuck in a task that does not yield until that task has read: only
    // loop 1, by taking loop 0's I/O events (event stealing), can wake it.
    use loopwork::net::TcpStream;
    use std::future::Future;
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    use std::sync::Arc;
    common::within(60, "event-stealing", || {
        let rt = common::runtime(2);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        // Wrapped on loop 0, so loop 0 is its home: a `Send` task's first
        // wait registers it there.
        let stream = rt
            .loop_handle(0)
            .run_coroutine_threadsafe(async move { TcpStream::from_std(server).unwrap() })
            .result()
            .unwrap();
        let released = Arc::new(AtomicBool::new(false));
        let (waiting_tx, waiting_rx) = mpsc::channel::<()>();
        let reader = {
            let released = released.clone();
            rt.handle().spawn(async move {
                let mut buf = [0u8; 16];
                let mut read = std::pin::pin!(stream.read(&mut buf));
                let n = std::future::poll_fn(|cx| {
                    let p = read.as_mut().poll(cx);
                    if p.is_pending() {
                        let _ = waiting_tx.send(());
                    }
                    p
                })
                .await
                .unwrap();
                released.store(true, SeqCst);
                n
            })
        };
        waiting_rx.recv().unwrap();
        let (spinning_tx, spinning_rx) = mpsc::channel::<()>();
        let blocker = {
            let released = released.clone();
            rt.loop_handle(0)
                .spawn_local_threadsafe(move || async move {
                    spinning_tx.send(()).unwrap();
                    let deadline = std::time::Instant::now() + Duration::from_secs(20);
                    while !released.load(SeqCst) {
                        assert!(
                            std::time::Instant::now() < deadline,
                            "the reader was never woken while its loop was blocked"
                        );
                        std::hint::spin_loop();
                    }
                })
        };
        // Loop 1 wakes now and then (a timer), so it searches for work.
        let nudger = {
            let released = released.clone();
            rt.loop_handle(1)
                .spawn_local_threadsafe(move || async move {
                    while !released.load(SeqCst) {
                        loopwork::sleep(Duration::from_millis(1)).await;
                    }
                })
        };
        spinning_rx.recv().unwrap();
        std::io::Write::write_all(&mut peer, b"hi").unwrap();
        assert_eq!(rt.block_on(reader).unwrap(), 2);
        blocker.result().unwrap();
        nudger.result().unwrap();
        let steals: u64 = rt.metrics().loops.iter().map(|l| l.event_steals).sum();
        assert!(steals >= 1, "no loop stole an I/O event");
        rt.close();
    });
}
