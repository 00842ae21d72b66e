//! Cross-thread handoff: call_soon_threadsafe and run_coroutine_threadsafe.

mod common;

use loopwork::TaskError;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

#[test]
fn call_soon_threadsafe_4_threads_x_100k_each_runs_once_in_per_producer_order() {
    common::within(120, "cst-100k", || {
        let rt = common::runtime(2);
        const PER: usize = 100_000;
        let lp = rt.loop_handle(0);
        // Each producer's callbacks append their sequence number; the loop is
        // the only writer, so a plain Mutex<Vec> per producer is uncontended.
        let seen: Arc<Vec<Mutex<Vec<usize>>>> = Arc::new(
            (0..4)
                .map(|_| Mutex::new(Vec::with_capacity(PER)))
                .collect(),
        );
        let total = Arc::new(AtomicUsize::new(0));
        let (done_tx, done_rx) = mpsc::channel();
        let producers: Vec<_> = (0..4)
            .map(|p| {
                let lp = lp.clone();
                let seen = seen.clone();
                let total = total.clone();
                let done_tx = done_tx.clone();
                std::thread::spawn(move || {
                    for i in 0..PER {
                        let seen = seen.clone();
                        let total = total.clone();
                        let done_tx = done_tx.clone();
                        lp.call_soon_threadsafe(move || {
                            seen[p].lock().unwrap().push(i);
                            if total.fetch_add(1, SeqCst) + 1 == 4 * PER {
                                done_tx.send(()).unwrap();
                            }
                        })
                        .unwrap();
                    }
                })
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        done_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("not every callback ran");
        assert_eq!(total.load(SeqCst), 4 * PER);
        for (p, s) in seen.iter().enumerate() {
            let s = s.lock().unwrap();
            assert_eq!(s.len(), PER, "producer {p}: a callback ran twice or never");
            assert!(
                s.iter().enumerate().all(|(i, v)| i == *v),
                "producer {p}: callbacks ran out of order"
            );
        }
        rt.close();
    });
}

#[test]
fn call_soon_threadsafe_after_close_reports_closed() {
    let rt = common::runtime(1);
    let lp = rt.loop_handle(0);
    rt.close();
    assert!(lp.is_closed());
    assert!(lp.call_soon_threadsafe(|| unreachable!()).is_err());
}

#[test]
fn a_cancelled_callback_never_runs_and_cancel_is_exclusive_with_start() {
    common::within(60, "cst-cancel", || {
        let rt = common::runtime(1);
        let lp = rt.loop_handle(0);
        for _ in 0..2_000 {
            let ran = Arc::new(AtomicUsize::new(0));
            let r = ran.clone();
            let h = lp
                .call_soon_threadsafe(move || {
                    r.fetch_add(1, SeqCst);
                })
                .unwrap();
            let cancelled = h.cancel();
            // Flush: a later callback from the same producer runs after it.
            let (tx, rx) = mpsc::channel();
            lp.call_soon_threadsafe(move || tx.send(()).unwrap())
                .unwrap();
            rx.recv_timeout(Duration::from_secs(30)).unwrap();
            assert_eq!(
                ran.load(SeqCst),
                usize::from(!cancelled),
                "cancel() = {cancelled} but ran {}",
                ran.load(SeqCst)
            );
            assert_eq!(h.cancelled(), cancelled);
        }
        rt.close();
    });
}

#[test]
fn a_panicking_callback_leaves_the_loop_serving() {
    let rt = common::runtime(1);
    let lp = rt.loop_handle(0);
    lp.call_soon_threadsafe(|| panic!("callback boom")).unwrap();
    let (tx, rx) = mpsc::channel();
    lp.call_soon_threadsafe(move || tx.send(1).unwrap())
        .unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(30)).unwrap(), 1);
    rt.close();
}

#[test]
fn run_coroutine_threadsafe_returns_the_value_to_a_foreign_thread() {
    let rt = common::runtime(2);
    let lp = rt.loop_handle(1);
    let v = std::thread::spawn(move || {
        lp.run_coroutine_threadsafe(async { std::thread::current().name().unwrap().to_owned() })
            .result()
            .unwrap()
    })
    .join()
    .unwrap();
    assert_eq!(
        v, "loopwork-loop-1",
        "the coroutine runs pinned to the loop it was handed to"
    );
    rt.close();
}

