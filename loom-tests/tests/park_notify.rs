//! Model 2: parking and notifying — the idle protocol, the park flag and the
//! parking sequence (`park_loop`), with the real queues.
//!
//! A lost wakeup shows up as every model thread blocked (loops waiting in
//! their parker, the test waiting to join them) with work still queued, which
//! loom reports as a deadlock; the model runtime only shuts its loops down
//! once every task has completed.
#![cfg(loopwork_loom)]

use loom::thread;
use loom_tests::{model, run_loops, spawn_remote, Behaviour, Rt};

/// One loop parking while a foreign thread spawns a task and notifies: the
/// loop either sees the task in its re-check or is woken.
#[test]
fn park_racing_a_remote_spawn_loses_no_wakeup() {
    model(|| {
        let rt = Rt::new(1, 1, false);
        let producer = {
            let rt = rt.clone();
            thread::spawn(move || spawn_remote(&rt, Behaviour::Ready))
        };
        rt.run_loop(0);
        let (task, counters) = producer.join().unwrap();
        assert_eq!(counters.polls(), 1);
        assert!(task.is_finished());
        assert_eq!(rt.num_searching(), 0);
    });
}

/// Two loops and a foreign producer spawning two tasks: the searching and
/// parked counts never leave work queued with every loop asleep, and each
/// task is polled exactly once.
#[test]
fn two_loops_never_all_park_with_work_queued() {
    model(|| {
        let rt = Rt::new(2, 2, false);
        let producer = {
            let rt = rt.clone();
            thread::spawn(move || {
                let a = spawn_remote(&rt, Behaviour::Ready);
                let b = spawn_remote(&rt, Behaviour::Ready);
                [a, b]
            })
        };
        run_loops(&rt, 2);
        for (task, counters) in producer.join().unwrap() {
            assert_eq!(counters.polls(), 1, "a task was polled twice or never");
            assert!(task.is_finished());
        }
        // (`rt.remaining()` is 0 whenever `run_loop` returns: it is what
        // ends the loops, so it proves nothing.) The loops left no searcher
        // counted: a leaked count would stop every later `notify_one`.
        assert_eq!(rt.num_searching(), 0, "the searching count leaked");
    });
}
