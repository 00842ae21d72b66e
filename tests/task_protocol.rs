//! The task state word's protocol seen through the public API: a wake by
//! value or by reference, while the task runs or while it is queued; the
//! join handle's waker and the output it owns. Each test fails on a
//! transition bug that cargo-mutants showed the rest of the suite let pass
//! (TESTING.md, `src/task/state.rs`).

// `waker.clone().wake()` is the point here: a wake *by value* (which gives
// its reference to the task) is a different transition from `wake_by_ref`.
#![allow(clippy::waker_clone_wake)]

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

/// Wakes itself (by value or by reference) during its first poll and
/// returns `Pending`; ready on the next poll, with the number of polls.
struct WakesItselfOnce {
    polls: usize,
    by_value: bool,
}

impl Future for WakesItselfOnce {
    type Output = usize;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        self.polls += 1;
        if self.polls > 1 {
            return Poll::Ready(self.polls);
        }
        if self.by_value {
            cx.waker().clone().wake();
        } else {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

#[test]
fn a_task_that_wakes_itself_by_value_while_polled_is_polled_again() {
    common::within(20, "wake-by-value-while-running", || {
        let rt = common::runtime(1);
        let task = rt.handle().spawn(WakesItselfOnce {
            polls: 0,
            by_value: true,
        });
        assert_eq!(rt.block_on(task).unwrap(), 2);
        rt.close();
    });
}

#[test]
fn a_task_that_wakes_itself_by_reference_while_polled_is_polled_again() {
    common::within(20, "wake-by-ref-while-running", || {
        let rt = common::runtime(1);
        let task = rt.handle().spawn(WakesItselfOnce {
            polls: 0,
            by_value: false,
        });
        assert_eq!(rt.block_on(task).unwrap(), 2);
        rt.close();
    });
}

/// Pending on its first poll, after handing its waker out; ready on the
/// next, with the number of polls (counted in `polls` too).
struct HandsOutItsWaker {
    polls: Arc<AtomicUsize>,
    waker: Option<mpsc::Sender<Waker>>,
}

impl Future for HandsOutItsWaker {
    type Output = usize;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        let n = self.polls.fetch_add(1, SeqCst) + 1;
        match self.waker.take() {
            Some(tx) => {
                tx.send(cx.waker().clone()).unwrap();
                Poll::Pending
            }
            None => Poll::Ready(n),
        }
    }
}

/// Two wakes of a parked task, both in one poll of another task on the only
/// loop (so the parked task cannot run in between): the task is queued once
/// and polled once more, not twice (a second queued run of a task would
/// trip the scheduler's "run without being notified" check on the loop).
fn two_wakes_of_a_queued_task_poll_it_once(wake_twice: fn(Waker)) {
    let rt = common::runtime(1);
    let polls = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    let parked = rt.handle().spawn(HandsOutItsWaker {
        polls: polls.clone(),
        waker: Some(tx),
    });
    let waker = rx.recv().unwrap();
    let waking = rt.handle().spawn(async move { wake_twice(waker) });
    rt.block_on(waking).unwrap();
    assert_eq!(rt.block_on(parked).unwrap(), 2);
    // A task spawned from the loop after both wakes runs after any second
    // run of `parked` queued there.
    let h = rt.handle();
    let after = rt.block_on(h.spawn(async { loopwork::spawn(async {}).await }));
    after.unwrap().unwrap();
    assert_eq!(polls.load(SeqCst), 2, "polled once per wake-up");
    rt.close();
}

#[test]
fn two_wakes_by_reference_of_a_queued_task_poll_it_once() {
    common::within(20, "two-wakes-by-ref", || {
        two_wakes_of_a_queued_task_poll_it_once(|w| {
            w.wake_by_ref();
            w.wake_by_ref();
        })
    });
}

#[test]
fn two_wakes_by_value_of_a_queued_task_poll_it_once() {
    common::within(20, "two-wakes-by-value", || {
        two_wakes_of_a_queued_task_poll_it_once(|w| {
            w.clone().wake();
            w.wake();
        })
    });
}

/// Pending until `open` is set; its waker is replaced on every poll.
struct Gate {
    open: Arc<AtomicBool>,
    waker: Arc<Mutex<Option<Waker>>>,
}

impl Future for Gate {
    type Output = common::DropFlag;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<common::DropFlag> {
        *self.waker.lock().unwrap() = Some(cx.waker().clone());
        if self.open.load(SeqCst) {
            Poll::Ready(common::DropFlag(Arc::new(AtomicUsize::new(0))))
        } else {
            Poll::Pending
        }
    }
}

fn gate() -> (Gate, impl FnOnce()) {
    let open = Arc::new(AtomicBool::new(false));
    let waker = Arc::new(Mutex::new(None::<Waker>));
    let opener = {
        let (open, waker) = (open.clone(), waker.clone());
        move || {
            open.store(true, SeqCst);
            if let Some(w) = waker.lock().unwrap().take() {
                w.wake();
            }
        }
    };
    (Gate { open, waker }, opener)
}

/// Counts its wakes and reports each on a channel.
struct Signal(AtomicUsize, Mutex<mpsc::Sender<()>>);

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
        let _ = self.1.lock().unwrap().send(());
    }
}

