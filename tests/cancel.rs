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
