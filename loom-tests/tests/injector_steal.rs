//! Model 4: the global injector and stealing — tasks spawned from outside,
//! two loops taking injector batches and stealing from each other.
//!
//! Each task yields once (wakes itself and returns `Pending`), so it is
//! polled exactly twice: once per wake, never more (a task queued twice),
//! never less (a wake lost between loops).
#![cfg(loopwork_loom)]

use loom_tests::{model, run_loops, spawn_remote, Behaviour, Rt};

#[test]
fn each_task_is_polled_once_per_wake() {
    model(|| {
        let rt = Rt::new(2, 2, false);
        // Spawned before the loops start: the model explores the loops'
        // batches, steals and yields, not the spawn (model 2 does that).
        let a = spawn_remote(&rt, Behaviour::Yield(1));
        let b = spawn_remote(&rt, Behaviour::Ready);
        run_loops(&rt, 2);
        let (ta, ca) = a;
        let (tb, cb) = b;
        assert_eq!(ca.polls(), 2, "the yielding task: one poll per wake");
        assert_eq!(cb.polls(), 1);
        assert!(ta.is_finished() && tb.is_finished());
        assert_eq!(ca.future_drops() + cb.future_drops(), 2);
    });
}