#[test]
fn a_join_handle_polled_with_a_new_waker_wakes_the_new_one() {
    common::within(20, "join-waker-replaced", || {
        let rt = common::runtime(1);
        let (gate, open) = gate();
        let mut task = rt.handle().spawn(gate);
        let (tx_a, rx_a) = mpsc::channel();
        let (tx_b, rx_b) = mpsc::channel();
        let a = Arc::new(Signal(AtomicUsize::new(0), Mutex::new(tx_a)));
        let b = Arc::new(Signal(AtomicUsize::new(0), Mutex::new(tx_b)));
        let (wa, wb) = (Waker::from(a.clone()), Waker::from(b.clone()));
        assert!(Pin::new(&mut task)
            .poll(&mut Context::from_waker(&wa))
            .is_pending());
        assert!(Pin::new(&mut task)
            .poll(&mut Context::from_waker(&wb))
            .is_pending());
        open();
        rx_b.recv().unwrap();
        assert_eq!(b.0.load(SeqCst), 1);
        assert_eq!(a.0.load(SeqCst), 0, "the replaced waker is not woken");
        assert!(rx_a.try_recv().is_err());
        match Pin::new(&mut task).poll(&mut Context::from_waker(&wb)) {
            Poll::Ready(Ok(_)) => {}
            _ => panic!("the task finished with its output"),
        }
        rt.close();
    });
}

#[test]
fn the_output_of_a_finished_task_is_dropped_with_its_join_handle() {
    common::within(20, "output-dropped-by-handle", || {
        let rt = common::runtime(1);
        let drops = Arc::new(AtomicUsize::new(0));
        let d = drops.clone();
        let (tx, rx) = mpsc::channel();
        let task = rt.handle().spawn(async move {
            // A waker kept by the test holds a reference to the task, so the
            // handle's drop is not the last one (which would free the output
            // with the task anyway): the handle itself must drop it.
            let waker = std::future::poll_fn(|cx| Poll::Ready(cx.waker().clone())).await;
            tx.send(waker).unwrap();
            common::DropFlag(d)
        });
        let waker = rx.recv().unwrap();
        common::eventually(10, "the task finishes", || task.is_finished());
        assert_eq!(drops.load(SeqCst), 0, "kept for the join handle");
        drop(task);
        assert_eq!(drops.load(SeqCst), 1, "dropped by the join handle, once");
        drop(waker);
        rt.close();
        assert_eq!(drops.load(SeqCst), 1);
    });
}

#[test]
fn the_output_of_a_detached_task_is_dropped_when_it_finishes() {
    common::within(20, "output-dropped-by-task", || {
        let rt = common::runtime(1);
        let drops = Arc::new(AtomicUsize::new(0));
        let d = drops.clone();
        let (gate, open) = gate();
        let task = rt.handle().spawn(async move {
            let _ = gate.await;
            common::DropFlag(d)
        });
        drop(task);
        open();
        common::eventually(10, "the output is dropped", || drops.load(SeqCst) == 1);
        rt.close();
        assert_eq!(drops.load(SeqCst), 1, "once");
    });
}

#[test]
fn a_join_handle_reports_its_tasks_id_name_and_whether_it_finished() {
    common::within(20, "join-handle-accessors", || {
        let rt = common::runtime(1);
        let (gate, open) = gate();
        let (named, unnamed) = rt.block_on(async move {
            let named = loopwork::task::Builder::new().name("worker").spawn(gate);
            (named, loopwork::spawn(async {}))
        });
        assert_eq!(named.name(), Some("worker"));
        assert_eq!(unnamed.name(), None);
        assert_ne!(named.id(), unnamed.id());
        let repr = format!("{named:?}");
        assert!(repr.contains("name='worker'"), "{repr}");
        assert!(repr.contains(&format!(" id={} ", named.id())), "{repr}");
        assert!(!format!("{unnamed:?}").contains("'worker'"));
        assert!(!named.is_finished());
        open();
        common::eventually(10, "the task finishes", || named.is_finished());
        rt.block_on(unnamed).unwrap();
        rt.close();
    });
}

#[test]
fn an_awaited_handle_dropped_outside_wait_for_detaches_its_task() {
    common::within(20, "awaited-handle-detaches", || {
        let rt = common::runtime(1);
        // A `wait_for` that times out first on this thread: its cancel
        // scope must end with it.
        let timed_out = rt.block_on(loopwork::wait_for(
            std::time::Duration::ZERO,
            std::future::pending::<()>(),
        ));
        assert!(timed_out.is_err());
        let (gate, open) = gate();
        let (tx, rx) = mpsc::channel();
        let mut task = rt.handle().spawn(async move {
            let _ = gate.await;
            tx.send(()).unwrap();
        });
        // Awaited once (polled), then dropped: a plain drop detaches.
        assert!(Pin::new(&mut task)
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_pending());
        drop(task);
        open();
        rx.recv().expect("the detached task ran to its end");
        rt.close();
    });
}

#[test]
fn a_finished_task_releases_its_join_waker_once_its_handle_is_dropped() {
    common::within(20, "task-freed", || {
        let rt = common::runtime(1);
        let (gate, open) = gate();
        let mut task = rt.handle().spawn(gate);
        let (tx, rx) = mpsc::channel();
        let signal = Arc::new(Signal(AtomicUsize::new(0), Mutex::new(tx)));
        let waker = Waker::from(signal.clone());
        // The handle's waker is stored in the task while it may be woken.
        assert!(Pin::new(&mut task)
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
        drop(waker);
        assert_eq!(Arc::strong_count(&signal), 2, "the task holds the waker");
        open();
        rx.recv().unwrap();
        assert!(matches!(
            Pin::new(&mut task).poll(&mut Context::from_waker(Waker::noop())),
            Poll::Ready(Ok(_))
        ));
        drop(task);
        // Finished and its handle gone: the waker is dropped by the handle's
        // drop, or (if the handle saw the output before the completing loop
        // let go of the slot) by the loop right after; not when the task is
        // freed, which another reference (a waker, the task directory's)
        // may put off, and never later than the close. Two tasks awaiting
        // each other hold each other's wakers: kept until the free, they
        // would never be freed.
        common::eventually(10, "the finished task drops its join waker", || {
            Arc::strong_count(&signal) == 1
        });
        rt.close();
    });
}