#[test]
fn result_timeout_expires_then_later_succeeds() {
    let rt = common::runtime(1);
    let (go_tx, go_rx) = loopwork::handoff::promise::<()>();
    let mut fut = rt.loop_handle(0).run_coroutine_threadsafe(async move {
        go_rx.await.unwrap();
        "finally"
    });
    assert!(fut.result_timeout(Duration::from_millis(10)).is_err());
    assert!(!fut.done());
    go_tx.set_result(()).unwrap();
    assert_eq!(
        fut.result_timeout(Duration::from_secs(30))
            .unwrap()
            .unwrap(),
        "finally"
    );
    rt.close();
}

#[test]
fn cancel_before_start_means_the_task_is_never_polled() {
    common::within(60, "rct-cancel-before", || {
        let rt = common::runtime(1);
        let lp = rt.loop_handle(0);
        // Hold the loop in a callback so the coroutine cannot start yet.
        let (hold_tx, hold_rx) = mpsc::channel::<()>();
        let (holding_tx, holding_rx) = mpsc::channel();
        lp.call_soon_threadsafe(move || {
            holding_tx.send(()).unwrap();
            hold_rx.recv().unwrap();
        })
        .unwrap();
        holding_rx.recv().unwrap();
        let polled = Arc::new(AtomicUsize::new(0));
        let p = polled.clone();
        let fut = lp.run_coroutine_threadsafe(async move {
            p.fetch_add(1, SeqCst);
        });
        assert!(fut.cancel());
        assert!(fut.cancelled() && fut.done());
        hold_tx.send(()).unwrap();
        assert!(fut.result().unwrap_err().is_cancelled());
        // Let the loop process the (cancelled) task: a later coroutine runs after it.
        lp.run_coroutine_threadsafe(async {}).result().unwrap();
        assert_eq!(
            polled.load(SeqCst),
            0,
            "a cancelled-before-start coroutine was polled"
        );
        rt.close();
    });
}

#[test]
fn cancel_while_running_drops_the_task() {
    common::within(60, "rct-cancel-running", || {
        let rt = common::runtime(1);
        let drops = Arc::new(AtomicUsize::new(0));
        let flag = common::DropFlag(drops.clone());
        let (started_tx, started_rx) = mpsc::channel();
        let fut = rt.loop_handle(0).run_coroutine_threadsafe(async move {
            let _flag = flag;
            started_tx.send(()).unwrap();
            std::future::pending::<()>().await
        });
        started_rx.recv_timeout(Duration::from_secs(30)).unwrap();
        assert!(fut.cancel());
        assert!(fut.result().unwrap_err().is_cancelled());
        common::eventually(30, "the running task was not dropped", || {
            drops.load(SeqCst) > 0
        });
        rt.close();
    });
}

#[test]
fn a_panicking_coroutine_resolves_to_panicked_with_the_message() {
    let rt = common::runtime(1);
    let fut = rt
        .loop_handle(0)
        .run_coroutine_threadsafe(async { panic!("coroutine failed: {}", 3) });
    match fut.result() {
        Err(TaskError::Panicked(p)) => assert_eq!(p.message(), "coroutine failed: 3"),
        other => panic!("expected Panicked, got {other:?}"),
    }
    // The loop survived.
    assert_eq!(
        rt.loop_handle(0)
            .run_coroutine_threadsafe(async { 1 })
            .result()
            .unwrap(),
        1
    );
    rt.close();
}

#[test]
fn loop_closed_mid_flight_resolves_without_hanging() {
    common::within(60, "rct-closed", || {
        let rt = common::runtime(2);
        let lp = rt.loop_handle(0);
        let pending = lp.run_coroutine_threadsafe(std::future::pending::<()>());
        let (started_tx, started_rx) = mpsc::channel();
        let running = lp.run_coroutine_threadsafe(async move {
            started_tx.send(()).unwrap();
            loopwork::sleep(Duration::from_secs(3600)).await
        });
        started_rx.recv().unwrap();
        rt.close();
        assert!(pending.result().unwrap_err().is_cancelled());
        assert!(running.result().unwrap_err().is_cancelled());
        // Submissions after close resolve at once.
        assert!(lp
            .run_coroutine_threadsafe(async { 1 })
            .result()
            .unwrap_err()
            .is_cancelled());
        assert!(lp
            .spawn_local_threadsafe(|| async { 1 })
            .result()
            .unwrap_err()
            .is_cancelled());
    });
}

#[test]
fn a_concurrent_future_is_awaitable_from_a_task_on_another_loop() {
    common::within(30, "await-across-loops", await_across_loops);
}

