//! Promises and `shield`.

mod common;

use loopwork::{handoff::InvalidState, handoff::PromiseError};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn set_result_after_cancel_is_invalid_state_cancelled() {
    let (p, f) = loopwork::handoff::promise::<u8>();
    assert!(f.cancel());
    assert!(p.is_cancelled());
    assert_eq!(p.set_result(1), Err(InvalidState::Cancelled));
    assert_eq!(futures::executor::block_on(f), Err(PromiseError::Cancelled));
}

#[test]
fn set_result_twice_is_invalid_state_already_set() {
    let (p, f) = loopwork::handoff::promise::<u8>();
    p.set_result(1).unwrap();
    assert_eq!(p.set_result(2), Err(InvalidState::AlreadySet));
    assert!(!f.cancel(), "a set result is kept");
    assert_eq!(futures::executor::block_on(f), Ok(1));
}

#[test]
fn a_promise_dropped_without_a_result_resolves_the_future_to_an_error() {
    let rt = common::runtime(1);
    let (p, f) = loopwork::handoff::promise::<u8>();
    let waiter = rt.handle().spawn(f);
    drop(p);
    assert_eq!(rt.block_on(waiter).unwrap(), Err(PromiseError::Dropped));
    rt.close();
}

#[test]
fn a_promise_set_from_a_foreign_thread_wakes_the_task() {
    let rt = common::runtime(2);
    let (p, f) = loopwork::handoff::promise::<String>();
    let waiter = rt.handle().spawn(f);
    std::thread::spawn(move || p.set_result("hello".into()).unwrap())
        .join()
        .unwrap();
    assert_eq!(rt.block_on(waiter).unwrap().unwrap(), "hello");
    rt.close();
}

#[test]
fn shield_keeps_the_inner_task_running_when_the_outer_times_out() {
    let rt = common::runtime(1);
    let (go, go_rx) = loopwork::handoff::promise::<()>();
    let finished = Arc::new(AtomicUsize::new(0));
    let f = finished.clone();
    let inner = rt.handle().spawn(async move {
        go_rx.await.unwrap();
        f.fetch_add(1, SeqCst);
        "inner done"
    });
    let id = inner.id();
    let outer = rt.block_on(loopwork::wait_for(
        Duration::from_millis(5),
        loopwork::shield(inner),
    ));
    assert!(outer.is_err(), "the outer wait timed out");
    // The inner task was not cancelled: release it and see it finish.
    go.set_result(()).unwrap();
    common::eventually(30, &format!("shielded task {id:?} was cancelled"), || {
        finished.load(SeqCst) > 0
    });
    rt.close();
}

/// The outer task's own timeout fires while it awaits the shielded task and
/// drops the shield: the inner task is not cancelled. (Cancelling the outer
/// task with `Task::cancel` could not show it: a `Task` dropped outside a
/// timeout detaches, shield or not, so a shield that did nothing passed.)
#[test]
fn shield_keeps_the_inner_task_running_when_the_outer_tasks_wait_is_cancelled() {
    let rt = common::runtime(1);
    let (go, go_rx) = loopwork::handoff::promise::<()>();
    let (done, done_rx) = loopwork::handoff::promise::<&'static str>();
    let (inner_started, inner_started_rx) = loopwork::handoff::promise::<()>();
    let inner = rt.handle().spawn(async move {
        inner_started.set_result(()).unwrap();
        go_rx.await.unwrap();
        done.set_result("inner finished").unwrap();
    });
    let outer = rt.handle().spawn(async move {
        inner_started_rx.await.unwrap();
        // The inner task waits for `go`, which only comes after this: the
        // timeout fires, and dropping the shield must not cancel the task.
        loopwork::wait_for(Duration::from_millis(1), loopwork::shield(inner)).await
    });
    assert!(
        rt.block_on(outer).unwrap().is_err(),
        "the outer wait timed out"
    );
    go.set_result(()).unwrap();
    assert_eq!(
        rt.block_on(done_rx),
        Ok("inner finished"),
        "the shielded task was cancelled with the outer wait"
    );
    rt.close();
}

#[test]
fn without_shield_a_timed_out_task_is_cancelled() {
    let rt = common::runtime(1);
    let (_go, go_rx) = loopwork::handoff::promise::<()>();
    let drops = Arc::new(AtomicUsize::new(0));
    let flag = common::DropFlag(drops.clone());
    let inner = rt.handle().spawn(async move {
        let _flag = flag;
        go_rx.await
    });
    assert!(rt
        .block_on(loopwork::wait_for(Duration::from_millis(5), inner))
        .is_err());
    common::eventually(30, "the unshielded task was not cancelled", || {
        drops.load(SeqCst) > 0
    });
    rt.close();
}

/// The errors say which state the promise was in, for logs and `?` users.
#[test]
fn promise_errors_display_the_state_they_report() {
    let shown = |e: &dyn std::error::Error| e.to_string();
    assert_eq!(
        shown(&loopwork::handoff::InvalidState::Cancelled),
        "invalid state: the future was cancelled"
    );
    assert_eq!(
        shown(&loopwork::handoff::InvalidState::AlreadySet),
        "invalid state: the result was already set"
    );
    assert_eq!(
        shown(&loopwork::handoff::PromiseError::Cancelled),
        "the promise's future was cancelled"
    );
    assert_eq!(
        shown(&loopwork::handoff::PromiseError::Dropped),
        "the promise was dropped without a result"
    );
}

#[test]
fn is_cancelled_and_is_done_follow_the_promise_state() {
    let (p, f) = loopwork::handoff::promise::<u8>();
    assert!(!p.is_cancelled());
    assert!(!f.is_done());
    p.set_result(1).unwrap();
    assert!(f.is_done(), "a set result is ready");
    assert!(!p.is_cancelled(), "a set promise is not cancelled");

    let (p, f) = loopwork::handoff::promise::<u8>();
    assert!(f.cancel());
    assert!(p.is_cancelled());
    assert!(f.is_done());

    let (p, f) = loopwork::handoff::promise::<u8>();
    drop(p);
    assert!(
        f.is_done(),
        "a dropped promise's future is ready (with an error)"
    );
}

/// Counts its wakes.
struct CountWakes(AtomicUsize);

impl std::task::Wake for CountWakes {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Polled again with another waker (the task moved, or a combinator polls
/// with its own), the future wakes the latest waker when the result comes.
#[test]
fn a_promise_future_wakes_the_waker_of_its_latest_poll() {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    let (p, f) = loopwork::handoff::promise::<u8>();
    let mut f = std::pin::pin!(f);
    let (first, second) = (
        Arc::new(CountWakes(AtomicUsize::new(0))),
        Arc::new(CountWakes(AtomicUsize::new(0))),
    );
    let (w1, w2) = (Waker::from(first.clone()), Waker::from(second.clone()));
    assert!(f.as_mut().poll(&mut Context::from_waker(&w1)).is_pending());
    assert!(f.as_mut().poll(&mut Context::from_waker(&w2)).is_pending());
    p.set_result(9).unwrap();
    assert_eq!(second.0.load(SeqCst), 1, "the latest waker was not woken");
    assert_eq!(first.0.load(SeqCst), 0, "a stale waker was woken");
    assert_eq!(
        f.as_mut().poll(&mut Context::from_waker(&w2)),
        Poll::Ready(Ok(9))
    );
}

#[test]
fn promise_and_its_future_debug_print_their_names() {
    let (p, f) = loopwork::handoff::promise::<u8>();
    assert_eq!(format!("{p:?}"), "Promise");
    assert_eq!(format!("{f:?}"), "PromiseFuture");
}
