//! The public API inside a model: each model uses one piece of loopwork
//! from a user's point of view and asserts its outcome in every
//! interleaving loom explores.
mod common;

use loom::model;
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::sync::Arc;
use loopwork::handoff::{promise, Local};
use loopwork::{Runtime, TaskError};
use std::time::{Duration, Instant};

fn one_loop() -> Runtime {
    Runtime::builder().loops(1).build().unwrap()
}

#[test]
fn spawn_spawn_local_and_yield_now_run_to_completion() {
    model(|| {
        let rt = one_loop();
        let out = rt.block_on(async {
            let a = loopwork::spawn(async {
                loopwork::yield_now().await;
                1
            });
            let b = rt.loop_handle(0).spawn_local_threadsafe(|| async {
                let local = loopwork::spawn_local(async { 2 });
                local.await.unwrap()
            });
            a.await.unwrap() + b.await.unwrap()
        });
        assert_eq!(out, 3);
        rt.close();
    });
}

#[test]
fn a_cancelled_task_reports_cancelled_to_its_joiner() {
    model(|| {
        let rt = one_loop();
        let task = rt.handle().spawn(std::future::pending::<()>());
        task.cancel();
        assert!(matches!(rt.block_on(task), Err(TaskError::Cancelled)));
        rt.close();
    });
}

#[test]
fn call_soon_and_call_soon_threadsafe_run_on_the_loop() {
    model(|| {
        let rt = one_loop();
        let runs = Arc::new(AtomicUsize::new(0));
        let (done, all_ran) = promise::<()>();
        let lh = rt.loop_handle(0);
        let (r1, r2) = (runs.clone(), runs.clone());
        let lh2 = lh.clone();
        lh.call_soon_threadsafe(move || {
            r1.fetch_add(1, SeqCst);
            // Loop-local from here on: the loop's own thread.
            lh2.call_soon(move || {
                r2.fetch_add(1, SeqCst);
                done.set_result(()).unwrap();
            });
        })
        .unwrap();
        rt.block_on(all_ran).unwrap();
        assert_eq!(runs.load(SeqCst), 2);
        rt.close();
    });
}

#[test]
fn run_coroutine_threadsafe_result_timeout_times_out_then_succeeds() {
    model(|| {
        let rt = one_loop();
        let lh = rt.loop_handle(0);
        let (go, go_rx) = promise::<()>();
        let mut fut = lh.run_coroutine_threadsafe(async move {
            go_rx.await.unwrap();
            "done"
        });
        // Nothing can complete it yet: virtual time passes the timeout as
        // soon as the loop is idle.
        assert!(fut.result_timeout(Duration::from_secs(1)).is_err());
        go.set_result(()).unwrap();
        assert_eq!(
            fut.result_timeout(Duration::from_secs(3600))
                .unwrap()
                .unwrap(),
            "done"
        );
        rt.close();
    });
}

#[test]
fn a_cancelled_concurrent_future_resolves_cancelled() {
    model(|| {
        let rt = one_loop();
        let fut = rt
            .loop_handle(0)
            .run_coroutine_threadsafe(std::future::pending::<()>());
        assert!(fut.cancel());
        assert!(matches!(fut.result(), Err(TaskError::Cancelled)));
        rt.close();
    });
}

#[test]
fn sleep_call_later_and_wait_for_are_deterministic() {
    model(|| {
        let rt = one_loop();
        let lh = rt.loop_handle(0);
        let order = rt.block_on(lh.spawn_local_threadsafe(|| async {
            let start = loopwork::current_loop().time();
            let (fired, fired_rx) = promise::<Instant>();
            let lh = loopwork::current_loop();
            let _cb = lh.call_later(Duration::from_secs(2), move || {
                fired.set_result(loopwork::current_loop().time()).unwrap();
            });
            // Times out: the inner sleep is longer, in virtual time.
            let timed_out = loopwork::wait_for(
                Duration::from_secs(1),
                loopwork::sleep(Duration::from_secs(10)),
            )
            .await
            .is_err();
            let at = fired_rx.await.unwrap();
            (timed_out, at.duration_since(start))
        }));
        let (timed_out, callback_after) = order.unwrap();
        assert!(timed_out);
        assert_eq!(callback_after, Duration::from_secs(2));
        rt.close();
    });
}

#[test]
fn a_shielded_task_survives_the_timeout_of_its_awaiter() {
    model(|| {
        let rt = one_loop();
        // On the loop, both timers are on one heap: the 1 s timeout fires
        // before the 5 s sleep in every interleaving.
        let awaiter = rt.handle().spawn(async {
            let (done, finished) = promise::<i32>();
            let task = loopwork::spawn(async move {
                loopwork::sleep(Duration::from_secs(5)).await;
                done.set_result(9).unwrap();
            });
            let timed_out = loopwork::wait_for(Duration::from_secs(1), loopwork::shield(task))
                .await
                .is_err();
            // Not cancelled by the timeout: it still finishes.
            (timed_out, finished.await)
        });
        let (timed_out, finished) = rt.block_on(awaiter).unwrap();
        assert!(timed_out);
        assert_eq!(finished, Ok(9));
        rt.close();
    });
}

#[test]
fn a_local_dropped_off_its_loop_is_dropped_on_it() {
    struct Probe(Arc<AtomicUsize>);
    impl Drop for Probe {
        fn drop(&mut self) {
            // Dropped on the loop: `current_loop` works there only.
            assert!(
                loopwork::try_current_loop().is_some(),
                "dropped off the loop"
            );
            self.0.fetch_add(1, SeqCst);
        }
    }
    model(|| {
        let rt = one_loop();
        let drops = Arc::new(AtomicUsize::new(0));
        let d = drops.clone();
        let local = rt
            .loop_handle(0)
            .spawn_local_threadsafe(move || async move { Local::new(Probe(d)) })
            .result()
            .unwrap();
        let t = loom::thread::spawn(move || drop(local));
        t.join().unwrap();
        rt.close();
        assert_eq!(
            drops.load(SeqCst),
            1,
            "the Local was not dropped exactly once"
        );
    });
}

#[test]
fn spawn_blocking_runs_its_job_on_a_thread_of_its_own() {
    model(|| {
        let rt = Runtime::builder()
            .loops(1)
            .max_blocking_threads(1)
            .build()
            .unwrap();
        let out = rt.block_on(async { loopwork::spawn_blocking(|| 5).await.unwrap() });
        assert_eq!(out, 5);
        rt.close();
    });
}

#[test]
fn shutdown_timeout_cancels_pending_tasks() {
    model(|| {
        let rt = one_loop();
        let task = rt.handle().spawn(std::future::pending::<()>());
        let handle = rt.handle();
        rt.shutdown_timeout(Duration::from_secs(1));
        assert!(matches!(handle.block_on(task), Err(TaskError::Cancelled)));
    });
}

#[test]
fn io_under_the_loom_feature_is_an_error_naming_it() {
    model(|| {
        let rt = one_loop();
        let Err(err) = rt.block_on(loopwork::net::TcpListener::bind("127.0.0.1:0")) else {
            panic!("a socket was bound under the loom feature");
        };
        assert_eq!(err.kind(), std::io::ErrorKind::Unsupported);
        assert!(err.to_string().contains("`loom` feature"), "{err}");
        rt.close();
    });
}
