//! `Task::cancel`: the future is dropped at its next scheduling point.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::Duration;

#[test]
fn cancel_before_first_poll_never_polls_the_future() {
    let rt = common::runtime(1);
    let polled = Arc::new(AtomicUsize::new(0));
    let p = polled.clone();
    rt.block_on(async move {
        loopwork::spawn(async move {
            let t = loopwork::spawn(async move {
                p.fetch_add(1, SeqCst);
            });
            // Same loop, not yet run: cancel before it is polled.
            t.cancel();
            assert!(t.await.unwrap_err().is_cancelled());
        })
        .await
        .unwrap();
    });
    assert_eq!(polled.load(SeqCst), 0);
    rt.close();
}

#[test]
fn cancel_of_a_waiting_task_drops_its_future_and_joiner_sees_cancelled() {
    let rt = common::runtime(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let (started_tx, started_rx) = mpsc::channel();
    let task = rt.handle().spawn(async move {
        let _flag = common::DropFlag(d);
        started_tx.send(()).unwrap();
        std::future::pending::<()>().await
    });
    started_rx.recv_timeout(Duration::from_secs(30)).unwrap();
    assert!(!task.is_finished());
    task.cancel();
    let err = rt.block_on(task).unwrap_err();
    assert!(err.is_cancelled());
    assert_eq!(err.to_string(), "task was cancelled");
    assert_eq!(drops.load(SeqCst), 1);
    rt.close();
}

#[test]
fn cancel_during_a_poll_takes_effect_after_the_poll_not_in_it() {
    let rt = common::runtime(2);
    let (in_poll_tx, in_poll_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let finished_poll = Arc::new(AtomicUsize::new(0));
    let f = finished_poll.clone();
    let task = rt.handle().spawn(async move {
        in_poll_tx.send(()).unwrap();
        // Synchronously inside the poll until the test has called cancel().
        go_rx.recv_timeout(Duration::from_secs(30)).unwrap();
        f.fetch_add(1, SeqCst);
        loopwork::yield_now().await;
        f.fetch_add(1, SeqCst); // never reached: cancelled at the yield
    });
    in_poll_rx.recv_timeout(Duration::from_secs(30)).unwrap();
    task.cancel();
    go_tx.send(()).unwrap();
    assert!(rt.block_on(task).unwrap_err().is_cancelled());
    assert_eq!(
        finished_poll.load(SeqCst),
        1,
        "the poll in progress was not completed, or a later one ran"
    );
    rt.close();
}

#[test]
fn cancel_after_completion_keeps_the_output() {
    let rt = common::runtime(1);
    rt.block_on(async {
        let t = loopwork::spawn(async { 9 });
        while !t.is_finished() {
            loopwork::yield_now().await;
        }
        t.cancel();
        assert_eq!(t.await.unwrap(), 9);
    });
    rt.close();
}

/// A thread-safe callback cancelled while the loop is held by another one
/// never runs, and its handle says so; one that ran cannot be cancelled.
#[test]
fn a_callback_handle_cancels_a_callback_that_has_not_started() {
    common::within(30, "callback-cancel", || {
        let rt = common::runtime(1);
        let lp = rt.loop_handle(0);
        let (go_tx, go_rx) = mpsc::channel::<()>();
        lp.call_soon_threadsafe(move || go_rx.recv().unwrap())
            .unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let h = lp
            .call_soon_threadsafe(move || {
                r.fetch_add(1, SeqCst);
            })
            .unwrap();
        assert!(!h.cancelled());
        assert_eq!(format!("{h:?}"), "CallbackHandle { state: \"pending\" }");
        assert!(h.cancel(), "the callback had not started");
        assert!(h.cancelled());
        assert!(
            !h.cancel(),
            "a second cancel reports it was already decided"
        );
        assert_eq!(format!("{h:?}"), "CallbackHandle { state: \"cancelled\" }");
        go_tx.send(()).unwrap();
        // A callback queued after it runs after it: the cancelled one did not.
        let (done_tx, done_rx) = mpsc::channel();
        let after = lp
            .call_soon_threadsafe(move || done_tx.send(()).unwrap())
            .unwrap();
        done_rx.recv().unwrap();
        assert_eq!(ran.load(SeqCst), 0, "a cancelled callback ran");
        assert!(!after.cancel(), "a callback that ran cannot be cancelled");
        assert!(!after.cancelled());
        assert_eq!(
            format!("{after:?}"),
            "CallbackHandle { state: \"started\" }"
        );
        rt.close();
    });
}

/// The loop-local handle of `call_soon`: cancelled before the loop gets to
/// it, the callback never runs; after it ran, `cancel` is `false`.
#[test]
fn a_local_callback_handle_cancels_a_callback_that_has_not_started() {
    common::within(30, "local-callback-cancel", local_callback_cancel);
}

fn local_callback_cancel() {
    let rt = common::runtime(1);
    let (cancelled_ran, ran_ran) = rt.block_on(async {
        loopwork::spawn(async {
            loopwork::spawn_local(async {
                let ran = Arc::new(AtomicUsize::new(0));
                let r = ran.clone();
                let h = loopwork::runtime::call_soon_local(move || {
                    r.fetch_add(1, SeqCst);
                });
                assert!(!h.cancelled());
                assert!(format!("{h:?}").contains("pending"), "{h:?}");
                assert!(h.cancel(), "the loop has not run it yet");
                assert!(h.cancelled());
                assert!(!h.cancel());
                let cancelled_ran = ran.clone();

                let ran2 = Arc::new(AtomicUsize::new(0));
                let r2 = ran2.clone();
                let h2 = loopwork::runtime::call_soon_local(move || {
                    r2.fetch_add(1, SeqCst);
                });
                // The loop runs ready callbacks between task polls.
                while ran2.load(SeqCst) == 0 {
                    loopwork::yield_now().await;
                }
                assert!(!h2.cancel(), "it ran already");
                assert!(!h2.cancelled());
                assert!(format!("{h2:?}").contains("started"), "{h2:?}");
                (cancelled_ran.load(SeqCst), ran2.load(SeqCst))
            })
            .await
            .unwrap()
        })
        .await
        .unwrap()
    });
    assert_eq!(cancelled_ran, 0, "a cancelled local callback ran");
    assert_eq!(ran_ran, 1);
    rt.close();
}

/// `call_later`: a cancelled callback is skipped when its time comes, a live
/// one runs. The cancelled one is due first, so by the time the live one
/// has run, the loop has already passed the cancelled one.
#[test]
fn call_later_runs_a_live_callback_and_skips_a_cancelled_one() {
    common::within(30, "call-later-cancel", || {
        let rt = common::runtime(1);
        let (live, cancelled) = rt.block_on(async {
            loopwork::spawn(async {
                let lp = loopwork::current_loop();
                let (live, cancelled) =
                    (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
                let c = cancelled.clone();
                let cancelled_now = lp
                    .call_later(Duration::from_millis(1), move || {
                        c.fetch_add(1, SeqCst);
                    })
                    .cancel();
                let l = live.clone();
                lp.call_later(Duration::from_millis(2), move || {
                    l.fetch_add(1, SeqCst);
                });
                assert!(cancelled_now);
                while live.load(SeqCst) == 0 {
                    loopwork::yield_now().await;
                }
                (live.load(SeqCst), cancelled.load(SeqCst))
            })
            .await
            .unwrap()
        });
        assert_eq!((live, cancelled), (1, 0));
        rt.close();
    });
}
