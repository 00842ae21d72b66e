//! The cooperative budget (issue 15, defect 4): a task whose loopwork
//! futures are always ready still lets its loop run other work.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::Duration;

#[test]
fn a_task_whose_sleeps_are_always_ready_lets_callbacks_and_tasks_run() {
    common::within(30, "coop-sleep", || {
        let rt = common::runtime(1);
        let lp = rt.loop_handle(0);
        let stop = Arc::new(AtomicBool::new(false));
        let rounds = Arc::new(AtomicU64::new(0));
        let (s, r) = (stop.clone(), rounds.clone());
        let (started_tx, started) = mpsc::channel();
        let hog = lp.run_coroutine_threadsafe(async move {
            started_tx.send(()).unwrap();
            // Never Pending by itself: an elapsed sleep is ready at once.
            while !s.load(SeqCst) {
                loopwork::sleep(Duration::ZERO).await;
                r.fetch_add(1, SeqCst);
            }
        });
        started.recv().unwrap();
        // A callback and another task on the same loop both get their turn.
        let (tx, rx) = mpsc::channel();
        lp.call_soon_threadsafe(move || tx.send("callback").unwrap())
            .unwrap();
        assert_eq!(rx.recv().unwrap(), "callback");
        let other = lp.run_coroutine_threadsafe(async { 5 });
        assert_eq!(other.result().unwrap(), 5);
        stop.store(true, SeqCst);
        hog.result().unwrap();
        assert!(rounds.load(SeqCst) > 0);
        rt.close();
    });
}

#[test]
fn a_task_awaiting_finished_joins_in_a_loop_yields_to_a_spawned_peer() {
    common::within(30, "coop-join", || {
        let rt = common::runtime(1);
        let lp = rt.loop_handle(0);
        let out = lp
            .run_coroutine_threadsafe(async {
                let flag = Arc::new(AtomicBool::new(false));
                let f = flag.clone();
                // A pinned peer on the same loop: it can only run when this
                // task's poll returns.
                let _peer = loopwork::spawn_local(async move { f.store(true, SeqCst) });
                let mut polls_seen = 0u64;
                while !flag.load(SeqCst) {
                    // Ready at once: a promise already resolved.
                    let (p, fut) = loopwork::handoff::promise::<u8>();
                    p.set_result(1).unwrap();
                    fut.await.unwrap();
                    polls_seen += 1;
                }
                polls_seen
            })
            .result()
            .unwrap();
        assert!(out >= 1);
        rt.close();
    });
}
