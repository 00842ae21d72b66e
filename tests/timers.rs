//! Timers: deadline order, never early, no overflow, `wait_for` semantics.

mod common;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

/// Arms one timer per delay (after `offset`), each in its own task, in the
/// order given; returns the delays in the order the timers fired, each with
/// whether it fired on time (not early), and whether every timer was still
/// pending when armed (its first poll returned `Pending`).
fn fire_order(delays: &[u64], offset: Duration) -> (Vec<(u64, bool)>, bool) {
    let rt = common::runtime(1);
    let fired = Arc::new(Mutex::new(Vec::new()));
    let all_armed = Arc::new(AtomicBool::new(true));
    let (f, armed) = (fired.clone(), all_armed.clone());
    let delays = delays.to_vec();
    rt.block_on(async move {
        loopwork::spawn(async move {
            let start = Instant::now() + offset;
            let tasks: Vec<_> = delays
                .into_iter()
                .map(|ms| {
                    let (f, armed) = (f.clone(), armed.clone());
                    loopwork::spawn_local(async move {
                        let deadline = start + Duration::from_millis(ms);
                        let mut sleep = std::pin::pin!(loopwork::sleep_until(deadline));
                        let pending = std::future::poll_fn(|cx| {
                            Poll::Ready(sleep.as_mut().poll(cx).is_pending())
                        })
                        .await;
                        if pending {
                            sleep.await;
                        } else {
                            armed.store(false, SeqCst);
                        }
                        f.lock().unwrap().push((ms, Instant::now() >= deadline));
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        })
        .await
        .unwrap();
    });
    rt.close();
    let fired = fired.lock().unwrap().clone();
    (fired, all_armed.load(SeqCst))
}

#[test]
fn timers_fire_in_deadline_order_and_never_early() {
    common::within(60, "timer-order", || {
        // Armed in scrambled order; must fire by deadline. The order is
        // only defined among timers armed before any of them expired:
        // each run checks that every one was (its first poll was
        // `Pending`), and a machine too slow to arm eight timers within
        // the offset retries with a longer one rather than assume it.
        let delays = [30u64, 5, 20, 1, 15, 10, 25, 2];
        for offset_ms in [5, 50, 500, 5000] {
            let (fired, all_armed) = fire_order(&delays, Duration::from_millis(offset_ms));
            if !all_armed {
                continue;
            }
            let order: Vec<u64> = fired.iter().map(|(ms, _)| *ms).collect();
            assert_eq!(order, [1, 2, 5, 10, 15, 20, 25, 30]);
            assert!(
                fired.iter().all(|(_, on_time)| *on_time),
                "a timer fired early: {fired:?}"
            );
            return;
        }
        panic!("eight timers could not be armed within 5 s of each other");
    });
}

#[test]
fn sleep_never_completes_before_its_duration() {
    let rt = common::runtime(2);
    rt.block_on(async {
        let tasks: Vec<_> = (0..200u64)
            .map(|i| {
                loopwork::spawn(async move {
                    let d = Duration::from_micros(100 * (i % 20));
                    let start = Instant::now();
                    loopwork::sleep(d).await;
                    start.elapsed() >= d
                })
            })
            .collect();
        for t in tasks {
            assert!(t.await.unwrap(), "a sleep completed before its duration");
        }
    });
    rt.close();
}

#[test]
fn duration_max_and_far_instants_neither_panic_nor_fire() {
    let rt = common::runtime(1);
    rt.block_on(async {
        let r = loopwork::wait_for(Duration::from_millis(20), loopwork::sleep(Duration::MAX)).await;
        assert!(r.is_err(), "a Duration::MAX sleep completed");
        let far = Instant::now() + Duration::from_secs(100 * 365 * 86_400);
        let r = loopwork::wait_for(Duration::from_millis(5), loopwork::sleep_until(far)).await;
        assert!(r.is_err());
        // A wait_for with an unrepresentable timeout just waits for the future.
        assert_eq!(loopwork::wait_for(Duration::MAX, async { 3 }).await, Ok(3));
    });
    rt.close();
}

#[test]
fn sleep_in_block_on_on_a_foreign_thread_completes() {
    let rt = common::runtime(2);
    let start = Instant::now();
    rt.block_on(loopwork::sleep(Duration::from_millis(10)));
    assert!(start.elapsed() >= Duration::from_millis(10));
    rt.close();
}

#[test]
fn wait_for_drops_the_inner_future_on_timeout() {
    let rt = common::runtime(1);
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let res = rt.block_on(async move {
        loopwork::spawn(async move {
            let flag = common::DropFlag(d);
            loopwork::wait_for(Duration::from_millis(5), async move {
                let _flag = flag;
                std::future::pending::<()>().await
            })
            .await
        })
        .await
        .unwrap()
    });
    assert!(res.is_err());
    assert_eq!(res.unwrap_err().to_string(), "deadline has elapsed");
    assert_eq!(
        drops.load(SeqCst),
        1,
        "the timed-out future was not dropped"
    );
    rt.close();
}

#[test]
fn wait_for_cancels_an_awaited_task_on_timeout() {
    let rt = common::runtime(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let task_finished = rt.block_on(async move {
        let inner = loopwork::spawn(async move {
            let _flag = common::DropFlag(d);
            std::future::pending::<()>().await
        });
        let id = inner.id();
        let res = loopwork::wait_for(Duration::from_millis(5), inner).await;
        assert!(res.is_err());
        id
    });
    let _ = task_finished;
    // The cancellation reaches the task at its next scheduling point: wait for
    // the drop as an event (bounded), not for a fixed time.
    common::eventually(30, "the timed-out task was not cancelled", || {
        drops.load(SeqCst) > 0
    });
    assert_eq!(drops.load(SeqCst), 1);
    rt.close();
}

#[test]
fn wait_for_returns_the_value_when_in_time() {
    let rt = common::runtime(1);
    let v = rt.block_on(loopwork::wait_for(Duration::from_secs(30), async {
        loopwork::sleep(Duration::from_millis(1)).await;
        "done"
    }));
    assert_eq!(v, Ok("done"));
    rt.close();
}

#[test]
fn cancelled_timers_never_fire() {
    let rt = common::runtime(1);
    rt.block_on(async move {
        loopwork::spawn(async move {
            // Arm 1000 timers and cancel each at once (wait_for times out
            // immediately and drops the armed sleep).
            for _ in 0..1000 {
                let s = loopwork::sleep(Duration::from_millis(1));
                let _ = loopwork::wait_for(Duration::ZERO, s).await;
            }
            loopwork::sleep(Duration::from_millis(20)).await;
        })
        .await
        .unwrap();
    });
    let fired: u64 = rt.metrics().loops.iter().map(|l| l.timers_fired).sum();
    assert_eq!(fired, 1, "only the final sleep may fire");
    rt.close();
}
