//! Model 5: `ConcurrentFuture` — its producer (the real `Deliver` wrapper or
//! `Shared::resolve`) racing `cancel()`, `result_timeout`, `.await` and
//! `add_done_callback`, on the real shared state (`concurrent::Shared`).
//!
//! Exactly one outcome: whoever resolves first wins, `cancel()` returns
//! `true` exactly when it won, and every observer (done callbacks, the
//! result, `cancelled()`) sees that same outcome. Each done callback runs
//! exactly once. A waiter (`.await`er, `result_timeout`, `result`) is never
//! left waiting on a resolved future. The value is dropped exactly once
//! (the loser's is dropped at once; loom's leak check catches a lost one).
//!
//! loom has no clock: `result_timeout`'s timed wait releases the lock, lets
//! the other threads run, takes the lock back and reports a timeout
//! (`crate::sync`'s loom `Condvar::wait_timeout`).
#![cfg(loopwork_loom)]

use loom::sync::atomic::Ordering::SeqCst;
use loom::sync::{Arc, Mutex};
use loom::thread;
use loom_tests::{model, Behaviour, CountingWaker, DropCount, QueueScheduler, TestFuture};
use loopwork::__loom::{concurrent_future, new_task, ConcurrentFuture, Schedule, TaskError};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// The value a model's producer delivers; counts its drops.
struct Val(u32, #[allow(dead_code)] DropCount);

/// What an observer saw: `Ok(value)` or `Err(cancelled?)`.
type Seen = Result<u32, bool>;

fn seen(r: &Result<Val, TaskError>) -> Seen {
    r.as_ref().map(|v| v.0).map_err(|e| e.is_cancelled())
}

/// Polls a `Deliver` (or any future) once with a no-op waker.
fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    Pin::new(f).poll(&mut Context::from_waker(Waker::noop()))
}

/// Long enough never to expire by the clock: under loom the timed wait
/// reports a timeout after one yield anyway.
const LONG: Duration = Duration::from_secs(3600);

#[test]
fn resolve_racing_cancel_and_callbacks_has_one_outcome() {
    model(|| {
        let (producer, cf) = concurrent_future::<Val>();
        let cf = Arc::new(cf);
        let (value_drops, guard) = DropCount::new();
        let callbacks: Arc<Mutex<Vec<Seen>>> = Arc::new(Mutex::new(Vec::new()));

        let record = |log: &Arc<Mutex<Vec<Seen>>>| {
            let log = log.clone();
            move |r: &Result<Val, TaskError>| log.lock().unwrap().push(seen(r))
        };
        // One callback added before the race, one racing it.
        cf.add_done_callback(record(&callbacks));

        // The task completing: the real `Deliver` around a ready future.
        let task = thread::spawn(move || {
            let mut deliver = Box::pin(producer.deliver(async move { Val(7, guard) }));
            assert!(poll_once(&mut deliver).is_ready());
        });
        let c = cf.clone();
        let canceller = thread::spawn(move || c.cancel());
        cf.add_done_callback(record(&callbacks));

        task.join().unwrap();
        let won = canceller.join().unwrap();
        let cf = Arc::try_unwrap(cf).ok().unwrap();

        let expected: Seen = if won { Err(true) } else { Ok(7) };
        assert_eq!(cf.cancelled(), won);
        assert!(cf.done());
        assert_eq!(
            *callbacks.lock().unwrap(),
            [expected, expected],
            "each callback runs once and sees the one outcome"
        );
        assert_eq!(seen(&cf.result()), expected);
        assert_eq!(
            value_drops.load(SeqCst),
            1,
            "the value is dropped exactly once"
        );
    });
}

#[test]
fn a_waiter_is_woken_by_the_resolution() {
    model(|| {
        let (producer, mut cf) = concurrent_future::<Val>();
        let (_value_drops, guard) = DropCount::new();
        let task = thread::spawn(move || {
            assert!(producer.resolve(Ok(Val(7, guard))));
        });

        // `.await`: a Pending must be followed by a wake.
        let (wakes, waker) = CountingWaker::new();
        let first = Pin::new(&mut cf).poll(&mut Context::from_waker(&waker));
        let pending = first.is_pending();
        let result = match first {
            Poll::Ready(r) => r,
            // A timed wait, then (if it timed out) a blocking one: a lost
            // notify leaves `result()` blocked, which loom reports.
            Poll::Pending => match cf.result_timeout(LONG) {
                Ok(r) => r,
                Err(_elapsed) => cf.result(),
            },
        };
        task.join().unwrap();
        assert_eq!(seen(&result), Ok(7));
        if pending {
            assert_eq!(wakes.wakes(), 1, "the .await-er was not woken");
        }
    });
}