fn await_across_loops() {
    let rt = common::runtime(2);
    let (lp0, lp1) = (rt.loop_handle(0), rt.loop_handle(1));
    // The awaiting task runs on loop 0 (submitted there), the coroutine on
    // loop 1; the coroutine waits for the awaiting side to be waiting.
    let awaiter = lp0.run_coroutine_threadsafe(async move {
        let (go, go_rx) = loopwork::handoff::promise::<()>();
        let fut = lp1.run_coroutine_threadsafe(async move {
            go_rx.await.unwrap();
            std::thread::current().name().unwrap().to_owned()
        });
        let mut fut = std::pin::pin!(fut);
        let mut go = Some(go);
        let ran_on = std::future::poll_fn(|cx| {
            let out = std::future::Future::poll(fut.as_mut(), cx);
            if out.is_pending() {
                // Waiting on the other loop's result: now let it finish.
                if let Some(go) = go.take() {
                    go.set_result(()).unwrap();
                }
            }
            out
        })
        .await
        .unwrap();
        (std::thread::current().name().unwrap().to_owned(), ran_on)
    });
    let (awaited_on, ran_on) = futures::executor::block_on(awaiter).unwrap();
    assert_eq!(awaited_on, "loopwork-loop-0", "the awaiting task's loop");
    assert_eq!(ran_on, "loopwork-loop-1", "the coroutine's loop");
    rt.close();
}

#[test]
fn a_concurrent_future_is_awaitable_from_futures_executor() {
    let rt = common::runtime(1);
    let fut = rt.loop_handle(0).run_coroutine_threadsafe(async {
        loopwork::sleep(Duration::from_millis(2)).await;
        11
    });
    assert_eq!(futures::executor::block_on(fut).unwrap(), 11);
    rt.close();
}

#[test]
fn done_callbacks_run_exactly_once_before_or_after_completion() {
    let rt = common::runtime(1);
    let calls = Arc::new(AtomicUsize::new(0));
    let (go, go_rx) = loopwork::handoff::promise::<()>();
    let fut = rt.loop_handle(0).run_coroutine_threadsafe(async move {
        go_rx.await.unwrap();
        3
    });
    let c = calls.clone();
    fut.add_done_callback(move |r| {
        assert_eq!(*r.as_ref().unwrap(), 3);
        c.fetch_add(1, SeqCst);
    });
    go.set_result(()).unwrap();
    let (tx, rx) = mpsc::channel();
    // Registered after completion (eventually): runs at once, on this thread.
    while !fut.done() {
        std::thread::yield_now();
    }
    let here = std::thread::current().id();
    fut.add_done_callback(move |_| tx.send(std::thread::current().id()).unwrap());
    assert_eq!(rx.recv().unwrap(), here);
    assert_eq!(fut.result().unwrap(), 3);
    assert_eq!(calls.load(SeqCst), 1);
    rt.close();
}

#[test]
fn dropping_a_concurrent_future_does_not_cancel_the_work() {
    let rt = common::runtime(1);
    let (tx, rx) = mpsc::channel();
    drop(rt.loop_handle(0).run_coroutine_threadsafe(async move {
        loopwork::sleep(Duration::from_millis(2)).await;
        tx.send("still ran").unwrap();
    }));
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(30)).unwrap(),
        "still ran"
    );
    rt.close();
}

#[test]
fn spawn_local_threadsafe_builds_a_non_send_future_on_the_loop() {
    use std::rc::Rc;
    let rt = common::runtime(2);
    let fut = rt.loop_handle(1).spawn_local_threadsafe(|| {
        let rc = Rc::new(std::thread::current().name().unwrap().to_owned());
        async move {
            loopwork::yield_now().await;
            (*rc).clone()
        }
    });
    assert_eq!(fut.result().unwrap(), "loopwork-loop-1");
    let boom = rt
        .loop_handle(0)
        .spawn_local_threadsafe(|| -> std::future::Ready<()> { panic!("factory failed") });
    assert!(boom.result().unwrap_err().is_panic());
    rt.close();
}

#[test]
fn blocking_on_a_concurrent_future_on_a_loop_thread_panics_in_debug_mode() {
    let rt = loopwork::Runtime::builder()
        .loops(1)
        .debug(true)
        .build()
        .unwrap();
    let lp = rt.loop_handle(0);
    let err = rt
        .block_on(async move {
            loopwork::spawn(async move { lp.run_coroutine_threadsafe(async { 1 }).result() }).await
        })
        .unwrap_err();
    let msg = err.into_panic().unwrap().message().to_owned();
    assert!(msg.contains("ConcurrentFuture::result"), "{msg}");
    assert!(msg.contains("deadlock"), "{msg}");
    rt.close();
}
