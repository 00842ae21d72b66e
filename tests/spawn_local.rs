//! Pinned tasks: `!Send` futures stay on their owner loop for every poll.

mod common;

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::thread::ThreadId;

/// Records the polling thread of every poll of the inner future.
struct RecordThreads<F> {
    inner: Pin<Box<F>>,
    seen: Rc<Cell<Option<ThreadId>>>,
    mismatches: Rc<Cell<usize>>,
}

impl<F: Future> Future for RecordThreads<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let me = std::thread::current().id();
        match self.seen.get() {
            None => self.seen.set(Some(me)),
            Some(first) if first != me => self.mismatches.set(self.mismatches.get() + 1),
            _ => {}
        }
        self.inner.as_mut().poll(cx)
    }
}

#[test]
fn spawn_local_runs_rc_futures_and_every_poll_is_on_the_owner() {
    common::within(60, "spawn-local", || {
        let rt = common::runtime(2);
        let results = Arc::new(Mutex::new(Vec::new()));
        let r = results.clone();
        rt.block_on(async move {
            // Keep both loops busy with stealable work so that stealing happens
            // around the pinned tasks.
            let noise: Vec<_> = (0..200)
                .map(|_| {
                    loopwork::spawn(async {
                        for _ in 0..50 {
                            loopwork::yield_now().await;
                        }
                    })
                })
                .collect();
            let owner = loopwork::spawn(async move {
                let owner_thread = std::thread::current().id();
                let mut pinned = Vec::new();
                for i in 0..20 {
                    let counter = Rc::new(Cell::new(0u32));
                    let seen = Rc::new(Cell::new(None));
                    let mismatches = Rc::new(Cell::new(0));
                    let (s2, m2) = (seen.clone(), mismatches.clone());
                    pinned.push(loopwork::spawn_local(async move {
                        let fut = RecordThreads {
                            inner: Box::pin(async move {
                                for _ in 0..100 {
                                    counter.set(counter.get() + 1);
                                    loopwork::yield_now().await;
                                }
                                counter.get() + i
                            }),
                            seen: s2,
                            mismatches: m2,
                        };
                        let v = fut.await;
                        (v, seen.get().unwrap(), mismatches.get())
                    }));
                }
                let mut out = Vec::new();
                for t in pinned {
                    let (v, thread, mismatches) = t.await.unwrap();
                    out.push((v, thread == owner_thread, mismatches));
                }
                out
            });
            *r.lock().unwrap() = owner.await.unwrap();
            for t in noise {
                t.await.unwrap();
            }
        });
        let results = results.lock().unwrap();
        assert_eq!(results.len(), 20);
        for (i, (v, on_owner, mismatches)) in results.iter().enumerate() {
            assert_eq!(*v, 100 + i as u32);
            assert!(
                *on_owner,
                "pinned task {i} polled off the loop that spawned it"
            );
            assert_eq!(*mismatches, 0, "pinned task {i} was polled on two threads");
        }
        rt.close();
    });
}

#[test]
fn spawn_local_off_a_loop_panics_naming_the_alternative() {
    let rt = common::runtime(1);
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async {
            loopwork::spawn_local(async {});
        })
    }))
    .unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(msg.contains("not a loop thread"), "{msg}");
    assert!(msg.contains("spawn_local_threadsafe"), "{msg}");
    rt.close();
}

#[test]
fn a_pinned_task_cancelled_from_another_thread_is_dropped_on_its_owner() {
    common::within(60, "pinned-cancel", || {
        let rt = common::runtime(2);
        let dropped_on = Arc::new(Mutex::new(None));
        // `!Send` through the marker: it may only live in a pinned task.
        struct Probe(
            std::marker::PhantomData<Rc<()>>,
            Arc<Mutex<Option<ThreadId>>>,
        );
        impl Drop for Probe {
            fn drop(&mut self) {
                *self.1.lock().unwrap() = Some(std::thread::current().id());
            }
        }
        let d = dropped_on.clone();
        let (owner, task) = rt.block_on(async move {
            loopwork::spawn(async move {
                let owner = std::thread::current().id();
                let task = loopwork::spawn_local(async move {
                    let _probe = Probe(std::marker::PhantomData, d);
                    std::future::pending::<()>().await
                });
                loopwork::yield_now().await;
                (owner, task)
            })
            .await
            .unwrap()
        });
        // Cancel from the test thread (not a loop).
        task.cancel();
        let err = rt.block_on(task).unwrap_err();
        assert!(err.is_cancelled());
        assert_eq!(*dropped_on.lock().unwrap(), Some(owner));
        rt.close();
    });
}
