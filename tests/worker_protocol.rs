//! One loop's scheduling decisions (`src/scheduler/worker.rs`) that the
//! results of `spawn.rs`, `stealing.rs` and `fairness.rs` do not show: the
//! order in which a loop takes its own ready work and remote work. Written
//! from the cargo-mutants survivors of `worker.rs` (see TESTING.md).
//!
//! Event-based: the order is read from a log the tasks write; waits are
//! bounded by `common::within` (hang detection only).

mod common;

use std::sync::{Arc, Mutex};

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
