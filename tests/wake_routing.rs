//! Where a woken or spawned task goes when the wake (or the spawn) happens
//! on a loop that is not its own: a pinned task woken on a sibling loop
//! stays on its owner; a task of one runtime woken or spawned on another
//! runtime's loop runs on its own runtime. cargo-mutants showed the rest of
//! the suite let a wrong routing pass (TESTING.md, `src/scheduler/schedulers.rs`).

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc;
use std::task::{Context, Poll, Waker};
use std::thread::{self, ThreadId};

/// Pending on its first poll, after handing out its waker and its thread;
/// on the next poll, ready with the thread that polled it.
struct ParksOnce(Option<mpsc::Sender<(Waker, ThreadId)>>);

impl Future for ParksOnce {
    type Output = ThreadId;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<ThreadId> {
        match self.0.take() {
            Some(tx) => {
                tx.send((cx.waker().clone(), thread::current().id()))
                    .unwrap();
                Poll::Pending
            }
            None => Poll::Ready(thread::current().id()),
        }
    }
}

#[test]
fn a_pinned_task_woken_on_a_sibling_loop_runs_on_its_owner() {
    common::within(20, "pinned-woken-elsewhere", || {
        let rt = common::runtime(2);
        let (tx, rx) = mpsc::channel();
        let pinned = rt
            .loop_handle(0)
            .spawn_local_threadsafe(move || ParksOnce(Some(tx)));
        let (waker, owner) = rx.recv().unwrap();
        let waker_thread = rt
            .loop_handle(1)
            .run_coroutine_threadsafe(async move {
                waker.wake();
                thread::current().id()
            })
            .result()
            .unwrap();
        assert_ne!(waker_thread, owner, "woken on the other loop");
        assert_eq!(pinned.result().unwrap(), owner, "polled on its owner");
        rt.close();
    });
}

#[test]
fn a_task_woken_on_another_runtimes_loop_runs_on_its_own_runtime() {
    common::within(20, "woken-on-other-runtime", || {
        let (mine, other) = (common::runtime(1), common::runtime(1));
        let (tx, rx) = mpsc::channel();
        let task = mine.handle().spawn(ParksOnce(Some(tx)));
        let (waker, home) = rx.recv().unwrap();
        let h = other.handle();
        let elsewhere = other
            .block_on(h.spawn(async move {
                waker.wake();
                thread::current().id()
            }))
            .unwrap();
        assert_ne!(elsewhere, home);
        assert_eq!(mine.block_on(task).unwrap(), home, "polled on its runtime");
        other.close();
        mine.close();
    });
}

#[test]
fn a_task_spawned_through_another_runtimes_handle_on_a_loop_runs_on_that_runtime() {
    common::within(20, "spawned-from-other-runtime", || {
        let (target, caller) = (common::runtime(1), common::runtime(1));
        let target_thread = target
            .block_on(target.handle().spawn(async { thread::current().id() }))
            .unwrap();
        let handle = target.handle();
        let h = caller.handle();
        let (spawned_on, caller_thread) = caller
            .block_on(h.spawn(async move {
                let task = handle.spawn(async { thread::current().id() });
                (task.await.unwrap(), thread::current().id())
            }))
            .unwrap();
        assert_ne!(caller_thread, target_thread);
        assert_eq!(
            spawned_on, target_thread,
            "ran on the runtime it was spawned on"
        );
        caller.close();
        target.close();
    });
}

#[test]
fn a_task_that_yields_on_its_loop_is_requeued_there_not_through_the_injector() {
    common::within(20, "yield-stays-local", || {
        let rt = common::runtime(1);
        let before = rt.metrics().loops[0].from_injector;
        // Spawned from outside the runtime: through the injector, once.
        let task = rt.handle().spawn(async {
            for _ in 0..20 {
                loopwork::yield_now().await;
            }
        });
        rt.block_on(task).unwrap();
        let taken = rt.metrics().loops[0].from_injector - before;
        assert!(
            taken < 10,
            "20 yields on the task's own loop went through the injector ({taken} tasks taken from it)"
        );
        rt.close();
    });
}

#[test]
fn a_pinned_tasks_polls_are_counted_after_each_poll() {
    common::within(20, "pinned-polls-counted", || {
        let rt = common::runtime(1);
        let (task, id) = rt
            .loop_handle(0)
            .run_coroutine_threadsafe(async {
                let task = loopwork::task::Builder::new()
                    .name("pinned-yielder")
                    .spawn_local(async {
                        for _ in 0..3 {
                            loopwork::yield_now().await;
                        }
                        std::future::pending::<()>().await
                    });
                let id = task.id();
                (task, id)
            })
            .result()
            .unwrap();
        // Three yields, then parked for good: four completed polls (the
        // count is updated right after each poll ends, on the loop thread).
        let polls = || rt.all_tasks().iter().find(|i| i.id == id).map(|i| i.polls);
        common::eventually(10, "a pinned task's four polls were never counted", || {
            polls() == Some(4)
        });
        task.cancel();
        rt.close();
    });
}

#[test]
fn a_task_woken_on_its_own_loop_is_queued_there_not_through_the_injector() {
    use futures::channel::mpsc::unbounded;
    use futures::StreamExt;
    common::within(20, "wake-stays-local", || {
        let rt = common::runtime(1);
        let before = rt.metrics().loops[0].from_injector;
        // Spawned from outside: through the injector, once. The two tasks
        // then wake each other 40 times, each wake on the loop's thread.
        let round_trips = rt.block_on(rt.handle().spawn(async {
            let (to_b, mut from_a) = unbounded::<u32>();
            let (to_a, mut from_b) = unbounded::<u32>();
            let b = loopwork::spawn(async move {
                while let Some(i) = from_a.next().await {
                    to_a.unbounded_send(i).unwrap();
                }
            });
            let mut n = 0;
            for i in 0..20 {
                to_b.unbounded_send(i).unwrap();
                assert_eq!(from_b.next().await, Some(i));
                n += 1;
            }
            drop(to_b);
            b.await.unwrap();
            n
        }));
        assert_eq!(round_trips.unwrap(), 20);
        let taken = rt.metrics().loops[0].from_injector - before;
        assert!(
            taken < 10,
            "40 wakes on the tasks' own loop went through the injector ({taken} tasks taken from it)"
        );
        rt.close();
    });
}