#[test]
fn cancel_racing_set_task_and_the_run_cancels_once() {
    model(|| {
        let (producer, cf) = concurrent_future();
        let cf = Arc::new(cf);
        let sched = QueueScheduler::new();

        // The loop, as `spawn_local_threadsafe`'s handoff runs there: spawn
        // the `Deliver`-wrapped task, attach its handle, run it.
        let s = sched.clone();
        let lp = thread::spawn(move || {
            let (fut, counters) = TestFuture::new(Behaviour::Yield(1));
            let (notified, task) = new_task(producer.deliver(fut), s.clone());
            producer.set_task(task);
            s.schedule(notified);
            s.drain();
            counters
        });
        let c = cf.clone();
        let canceller = thread::spawn(move || c.cancel());

        let counters = lp.join().unwrap();
        let won = canceller.join().unwrap();
        // A cancellation scheduled after the loop's last drain runs here.
        sched.drain();

        // The task ended (completed, or cancelled at a scheduling point): its
        // future was dropped once; loom's leak check sees its memory freed.
        assert_eq!(counters.future_drops(), 1, "the task was left pending");
        let cf: ConcurrentFuture<_> = Arc::try_unwrap(cf).ok().unwrap();
        assert_eq!(cf.cancelled(), won);
        match cf.result() {
            Err(e) => assert!(won && e.is_cancelled()),
            Ok(_) => assert!(!won && counters.polls() == 2),
        }
    });
}

/// Issue 15, defect 2: `cancel()` racing the work's completing poll. The
/// answer is exact: `true` exactly when the body never completed (it is not
/// polled again), `false` exactly when its value is delivered. Mutant
/// `loom-tests/mutants/cf_cancel_after_complete.patch` (cancel decides
/// without waiting for a poll in progress) fails it.
#[test]
fn cancel_racing_the_completing_poll_is_exact() {
    model(|| {
        let (producer, cf) = concurrent_future::<Val>();
        let cf = Arc::new(cf);
        let completed = Arc::new(loom::sync::atomic::AtomicBool::new(false));
        let (_value_drops, guard) = DropCount::new();

        let done = completed.clone();
        let task = thread::spawn(move || {
            let mut deliver = Box::pin(producer.deliver(async move {
                done.store(true, SeqCst);
                Val(7, guard)
            }));
            // One poll: it completes the body, or finds the work cancelled
            // and never runs it.
            assert!(poll_once(&mut deliver).is_ready());
        });
        let c = cf.clone();
        let canceller = thread::spawn(move || c.cancel());

        task.join().unwrap();
        let won = canceller.join().unwrap();
        let cf = Arc::try_unwrap(cf).ok().unwrap();
        assert_eq!(
            won,
            !completed.load(SeqCst),
            "cancel() returned {won} but the body completed: {}",
            completed.load(SeqCst)
        );
        assert_eq!(cf.cancelled(), won);
        let expected: Seen = if won { Err(true) } else { Ok(7) };
        assert_eq!(seen(&cf.result()), expected);
    });
}

/// A resolution that is not a `Deliver` poll (a `spawn_local_threadsafe`
/// factory's panic, a dropped handoff's `CancelOnDrop`) racing `cancel()`:
/// the first to resolve wins and the other's value is dropped; `cancel()`'s
/// answer, `cancelled()` and the result agree. With `cancel` deciding under
/// the lock this is now the one path where a second resolution is
/// attempted, so it is where mutant `cf_resolve_twice` shows.
#[test]
fn a_direct_resolution_racing_cancel_has_one_outcome() {
    model(|| {
        let (producer, cf) = concurrent_future::<Val>();
        let cf = Arc::new(cf);
        let (value_drops, guard) = DropCount::new();
        let resolver = thread::spawn(move || producer.resolve(Ok(Val(7, guard))));
        let c = cf.clone();
        let canceller = thread::spawn(move || c.cancel());
        let delivered = resolver.join().unwrap();
        let won = canceller.join().unwrap();
        let cf = Arc::try_unwrap(cf).ok().unwrap();
        assert_ne!(won, delivered, "exactly one resolution wins");
        assert_eq!(cf.cancelled(), won);
        let expected: Seen = if won { Err(true) } else { Ok(7) };
        assert_eq!(seen(&cf.result()), expected);
        assert_eq!(
            value_drops.load(SeqCst),
            1,
            "the value is dropped exactly once"
        );
    });
}
