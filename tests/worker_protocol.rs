//! One loop's scheduling decisions (`src/scheduler/worker.rs`) that the
//! results of `spawn.rs`, `stealing.rs` and `fairness.rs` do not show: the
//! order in which a loop takes its own ready work and remote work. Written
//! from the cargo-mutants survivors of `worker.rs` (see TESTING.md).
//!
//! Event-based: the order is read from a log the tasks write; waits are
//! bounded by `common::within` (hang detection only).

mod common;

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

type Log = Arc<Mutex<Vec<&'static str>>>;

fn push(log: &Log, what: &'static str) {
    log.lock().unwrap().push(what);
}

#[test]
fn a_loop_runs_its_own_ready_task_before_remote_work_that_arrived_later() {
    common::within(30, "local-first", || {
        let rt = common::runtime(1);
        let log: Log = Arc::default();
        let handle = rt.handle();
        let (l, r) = (log.clone(), log.clone());
        let parent = rt.handle().spawn(async move {
            // Queued on this loop's own deque.
            let local = loopwork::spawn(async move { push(&l, "local") });
            // Queued on the injector (a spawn from a thread outside the
            // runtime), after the local one; the loop is busy in this poll
            // until the spawn returned.
            let remote =
                std::thread::spawn(move || handle.spawn(async move { push(&r, "remote") }))
                    .join()
                    .unwrap();
            (local, remote)
        });
        let (local, remote) = futures::executor::block_on(parent).unwrap();
        futures::executor::block_on(local).unwrap();
        futures::executor::block_on(remote).unwrap();
        // The injector is looked at first only every 61st poll (so remote
        // work is never starved): otherwise the loop's own queue comes first.
        assert_eq!(*log.lock().unwrap(), ["local", "remote"]);
        rt.close();
    });
}

#[test]
fn a_blocked_loops_queued_tasks_are_stolen_whichever_loop_it_is() {
    common::within(120, "steal-from-each", || {
        const LOOPS: usize = 4;
        const N: usize = 8;
        let rt = common::runtime(LOOPS);
        for blocked in 0..LOOPS {
            let (done_tx, done_rx) = mpsc::channel::<()>();
            // A task of loop `blocked` queues N tasks on that loop's own
            // deque, then holds the loop until they ran: only a sibling's
            // steal can run them.
            let ran = rt
                .loop_handle(blocked)
                .run_coroutine_threadsafe(async move {
                    for _ in 0..N {
                        let tx = done_tx.clone();
                        loopwork::spawn(async move {
                            let _ = tx.send(());
                        })
                        .detach();
                    }
                    (0..N).all(|_| done_rx.recv_timeout(Duration::from_secs(20)).is_ok())
                });
            assert!(
                ran.result().unwrap(),
                "the tasks queued on blocked loop {blocked} were not stolen"
            );
            let out = rt.metrics().loops[blocked].stolen_out;
            assert!(out >= N as u64, "loop {blocked}: {out} stolen out");
        }
        rt.close();
    });
}

#[test]
fn pinned_tasks_run_while_stealable_work_keeps_the_deque_busy() {
    common::within(60, "pinned-turn", || {
        let rt = common::runtime(1);
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        // Keeps the only loop's deque non-empty: the child, then the parent
        // it wakes, then the next child.
        let busy = rt.handle().spawn(async move {
            while !s.load(SeqCst) {
                loopwork::spawn(async {}).await.unwrap();
            }
        });
        // A pinned task of that loop gets its turn: the loop alternates
        // between its pinned queue and its deque.
        let pinned = rt
            .handle()
            .spawn(async { loopwork::spawn_local(async { 5 }).await.unwrap() });
        assert_eq!(futures::executor::block_on(pinned).unwrap(), 5);
        stop.store(true, SeqCst);
        futures::executor::block_on(busy).unwrap();
        rt.close();
    });
}

#[test]
fn a_task_taken_from_the_injector_is_counted() {
    common::within(30, "from-injector", || {
        let rt = common::runtime(1);
        // From a thread outside the runtime: through the injector.
        let task = rt.handle().spawn(async { 7 });
        assert_eq!(futures::executor::block_on(task).unwrap(), 7);
        let m = rt.metrics();
        assert!(m.loops[0].from_injector >= 1, "{:?}", m.loops[0]);
        rt.close();
    });
}

#[test]
fn an_item_handed_to_a_loops_inbox_is_counted() {
    common::within(30, "inbox-count", || {
        let rt = common::runtime(1);
        // A coroutine submitted from outside reaches the loop through its
        // inbox.
        let fut = rt.loop_handle(0).run_coroutine_threadsafe(async { 6 * 7 });
        assert_eq!(fut.result().unwrap(), 42);
        let m = rt.metrics();
        assert!(m.loops[0].inbox_items >= 1, "{:?}", m.loops[0]);
        rt.close();
    });
}

#[test]
fn timers_fire_while_ready_tasks_keep_the_loop_busy() {
    common::within(60, "timers-under-load", || {
        let rt = common::runtime(1);
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        // Always a ready task on the only loop (see above).
        let busy = rt.handle().spawn(async move {
            while !s.load(SeqCst) {
                loopwork::spawn(async {}).await.unwrap();
            }
        });
        // The iteration's budget ends a run of ready tasks, so the loop
        // gets back to its timers.
        let sleeper = rt.handle().spawn(async {
            loopwork::sleep(Duration::from_millis(1)).await;
            "woke"
        });
        assert_eq!(futures::executor::block_on(sleeper).unwrap(), "woke");
        stop.store(true, SeqCst);
        futures::executor::block_on(busy).unwrap();
        rt.close();
    });
}
