//! Model 1: the task state word, the raw task and its wakers and join handle.
//!
//! Each model races one operation against a task's poll or completion and
//! then checks the outcome, not just the absence of a crash: the future is
//! dropped exactly once, the output is dropped exactly once (by the joiner or
//! by the runtime, never both), a wake that arrives while the task runs is
//! never lost, a cancel either wins or loses cleanly, the joiner's waker is
//! dropped as soon as both sides are done, and every reference is released
//! (the future and output hold loom `Arc`s, so a leaked task fails loom's
//! leak check; a free that races another thread's last use of the task is
//! reported by the `UnsafeCell` checks in `dealloc`).
#![cfg(loopwork_loom)]

use loom::thread;
use loom_tests::{model, poll_join, spawn_test, Behaviour, CountingWaker, QueueScheduler, Signal};
use std::task::Poll;

/// A wake from another thread while the task is being polled sets NOTIFIED,
/// and the poller reschedules the task itself: it completes.
#[test]
fn wake_while_running_is_not_lost() {
    model(|| {
        let sched = QueueScheduler::new();
        let signal = Signal::new();
        let (notified, mut task, counters) = spawn_test(Behaviour::Wait(signal.clone()), &sched);

        let th = thread::spawn(move || signal.fire());
        notified.run();
        th.join().unwrap();
        sched.drain();

        let (_, waker) = CountingWaker::new();
        let out = poll_join(&mut task, &waker);
        assert!(matches!(out, Poll::Ready(Ok(_))), "the wake was lost");
        assert!(
            (1..=2).contains(&counters.polls()),
            "polls: {}",
            counters.polls()
        );
        assert_eq!(counters.future_drops(), 1);
        drop(out);
        assert_eq!(counters.output_drops(), 1);
        drop(task);
    });
}

/// Wakers cloned, woken by value and by reference, and dropped on two
/// threads while the task completes: nothing is scheduled after completion,
/// and the last reference frees the task exactly once.
#[test]
fn wakers_racing_completion_release_every_reference() {
    model(|| {
        let sched = QueueScheduler::new();
        let (notified, task, counters) = spawn_test(Behaviour::Ready, &sched);
        let w1 = notified.waker();
        let w2 = w1.clone();

        let t1 = thread::spawn(move || w1.wake());
        let t2 = thread::spawn(move || {
            w2.wake_by_ref();
            drop(w2);
        });
        notified.run();
        drop(task);
        t1.join().unwrap();
        t2.join().unwrap();

        // The task was NOTIFIED (queued) or RUNNING or COMPLETE for every wake.
        assert_eq!(
            sched.drain(),
            0,
            "a wake re-queued a queued or finished task"
        );
        assert_eq!(counters.polls(), 1);
        assert_eq!(counters.future_drops(), 1);
        assert_eq!(counters.output_drops(), 1);
    });
}

/// `Task::cancel` racing a task that yields once: either the task completes
/// (two polls, a value) or it is cancelled at a scheduling point (fewer
/// polls, `Cancelled`); the future is dropped exactly once either way.
#[test]
fn cancel_racing_completion_has_one_outcome() {
    model(|| {
        let sched = QueueScheduler::new();
        let (notified, task, counters) = spawn_test(Behaviour::Yield(1), &sched);

        let th = thread::spawn(move || {
            task.cancel();
            task
        });
        notified.run();
        let mut task = th.join().unwrap();
        sched.drain();

        let (_, waker) = CountingWaker::new();
        match poll_join(&mut task, &waker) {
            Poll::Ready(Ok(out)) => {
                assert_eq!(counters.polls(), 2);
                drop(out);
                assert_eq!(counters.output_drops(), 1);
            }
            Poll::Ready(Err(e)) => {
                assert!(e.is_cancelled());
                assert!(counters.polls() < 2);
                assert_eq!(counters.output_drops(), 0);
            }
            Poll::Pending => panic!("a cancelled or finished task never completed"),
        }
        assert_eq!(counters.future_drops(), 1);
    });
}

/// Dropping the join handle while the task completes: the output is dropped
/// exactly once, by whichever side comes second.
#[test]
fn join_drop_racing_completion_drops_output_once() {
    model(|| {
        let sched = QueueScheduler::new();
        let (notified, task, counters) = spawn_test(Behaviour::Ready, &sched);

        let th = thread::spawn(move || drop(task));
        notified.run();
        th.join().unwrap();

        assert_eq!(counters.polls(), 1);
        assert_eq!(counters.future_drops(), 1);
        assert_eq!(counters.output_drops(), 1);
    });
}

/// A joiner that registered its waker drops its join handle while the task
/// completes: once both are done the joiner's waker has been dropped, by
/// whichever side came second, while the task itself is still alive (a waker
/// kept until the task's free would let two tasks awaiting each other keep
/// each other alive forever).
#[test]
fn join_drop_racing_completion_lets_go_of_the_joiners_waker() {
    model(|| {
        let sched = QueueScheduler::new();
        let (notified, mut task, _counters) = spawn_test(Behaviour::Ready, &sched);
        let keep = notified.waker();
        let (wakes, waker) = CountingWaker::new();
        assert!(poll_join(&mut task, &waker).is_pending());
        drop(waker);

        let th = thread::spawn(move || notified.run());
        drop(task);
        th.join().unwrap();

        assert_eq!(
            std::sync::Arc::strong_count(&wakes),
            1,
            "the task still holds the waker of a joiner that is gone"
        );
        drop(keep);
    });
}

/// Polling the join handle while the task completes: a `Pending` is always
/// followed by a wake of the joiner's waker (the JOIN_WAKER handshake), and
/// the output is then there.
#[test]
fn join_poll_racing_completion_is_woken() {
    model(|| {
        let sched = QueueScheduler::new();
        let (notified, task, counters) = spawn_test(Behaviour::Ready, &sched);

        let th = thread::spawn(move || {
            let mut task = task;
            let (wakes, waker) = CountingWaker::new();
            let first = poll_join(&mut task, &waker);
            (task, wakes, waker, first)
        });
        notified.run();
        let (mut task, wakes, waker, first) = th.join().unwrap();

        let out = match first {
            Poll::Ready(out) => out,
            Poll::Pending => {
                assert_eq!(wakes.wakes(), 1, "the joiner was never woken");
                match poll_join(&mut task, &waker) {
                    Poll::Ready(out) => out,
                    Poll::Pending => panic!("woken, but the output is not there"),
                }
            }
        };
        assert!(out.is_ok());
        drop(out);
        assert_eq!(counters.output_drops(), 1);
        assert_eq!(counters.future_drops(), 1);
    });
}
